"""Build SpiffWorkflow specs from documents the dialect has checked and rewritten."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import CallActivity, ServiceTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import BusinessRuleTaskParser, CallActivityParser, CamundaTaskParser
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.exceptions import SpiffWorkflowException

from ..dialect import CAMUNDA_NS, ElementInfo, Mapping
from ..errors import DefinitionError


class StageflowCallActivity(CallActivity):
    """A call activity that passes variables as Camunda does: only what `camunda:in`/`camunda:out` map.

    `in_mappings`/`out_mappings` are set from the dialect's `ElementInfo` after parsing.
    """

    in_mappings: list[Mapping] = []
    out_mappings: list[Mapping] = []

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


def _is_external(node: etree._Element) -> bool:
    return node.get(f"{{{CAMUNDA_NS}}}type") == "external"


class _ServiceTaskParser(CamundaTaskParser):
    def create_task(self):  # type: ignore[no-untyped-def]
        cls = ExternalTaskSpec if _is_external(self.node) else self.spec_class
        return cls(self.spec, self.bpmn_id, **self.bpmn_attributes)


class _BusinessRuleTaskParser(BusinessRuleTaskParser):
    def create_task(self):  # type: ignore[no-untyped-def]
        if _is_external(self.node):
            return ExternalTaskSpec(self.spec, self.bpmn_id, **self.bpmn_attributes)
        return super().create_task()


_EVENT_TAGS = {
    full_tag(tag)
    for tag in ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent")
}


class StageflowParser(CamundaParser):
    """SpiffWorkflow's Camunda parser with external tasks that wait for workers."""

    # Events use SpiffWorkflow's plain BPMN parsers: their message definition puts a message's payload into
    # the catching task's data (Camunda's behaviour), where the Camunda flavour hides it in a result variable.
    OVERRIDE_PARSER_CLASSES = {
        **{tag: parser for tag, parser in CamundaParser.OVERRIDE_PARSER_CLASSES.items() if tag not in _EVENT_TAGS},
        full_tag("serviceTask"): (_ServiceTaskParser, ServiceTask),
        full_tag("sendTask"): (_ServiceTaskParser, ServiceTask),
        full_tag("businessRuleTask"): (_BusinessRuleTaskParser, BusinessRuleTask),
        full_tag("callActivity"): (CallActivityParser, StageflowCallActivity),
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


@dataclass
class Document:
    """A checked BPMN or DMN document, ready for SpiffWorkflow."""

    filename: str
    tree: etree._ElementTree
    is_dmn: bool
    elements: dict[str, ElementInfo] = field(default_factory=dict)


def compile_process(key: str, documents: list[Document]) -> CompiledProcess:
    """Parse `documents` with SpiffWorkflow and return the specs of process `key` and what it calls."""
    parser = StageflowParser()
    try:
        for doc in documents:
            root = doc.tree.getroot()
            if doc.is_dmn:
                parser.add_dmn_xml(root, filename=doc.filename)
            else:
                parser.add_bpmn_xml(root, filename=doc.filename)
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as err:
        raise _definition_error(err, documents)
    except SpiffWorkflowException as err:
        raise DefinitionError(str(err), file=getattr(err, "file_name", None) or documents[0].filename)
    except (KeyError, AttributeError, IndexError, TypeError, ValueError) as err:
        # SpiffWorkflow's parser raises bare errors on some valid-looking documents; name what we can.
        raise DefinitionError(
            f"the document could not be parsed ({type(err).__name__}: {err}); "
            "an element it uses is probably not supported",
            file=documents[0].filename,
            element_id=key,
        )
    missing = [name for name, sp in subprocess_specs.items() if sp is None]
    if missing:
        raise DefinitionError(f"called process '{missing[0]}' is not deployed", file=documents[0].filename)
    elements = {}
    for doc in documents:
        for element_id, info in doc.elements.items():
            elements[(doc.filename, element_id)] = info
    _check_spiff_specs(spec, subprocess_specs)
    compiled = CompiledProcess(key=key, spec=spec, subprocess_specs=subprocess_specs, elements=elements)
    for process_spec in [spec, *subprocess_specs.values()]:
        for task_spec in process_spec.task_specs.values():
            if isinstance(task_spec, StageflowCallActivity):
                info = compiled.element(task_spec)
                if info is not None:
                    task_spec.in_mappings = info.in_mappings
                    task_spec.out_mappings = info.out_mappings
    return compiled


def _check_spiff_specs(spec: object, subprocess_specs: dict[str, object]) -> None:
    for process_spec in [spec, *subprocess_specs.values()]:
        for task_spec in process_spec.task_specs.values():
            if isinstance(task_spec, SubWorkflowTask) and task_spec.spec not in subprocess_specs:
                raise DefinitionError(
                    f"called process '{task_spec.spec}' is not deployed",
                    file=getattr(process_spec, "file", None),
                    element_id=task_spec.bpmn_id,
                )


def _definition_error(err: ValidationException, documents: list[Document]) -> DefinitionError:
    file = err.file_name or documents[0].filename
    element_id = err.id or None
    line = err.line_number if isinstance(err.line_number, int) else None
    if line is None and element_id:
        for doc in documents:
            if doc.filename == file:
                found = doc.tree.getroot().xpath("//*[@id=$id]", id=element_id)
                if found:
                    line = found[0].sourceline
    message = str(err.args[0]) if err.args else str(err)
    return DefinitionError(message, file=file, element_id=element_id, line=line)
