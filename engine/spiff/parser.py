"""Build SpiffWorkflow specs from documents the dialect has checked and rewritten."""

from __future__ import annotations

import re
from collections.abc import Iterable
from copy import copy, deepcopy
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, full_tag
from SpiffWorkflow.bpmn.parser.event_parsers import (
    CANCEL_EVENT_XPATH,
    CONDITIONAL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
    TIMER_EVENT_XPATH,
    EndEventParser,
    StartEventParser,
)
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_task_spec import BpmnTaskSpec
from SpiffWorkflow.bpmn.specs.control import BoundaryEventJoin, SimpleBpmnTask
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.defaults import CallActivity, EndEvent, ScriptTask, ServiceTask, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import CodeEventDefinition, SignalEventDefinition
from SpiffWorkflow.bpmn.specs.mixins import BpmnSpecMixin
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask, MultiInstanceTask, ParallelMultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import (
    BusinessRuleTaskParser,
    CallActivityParser,
    CamundaTaskParser,
    ScriptTaskParser,
)
from SpiffWorkflow.camunda.specs import multiinstance_task as camunda_multi_instance
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from ..dialect import CAMUNDA_NS, DYNAMIC_CALL_PREFIX, ElementInfo, Mapping
from ..dmn import Decision, DecisionError, DecisionTrace
from ..errors import DefinitionError, ScriptRejected
from ..expressions import BUSINESS_KEY_VARIABLE, expression_failure, is_expression, text_to_python
from ..sandbox import ScriptFailure
from . import compensation
from .scripting import CALLED_BUSINESS_KEY, HELPERS, business_key_of, instance_positions, multi_instance_variables
from .tree import callers, find_task


class StageflowCallActivity(CallActivity):
    """A call activity that passes variables as Camunda does: only what `camunda:in`/`camunda:out` map.

    `in_mappings`/`out_mappings` are set from the dialect's `ElementInfo` after parsing.
    """

    in_mappings: list[Mapping] = []
    out_mappings: list[Mapping] = []
    called_expression: str | None = None  # `calledElement="${...}"`: the key is chosen as the activity starts
    sf_called_process = True  # a separate process (embedded subprocesses are SpiffWorkflow CallActivity too)

    def start_workflow(self, my_task):  # type: ignore[no-untyped-def]
        if self.called_expression is not None:
            _bind_called_process(self, my_task)
        super().start_workflow(my_task)

    def copy_data(self, my_task, subworkflow):  # type: ignore[no-untyped-def]
        start = subworkflow.get_next_task(subworkflow.task_tree, skip_subprocesses=True, spec_name="Start")
        # what the call activity's execution sees: with a multi-instance instance's loopCounter and nrOf...
        seen = {**multi_instance_variables(my_task), **my_task.data}
        start.set_data(**_mapped(my_task, seen, self.in_mappings))
        # The called process's business key: what `camunda:in businessKey="..."` gives, else none (Camunda's
        # called instance has a key of its own, not its caller's), read by `scripting.business_key_of`.
        key_source = next((m.business_key for m in self.in_mappings if m.business_key), None)
        key = my_task.workflow.script_engine.evaluate(my_task, key_source) if key_source else None
        my_task.internal_data[CALLED_BUSINESS_KEY] = None if key is None else str(key)

    def update_data(self, my_task, subworkflow):  # type: ignore[no-untyped-def]
        child = subworkflow.last_task.data if subworkflow.last_task is not None else {}
        data = deepcopy(my_task.data)
        last = subworkflow.last_task
        data.update(_mapped(my_task, child, [m for m in self.out_mappings if not m.local], source_task=last))
        local = _mapped(my_task, child, [m for m in self.out_mappings if m.local], source_task=last)
        if local:  # `camunda:out local="true"`: the call activity's own variables, gone once it completes
            my_task.internal_data[OUT_LOCALS] = {"names": list(local),
                                                 "hidden": {name: data[name] for name in local if name in data}}
            data.update(local)
        my_task.data = data


OUT_LOCALS = "sf_out_locals"  # a call activity's `camunda:out local="true"` variables, and what they hide
CALLED = "sf_called"  # a dynamic call activity's task: [its placeholder spec name, the process key it called]


def _bind_called_process(spec: StageflowCallActivity, my_task: Any) -> None:
    """Evaluate a call activity's calledElement expression and bind its placeholder (`spec.spec`) to the process
    of that key in this workflow's own copy of the called specs (every process deployed with the caller is there).

    One binding per call activity and instance at a time: instances of a multi-instance call activity running
    at once must call the same process.
    """
    engine = my_task.workflow.script_engine
    key = engine.evaluate(my_task, spec.called_expression)
    top = my_task.workflow.top_workflow
    target = top.subprocess_specs.get(key) if isinstance(key, str) and not key.startswith(DYNAMIC_CALL_PREFIX) \
        else None
    if target is None:
        known = sorted(k for k in top.subprocess_specs if not k.startswith(DYNAMIC_CALL_PREFIX))
        raise WorkflowTaskException(
            f"calledElement gave {key!r}, which is no process deployed with this one (a calledElement expression can "
            f"call {', '.join(known) or 'none'}: deploy the process to call together with the caller)", task=my_task)
    bound = top.subprocess_specs.get(spec.spec)
    if bound is not None and bound is not target and any(
            sub.spec is bound and _spec_of_parent(top, sub) is spec for sub in top.subprocesses.values()):
        raise WorkflowTaskException(f"calledElement gave '{key}' while another instance of this call activity still "
                                    f"runs '{bound.name}': its instances running at once must call one process",
                                    task=my_task)
    top.subprocess_specs = {**top.subprocess_specs, spec.spec: target}  # this workflow's own copy
    my_task.internal_data[CALLED] = [spec.spec, key]


def _spec_of_parent(top: Any, sub: Any) -> Any:
    try:
        return top.get_task_from_id(sub.parent_task_id).task_spec
    except Exception:  # noqa: BLE001 - a subprocess whose task is gone binds nothing
        return None


def called_specs(subprocess_specs: dict[str, Any], runtime: dict[str, Any]) -> dict[str, Any]:
    """The called specs to restore a saved `runtime` with: `subprocess_specs`, and each dynamic call activity's
    placeholder bound again to the process its running instance called (see `_bind_called_process`)."""
    bound: dict[str, Any] = {}
    subprocesses = runtime.get("subprocesses", {}).values()
    for tasks in (runtime.get("tasks", {}), *(sub.get("tasks", {}) for sub in subprocesses)):
        for task in tasks.values():
            called = (task.get("internal_data") or {}).get(CALLED)
            if called and called[1] in subprocess_specs:
                bound[called[0]] = subprocess_specs[called[1]]
    return {**subprocess_specs, **bound} if bound else subprocess_specs


def _mapped(my_task, source: dict, mappings: list[Mapping], source_task=None) -> dict:  # type: ignore[no-untyped-def]
    """The variables that `mappings` carry from `source`; expressions are evaluated in the source's scope.

    A `local="true"` mapping into the called process (no `source_task`) reads only the call activity's local
    variables (its input parameters), as Camunda does: an expression naming another variable fails.
    """
    out: dict = {}
    engine = my_task.workflow.script_engine
    locals_ = my_task.internal_data.get("sf_io_locals") or {}
    for mapping in mappings:
        inward_local = mapping.local and source_task is None
        values = locals_ if inward_local else source
        if mapping.all_variables:
            out.update(deepcopy(values))
        elif mapping.target is not None:
            if mapping.source_expression is not None and inward_local:
                out[mapping.target] = _evaluate_over(my_task, mapping.source_expression, locals_)
            elif mapping.source_expression is not None:
                scope = source_task if source_task is not None else my_task
                out[mapping.target] = engine.evaluate(scope, mapping.source_expression)
            elif mapping.source is not None:
                out[mapping.target] = deepcopy(values.get(mapping.source))
    return out


