"""Build SpiffWorkflow specs from documents the dialect has checked and rewritten."""

from __future__ import annotations

import re
from collections.abc import Iterable
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, full_tag
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_task_spec import BpmnTaskSpec
from SpiffWorkflow.bpmn.specs.control import BoundaryEventJoin, SimpleBpmnTask
from SpiffWorkflow.bpmn.specs.defaults import CallActivity, ServiceTask
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import CodeEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import BusinessRuleTaskParser, CallActivityParser, CamundaTaskParser
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.exceptions import SpiffWorkflowException

from ..dialect import CAMUNDA_NS, ElementInfo, Mapping
from ..dmn import Decision, DecisionError
from ..errors import DefinitionError


class StageflowCallActivity(CallActivity):
    """A call activity that passes variables as Camunda does: only what `camunda:in`/`camunda:out` map.

    `in_mappings`/`out_mappings` are set from the dialect's `ElementInfo` after parsing.
    """

    in_mappings: list[Mapping] = []
    out_mappings: list[Mapping] = []
    sf_called_process = True  # a separate process (embedded subprocesses are SpiffWorkflow CallActivity too)

    def copy_data(self, my_task, subworkflow):  # type: ignore[no-untyped-def]
        start = subworkflow.get_next_task(subworkflow.task_tree, skip_subprocesses=True, spec_name="Start")
        start.set_data(**_mapped(my_task, my_task.data, self.in_mappings))

    def update_data(self, my_task, subworkflow):  # type: ignore[no-untyped-def]
        child = subworkflow.last_task.data if subworkflow.last_task is not None else {}
        data = deepcopy(my_task.data)
        data.update(_mapped(my_task, child, self.out_mappings, source_task=subworkflow.last_task))
        my_task.data = data


def _mapped(my_task, source: dict, mappings: list[Mapping], source_task=None) -> dict:  # type: ignore[no-untyped-def]
    """The variables that `mappings` carry from `source`; expressions are evaluated in the source's scope."""
    out: dict = {}
    engine = my_task.workflow.script_engine
    for mapping in mappings:
        if mapping.all_variables:
            out.update(deepcopy(source))
        elif mapping.target is not None:
            if mapping.source_expression is not None:
                scope = source_task if source_task is not None else my_task
                out[mapping.target] = engine.evaluate(scope, mapping.source_expression)
            elif mapping.source is not None:
                out[mapping.target] = deepcopy(source.get(mapping.source))
    return out


class ExternalTaskSpec(ServiceTask):
    """A service task done by an external worker: it waits (READY, manual) until the worker completes it."""

    def __init__(self, wf_spec, bpmn_id, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = True

    def _run_hook(self, my_task) -> bool:  # type: ignore[no-untyped-def]
        return True  # the worker's completion is the run: done (a plain ServiceTask would stay STARTED)


def _is_external(node: etree._Element) -> bool:
    return node.get(f"{{{CAMUNDA_NS}}}type") == "external"


class _ServiceTaskParser(CamundaTaskParser):
    def create_task(self):  # type: ignore[no-untyped-def]
        cls = ExternalTaskSpec if _is_external(self.node) else self.spec_class
        return cls(self.spec, self.bpmn_id, **self.bpmn_attributes)


class DecisionTaskSpec(ServiceTask):
    """A business rule task evaluated by Stageflow's DMN engine (`engine.dmn`), as Camunda 7 does.

    The decision result is stored only when `camunda:resultVariable` is set, mapped per
    `camunda:mapDecisionResult` (default `resultList`). `decision`, `decisions`, `result_variable` and
    `map_result` are set after parsing.
    """

    decision: Decision | None = None
    decisions: dict[str, Decision] = {}
    result_variable: str | None = None
    map_result: str = "resultList"

    def _run_hook(self, my_task):  # type: ignore[no-untyped-def]
        sandbox = my_task.workflow.script_engine.sandbox
        try:
            result = self.decision.evaluate(dict(my_task.data), sandbox, self.decisions)
            if self.result_variable:
                my_task.data[self.result_variable] = result.map_result(self.map_result)
        except DecisionError as err:
            raise WorkflowTaskException(err.reason, task=my_task)
        return True


class _BusinessRuleTaskParser(BusinessRuleTaskParser):
    def create_task(self):  # type: ignore[no-untyped-def]
        if _is_external(self.node):
            return ExternalTaskSpec(self.spec, self.bpmn_id, **self.bpmn_attributes)
        return DecisionTaskSpec(self.spec, self.bpmn_id, **self.bpmn_attributes)

    @staticmethod
    def get_decision_ref(node):  # type: ignore[no-untyped-def]
        # SpiffWorkflow reads this for every business rule task of a document it is given (to list DMN
        # dependencies) as `node.attrib[...]`: a KeyError for an external one, which has no decisionRef.
        return node.get(f"{{{CAMUNDA_NS}}}decisionRef")


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
        }.items()
    }


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


