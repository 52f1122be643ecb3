"""The Camunda 7 dialect: validate a BPMN document and read what Camunda Modeler writes.

This runs on the hardened lxml tree before SpiffWorkflow sees it. It

- refuses what Stageflow does not run (Java delegates, listeners, non-Python scripts) naming the element, line
  and what to use instead;
- rewrites expressions in place into the Python that SpiffWorkflow evaluates: JUEL conditions (`${a > 1}`) are
  translated, and literals stay literals (a timer `PT5M` becomes the Python string `'PT5M'`);
- collects, per element id, the Camunda attributes SpiffWorkflow's parser ignores (assignee, candidates, due
  date, priority, generated forms, external topics, call activity mappings, ...) as `ElementInfo`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from .errors import DefinitionError, ExpressionError, ScriptRejected
from .expressions import condition_to_python, is_expression, juel_to_python, text_to_python
from .forms import FormField, parse_form
from .sandbox import ScriptSandbox

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}

_JAVA_ATTRS = ("class", "delegateExpression", "expression")
_TASK_TAGS = ("serviceTask", "sendTask", "businessRuleTask")
_PYTHON_FORMATS = ("", "python", "py", "text/x-python", "python3")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(r"^-?P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
                       r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$", re.IGNORECASE)


def _c(name: str) -> str:
    return f"{{{CAMUNDA_NS}}}{name}"


def _b(name: str) -> str:
    return f"{{{BPMN_NS}}}{name}"


@dataclass
class Mapping:
    """A `camunda:in`/`camunda:out` variable mapping of a call activity."""

    source: str | None = None
    source_expression: str | None = None
    target: str | None = None
    all_variables: bool = False
    business_key: str | None = None  # python source of `businessKey="${...}"`


@dataclass
class ElementInfo:
    """What Stageflow knows of one BPMN element beyond what SpiffWorkflow reads.

    Expression-valued fields hold Python source (a literal is a quoted string) to evaluate over the task's data.
    """

    element_id: str
    tag: str
    name: str | None = None
    assignee: str | None = None
    candidate_users: str | None = None
    candidate_groups: str | None = None
    due_date: str | None = None
    follow_up_date: str | None = None
    priority: str | None = None
    form: list[FormField] = field(default_factory=list)
    form_business_key: str | None = None
    initiator: str | None = None
    interrupting: bool = True
    external_topic: str | None = None
    task_priority: str | None = None
    async_before: bool = False
    async_after: bool = False
    retry_cycle: str | None = None
    called_element: str | None = None
    called_binding: str = "latest"
    called_version: str | None = None
    in_mappings: list[Mapping] = field(default_factory=list)
    out_mappings: list[Mapping] = field(default_factory=list)
    decision_ref: str | None = None
    result_variable: str | None = None
    lane: str | None = None
    documentation: str | None = None

    @property
    def is_external(self) -> bool:
        return self.external_topic is not None


@dataclass
class ProcessInfo:
    """An executable process found in a document."""

    process_id: str
    name: str | None
    version_tag: str | None
    line: int | None
    elements: dict[str, ElementInfo]
    called_elements: set[str]
    decision_refs: set[str]
    start_form: list[FormField]
    message_starts: list[str]
    signal_starts: list[str]
    timer_starts: list[str]


class Dialect:
    """Validates and rewrites one BPMN document; see the module docstring."""

    def __init__(self, tree: etree._ElementTree, filename: str, sandbox: ScriptSandbox) -> None:
        self.tree = tree
        self.root = tree.getroot()
        self.filename = filename
        self.sandbox = sandbox

    # -- errors ---------------------------------------------------------------------------------------------
    def fail(self, element: etree._Element, message: str) -> DefinitionError:
        holder = element
        while holder is not None and holder.get("id") is None:
            holder = holder.getparent()
        element_id = holder.get("id") if holder is not None else None
        return DefinitionError(message, file=self.filename, element_id=element_id, line=element.sourceline)

    # -- entry point ----------------------------------------------------------------------------------------
    def process(self) -> list[ProcessInfo]:
        """Check and rewrite the document; return its executable processes."""
        self._check_unique_ids()
        self._check_flows()
        processes = []
        for proc in self.root.iterfind("bpmn:process", NS):
            if proc.get("isExecutable", "true").lower() == "false":
                continue
            processes.append(self._process(proc))
        return processes

    def _check_unique_ids(self) -> None:
        seen: dict[str, etree._Element] = {}
        for el in self.root.iter(f"{{{BPMN_NS}}}*"):
            el_id = el.get("id")
            if el_id is None:
                continue
            if el_id in seen:
                raise self.fail(el, f"duplicate id '{el_id}' (first used on line {seen[el_id].sourceline})")
            seen[el_id] = el

    def _check_flows(self) -> None:
        for proc in self.root.iter(_b("process"), _b("subProcess"), _b("transaction"), _b("adHocSubProcess")):
            ids = {el.get("id") for el in proc if el.get("id")}
            for flow in proc.iterfind("bpmn:sequenceFlow", NS):
                for ref in ("sourceRef", "targetRef"):
                    target = flow.get(ref)
                    if not target:
                        raise self.fail(flow, f"sequence flow has no {ref}")
                    if target not in ids:
                        raise self.fail(flow, f"sequence flow {ref} '{target}' names no element of this process")

    def _process(self, proc: etree._Element) -> ProcessInfo:
        lanes = self._lanes(proc)
        info = ProcessInfo(
            process_id=proc.get("id"),
            name=proc.get("name"),
            version_tag=proc.get(_c("versionTag")),
            line=proc.sourceline,
            elements={},
            called_elements=set(),
            decision_refs=set(),
            start_form=[],
            message_starts=[],
            signal_starts=[],
            timer_starts=[],
        )
        self._refuse_listeners(proc)
        for el in proc.iter(etree.Element):
            tag = etree.QName(el).localname
            ns = etree.QName(el).namespace
            if ns != BPMN_NS:
                continue
            handler = getattr(self, f"_el_{tag}", None)
            if handler is not None:
                handler(el)
            if el.get("id") and _is_flow_node(tag):
                element = self._element(el, tag)
                element.lane = lanes.get(el.get("id"))
                info.elements[element.element_id] = element
                if element.called_element:
                    info.called_elements.add(element.called_element)
                if element.decision_ref:
                    info.decision_refs.add(element.decision_ref)
        for start in proc.iterfind("bpmn:startEvent", NS):
            if start.find("bpmn:messageEventDefinition", NS) is not None:
                info.message_starts.append(start.get("id"))
            elif start.find("bpmn:signalEventDefinition", NS) is not None:
                info.signal_starts.append(start.get("id"))
            elif start.find("bpmn:timerEventDefinition", NS) is not None:
                info.timer_starts.append(start.get("id"))
            else:
                info.start_form = info.elements[start.get("id")].form
        return info

    def _lanes(self, proc: etree._Element) -> dict[str, str]:
        lanes = {}
        for lane in proc.iter(_b("lane")):
            group = (lane.get("name") or "").strip()
            if not group:
                continue
            for ref in lane.iterfind("bpmn:flowNodeRef", NS):
                if ref.text:
                    lanes.setdefault(ref.text.strip(), group)
        return lanes

    def _refuse_listeners(self, proc: etree._Element) -> None:
        for tag in ("executionListener", "taskListener"):
            for listener in proc.iter(_c(tag)):
                raise self.fail(
                    listener,
                    f"camunda:{tag} is not supported by Stageflow: model the work as a script task or an "
                    "external task (camunda:type=\"external\" with a camunda:topic)",
                )

    # -- per element ----------------------------------------------------------------------------------------
    def _element(self, el: etree._Element, tag: str) -> ElementInfo:
        info = ElementInfo(element_id=el.get("id"), tag=tag, name=el.get("name"))
        doc = el.find("bpmn:documentation", NS)
        if doc is not None and doc.text:
            info.documentation = doc.text.strip()
        info.async_before = el.get(_c("asyncBefore"), el.get(_c("async"), "false")) == "true"
        info.async_after = el.get(_c("asyncAfter"), "false") == "true"
        retry = el.find("bpmn:extensionElements/camunda:failedJobRetryTimeCycle", NS)
        if retry is not None and retry.text:
            info.retry_cycle = retry.text.strip()
        if tag in ("userTask", "startEvent"):
            info.form = parse_form(el, self.filename)
            form_data = el.find("bpmn:extensionElements/camunda:formData", NS)
            if form_data is not None and form_data.get("businessKey"):
                info.form_business_key = form_data.get("businessKey")
            for fld in info.form:
                if fld.default is not None and is_expression(fld.default):
                    self._expr(el, fld.default, "form field default")
        if tag == "startEvent":
            info.initiator = el.get(_c("initiator"))
            info.interrupting = el.get("isInterrupting", "true").lower() != "false"
        if tag == "userTask":
            info.assignee = self._text_attr(el, "assignee")
            info.candidate_users = self._text_attr(el, "candidateUsers")
            info.candidate_groups = self._text_attr(el, "candidateGroups")
            info.due_date = self._text_attr(el, "dueDate")
            info.follow_up_date = self._text_attr(el, "followUpDate")
            info.priority = self._text_attr(el, "priority")
        if el.get(_c("type")) == "external":
            topic = el.get(_c("topic"))
            if not topic:
                raise self.fail(el, 'an external task (camunda:type="external") needs a camunda:topic')
            info.external_topic = topic
            info.task_priority = self._text_attr(el, "taskPriority")
        if tag == "callActivity":
            self._call_activity(el, info)
        if tag == "businessRuleTask" and el.get(_c("decisionRef")):
            info.decision_ref = el.get(_c("decisionRef"))
            info.result_variable = el.get(_c("resultVariable"))
        return info

    def _text_attr(self, el: etree._Element, name: str) -> str | None:
        raw = el.get(_c(name))
        if raw is None or raw.strip() == "":
            return None
        return self._expr(el, raw.strip(), f"camunda:{name}")

    def _expr(self, el: etree._Element, text: str, what: str) -> str:
        try:
            return text_to_python(text, element_id=el.get("id"))
        except ExpressionError as err:
            raise self.fail(el, f"{what}: {err.message}")

    def _call_activity(self, el: etree._Element, info: ElementInfo) -> None:
        called = el.get("calledElement")
        if not called:
            raise self.fail(el, "a call activity needs a calledElement (the key of the process to call)")
        if is_expression(called):
            raise self.fail(el, "calledElement must be a process key, not an expression")
        info.called_element = called
        info.called_binding = el.get(_c("calledElementBinding"), "latest")
        if info.called_binding not in ("latest", "deployment", "version", "versionTag"):
            raise self.fail(el, f"unknown camunda:calledElementBinding '{info.called_binding}'")
        info.called_version = el.get(_c("calledElementVersion")) or el.get(_c("calledElementVersionTag"))
        if info.called_binding in ("version", "versionTag") and not info.called_version:
            raise self.fail(el, f"calledElementBinding '{info.called_binding}' needs camunda:calledElementVersion")
        for tag, target in (("in", info.in_mappings), ("out", info.out_mappings)):
            for node in el.iterfind(f"bpmn:extensionElements/camunda:{tag}", NS):
                mapping = Mapping(
                    source=node.get("source"),
                    target=node.get("target"),
                    all_variables=node.get("variables") == "all",
                )
                if node.get("sourceExpression"):
                    mapping.source_expression = self._expr(el, node.get("sourceExpression"), "sourceExpression")
                if node.get("businessKey"):
                    mapping.business_key = self._expr(el, node.get("businessKey"), "businessKey")
                if not (mapping.all_variables or mapping.business_key or mapping.target):
                    raise self.fail(node, f"camunda:{tag} needs a target, variables=\"all\" or a businessKey")
                target.append(mapping)

    # -- rewrites and refusals, by tag ----------------------------------------------------------------------
    def _refuse_java(self, el: etree._Element) -> None:
        for attr in _JAVA_ATTRS:
            if el.get(_c(attr)):
                raise self.fail(
                    el,
                    f"camunda:{attr} (Java code) is not supported by Stageflow: make it an external task "
                    '(camunda:type="external" camunda:topic="...") served by a worker',
                )
        if el.find("bpmn:extensionElements/camunda:connector", NS) is not None:
            raise self.fail(el, "camunda:connector is not supported: use an external task topic instead")

    def _el_serviceTask(self, el: etree._Element) -> None:
        self._refuse_java(el)

    _el_sendTask = _el_serviceTask

    def _el_businessRuleTask(self, el: etree._Element) -> None:
        self._refuse_java(el)
        if not el.get(_c("decisionRef")) and el.get(_c("type")) != "external":
            raise self.fail(el, "a business rule task needs camunda:decisionRef (a DMN decision) or an external topic")
        if el.get(_c("decisionRefBinding"), "latest") not in ("latest", "deployment"):
            raise self.fail(el, "only camunda:decisionRefBinding 'latest' and 'deployment' are supported")

    def _el_messageEventDefinition(self, el: etree._Element) -> None:
        self._refuse_java(el)

    def _el_scriptTask(self, el: etree._Element) -> None:
        fmt = (el.get("scriptFormat") or "").strip().lower()
        if fmt not in _PYTHON_FORMATS:
            raise self.fail(el, f"script format '{fmt}' is not supported: write the script in Python")
        if el.get(_c("resource")):
            raise self.fail(el, "external script resources (camunda:resource) are not supported: inline the script")
        script = el.find("bpmn:script", NS)
        if script is None or not (script.text or "").strip():
            raise self.fail(el, "a script task needs a script")
        try:
            self.sandbox.compile_script(script.text)
        except ScriptRejected as err:
            raise self.fail(script, f"script refused: {err.message}")

    def _el_conditionExpression(self, el: etree._Element) -> None:
        self._condition(el, "condition")

    def _el_completionCondition(self, el: etree._Element) -> None:
        self._condition(el, "completion condition")

    def _el_loopCondition(self, el: etree._Element) -> None:
        self._condition(el, "loop condition")

    def _el_condition(self, el: etree._Element) -> None:
        if etree.QName(el.getparent()).localname == "conditionalEventDefinition":
            self._condition(el, "condition")

    def _condition(self, el: etree._Element, what: str) -> None:
        language = (el.get("language") or "").strip().lower()
        if language and language not in ("python", "juel", "text/x-python"):
            raise self.fail(el, f"{what} language '{language}' is not supported: use JUEL (${{...}}) or Python")
        if el.get(_c("resource")):
            raise self.fail(el, f"external {what} resources are not supported")
        text = (el.text or "").strip()
        if not text:
            if what == "condition" and etree.QName(el.getparent()).localname == "sequenceFlow":
                raise self.fail(el, "empty condition expression")
            return
        try:
            el.text = condition_to_python(text, element_id=_owner_id(el))
        except ExpressionError as err:
            raise self.fail(el, f"{what}: {err.message}")

    def _el_loopCardinality(self, el: etree._Element) -> None:
        text = (el.text or "").strip()
        if text.isdigit():
            return
        if not is_expression(text):
            raise self.fail(el, f"loop cardinality '{text}' is neither a whole number nor an expression")
        try:
            el.text = juel_to_python(text, element_id=_owner_id(el))
        except ExpressionError as err:
            raise self.fail(el, f"loop cardinality: {err.message}")

    def _el_multiInstanceLoopCharacteristics(self, el: etree._Element) -> None:
        collection = el.get(_c("collection"))
        if collection is not None:
            name = collection.strip()
            if is_expression(name):
                inner = name.strip()[2:-1].strip()
                if not _NAME.match(inner):
                    raise self.fail(el, f"camunda:collection '{collection}' must name one variable (${{items}})")
                el.set(_c("collection"), inner)
            elif not _NAME.match(name):
                raise self.fail(el, f"camunda:collection '{collection}' must name one variable")
        if (collection is None and el.find("bpmn:loopCardinality", NS) is None
                and el.find("bpmn:loopDataInputRef", NS) is None):
            raise self.fail(el, "a multi-instance activity needs a loopCardinality or a camunda:collection")

    def _el_timeDate(self, el: etree._Element) -> None:
        self._timer(el, "date")

    def _el_timeDuration(self, el: etree._Element) -> None:
        self._timer(el, "duration")

    def _el_timeCycle(self, el: etree._Element) -> None:
        self._timer(el, "cycle")

    def _timer(self, el: etree._Element, kind: str) -> None:
        text = (el.text or "").strip()
        if not text:
            raise self.fail(el, f"empty timer {kind}")
        if is_expression(text):
            el.text = f"_sf_timer({self._expr(el, text, f'timer {kind}')})"
            return
        check_timer_literal(text, kind, fail=lambda msg: self.fail(el, msg))
        el.text = repr(text)


def check_timer_literal(text: str, kind: str, *, fail) -> None:  # type: ignore[no-untyped-def]
    """Raise `fail(message)` unless `text` is a valid ISO 8601 literal of the timer kind."""
    from datetime import datetime

    if kind == "duration":
        if not _DURATION.match(text):
            raise fail(f"timer duration '{text}' is not an ISO 8601 duration such as PT5M or P2D")
    elif kind == "date":
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise fail(f"timer date '{text}' is not an ISO 8601 date-time such as 2026-12-01T09:00:00Z")
    else:
        parts = text.split("/")
        if not (parts[0].upper().startswith("R") and len(parts) in (2, 3)):
            raise fail(f"timer cycle '{text}' is not an ISO 8601 repeating interval such as R3/PT1H")
        if parts[0][1:] and not parts[0][1:].isdigit():
            raise fail(f"timer cycle '{text}': the repeat count must be a number")
        for part in parts[1:]:
            if part.upper().startswith("P"):
                if not _DURATION.match(part):
                    raise fail(f"timer cycle '{text}': '{part}' is not an ISO 8601 duration")
            else:
                try:
                    datetime.fromisoformat(part.replace("Z", "+00:00"))
                except ValueError:
                    raise fail(f"timer cycle '{text}': '{part}' is not an ISO 8601 date-time")


_FLOW_NODES = {
    "task", "userTask", "manualTask", "serviceTask", "sendTask", "receiveTask", "scriptTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess", "startEvent",
    "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway",
    "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
}


def _is_flow_node(tag: str) -> bool:
    return tag in _FLOW_NODES


def _owner_id(el: etree._Element) -> str | None:
    while el is not None:
        if el.get("id"):
            return el.get("id")
        el = el.getparent()
    return None
