"""SpiffWorkflow's work for log lines nobody reads, skipped when its loggers are off (the same behaviour otherwise).

SpiffWorkflow builds the `extra` of its log records before calling the logger, which then drops the record when
the level is off: every state change of every task computes a dict of nine entries (with the task's data, as its
loggers have no level of their own) and a state name from a dictionary built afresh per call, and a workflow's
creation lists all its tasks for a record nobody reads. That was about 14% of running a small process in memory.
Here the `extra` is built only when the record will be emitted (a task's change of state skips its record's
text too), and state names are looked up in one table.
Task ids are Stageflow's time-ordered ids (`engine.ids`) instead of `uuid4()`: the same `UUID` type, made
without a system call each, and the human tasks and history rows keyed by them go in index order.
Installed once, on import of `engine.spiff`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import SpiffWorkflow.task as spiff_task
from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.task import logger as task_logger
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.workflow import Workflow
from SpiffWorkflow.workflow import logger as workflow_logger

from ..ids import new_uuid


def _state_names() -> dict[int, str]:
    """Every state and mask value SpiffWorkflow names, with the names its `get_name` gives them."""
    get_name = TaskState.get_name
    values = set(TaskState._values) | {TaskState.FINISHED_MASK, TaskState.DEFINITE_MASK, TaskState.PREDICTED_MASK,
                                       TaskState.NOT_FINISHED_MASK, TaskState.ANY_MASK}
    return {value: get_name(value) for value in values}


PLAIN_GET_NAME = TaskState.get_name.__func__  # type: ignore[attr-defined]  (SpiffWorkflow's own, for checks)


def install() -> None:
    """Patch SpiffWorkflow's classes once (a second call does nothing)."""
    if getattr(Task.collect_log_extras, "sf_fast", False):
        return
    names = _state_names()
    plain_get_name = PLAIN_GET_NAME

    def get_name(cls: Any, state: int) -> str:
        found = names.get(state)
        return found if found is not None else plain_get_name(cls, state)

    def extras_when_logged(plain: Any, logger: logging.Logger) -> Any:
        def collect_log_extras(self: Any, dct: dict | None = None) -> dict:
            # every caller passes the result straight to logger.info/debug, which drops it below INFO
            if not logger.isEnabledFor(logging.INFO):
                return {}
            return plain(self, dct)

        collect_log_extras.sf_fast = True  # type: ignore[attr-defined]
        return collect_log_extras

    TaskState.get_name = classmethod(get_name)  # type: ignore[method-assign, assignment]
    Task.collect_log_extras = extras_when_logged(Task.collect_log_extras, task_logger)  # type: ignore[method-assign]
    Workflow.collect_log_extras = extras_when_logged(  # type: ignore[method-assign]
        Workflow.collect_log_extras, workflow_logger)
    BpmnBaseWorkflow.collect_log_extras = extras_when_logged(  # type: ignore[method-assign]
        BpmnBaseWorkflow.collect_log_extras, workflow_logger)
    Task._set_state = _set_state_when_logged(Task._set_state)  # type: ignore[method-assign]
    spiff_task.uuid4 = new_uuid  # Task.__init__'s default id


def _set_state_when_logged(plain: Any) -> Any:
    """`Task._set_state` without its log line's text (an f-string with the state's name, the record's extra) when
    its logger would drop it; SpiffWorkflow's own when the logger is on."""
    info, debug, time_now = logging.INFO, logging.DEBUG, time.time

    def _set_state(self: Any, value: int) -> None:
        if value != self._state:
            if task_logger.isEnabledFor(info):
                plain(self, value)
                return
            self.last_state_change = time_now()
            self._state = value
        elif task_logger.isEnabledFor(debug):
            plain(self, value)

    return _set_state


install()