def _throw_signal(self: SignalEventDefinition, my_task: Any) -> None:
    """`SignalEventDefinition.throw`, carrying only what the throw event's `camunda:in` map (`variables="all"`, or
    source and target), as Camunda's signal payload: SpiffWorkflow sent the thrower's whole data, so that every
    variable of one instance reached every instance a signal started or woke."""
    mappings = getattr(my_task.task_spec, "sf_signal_in", None) or []
    seen = {**multi_instance_variables(my_task), **my_task.data}
    my_task.workflow.top_workflow.catch(BpmnEvent(self, payload=_mapped(my_task, seen, mappings)))


SignalEventDefinition.throw = _throw_signal  # type: ignore[method-assign]


def _evaluate_over(my_task: Any, source: str, variables: dict[str, Any]) -> Any:
    """Evaluate `source` over `variables` only (not the task's other data)."""
    engine = my_task.workflow.script_engine
    try:
        key = business_key_of(my_task, engine.business_key)
        return engine.sandbox.evaluate(source, {**HELPERS, BUSINESS_KEY_VARIABLE: key, **variables})
    except (ScriptFailure, ScriptRejected) as err:
        raise WorkflowTaskException(expression_failure(source, err), task=my_task, exception=err)


class ExternalTaskSpec(ServiceTask):
    """A service task done by an external worker: it waits (READY, manual) until the worker completes it."""

    def __init__(self, wf_spec, bpmn_id, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = True

    def _run_hook(self, my_task) -> bool:  # type: ignore[no-untyped-def]
        return True  # the worker's completion is the run: done (a plain ServiceTask would stay STARTED)


class ExpressionTaskSpec(ServiceTask):
    """A service or send task with a `camunda:expression` (its Python source, from the dialect): evaluated when the
    task runs, its value kept in `camunda:resultVariable` when one is named, as Camunda's expression behaviour does."""

    def __init__(self, wf_spec, bpmn_id, expression, result_variable=None, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.sf_expression = expression
        self.sf_result_variable = result_variable

    def _run_hook(self, my_task) -> bool:  # type: ignore[no-untyped-def]
        value = my_task.workflow.script_engine.evaluate(my_task, self.sf_expression)
        if self.sf_result_variable:
            my_task.data[self.sf_result_variable] = value
        return True


def _is_external(node: etree._Element) -> bool:
    return node.get(f"{{{CAMUNDA_NS}}}type") == "external"


MAILS = "sf_mails"  # attribute of a top workflow: the letters its mail tasks wrote since the last save


class MailTaskSpec(ServiceTask):
    """A mail task (`camunda:type="mail"`), as Camunda 7 runs it: its fields, evaluated over the task's variables,
    make a letter that the engine writes to its outbox with the step that completes the task (`take_mails`); the
    outbox's mailer sends it. `fields` (name -> Python source) is set after parsing."""

    fields: dict[str, str] = {}

    def _run_hook(self, my_task) -> bool:  # type: ignore[no-untyped-def]
        engine = my_task.workflow.script_engine
        values = {name: engine.evaluate(my_task, source) for name, source in self.fields.items()}
        letter = {"element_id": self.bpmn_id, "subject": _text(values.get("subject")),
                  "text": _text(values.get("text")) if values.get("text") is not None else None,
                  "html": _text(values.get("html")) if values.get("html") is not None else None,
                  "sender": _text(values.get("from")) or None}
        for name in ("to", "cc", "bcc"):
            addresses = _addresses(values.get(name))
            bad = next((a for a in addresses if not _MAIL_ADDRESS.match(a)), None)
            if bad is not None or (name == "to" and not addresses):
                raise WorkflowTaskException(f"mail task field '{name}': {bad or values.get(name)!r} is not an e-mail "
                                            "address", task=my_task)
            letter[name] = ", ".join(addresses) or None
        if len(letter["to"]) > 255:  # the outbox's recipient column
            raise WorkflowTaskException("mail task field 'to': the recipients take more than 255 characters; put "
                                        "the others in 'cc' or 'bcc'", task=my_task)
        if letter["sender"] is not None and not _MAIL_ADDRESS.match(letter["sender"]):
            raise WorkflowTaskException(f"mail task field 'from': {letter['sender']!r} is not an e-mail address",
                                        task=my_task)
        _keep(my_task.workflow.top_workflow, MAILS, letter)
        return True


_MAIL_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$|^[^<>]*<[^@\s<>,;]+@[^@\s<>,;]+>$")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _addresses(value: Any) -> list[str]:
    """A mail field's recipients: a comma-separated text (as Camunda splits it) or a list."""
    items = value if isinstance(value, (list, tuple)) else _text(value).split(",")
    return [text for item in items if (text := _text(item))]


def _keep(workflow: Any, name: str, item: Any) -> None:
    """Append `item` to the list attribute `name` of a workflow (made on first use)."""
    items = getattr(workflow, name, None)
    if items is None:
        items = []
        setattr(workflow, name, items)
    items.append(item)


def _take(workflow: Any, name: str) -> list[Any]:
    """What `_keep` kept under `name`, then forgotten. Read by attribute, never through `__dict__`: reading that
    would give the workflow a dictionary of its own, slower for every attribute read afterwards (every save asks)."""
    items = getattr(workflow, name, None)
    if not items:
        return []
    delattr(workflow, name)
    return items


def take_mails(workflow: Any) -> list[dict[str, Any]]:
    """The letters the mail tasks of `workflow` wrote since the last call (then forgotten)."""
    return _take(workflow, MAILS)


DECISIONS = "sf_decisions"  # attribute of a top workflow: the decisions its business rule tasks evaluated


@dataclass
class Evaluation:
    """A business rule task's evaluation of its decision: the task, and what each decision evaluated saw and
    gave (required decisions first, the task's own last)."""

    element_id: str
    task_id: str
    trace: list[DecisionTrace]


def take_decisions(workflow: Any) -> list[Evaluation]:
    """The evaluations of the business rule tasks of `workflow` since the last call (then forgotten)."""
    return _take(workflow, DECISIONS)


class _ServiceTaskParser(CamundaTaskParser):
    def create_task(self):  # type: ignore[no-untyped-def]
        if self.node.get(f"{{{CAMUNDA_NS}}}type") == "mail":
            return MailTaskSpec(self.spec, self.bpmn_id, **self.bpmn_attributes)
        expression = self.node.get(f"{{{CAMUNDA_NS}}}expression")
        if expression:  # Python source: the dialect translated it (and refused one calling Java code)
            result = (self.node.get(f"{{{CAMUNDA_NS}}}resultVariable") or "").strip() or None
            return ExpressionTaskSpec(self.spec, self.bpmn_id, expression, result, **self.bpmn_attributes)
        cls = ExternalTaskSpec if _is_external(self.node) else self.spec_class
        return cls(self.spec, self.bpmn_id, **self.bpmn_attributes)


class DecisionTaskSpec(ServiceTask):
    """A business rule task evaluated by Stageflow's DMN engine (`engine.dmn`), as Camunda 7 does.

    The decision result is stored only when `camunda:resultVariable` is set, mapped per
    `camunda:mapDecisionResult` (default `resultList`). `decision`, `decisions`, `result_variable` and
    `map_result` are set after parsing.
    """

    decision: Decision | None = None  # the version deployed with the process (`decisionRefBinding="deployment"`)
    decisions: dict[str, Decision] = {}
    decision_key: str = ""
    binding: str = "latest"  # camunda:decisionRefBinding: latest, deployment, version, versionTag
    binding_value: str | None = None  # camunda:decisionRefVersion or camunda:decisionRefVersionTag
    key_source: str | None = None  # a decisionRef expression, as Python: the key is what it gives when the task runs
    value_source: str | None = None  # the same for decisionRefVersion or decisionRefVersionTag
    result_variable: str | None = None
    map_result: str = "resultList"

    def _bound(self, my_task):  # type: ignore[no-untyped-def]
        """The decision to evaluate, as Camunda binds `decisionRef` when the task runs: the latest version by
        default, the one deployed with the process, a numbered version or the newest with a version tag (the
        engine's resolver, set on the script engine; without one, the version deployed with the process)."""
        engine = my_task.workflow.script_engine
        key = self.decision_key if self.key_source is None else engine.evaluate(my_task, self.key_source)
        value = self.binding_value if self.value_source is None else engine.evaluate(my_task, self.value_source)
        resolve = getattr(engine, "resolve_decision", None)
        if resolve is None or self.binding == "deployment":
            if self.decision is None:  # (no engine to read deployed decisions from)
                found = self.decisions.get(str(key))
                if found is None:
                    raise DecisionError(f"no decision '{key}' is deployed", decision_id=str(key))
                return found, self.decisions
            return self.decision, self.decisions
        return resolve(str(key), self.binding, None if value is None else str(value))

    def _run_hook(self, my_task):  # type: ignore[no-untyped-def]
        sandbox = my_task.workflow.script_engine.sandbox
        try:
            decision, decisions = self._bound(my_task)
            trace: list[DecisionTrace] = []
            result = decision.evaluate(dict(my_task.data), sandbox, decisions, trace)
            if self.result_variable:
                my_task.data[self.result_variable] = result.map_result(self.map_result)
        except DecisionError as err:
            raise WorkflowTaskException(err.reason, task=my_task)
        evaluation = Evaluation(self.bpmn_id, str(my_task.id), trace)
        _keep(my_task.workflow.top_workflow, DECISIONS, evaluation)
        return True


class _BusinessRuleTaskParser(BusinessRuleTaskParser):
    def create_task(self):  # type: ignore[no-untyped-def]
        if _is_external(self.node):
            return ExternalTaskSpec(self.spec, self.bpmn_id, **self.bpmn_attributes)
        spec = DecisionTaskSpec(self.spec, self.bpmn_id, **self.bpmn_attributes)
        spec.binding = self.node.get(f"{{{CAMUNDA_NS}}}decisionRefBinding") or "latest"
        spec.binding_value = (self.node.get(f"{{{CAMUNDA_NS}}}decisionRefVersion")
                              or self.node.get(f"{{{CAMUNDA_NS}}}decisionRefVersionTag"))  # checked by the dialect
        return spec

    @staticmethod
    def get_decision_ref(node):  # type: ignore[no-untyped-def]
        # SpiffWorkflow reads this for every business rule task of a document it is given (to list DMN
        # dependencies) as `node.attrib[...]`: a KeyError for an external one, which has no decisionRef.
        return node.get(f"{{{CAMUNDA_NS}}}decisionRef")


# -- multi-instance: the variables an instance hands on ------------------------------------------------------------
MI_BUILTINS = frozenset({"loopCounter", "nrOfInstances", "nrOfActiveInstances", "nrOfCompletedInstances"})


def multi_instance_parent(task: Any) -> Any:
    """The multi-instance task `task` is one instance of (None when it is none)."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, MultiInstanceTask) \
            or parent.task_spec.task_spec != task.task_spec.name:
        return None
    return parent


def _kept_by_instance(parent: Any, task: Any) -> set[str]:
    """The names an instance keeps to itself: the activity's element variable, Camunda's loop counters, the
    instance's own input parameters (`camunda:inputParameter`) and a call activity's `camunda:out local="true"`
    variables. (The collection is a process variable: an instance may replace it, as in Camunda, where a
    sequential activity takes each next item from the collection as it is then.)"""
    spec = parent.task_spec
    own = {ref.bpmn_id for ref in (spec.input_item, spec.output_item) if ref is not None}
    if not getattr(spec, "sf_collection", False):  # a cardinality activity's output collection, SpiffWorkflow's
        own |= {ref.bpmn_id for ref in (spec.data_input, spec.data_output) if ref is not None}
    out_locals = (task.internal_data.get(OUT_LOCALS) or {}).get("names") or ()
    return own | MI_BUILTINS | set(task.internal_data.get("sf_io_locals") or ()) | set(out_locals)


def hand_to_multi_instance(task: Any, variables: dict[str, Any]) -> None:
    """Make `variables`, written by one instance of a multi-instance activity, process variables: the activity
    holds them (the last write of a name wins) and hands them on when it is done, as Camunda 7 does. SpiffWorkflow
    keeps only the instance's element variable (written back into the collection) and drops the rest of its data.
    The names the instance keeps to itself (`_kept_by_instance`) stay with it."""
    parent = multi_instance_parent(task) if variables else None
    if parent is None:
        return
    kept = _kept_by_instance(parent, task)
    parent.data.update({name: value for name, value in variables.items() if name not in kept})


class StageflowScriptTask(ScriptTask):
    """A script task. As one instance of a multi-instance activity its script reads and writes process variables,
    as Camunda 7 runs it (`execution.setVariable` of a variable that is not local sets it on the process): it
    starts from the variables as the instances before it left them (a parallel activity's instances run one after
    the other, as Camunda runs them without asynchronous continuations), and what it assigns is handed to the
    activity when it completes (`hand_to_multi_instance`). The element variable and the loop counters are the
    instance's own: assigning the element variable neither leaks it nor changes the collection. Deleting a
    variable (`del x`) does nothing outside the instance."""

    def _execute(self, task):  # type: ignore[no-untyped-def]
        parent = multi_instance_parent(task)
        if parent is None:
            return super()._execute(task)
        kept = _kept_by_instance(parent, task)
        # Containers are copied so that the script's in-place changes show as changes (and stay its own until then);
        # not the collection, which is Camunda's one object (and costs a copy per instance of a large activity).
        collection = parent.task_spec.data_input.bpmn_id if parent.task_spec.data_input is not None else None
        task.data.update({name: copy(value) if isinstance(value, (list, dict, set)) and name != collection else value
                          for name, value in parent.data.items() if name not in kept})
        item_name = parent.task_spec.output_item.bpmn_id if parent.task_spec.output_item is not None else None
        item = task.data.get(item_name, _ABSENT) if item_name is not None else _ABSENT
        result = super()._execute(task)
        if item is not _ABSENT and task.data.get(item_name, _ABSENT) is not item:
            task.data[item_name] = item  # SpiffWorkflow would write the new value into the collection
        before = parent.data
        hand_to_multi_instance(task, {name: value for name, value in task.data.items()
                                      if name not in before or (before[name] is not value and before[name] != value)})
        return result


_ABSENT = object()


class _ScriptTaskParser(CamundaTaskParser, ScriptTaskParser):
    """SpiffWorkflow's script task parser (which reads only BPMN's own multi-instance form) with the Camunda
    parser's multi-instance: `camunda:collection` and `camunda:elementVariable`."""


def _prepare_loops(process_spec: Any) -> None:
    """Set up each loop and multi-instance activity of `process_spec` as SpiffWorkflow does only once it runs one,
    in the process that runs it: an instance created before a restart or by another worker process and completed
    after it would otherwise not be counted (the activity waited for ever, with nothing left to do), and a
    `camunda:collection` activity would take its collection for a list to append to (a sequential one ended
    after that instance, a parallel one added the item to the collection again).
    """
    for task_spec in process_spec.task_specs.values():
        if not isinstance(task_spec, LoopTask):
            continue
        instance = process_spec.task_specs.get(task_spec.task_spec)
        if instance is not None and not instance.completed_event.is_connected(task_spec.merge_child):
            instance.completed_event.connect(task_spec.merge_child)
        if not isinstance(task_spec, _CAMUNDA_MULTI_INSTANCE):
            continue
        # What SpiffWorkflow's Camunda multi-instance sets on its spec as it starts (`update_task_spec`), but for
        # a camunda:collection, without the output: Camunda 7 never writes an instance's element variable back
        # into the collection (SpiffWorkflow did, in place, so a task completed with `item=X` changed `items`).
        if task_spec.output_item is not None:
            task_spec.input_item = TaskDataReference(task_spec.output_item.bpmn_id)
        if task_spec.cardinality is None and task_spec.data_output is not None:
            task_spec.data_input = TaskDataReference(task_spec.data_output.bpmn_id)
            task_spec.data_output = task_spec.output_item = None
            task_spec.sf_collection = True


def _install_collection_loops() -> None:
    """A camunda:collection activity, prepared without an output (`_prepare_loops`): SpiffWorkflow's Camunda
    multi-instance no longer sets its data references again from that output each time it starts, and an instance
    that completes merges nothing into the activity (what it hands on goes through `hand_to_multi_instance`, as it
    did when SpiffWorkflow wrote only the element variable back)."""
    update = camunda_multi_instance.update_task_spec
    if getattr(update, "sf_collection", False):
        return
    merge_child = MultiInstanceTask.merge_child

    def update_task_spec(my_task):  # type: ignore[no-untyped-def]
        spec = my_task.task_spec
        if not getattr(spec, "sf_collection", False):
            return update(my_task)
        if my_task.state != TaskState.WAITING:
            BpmnSpecMixin._update_hook(spec, my_task)
            my_task._set_state(TaskState.WAITING)
        return None

    def collection_merge_child(self, workflow, child):  # type: ignore[no-untyped-def]
        if getattr(self, "sf_collection", False):
            child.parent.internal_data["merged"].append(str(child.id))  # what SpiffWorkflow counts completions by
        else:
            merge_child(self, workflow, child)

    update_task_spec.sf_collection = True  # type: ignore[attr-defined]
    camunda_multi_instance.update_task_spec = update_task_spec
    MultiInstanceTask.merge_child = collection_merge_child  # type: ignore[method-assign]


_install_collection_loops()


_CAMUNDA_MULTI_INSTANCE = (camunda_multi_instance.SequentialMultiInstanceTask,
                           camunda_multi_instance.ParallelMultiInstanceTask)


def _install_multi_instance_checks() -> None:
    """Make two of SpiffWorkflow's checks, run as each instance of a multi-instance activity completes, cost the
    same whatever the number of instances (each read all of them: a parallel activity of script tasks over
    5,000 items took seconds in these checks alone)."""
    if getattr(ParallelMultiInstanceTask.children_complete, "sf_fast", False):
        return
    children_complete = ParallelMultiInstanceTask.children_complete
    check_completion_condition = MultiInstanceTask.check_completion_condition

    def fast_children_complete(self, my_task):  # type: ignore[no-untyped-def]
        # An instance completes through `merge_child`, which lists it in `merged`: while fewer are listed than
        # there are instances, one has not completed. Otherwise SpiffWorkflow reads their states.
        if len(my_task.internal_data.get("merged", [])) < len(instance_positions(my_task)):
            return False
        return children_complete(self, my_task)

    def fast_check_completion_condition(self, my_task):  # type: ignore[no-untyped-def]
        # SpiffWorkflow finds the last merged instance by comparing the text of every child's id with it.
        merged = my_task.internal_data.get("merged", [])
        last = my_task.workflow.tasks.get(UUID(merged[-1])) if merged and self.condition is not None else None
        if last is None or last.parent is not my_task:
            return check_completion_condition(self, my_task)
        return my_task.workflow.script_engine.evaluate(last, self.condition)

    fast_children_complete.sf_fast = True  # type: ignore[attr-defined]
    ParallelMultiInstanceTask.children_complete = fast_children_complete  # type: ignore[method-assign]
    MultiInstanceTask.check_completion_condition = fast_check_completion_condition  # type: ignore[method-assign]


_install_multi_instance_checks()


def _install_multi_instance_collection_check() -> None:
    """A multi-instance activity's collection must be a list, as Camunda 7's must be a Java `Collection`: checked
    before any instance is made (SpiffWorkflow ran over a text's characters and a map's values)."""
    from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import SequentialMultiInstanceTask

    for cls in (SequentialMultiInstanceTask, ParallelMultiInstanceTask):
        hook = cls._update_hook
        if getattr(hook, "sf_checked", False):
            continue

        def checked(self, my_task, hook=hook):  # type: ignore[no-untyped-def]
            if self.data_input is not None and self.data_input.exists(my_task):
                value = self.data_input.get(my_task)
                if not isinstance(value, (list, tuple, set, frozenset)):
                    kind = (f"a String ('{value[:40]}{'...' if len(value) > 40 else ''}')" if isinstance(value, str)
                            else "a map" if isinstance(value, dict) else f"a {type(value).__name__}")
                    raise WorkflowTaskException(
                        f"the multi-instance collection '{self.data_input.bpmn_id}' is {kind}: it must be a list",
                        task=my_task)
            return hook(self, my_task)

        checked.sf_checked = True  # type: ignore[attr-defined]
        cls._update_hook = checked  # type: ignore[method-assign]


_install_multi_instance_collection_check()

MI_HIDDEN = "sf_mi_hidden"  # an instance's process values its element variable hides: {name: value}


def element_variables(mi_task: Any) -> list[str]:
    """The names a multi-instance activity gives each instance as its own item (`inputDataItem`,
    `camunda:elementVariable`)."""
    spec = mi_task.task_spec
    return list(dict.fromkeys(ref.bpmn_id for ref in (spec.input_item, spec.output_item) if ref is not None))


def _install_local_element_variable() -> None:
    """A multi-instance activity's element variable (`inputDataItem`, `camunda:elementVariable`) is each instance's
    own, as in Camunda: a process variable of the same name no longer stops the activity ("Multiinstance input item
    ... already exists"), the instance sees its own item, and the process variable is the instance's again once
    the activity is done. The instance keeps what the element variable hides (`MI_HIDDEN`), so that the instance's
    variables (`runtime._outer_view`) show the process variable, not the item."""
    create_child = MultiInstanceTask.create_child
    if getattr(create_child, "sf_local", False):
        return

    def local_create_child(self, my_task, item, key_or_index=None):  # type: ignore[no-untyped-def]
        outer = {name: my_task.data.pop(name) for name in element_variables(my_task) if name in my_task.data}
        known = len(my_task._children)
        try:
            create_child(self, my_task, item, key_or_index)
        finally:
            my_task.data.update(outer)
        for child_id in my_task._children[known:]:  # the one just added (SpiffWorkflow appends it)
            child = my_task.workflow.tasks.get(child_id)
            if child is not None:
                child.internal_data[MI_HIDDEN] = deepcopy(outer)

    local_create_child.sf_local = True  # type: ignore[attr-defined]
    MultiInstanceTask.create_child = local_create_child  # type: ignore[method-assign]


_install_local_element_variable()


def _install_subprocess_hand_over() -> None:
    """Hand what an instance of a multi-instance subprocess or call activity changed (its `camunda:out` variables,
    the variables its scripts assign) to the activity as it completes, as for a script task instance
    (`hand_to_multi_instance`): SpiffWorkflow kept only the element variable. Its instances start together, each
    from the variables as they were when the activity started (a parallel one's do not see each other's writes)."""
    completed = SubWorkflowTask._on_subworkflow_completed
    if getattr(completed, "sf_multi_instance", False):
        return

    def _on_subworkflow_completed(self, subworkflow, my_task):  # type: ignore[no-untyped-def]
        parent = multi_instance_parent(my_task)
        before = dict(my_task.data) if parent is not None else {}
        completed(self, subworkflow, my_task)
        if parent is not None:
            hand_to_multi_instance(my_task, {name: value for name, value in my_task.data.items()
                                             if name not in before or before[name] != value})

    _on_subworkflow_completed.sf_multi_instance = True  # type: ignore[attr-defined]
    SubWorkflowTask._on_subworkflow_completed = _on_subworkflow_completed  # type: ignore[method-assign]


_install_subprocess_hand_over()


class _DataObjectsAtAnyDepth:
    """Mixed into every task parser: find a data object in any enclosing (sub)process.

    SpiffWorkflow 3.2.0 looks in the task's own process, then in its parent, and then loops forever on that
    parent (it never moves past it) when the object is defined two or more levels up: a deploy that never
    returns. Running instances already look data objects up through every level.
    """

    process_parser: object

    def _resolve_data_object_ref(self, ref):  # type: ignore[no-untyped-def]
        if ref is None:
            return None
        current = self.process_parser
        while current is not None:
            found = current.spec.data_objects.get(ref.get("dataObjectRef"))
            if found is not None:
                return found
            current = current.parent
        return None


def _at_any_depth(parser_class: type) -> type:
    return type(parser_class.__name__, (_DataObjectsAtAnyDepth, parser_class), {})


class _StartEventParser(StartEventParser):
    """SpiffWorkflow's start event parser, which also reads the error and escalation start events of event
    subprocesses: SpiffWorkflow 3.2 takes them for none start events, so that such an event subprocess started
    with its scope, though nothing was thrown."""

    def create_task(self):  # type: ignore[no-untyped-def]
        event_definition = self.get_event_definition(
            [MESSAGE_EVENT_XPATH, SIGNAL_EVENT_XPATH, TIMER_EVENT_XPATH, CONDITIONAL_EVENT_XPATH, ERROR_EVENT_XPATH,
             ESCALATION_EVENT_XPATH])
        task = self._create_task(event_definition)
        self.spec.start.connect(task)
        return task


class _EndEventParser(EndEventParser):
    """SpiffWorkflow's end event parser, which also reads a signal end event: SpiffWorkflow 3.2 takes it for a none
    end event, so that it threw nothing (Camunda 7 broadcasts the signal as the intermediate throw event does)."""

    def create_task(self):  # type: ignore[no-untyped-def]
        event_definition = self.get_event_definition(
            [MESSAGE_EVENT_XPATH, CANCEL_EVENT_XPATH, ERROR_EVENT_XPATH, ESCALATION_EVENT_XPATH,
             TERMINATION_EVENT_XPATH, SIGNAL_EVENT_XPATH])
        task = self._create_task(event_definition)
        task.connect(self.spec.end)
        return task


_EVENT_TAGS = {
    full_tag(tag)
    for tag in ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent")
}


class StageflowParser(CamundaParser):
    """SpiffWorkflow's Camunda parser with external tasks that wait for workers."""

    # Events use SpiffWorkflow's plain BPMN parsers: their message definition puts a message's payload into
    # the catching task's data (Camunda's behaviour), where the Camunda flavour hides it in a result variable.
    # Every parser class gets `_DataObjectsAtAnyDepth` (see there).
    OVERRIDE_PARSER_CLASSES = {
        tag: (_at_any_depth(parser), spec_class)
        for tag, (parser, spec_class) in {
            **BpmnParser.PARSER_CLASSES,
            **{tag: parser for tag, parser in CamundaParser.OVERRIDE_PARSER_CLASSES.items() if tag not in _EVENT_TAGS},
            full_tag("serviceTask"): (_ServiceTaskParser, ServiceTask),
            full_tag("sendTask"): (_ServiceTaskParser, ServiceTask),
            full_tag("businessRuleTask"): (_BusinessRuleTaskParser, BusinessRuleTask),
            full_tag("callActivity"): (CallActivityParser, StageflowCallActivity),
            full_tag("scriptTask"): (_ScriptTaskParser, StageflowScriptTask),
            full_tag("startEvent"): (_StartEventParser, StartEvent),
            full_tag("endEvent"): (_EndEventParser, EndEvent),
        }.items()
    }

    def get_subprocess_specs(self, name, specs=None, require_call_activity_specs=True):  # type: ignore[no-untyped-def]
        """SpiffWorkflow's, where a call activity whose calledElement is an expression (its spec names a
        placeholder) may call any process given to this parser: all of them are included."""
        used = {} if specs is None else specs
        for task_spec in self.get_spec(name).task_specs.values():
            if not isinstance(task_spec, SubWorkflowTask):
                continue
            dynamic = task_spec.spec.startswith(DYNAMIC_CALL_PREFIX)
            for called in (self.get_process_ids() if dynamic else [task_spec.spec]):
                if called not in used:
                    used[called] = self.get_spec(called, required=require_call_activity_specs)
                    if used[called] is not None:
                        self.get_subprocess_specs(called, used)
        return used


_ = TaskParser  # the base the parsers above extend; imported for readers following the chain


@dataclass
class CompiledProcess:
    """A runnable process: SpiffWorkflow specs plus Stageflow's per-element information."""

    key: str
    spec: object
    subprocess_specs: dict[str, object]
    elements: dict[tuple[str, str], ElementInfo] = field(default_factory=dict)

    def element(self, task_spec: object) -> ElementInfo | None:
        """The `ElementInfo` of a SpiffWorkflow task spec (None for Spiff's internal specs)."""
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        if bpmn_id is None:
            return None
        file = getattr(task_spec._wf_spec, "file", None)
        return self.elements.get((file, bpmn_id)) or self.elements.get((None, bpmn_id))

    def element_by_id(self, element_id: str) -> ElementInfo | None:
        """The `ElementInfo` of a diagram element by its id (the first file's, should two files share one)."""
        return next((info for info in self.elements.values() if info.element_id == element_id), None)

    def in_main_process(self, element_id: str) -> bool:
        """Whether an element is the process's own, outside its subprocesses and the processes it calls (whose
        elements see the variables of their own scope or called instance, not the process's)."""
        own = getattr(self, "_own_elements", None)  # (by attribute: reading `__dict__` would slow every later read)
        if own is None:
            own = frozenset(getattr(s, "bpmn_id", None) for s in self.spec.task_specs.values())  # type: ignore[attr-defined]
            self._own_elements = own
        return element_id in own

    def waiting_at(self, element_id: str) -> str:
        """Where an instance waiting for `element_id` is, as Camunda shows it: an event after an event-based
        gateway (its timer job, its subscription) waits at the gateway."""
        info = self.element_by_id(element_id)
        return info.event_gateway if info is not None and info.event_gateway else element_id


@dataclass
class Document:
    """A checked BPMN or DMN document, ready for SpiffWorkflow."""

    filename: str
    tree: etree._ElementTree
    is_dmn: bool
    elements: dict[str, ElementInfo] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)


