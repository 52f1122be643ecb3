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

import ast
import re
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field

from lxml import etree

from .errors import DefinitionError, ExpressionError, ScriptRejected
from .expressions import condition_to_python, is_expression, juel_to_python, text_to_python, written_as
from .forms import FormField, parse_form
from .sandbox import ScriptSandbox

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ACTIVITI_NS = "http://activiti.org/bpmn"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}

_JAVA_ATTRS = ("class", "delegateExpression", "expression")
MAIL_FIELDS = ("to", "from", "cc", "bcc", "subject", "text", "html", "charset")
"""The `camunda:field` names of a mail task (camunda:type="mail"), as Camunda 7's mail activity reads them."""
_TASK_TAGS = ("serviceTask", "sendTask", "businessRuleTask")
_ESCALATION_HOSTS = ("subProcess", "transaction", "adHocSubProcess", "callActivity", "userTask")
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
    local: bool = False  # `local="true"`: in, from the call activity's local variables; out, into them


def is_executable(proc: etree._Element) -> bool:
    """Whether a `bpmn:process` runs: `isExecutable` unless "false" (or "0"); a process without it runs."""
    return (proc.get("isExecutable") or "true").strip().lower() not in ("false", "0")


CONDITION_EVENTS = ("create", "update", "delete")  # camunda:variableEvents of a conditional event


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
    triggered_by_event: bool = False
    external_topic: str | None = None
    topic_source: str | None = None  # Python source of a `camunda:topic` written as an expression (`${topicName}`)
    task_priority: str | None = None
    async_before: bool = False
    async_after: bool = False
    retry_cycle: str | None = None
    called_element: str | None = None
    called_expression: str | None = None  # `calledElement="${...}"`: Python source giving the process key
    called_binding: str = "latest"
    called_version: str | None = None
    in_mappings: list[Mapping] = field(default_factory=list)
    out_mappings: list[Mapping] = field(default_factory=list)
    decision_ref: str | None = None
    result_variable: str | None = None
    map_decision_result: str | None = None
    lane: str | None = None
    documentation: str | None = None
    form_key: str | None = None  # camunda:formKey of a user task or start event, as written (may hold ${...})
    error_code_variable: str | None = None  # an error boundary or start event: where the caught code goes
    error_message_variable: str | None = None
    error_message: str | None = None  # an error end event: its error's `camunda:errorMessage` (a text with ${...})
    escalation_code_variable: str | None = None  # an escalation boundary or start event: where the code goes
    # a conditional event's camunda:variableName and camunda:variableEvents: only a change of that variable (of
    # those kinds: create, update, delete) evaluates its condition again
    condition_variable: str | None = None
    condition_events: tuple[str, ...] = ()
    # an external task's camunda:errorEventDefinitions: (error code, Python source of its expression), in order
    error_checks: list[tuple[str | None, str]] = field(default_factory=list)
    spiff_id: str | None = None  # the id SpiffWorkflow knows the element by, when it had to be renamed
    inputs: list[tuple[str, str]] = field(default_factory=list)  # camunda:inputParameter (name, Python source)
    compensable: bool = False  # an activity some compensation throw event undoes: its completions are recorded
    compensates: str | None = None  # a compensation handler: the id of the activity it undoes
    compensating: str | None = None  # a hidden subprocess compensating, per instance, the runs of this subprocess
    outputs: list[tuple[str, str]] = field(default_factory=list)  # camunda:outputParameter (name, Python source)
    properties: dict[str, str] = field(default_factory=dict)  # camunda:properties (Modeler's Extensions tab)
    hidden_for: str | None = None  # a hidden element the dialect added after this diagram element
    event_gateway: str | None = None  # an event after an event-based gateway: the gateway's id (it waits there)
    mail: dict[str, str] | None = None  # a mail task (camunda:type="mail"): field name -> Python source
    scoped: bool = False  # multi-instance or inside a subprocess: it may see variables of a scope of its own

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
    timer_start_specs: list[tuple[str, str, str]] = field(default_factory=list)  # (element id, kind, literal)
    dynamic_calls: bool = False  # a call activity's calledElement is an expression (any process deployed with it)
    category: str | None = None  # the document's targetNamespace, Camunda's definition category
    history_time_to_live: int | None = None  # camunda:historyTimeToLive, in days
    startable_in_tasklist: bool = True  # camunda:isStartableInTasklist


def script_with_result(source: str, name: str) -> str:
    """A script that also sets `name` to its result, as Camunda's `camunda:resultVariable` on a script task: the
    value of its last statement when that is an expression (`amount * 2`) or an assignment to one name
    (`total = a + b`: the value assigned), else None. Other lines keep their numbers, so errors name the lines as
    written."""
    text = textwrap.dedent(source)
    body = ast.parse(text).body
    last = body[-1] if body else None
    lines = text.split("\n")
    if isinstance(last, ast.Expr) and last.end_lineno is not None and last.end_col_offset is not None:
        first, end = last.lineno - 1, last.end_lineno - 1
        head, tail = lines[first][:last.col_offset], lines[end][last.end_col_offset:]
        expression = "\n".join(lines[first:end + 1])
        expression = expression[last.col_offset:len(expression) - len(lines[end]) + last.end_col_offset]
        lines[first:end + 1] = (f"{head}{name} = ({expression}){tail}").split("\n")
        return "\n".join(lines)
    if isinstance(last, ast.Assign) and len(last.targets) == 1 and isinstance(last.targets[0], ast.Name):
        return f"{text.rstrip()}\n{name} = {last.targets[0].id}\n"
    return f"{text.rstrip()}\n{name} = None\n"


_COLUMN_LIMIT = 255  # an element's id and name, in the database's columns (Camunda's are as long)
_NAME_START = ("A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
               "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff")
_NCNAME = re.compile(f"[{_NAME_START}][{_NAME_START}\\-.0-9\u00b7\u0300-\u036f\u203f-\u2040]*")
"""An XML non-colonized name (XML Namespaces 1.0): what the BPMN schema asks of an id (`xsd:ID`), which Camunda 7
checks when it validates a diagram against the schema."""


