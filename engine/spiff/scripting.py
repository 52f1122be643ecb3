"""The script engine SpiffWorkflow calls for scripts, conditions, timers and DMN cells: restricted, timed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask, SequentialMultiInstanceTask
from SpiffWorkflow.exceptions import TaskNotFoundException

from ..errors import ScriptRejected
from ..expressions import RUNTIME_HELPERS, execution_globals, expression_failure
from ..juel_dates import DateTime
from ..sandbox import ScriptFailure, ScriptSandbox, is_data
from ..variables import beyond_long, too_many_items, unstorable_text
from .compensation import compensations
from .tree import callers


def _timer_value(value: Any, kind: str = "") -> str:
    """Render what a timer expression returned as the ISO 8601 text SpiffWorkflow's timers read.

    For a timer date, a duration (`PT1H`) means that long from now, as Camunda's due date calendar reads it.
    """
    relative = isinstance(value, timedelta) or (isinstance(value, str) and value.strip().upper().startswith("P"))
    if kind == "date" and relative:
        from ..clock import current_clock
        from .timers import parse_moment

        return parse_moment(value if isinstance(value, timedelta) else value.strip(), current_clock().now()).isoformat()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).isoformat()
    if isinstance(value, timedelta):
        return f"PT{value.total_seconds():g}S"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if kind in ("cycle", "date"):
            from .timers import TimerValueError

            form = "a repeating interval (R3/PT10M) or a cron expression" if kind == "cycle" else \
                "an ISO 8601 date-time or duration"
            raise TimerValueError(f"timer {kind} {value!r} is a number, not {form}")
        return f"PT{value:g}S"  # a duration in seconds
    text = str(value).strip()
    _check_timer_text(text, kind)
    return text


def _check_timer_text(text: str, kind: str) -> None:
    """A `TimerValueError` naming the value when an expression gave a date or duration SpiffWorkflow cannot read
    (a cycle is checked where SpiffWorkflow reads it, see `timers.install_cron_cycles`)."""
    from .timers import TimerValueError

    try:
        if kind == "duration":
            TimerEventDefinition.parse_iso_duration(text)
        elif kind == "date":
            TimerEventDefinition.get_datetime(text)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises a bare Exception for a duration
        form = "an ISO 8601 duration (PT10M, P2D)" if kind == "duration" else \
            "an ISO 8601 date-time (2026-01-05T09:00:00Z) or duration (P2D)"
        raise TimerValueError(f"timer {kind} '{text}' is not {form}") from None


HELPERS: dict[str, Any] = {**RUNTIME_HELPERS, "_sf_timer": _timer_value}


def multi_instance_variables(task: Any) -> dict[str, Any]:
    """Camunda's built-in variables of the innermost multi-instance activity instance `task` runs in.

    `nrOfInstances`, `nrOfActiveInstances`, `nrOfCompletedInstances` and `loopCounter` (the instance's 0-based
    position), read from SpiffWorkflow's bookkeeping; empty outside any. They are not stored: like Camunda's
    local variables they exist only while the instance runs. A called process does not see its caller's.
    """
    child, current = None, task
    while current is not None:
        spec = current.task_spec
        if isinstance(spec, MultiInstanceTask) and child is not None and child.task_spec.name == spec.task_spec:
            return _instance_values(current, child)
        parent = current.parent
        if parent is None:  # the root of a subprocess: carry on from the task that runs it
            workflow = current.workflow
            parent_id = getattr(workflow, "parent_task_id", None)
            try:
                parent = workflow.top_workflow.get_task_from_id(parent_id) if parent_id is not None else None
            except TaskNotFoundException:
                return {}
            if parent is not None and getattr(parent.task_spec, "sf_called_process", False):
                return {}
        child, current = current, parent
    return {}


def _instance_values(mi_task: Any, instance: Any) -> dict[str, Any]:
    spec = mi_task.task_spec
    positions = instance_positions(mi_task)
    if instance.id not in positions:  # not seen being added (cannot happen): count again
        mi_task.__dict__.pop(_POSITIONS, None)
        positions = instance_positions(mi_task)
    created = len(positions)
    total = created
    if isinstance(spec, SequentialMultiInstanceTask):
        cardinality = mi_task.internal_data.get("cardinality")
        remaining = mi_task.internal_data.get("remaining")
        total = cardinality if isinstance(cardinality, int) else total + len(remaining or [])
    completed = len(mi_task.internal_data.get("merged", []))
    return {
        "nrOfInstances": total,
        # An instance ends by completing (then it is merged) or with the whole activity (cancelled, when nothing
        # reads these any more): the active ones are those created and not merged.
        "nrOfActiveInstances": created - completed,
        "nrOfCompletedInstances": completed,
        "loopCounter": positions.get(instance.id, 0),
    }


_POSITIONS = "_sf_mi_positions"  # on a live multi-instance task: (children read, the last of them, positions)


def instance_positions(mi_task: Any) -> dict[Any, int]:
    """The 0-based position of each instance of the multi-instance task `mi_task`, by task id.

    Kept on the live task and extended as instances are added (they are only ever appended to its children and
    never removed while it runs), so that reading the variables of all its instances costs their number, not its
    square: a task list of a parallel activity over thousands of items reads them for each instance.
    """
    children = mi_task._children
    seen, last, positions = mi_task.__dict__.get(_POSITIONS, (0, None, None))
    if positions is None or seen > len(children) or (seen and children[seen - 1] != last):
        seen, positions = 0, {}  # first read, or not the children read before: read them all
    if seen < len(children):
        tasks, name = mi_task.workflow.tasks, mi_task.task_spec.task_spec
        for child_id in children[seen:]:
            child = tasks.get(child_id)
            if child is not None and child.task_spec.name == name and child_id not in positions:
                positions[child_id] = len(positions)
        mi_task.__dict__[_POSITIONS] = (len(children), children[-1], positions)
    return positions


CALLED_BUSINESS_KEY = "sf_business_key"  # a call activity's task: the business key of the process it called


def business_key_of(task: Any, instance_key: str | None) -> str | None:
    """The business key `execution.processBusinessKey` reads at `task`: the instance's (`instance_key`), or in a
    called process, the one its call activity gave it (`camunda:in businessKey`; none without one)."""
    for caller in callers(task.workflow):
        if getattr(caller.task_spec, "sf_called_process", False):
            return caller.internal_data.get(CALLED_BUSINESS_KEY)
    return instance_key


class StageflowScriptEngine(PythonScriptEngine):
    """Runs every piece of designer-written code through the restricted `ScriptSandbox`.

    One engine object serves one workflow (it knows the instance's business key); the sandbox, with its
    compile cache, is shared.
    """

    def __init__(self, sandbox: ScriptSandbox, business_key: str | None = None) -> None:
        super().__init__()
        self.sandbox = sandbox
        self.business_key = business_key
        self.instance_id: str | None = None  # set by the executor, for `execution.processInstanceId`
        self.definition_id: str | None = None
        self.resolve_decision: Any = None  # set by the executor: binds decisionRef when a task runs

    def _context(self, task: Any, external_context: dict | None) -> dict[str, Any]:
        context = dict(HELPERS)
        key = self.business_key if task is None else business_key_of(task, self.business_key)
        context["_sf_business_key"] = key
        spec = task.task_spec if task is not None else None
        context.update(execution_globals(self.instance_id, self.definition_id, getattr(spec, "bpmn_id", None),
                                         getattr(spec, "bpmn_name", None)))
        if task is not None:
            # compensation: how many completions of an activity are not undone yet
            context["_sf_compensable"] = lambda activity: compensations(task, activity) > 0
            context["_sf_compensations"] = lambda activity: compensations(task, activity)
        context.update(multi_instance_variables(task))
        if external_context:
            context.update(external_context)
        context.update(task.data)
        return context

    def validate(self, expression: str) -> None:
        # SpiffWorkflow's DMN engine probes cells with `validate` and expects a SyntaxError.
        try:
            self.sandbox.compile_expression(expression)
        except ScriptRejected as err:
            raise SyntaxError(str(err)) from None

    def evaluate(self, task: Any, expression: str | None, external_context: dict | None = None) -> Any:
        if expression is None:
            return None
        try:
            value = self.sandbox.evaluate(expression, self._context(task, external_context))
        except (ScriptFailure, ScriptRejected) as err:
            raise WorkflowTaskException(expression_failure(expression, err), task=task, exception=err)
        # a Joda DateTime (`${dateTime().plusDays(1)}`) kept as a variable is the moment, a Date, also inside a
        # camunda:list or camunda:map
        if isinstance(value, DateTime):
            return value.moment
        return _moments(value) if type(value) in (list, dict) and _has_date_time(value) else value

    def execute(self, task: Any, script: str, external_context: dict | None = None) -> bool:
        builtins = multi_instance_variables(task)
        if builtins:
            external_context = {**builtins, **(external_context or {})}
        execution = None
        if "execution" in script and "execution" not in task.data:  # Camunda's object, for scripts that use it
            execution = ScriptExecution(task, self, builtins)
            external_context = {**(external_context or {}), "execution": execution}
        held = {name: id(value) for name, value in task.data.items()}  # what the script found (see below)
        try:
            if external_context:
                context = {**external_context, **task.data}
                self.sandbox.execute(script, context)
                for name in external_context:
                    if context.get(name) is external_context[name]:
                        context.pop(name, None)
                if execution is not None:
                    execution.apply(context)
                task.data.clear()
                task.data.update(context)
            else:
                self.sandbox.execute(script, task.data)
            for name, value in task.data.items():
                # (only a string reaches a column as it is: one inside a list or dict is stored as escaped JSON)
                # a list or map is counted when the script made it: one it found (a multi-instance collection in
                # each of thousands of instances) was counted when it was made, and the save counts what changed
                unstorable = beyond_long(value) or (
                    unstorable_text(value) if type(value) is str
                    else too_many_items(value) if held.get(name) != id(value) else None)
                if unstorable:
                    raise ScriptFailure(f"the script set variable '{name}': {unstorable}")
        except ScriptFailure as err:
            raise WorkflowTaskException(
                err.message, task=task, exception=err, line_number=err.line or 0,
                error_line=_line_of(script, err.line),
            )
        except ScriptRejected as err:
            raise WorkflowTaskException(str(err), task=task, exception=err)
        return True

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        raise WorkflowTaskException("service calls are not supported: use an external task", task=task)


def _has_date_time(value: Any) -> bool:
    if isinstance(value, DateTime):
        return True
    if type(value) is list:
        return any(_has_date_time(v) for v in value)
    if type(value) is dict:
        return any(_has_date_time(v) for v in value.values())
    return False


def _moments(value: Any) -> Any:
    """`value` (plain lists and dicts: a camunda:list or camunda:map) with every Joda DateTime as its moment."""
    if isinstance(value, DateTime):
        return value.moment
    if type(value) is list:
        return [_moments(v) for v in value]
    if type(value) is dict:
        return {k: _moments(v) for k, v in value.items()}
    return value


class ScriptExecution:
    """Camunda's `execution` in a script, for scripts written as Camunda's are: `execution.getVariable('x')`,
    `execution.setVariable('x', 1)` (the same as assigning `x = 1`: the variable goes where an assignment's
    would), `setVariables`, `hasVariable`, `removeVariable`, `getVariables()`, and the instance's
    `processBusinessKey`, `processInstanceId` (also `id`), `processDefinitionId`, `currentActivityId` and
    `currentActivityName` (each also as its getter). What it sets is written when the script ends; the script reads
    it back with `getVariable` (a bare name holds its value from before)."""

    def __init__(self, task: Any, engine: StageflowScriptEngine, builtins: dict[str, Any]) -> None:
        # what the script sees: a multi-instance instance's loopCounter and nrOf... under its variables
        self._variables = {**builtins, **task.data} if builtins else task.data
        self._set: dict[str, Any] = {}
        self._removed: set[str] = set()
        self.processBusinessKey = self.businessKey = business_key_of(task, engine.business_key)
        self.processInstanceId = self.id = engine.instance_id
        self.processDefinitionId = engine.definition_id
        self.currentActivityId = getattr(task.task_spec, "bpmn_id", None)
        self.currentActivityName = getattr(task.task_spec, "bpmn_name", None)

    def getVariable(self, name: str) -> Any:  # noqa: N802 - Camunda's names
        if name in self._set:
            return self._set[name]
        return None if name in self._removed else self._variables.get(name)

    def hasVariable(self, name: str) -> bool:  # noqa: N802
        return name in self._set or (name not in self._removed and name in self._variables)

    def getVariables(self) -> dict[str, Any]:  # noqa: N802
        found = {name: value for name, value in self._variables.items()
                 if name not in self._removed and not name.startswith("_")}
        found.update(self._set)
        return found

    def setVariable(self, name: str, value: Any) -> None:  # noqa: N802
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"execution.setVariable: {name!r} is not a variable name")
        if not is_data(value) or isinstance(value, ScriptExecution):
            raise TypeError(f"execution.setVariable('{name}'): a {type(value).__name__} is not a variable value")
        self._set[name] = value
        self._removed.discard(name)

    def setVariables(self, values: dict[str, Any]) -> None:  # noqa: N802
        for name, value in dict(values).items():
            self.setVariable(name, value)

    def removeVariable(self, name: str) -> None:  # noqa: N802
        self._set.pop(name, None)
        self._removed.add(name)

    def getProcessBusinessKey(self) -> str | None:  # noqa: N802
        return self.processBusinessKey

    getBusinessKey = getProcessBusinessKey

    def getProcessInstanceId(self) -> str | None:  # noqa: N802
        return self.processInstanceId

    getId = getProcessInstanceId

    def getProcessDefinitionId(self) -> str | None:  # noqa: N802
        return self.processDefinitionId

    def getCurrentActivityId(self) -> str | None:  # noqa: N802
        return self.currentActivityId

    def getCurrentActivityName(self) -> str | None:  # noqa: N802
        return self.currentActivityName

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"execution.{name} is not available in a Stageflow script: it has getVariable, "
                             "setVariable, setVariables, hasVariable, removeVariable, getVariables and the "
                             "instance's processBusinessKey, processInstanceId, processDefinitionId, "
                             "currentActivityId and currentActivityName")

    def apply(self, context: dict[str, Any]) -> None:
        """Write what the script set and removed through it into `context`, the script's variables after it ran."""
        for name, value in context.items():
            if value is self:
                raise ScriptFailure(f"TypeError: '{name}' holds the execution object, which is not a variable value")
        for name in self._removed:
            context.pop(name, None)
        context.update(self._set)


def _line_of(script: str, line: int | None) -> str:
    if not line:
        return ""
    lines = script.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""