@dataclass
class Document:
    """A checked BPMN or DMN document, ready for SpiffWorkflow."""

    filename: str
    tree: etree._ElementTree
    is_dmn: bool
    elements: dict[str, ElementInfo] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)


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
        _try_conditions(process_spec)
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
            if info.error_code_variable or info.escalation_code_variable:
                task_spec.sf_code_variable = info.error_code_variable or info.escalation_code_variable
            if (info.inputs or info.outputs) and not isinstance(task_spec, MultiInstanceTask):
                task_spec.sf_inputs = info.inputs  # each instance of a multi-instance activity has its own
                task_spec.sf_outputs = info.outputs
            if isinstance(task_spec, StageflowCallActivity):
                task_spec.in_mappings = info.in_mappings
                task_spec.out_mappings = info.out_mappings
            elif isinstance(task_spec, DecisionTaskSpec):
                task_spec.decision = decisions.get(info.decision_ref or "")
                if task_spec.decision is None:
                    raise DefinitionError(f"decisionRef '{info.decision_ref}' names no deployed decision",
                                          file=getattr(process_spec, "file", None), element_id=info.element_id,
                                          line=_line_of(documents, getattr(process_spec, "file", None),
                                                        info.element_id))
                task_spec.decisions = decisions
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


def _apply_outputs(my_task: Any, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> None:
    """When the task completes: compute the output parameters from its variables, drop its locals (what they
    hid comes back) and set the outputs outside."""
    engine = my_task.workflow.script_engine
    values = {name: engine.evaluate(my_task, source) for name, source in outputs}
    hidden = my_task.internal_data.pop("sf_io_hidden", None) or {}
    my_task.internal_data.pop("sf_io_locals", None)
    for name, _ in inputs:
        if name in hidden:
            my_task.data[name] = hidden[name]
        else:
            my_task.data.pop(name, None)
    my_task.data.update(values)


COMPENSABLE = "sf_compensable"  # in a scope's workflow data: activity id -> completions not yet compensated


def _count_compensable(spec: Any, my_task: Any) -> None:
    """An activity with a compensation handler completed (one more to compensate), or a handler ran (none left)."""
    counts = my_task.workflow.data.setdefault(COMPENSABLE, {})
    if getattr(spec, "sf_compensable", None):
        counts[spec.sf_compensable] = counts.get(spec.sf_compensable, 0) + 1
    if getattr(spec, "sf_compensates", None):
        counts[spec.sf_compensates] = 0


def _install_task_hooks() -> None:
    """Hook SpiffWorkflow's task specs once: `camunda:inputOutput` (`sf_inputs`, `sf_outputs`) right after a spec
    inherits its parent's data (before a subprocess copies it inward) and as it completes; the caught code in a
    catching event's `camunda:errorCodeVariable`/`escalationCodeVariable` (`sf_code_variable`); and the count of
    completed activities that have a compensation handler (`sf_compensable`, `sf_compensates`)."""
    if getattr(BpmnTaskSpec._update_hook, "sf_io", False):
        return
    update, complete = BpmnTaskSpec._update_hook, BpmnTaskSpec._on_complete_hook

    def _update_hook(self, my_task):  # type: ignore[no-untyped-def]
        result = update(self, my_task)
        if getattr(self, "sf_inputs", None):
            _apply_inputs(my_task, self.sf_inputs)
        return result

    def _on_complete_hook(self, my_task):  # type: ignore[no-untyped-def]
        if getattr(self, "sf_compensable", None) or getattr(self, "sf_compensates", None):
            _count_compensable(self, my_task)
        if getattr(self, "sf_code_variable", None) and "sf_caught_code" in my_task.internal_data:
            my_task.data[self.sf_code_variable] = my_task.internal_data["sf_caught_code"]
        if getattr(self, "sf_inputs", None) or getattr(self, "sf_outputs", None):
            _apply_outputs(my_task, self.sf_inputs, self.sf_outputs)
        return complete(self, my_task)

    catch = CodeEventDefinition.catch

    def catch_code(self, my_task, event=None):  # type: ignore[no-untyped-def]
        # camunda:errorCodeVariable / escalationCodeVariable: the code thrown, which a catch-all event lacks
        my_task.internal_data["sf_caught_code"] = getattr(event.event_definition, "code", None) if event else None
        return catch(self, my_task, event)

    _update_hook.sf_io = True  # type: ignore[attr-defined]
    BpmnTaskSpec._update_hook = _update_hook  # type: ignore[method-assign]
    BpmnTaskSpec._on_complete_hook = _on_complete_hook  # type: ignore[method-assign]
    CodeEventDefinition.catch = catch_code  # type: ignore[method-assign]


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
    yet makes it false, so the event waits, where any other expression would fail."""

    def has_fired(self, my_task):  # type: ignore[no-untyped-def]
        try:
            return super().has_fired(my_task)
        except WorkflowTaskException as err:
            failure = err.__cause__ or err.__context__  # the script engine's ScriptFailure
            if isinstance(getattr(failure, "original", None), NameError):
                return False
            raise


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
            if isinstance(task_spec, SubWorkflowTask) and task_spec.spec not in subprocess_specs:
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
