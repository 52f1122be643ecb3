"""Arrivals at a parallel or inclusive join, recorded as Camunda 7 records them.

SpiffWorkflow keeps one waiting task per join: when a token arrives, the join's `_update_hook` cancels the task
of the token that arrived before it (which still counts towards the join, see `tree.earlier_join_arrivals`). In
Camunda 7 each arriving token is an activity instance of the join that ends, not cancelled, when the join fires
(`HistoricActivityInstanceStateTest`: two instances of `parallelJoin`, neither cancelled). The arrivals the hook
supersedes are marked here, so that the history records them as completed. Installed on import of `runtime`.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.util.task import TaskState

SUPERSEDED = "sf_arrived"  # internal data of a join's arrival that a later arrival's task took over


def _update_hook(self: Any, my_task: Any) -> Any:
    """`UnstructuredJoin._update_hook`, marking the earlier arrivals it cancels (see above)."""
    earlier = [t for t in my_task.workflow.tasks.values()
               if t.task_spec is self and t is not my_task and t._state == TaskState.WAITING]
    result = UnstructuredJoin._update_hook(self, my_task)
    for task in earlier:
        if task._state == TaskState.CANCELLED:
            task.internal_data[SUPERSEDED] = True
    return result


def install() -> None:
    """Give SpiffWorkflow's parallel and inclusive gateways the marking above (idempotent)."""
    for cls in (ParallelGateway, InclusiveGateway):
        if cls.__dict__.get("_update_hook") is not _update_hook:
            cls._update_hook = _update_hook
