"""Small helpers on SpiffWorkflow's task tree that the runtime and the branch handling both use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from . import inclusive

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
BRANCH_MERGED = "sf_branch_merged"  # internal data of an event branch's arrival at its scope's end join (branches.py)


def find_task(workflow: BpmnWorkflow, task_id: UUID) -> Any:
    """The task with that id in `workflow` or its subprocesses, or None."""
    try:
        return workflow.get_task_from_id(task_id)
    except TaskNotFoundException:
        return None


def callers(workflow: Any) -> Iterator[Any]:
    """The tasks that run `workflow` and the workflows around it, innermost first (its subprocess's or called
    process's task, then the task running that one's workflow, ...) up to the top workflow; it stops at a task no
    longer in the tree."""
    top = workflow.top_workflow
    while workflow is not top:
        task = find_task(top, workflow.parent_task_id)
        if task is None:
            return
        yield task
        workflow = task.workflow


def start_event_subprocess(top: BpmnWorkflow, scope: Any, name: str) -> Any:
    """The event subprocess `name` of `scope` (the process or an embedded subprocess) that waits at its start event,
    started when none waits (SpiffWorkflow starts only the process's own, and only for a message or signal)."""
    starts = getattr(top.subprocess_specs.get(name), "bpmn_start_events", [])
    for sub in top.subprocesses.values():
        if sub.parent_workflow is scope and sub.spec.name == name and any(
                sub.get_next_task(state=TaskState.WAITING, spec_name=start.name) is not None for start in starts):
            return sub
    return top.subprocesses.get(scope.spec.start.trigger_wf(scope.task_tree, name))


def earlier_join_arrivals(workflow: Any) -> set[UUID]:
    """The finished arrivals at a parallel or inclusive join that still waits for others.

    The join counts its inputs by looking for these (and at their predecessors): pruning them away would leave
    it waiting for ever when the branches are not nested (two forks into one join, a branch that joins early).
    """
    waiting = [t for t in workflow.tasks.values()
               if t.state == TaskState.WAITING and isinstance(t.task_spec, UnstructuredJoin)]
    if not waiting:
        return set()
    specs = {t.task_spec.name for t in waiting}
    return {t.id for t in workflow.tasks.values()
            if t.task_spec.name in specs and t.has_state(TaskState.COMPLETED | TaskState.CANCELLED)
            and not t.internal_data.get(inclusive.CONSUMED)  # an inclusive join's firing took it already
            and not t.internal_data.get(BRANCH_MERGED)  # an ended event branch's, merged already
            and not any(w.is_descendant_of(t) for w in waiting)}


def drop_subprocess(top: BpmnWorkflow, task_id: UUID) -> None:
    """Forget subprocess `task_id` of `top` and the subprocesses it runs."""
    sub = top.subprocesses.pop(task_id, None)
    if sub is None:
        return
    for tid in list(sub.tasks):
        if tid in top.subprocesses:
            drop_subprocess(top, tid)