def _link_triggered_subprocesses(process_spec: Any) -> None:
    """Give each message or signal event subprocess of `process_spec` its input (the start) and output (the end).

    SpiffWorkflow connects such a subprocess only when its event first fires (`BpmnStartTask.trigger_wf`), in the
    spec every instance of the definition shares. A run loaded in another process saw a spec with no input, and
    its task failed on completion ("No input task connected"); an instance started after a firing in the same
    process got the subprocess as a path of its start too (two subscriptions). Linked here, with the start's own
    outputs unchanged, `trigger_wf` finds it connected and changes nothing.
    """
    start, end = process_spec.start, process_spec.end
    for name in start.trigger_specs:
        task_spec = process_spec.task_specs[name]
        if start.name not in task_spec._inputs:  # (`inputs` is a list made of these names per read)
            task_spec._inputs.append(start.name)
        if end.name not in task_spec._outputs:
            task_spec.connect(end)


def compile_process(key: str, documents: list[Document]) -> CompiledProcess:
    """Parse `documents` with SpiffWorkflow and return the specs of process `key` and what it calls."""
    parser = StageflowParser()
    try:
        for doc in documents:
            if not doc.is_dmn:  # DMN is Stageflow's own (engine.dmn), not SpiffWorkflow's
                parser.add_bpmn_xml(doc.tree.getroot(), filename=doc.filename)
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as err:
        raise _definition_error(err, documents, key)
    except SpiffWorkflowException as err:
        file = getattr(err, "file_name", None) or documents[0].filename
        raise DefinitionError(str(err), file=file, element_id=key, line=_line_of(documents, file, key))
    except Exception as err:  # noqa: BLE001 - whatever SpiffWorkflow trips over must come out as a DefinitionError
        # The dialect checks what SpiffWorkflow dereferences without looking; this is the last resort.
        raise DefinitionError(
            f"SpiffWorkflow could not build process '{key}' from this file ({_describe(err)}); an element it "
            "uses is probably not supported",
            file=documents[0].filename,
            element_id=key,
            line=_line_of(documents, None, key),
        )
    missing = [name for name, sp in subprocess_specs.items() if sp is None]
    if missing:
        raise _called_missing(missing[0], documents)
    elements = {}
    for doc in documents:
        for element_id, info in doc.elements.items():
            elements[(doc.filename, element_id)] = info
    _restore_renamed_ids([spec, *subprocess_specs.values()], elements.values())
    _check_spiff_specs(spec, subprocess_specs, documents)
    compiled = CompiledProcess(key=key, spec=spec, subprocess_specs=subprocess_specs, elements=elements)
    decisions: dict[str, Decision] = {}
    for doc in documents:
        for decision_id, decision in doc.decisions.items():
            decisions.setdefault(decision_id, decision)
    for process_spec in [spec, *subprocess_specs.values()]:
        _link_triggered_subprocesses(process_spec)
        _try_conditions(process_spec)
        _prepare_loops(process_spec)
        for task_spec in list(process_spec.task_specs.values()):
            info = compiled.element(task_spec)
            if info is None:
                continue
            if info.hidden_for:  # errors and open elements name the diagram element it was added after
                task_spec.sf_stands_for = info.hidden_for
            if info.async_before and not task_spec.manual:
                # `camunda:asyncBefore`: SpiffWorkflow leaves manual tasks READY; a job runs it (see Run).
                task_spec.manual = True
                task_spec.sf_async = True
            if info.async_after:
                _insert_async_after(process_spec, task_spec)
            if info.compensable:
                task_spec.sf_compensable = info.element_id
            if info.compensates:
                task_spec.sf_compensates = info.compensates
            if info.compensating:
                task_spec.sf_compensating = info.compensating
            if info.triggered_by_event:  # compensation thrown inside it reaches the scope around it
                task_spec.sf_event_subprocess = True
            if not info.interrupting:  # an event subprocess's start event: its runs are branches (see runtime)
                task_spec.sf_non_interrupting = True
            if info.error_code_variable or info.escalation_code_variable:
                task_spec.sf_code_variable = info.error_code_variable or info.escalation_code_variable
            if info.error_message_variable:
                task_spec.sf_message_variable = info.error_message_variable
            definition = getattr(task_spec, "event_definition", None)
            if (info.condition_variable or info.condition_events) and isinstance(definition,
                                                                                 ConditionalEventDefinition):
                definition.sf_watch = (info.element_id, info.condition_variable, info.condition_events)
            if info.error_message is not None:  # the message an error end event throws, evaluated as it throws
                task_spec.sf_error_message = text_to_python(info.error_message, element_id=info.element_id)
            if (info.inputs or info.outputs) and not isinstance(task_spec, MultiInstanceTask):
                task_spec.sf_inputs = info.inputs  # each instance of a multi-instance activity has its own
                task_spec.sf_outputs = info.outputs
            if any(getattr(task_spec, name, None) for name in _COMPLETION_WORK):
                task_spec.sf_completion_work = True  # read by the completion hook instead of each of these
            if isinstance(task_spec, MailTaskSpec):
                task_spec.fields = info.mail or {}
            if isinstance(getattr(task_spec, "event_definition", None), SignalEventDefinition) and info.tag in (
                    "intermediateThrowEvent", "endEvent"):
                task_spec.sf_signal_in = info.in_mappings  # what its signal carries (see `_throw_signal`)
            if isinstance(task_spec, StageflowCallActivity):
                task_spec.in_mappings = info.in_mappings
                task_spec.out_mappings = info.out_mappings
                task_spec.called_expression = info.called_expression
            elif isinstance(task_spec, DecisionTaskSpec):
                task_spec.decision = decisions.get(info.decision_ref or "")
                if is_expression(info.decision_ref or ""):  # bound when the task runs (the dialect checked it)
                    task_spec.key_source = text_to_python(info.decision_ref or "")
                if task_spec.binding_value and is_expression(task_spec.binding_value):
                    task_spec.value_source = text_to_python(task_spec.binding_value)
                if task_spec.decision is None and task_spec.key_source is None:
                    raise DefinitionError(f"decisionRef '{info.decision_ref}' names no deployed decision",
                                          file=getattr(process_spec, "file", None), element_id=info.element_id,
                                          line=_line_of(documents, getattr(process_spec, "file", None),
                                                        info.element_id))
                task_spec.decisions = decisions
                task_spec.decision_key = info.decision_ref or ""
                task_spec.result_variable = info.result_variable
                task_spec.map_result = info.map_decision_result or "resultList"
    return compiled