class Dialect:
    """Validates and rewrites one BPMN document; see the module docstring."""

    def __init__(self, tree: etree._ElementTree, filename: str, sandbox: ScriptSandbox) -> None:
        self.tree = tree
        self.root = tree.getroot()
        self.filename = filename
        self.sandbox = sandbox
        self.timer_literals: dict[str, tuple[str, str]] = {}  # event id -> (kind, literal text)
        self.ids: dict[str, etree._Element] = {}  # every BPMN element by id, filled by `_check_unique_ids`
        self.renamed: dict[str, str] = {}  # new id -> id in the diagram, see `_rename_reserved_ids`
        self.hidden_for: dict[str, str] = {}  # hidden gateway id -> the element it splits after
        self.gateway_of: dict[str, str] = {}  # event after an event-based gateway -> the gateway's id
        self.dropped: list[etree._Element] = []  # elements to remove after the walk over a process
        self.compensable: set[str] = set()  # activities some compensation throw event undoes
        self.compensates: dict[str, str] = {}  # compensation handler id -> the activity it undoes
        self.compensating: dict[str, str] = {}  # hidden subprocess id -> the subprocess whose runs it compensates
        self.copies: set[str] = set()  # elements the compensation rewrite copied (their ids map in `renamed`)
        self.python_loops: set[str] = set()  # elements whose loop cardinality the dialect wrote in Python

    # -- errors ---------------------------------------------------------------------------------------------
    def fail(self, element: etree._Element, message: str) -> DefinitionError:
        """A `DefinitionError` at `element`'s line, naming the diagram element it belongs to.

        A detail without a shape of its own (a condition, a timer or event definition, a script, loop
        characteristics, ...) is reported under the flow node, sequence flow or process holding it, so the
        id is one a modeler can find; an element outside any of those is named by its own id.
        """
        holder = element
        while holder is not None and not _is_named_element(holder):
            holder = holder.getparent()
        if holder is None:
            holder = element
            while holder is not None and holder.get("id") is None:
                holder = holder.getparent()
        element_id = holder.get("id") if holder is not None else None
        element_id = self.renamed.get(element_id, element_id) if element_id is not None else None
        return DefinitionError(message, file=self.filename, element_id=element_id, line=element.sourceline)

    # -- entry point ----------------------------------------------------------------------------------------
    def process(self) -> list[ProcessInfo]:
        """Check and rewrite the document; return its executable processes."""
        self._alias_activiti_namespace()
        self._check_unique_ids()
        self._rename_reserved_ids()
        self._name_anonymous_flows()
        self._check_flows()
        executable = []
        for proc in self.root.iterfind("bpmn:process", NS):
            # SpiffWorkflow compares the attribute with 'true' exactly: write it in the form it reads.
            runs = is_executable(proc)
            proc.set("isExecutable", "true" if runs else "false")
            if runs:
                executable.append(proc)
        if executable:
            # SpiffWorkflow reads these parts of the whole document as soon as it is given the file.
            self._check_document()
        return [self._process(proc) for proc in executable]

    def _alias_activiti_namespace(self) -> None:
        """Read Activiti's extension namespace as Camunda's, as Camunda 7 does (older Camunda diagrams use it)."""
        prefix = f"{{{ACTIVITI_NS}}}"
        for el in self.root.iter(etree.Element):
            if el.tag.startswith(prefix):
                el.tag = _c(el.tag[len(prefix):])
            for name in [n for n in el.attrib if n.startswith(prefix)]:
                el.set(_c(name[len(prefix):]), el.attrib.pop(name))

    def _check_unique_ids(self) -> None:
        seen: dict[str, etree._Element] = {}
        for el in self.root.iter(f"{{{BPMN_NS}}}*"):
            el_id = el.get("id")
            if el_id is None:
                continue
            if el_id in seen:
                raise self.fail(el, f"duplicate id '{el_id}' (first used on line {seen[el_id].sourceline})")
            if _NCNAME.fullmatch(el_id.strip(" \t\r\n")) is None:  # the schema trims it first (`collapse`)
                raise self.fail(el, f"the id '{el_id}' is not a valid XML id: it starts with a letter or '_' and "
                                    "holds only letters, digits, '_', '-' and '.' (no space, no colon)")
            for attribute in ("id", "name"):  # the database keeps them in columns of 255 characters, as Camunda's
                value = el.get(attribute) or ""
                if len(value) > _COLUMN_LIMIT:
                    raise self.fail(el, f"the {attribute} is too long ({len(value)} characters): at most "
                                        f"{_COLUMN_LIMIT}")
            seen[el_id] = el
        self.ids = seen

    def _rename_reserved_ids(self) -> None:
        """Rename a flow node whose id is the name of one of SpiffWorkflow's own task specs (`Start`, `End`,
        `Root`), and every reference to it: SpiffWorkflow would replace its own spec with the element and fail
        ("No output task connected"). The element keeps its id everywhere Stageflow shows it (`spiff_id`)."""
        for old in sorted(_RESERVED_IDS & set(self.ids)):
            el = self.ids[old]
            if etree.QName(el).namespace != BPMN_NS or not _is_flow_node(etree.QName(el).localname):
                continue
            new = self._fresh_id(f"{old}_")
            el.set("id", new)
            del self.ids[old]
            self.ids[new] = el
            self.renamed[new] = old
            for node in self.root.iter(f"{{{BPMN_NS}}}*"):
                for attr in ("sourceRef", "targetRef", "attachedToRef", "default"):
                    if node.get(attr) == old:
                        node.set(attr, new)
                if etree.QName(node).localname in ("flowNodeRef", "incoming", "outgoing") \
                        and (node.text or "").strip() == old:
                    node.text = new

    def _name_anonymous_flows(self) -> None:
        """Give a sequence flow without an id (Camunda accepts them) a stable one, `flow_SOURCE_TARGET[_n]`:
        SpiffWorkflow connects flows by id and would silently drop the path. A flow node without one gets one
        too."""
        for el in self.root.iter(_b("sequenceFlow")):
            if (el.get("id") or "").strip():
                continue
            base = f"flow_{el.get('sourceRef') or 'x'}_{el.get('targetRef') or 'x'}"
            flow_id, n = base, 1
            while flow_id in self.ids:
                n += 1
                flow_id = f"{base}_{n}"
            el.set("id", flow_id)
            self.ids[flow_id] = el
        for el in self.root.iter(f"{{{BPMN_NS}}}*"):
            # A flow node without an id (an event subprocess, which no sequence flow names): Camunda runs it
            # (BpmnParseTest.testParseEscalationStartEvent); it gets `TAG_lineN`, the name shown for it.
            if _is_flow_node(etree.QName(el).localname) and not (el.get("id") or "").strip():
                node_id = self._fresh_id(f"{etree.QName(el).localname}_line{el.sourceline}")
                el.set("id", node_id)
                self.ids[node_id] = el

    def _check_document(self) -> None:
        """Refuse, naming the element, what SpiffWorkflow rejects without one (or trips over) in any process."""
        for proc in self.root.iter(_b("process")):
            if not (proc.get("id") or "").strip():
                raise self.fail(proc, "a process needs an id")
        for shape in self.root.iter(f"{{{BPMNDI_NS}}}BPMNShape"):
            bounds = shape.find(f".//{{{DC_NS}}}Bounds")
            for axis in ("x", "y") if bounds is not None else ():
                try:
                    float(bounds.get(axis, 0))
                except ValueError:
                    raise DefinitionError(f"diagram: the shape's {axis} '{bounds.get(axis)}' is not a number",
                                          file=self.filename, element_id=shape.get("bpmnElement") or shape.get("id"),
                                          line=bounds.sourceline)
        # Camunda 7 deploys data stores and runs without them (modelling only); SpiffWorkflow refuses one it has
        # no implementation of. Their references stay (SpiffWorkflow only lists them) and the data associations
        # to or from them are dropped (`_data_association`).
        for store in list(self.root.iter(_b("dataStore"))):
            store.getparent().remove(store)
        for tag in ("message", "signal", "error", "escalation", "correlationProperty"):
            for el in self.root.iter(_b(tag)):
                if not (el.get("id") or "").strip():
                    raise self.fail(el, f"{_a(tag)} needs an id")
        named: dict[str, etree._Element] = {}
        for signal in self.root.iter(_b("signal")):
            name = (signal.get("name") or "").strip()
            if name and name in named:  # Camunda refuses it too: "duplicate signal name"
                raise self.fail(signal, f"duplicate signal name '{name}': signals '{named[name].get('id')}' (line "
                                        f"{named[name].sourceline}) and '{signal.get('id')}' have the same name")
            named.setdefault(name, signal)
        for prop in self.root.iter(_b("correlationProperty")):
            expressions = prop.findall(".//bpmn:correlationPropertyRetrievalExpression", NS)
            if not expressions:
                raise self.fail(prop, f"correlation property '{prop.get('id')}' needs a "
                                      "correlationPropertyRetrievalExpression")
            for expression in expressions:
                if not expression.get("messageRef"):
                    raise self.fail(expression, "a correlationPropertyRetrievalExpression needs a messageRef")

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

    def _check_event_scope(self, scope: etree._Element) -> None:
        """Refuse, as Camunda 7's parser does, catching events of one scope that would take the same trigger:
        two signal start events (or two event subprocesses) on one signal name, and escalation boundary events
        of one activity or escalation event subprocesses of one scope that catch the same escalation code (an
        escalation without a code catches every one)."""
        starts: dict[str, etree._Element] = {}
        subprocess_starts: dict[str, etree._Element] = {}
        for el in scope:
            if el.tag == _b("startEvent"):
                self._one_signal_subscription(el, starts, "signal start events")
            elif el.tag == _b("subProcess") and (el.get("triggeredByEvent") or "").strip().lower() == "true":
                for start in el.iterfind("bpmn:startEvent", NS):
                    self._one_signal_subscription(start, subprocess_starts, "signal event subprocesses")
        catchers: dict[str, list[tuple[etree._Element, str | None]]] = defaultdict(list)
        for el in scope:
            if el.tag == _b("boundaryEvent"):
                owner, start = f"boundary {el.get('attachedToRef')}", el
            elif el.tag == _b("subProcess") and (el.get("triggeredByEvent") or "").strip().lower() == "true":
                owner, start = "event subprocess", el.find("bpmn:startEvent", NS)
            else:
                continue
            definition = start.find("bpmn:escalationEventDefinition", NS) if start is not None else None
            if definition is None:
                continue
            attached = self.ids.get(el.get("attachedToRef") or "") if owner.startswith("boundary") else None
            if attached is not None and etree.QName(attached).localname not in _ESCALATION_HOSTS:
                # Camunda 7's words: only these can raise an escalation that a boundary event catches
                raise self.fail(el, "An escalation boundary event should only be attached to a subprocess, a call "
                                    "activity or an user task")
            escalation = self.ids.get(definition.get("escalationRef") or "")
            code = (escalation.get("escalationCode") or "").strip() or None if escalation is not None else None
            kind = "escalation boundary event" if owner.startswith("boundary") else "escalation event subprocess"
            plural = "escalation boundary events" if owner.startswith("boundary") else "escalation event subprocesses"
            for _other, other_code in catchers[owner]:
                if code is None and other_code is None:
                    raise self.fail(el, f"The same scope can not contains more than one {kind} without escalation "
                                        f"code: an {kind} without escalation code catches every escalation")
                if code is None or other_code is None:
                    raise self.fail(el, f"The same scope can not contains an {kind} without escalation code and "
                                        f"another one with escalation code: the one without catches every escalation")
                if code == other_code:
                    raise self.fail(el, f"multiple {plural} with the same escalationCode '{code}' are not "
                                        "supported on same scope")
            catchers[owner].append((el, code))

    def _one_signal_subscription(self, start: etree._Element, seen: dict[str, etree._Element], what: str) -> None:
        definition = start.find("bpmn:signalEventDefinition", NS)
        signal = self._resolve(definition, definition.get("signalRef") or "", "signal") \
            if definition is not None else None
        name = (signal.get("name") or "").strip() if signal is not None else ""
        if not name:
            return
        if name in seen:
            raise self.fail(start, f"Cannot have more than one signal event subscription with name '{name}' in "
                                   f"one scope: {what} '{seen[name].get('id')}' and '{start.get('id')}' both "
                                   "start on it")
        seen[name] = start

    def _check_scope(self, scope: etree._Element) -> None:
        """Checks of one process or subprocess about its sequence flows, in an executable process.

        SpiffWorkflow's own messages here are truncated or name no element, and some cases it accepts silently
        (a condition on a flow leaving a task is ignored; a boundary event on a missing activity is dropped).
        """
        children = {el.get("id"): el for el in scope if el.get("id")}
        outgoing: dict[str, list[etree._Element]] = defaultdict(list)
        for el in scope:
            if not isinstance(el.tag, str) or etree.QName(el).namespace != BPMN_NS:
                continue
            tag = etree.QName(el).localname
            if tag == "sequenceFlow":
                outgoing[el.get("sourceRef")].append(el)
                for ref in ("sourceRef", "targetRef"):
                    end = etree.QName(children[el.get(ref)]).localname
                    if not _is_flow_node(end):
                        raise self.fail(el, f"sequence flow {ref} '{el.get(ref)}' names {_a(end)}, not an activity, "
                                            "event or gateway")
            elif _is_flow_node(tag) and not (el.get("id") or "").strip():
                raise self.fail(el, f"{_a(tag)} needs an id")
        targets = {flow.get("targetRef") for flow in scope.iterfind("bpmn:sequenceFlow", NS)}
        for el in children.values():
            if (el.get("isForCompensation") or "").lower() == "true" and (el.get("id") in targets
                                                                           or el.get("id") in outgoing):
                # Camunda refuses it too: a compensation handler runs only when compensation is thrown.
                raise self.fail(el, "a compensation handler (isForCompensation) cannot have sequence flows")
            default = el.get("default")
            if default is None:
                continue
            flow = children.get(default)
            if flow is None or etree.QName(flow).localname != "sequenceFlow" or flow.get("sourceRef") != el.get("id"):
                raise self.fail(el, f"default flow '{default}' is not a sequence flow leaving this element")
        for source_id, flows in outgoing.items():
            source = children[source_id]
            tag = etree.QName(source).localname
            if tag in ("exclusiveGateway", "inclusiveGateway"):
                if len(flows) > 1:
                    for flow in flows:
                        if (flow.find("bpmn:conditionExpression", NS) is None
                                and flow.get("id") != source.get("default")):
                            # Camunda takes a flow without a condition as if its condition held.
                            _always(flow)
                continue
            if tag == "eventBasedGateway":
                for flow in flows:
                    target = children[flow.get("targetRef")]
                    target_tag = etree.QName(target).localname
                    waits = target_tag == "receiveTask" or (target_tag == "intermediateCatchEvent" and any(
                        etree.QName(c).localname.endswith("EventDefinition") for c in target.iter(etree.Element)))
                    if not waits:
                        raise self.fail(flow, f"this sequence flow leads from an event-based gateway to "
                                              f"{_a(target_tag)} '{target.get('id')}': it can only lead to "
                                              "intermediate catch events (message, timer, signal, conditional) or "
                                              "receive tasks")
                    self._only_from_gateway(scope, source, target)
                    self.gateway_of[target.get("id")] = self._original_id(source.get("id"))
                continue
            if tag in ("parallelGateway", "complexGateway"):
                continue
            conditioned = any(flow.find("bpmn:conditionExpression", NS) is not None for flow in flows)
            if conditioned or (len(flows) > 1 and tag != "startEvent"):
                self._split_after(scope, source, flows, conditioned)

    def _only_from_gateway(self, scope: etree._Element, gateway: etree._Element, event: etree._Element) -> None:
        """Refuse, as Camunda 7's parser does (naming the flow), another incoming flow of an event after an
        event-based gateway: the event is one of the gateway's alternatives, and a token reaching it another way
        finds no wait of its own (SpiffWorkflow moves the event's trigger to the gateway and lets such a token
        pass the event at once)."""
        for flow in scope.iterfind("bpmn:sequenceFlow", NS):
            if flow.get("targetRef") == event.get("id") and flow.get("sourceRef") != gateway.get("id"):
                raise self.fail(flow, f"Invalid incoming sequenceflow for {etree.QName(event).localname} with id "
                                      f"'{self._original_id(event.get('id'))}' connected to an event-based gateway: "
                                      f"an event after event-based gateway "
                                      f"'{self._original_id(gateway.get('id'))}' can only be reached from it")

    def _resolve_links(self, scope: etree._Element) -> None:
        """Link events, as Camunda runs them: a link throw event goes on at the link catch event of the same name
        in the same process or subprocess. They become a sequence flow between two none events (SpiffWorkflow's
        own link events lose the token)."""
        catches: dict[str, etree._Element] = {}
        throws: list[tuple[etree._Element, str]] = []
        for event in scope:
            if not isinstance(event.tag, str) or event.tag not in (_b("intermediateCatchEvent"),
                                                                   _b("intermediateThrowEvent")):
                continue
            link = event.find("bpmn:linkEventDefinition", NS)
            if link is None:
                continue
            name = (link.get("name") or event.get("name") or "").strip()
            if not name:
                raise self.fail(link, "a link event needs a name: the throw and catch events are paired by it")
            if event.tag == _b("intermediateThrowEvent"):
                throws.append((event, name))
            elif name in catches:
                raise self.fail(event, f"two link catch events are named '{name}' (the other is "
                                       f"'{catches[name].get('id')}'): a link throw event must have one target")
            else:
                catches[name] = event
            event.remove(link)
        for event, name in throws:
            target = catches.get(name)
            if target is None:
                raise self.fail(event, f"the link throw event '{name}' has no link catch event of that name in "
                                       "the same process or subprocess")
            flow_id = self._fresh_id(f"{HIDDEN_PREFIX}link_{event.get('id')}")
            self.ids[flow_id] = etree.SubElement(scope, _b("sequenceFlow"), id=flow_id, sourceRef=event.get("id"),
                                                 targetRef=target.get("id"))
        for target in catches.values():
            target.tag = _b("intermediateThrowEvent")  # a none event the token passes through

    def _compensation(self, proc: etree._Element) -> None:
        """Compensation events, handlers and compensation event subprocesses of executable process `proc`,
        rewritten into elements SpiffWorkflow runs (`engine.compensation`)."""
        from .compensation import rewrite  # it reads this module's names: imported once this one is loaded

        rewrite(self, proc)

    def _hidden_flow(self, scope: etree._Element, source: str, target: str) -> str:
        flow_id = self._fresh_id(f"{HIDDEN_PREFIX}flow_{source}")
        self.ids[flow_id] = etree.SubElement(scope, _b("sequenceFlow"), id=flow_id, sourceRef=source,
                                             targetRef=target)
        return flow_id

    def _split_after(self, scope: etree._Element, source: etree._Element, flows: list[etree._Element],
                     conditioned: bool) -> None:
        """Camunda's uncontrolled flow: an activity or event with several outgoing flows takes every one whose
        condition holds (a flow without one always), the default flow when none does. SpiffWorkflow ignores
        such conditions, so the flows are made to leave a hidden gateway placed right after the element: a
        parallel one, or an inclusive one when a flow has a condition (none holding is an error, as in Camunda).
        """
        source_id = source.get("id")
        kind = "inclusiveGateway" if conditioned else "parallelGateway"
        gateway_id = self._fresh_id(f"{HIDDEN_PREFIX}split_{source_id}")
        gateway = etree.Element(_b(kind), id=gateway_id)
        source.addnext(gateway)
        self.ids[gateway_id] = gateway
        self.hidden_for[gateway_id] = self._original_id(source_id)
        default = source.attrib.pop("default", None)
        if default is not None:
            gateway.set("default", default)
        for flow in flows:
            flow.set("sourceRef", gateway_id)
            if conditioned and flow.find("bpmn:conditionExpression", NS) is None and flow.get("id") != default:
                _always(flow)
        flow_id = self._fresh_id(f"{HIDDEN_PREFIX}flow_{source_id}")
        self.ids[flow_id] = etree.SubElement(scope, _b("sequenceFlow"), id=flow_id, sourceRef=source_id,
                                             targetRef=gateway_id)

    def _end_dead_ends(self, scope: etree._Element) -> None:
        """Give each flow node of `scope` with no outgoing sequence flow a hidden end event to flow to.

        Camunda ends the path there (an implicit end); SpiffWorkflow would let the token vanish without the
        process or subprocess ever completing (and refuses a subprocess without an end event).
        """
        sources = {flow.get("sourceRef") for flow in scope.iterfind("bpmn:sequenceFlow", NS)}
        for el in list(scope):
            if not isinstance(el.tag, str) or etree.QName(el).namespace != BPMN_NS:
                continue
            tag = etree.QName(el).localname
            el_id = el.get("id")
            if (not el_id or el_id in sources or not _is_flow_node(tag) or tag == "endEvent"
                    or el.get("isForCompensation", "false").lower() == "true"
                    or el.get("triggeredByEvent", "false").lower() == "true"):
                continue
            end_id = self._fresh_id(f"{HIDDEN_PREFIX}end_{el_id}")
            end = etree.SubElement(scope, _b("endEvent"), id=end_id)
            self.ids[end_id] = end
            flow_id = self._fresh_id(f"{HIDDEN_PREFIX}end_flow_{el_id}")
            self.ids[flow_id] = etree.SubElement(scope, _b("sequenceFlow"), id=flow_id, sourceRef=el_id,
                                                 targetRef=end_id)

    def _fresh_id(self, base: str) -> str:
        candidate, n = base, 1
        while candidate in self.ids:
            n += 1
            candidate = f"{base}_{n}"
        return candidate

    def _check_foreign_ids(self, proc: etree._Element) -> None:
        """SpiffWorkflow finds a sequence flow's target among every element with an id attribute, whatever its
        namespace, and a later one wins: a form field after the task with its id replaces the task (and the
        deploy fails with an unrelated message)."""
        bpmn_ids: dict[str, etree._Element] = {}
        for el in proc.iter(etree.Element):
            el_id = el.get("id")
            if not el_id:
                continue
            name = etree.QName(el)
            if name.namespace == BPMN_NS:
                if _is_flow_node(name.localname):
                    bpmn_ids.setdefault(el_id, el)
            elif el_id in bpmn_ids:
                other = bpmn_ids[el_id]
                prefix = el.prefix + ":" if el.prefix else ""
                raise self.fail(el, f"the id '{el_id}' of {prefix}{name.localname} is also the id of the "
                                    f"{etree.QName(other).localname} on line {other.sourceline}: rename one of them")

    def _process(self, proc: etree._Element) -> ProcessInfo:
        self._check_foreign_ids(proc)
        self._compensation(proc)  # the whole process first: it adds hidden subprocesses the loop below checks
        for scope in (proc, *proc.iter(_b("subProcess"), _b("transaction"), _b("adHocSubProcess"))):
            self._resolve_links(scope)
            self._check_scope(scope)
            self._check_event_scope(scope)
            if scope.tag != _b("adHocSubProcess"):
                self._end_dead_ends(scope)
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
            category=proc.getroottree().getroot().get("targetNamespace"),
            history_time_to_live=self._history_time_to_live(proc),
            startable_in_tasklist=(proc.get(_c("isStartableInTasklist")) or "true").strip().lower() != "false",
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
                # a copy (see `engine.compensation`) is known by its own id here, by the original's elsewhere
                info.elements[el.get("id") if el.get("id") in self.copies else element.element_id] = element
                if element.called_element:
                    info.called_elements.add(element.called_element)
                if element.called_expression:
                    info.dynamic_calls = True
                if element.decision_ref and not is_expression(element.decision_ref):  # (one with an expression
                    info.decision_refs.add(element.decision_ref)  # is bound when the task runs)
        for el in self.dropped:
            el.getparent().remove(el)
        self.dropped.clear()
        for start in proc.iterfind("bpmn:startEvent", NS):
            start_id = self._original_id(start.get("id"))
            if start.find("bpmn:messageEventDefinition", NS) is not None:
                info.message_starts.append(start_id)
            elif start.find("bpmn:signalEventDefinition", NS) is not None:
                info.signal_starts.append(start_id)
            elif start.find("bpmn:timerEventDefinition", NS) is not None:
                info.timer_starts.append(start_id)
                literal = self.timer_literals.get(start.get("id"))
                if literal is None:
                    raise self.fail(start, "a timer start event needs a literal date, duration or cycle "
                                           "(it is scheduled at deploy, before any variable exists)")
                info.timer_start_specs.append((start_id, *literal))
            else:
                info.start_form = info.elements[start_id].form
        return info

    def _lanes(self, proc: etree._Element) -> dict[str, str]:
        inside = {el.get("id") for el in proc.iter() if el.get("id")}
        lanes = {}
        for lane in proc.iter(_b("lane")):
            group = (lane.get("name") or "").strip()
            for ref in lane.iterfind("bpmn:flowNodeRef", NS):
                node_id = (ref.text or "").strip()
                if node_id not in inside:
                    raise self.fail(ref, f"lane flowNodeRef '{node_id}' names no element of process '{proc.get('id')}'")
                ref.text = node_id  # SpiffWorkflow matches the text as it is
                if group:
                    lanes.setdefault(node_id, group)
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
        info = ElementInfo(element_id=self._original_id(el.get("id")), tag=tag, name=el.get("name"))
        if el.get("id") in self.renamed:
            info.spiff_id = el.get("id")
        info.hidden_for = self.hidden_for.get(el.get("id"))
        info.event_gateway = self.gateway_of.get(el.get("id"))
        info.compensable = el.get("id") in self.compensable
        info.compensates = self.compensates.get(el.get("id"))
        info.compensating = self.compensating.get(el.get("id"))
        doc = el.find("bpmn:documentation", NS)
        if doc is not None and doc.text:
            info.documentation = doc.text.strip()
        info.scoped = el.find("bpmn:multiInstanceLoopCharacteristics", NS) is not None or next(
            el.iterancestors(_b("subProcess"), _b("transaction")), None) is not None
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
        error = el.find("bpmn:errorEventDefinition", NS)
        if error is not None:
            info.error_code_variable = error.get(_c("errorCodeVariable"))
            info.error_message_variable = error.get(_c("errorMessageVariable"))
            thrown = self.ids.get((error.get("errorRef") or "").strip())
            if tag == "endEvent" and thrown is not None and thrown.get(_c("errorMessage")) is not None:
                info.error_message = thrown.get(_c("errorMessage"))
                if is_expression(info.error_message):
                    self._expr(thrown, info.error_message, "camunda:errorMessage")
        escalation = el.find("bpmn:escalationEventDefinition", NS)
        if escalation is not None:
            info.escalation_code_variable = escalation.get(_c("escalationCodeVariable"))
        conditional = el.find("bpmn:conditionalEventDefinition", NS)
        if conditional is not None:
            info.condition_variable = (conditional.get(_c("variableName")) or "").strip() or None
            kinds = tuple(k.strip().lower() for k in (conditional.get(_c("variableEvents")) or "").split(",")
                          if k.strip())
            unknown = [k for k in kinds if k not in CONDITION_EVENTS]
            if unknown:
                raise self.fail(conditional, f"camunda:variableEvents '{', '.join(unknown)}' is not a variable event: "
                                             f"use {', '.join(CONDITION_EVENTS)}")
            info.condition_events = kinds
        if tag == "subProcess":
            info.triggered_by_event = el.get("triggeredByEvent", "false").lower() == "true"
        if tag in ("startEvent", "userTask"):
            info.form_key = (el.get(_c("formKey")) or "").strip() or None
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
            self._people(el, info)
        if el.get(_c("type")) == "external":
            topic = el.get(_c("topic"))
            if not topic:
                raise self.fail(el, 'an external task (camunda:type="external") needs a camunda:topic')
            info.external_topic = topic
            if is_expression(topic):  # evaluated when the task is created, as Camunda's
                info.topic_source = self._expr(el, topic.strip(), "camunda:topic")
            info.task_priority = self._text_attr(el, "taskPriority")
            info.error_checks = self._error_checks(el)
            info.properties = {prop.get("name"): prop.get("value") or ""
                               for prop in el.findall("bpmn:extensionElements/camunda:properties/camunda:property", NS)
                               if prop.get("name")}
        elif el.find("bpmn:extensionElements/camunda:errorEventDefinition", NS) is not None:
            raise self.fail(el.find("bpmn:extensionElements/camunda:errorEventDefinition", NS),
                            'camunda:errorEventDefinition is read only on an external task (camunda:type="external"),'
                            " as in Camunda: catch this element's errors with an error boundary event")
        if tag == "callActivity":
            self._call_activity(el, info)
        signal = el.find("bpmn:signalEventDefinition", NS) if tag in ("intermediateThrowEvent", "endEvent") else None
        if signal is not None:  # what a thrown signal carries: only what its camunda:in map (Camunda's payload)
            info.in_mappings = self._mappings(el, signal, "in")
        if el.get(_c("type")) == "mail" and tag in ("serviceTask", "sendTask"):
            info.mail = self._mail_fields(el)
        self._io_mapping(el, tag, info)
        if tag == "businessRuleTask" and el.get(_c("decisionRef")):
            info.decision_ref = el.get(_c("decisionRef"))
            info.result_variable = el.get(_c("resultVariable"))
            info.map_decision_result = el.get(_c("mapDecisionResult"))
            if info.map_decision_result not in (None, "singleEntry", "singleResult", "collectEntries",
                                                "resultList"):
                raise self.fail(el, f"unknown camunda:mapDecisionResult '{info.map_decision_result}' (use "
                                    "singleEntry, singleResult, collectEntries or resultList)")
        return info

    def _original_id(self, element_id: str) -> str:
        return self.renamed.get(element_id, element_id)

    def _history_time_to_live(self, proc: etree._Element) -> int | None:
        """`camunda:historyTimeToLive` in days: a whole number or `P<days>D`, as Camunda reads it (empty: none)."""
        raw = (proc.get(_c("historyTimeToLive")) or "").strip()
        if not raw:
            return None
        found = re.fullmatch(r"(-?\d+)|P(\d+)D", raw)
        if found is None:
            raise self.fail(proc, f"camunda:historyTimeToLive '{raw}' is not a number of days (such as 180 or P180D)")
        days = int(found.group(1) or found.group(2))
        if days < 0:
            raise self.fail(proc, f"camunda:historyTimeToLive '{raw}' is negative")
        return days

    def _people(self, el: etree._Element, info: ElementInfo) -> None:
        """BPMN's own `humanPerformer` (the assignee) and `potentialOwner` (`user(kermit), group(sales)`; a bare name
        is a group), read as Camunda reads them, beside its `camunda:` attributes."""
        performers = el.findall("bpmn:humanPerformer", NS)
        if len(performers) > 1:
            raise self.fail(el, "a user task has at most one humanPerformer")
        for performer in performers:
            text = _formal_expression(performer)
            if text is None:
                raise self.fail(performer, "a humanPerformer needs a resourceAssignmentExpression with a "
                                           "formalExpression naming the assignee")
            if info.assignee is not None:
                raise self.fail(el, "a user task has either a humanPerformer or a camunda:assignee, not both")
            info.assignee = self._expr(el, text, "humanPerformer")
        users, groups = [], []
        for owner in el.findall("bpmn:potentialOwner", NS):
            text = _formal_expression(owner)
            if text is None:
                raise self.fail(owner, "a potentialOwner needs a resourceAssignmentExpression with a "
                                       "formalExpression (user(name), group(name) or a group's name)")
            for part in (p.strip() for p in text.split(",")):
                if not part:
                    continue
                kind, name = "group", part
                for prefix in ("user", "group"):
                    if part.startswith(f"{prefix}(") and part.endswith(")"):
                        kind, name = prefix, part[len(prefix) + 1:-1].strip()
                (users if kind == "user" else groups).append(self._expr(el, name, "potentialOwner"))
        if users:
            info.candidate_users = _all_of(info.candidate_users, users)
        if groups:
            info.candidate_groups = _all_of(info.candidate_groups, groups)

    def _text_attr(self, el: etree._Element, name: str) -> str | None:
        raw = el.get(_c(name))
        if raw is None or raw.strip() == "":
            return None
        return self._expr(el, raw.strip(), f"camunda:{name}")

    def _error_checks(self, el: etree._Element) -> list[tuple[str | None, str]]:
        """An external task's `camunda:errorEventDefinition`s (Camunda 7.16+): when the worker completes the task or
        reports a failure, the first whose expression is true throws its `bpmn:error` instead. The expression sees
        the variables and `externalTask` (`${externalTask.getErrorDetails().contains('declined')}`)."""
        checks = []
        for definition in el.findall("bpmn:extensionElements/camunda:errorEventDefinition", NS):
            ref = (definition.get("errorRef") or "").strip()
            error = self.ids.get(ref) if ref else None
            if ref and (error is None or etree.QName(error).localname != "error"):
                raise self.fail(definition, f"camunda:errorEventDefinition errorRef '{ref}' names no bpmn:error")
            expression = (definition.get("expression") or "").strip()
            if not expression:
                raise self.fail(definition, "camunda:errorEventDefinition needs an expression (when to throw its "
                                            "error), such as ${externalTask.getErrorDetails() == 'declined'}")
            code = error.get("errorCode") if error is not None else None
            checks.append((code, self._expr(definition, expression, "camunda:errorEventDefinition expression")))
        return checks

    def _expr(self, el: etree._Element, text: str, what: str) -> str:
        try:
            return text_to_python(text, element_id=el.get("id"))
        except ExpressionError as err:
            raise self.fail(el, _expression_problem(what, err))

    def _call_activity(self, el: etree._Element, info: ElementInfo) -> None:
        called = el.get("calledElement")
        if not called and el.get(_c("caseRef")):
            raise self.fail(el, f"camunda:caseRef calls the CMMN case '{el.get(_c('caseRef'))}': Stageflow runs no "
                                "CMMN; call a BPMN process instead (calledElement, the key of the process to call)")
        if not called:
            raise self.fail(el, "a call activity needs a calledElement (the key of the process to call)")
        if is_expression(called):
            # Chosen when the call activity starts, among the processes deployed with this file (they are compiled
            # together): SpiffWorkflow's spec names a placeholder that each instance binds (`StageflowCallActivity`).
            info.called_expression = self._expr(el, called, "calledElement")
            el.set("calledElement", f"{DYNAMIC_CALL_PREFIX}{el.get('id')}")
        else:
            info.called_element = called
        info.called_binding = el.get(_c("calledElementBinding"), "latest")
        if info.called_binding not in ("latest", "deployment", "version", "versionTag"):
            raise self.fail(el, f"unknown camunda:calledElementBinding '{info.called_binding}'")
        info.called_version = el.get(_c("calledElementVersion")) or el.get(_c("calledElementVersionTag"))
        if info.called_binding in ("version", "versionTag") and not info.called_version:
            raise self.fail(el, f"calledElementBinding '{info.called_binding}' needs camunda:calledElementVersion")
        info.in_mappings = self._mappings(el, el, "in")
        info.out_mappings = self._mappings(el, el, "out")

    def _mappings(self, el: etree._Element, holder: etree._Element, tag: str) -> list[Mapping]:
        """The `camunda:in` or `camunda:out` mappings in the extension elements of `holder` (element `el` or its
        event definition)."""
        found = []
        for node in holder.iterfind(f"bpmn:extensionElements/camunda:{tag}", NS):
            mapping = Mapping(
                source=node.get("source"),
                target=node.get("target"),
                all_variables=node.get("variables") == "all",
                local=(node.get("local") or "").strip().lower() == "true",
            )
            if node.get("sourceExpression"):
                mapping.source_expression = self._expr(el, node.get("sourceExpression"), "sourceExpression")
            if node.get("businessKey"):
                mapping.business_key = self._expr(el, node.get("businessKey"), "businessKey")
            self._check_mapping(node, tag, mapping)
            found.append(mapping)
        return found

    def _check_mapping(self, node: etree._Element, tag: str, mapping: Mapping) -> None:
        """Refuse a `camunda:in`/`camunda:out` that Camunda 7 refuses (with its words, BpmnParseTest), saying what
        it needs: `variables="all"`, a `businessKey`, or a source (or sourceExpression) and a target."""
        if mapping.all_variables or (tag == "in" and mapping.business_key):
            return
        what = f"camunda:{tag} needs a target and a source (or sourceExpression), or variables=\"all\"" + (
            " or a businessKey" if tag == "in" else "")
        if mapping.source == "" or node.get("sourceExpression") == "":
            raise self.fail(node, f"{what}: Empty attribute 'source' when passing variables")
        if mapping.source is None and mapping.source_expression is None:
            raise self.fail(node, f"{what}: Missing parameter 'source' or 'sourceExpression' when passing variables")
        if mapping.target is None:
            raise self.fail(node, f"{what}: Missing attribute 'target' when attribute 'source' or "
                                  "'sourceExpression' is set")
        if not mapping.target.strip():
            raise self.fail(node, f"{what}: Empty attribute 'target' when attribute 'source' or 'sourceExpression' "
                                  "is set")

    def _mail_fields(self, el: etree._Element) -> dict[str, str]:
        """The `camunda:field`s of a mail task (camunda:type="mail"), as Camunda 7's mail activity reads them: each
        a literal (`stringValue`, `camunda:string`) or an expression (`expression`, `camunda:expression`, which may
        mix text and `${...}`), kept as Python source. Camunda refuses a mail task without `to` or without a body."""
        fields: dict[str, str] = {}
        for node in el.iterfind("bpmn:extensionElements/camunda:field", NS):
            name = (node.get("name") or "").strip()
            if name not in MAIL_FIELDS:
                raise self.fail(node, f"mail task field '{name}' is unknown: use {', '.join(MAIL_FIELDS)}")
            string, expression = node.find("camunda:string", NS), node.find("camunda:expression", NS)
            if node.get("stringValue") is not None or string is not None:
                text = node.get("stringValue") if string is None else (string.text or "")
                fields[name] = repr(text.strip())
            elif node.get("expression") is not None or expression is not None:
                text = (node.get("expression") if expression is None else expression.text or "").strip()
                fields[name] = self._expr(node, text, f"mail task field '{name}'") if text else "None"
            else:
                raise self.fail(node, f"mail task field '{name}' needs a camunda:string or a camunda:expression")
        if "to" not in fields:
            raise self.fail(el, "No recipient is defined on the mail activity: give it a camunda:field 'to'")
        if "text" not in fields and "html" not in fields:
            raise self.fail(el, "Text or html field should be provided: give the mail task a camunda:field 'text' "
                                "or 'html'")
        return fields

    def _io_mapping(self, el: etree._Element, tag: str, info: ElementInfo) -> None:
        """`camunda:inputOutput`: input parameters are the activity's local variables, computed from the outer
        ones when it starts; output parameters are computed from its locals when it ends and set outside. The
        elements Camunda refuses it on are refused likewise."""
        io = el.find("bpmn:extensionElements/camunda:inputOutput", NS)
        if io is None:
            return
        if not (tag.lower().endswith(("task", "event")) or tag in ("transaction", "subProcess", "callActivity")):
            raise self.fail(io, f"camunda:inputOutput is not supported on {_a(tag)}")
        outputs = io.findall("camunda:outputParameter", NS)
        if outputs and tag == "endEvent":
            raise self.fail(outputs[0], "camunda:outputParameter is not allowed on an end event")
        if outputs and el.find("bpmn:multiInstanceLoopCharacteristics", NS) is not None:
            raise self.fail(outputs[0], "camunda:outputParameter is not allowed on a multi-instance activity: "
                                        "collect the results in the activity's own data instead")
        for kind, target in (("input", info.inputs), ("output", info.outputs)):
            for param in io.iterfind(f"camunda:{kind}Parameter", NS):
                name = (param.get("name") or "").strip()
                if not _NAME.match(name):
                    raise self.fail(param, f"camunda:{kind}Parameter needs a variable name, not '{name}'")
                target.append((name, self._io_value(el, param, f"camunda:{kind}Parameter '{name}'")))

    def _io_value(self, el: etree._Element, node: etree._Element, what: str) -> str:
        """Python source of the value a parameter, list value or map entry holds: its text (a literal or an
        expression), or the camunda:list / camunda:map inside it."""
        children = [c for c in node if isinstance(c.tag, str)]
        if not children:
            text = (node.text or "").strip()
            return self._expr(el, text, what) if text else "None"
        return self._io_node(el, children[0], what)

    def _io_node(self, el: etree._Element, node: etree._Element, what: str) -> str:
        kind = etree.QName(node).localname
        items = [c for c in node if isinstance(c.tag, str)]
        if kind == "list":
            return "[" + ", ".join(self._io_value(el, item, what) if etree.QName(item).localname == "value"
                                   else self._io_node(el, item, what) for item in items) + "]"
        if kind == "map":
            entries = [(self._expr(el, (entry.get("key") or "").strip(), f"{what} map key"),
                        self._io_value(el, entry, what)) for entry in items]
            return "{" + ", ".join(f"{key}: {value}" for key, value in entries) + "}"
        if kind == "value":
            return self._io_value(el, node, what)
        if kind == "script":
            fmt = (node.get("scriptFormat") or "").strip()
            raise self.fail(node, f"{what}: a script as a parameter value ({fmt or 'no'} script format) is not "
                                  "supported by Stageflow: write the value as an expression (${...})")
        raise self.fail(node, f"{what}: unknown value element camunda:{kind}")

    # -- rewrites and refusals, by tag ----------------------------------------------------------------------
    def _refuse_java(self, el: etree._Element) -> None:
        for attr in _JAVA_ATTRS:
            if el.get(_c(attr)):
                raise self._java(el, attr)
        self._refuse_connector(el)

    def _refuse_connector(self, el: etree._Element) -> None:
        if el.find("bpmn:extensionElements/camunda:connector", NS) is not None:
            raise self.fail(el, "camunda:connector is not supported: use an external task topic instead")

    def _java(self, el: etree._Element, attr: str) -> DefinitionError:
        return self.fail(el, f"camunda:{attr} (Java code) is not supported by Stageflow: make it an external task "
                             '(camunda:type="external" camunda:topic="...") served by a worker')

    def _expression_task(self, el: etree._Element, text: str) -> None:
        """A service or send task Camunda runs by evaluating its `camunda:expression` (a stub `${true}`, a value kept
        in `camunda:resultVariable`): Stageflow evaluates it where its JUEL covers the expression; one that calls
        Java code (a bean's method) is refused as Java code is. The attribute becomes its Python source."""
        self._refuse_connector(el)
        try:
            source = text_to_python(text, element_id=el.get("id"))
        except ExpressionError as err:
            reason = getattr(err, "reason", err.message)
            if reason.startswith("method calls are not supported"):  # a bean's or another Java method: Java code
                raise self._java(el, "expression") from None
            raise self.fail(el, f"camunda:expression '{text}': {reason}") from None
        result = el.get(_c("resultVariable"))
        if result is not None and not _NAME.match(result.strip()):
            raise self.fail(el, f"camunda:resultVariable '{result}' is not a variable name")
        el.set(_c("expression"), source)

    def _el_serviceTask(self, el: etree._Element) -> None:
        tag = etree.QName(el).localname
        expression = el.get(_c("expression"))
        if expression and el.get(_c("type")) is None and not el.get(_c("class")) and not el.get(
                _c("delegateExpression")):
            self._expression_task(el, expression)
            return
        self._refuse_java(el)
        kind = el.get(_c("type"))
        if kind is None:
            # Camunda refuses it too; SpiffWorkflow would start it and wait for ever.
            raise self.fail(el, f'{_a(tag)} needs an implementation: make it an external task '
                                '(camunda:type="external" camunda:topic="...") served by a worker')
        if kind == "mail":
            return  # Camunda 7's mail task: Stageflow writes the letter to its outbox (fields read in `_element`)
        if kind == "shell":
            # Camunda 7 runs the command on the engine's host; a diagram may not reach the operating system here.
            raise self.fail(el, 'camunda:type="shell" is not supported by Stageflow (it runs a command on the '
                                'engine\'s host): run the command in an external task worker (camunda:type="external" '
                                'with a camunda:topic)')
        if kind != "external":
            # Camunda's other built-in connectors run inside its JVM; here the task would wait for ever.
            raise self.fail(el, f'camunda:type="{kind}" is not supported by Stageflow: use camunda:type="external" '
                                'with a camunda:topic and do the work in a worker')

    _el_sendTask = _el_serviceTask

    def _el_businessRuleTask(self, el: etree._Element) -> None:
        self._refuse_java(el)
        if not el.get(_c("decisionRef")) and el.get(_c("type")) != "external":
            raise self.fail(el, "a business rule task needs camunda:decisionRef (a DMN decision) or an external topic")
        binding = el.get(_c("decisionRefBinding"), "latest")
        if binding not in ("latest", "deployment", "version", "versionTag"):
            raise self.fail(el, f"camunda:decisionRefBinding '{binding}' is not one of latest, deployment, version, "
                                "versionTag")
        needed = {"version": "decisionRefVersion", "versionTag": "decisionRefVersionTag"}.get(binding)
        if needed and not el.get(_c(needed)):
            raise self.fail(el, f"camunda:decisionRefBinding '{binding}' needs camunda:{needed}")
        # decisionRef, decisionRefVersion and decisionRefVersionTag may be expressions, evaluated when the task runs
        for attr in ("decisionRef", "decisionRefVersion", "decisionRefVersionTag"):
            value = el.get(_c(attr))
            if value and is_expression(value):
                if attr == "decisionRef" and binding == "deployment":
                    raise self.fail(el, "camunda:decisionRef with an expression binds the latest version, a version "
                                        "or a version tag in Stageflow, not the deployment's")
                try:
                    text_to_python(value, element_id=_owner_id(el) or el.get("id"))
                except ExpressionError as err:
                    raise self.fail(el, _expression_problem(f"camunda:{attr}", err))

    def _el_linkEventDefinition(self, el: etree._Element) -> None:
        # Intermediate link events became sequence flows (`_resolve_links`); SpiffWorkflow 3.2 would "complete" a
        # workflow without reaching the link target, so any other use is refused rather than run wrong.
        raise self.fail(el, "a link event definition belongs on an intermediate throw or catch event")

    def _el_messageEventDefinition(self, el: etree._Element) -> None:
        self._refuse_java(el)
        owner = el.getparent()
        thrown = etree.QName(owner).localname in ("intermediateThrowEvent", "endEvent")
        if thrown and el.get("messageRef") and self._resolve(el, el.get("messageRef"), "message") is None:
            # Camunda 7 runs a message throw event without Java code as a none event and never reads its
            # messageRef: one naming no message is no error there, and throws nothing here either. (Removed
            # once the walk over the process is done: removing while lxml iterates would cut the walk short.)
            self.dropped.append(el)
            return
        self._reference(el, "messageRef", "message")
        if not thrown:
            self._message_name(el, owner)

    def _message_name(self, el: etree._Element, owner: etree._Element) -> None:
        """A caught message's name may hold an expression (`pay-${orderId}`), which the waiting task resolves
        (`spiff/message_names.py`), except on a start event, as in Camunda."""
        message = self.ids.get(el.get("messageRef") or "")
        name = (message.get("name") or "") if message is not None else ""
        if not is_expression(name):
            return
        if etree.QName(owner).localname == "startEvent":
            if etree.QName(owner.getparent()).localname == "process":  # Camunda's words
                start = self._original_id(owner.get("id") or "")
                raise self.fail(owner, f"Invalid message name '{name}' for element '{start}': expressions in the "
                                       "message start event name are not allowed!")
            raise self.fail(owner, f"message name '{name}': an event subprocess's message start event waits for a "
                                   "name without an expression in Stageflow (give the message a fixed name)")
        try:
            text_to_python(name, element_id=_owner_id(el))
        except ExpressionError as err:
            raise self.fail(message, _expression_problem("message name", err))

    def _el_receiveTask(self, el: etree._Element) -> None:
        if not (el.get("messageRef") or "").strip():
            # Camunda's receive task without a message waits until it is triggered (runtimeService.signal);
            # SpiffWorkflow would pass straight through it. Here it waits for a message named after the task's
            # id, which a client correlates to the instance (`stageflow correlate waitState --instance ID`).
            name = self._original_id(el.get("id") or "")
            message_id = self._fresh_id(f"{HIDDEN_PREFIX}trigger_{name}")
            self.ids[message_id] = etree.SubElement(self.root, _b("message"), id=message_id, name=name)
            el.set("messageRef", message_id)
        self._reference(el, "messageRef", "message")
        self._message_name(el, el)

    def _el_signalEventDefinition(self, el: etree._Element) -> None:
        if not (el.get("signalRef") or "").strip():  # Camunda refuses it too, on a catching or throwing event
            raise self.fail(el, "signalEventDefinition does not have required property 'signalRef': name the "
                                "signal the event throws or waits for")
        self._reference(el, "signalRef", "signal")

    def _el_errorEventDefinition(self, el: etree._Element) -> None:
        ref = (el.get("errorRef") or "").strip()
        target = self.ids.get(ref)
        if ref and (target is None or target.tag != _b("error")):
            # Camunda 7 reads an errorRef that names no <error> (by its id exactly: unlike messages and signals,
            # errors are not looked up as QNames) as the error code itself.
            el.set("errorRef", self._implicit_error(ref))
        self._reference(el, "errorRef", "error")

    def _el_escalationEventDefinition(self, el: etree._Element) -> None:
        owner = etree.QName(el.getparent()).localname
        throwing = owner in ("intermediateThrowEvent", "endEvent")
        if throwing and not (el.get("escalationRef") or "").strip():  # as Camunda's parser (a catch may omit it)
            raise self.fail(el, "escalationEventDefinition does not have required attribute 'escalationRef': name "
                                "the escalation the event throws")
        self._reference(el, "escalationRef", "escalation")
        escalation = self.ids.get(el.get("escalationRef") or "")
        if throwing and escalation is not None and not (escalation.get("escalationCode") or "").strip():
            what = "escalation end event" if owner == "endEvent" else "throwing escalation event"
            raise self.fail(el, f"{what} must have an 'escalationCode': escalation '{escalation.get('id')}' (line "
                                f"{escalation.sourceline}) has none")

    def _el_compensateEventDefinition(self, el: etree._Element) -> None:
        # Boundary and throw events and compensation event subprocesses became other elements (`_compensation`).
        owner = el.getparent()
        if etree.QName(owner).localname == "startEvent":
            raise self.fail(el, "a compensation start event belongs in an event subprocess (triggeredByEvent) of an "
                                "embedded subprocess: it is not allowed on the start event of a subprocess")
        raise self.fail(el, f"a compensation event definition is not allowed on {_a(etree.QName(owner).localname)}: "
                            "use a compensation boundary event, throw event or end event")

    def _resolve(self, el: etree._Element, ref: str, tag: str) -> etree._Element | None:
        """The `tag` element that reference `ref` names, or None.

        A message or signal reference is a QName (Camunda resolves those two so): `tns:newInvoice`, whose prefix
        is bound to the document's target namespace, names the element with id `newInvoice`.
        """
        target = self.ids.get(ref)
        if target is None and ":" in ref and tag in ("message", "signal"):
            prefix, local = ref.split(":", 1)
            namespace = el.nsmap.get(prefix)
            if namespace is not None and namespace == self.root.get("targetNamespace"):
                target = self.ids.get(local)
        return target if target is not None and target.tag == _b(tag) else None

    def _implicit_error(self, code: str) -> str:
        """Add `<error errorCode=code>` to the document for an errorRef naming no error; return its id."""
        error_id, n = code, 1
        while error_id in self.ids or not _NAME.match(error_id):
            n += 1
            error_id = f"sf_error_{n}"
        error = etree.SubElement(self.root, _b("error"), id=error_id, name=code, errorCode=code)
        self.ids[error_id] = error
        return error_id

    def _reference(self, el: etree._Element, attr: str, tag: str) -> None:
        """Check that `attr` of `el`, when given, names a `tag` element of this file (a named one for messages
        and signals), and write it as that element's id: SpiffWorkflow dereferences it without looking and
        fails with an unrelated TypeError."""
        ref = el.get(attr)
        if ref is None:
            return
        target = self._resolve(el, ref, tag)
        if target is None:
            raise self.fail(el, f"{attr} '{ref}' names no {tag} of this file")
        el.set(attr, target.get("id"))
        if tag in ("message", "signal") and not (target.get("name") or "").strip():
            raise self.fail(el, f"{tag} '{ref}' (line {target.sourceline}) has no name: Stageflow matches "
                                f"{tag}s by name, give it one")

    def _el_timerEventDefinition(self, el: etree._Element) -> None:
        kinds = [c for c in el if c.tag in (_b("timeDate"), _b("timeDuration"), _b("timeCycle"))]
        if len(kinds) != 1:
            raise self.fail(el, "a timer event needs exactly one of timeDate, timeDuration or timeCycle"
                                + (f" (it has {len(kinds)})" if kinds else ""))

    def _el_boundaryEvent(self, el: etree._Element) -> None:
        ref = el.get("attachedToRef")
        if not ref:
            raise self.fail(el, "a boundary event needs an attachedToRef (the activity it is attached to)")
        target = self.ids.get(ref)
        if (target is None or target.getparent() is not el.getparent()
                or etree.QName(target).localname not in _ACTIVITIES):
            raise self.fail(el, f"attachedToRef '{ref}' names no activity of the same process or subprocess")
        if not any(c.tag in _BOUNDARY_DEFINITIONS for c in el):
            raise self.fail(el, "a boundary event needs a timer, message, signal, error, escalation, conditional or "
                                "cancel event definition")

    def _el_startEvent(self, el: etree._Element) -> None:
        parent = el.getparent()
        if parent.tag in (_b("subProcess"), _b("transaction")) and \
                (parent.get("triggeredByEvent") or "").strip().lower() != "true":
            for child in el:
                if isinstance(child.tag, str) and child.tag.endswith("EventDefinition"):
                    # Camunda refuses it too ("timerEventDefinition is not allowed on start event within a subprocess")
                    raise self.fail(el, f"{etree.QName(child).localname} is not allowed on a start event within a "
                                        "subprocess: only an event subprocess (triggeredByEvent=\"true\") starts on "
                                        "an event")

    def _el_complexGateway(self, el: etree._Element) -> None:
        raise self.fail(el, "complex gateways are not supported: use an inclusive or exclusive gateway")

    def _el_standardLoopCharacteristics(self, el: etree._Element) -> None:
        maximum = el.get("loopMaximum")
        if maximum is not None and not (maximum.strip().isascii() and maximum.strip().isdigit()):
            raise self.fail(el, f"loopMaximum '{maximum}' is not a whole number")
        if maximum is None and el.find("bpmn:loopCondition", NS) is None:
            raise self.fail(el, "a standard loop needs a loopCondition or a loopMaximum")

    def _el_dataInputAssociation(self, el: etree._Element) -> None:
        self._data_association(el, "sourceRef", "input")

    def _el_dataOutputAssociation(self, el: etree._Element) -> None:
        self._data_association(el, "targetRef", "output")

    def _data_association(self, el: etree._Element, ref_tag: str, kind: str) -> None:
        """A task's data association must lead to a data object visible from the task: SpiffWorkflow reads
        nothing else (properties and process inputs fail it with an lxml element in the message). One with a
        data store is dropped: Camunda 7 treats data stores as modelling only (see `_check_document`)."""
        refs = list(el.iterfind(f"bpmn:{ref_tag}", NS))
        if any(etree.QName(self.ids[i]).localname == "dataStoreReference"
               for ref in refs if (i := (ref.text or "").strip()) in self.ids):
            self._drop_store_association(el, "targetRef" if ref_tag == "sourceRef" else "sourceRef")
            return
        for ref in refs:
            ref_id = (ref.text or "").strip()
            ref.text = ref_id  # SpiffWorkflow looks the text up as it is
            target = self.ids.get(ref_id)
            if target is None:
                raise self.fail(ref, f"data {kind} association: {ref_tag} '{ref_id}' names no element of this file")
            tag = etree.QName(target).localname
            if tag != "dataObjectReference":
                raise self.fail(ref, f"data {kind} association: {ref_tag} '{ref_id}' is a {tag}; Stageflow reads "
                                     "and writes data objects only (through a dataObjectReference)")
            object_id = target.get("dataObjectRef")
            if not object_id:
                raise self.fail(target, "a data object reference needs a dataObjectRef")
            scope = el.getparent().getparent()
            while scope is not None:
                if any(child.tag == _b("dataObject") and child.get("id") == object_id for child in scope):
                    break
                scope = scope.getparent()
            else:
                raise self.fail(ref, f"data {kind} association: data object '{object_id}' (via '{ref_id}') is not "
                                     "defined in this process or a (sub)process containing this element")

    def _drop_store_association(self, el: etree._Element, own_tag: str) -> None:
        """Drop data association `el` with a data store, and the activity's own end of it (its `own_tag`): a data
        input or output of its ioSpecification that only the store fed or drained, which SpiffWorkflow would
        otherwise require ("Missing data input"). Removed after the walk over the process (see
        `_el_messageEventDefinition`)."""
        drop = [el]
        io = el.getparent().find("bpmn:ioSpecification", NS)
        for own in el.iterfind(f"bpmn:{own_tag}", NS):
            own_id = (own.text or "").strip()
            end = self.ids.get(own_id)
            if io is None or end is None or end.getparent() is not io:
                continue
            others = [a for a in el.getparent() if a is not el and a.tag == el.tag
                      and any((r.text or "").strip() == own_id for r in a.iterfind(f"bpmn:{own_tag}", NS))]
            if not others:  # no data object feeds or takes it too
                drop.append(end)
                drop.extend(ref for ref in io.iter(_b("dataInputRefs"), _b("dataOutputRefs"))
                            if (ref.text or "").strip() == own_id)
        self.dropped.extend(d for d in drop if not any(d is kept for kept in self.dropped))

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
        result = el.get(_c("resultVariable"))
        if result is not None:
            if not result.isidentifier() or result.startswith("_"):
                raise self.fail(el, f"camunda:resultVariable '{result}' is not a variable name")
            script.text = script_with_result(script.text, result)

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
            problem = _expression_problem(what, err)
            if not is_expression(text):
                problem += " (a condition is a JUEL expression, ${...}, or a Python expression)"
            raise self.fail(el, problem)

    def _el_loopCardinality(self, el: etree._Element) -> None:
        text = (el.text or "").strip()
        if (text.isascii() and text.isdigit()) or _owner_id(el) in self.python_loops:
            return
        if not is_expression(text):
            raise self.fail(el, f"loop cardinality '{text}' is neither a whole number nor an expression")
        try:  # (always a whole number: SpiffWorkflow took another result for a collection's name, for good)
            el.text = written_as(f"_sf_cardinality({juel_to_python(text, element_id=_owner_id(el))})", text)
        except ExpressionError as err:
            raise self.fail(el, _expression_problem("loop cardinality", err))

    def _el_multiInstanceLoopCharacteristics(self, el: etree._Element) -> None:
        collection = el.get(_c("collection"))
        data_input = el.find("bpmn:loopDataInputRef", NS)
        if collection is None and data_input is not None and el.find("bpmn:loopCardinality", NS) is None:
            # BPMN's own form, which Camunda reads as camunda:collection and camunda:elementVariable (SpiffWorkflow's
            # Camunda parser reads only those).
            collection = (data_input.text or "").strip()
            el.set(_c("collection"), collection)
            item = el.find("bpmn:inputDataItem", NS)
            if item is not None and item.get("name") and el.get(_c("elementVariable")) is None:
                el.set(_c("elementVariable"), item.get("name"))
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
            source = self._expr(el, text, f'timer {kind}')
            el.text = written_as(f"_sf_timer({source}, {kind!r})", text)
            try:  # an expression naming no variable (`${'2036-11-14T11:12:22'}`) is known at deploy, as in Camunda
                text = ast.literal_eval(source)
            except (ValueError, SyntaxError):
                return
            if not isinstance(text, str):
                return
            text = text.strip()
        else:
            el.text = repr(text)
        check_timer_literal(text, kind, fail=lambda msg: self.fail(el, msg))
        owner = el.getparent().getparent() if el.getparent() is not None else None
        if owner is not None and owner.get("id"):
            self.timer_literals[owner.get("id")] = (kind, text)


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
        from .spiff.timers import cron_trigger, is_cron

        if is_cron(text):  # Camunda also takes a Quartz cron expression: `0 0/5 * * * ?`
            try:
                cron_trigger(text)
            except ValueError as err:
                raise fail(f"timer cycle: {err}")
            return
        parts = text.split("/")
        if not (parts[0].upper().startswith("R") and len(parts) in (2, 3)):
            raise fail(f"timer cycle '{text}' is neither an ISO 8601 repeating interval such as R3/PT1H nor a "
                       "cron expression such as 0 0/5 * * * ?")
        if parts[0][1:] and not (parts[0][1:].isascii() and parts[0][1:].isdigit()):
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


