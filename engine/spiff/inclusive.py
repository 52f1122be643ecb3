"""Camunda 7's inclusive join, in place of SpiffWorkflow's.

SpiffWorkflow 3.2 decides whether an inclusive gateway may fire by looking at every task of the gateway in the
tree, including the arrivals that an earlier firing already consumed: in a loop through inclusive gateways a
join fires again on those stale arrivals, for ever. Camunda 7 (`InclusiveGatewayActivityBehavior`) fires a join
when as many tokens wait at it as it has incoming flows, or else when no other token of its scope can still
reach it along sequence flows. This module gives SpiffWorkflow's `InclusiveGateway` that rule; each arrival is
marked when a firing consumes it. It patches the class at import (idempotent), without touching the library's
files, as `clockpatch` does for timers.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

CONSUMED = "sf_joined"  # internal data of an arrival that a firing of its join has consumed
_TOKEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def arrivals(spec: Any, workflow: Any) -> list[Any]:
    """The tokens waiting at inclusive join `spec`: its tasks whose predecessor finished, not yet consumed."""
    return [t for t in workflow.tasks.values()
            if t.task_spec is spec and not t.internal_data.get(CONSUMED) and t.parent is not None
            and t.parent.has_state(TaskState.COMPLETED) and not t.has_state(TaskState.COMPLETED)]


def reaches(source: Any, target: Any) -> bool:
    """True when a token at task spec `source` can reach `target` along the specs' outputs."""
    seen = set()
    stack = [source]
    while stack:
        spec = stack.pop()
        if spec is target:
            return True
        if id(spec) in seen:
            continue
        seen.add(id(spec))
        stack.extend(spec.outputs)
    return False


def _may_fire(self: Any, my_task: Any) -> bool:
    waiting = arrivals(self, my_task.workflow)
    if len(waiting) >= len(self.inputs):
        return True
    for task in my_task.workflow.tasks.values():
        if task.task_spec is self or not task.has_state(_TOKEN) or isinstance(task.task_spec, BoundaryEvent):
            continue  # a boundary event is a subscription, not a token (as in Camunda)
        if reaches(task.task_spec, self):
            return False
    return True


def _run_hook(self: Any, my_task: Any) -> bool:
    others = [t for t in arrivals(self, my_task.workflow) if t is not my_task]
    for task in sorted(others, key=lambda t: t.last_state_change):
        DeepMerge.merge(my_task.data, task.parent.data)
        task.internal_data[CONSUMED] = True
    my_task._inherit_data()
    my_task.internal_data[CONSUMED] = True
    matches, defaults = self._get_matching_outputs(my_task)
    if len(matches + defaults) == 0:
        raise WorkflowTaskException("No conditions satisfied on gateway", task=my_task)
    my_task._sync_children(matches or defaults, TaskState.FUTURE)
    for child in my_task.children:
        child.task_spec._predict(child, mask=TaskState.FUTURE | TaskState.PREDICTED_MASK)
    return True


def install() -> None:
    """Give SpiffWorkflow's inclusive gateway Camunda's join rule (idempotent)."""
    if InclusiveGateway._check_threshold_unstructured is not _may_fire:
        InclusiveGateway._check_threshold_unstructured = _may_fire
        InclusiveGateway._run_hook = _run_hook
