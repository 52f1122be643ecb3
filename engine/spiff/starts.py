"""Start events as Camunda 7 takes them: a plain start runs the none start's path only, a start by a message, signal
or timer that event's only (SpiffWorkflow lets every start event wait and takes the first to complete). Installed on
import (by `runtime`)."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.control import StartEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

# -- start events --------------------------------------------------------------------------------------------------
# SpiffWorkflow lets every start event of a process wait and takes the path of the first to complete: a none start
# completes at once, so a message, signal or timer start beside it is cancelled before it can catch anything. In
# Camunda a plain start runs the none start's path only, and a start by message, signal or timer that event's only.
START_AT = "sf_start_at"  # internal data of the root task: the start event a triggered start runs from


def trigger_definition(kind: str, name: str) -> Any:
    """The event definition a start `trigger` (see `Run.start`) delivers; a timer's is its start event's id."""
    if kind == "message":
        return MessageEventDefinition(name)
    if kind == "signal":
        return SignalEventDefinition(name)
    return name


def start_event_for(spec: Any, definition: Any) -> str | None:
    """The id of the process's start event that catches `definition` (a timer start: its id), if any."""
    for start in spec.bpmn_start_events:
        found = start.bpmn_id == definition if isinstance(definition, str) else start.event_definition == definition
        if found:
            return start.bpmn_id
    return None


def _start_split_run(self: Any, my_task: SpiffTask) -> bool:
    """`StartEventSplit._run_hook`: only the start events the workflow runs from wait; the others are cancelled.

    Those are the one `Run.start` chose for the instance (on the instance's own process), else the none start
    events when there are any, else all (a process that starts only by events waits for one of them).
    """
    starts = [task for task in my_task.children
              if isinstance(task.task_spec, StartEvent) and task.has_state(TaskState.PREDICTED_MASK)]
    chosen = my_task.workflow.task_tree.internal_data.get(START_AT)
    if chosen is not None and my_task.workflow is my_task.workflow.top_workflow:
        taken = [task for task in starts if task.task_spec.bpmn_id == chosen]
    else:
        taken = [task for task in starts if isinstance(task.task_spec.event_definition, NoneEventDefinition)]
    for task in starts:
        if task in taken or not taken:
            task._set_state(TaskState.WAITING)
        else:
            task.cancel()
    return True


def _install_start_choice() -> None:
    """Give SpiffWorkflow's start event split the choice above (idempotent)."""
    if StartEventSplit._run_hook is not _start_split_run:
        StartEventSplit._run_hook = _start_split_run


_install_start_choice()