# SpiffWorkflow's own task spec names in every process: an element with such an id is renamed.
_RESERVED_IDS = frozenset({"Start", "End", "Root"})

# The calledElement a call activity whose calledElement is an expression gets (its element id follows).
DYNAMIC_CALL_PREFIX = "sf_dynamic_call_"

# What the dialect adds to a diagram to run it as Camunda does (the end event after an element with no outgoing
# flow, the gateway after an element with several) has an id with this prefix: it leaves no history.
HIDDEN_PREFIX = "sf_hidden_"

_ACTIVITIES = frozenset({
    "task", "userTask", "manualTask", "serviceTask", "sendTask", "receiveTask", "scriptTask", "businessRuleTask",
    "callActivity", "subProcess", "transaction", "adHocSubProcess",
})
_BOUNDARY_DEFINITIONS = frozenset(
    _b(f"{kind}EventDefinition")
    for kind in ("timer", "message", "signal", "error", "escalation", "conditional", "cancel")
)
# Parts of an element that have no shape of their own: an error in one is reported under the element holding it.
_DETAIL_TAGS = frozenset({
    "conditionExpression", "completionCondition", "loopCardinality", "loopCondition", "condition", "timeDate",
    "timeDuration", "timeCycle", "script", "multiInstanceLoopCharacteristics", "standardLoopCharacteristics",
    "ioSpecification", "dataInput", "dataOutput", "inputSet", "outputSet", "dataInputAssociation",
    "dataOutputAssociation", "formalExpression", "extensionElements", "documentation", "inputDataItem",
    "outputDataItem", "correlationPropertyRetrievalExpression", "laneSet",
})