# -- around every task: inputOutput, code variables, compensation bookkeeping ------------------------------------
def _apply_inputs(my_task: Any, inputs: list[tuple[str, str]]) -> None:
    """Give the task its input parameters as local variables (computed once, from the outer variables, when it
    becomes ready), remembering what they hide. SpiffWorkflow merges the parent's data in again on later updates
    of a waiting task, so the locals are set again each time."""
    local = my_task.internal_data.get("sf_io_locals")
    if local is None:
        engine = my_task.workflow.script_engine
        local = {name: engine.evaluate(my_task, source) for name, source in inputs}
        my_task.internal_data["sf_io_hidden"] = {name: my_task.data[name] for name in local if name in my_task.data}
        my_task.internal_data["sf_io_locals"] = local
    my_task.data.update(deepcopy(local))


def drop_io_locals(my_task: Any) -> None:
    """Drop a task's input parameters and what a worker set in its scope, giving back what they hid, without
    computing its output parameters (its path ends without it completing normally)."""
    _apply_outputs(my_task, getattr(my_task.task_spec, "sf_inputs", None) or [], [])


def _apply_outputs(my_task: Any, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> None:
    """When the task completes: compute the output parameters from its variables, drop its locals (what they
    hid comes back) and set the outputs outside."""
    engine = my_task.workflow.script_engine
    values = {name: engine.evaluate(my_task, source) for name, source in outputs}
    out_locals = my_task.internal_data.pop(OUT_LOCALS, None)
    if out_locals:  # first: what they hid may be an input parameter, itself dropped next
        for name in out_locals["names"]:
            if name in out_locals["hidden"]:
                my_task.data[name] = out_locals["hidden"][name]
            else:
                my_task.data.pop(name, None)
    hidden = my_task.internal_data.pop("sf_io_hidden", None) or {}
    my_task.internal_data.pop("sf_io_locals", None)
    for name, _ in inputs:
        if name in hidden:
            my_task.data[name] = hidden[name]
        else:
            my_task.data.pop(name, None)
    my_task.data.update(values)


def payload_across_calls(catcher: Any, event: Any) -> Any:
    """The variables a BPMN error or escalation brings to `catcher`. Thrown in a called process (at the task
    `event.sf_thrower`) and caught in a caller, they are what each call activity on the way gives with its
    `camunda:out` mappings, as when the called process ends (Camunda applies them on the error's way out); within
    one process, the thrower's variables as SpiffWorkflow passes them."""
    thrower_id = getattr(event, "sf_thrower", None)
    top = catcher.workflow.top_workflow
    thrower = find_task(top, thrower_id) if thrower_id is not None else None
    if thrower is None or thrower.workflow is catcher.workflow:
        return event.payload
    payload, source, workflow, crossed = {**thrower.data, **(event.payload or {})}, thrower, thrower.workflow, False
    for call in callers(workflow):
        if workflow is catcher.workflow:
            break
        if getattr(call.task_spec, "sf_called_process", False):
            mapped = _mapped(call, payload, [m for m in call.task_spec.out_mappings if not m.local], source_task=source)
            payload, crossed = {**call.data, **mapped}, True
        source, workflow = call, call.workflow
    return payload if crossed else event.payload


# what a spec's completion hook does beyond SpiffWorkflow's (set by the parser): a spec with none of these is
# marked without `sf_completion_work`, and its completions skip the hook's checks
_COMPLETION_WORK = ("sf_compensable", "sf_compensates", "sf_code_variable", "sf_message_variable", "sf_inputs",
                    "sf_outputs")


def _install_task_hooks() -> None:
    """Hook SpiffWorkflow's task specs once: `camunda:inputOutput` (`sf_inputs`, `sf_outputs`) right after a spec
    inherits its parent's data (before a subprocess copies it inward) and as it completes; the caught code in a
    catching event's `camunda:errorCodeVariable`/`escalationCodeVariable` (`sf_code_variable`); and the record of
    completions compensation reads (`sf_compensable`, `sf_compensates`: see `engine.spiff.compensation`)."""
    if getattr(BpmnTaskSpec._update_hook, "sf_io", False):
        return
    update, complete = BpmnTaskSpec._update_hook, BpmnTaskSpec._on_complete_hook

    def _update_hook(self, my_task):  # type: ignore[no-untyped-def]
        result = update(self, my_task)
        if getattr(self, "sf_inputs", None):
            _apply_inputs(my_task, self.sf_inputs)
        return result

    def _on_complete_hook(self, my_task):  # type: ignore[no-untyped-def]
        if not getattr(self, "sf_completion_work", False) and OUT_LOCALS not in my_task.internal_data:
            return complete(self, my_task)  # (most specs: none of what follows applies)
        if getattr(self, "sf_compensable", None) or getattr(self, "sf_compensates", None):
            compensation.on_complete(self, my_task)
        if getattr(self, "sf_code_variable", None) and "sf_caught_code" in my_task.internal_data:
            my_task.data[self.sf_code_variable] = my_task.internal_data["sf_caught_code"]
        if getattr(self, "sf_message_variable", None) and "sf_caught_message" in my_task.internal_data:
            my_task.data[self.sf_message_variable] = my_task.internal_data["sf_caught_message"]
        if getattr(self, "sf_inputs", None) or getattr(self, "sf_outputs", None) or OUT_LOCALS in my_task.internal_data:
            _apply_outputs(my_task, getattr(self, "sf_inputs", None) or [], getattr(self, "sf_outputs", None) or [])
        return complete(self, my_task)

    catch = CodeEventDefinition.catch

    def catch_code(self, my_task, event=None):  # type: ignore[no-untyped-def]
        # camunda:errorCodeVariable / escalationCodeVariable: the code thrown, which a catch-all event lacks
        my_task.internal_data["sf_caught_code"] = getattr(event.event_definition, "code", None) if event else None
        # camunda:errorMessageVariable: the thrown error's camunda:errorMessage (a worker's error brings its own);
        # null when it has none, as Camunda sets the variable all the same
        if event is not None:
            my_task.internal_data["sf_caught_message"] = getattr(event, "sf_error_message", None)
        if event is None:
            return catch(self, my_task, event)
        thrown, event.payload = event.payload, payload_across_calls(my_task, event)
        try:
            return catch(self, my_task, event)
        finally:
            event.payload = thrown

    def throw_code(self, my_task):  # type: ignore[no-untyped-def]
        # SpiffWorkflow's CodeEventDefinition.throw, with the error's camunda:errorMessage evaluated as it is thrown
        event = BpmnEvent(self, payload=deepcopy(my_task.data), target=my_task.workflow)
        event.sf_thrower = my_task.id
        message = getattr(my_task.task_spec, "sf_error_message", None)
        if message is not None:
            event.sf_error_message = my_task.workflow.script_engine.evaluate(my_task, message)
        my_task.workflow.top_workflow.catch(event)

    _update_hook.sf_io = True  # type: ignore[attr-defined]
    BpmnTaskSpec._update_hook = _update_hook  # type: ignore[method-assign]
    BpmnTaskSpec._on_complete_hook = _on_complete_hook  # type: ignore[method-assign]
    CodeEventDefinition.catch = catch_code  # type: ignore[method-assign]
    CodeEventDefinition.throw = throw_code  # type: ignore[method-assign]


_install_task_hooks()


def _restore_renamed_ids(process_specs: list[Any], elements: Iterable[ElementInfo]) -> None:
    """Give the specs of elements the dialect renamed (see `ElementInfo.spiff_id`) their diagram id back."""
    renamed = {info.spiff_id: info.element_id for info in elements if info.spiff_id}
    if not renamed:
        return
    for process_spec in process_specs:
        for task_spec in process_spec.task_specs.values():
            original = renamed.get(getattr(task_spec, "bpmn_id", None))
            if original is not None:
                task_spec.bpmn_id = original


class TriedConditionalEventDefinition(ConditionalEventDefinition):
    """A conditional event's condition as Camunda evaluates it (`tryEvaluate`): a variable that does not exist
    yet makes it false, so the event waits, where any other expression would fail.

    With `camunda:variableName` and/or `camunda:variableEvents` (`sf_watch`: element id, name, kinds), the
    condition is evaluated when the event starts to wait and after that only when the variable named (any, without
    a name) was created, updated or deleted (those kinds only, when given), as Camunda's variable events."""

    def has_fired(self, my_task):  # type: ignore[no-untyped-def]
        watch = getattr(self, "sf_watch", None)
        if watch is not None:
            keeper, key = _watch_keeper(my_task, self, watch[0])
            if not _variable_event(my_task, keeper, key, *watch[1:]):
                return keeper[key][1]  # as it was last evaluated
            keeper[key][1] = fired = self._evaluate(my_task)
            return fired
        return self._evaluate(my_task)

    def _evaluate(self, my_task):  # type: ignore[no-untyped-def]
        try:
            return super().has_fired(my_task)
        except WorkflowTaskException as err:
            failure = err.__cause__ or err.__context__  # the script engine's ScriptFailure
            if isinstance(getattr(failure, "original", None), NameError):
                return False
            raise


def _watch_keeper(my_task: Any, definition: Any, element_id: str) -> tuple[dict[str, Any], str]:
    """Where a watching conditional event keeps what it saw and its last result: the waiting event's task, or for
    an event subprocess's start (evaluated in the context of its scope's latest task) the scope."""
    own = getattr(my_task.task_spec, "event_definition", None) is definition
    return (my_task.internal_data if own else my_task.workflow.task_tree.internal_data), f"sf_watch_{element_id}"


def _variable_event(my_task: Any, keeper: dict[str, Any], key: str, name: str | None,
                    kinds: tuple[str, ...]) -> bool:
    """Whether the watched variables changed (as `kinds` allow) since the event last looked; True the first time."""
    data = my_task.data
    now = {name: data[name]} if name is not None and name in data else {} if name is not None else {
        k: v for k, v in data.items() if not k.startswith("_")}
    before = keeper[key][0] if key in keeper else None
    keeper[key] = [deepcopy(now), keeper[key][1] if key in keeper else False]
    if before is None:
        return True
    happened = set()
    for var in before.keys() | now.keys():
        if var not in now:
            happened.add("delete")
        elif var not in before:
            happened.add("create")
        elif type(before[var]) is not type(now[var]) or before[var] != now[var]:
            happened.add("update")
    return bool(happened & set(kinds)) if kinds else bool(happened)


def _try_conditions(process_spec: Any) -> None:
    """Make the conditional events of `process_spec` evaluate as `TriedConditionalEventDefinition`."""
    for task_spec in process_spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        if type(definition) is ConditionalEventDefinition:
            definition.__class__ = TriedConditionalEventDefinition


class AsyncAfterSpec(SimpleBpmnTask):
    """The `camunda:asyncAfter` boundary of an element: a hidden step on each outgoing flow that waits for a job.

    It does nothing itself; being manual, SpiffWorkflow stops before it, the executor records an async job for
    the element (`sf_async_after_of`) and commits, and the job continues the flow (Run.continue_async).
    """

    def __init__(self, wf_spec, name: str, element_id: str) -> None:  # type: ignore[no-untyped-def]
        super().__init__(wf_spec, name)
        self.manual = True
        self.sf_async = True
        self.sf_async_after_of = element_id


def _insert_async_after(process_spec, task_spec) -> None:  # type: ignore[no-untyped-def]
    """Put an `AsyncAfterSpec` on every outgoing flow of `task_spec` (not on the join of its boundary events)."""
    for output in list(task_spec.outputs):
        if isinstance(output, BoundaryEventJoin):
            continue
        name = f"{task_spec.name}.AsyncAfter.{output.name}"
        hold = AsyncAfterSpec(process_spec, name, task_spec.bpmn_id)
        task_spec._outputs = [name if o == output.name else o for o in task_spec._outputs]
        output._inputs = [name if i == task_spec.name else i for i in output._inputs]
        hold._inputs, hold._outputs = [task_spec.name], [output.name]
        if hasattr(task_spec, "cond_task_specs"):  # a gateway: its conditions name the flows' targets
            task_spec.cond_task_specs = [(cond, name if target == output.name else target)
                                         for cond, target in task_spec.cond_task_specs]
        if getattr(task_spec, "default_task_spec", None) == output.name:
            task_spec.default_task_spec = name


def _check_spiff_specs(spec: object, subprocess_specs: dict[str, object], documents: list[Document]) -> None:
    for process_spec in [spec, *subprocess_specs.values()]:
        for task_spec in process_spec.task_specs.values():
            if isinstance(task_spec, SubWorkflowTask) and task_spec.spec not in subprocess_specs \
                    and not task_spec.spec.startswith(DYNAMIC_CALL_PREFIX):
                file = getattr(process_spec, "file", None)
                raise DefinitionError(
                    f"called process '{task_spec.spec}' is not deployed",
                    file=file,
                    element_id=task_spec.bpmn_id,
                    line=_line_of(documents, file, task_spec.bpmn_id),
                )


def _called_missing(called: str, documents: list[Document]) -> DefinitionError:
    """The error for a call activity naming `called`, a process none of `documents` defines."""
    for doc in documents:
        found = doc.tree.getroot().xpath("//*[local-name()='callActivity'][@calledElement=$key]", key=called)
        if found:
            return DefinitionError(f"called process '{called}' is not deployed", file=doc.filename,
                                   element_id=found[0].get("id"), line=found[0].sourceline)
    return DefinitionError(f"called process '{called}' is not deployed", file=documents[0].filename)


def _line_of(documents: list[Document], file: str | None, element_id: str | None) -> int | None:
    """The line of the element `element_id` in the document `file` (in any document when `file` is None)."""
    if not element_id:
        return None
    for doc in documents:
        if file is None or doc.filename == file:
            found = doc.tree.getroot().xpath("//*[@id=$id]", id=element_id)
            if found:
                return found[0].sourceline
    return None


# `TaskParser.parse_node` wraps any other exception as ValidationException("%r" % ex), e.g. `TypeError("...")`.
_WRAPPED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:Error|Exception))\((.*)\)$", re.DOTALL)


def _describe(err: BaseException) -> str:
    text = str(err)
    return f"{type(err).__name__} {text}" if text else type(err).__name__


def _definition_error(err: ValidationException, documents: list[Document], key: str) -> DefinitionError:
    file = err.file_name or documents[0].filename
    element_id = err.id or None
    line = err.line_number if isinstance(err.line_number, int) else None
    if line is None and element_id:
        line = _line_of(documents, file, element_id)
    message = (str(err.args[0]) if err.args else str(err)).strip()
    wrapped = _WRAPPED.match(message)
    if wrapped:
        # A bug or an unchecked case inside SpiffWorkflow, not a message meant for a person.
        message = (f"SpiffWorkflow could not read this element ({wrapped.group(1)} {wrapped.group(2)}); it "
                   "probably uses something Stageflow does not support")
    if element_id is None:
        # SpiffWorkflow raises some errors without their element: name the process being built.
        element_id = key
        line = _line_of(documents, file, key)
    return DefinitionError(message.rstrip(".") or "invalid BPMN", file=file, element_id=element_id, line=line)
