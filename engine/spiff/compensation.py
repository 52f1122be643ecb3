"""What compensation needs at run time: which activities completed since they were last compensated.

The dialect rewrote compensation into gateways, handlers and hidden subprocesses (`engine.compensation`); this
keeps the record they read. Each scope instance (the process, a run of a subprocess) holds, in its workflow data
under `COMPENSABLE`, a list per compensable activity with one entry per completion not yet compensated. An entry
is itself a record: empty for a task, the record of the run for a subprocess, so that compensating that run later
finds what completed inside it. A multi-instance activity's instances are entered when the whole activity
completes (Camunda does not compensate one whose instances have not all finished).

A hidden subprocess that compensates a subprocess (`sf_compensating`) runs one instance per completed run; inside
it, the record is the entry of that run. An event subprocess has no record of its own: compensation thrown in it
reaches the scope around it, as in Camunda.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask, MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.exceptions import TaskNotFoundException

COMPENSABLE = "sf_compensable"  # in a scope instance's workflow data: activity id -> [entry per completion]
_PENDING = "sf_compensations"  # in a multi-instance task's internal data: its finished instances' entries


def entries(record: dict[str, Any], activity: str) -> list[dict[str, Any]]:
    """The completions of `activity` not yet compensated (a count written by an earlier Stageflow is read as
    that many completions of a task)."""
    value = record.get(activity)
    if not isinstance(value, list):
        value = [{} for _ in range(value)] if isinstance(value, int) else []
        record[activity] = value
    return value


def record_of(workflow: Any) -> dict[str, Any]:
    """The compensation record of the scope instance `workflow` runs."""
    parent_id = getattr(workflow, "parent_task_id", None)
    if parent_id is not None:
        try:
            task = workflow.top_workflow.get_task_from_id(parent_id)
        except TaskNotFoundException:
            task = None
        if task is not None:
            target = getattr(task.task_spec, "sf_compensating", None)
            if target:  # an instance of a hidden compensating subprocess: the run it compensates
                runs = entries(record_of(task.workflow), target)
                index = task.internal_data.get("item", 0)
                return runs[index] if isinstance(index, int) and 0 <= index < len(runs) else {}
            if getattr(task.task_spec, "sf_event_subprocess", False):
                return record_of(task.workflow)
    return workflow.data.setdefault(COMPENSABLE, {})


def compensations(task: Any, activity: str) -> int:
    """How many completions of `activity` the scope `task` runs in has not compensated yet."""
    value = record_of(task.workflow).get(activity)
    return len(value) if isinstance(value, list) else int(value or 0)


def _is_instance(spec: Any, my_task: Any) -> bool:
    """Whether `my_task` is one instance (or iteration) of a loop or multi-instance activity."""
    parent = my_task.parent
    return parent is not None and isinstance(parent.task_spec, LoopTask) and parent.task_spec.task_spec == spec.name


def on_complete(spec: Any, my_task: Any) -> None:
    """Keep the record as a task completes: a compensable activity (`sf_compensable`) adds an entry; a handler
    or hidden compensating subprocess (`sf_compensates`) clears what it compensated."""
    activity = getattr(spec, "sf_compensable", None)
    if activity:
        _completed(spec, my_task, activity)
    target = getattr(spec, "sf_compensates", None)
    if target and not _is_instance(spec, my_task):
        record_of(my_task.workflow)[target] = []


def _completed(spec: Any, my_task: Any, activity: str) -> None:
    if isinstance(spec, LoopTask):
        if isinstance(spec, MultiInstanceTask):  # the whole activity: its instances count from now on
            pending = my_task.internal_data.pop(_PENDING, [])
            entries(record_of(my_task.workflow), activity).extend(pending)
        return
    entry: dict[str, Any] = {}
    if isinstance(spec, SubWorkflowTask):
        run = my_task.workflow.top_workflow.get_subprocess(my_task)
        if run is not None:
            entry = deepcopy(run.data.get(COMPENSABLE, {}))
    parent = my_task.parent
    if _is_instance(spec, my_task) and isinstance(parent.task_spec, MultiInstanceTask):
        parent.internal_data.setdefault(_PENDING, []).append(entry)
    else:
        entries(record_of(my_task.workflow), activity).append(entry)