def _always(flow: etree._Element) -> None:
    """Give a sequence flow the condition that always holds (the JUEL `${true}`, translated with the rest)."""
    condition = etree.Element(_b("conditionExpression"))
    condition.text = "${true}"
    flow.insert(0, condition)


def _is_named_element(el: etree._Element) -> bool:
    if not isinstance(el.tag, str) or not el.get("id"):
        return False
    name = etree.QName(el)
    return (name.namespace == BPMN_NS and name.localname not in _DETAIL_TAGS
            and not name.localname.endswith("EventDefinition"))


def _a(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


def _expression_problem(what: str, err: ExpressionError) -> str:
    """`what 'text': reason`, without the element prefix of the ExpressionError (the DefinitionError names it)."""
    text = getattr(err, "expression", None)
    reason = getattr(err, "reason", None)
    if text is not None and reason:
        return f"{what} '{text}': {reason}"
    return f"{what}: {err.message}"


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


def _formal_expression(element: etree._Element) -> str | None:
    """The text of a `humanPerformer`'s or `potentialOwner`'s `resourceAssignmentExpression/formalExpression`."""
    found = element.find("bpmn:resourceAssignmentExpression/bpmn:formalExpression", NS)
    text = (found.text or "").strip() if found is not None else ""
    return text or None


def _all_of(source: str | None, more: list[str]) -> str:
    """Python source of a list of the names `source` (a `camunda:` attribute's expression, if any) and each of
    `more` give (see `executor._names`, which flattens it)."""
    return "[" + ", ".join(([source] if source else []) + more) + "]"
