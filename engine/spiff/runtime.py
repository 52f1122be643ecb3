"""A running SpiffWorkflow instance, seen in Stageflow's terms.

`Run` is the only place that touches SpiffWorkflow's workflow and task objects. It starts or loads a workflow,
applies one change (complete a task, deliver a message or signal, fire timers), runs the engine until every token
waits, prunes the finished part of the task tree, and reports what waits now (human tasks, external tasks,
timers, subscriptions) and what happened (history steps), so the store can write its projections.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Iterable
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from typing import Any
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit, StartEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    EscalationEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import (
    BoundaryEvent,
    EventBasedGateway,
    IntermediateCatchEvent,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask as UserTaskMixin
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from ..clock import current_clock, using_clock
from ..dialect import HIDDEN_PREFIX, ElementInfo
from ..errors import BadRequest, Conflict, ScriptError, StageflowError
from ..expressions import BUSINESS_KEY_VARIABLE, reserved_name
from ..ids import task_id as read_task_id
from ..sandbox import ScriptSandbox
from ..variables import (
    OBJECT_TYPES,
    JsonText,
    Long,
    Short,
    beyond_long,
    changed_values,
    object_from_json,
    object_json,
    unstorable_text,
)
from . import clockpatch, code_events, inclusive, join_arrivals, scopes, timerhold
from .branches import carriers, drop_ended_branches
from .compensation import COMPENSABLE
from .fresh import new_workflow
from .message_names import resolved_name
from .parser import (
    OUT_LOCALS,
    CompiledProcess,
    Evaluation,
    ExternalTaskSpec,
    called_specs,
    drop_io_locals,
    element_variables,
    hand_to_multi_instance,
    multi_instance_parent,
    take_decisions,
    take_mails,
)
from .scripting import StageflowScriptEngine, business_key_of, multi_instance_variables
from .starts import START_AT, start_event_for, trigger_definition
from .timers import TimerValueError, install_cron_cycles, is_cron, next_cron, skip_past_repetitions
from .tree import ACTIVE, callers, drop_subprocess, earlier_join_arrivals, find_task, start_event_subprocess

WAITING_SINCE = "sf_since"  # a waiting task's internal data: when it began to wait, for its history
SERIALIZER_VERSION = "sf1"  # Stageflow's runtime format: SpiffWorkflow 1.5 without specs, pruned tree
_LIVE = TaskState.NOT_FINISHED_MASK | TaskState.ERROR
_READY = TaskState.READY  # compared with `task._state` on the paths every save takes

clockpatch.install()
timerhold.install()
code_events.install()
inclusive.install()
join_arrivals.install()
install_cron_cycles()


# Runtime formats Stageflow wrote before the current one, each with the function that brings a saved runtime
# one step forward. An instance saved in an older format is migrated when it is next loaded and saved in the
# current format by that change: instances in flight survive an upgrade.
RUNTIME_MIGRATIONS: dict[str, tuple[str, Any]] = {}


def migrate_runtime(dct: dict[str, Any], version: str) -> dict[str, Any]:
    """Bring a saved runtime from format `version` to `SERIALIZER_VERSION`."""
    while version != SERIALIZER_VERSION:
        step = RUNTIME_MIGRATIONS.get(version)
        if step is None:
            raise BadRequest(f"instance runtime format '{version}' is unknown to this Stageflow "
                             f"(it reads '{SERIALIZER_VERSION}'); upgrade Stageflow")
        version, migrate = step
        dct = migrate(dct)
    return dct


class _RuntimeConverter(BpmnWorkflowConverter):
    """SpiffWorkflow's workflow converter without the specs: they are stored once per definition."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def restore(self, dct: dict[str, Any], spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], _task_uuid, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(_task_uuid(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


log = logging.getLogger("stageflow.runtime")

_REGISTRY = BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)
for _declared in (Long, Short):  # whole numbers declared Long or Short stay so when the instance is reloaded
    _REGISTRY.register(_declared, lambda v: {"value": int(v)}, lambda d, cls=_declared: cls(d["value"]),
                       _declared.__name__)
for _object in OBJECT_TYPES:  # and Object variables stay Objects, with their class and format
    _REGISTRY.register(_object, object_json, object_from_json, _object.__name__)
_REGISTRY.register(JsonText, lambda v: {"value": str(v)}, lambda d: JsonText(d["value"]), "JsonText")  # Json stays
_CONVERTER = _RuntimeConverter(BpmnWorkflow, _REGISTRY)


class _TaskConverter(TaskConverter):
    """SpiffWorkflow's task converter, writing the same dict in one step (a task is the bulk of every save)."""

    def to_dict(self, task: SpiffTask) -> dict[str, Any]:
        internal = task.internal_data
        return _task_fields(task, self.registry.convert(internal) if internal else {})

    def from_dict(self, dct: dict[str, Any], workflow: Any) -> SpiffTask:
        """SpiffWorkflow's, with ids that keep their text (`engine.ids.TaskId`), one object per id."""
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=_task_uuid(dct["id"]))
        task._parent = _task_uuid(dct["parent"]) if dct["parent"] is not None else None
        task._children = [_task_uuid(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        task.internal_data = self.registry.restore(dct["internal_data"])
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            task.workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        if delta and task.parent is not None:
            data = DeepMerge.merge({}, task.parent.data)
            data.update(self.registry.restore(delta.get("updates", {})))
            for key in delta.get("deletions", {}):
                data.pop(key, None)
        else:
            data = self.registry.restore(dct["data"])
        task.data = data
        return task


_TaskConverter(SpiffTask, _REGISTRY, "Task")  # replaces SpiffWorkflow's in the registry


def _task_fields(task: SpiffTask, internal_data: Any) -> dict[str, Any]:
    """A task's dict in SpiffWorkflow's format (its data as the change from its parent's), without the typename."""
    parent_id = task._parent
    parent = task.workflow.tasks.get(parent_id)
    if parent is None:
        data, delta = task.data, {}
    else:
        before, after = parent.data, task.data
        data, delta = {}, {"updates": DeepMerge.get_updated_keys(before, after),
                           "deletions": DeepMerge.get_deleted_keys(before, after)}
    return {"id": str(task.id), "parent": str(parent_id) if parent is not None else None,
            "children": [str(child) for child in task._children], "last_state_change": task.last_state_change,
            "state": task._state, "task_spec": task.task_spec.name, "triggered": task.triggered,
            "internal_data": internal_data, "data": data, "delta": delta}


@lru_cache(maxsize=4096)
def _task_uuid(task_id: str) -> UUID:
    """A task id read as text, keeping it (a restore reads each id three times: task, parent, child)."""
    return read_task_id(task_id)


def _plain_runtime(workflow: BpmnWorkflow, *, check: bool = False) -> dict[str, Any] | None:
    """What `_CONVERTER.to_dict` gives of a workflow whose values are all plain (`Run.reusable`), built in one pass.

    The registry's walk (clean, convert, a typename looked up for every value) changes nothing in plain values:
    only the tasks themselves become typed dicts. A workflow with subprocesses or pending events takes the
    registry's way. `check`: find out in the same pass whether every value is plain, and give None when one is not
    or when the workflow would take the registry's way.
    """
    if workflow.subprocesses or workflow.bpmn_events:
        return None if check else _typed_declared(_CONVERTER.to_dict(workflow))
    if check and not _plain(workflow.data):
        return None
    out = {}
    for key, task in workflow.tasks.items():
        internal = task.internal_data
        if "seen_events" in internal and task._state & TaskState.FINISHED_MASK:
            del internal["seen_events"]  # see `Run._forget_caught_events`
        fields = out[str(key)] = _task_fields(task, internal)
        fields["typename"] = "Task"
        # a task's data is plain when what it holds beyond its parent's (plain) data is: its delta's updates
        if check and not (_plain(internal) and _plain(fields["data"])
                          and (not fields["delta"] or _plain(fields["delta"]["updates"]))):
            return None
    last = workflow.last_task
    return {"data": workflow.data, "correlations": workflow.correlations,
            "last_task": str(last.id) if last is not None else None, "success": workflow.success,
            "completed": workflow.completed, "tasks": out, "root": str(workflow.task_tree.id), "subprocesses": {},
            "bpmn_events": []}


def _typed_declared(dct: dict[str, Any]) -> dict[str, Any]:
    """Write the Long and Short variables of a dumped workflow as the registry's typed dicts, so that `load` gives
    them back as declared. SpiffWorkflow 3.2 stores task data as is, and JSON writes an int subclass as a plain
    number; a variable is a top-level value, so only the top level of each data dict is looked at."""
    for task in dct.get("tasks", {}).values():
        if "data" in task:
            task["data"] = _typed_top(task["data"])
        delta = task.get("delta")
        if delta and delta.get("updates"):
            delta["updates"] = _typed_top(delta["updates"])
    if "data" in dct:
        dct["data"] = _typed_top(dct["data"])
    for sub in (dct.get("subprocesses") or {}).values():
        _typed_declared(sub)
    return dct


def _typed_top(data: Any) -> Any:
    if not data or not isinstance(data, dict) or not any(type(v) in _DECLARED_TYPES for v in data.values()):
        return data
    return {k: _typed_value(v) if type(v) in _DECLARED_TYPES else v for k, v in data.items()}


def _typed_value(value: Any) -> dict[str, Any]:
    """A Long, Short, Object or single-value Json variable as the registry's typed dict (which `load` restores)."""
    if isinstance(value, int):
        return {"typename": type(value).__name__, "value": int(value)}
    if isinstance(value, JsonText):
        return {"typename": "JsonText", "value": str(value)}
    return {"typename": type(value).__name__, **object_json(value)}


_DECLARED_TYPES = frozenset((Long, Short, JsonText, *OBJECT_TYPES))  # JSON would write them plain


# orjson hands dates and dataclasses to `default` (the registry), as the standard library does, instead of writing
# them itself; everything else `_plain` lets through it writes as the standard library would.
_ORJSON_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        return _REGISTRY.convert(o) if not isinstance(o, (set, frozenset)) else sorted(o)


@dataclass
class WaitingTask:
    """A task that waits for a person or a worker."""

    task_id: str
    element_id: str
    name: str | None
    info: ElementInfo | None
    data: dict[str, Any]
    builtins: dict[str, Any] = field(default_factory=dict)  # multi-instance variables (and in a called process, its
    # business key), for its expressions


@dataclass
class WaitingTimer:
    task_id: str
    element_id: str
    due_at: datetime | None
    kind: str  # date, duration, cycle


@dataclass
class WaitingEvent:
    task_id: str
    element_id: str
    event_type: str  # message, signal
    name: str


@dataclass
class Step:
    """One history entry: an element reached a state."""

    task_id: str
    element_id: str
    element_type: str
    element_name: str | None
    event: str  # completed, cancelled, error
    at: datetime
    since: str | None = None  # when it began to wait (a timer, a message, an external task), ISO; None: it did not
    source: str | None = None  # the file of a called process's element (its id may be one of the caller's too)


@dataclass
class Snapshot:
    """Task states before a change, to tell afterwards what happened."""

    states: dict[UUID, int] = field(default_factory=dict)


class Run:
    """One workflow in memory, between a load and a save."""


    def __init__(self, compiled: CompiledProcess, workflow: BpmnWorkflow, engine: StageflowScriptEngine) -> None:
        self.compiled = compiled
        self.workflow = workflow
        self.engine = engine
        workflow.update_waiting_tasks = partial(_update_waiting_tasks, workflow)  # type: ignore[method-assign]
        self._before = self._snapshot()

    # -- creation and persistence ---------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        compiled: CompiledProcess,
        sandbox: ScriptSandbox,
        *,
        variables: dict[str, Any],
        business_key: str | None,
        start_element: str | None = None,
        trigger: tuple[str, str] | None = None,
    ) -> Run:
        """A new workflow with `variables` as its start data (not yet run).

        `start_element`, or `trigger` (`("message", name)`, `("signal", name)` or `("timer", start event id)`),
        names the one start event it runs from, as Camunda's start by a message, signal or timer: the process's
        other start events, a none start among them, are not taken. Without either, a process with a none start
        runs from that alone, one without waits at its event starts (see `_start_split_run`).
        """
        engine = StageflowScriptEngine(sandbox, business_key)
        with _spiff_errors():
            workflow = new_workflow(compiled, engine)
        workflow.task_tree.data.update(variables)
        if start_element is None and trigger is not None:
            start_element = start_event_for(compiled.spec, trigger_definition(*trigger))
        if start_element is not None:
            workflow.task_tree.internal_data[START_AT] = start_element
        run = cls(compiled, workflow, engine)
        run._before = Snapshot()
        return run

    @classmethod
    def load(
        cls, compiled: CompiledProcess, sandbox: ScriptSandbox, state: str, *, business_key: str | None,
        version: str = SERIALIZER_VERSION,
    ) -> Run:
        """Restore a workflow saved by `dump` in format `version` (older formats are migrated on load)."""
        engine = StageflowScriptEngine(sandbox, business_key)
        # the standard library: orjson would read a whole number beyond 64 bits as a float
        dct = migrate_runtime(json.loads(state), version)
        workflow = _CONVERTER.restore(dct, compiled.spec, called_specs(compiled.subprocess_specs, dct))
        workflow.script_engine = engine
        return cls(compiled, workflow, engine)

    def dump(self, *, plain: bool = False) -> str:
        """The runtime state as JSON (no specs).

        `plain`: `reusable()` is true of the workflow now, so every value is plain JSON (see `_plain`) and orjson
        writes the same JSON as the standard library, several times faster; otherwise the standard library
        writes it, with the serializer's typed dicts for dates, sets and the like.
        """
        self._forget_caught_events()
        if plain:
            dct = _plain_runtime(self.workflow)
            try:
                return orjson.dumps(dct, default=_Encoder().default, option=_ORJSON_STRICT).decode()
            except orjson.JSONEncodeError:  # a whole number beyond 64 bits
                pass
        dct = _typed_declared(_CONVERTER.to_dict(self.workflow))
        return json.dumps(dct, cls=_Encoder, separators=(",", ":"))

    def _forget_caught_events(self) -> None:
        for task in self._all_tasks():
            # An event-based gateway keeps the events it caught (a message definition of a class the Camunda
            # serializer cannot write) after it has run: they mean nothing once it has finished.
            if "seen_events" in task.internal_data and task.has_state(TaskState.FINISHED_MASK):
                del task.internal_data["seen_events"]

    def dump_for_save(self) -> tuple[str, bool]:
        """(`dump()`, `reusable()`), in one pass over the tasks when the workflow is a plain one (no subprocess, no
        pending event, every value plain: the usual case), which a save of a step spends a good part of its time
        on otherwise."""
        try:
            dct = _plain_runtime(self.workflow, check=True)
        except RecursionError:  # data nested too deep for `_plain`: not plain (see `reusable`)
            dct = None
        if dct is not None:
            try:
                return orjson.dumps(dct, default=_Encoder().default, option=_ORJSON_STRICT).decode(), True
            except orjson.JSONEncodeError:  # a whole number beyond 64 bits
                pass
        reusable = self.reusable()
        return self.dump(plain=reusable), reusable

    def reusable(self) -> bool:
        """True when `load` of what `dump` wrote would give back the same data as this workflow holds, so the
        live workflow may serve the instance's next change: every data value is plain JSON. A tuple, a set, a
        date or a dict with non-string keys comes back changed from the runtime (a list, a list, a string or
        text keys), and a workflow holding one is always loaded from the database instead."""
        try:
            for wf in (self.workflow, *self.workflow.subprocesses.values()):
                if not _plain(wf.data):
                    return False
                for task in wf.tasks.values():
                    if not (_plain(task.data) and _plain(task.internal_data)):
                        return False
        except RecursionError:
            return False
        return True

    def rebase(self) -> None:
        """Take the task states as they are now as the start of the next change (see `steps`).

        A saved run may serve the instance's next change (`engine/runcache.py`) instead of a fresh `load`: state
        a `Run` keeps for one change only must be reset here.
        """
        self._before = self._snapshot()

    # -- running --------------------------------------------------------------------------------------------
    def advance(self) -> None:
        """Run every engine step until all tokens wait; a failing script raises `ScriptError`, and so does a change
        that loops without reaching a wait state (`StepBudget`)."""
        budget = StepBudget()
        with _spiff_errors():
            _do_engine_steps(self.workflow, budget)
            while (self._settle_event_subprocesses() or self._end_subprocesses_after_interruption()
                   or self._start_on_conditions()):
                _do_engine_steps(self.workflow, budget)
            self._end_after_interruption()

    def _start_on_conditions(self) -> bool:
        """Start the event subprocesses whose conditional start event's condition has come to hold, in the process
        and in every running subprocess (SpiffWorkflow never starts them: nothing is thrown). As Camunda, one starts
        when its condition becomes true, not again while it stays true; an interrupting one cancels the rest of its
        scope (`_settle_scope`). Returns True when one started."""
        names = _conditional_event_subprocesses(self.compiled)
        if not names:
            return False
        started = False
        for scope in [self.workflow, *self.workflow.subprocesses.values()]:
            if scope.completed or _interrupted(scope):
                continue
            for name in scope.spec.start.trigger_specs:
                if name not in names:
                    continue
                started = self._start_on_condition(scope, name) or started
        return started

    def _start_on_condition(self, scope: Any, name: str) -> bool:
        open_tasks = [t for t in scope.tasks.values() if t.has_state(ACTIVE) and _element_id(t.task_spec) is not None]
        if not open_tasks:
            return False
        context = max(open_tasks, key=lambda t: t.last_state_change)  # the scope's variables as they are now
        starts = [s for s in self.workflow.subprocess_specs[name].bpmn_start_events
                  if isinstance(s.event_definition, ConditionalEventDefinition)]
        holds = any(s.event_definition.has_fired(context) for s in starts)
        flag = f"sf_condition_held_{name}"
        root = scope.task_tree
        if not holds:
            root.internal_data.pop(flag, None)
            return False
        if root.internal_data.get(flag):
            return False  # fired when it came to hold: not again until it has been false
        root.internal_data[flag] = True
        sub = start_event_subprocess(self.workflow, scope, name)
        if sub is None:
            return False
        # the event subprocess and its start event take the scope's variables as they are now (what the scope's
        # first task held is what SpiffWorkflow would hand them, and the condition is evaluated again there)
        holder = find_task(self.workflow, sub.parent_task_id)
        start_tasks = [t for t in sub.tasks.values() if t.task_spec in starts]
        for task in [sub.task_tree, *start_tasks, *([holder] if holder is not None else [])]:
            task.data.update(context.data)
        for task in start_tasks:
            task.task_spec._update(task)
        return True

    def _interruption_done(self, scope: Any) -> Any:
        """The finished interrupting event subprocess of `scope` once nothing else in it is active, else None."""
        done = [t for t in scope.tasks.values()
                if t.internal_data.get("sf_interrupted") and t.has_state(TaskState.COMPLETED)]
        if not done or any(t.has_state(ACTIVE) and _element_id(t.task_spec) is not None
                           for t in scope.tasks.values()):
            return None
        for t in list(scope.tasks.values()):
            if not t.has_state(TaskState.FINISHED_MASK):
                t.cancel()
        return done[-1]

    def _end_after_interruption(self) -> bool:
        """An interrupting message/signal event subprocess that has finished ends the process, as in BPMN.

        SpiffWorkflow gives the triggered subprocess no path to the process end, so the instance would wait
        for the trigger again.
        """
        workflow = self.workflow
        if workflow.completed:
            return False
        done = self._interruption_done(workflow)
        if done is None:
            return False
        workflow.data.update(done.data)
        workflow.completed = True
        return True

    def _end_subprocesses_after_interruption(self) -> bool:
        """The same for an embedded subprocess: it ends, and its activity continues along its outgoing flow."""
        changed = False
        for scope in list(self.workflow.subprocesses.values()):
            if scope.completed or not scope.spec.start.trigger_specs:
                continue
            done = self._interruption_done(scope)
            if done is None:
                continue
            scope.last_task = done
            scope._mark_complete(done)
            scope.completed_event(scope)
            changed = True
        return changed

    def _settle_event_subprocesses(self) -> bool:
        """Give timer-started event subprocesses BPMN's meaning; SpiffWorkflow runs them as plain branches.

        In the process and in every subprocess holding them:
        - An interrupting one whose timer fired cancels the rest of its scope.
        - Once the rest of its scope has finished, the ones whose timer has not fired are cancelled, so the
          scope ends instead of waiting for a timer that no longer matters.
        Returns True when it changed something (the engine must step again).
        """
        changed = False
        for scope in [self.workflow, *self.workflow.subprocesses.values()]:
            changed = self._settle_scope(scope) or changed
        return changed

    def _settle_scope(self, scope: Any) -> bool:
        workflow = self.workflow
        event_tasks = [t for t in scope.tasks.values()
                       if getattr(t.task_spec, "spec", None) in workflow.subprocess_specs
                       and (info := self.compiled.element(t.task_spec)) is not None and info.triggered_by_event]
        if not event_tasks:
            return False
        changed = False
        waiting = []
        for task in event_tasks:
            sub = workflow.subprocesses.get(task.id)
            if task.has_state(TaskState.FINISHED_MASK) or sub is None:
                continue
            starts = [t for t in sub.tasks.values() if isinstance(t.task_spec, CatchingEvent)
                      and t.task_spec in getattr(sub.spec, "bpmn_start_events", [])]
            if any(t.has_state(TaskState.WAITING) for t in starts):
                waiting.append(task)
                continue
            fired = [t for t in starts if t.has_state(TaskState.COMPLETED)]
            info = self.compiled.element(fired[0].task_spec) if fired else None
            if info is not None and info.interrupting and not task.internal_data.get("sf_interrupted"):
                task.internal_data["sf_interrupted"] = True
                for other in list(scope.tasks.values()):
                    if (other is not task and other.task_spec.bpmn_id is not None and other not in event_tasks
                            and not other.has_state(TaskState.FINISHED_MASK)):
                        other.cancel()
                for other in waiting + [t for t in event_tasks if t is not task]:
                    if not other.has_state(TaskState.FINISHED_MASK):
                        other.cancel()
                changed = True
        if not changed and waiting:
            rest = [t for t in scope.tasks.values() if _element_id(t.task_spec) is not None
                    and t not in event_tasks and t.has_state(ACTIVE)]
            if not rest:
                for task in waiting:
                    task.cancel()
                changed = True
        if changed:  # joins waiting on a cancelled branch look again
            for task in list(scope.tasks.values()):
                if task.has_state(TaskState.WAITING) and getattr(task.task_spec, "bpmn_id", None) is None:
                    task.task_spec._update(task)
        return changed

    def complete(self, task_id: str, variables: dict[str, Any], local: dict[str, Any] | None = None,
                 external: dict[str, Any] | None = None) -> None:
        """Complete a waiting user or external task with `variables`, then advance.

        `local`: variables of the task's own scope (an external task's `localVariables`): its output parameters
        read them, and they are gone once it has completed, as in Camunda. `external`: an external task's
        properties (`errorMessage`, `errorDetails`, ...): once the variables are set, its first
        `camunda:errorEventDefinition` whose expression holds throws its error instead (`error_check`).
        """
        task = self.task(task_id)
        if task is None or not task.has_state(TaskState.READY) or not task.task_spec.manual:
            raise Conflict(f"task {task_id} is not waiting (already completed or cancelled)")
        variables, local = _scope_locals(task, variables, local)
        task.data.update(variables)
        if local:
            _set_locals(task, local)
        hand_to_multi_instance(task, variables)  # as a process variable of a multi-instance activity's instance
        _share_with_other_paths(task, variables)
        if variables:  # as in Camunda, they are set before the task is left: a conditional event may fire first
            self._check_conditions()
            if not task.has_state(TaskState.READY):  # an interrupting one took the task (or its scope) away
                return
        if external is not None and self.error_check(task_id, external, lenient=False):
            return
        with _spiff_errors():
            task.run()
        if getattr(task.task_spec, "sf_outputs", None):  # its output parameters are the outer scope's at once
            _share_writes(task)
        self.advance()

    def error_check(self, task_id: str, external: dict[str, Any], *, lenient: bool) -> bool:
        """Evaluate the waiting external task's `camunda:errorEventDefinition`s with its variables and
        `externalTask` (its `external` properties); the first that holds throws its error (with the task's
        `errorMessage`) and True is returned. `lenient` (a failure being reported): an expression that fails is
        logged and skipped, as Camunda does; else (a completion) its failure is the completion's."""
        task = self.task(task_id)
        info = self.compiled.element(task.task_spec) if task is not None else None
        if info is None or not info.error_checks:
            return False
        for code, source in info.error_checks:
            try:
                with _spiff_errors():
                    holds = task.workflow.script_engine.evaluate(task, source, {"externalTask": dict(external)})
            except StageflowError as err:
                if not lenient:
                    raise
                log.warning("camunda:errorEventDefinition of element %s (instance %s) failed: %s",
                            info.element_id, self.engine.instance_id, err)
                continue
            if holds is True:
                self.throw_error(task_id, code or "", external.get("errorMessage"), {})
                return True
        return False

    def set_task_variables(self, task_id: str, variables: dict[str, Any], local: dict[str, Any]) -> None:
        """Variables a worker reports with a failure (Camunda's `handleFailure`): `variables` as process variables,
        `local` in the waiting task's own scope (its output parameters read them; gone once it completes)."""
        task = self.task(task_id)
        if task is None or not task.has_state(TaskState.READY) or not task.task_spec.manual:
            raise Conflict(f"task {task_id} is not waiting (already completed or cancelled)")
        if variables:
            self.set_variables(variables, within=self._instance_of(task.workflow))
        moved, local = _scope_locals(task, {}, local)
        if moved:  # the scope's own, as the task sees them
            self.set_variables_at(task_id, moved)
        if local:
            _set_locals(task, local)

    def local_variables(self, task_id: str) -> dict[str, Any]:
        """A waiting task's own variables: its input parameters, what a worker set in its scope, and as an instance
        of a multi-instance activity, its element variable and `loopCounter` (the instance's execution's own in
        Camunda; the `nrOf...` counters are the activity's)."""
        task = self.task(task_id)
        if task is None:
            return {}
        shared, scope = _in_scope_execution(task)
        if shared:  # its scope's execution's: the process variables, or an embedded subprocess's own
            if scope is None:
                return {name: value for name, value in task.data.items() if not name.startswith("_")}
            return {name: task.data.get(name) for name in scopes.local_names(scope)}
        local = dict(task.internal_data.get("sf_io_locals") or {})
        for name in (task.internal_data.get(OUT_LOCALS) or {}).get("names") or ():
            local[name] = task.data.get(name)
        parent = multi_instance_parent(task)
        if parent is not None:
            local.update({name: task.data[name] for name in element_variables(parent) if name in task.data})
            counter = multi_instance_variables(task).get("loopCounter")
            if counter is not None:
                local["loopCounter"] = counter
        return local

    def throw_error(self, task_id: str, code: str, message: str | None, variables: dict[str, Any]) -> None:
        """A worker reports a business error at waiting task `task_id`: the error boundary event or event
        subprocess that catches `code` takes over, with the variables (and, where the catching event names them
        in `camunda:errorCodeVariable`/`errorMessageVariable`, the code and message). Nothing catches it: the
        task's path ends there, as Camunda's (`_end_path`); where that cannot be done, `BadRequest`, and the task
        stays as it was."""
        task = self._waiting_for_report(task_id)
        event, caught, started = self._throw_at(task, ErrorEventDefinition(code, code=code), variables, message)
        if not caught:
            if not self._end_path(task, variables):
                element = _element_id(task.task_spec)
                raise BadRequest(f"no error boundary event or event subprocess catches BPMN error '{code}' thrown "
                                 f"at element '{element}'")
            self.advance()
            return
        for sub_id in started:
            self._interrupt_for(sub_id, event.event_definition)
        self.advance()

    def throw_escalation(self, task_id: str, code: str, variables: dict[str, Any]) -> None:
        """Someone reports an escalation at waiting task `task_id` (Camunda's `handleEscalation`): the escalation
        boundary event or event subprocess that catches `code` takes over, with the variables; a
        non-interrupting one runs beside the task, which stays. Nothing catches it: `BadRequest`, and nothing
        changes (Camunda fails the call: an escalation, unlike an error, does not end a path)."""
        task = self._waiting_for_report(task_id)
        event, caught, started = self._throw_at(task, EscalationEventDefinition(code, code=code), variables)
        if not caught:
            raise BadRequest(f"no escalation boundary event or event subprocess catches escalation '{code}' "
                             f"reported at element '{_element_id(task.task_spec)}'")
        for sub_id in started:
            self._interrupt_for(sub_id, event.event_definition)
        self.advance()

    def _waiting_for_report(self, task_id: str) -> SpiffTask:
        task = self.task(task_id)
        if task is None or not task.has_state(TaskState.READY) or not task.task_spec.manual:
            raise Conflict(f"task {task_id} is not waiting (already completed or cancelled)")
        return task

    def _throw_at(self, task: SpiffTask, definition: Any, variables: dict[str, Any],
                  message: str | None = None) -> tuple[BpmnEvent, list[SpiffTask], list[Any]]:
        """Throw `definition` (an error, with its `message`, or an escalation) from waiting `task`: the event, the
        catching events that fired, and the event subprocesses it started."""
        waiting = [t for t in self.workflow.event_manager.tasks.values()
                   if not t.task_spec.event_definition.has_fired(t)]
        event = BpmnEvent(definition, dict(variables), target=task.workflow)
        event.sf_thrower = task.id  # its way out of a called process passes camunda:out mappings
        event.sf_error_message = message  # the catching event's camunda:errorMessageVariable
        before = set(self.workflow.subprocesses)
        with _spiff_errors():
            self.workflow.event_manager.catch(event, internal=False)
        started = [sid for sid in self.workflow.subprocesses if sid not in before]
        caught = [t for t in waiting if t.task_spec.event_definition.has_fired(t)]
        caught += [t for sid in started for t in self.workflow.subprocesses[sid].tasks.values()
                   if isinstance(t.task_spec, CatchingEvent) and t.task_spec.event_definition.has_fired(t)]
        return event, caught, started

    def _end_path(self, task: SpiffTask, variables: dict[str, Any]) -> bool:
        """End the path at waiting `task` as a none end event would: Camunda's default for a BPMN error nothing
        catches (its BpmnExceptionHandler ends the execution). The task's boundary events go with it, its input
        parameters are dropped, and its scope ends once its other paths have (a subprocess's flow then goes on
        after it). False, with nothing changed, where that is not possible here (a multi-instance activity)."""
        end_spec = task.workflow.spec.task_specs.get("End")
        parent = task.parent
        if end_spec is None or isinstance(task.task_spec, MultiInstanceTask) or (
                parent is not None and isinstance(parent.task_spec, MultiInstanceTask)):
            return False
        if parent is not None and isinstance(parent.task_spec, BoundaryEventSplit):
            for sibling in parent.children:
                if sibling is not task and not sibling.has_state(TaskState.FINISHED_MASK):
                    sibling.cancel()
        task.data.update(variables)
        drop_io_locals(task)
        task._drop_children(force=True)
        end = task._add_child(end_spec, TaskState.FUTURE)
        end.data = dict(task.data)
        task._set_state(TaskState.COMPLETED)
        task.workflow._task_completed_notify(task)
        end.task_spec._update(end)
        return True

    def fire_timers(self) -> None:
        """Let every due timer fire (those not yet due stay), then advance.

        A cycle timer that missed several periods (the engine was down) fires once, not once per missed period:
        its next time moves past now and the missed repetitions are used up.
        """
        # SpiffWorkflow fires a timer only once the clock is strictly past its time; the job table calls a timer
        # due at its time, so look a microsecond ahead.
        with using_clock(_Ahead(current_clock())), _spiff_errors():
            once = {task.id: dict(value) for task in self.workflow.event_manager.tasks.values()
                    if self._fires_once(task) and isinstance(value := task.internal_data.get("event_value"), dict)}
            with timerhold.released():  # the timer's own transaction (see `timerhold`)
                self.workflow.refresh_timers()
            for task_id, before in once.items():
                task = self.workflow.event_manager.tasks.get(task_id)
                if task is not None and task.internal_data.get("event_value") != before:
                    task.internal_data["event_fired"] = True  # it fired: it is done, not waiting for the next
            self._skip_missed_cycles()
        self.advance()

    def _fires_once(self, task: Any) -> bool:
        """A cycle timer on an intermediate catch event or on the process's own start event: it fires once (BPMN
        repeats a cycle only on a non-interrupting boundary event or event subprocess; the repetitions of a
        timer start event are the scheduler's, each starting an instance). SpiffWorkflow would repeat it."""
        spec = task.task_spec
        if not isinstance(getattr(spec, "event_definition", None), CycleTimerEventDefinition):
            return False
        return isinstance(spec, IntermediateCatchEvent) or (isinstance(spec, StartEvent)
                                                            and task.workflow is self.workflow)

    def _skip_missed_cycles(self) -> None:
        now = current_clock().now()
        for task in list(self.workflow.event_manager.tasks.values()):
            value = task.internal_data.get("event_value")
            if not isinstance(value, dict) or "next" not in value or not value.get("duration"):
                continue
            cron = _cron_of(task)
            if cron is not None:  # the next firing comes from the expression, not from a fixed period
                moment = next_cron(cron, now) if value["cycles"] != 0 else None
                if moment is not None:
                    value["next"] = moment.isoformat()
                continue
            skip_past_repetitions(value, now)

    def _async_pending(self, task: Any) -> bool:
        """A task at a `camunda:asyncBefore` or `asyncAfter` boundary that no job has continued yet."""
        if task.internal_data.get("sf_async_done"):
            return False
        if getattr(task.task_spec, "sf_async_after_of", None):
            return True
        info = self.compiled.element(task.task_spec)
        return info is not None and info.async_before

    def continue_async(self, task_id: str) -> None:
        """Run the part after an `asyncBefore` boundary (the job decided it is time), then advance."""
        task = self.task(task_id)
        if task is None or task.state != TaskState.READY or not self._async_pending(task):
            raise Conflict(f"no asynchronous continuation waits at task {task_id}")
        task.internal_data["sf_async_done"] = True
        if getattr(task.task_spec, "sf_async", False):  # not a task for a person or worker: run it now
            with _spiff_errors():
                task.run()
        self.advance()

    def start_by_timer(self, element_id: str) -> None:
        """Fire the timer start event `element_id` now: the scheduler decided it is due (the job is the timer)."""
        for task in list(self.workflow.event_manager.tasks.values()):
            if task.task_spec.bpmn_id == element_id and task.has_state(TaskState.WAITING):
                moment = (current_clock().now() - timedelta(microseconds=1)).isoformat()
                value = task.internal_data.get("event_value")
                if isinstance(value, dict):
                    value.update(next=moment, cycles=1)
                else:
                    task.internal_data["event_value"] = moment
                self.fire_timers()
                return
        if any(_element_id(t.task_spec) == element_id and t.has_state(TaskState.COMPLETED)
               for t in self.workflow.tasks.values()):
            return  # a date already past when the instance was created: the first step fired it
        raise Conflict(f"timer start event '{element_id}' is not waiting")

    def set_timer_due(self, task_id: str, due: datetime) -> None:
        """Move a waiting timer (an ops person grants two more days); the job row follows on save."""
        task = self.task(task_id)
        if task is None or not task.has_state(TaskState.WAITING):
            raise Conflict(f"timer {task_id} is not waiting")
        value = task.internal_data.get("event_value")
        if isinstance(value, dict):
            value["next"] = due.isoformat()
        else:
            task.internal_data["event_value"] = due.isoformat()

    def deliver_message(self, name: str, payload: dict[str, Any] | None) -> bool:
        """Deliver message `name` to this instance; False when nothing here waits for it."""
        return self._deliver(MessageEventDefinition(name), payload)

    def deliver_signal(self, name: str, payload: dict[str, Any] | None) -> bool:
        """Deliver signal `name`; False when nothing here waits for it."""
        return self._deliver(SignalEventDefinition(name), payload)

    def _deliver(self, definition: Any, payload: dict[str, Any] | None) -> bool:
        before = set(self.workflow.subprocesses)
        event = BpmnEvent(definition, dict(payload or {}))
        with _spiff_errors():
            self._trigger_nested(definition)
            manager = self.workflow.event_manager
            if _interrupted(self.workflow):  # its event subprocesses no longer listen: only waiting events catch
                manager.update_collaboration = lambda event: None
            try:
                caught = manager.catch(event, internal=False)
            finally:
                manager.__dict__.pop("update_collaboration", None)
        started = [sid for sid in self.workflow.subprocesses if sid not in before]
        if caught == 0 and not started:
            return False
        for sub_id in started:
            self._interrupt_for(sub_id, definition)
        self._apply_payload(payload)
        self.advance()
        return True

    def _live_scopes(self) -> list[Any]:
        """The running embedded subprocesses (not call activities) that hold message or signal event
        subprocesses, besides the process itself (SpiffWorkflow only subscribes the process's own)."""
        return [sub for sub in self.workflow.subprocesses.values()
                if not sub.completed and sub.spec.start.trigger_specs
                and (task := find_task(self.workflow, sub.parent_task_id)) is not None
                and task.has_state(ACTIVE) and not _interrupted(sub)]

    def _trigger_nested(self, definition: Any) -> None:
        """Start, in every running embedded subprocess, the event subprocesses whose start catches `definition`:
        SpiffWorkflow's own lookup stops at the process's event subprocesses. The started one waits at its
        start event, which the catch that follows completes."""
        for scope in self._live_scopes():
            for name in scope.spec.start.trigger_specs:
                spec = self.workflow.subprocess_specs.get(name)
                if any(s.event_definition == definition for s in getattr(spec, "bpmn_start_events", [])):
                    start_event_subprocess(self.workflow, scope, name)

    def _interrupt_for(self, sub_id: UUID, definition: Any) -> None:
        """SpiffWorkflow ignores `isInterrupting` on event subprocesses: cancel the rest of the scope here."""
        task = self.workflow.get_task_from_id(sub_id)
        owner = task.workflow
        if getattr(task.task_spec, "spec", None) not in owner.spec.start.trigger_specs:
            return
        spec = self.workflow.subprocess_specs.get(task.task_spec.spec)
        interrupting = False
        for start in getattr(spec, "bpmn_start_events", []):
            if start.event_definition == definition:
                info = self.compiled.element(start)
                interrupting = info is None or info.interrupting
        if not interrupting:
            return
        task.internal_data["sf_interrupted"] = True
        scope = task.parent
        for sibling in list(scope.children):
            if sibling.id != task.id:
                sibling.cancel()

    def _apply_payload(self, payload: dict[str, Any] | None) -> None:
        # Camunda sets correlated process variables on the instance; SpiffWorkflow puts the payload into a
        # result variable of the catching task. Stageflow follows Camunda: payload entries become variables.
        if payload:
            self.set_variables(payload, within=EVERYWHERE)

    def cancel(self) -> None:
        """Cancel every open task of the workflow."""
        self.workflow.cancel()

    def thrown_events(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Messages and signals this run threw that nothing inside the workflow caught."""
        thrown = []
        for event in self.workflow.get_events():
            definition = event.event_definition
            kind = "signal" if isinstance(definition, SignalEventDefinition) else "message"
            if isinstance(definition, (SignalEventDefinition, MessageEventDefinition)):
                payload = event.payload if isinstance(event.payload, dict) else {}
                thrown.append((kind, definition.name, payload))
        return thrown

    def take_mails(self) -> list[dict[str, Any]]:
        """The letters this run's mail tasks wrote since the last call, for the outbox (see `MailTaskSpec`)."""
        return take_mails(self.workflow)

    def take_decisions(self) -> list[Evaluation]:
        """The decisions this run's business rule tasks evaluated since the last call, for their history."""
        return take_decisions(self.workflow)

    # -- state ----------------------------------------------------------------------------------------------
    @property
    def completed(self) -> bool:
        return self.workflow.completed

    def task(self, task_id: str) -> Any:
        try:
            return self.workflow.get_task_from_id(_task_uuid(task_id))
        except (ValueError, TypeError, WorkflowException, KeyError):
            return None

    def task_variables(self, task_id: str) -> dict[str, Any]:
        """The variables a task sees: its scope's data, and Camunda's variables of the multi-instance activity
        instance it belongs to (`loopCounter`, `nrOfInstances`, `nrOfActiveInstances`,
        `nrOfCompletedInstances`), which shadow any of the same name outside, as local variables do."""
        task = self.task(task_id)
        if task is None:
            return {}
        return {**task.data, **multi_instance_variables(task)}

    def _all_tasks(self) -> list[Any]:
        tasks = list(self.workflow.tasks.values())
        for sub in self.workflow.subprocesses.values():
            tasks.extend(sub.tasks.values())
        return tasks

    def open_elements(self) -> list[tuple[str, str, str]]:
        """(element type, element id, state) of every unfinished diagram element: what an instance is at."""
        out = []
        for task in self._all_tasks():
            element_id = _element_id(task.task_spec)
            if element_id is None or not task.has_state(TaskState.READY | TaskState.WAITING | TaskState.STARTED
                                                        | TaskState.ERROR):
                continue
            info = self.compiled.element(task.task_spec)
            kind = info.tag if info is not None else type(task.task_spec).__name__
            out.append((kind, element_id, TaskState.get_name(task.state)))
        return sorted(set(out))

    def waiting_tasks(self) -> tuple[list[WaitingTask], list[WaitingTask]]:
        """(user tasks, external tasks) that are READY."""
        users, externals = [], []
        for task in self._all_tasks():
            if task._state != _READY or not task.task_spec.manual or self._async_pending(task):
                continue
            spec = task.task_spec
            builtins = multi_instance_variables(task)
            if task.workflow is not self.workflow:  # in a called process: its own business key
                builtins[BUSINESS_KEY_VARIABLE] = business_key_of(task, self.engine.business_key)
            waiting = WaitingTask(
                task_id=str(task.id),
                element_id=spec.bpmn_id,
                name=spec.bpmn_name,
                info=self.compiled.element(spec),
                data=task.data,
                builtins=builtins,
            )
            if isinstance(spec, ExternalTaskSpec):
                task.internal_data.setdefault(WAITING_SINCE, current_clock().now().isoformat())
                externals.append(waiting)
            elif isinstance(spec, UserTaskMixin) or spec.manual:
                users.append(waiting)
        return users, externals

    def waiting_events(self) -> tuple[list[WaitingTimer], list[WaitingEvent]]:
        """Pending timers and message/signal subscriptions of the workflow."""
        timers: list[WaitingTimer] = []
        events: list[WaitingEvent] = []
        if not self.workflow.completed:
            events.extend(self._event_subprocess_starts())
        for task in self._all_tasks():
            if task._state == _READY and self._async_pending(task):
                since = task.internal_data.setdefault("sf_async_since", current_clock().now().isoformat())
                element = _element_id(task.task_spec) or ""
                timers.append(WaitingTimer(str(task.id), element, parse_stored_moment(since), "async"))
        for task in list(self.workflow.event_manager.tasks.values()):
            if not task.has_state(TaskState.WAITING) and not task.has_state(TaskState.READY):
                continue
            definitions = _definitions(task.task_spec)
            if definitions:  # the history's start of the wait (Camunda's activity instance starts here)
                task.internal_data.setdefault(WAITING_SINCE, current_clock().now().isoformat())
            for definition in definitions:
                if isinstance(definition, TimerEventDefinition):
                    if _cycles_done(task, definition):
                        continue  # its last repetition has fired: no job after it (Camunda)
                    timers.append(self._timer(task, definition))
                elif isinstance(definition, MessageEventDefinition):
                    with _spiff_errors():  # a name's expression (`pay-${orderId}`) that fails names the element
                        name = resolved_name(task, definition)
                    events.append(WaitingEvent(str(task.id), _catcher(task.task_spec, definition), "message", name))
                elif isinstance(definition, SignalEventDefinition):
                    events.append(WaitingEvent(str(task.id), _catcher(task.task_spec, definition), "signal",
                                               definition.name))
        return timers, events

    def _event_subprocess_starts(self) -> list[WaitingEvent]:
        """Message and signal starts of the event subprocesses of the process and of its running embedded
        subprocesses (SpiffWorkflow does not list them)."""
        waiting = []
        top = self.workflow.spec.start.trigger_specs
        names = [*(top if top and not _interrupted(self.workflow) else ()),
                 *(name for scope in self._live_scopes() for name in scope.spec.start.trigger_specs)]
        for name in dict.fromkeys(names):
            spec = self.workflow.subprocess_specs.get(name)
            for start in getattr(spec, "bpmn_start_events", []):
                definition = start.event_definition
                kind = ("message" if isinstance(definition, MessageEventDefinition)
                        else "signal" if isinstance(definition, SignalEventDefinition) else None)
                if kind:
                    waiting.append(WaitingEvent(f"start:{start.bpmn_id}", start.bpmn_id, kind, definition.name))
        return waiting

    def _timer(self, task: Any, definition: TimerEventDefinition) -> WaitingTimer:
        if isinstance(definition, CycleTimerEventDefinition):
            kind = "cycle"
        elif isinstance(definition, TimeDateEventDefinition):
            kind = "date"
        else:
            kind = "duration"
        value = task.internal_data.get("event_value")
        due = None
        if isinstance(value, dict):
            due = parse_stored_moment(value.get("next"))
        elif isinstance(value, str):
            due = parse_stored_moment(value) if kind != "date" else _parse_date_value(value)
        return WaitingTimer(str(task.id), _catcher(task.task_spec, definition), due, kind)

    def variables(self) -> dict[str, Any]:
        """The instance's variables: the data of its open top-level tasks, or the final data once ended."""
        workflow = self.workflow
        if workflow.completed:
            data = {k: v for k, v in workflow.data.items() if k != COMPENSABLE}  # Stageflow's own bookkeeping
            return data if data else dict(_last_data(workflow))
        merged: dict[str, Any] = {}
        open_tasks = [t for t in workflow.tasks.values() if t.has_state(ACTIVE | TaskState.ERROR)]
        if not open_tasks:
            return dict(_last_data(workflow))
        for task in sorted(open_tasks, key=lambda t: t.last_state_change):
            merged.update(_outer_view(_carried(task), task))
        return merged

    def _scopes(self) -> list[Any]:
        """Every open task and the parent it will copy its data from when it becomes ready.

        SpiffWorkflow refreshes a waiting task's data from its parent when it moves on (a timer that fires),
        so a variable set on the waiting task alone would be lost.
        """
        open_: dict[UUID, Any] = {}
        for task in self._all_tasks():
            if task.has_state(ACTIVE | TaskState.FUTURE):
                open_[task.id] = task
                parent = task.parent
                if parent is not None and task.has_state(TaskState.WAITING):
                    open_[parent.id] = parent
        return list(open_.values())

    def _instance_of(self, workflow: Any) -> Any:
        """The workflow of the process instance a (sub)workflow belongs to, as Camunda counts instances: a called
        process's own (the call activity's subworkflow), or the top workflow (embedded subprocesses are part of
        their process)."""
        for call in callers(workflow):
            if getattr(call.task_spec, "sf_called_process", False):
                return workflow  # the called process's, which `call` runs
            workflow = call.workflow
        return self.workflow

    def _instance_scopes(self, within: Any) -> list[Any]:
        """`_scopes` of one process instance (`within`: a workflow `_instance_of` gives; None: the top one's);
        `EVERYWHERE`: of the called processes too."""
        if within is EVERYWHERE:
            return self._scopes()
        instance = self.workflow if within is None else within
        return [t for t in self._scopes() if t.workflow is instance or self._instance_of(t.workflow) is instance]

    def set_variables(self, values: dict[str, Any], *, within: Any = None) -> None:
        """Set process variables of the instance (`within`: of a called process's instance; see `_instance_scopes`):
        every open task of it, here and in its embedded subprocesses, sees them. A called process has variables of
        its own: the caller's are not set there (Camunda's called instance), nor a called instance's in its caller.

        As in Camunda, a conditional event waiting for them fires (and the instance moves on from it).
        """
        for task in self._instance_scopes(within):
            blocked = scopes.blocked_names(task) if task.workflow is not self.workflow else ()
            found = scopes.shadows(task)
            for name, value in values.items():
                if name not in blocked:  # else an embedded subprocess's own variable of that name is what it sees
                    # a task's own (local) variable of the same name hides the process variable: that is what is
                    # set, and the task gives it back when it completes
                    scopes.holder(found, name, task.data)[name] = value
        self._check_conditions()

    def set_variables_at(self, task_id: str, values: dict[str, Any], removals: list[str] | None = None) -> None:
        """Set (and remove) variables through the open task `task_id`, as Camunda's task service does: a name the
        task holds as its own (an input parameter, a multi-instance element variable or loop counter, what a worker
        set in its scope) changes that one, a name an embedded subprocess or multi-instance instance around it
        defines changes the scope's, any other is a process variable (`set_variables`)."""
        task = self.task(task_id)
        if task is None or not task.has_state(ACTIVE):
            raise Conflict(f"task {task_id} is not waiting (already completed or cancelled)")
        own = scopes.local_names(task)
        around = scopes.enclosing_scopes(task.workflow)
        defined = {name for scope in around for name in scopes.local_names(scope)}
        inputs = task.internal_data.get("sf_io_locals")
        for name in [n for n in [*values, *(removals or [])] if n in own]:
            if name in values:
                task.data[name] = deepcopy(values[name])
                if inputs is not None and name in inputs:
                    inputs[name] = deepcopy(values[name])
            else:
                task.data.pop(name, None)
                if inputs is not None:
                    inputs.pop(name, None)
        scoped = {n: v for n, v in values.items() if n not in own and n in defined}
        scoped_removals = [n for n in removals or [] if n not in own and n in defined]
        if scoped or scoped_removals:
            scopes.write(task, scoped, scoped_removals, carriers(task.workflow, set()))
        outer = {n: v for n, v in values.items() if n not in own and n not in defined}
        instance = self._instance_of(task.workflow)  # the task's process instance: a called process's own
        if outer:
            self.set_variables(outer, within=instance)
        outer_removals = [n for n in removals or [] if n not in own and n not in defined]
        if outer_removals:
            self.remove_variables(outer_removals, within=instance)
        if not outer:
            self._check_conditions()

    def _check_conditions(self) -> None:
        """Evaluate the conditions of waiting conditional events again; advance when one now holds."""
        waiting = [t for t in list(self.workflow.event_manager.tasks.values()) if t.has_state(TaskState.WAITING)
                   and any(isinstance(d, ConditionalEventDefinition) for d in _definitions(t.task_spec))]
        with _spiff_errors():
            for task in waiting:
                task.task_spec._update(task)
            started = self._start_on_conditions()  # and the event subprocesses that start on a condition
        if started or any(not t.has_state(TaskState.WAITING) for t in waiting):
            self.advance()

    def forget(self, names: frozenset[str]) -> None:
        """Drop variables from every task's data and the workflow's, finished tasks included: transient ones,
        which no saved runtime may hold."""
        for wf in (self.workflow, *self.workflow.subprocesses.values()):
            for holder in (wf.data, *(task.data for task in wf.tasks.values())):
                for name in names & holder.keys():
                    del holder[name]

    def remove_variables(self, names: list[str], *, within: Any = None) -> None:
        """Remove process variables of the instance (`within`: as `set_variables`); a conditional event waiting
        for a deletion fires, as in Camunda."""
        for task in self._instance_scopes(within):
            blocked = scopes.blocked_names(task) if task.workflow is not self.workflow else ()
            found = scopes.shadows(task)
            for name in names:
                if name not in blocked:
                    scopes.holder(found, name, task.data).pop(name, None)  # see `set_variables`
        self._check_conditions()

    # -- history --------------------------------------------------------------------------------------------
    def _snapshot(self) -> Snapshot:
        return Snapshot({task.id: task._state for task in self._all_tasks()})

    def steps(self, now: datetime) -> list[Step]:
        """What happened since the load (or start): elements completed, cancelled or failed, in the order they
        did (a multi-instance body after its instances, a called process's elements before what follows it)."""
        steps: list[tuple[float, Step]] = []
        before = self._before.states
        main_file = getattr(self.workflow.spec, "file", None)
        for task in self._all_tasks():
            spec = task.task_spec
            if getattr(spec, "bpmn_id", None) is None or spec.bpmn_id.startswith(HIDDEN_PREFIX):
                continue
            state = task._state  # the attribute: `state` is a property, read for every task of every save
            if before.get(task.id) == state:
                continue
            if state == TaskState.COMPLETED:
                event = "cancelled" if _ended_by_interruption(task, self.workflow) else "completed"
            elif state == TaskState.CANCELLED and task.internal_data.get(join_arrivals.SUPERSEDED):
                event = "completed"  # a token that arrived at a join before another one (see `join_arrivals`)
            elif state == TaskState.CANCELLED and before.get(task.id, 0) & ACTIVE:
                event = "cancelled"
            elif state == TaskState.ERROR:
                event = "error"
            else:
                continue
            info = self.compiled.element(spec)
            if event == "cancelled" and info is not None and _only_a_subscription(info):
                continue  # it never fired: no activity instance in Camunda, only an event subscription that ended
            if isinstance(spec, MultiInstanceTask):  # the activity as a whole, around its instances (Camunda's body)
                kind = MULTI_INSTANCE_BODY
            else:
                kind = info.tag if info is not None else spec.__class__.__name__
            # a boundary or start event is an activity instance only once it fires (Camunda): no wait before it
            since = None if kind in ("boundaryEvent", "startEvent") else task.internal_data.get(WAITING_SINCE)
            file = getattr(spec._wf_spec, "file", None)
            steps.append((task.last_state_change,
                          Step(str(task.id), spec.bpmn_id, kind, spec.bpmn_name, event, now, since,
                               file if file != main_file else None)))
        steps.sort(key=lambda s: s[0])  # stable: a tie keeps the tree's order
        return [step for _, step in steps]

    # -- pruning --------------------------------------------------------------------------------------------
    def prune(self) -> int:
        """Drop the finished part of the task tree above the open tasks; returns how many tasks went.

        History is kept in Stageflow's own table, so the finished chain is not needed to continue. Pruning keeps
        the cost of a step independent of an instance's history, and keeps SpiffWorkflow's task iterator (which
        stops 1,000 levels down) from losing READY tasks in long loops.
        """
        removed = _prune_tree(self.workflow, self.workflow)
        for sub_id in list(self.workflow.subprocesses):
            sub = self.workflow.subprocesses.get(sub_id)
            if sub is not None:
                removed += _prune_tree(sub, self.workflow)
        return removed



def _interrupted_activity(task: SpiffTask) -> bool:
    """Whether activity `task` ended because one of its interrupting boundary events caught: an error or an
    escalation its subprocess or called process ended with. SpiffWorkflow completes such an activity (its scope ran
    to the throwing end event) and cancels what follows it; Camunda 7 records it as cancelled."""
    inputs = task.task_spec._inputs  # names: cheaper than the parent task, read for every completed task
    if len(inputs) != 1 or not inputs[0].endswith(".BoundaryEventSplit"):
        return False
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return False
    return any(sibling is not task and isinstance(sibling.task_spec, BoundaryEvent)
               and sibling.task_spec.cancel_activity and sibling._state & (TaskState.READY | TaskState.COMPLETED)
               for sibling in parent.children)


def _ended_by_interruption(task: SpiffTask, top: BpmnWorkflow) -> bool:
    """Whether completed `task` is an activity an interrupting boundary event took away (see
    `_interrupted_activity`), or the error end event whose error such a boundary event caught: Camunda 7 records
    both as cancelled (`HistoricActivityInstanceStateTest.testBoundaryErrorCancel`)."""
    if _interrupted_activity(task):
        return True
    spec = task.task_spec
    if not isinstance(spec, EndEvent) or not isinstance(getattr(spec, "event_definition", None),
                                                          ErrorEventDefinition):
        return False
    parent_id = getattr(task.workflow, "parent_task_id", None)
    holder = find_task(top, parent_id) if parent_id is not None else None
    return holder is not None and _interrupted_activity(holder)


EVERYWHERE = object()  # `Run.set_variables(within=...)`: every instance of the run, the called processes' too


def _only_a_subscription(info: Any) -> bool:
    """An event that waits as a subscription until it fires, not as an activity: a boundary event, a start event
    (an event subprocess's, or a process's message or timer start an instance waits at), an event after an
    event-based gateway (the gateway is what waits)."""
    return info.tag in ("boundaryEvent", "startEvent") or bool(info.event_gateway)


# Bounds on one change's engine steps (the runs of tasks between two wait states). A process that loops without
# a wait state (a gateway cycle through script tasks, SpiffWorkflow's looping inclusive joins) would otherwise
# keep its request, its transaction and its instance lock for ever. Past a bound the change fails: its
# transaction is rolled back, the instance stays at its last wait state (a job's try becomes an incident).
STEP_LIMIT = 100_000  # task runs in one change (a parallel multi-instance over thousands of items stays well inside)
TIME_LIMIT = 15.0  # seconds of engine steps in one change (scripts have their own limit besides)
DEPTH_LIMIT = 950  # tasks chained in one change: SpiffWorkflow's task iterator loses READY tasks 1,000 deep


class StepBudget:
    """Counts the task runs of one change and stops a change that loops without reaching a wait state."""

    def __init__(self) -> None:
        self.steps = 0
        self.started = time.monotonic()
        self.runs: Counter[str] = Counter()

    def spend(self, task: SpiffTask) -> None:
        """Count one run of `task`; raise `ScriptError` when the change is past a bound."""
        self.steps += 1
        element = _element_id(task.task_spec)
        if element is not None:
            self.runs[element] += 1
        if self.steps > STEP_LIMIT:
            self._stop(f"{STEP_LIMIT} engine steps", element)
        if self.steps % 32 == 0:
            if time.monotonic() - self.started > TIME_LIMIT:
                self._stop(f"{TIME_LIMIT:g} s of engine steps ({self.steps} steps)", element)
            if task.depth >= DEPTH_LIMIT:
                self._stop(f"{self.steps} engine steps (a chain of {DEPTH_LIMIT} elements, the most one change "
                           "runs)", element)

    def _stop(self, spent: str, element: str | None) -> None:
        looping = [f"'{name}' {count} times" for name, count in self.runs.most_common(3)]
        where = self.runs.most_common(1)[0][0] if self.runs else element
        raise ScriptError(f"no wait state reached after {spent} in one change: the process loops without a "
                          f"wait state (most run: {', '.join(looping) or 'none'}); the change is undone",
                          element_id=where)


MULTI_INSTANCE_BODY = "multiInstanceBody"  # the history's element type of a multi-instance activity as a whole


def _cycles_done(task: Any, definition: Any) -> bool:
    """Whether a cycle timer (`R2/PT1H`) has fired all its repetitions: SpiffWorkflow keeps it waiting with none
    left, until the next time would have come."""
    value = task.internal_data.get("event_value")
    return isinstance(definition, CycleTimerEventDefinition) and isinstance(value, dict) and value.get("cycles") == 0


def _conditional_event_subprocesses(compiled: Any) -> frozenset[str]:
    """The names of a compiled process's event subprocess specs that start on a condition (found once)."""
    found = getattr(compiled, "sf_conditional_starts", None)
    if found is None:
        found = frozenset(name for name, spec in compiled.subprocess_specs.items() if spec is not None and any(
            isinstance(start.event_definition, ConditionalEventDefinition)
            for start in getattr(spec, "bpmn_start_events", [])))
        compiled.sf_conditional_starts = found
    return found


def _interrupted(scope: Any) -> bool:
    """Whether an interrupting event subprocess of `scope` (the process or an embedded subprocess) has started: then,
    as in Camunda, the scope's event subprocesses no longer listen for their messages and signals."""
    return any(task.internal_data.get("sf_interrupted") for task in scope.tasks.values())


def _share_writes(task: SpiffTask) -> None:
    """What a task the engine ran (a script, a decision, an input/output mapping) wrote are process variables, as
    in Camunda 7: the instance's other paths see them at once (see `_share_with_other_paths`)."""
    parent = task.parent
    if parent is None or task._state != TaskState.COMPLETED or parent.data is task.data:
        return
    before, after = parent.data, task.data
    if len(before) == len(after) and before == after:
        return  # nothing written: the usual case for events and gateways
    # a script that removed a variable (`del x`, `execution.removeVariable('x')`) removed it from the instance
    removed = [name for name in before if name not in after] if isinstance(task.task_spec, ScriptTask) else []
    _share_with_other_paths(task, changed_values(before, after), removed)


def _share_with_other_paths(task: SpiffTask, variables: dict[str, Any], removed: list[str] | None = None) -> None:
    """Completion variables are process variables, as in Camunda 7: the other paths of the instance (a parallel
    branch, a waiting event, a subprocess) see them at once, not only the completed task's own path, and they
    are not lost when its path ends. (SpiffWorkflow gives each path a copy of the data.) A name an embedded
    subprocess or a multi-instance activity's instance defines is written in that scope only (`scopes.write`).
    A multi-instance activity's instance hands its variables on as it completes instead
    (`parser.hand_to_multi_instance`)."""
    parent = task.parent
    if not (variables or removed) or (parent is not None and isinstance(parent.task_spec, MultiInstanceTask)):
        return
    top = task.workflow.top_workflow
    if not removed and _the_only_path(task, (top, *top.subprocesses.values())):
        return  # the only path (its successors, just made ready, inherit the data anyway)
    scopes.write(task, variables, removed or (), carriers(task.workflow, {task.id}))


def _do_engine_steps(workflow: BpmnWorkflow, budget: StepBudget | None = None) -> None:
    """`BpmnWorkflow.do_engine_steps`, skipping the subprocesses that an earlier step of the same round removed.

    SpiffWorkflow 3.2 lists the active subprocesses once per round: when one of them ends in an error or
    escalation that an interrupting boundary event on a multi-instance subprocess catches, the other instances
    are gone by their turn and it fails with "A task with id ... was not found". `budget` bounds the change.
    """
    budget = budget or StepBudget()

    def update(wf: Any) -> int:
        count = 0
        for task in _ready_tasks(wf):
            # a task an earlier one of this list cancelled (a multi-instance completion condition) is not run
            if not task.task_spec.manual and task._state == TaskState.READY:
                budget.spend(task)
                task.run()
                _share_writes(task)
                count += 1
        return count

    def round_() -> bool:
        active = workflow.get_active_subprocesses()
        for sub in sorted(active, key=lambda v: v.depth, reverse=True):
            if sub.parent_task_id is not None and workflow.subprocesses.get(sub.parent_task_id) is not sub:
                continue  # removed by an earlier step of this round
            while update(sub) > 0:
                pass
            task = find_task(workflow, sub.parent_task_id) if sub.parent_task_id is not None else None
            if task is not None:
                task.task_spec._update(task)
        return update(workflow) > 0 or len(workflow.get_active_subprocesses()) > len(active)

    while round_():
        pass
    _drop_orphan_subprocesses(workflow)
    workflow.refresh_timers()


def _update_waiting_tasks(workflow: BpmnWorkflow) -> None:
    """`Workflow.update_waiting_tasks`, which SpiffWorkflow runs after every task it completes, without its walk
    of the task tree when no task of the workflow waits (the walk would update nothing)."""
    waiting = TaskState.WAITING
    for task in workflow.tasks.values():  # (a loop: `any` over a generator costs a resumption a task)
        if task._state == waiting:
            type(workflow).update_waiting_tasks(workflow)
            return


def _ready_tasks(wf: Any) -> list[Any]:
    """`wf.get_tasks(state=READY)`, without its walk of the task tree in the usual case.

    A workflow with no subprocess has all its tasks in `wf.tasks`: when at most one is READY the tree order the
    walk gives does not matter, and a scan of the tasks finds it. Otherwise (several READY tasks, subprocesses
    whose tasks the walk visits too) the walk gives them in SpiffWorkflow's order.
    """
    if not wf.top_workflow.subprocesses:
        ready = [task for task in wf.tasks.values() if task._state == TaskState.READY]
        if len(ready) <= 1:
            return ready
    return wf.get_tasks(state=TaskState.READY)


def _drop_orphan_subprocesses(workflow: BpmnWorkflow) -> None:
    """Forget the subprocesses whose task is gone (SpiffWorkflow leaves them when it cancels the instances of
    a multi-instance subprocess): their tasks would otherwise still be listed as waiting."""
    while workflow.subprocesses:  # (most workflows have none: then no set of every task id is built)
        known = set(workflow.tasks).union(*(sub.tasks for sub in workflow.subprocesses.values()))
        orphans = [task_id for task_id in workflow.subprocesses if task_id not in known]
        if not orphans:
            return
        for task_id in orphans:
            drop_subprocess(workflow, task_id)



class _spiff_errors:  # noqa: N801 - used as a function: `with _spiff_errors():`
    """Turn whatever SpiffWorkflow raises while running into a `ScriptError` naming the element.

    A script or expression error names its task; a bare Python error from inside SpiffWorkflow (a multi-instance
    collection that is not set, ...) is traced back to the task being run. Stageflow's own errors pass. (A class,
    not a generator: entered in every step.)
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: Any) -> None:
        if err is None or isinstance(err, StageflowError) or not isinstance(err, Exception):
            return
        if isinstance(err, WorkflowTaskException):
            raise _script_error(err) from err
        if isinstance(err, SpiffWorkflowException):
            spec, message = getattr(err, "task_spec", None), str(err)
            if isinstance(spec, str):  # `WorkflowException(self, text)`: the spec's repr as message, the text as spec
                spec, message = getattr(_task_in_traceback(err), "task_spec", None), spec
            raise ScriptError(_readable(message, spec),
                              element_id=_element_id(spec) if spec is not None else None) from err
        raise _internal_error(err) from err  # a bug or an unchecked case inside SpiffWorkflow



def _readable(message: str, spec: Any = None) -> str:
    """SpiffWorkflow's message in Stageflow's (and, where it has one, Camunda's) words; `spec` is the task spec it
    came from."""
    message = message.strip().rstrip(".")
    if message.startswith("No conditions satisfied"):  # with or without the gateway's id
        element = _element_id(spec) if spec is not None else None
        if getattr(spec, "sf_stands_for", None) is not None:  # conditions on the flows leaving an activity
            camunda = f"No conditional sequence flow leaving the Flow Node '{element}' could be selected"
        else:
            camunda = f"No outgoing sequence flow for the element with id '{element}' could be selected"
        return f"{camunda} for continuing the process: no condition holds and there is no default flow"
    return message


def _script_error(err: WorkflowTaskException) -> ScriptError:
    task = getattr(err, "task", None)
    element_id = _element_id(task.task_spec) if task is not None else None
    line = getattr(err, "line_number", None) or None
    message = str(err.args[0]) if err.args else str(err)
    message = _readable(message, task.task_spec if task is not None else None)
    if task is not None and message.startswith("Missing data input for multiinstance task"):
        message = _collection_problem(task) or message
    original = getattr(err, "exception", None)
    if original is not None and str(original) and str(original) not in message:
        message = f"{message}: {original}"
    return ScriptError(message, element_id=element_id, line=line)


def _internal_error(err: Exception) -> ScriptError:
    """A `ScriptError` for a bare exception raised inside SpiffWorkflow, at the task it was running."""
    task = _task_in_traceback(err)
    spec = getattr(task, "task_spec", None)
    element_id = _element_id(spec) if spec is not None else None
    if isinstance(err, TimerValueError):  # a timer value that does not parse: its own message says it all
        return ScriptError(str(err), element_id=element_id)
    detail = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    problem = _collection_problem(task) if isinstance(err, TypeError) else None
    if problem is not None:
        return ScriptError(f"{problem} ({detail})", element_id=element_id)
    return ScriptError(f"the engine could not run this element ({detail})", element_id=element_id)


def _collection_problem(task: Any) -> str | None:
    """What is wrong with the collection of multi-instance task `task` (None when it is no such task)."""
    spec = getattr(task, "task_spec", None)
    if not isinstance(spec, MultiInstanceTask):
        return None
    name = getattr(spec.data_input or spec.data_output, "bpmn_id", None)
    if name is None:
        return None
    value = task.data.get(name)
    shown = "not set" if value is None else repr(value)
    return f"the multi-instance collection '{name}' is {shown}: it must be a list"


def _task_in_traceback(err: BaseException) -> Any:
    """The innermost SpiffWorkflow task being run where `err` was raised (None when there is none)."""
    found = None
    tb = err.__traceback__
    while tb is not None:
        for name in ("my_task", "task", "self"):
            candidate = tb.tb_frame.f_locals.get(name)
            if isinstance(candidate, SpiffTask) and getattr(candidate.task_spec, "bpmn_id", None) is not None:
                found = candidate
                break
        tb = tb.tb_next
    return found


class _Ahead:
    """A clock one microsecond ahead of another."""

    def __init__(self, base: Any) -> None:
        self.base = base

    def now(self) -> datetime:
        return self.base.now() + timedelta(microseconds=1)


def _definitions(spec: Any) -> list[Any]:
    if not isinstance(spec, CatchingEvent):
        return []
    definition = spec.event_definition
    nested = getattr(definition, "event_definitions", None)
    return list(nested) if nested else [definition]


def _catcher(spec: Any, definition: Any) -> str:
    """The id of the element that waits for `definition` in waiting task `spec`: for an event-based gateway, the
    catch event after it whose definition it is (SpiffWorkflow moves each event's definition to the gateway, in
    the order of the gateway's outputs, and the gateway's task waits for them all); else the spec's own."""
    if isinstance(spec, EventBasedGateway):
        for index, item in enumerate(spec.event_definition.event_definitions):
            if item is definition and index < len(spec.outputs):
                return _element_id(spec.outputs[index]) or ""
    return spec.bpmn_id or ""


def _cron_of(task: Any) -> str | None:
    """The cron expression of a waiting cycle timer written as a literal one, else None."""
    for definition in _definitions(task.task_spec):
        if isinstance(definition, CycleTimerEventDefinition):
            try:
                text = ast.literal_eval(definition.expression)
            except (ValueError, SyntaxError):
                return None
            return text if isinstance(text, str) and is_cron(text) else None
    return None


def parse_stored_moment(value: str | None) -> datetime | None:
    """A moment the runtime wrote as ISO text (a timer's next time, when a task began to wait), in UTC when it has
    no offset; None for none or an unreadable one."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _parse_date_value(value: str) -> datetime | None:
    try:
        return TimerEventDefinition.get_datetime(value)
    except (ValueError, TypeError):
        return None


def _the_only_path(task: SpiffTask, workflows: Iterable[Any]) -> bool:
    """Whether no task of `workflows` is active but `task` and the successors it has just made ready."""
    own = task.id
    return not any(other._state & ACTIVE and other.id != own and other._parent != own
                   for wf in workflows for other in wf.tasks.values())


def _in_scope_execution(task: SpiffTask) -> tuple[bool, SpiffTask | None]:
    """(whether Camunda 7 runs `task` in the execution of the scope around it, that scope's task: an embedded
    subprocess, None for the process). A task that is no scope of its own (no input/output mapping, no boundary
    event, not an instance of a multi-instance activity) and is the only path of its scope runs there, and its
    local variables (an external task's `localVariables`) are the scope's own: process variables at the top. In a
    parallel branch, or as a scope of its own, it has an execution of its own (its local variables stay its own)."""
    spec = task.task_spec
    parent = task.parent
    if (getattr(spec, "sf_inputs", None) or getattr(spec, "sf_outputs", None) or multi_instance_parent(task) is not None
            or (parent is not None and isinstance(parent.task_spec, BoundaryEventSplit))):
        return False, None
    if not _the_only_path(task, (task.workflow,)):
        return False, None
    around = scopes.enclosing_scopes(task.workflow)
    return True, (around[0] if around else None)


def _scope_locals(task: SpiffTask, variables: dict[str, Any],
                  local: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(variables, local variables) a worker sets on `task`: where it runs in its scope's execution
    (`_in_scope_execution`), its local variables are the scope's own, set after `variables`: process variables, or
    an embedded subprocess's own variables (gone when it ends)."""
    if not local:
        return variables, local
    shared, scope = _in_scope_execution(task)
    if not shared:
        return variables, local
    if scope is not None:
        _set_locals(scope, local)
    return {**variables, **local}, None


def _set_locals(task: SpiffTask, local: dict[str, Any]) -> None:
    """Variables of a waiting task's own scope, remembering what they hide (given back when it completes)."""
    dropped = task.internal_data.setdefault(OUT_LOCALS, {"names": [], "hidden": {}})
    for name, value in local.items():
        if name not in dropped["names"]:
            dropped["names"].append(name)
            if name in task.data:
                dropped["hidden"][name] = task.data[name]
        task.data[name] = value


def _outer_view(data: dict[str, Any], task: SpiffTask) -> dict[str, Any]:
    """`data` of an open task as the instance sees it: without the task's own variables (its input parameters and
    what a worker set in its scope), with the process variables they hide."""
    shadows = scopes.shadows(task)
    if not shadows:
        return data
    view = dict(data)
    for names, hidden in shadows:  # the outermost last
        for name in names:
            if name in hidden:
                view[name] = hidden[name]
            else:
                view.pop(name, None)
    return view


def _carried(task: SpiffTask) -> dict[str, Any]:
    """The data an open task holds for the instance's variables: a token waiting at a join (the process's end
    join included, where the main flow waits for a branch) holds what it arrived with, its predecessor's data."""
    if task._state == TaskState.WAITING and isinstance(task.task_spec, UnstructuredJoin) and task.parent is not None:
        return task.parent.data
    return task.data


def _last_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    finished = [t for t in workflow.tasks.values() if t.has_state(TaskState.COMPLETED)]
    if not finished:
        return workflow.task_tree.data
    return max(finished, key=lambda t: t.last_state_change).data


def _prune_tree(workflow: Any, top: BpmnWorkflow) -> int:
    root = workflow.task_tree
    tasks = workflow.tasks
    if not any(task._state & _LIVE for task in tasks.values()):
        return 0  # all finished (an ended scope): nothing is live, nor pinned (a pinning join waits)
    pinned = earlier_join_arrivals(workflow)
    # A task is live when it is unfinished, pinned, or has a live child: mark each such task's ancestors, walking
    # up along the parent links (no recursion, each task marked once).
    live: set[UUID] = set()
    child_sets: dict[UUID, set[UUID]] = {}  # a multi-instance parent's thousands of children, looked up as a set
    for task_id, task in tasks.items():
        if not (task._state & _LIVE or task_id in pinned):
            continue
        while task_id not in live:
            live.add(task_id)
            parent = tasks.get(task._parent)
            if parent is None:
                break
            children = parent._children
            if len(children) > 8:
                children = child_sets.get(parent.id) or child_sets.setdefault(parent.id, set(children))
            if task_id not in children:
                break
            task_id, task = parent.id, parent
    removed = drop_ended_branches(workflow, top, live)
    if root.id not in live:
        return removed
    node = root
    while True:
        if node.state & _LIVE or (isinstance(node.task_spec, _SPLITS_JOINS_FIND)
                                  and any(tasks[c]._state & _LIVE for c in node._children if c in tasks)):
            break
        live_children = [c for c in node._children if c in live]
        if len(live_children) != 1:
            break
        node = tasks[live_children[0]]
    if node is root or node._parent == root.id:
        return removed
    keep: set[UUID] = {root.id}
    stack = [node.id]
    while stack:
        tid = stack.pop()
        keep.add(tid)
        stack.extend(c for c in tasks[tid]._children if c in tasks)
    dropped = [tid for tid in tasks if tid not in keep]
    # `node` becomes the root's child: a task still waiting there (a receive task, a timer) takes its parent's data
    # when it moves on, so the root takes the data of the parent it replaces (the start data would bring back
    # values changed or removed since, through the API or a task's completion)
    root.data = tasks[node._parent].data
    for tid in dropped:
        del tasks[tid]
        if tid in top.subprocesses:
            drop_subprocess(top, tid)
    root._children = [node.id]
    node._parent = root.id
    if workflow.last_task is not None and workflow.last_task.id not in tasks:
        workflow.last_task = node
    return removed + len(dropped)


# Splits whose join looks for them among its ancestors when it fires: pruning keeps one whose branches are still
# open (an async start event, its sibling start events cancelled, still goes through the start join).
_SPLITS_JOINS_FIND = (StartEventSplit, BoundaryEventSplit)


def _plain(value: Any) -> bool:
    """A value JSON gives back unchanged: str, int, finite float, bool, None, and lists and str-keyed dicts of
    them (a NaN or infinite float is written as JSON has no word for it: not plain)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is dict:
        if not value:  # most tasks' internal data and delta: no sets to build
            return True
        if not set(map(type, value)) <= _TEXT:
            return False
        # Most values are flat: their types are checked in C before any of them is looked at one by one (each
        # instance of a multi-instance activity holds its own copy of the collection, thousands of items).
        return set(map(type, value.values())) <= _FLAT or all(_plain(v) for v in value.values())
    if kind is list:
        return set(map(type, value)) <= _FLAT or all(_plain(v) for v in value)
    return False


_TEXT = frozenset({str})
_FLAT = frozenset({str, int, bool, type(None)})  # always plain (a float may not be: see above)


NAME_LIMIT = 255  # the variable table's name column, on every database


def check_variables_serializable(values: dict[str, Any]) -> None:
    """Refuse names and values the engine cannot store (a name over 255 characters; functions, open files, ...),
    naming the variable, so that SQLite and PostgreSQL refuse the same input alike."""
    for name, value in values.items():
        if not isinstance(name, str) or not name:
            raise BadRequest("a variable needs a name")
        if len(name) > NAME_LIMIT:
            raise BadRequest(f"variable name '{name[:40]}...' is too long ({len(name)} characters): "
                             f"at most {NAME_LIMIT}")
        if reserved_name(name):  # task data is what expressions see: it would shadow the engine's
            raise BadRequest(f"variable name '{name}' is reserved: names starting with '_sf_' or '__' are the "
                             "engine's")
        unstorable = beyond_long(value) or unstorable_text(value)
        if unstorable:
            raise BadRequest(f"variable '{name}': {unstorable}")
        if _plain(value):
            continue  # plain JSON: nothing to try
        try:
            json.dumps(value, cls=_Encoder)
        except (TypeError, ValueError) as err:
            raise BadRequest(f"variable '{name}' cannot be stored: {err}")


def _element_id(spec: Any) -> str | None:
    """The diagram element a task spec stands for; an asyncAfter boundary or a hidden split gateway stands for
    the element it follows."""
    return (getattr(spec, "sf_stands_for", None) or getattr(spec, "bpmn_id", None)
            or getattr(spec, "sf_async_after_of", None))
