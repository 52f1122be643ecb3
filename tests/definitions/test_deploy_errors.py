"""A designer who deploys a bad file gets a DefinitionError naming the file, the element and the line; nothing is stored.

Every case first deploys a good file, then the bad file in one deployment together with another good file (which
has a message start event, so a start subscription row would be written too): afterwards the database must hold
exactly what it held before the failed deployment.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.api import Engine
from engine.clock import VirtualClock
from engine.config import Settings
from engine.errors import DefinitionError
from engine.store import models as m
from tests.helpers import BPMN_HEADER, bpmn, chain, flow

EARLIER = bpmn('<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>' + chain("s", "e"), "earlier", name="Earlier")
COMPANION = bpmn(
    '<bpmn:startEvent id="s"><bpmn:messageEventDefinition id="md" messageRef="msg"/></bpmn:startEvent>'
    '<bpmn:endEvent id="e"/>' + chain("s", "e"),
    "companion",
    extra='<bpmn:message id="msg" name="order_received"/>\n',
)

# A bare Python error or an lxml/SpiffWorkflow internal leaking into a message meant for a person.
_NOT_FOR_PEOPLE = re.compile(
    r"\b(KeyError|TypeError|AttributeError|IndexError|ValueError|AssertionError|NotImplementedError|"
    r"XPathEvalError|ValidationException)\b|Traceback|<Element |\w+Error\(['\"]"
)


def line_of(content: bytes, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th `needle` in `content`."""
    text = content.decode()
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    return text.count("\n", 0, index) + 1


def stored(engine: Engine) -> dict[str, object]:
    """Everything a deployment writes, as the API shows it and as rows."""
    with engine.db.read() as session:
        rows = {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (m.Deployment, m.Resource, m.ProcessDefinition, m.DecisionDefinition,
                              m.EventSubscription)}
    return {
        "definitions": [(d.id, d.key, d.version, d.deployment_id) for d in engine.definitions.list()],
        "deployments": [(d.id, d.name) for d in engine.definitions.deployments()],
        "rows": rows,
    }


def refused(engine: Engine, files: list[tuple[str, bytes]]) -> DefinitionError:
    """Deploy a good file, then `files` together with another good file; return the error, checking nothing moved."""
    earlier = engine.definitions.deploy([("earlier.bpmn", EARLIER)], name="earlier")
    before = stored(engine)
    assert before["rows"]["deployment"] == 1 and before["rows"]["process_definition"] == 1
    with pytest.raises(DefinitionError) as info:
        engine.definitions.deploy([("companion.bpmn", COMPANION), *files], name="bad")
    assert stored(engine) == before
    assert engine.definitions.latest("earlier").id == earlier.definitions[0].id
    readable(info.value)
    return info.value


def readable(err: DefinitionError) -> None:
    """The message is for a person: it leads with where, and no Python or parser internals leak into it."""
    assert err.reason.strip()
    assert not _NOT_FOR_PEOPLE.search(err.reason), err.reason
    where = []
    if err.file:
        where.append(err.file + (f":{err.line}" if err.line else ""))
    if err.element_id:
        where.append(f"element '{err.element_id}'")
    assert str(err) == (f"{', '.join(where)}: {err.reason}" if where else err.reason)
    assert err.to_json()["details"] == {"file": err.file, "elementId": err.element_id, "line": err.line}


@dataclass
class Case:
    """A bad file and what its error must say."""

    name: str
    content: bytes
    element_id: str | None
    line: int | None
    says: tuple[str, ...]
    file: str = "bad.bpmn"


def _process(body: str, *, extra: str = "") -> bytes:
    return bpmn(body, "bad", extra=extra)


def _cases() -> Iterator[Case]:
    content = (BPMN_HEADER + '<bpmn:process id="bad" isExecutable="true">\n<bpmn:startEvent id="s">\n'
               "</bpmn:process>\n</bpmn:definitions>\n").encode()
    yield Case("malformed XML", content, None, line_of(content, "</bpmn:process>"), ("malformed XML",))

    laughs = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
              + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">\n'
                        for i in range(1, 10))
              + ']>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol9;'
              "</bpmn:definitions>\n").encode()
    yield Case("billion laughs", laughs, None, 2, ("DOCTYPE",))

    xxe = (b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
           b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">\n'
           b'<bpmn:process id="bad"><bpmn:documentation>&xxe;</bpmn:documentation></bpmn:process>\n'
           b"</bpmn:definitions>\n")
    yield Case("XXE", xxe, None, 2, ("DOCTYPE",))

    content = _process('<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>\n'
                       + flow("s", "e", flow_id="f1") + "\n" + flow("s", "nowhere", flow_id="f2"))
    yield Case("sequence flow to a missing element", content, "f2", line_of(content, 'id="f2"'),
               ("targetRef 'nowhere'",))

    for label, condition in (("JUEL", "${amount >}"), ("Python", "amount >")):
        content = _process(
            '<bpmn:startEvent id="s"/>\n<bpmn:exclusiveGateway id="gw" default="f_no"/>\n'
            '<bpmn:endEvent id="yes"/><bpmn:endEvent id="no"/>\n' + flow("s", "gw") + "\n"
            + flow("gw", "yes", condition, flow_id="f_yes") + "\n" + flow("gw", "no", flow_id="f_no"))
        yield Case(f"gateway condition that does not compile ({label})", content, "f_yes",
                   line_of(content, "<bpmn:conditionExpression"), (f"'{condition}'",))

    content = _process(
        '<bpmn:startEvent id="s"/>\n<bpmn:exclusiveGateway id="gw" default="f_no"/>\n'
        '<bpmn:endEvent id="yes"/><bpmn:endEvent id="no"/>\n' + flow("s", "gw") + "\n"
        + flow("gw", "yes", "${order.total() > 100}", flow_id="f_yes") + "\n" + flow("gw", "no", flow_id="f_no"))
    yield Case("JUEL outside the subset (method call)", content, "f_yes",
               line_of(content, "<bpmn:conditionExpression"), ("${order.total() > 100}", "method"))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:callActivity id="call" calledElement="no_such_process"/>\n'
                       '<bpmn:endEvent id="e"/>' + chain("s", "call", "e"))
    yield Case("unknown calledElement", content, "call", line_of(content, 'id="call"'), ("'no_such_process'",))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:businessRuleTask id="rules" '
                       'camunda:decisionRef="no_such_decision" camunda:resultVariable="r"/>\n'
                       '<bpmn:endEvent id="e"/>' + chain("s", "rules", "e"))
    yield Case("unknown camunda:decisionRef", content, "rules", line_of(content, 'id="rules"'),
               ("'no_such_decision'",))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:serviceTask id="charge" '
                       'camunda:class="com.acme.ChargeDelegate"/>\n<bpmn:endEvent id="e"/>' + chain("s", "charge", "e"))
    yield Case("Java delegate (camunda:class)", content, "charge", line_of(content, 'id="charge"'),
               ("camunda:class", "external task", "camunda:topic"))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:scriptTask id="calc" scriptFormat="groovy">\n'
                       '<bpmn:script>def x = 1</bpmn:script></bpmn:scriptTask>\n<bpmn:endEvent id="e"/>'
                       + chain("s", "calc", "e"))
    yield Case("Groovy script task", content, "calc", line_of(content, 'id="calc"'), ("groovy", "Python"))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:userTask id="review">\n<bpmn:extensionElements>\n'
                       '<camunda:executionListener class="com.acme.Audit" event="start"/>\n'
                       '</bpmn:extensionElements></bpmn:userTask>\n<bpmn:endEvent id="e"/>' + chain("s", "review", "e"))
    yield Case("execution listener", content, "review", line_of(content, "<camunda:executionListener"),
               ("camunda:executionListener",))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:intermediateCatchEvent id="wait">\n'
                       '<bpmn:timerEventDefinition id="wait_def">\n<bpmn:timeDuration>PT5X</bpmn:timeDuration>\n'
                       '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n<bpmn:endEvent id="e"/>'
                       + chain("s", "wait", "e"))
    yield Case("invalid timer literal", content, "wait", line_of(content, "<bpmn:timeDuration"), ("'PT5X'",))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:userTask id="review">\n<bpmn:extensionElements>\n'
                       '<camunda:formData>\n<camunda:formField id="amount" label="Amount" type="money"/>\n'
                       '</camunda:formData></bpmn:extensionElements></bpmn:userTask>\n<bpmn:endEvent id="e"/>'
                       + chain("s", "review", "e"))
    # The form field is named (forms.py reports a field by its id); the message names the user task too.
    yield Case("form field with an unknown type", content, "amount", line_of(content, "<camunda:formField"),
               ("'money'", "'review'"))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:userTask id="twice"/>\n<bpmn:userTask id="twice"/>\n'
                       '<bpmn:endEvent id="e"/>' + chain("s", "twice", "e"))
    first = line_of(content, 'id="twice"')
    yield Case("duplicate element ids", content, "twice", line_of(content, 'id="twice"', 2),
               ("duplicate id 'twice'", f"first used on line {first}"))

    for bad_id in ("gw latin", "a:1:b", "1st_review"):  # an id with a colon read as a definition id's "key:1:..."
        content = _process(f'<bpmn:startEvent id="s"/>\n<bpmn:userTask id="{bad_id}"/>\n<bpmn:endEvent id="e"/>'
                           + chain("s", bad_id, "e"))
        yield Case(f"an id that is no XML id ({bad_id!r})", content, bad_id, line_of(content, f'id="{bad_id}"'),
                   (f"the id '{bad_id}' is not a valid XML id", "no space, no colon"))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:callActivity id="clarify" camunda:caseRef="Clarification"/>\n'
                       '<bpmn:endEvent id="e"/>' + chain("s", "clarify", "e"))
    yield Case("a call of a CMMN case", content, "clarify", line_of(content, 'id="clarify"'),
               ("CMMN case 'Clarification'", "Stageflow runs no CMMN", "calledElement"))

    long_name = "N" * 300  # on PostgreSQL the column refused it: a DataError instead of the element named
    content = _process(f'<bpmn:startEvent id="s"/>\n<bpmn:userTask id="wordy" name="{long_name}"/>\n'
                       '<bpmn:endEvent id="e"/>' + chain("s", "wordy", "e"))
    yield Case("a name longer than its column", content, "wordy", line_of(content, 'id="wordy"'),
               ("name is too long (300 characters): at most 255",))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:scriptTask id="calc" scriptFormat="python">\n'
                       '<bpmn:script>import os\nos.system("true")</bpmn:script></bpmn:scriptTask>\n'
                       '<bpmn:endEvent id="e"/>' + chain("s", "calc", "e"))
    yield Case("script with import os", content, "calc", line_of(content, "<bpmn:script>"), ("script refused",))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:serviceTask id="charge" camunda:type="external"/>\n'
                       '<bpmn:endEvent id="e"/>' + chain("s", "charge", "e"))
    yield Case("external task without a topic", content, "charge", line_of(content, 'id="charge"'),
               ("camunda:topic",))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:subProcess id="sub">\n<bpmn:task id="inner"/>\n'
                       '</bpmn:subProcess>\n<bpmn:endEvent id="e"/>' + chain("s", "sub", "e"))
    yield Case("SpiffWorkflow's own check, inside the write (subprocess without a start event)", content, "sub",
               line_of(content, 'id="sub"'), ("start event",))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:intermediateCatchEvent id="wait">\n'
                       '<bpmn:messageEventDefinition id="wait_def" messageRef="unnamed"/>\n'
                       '</bpmn:intermediateCatchEvent>\n<bpmn:endEvent id="e"/>' + chain("s", "wait", "e"),
                       extra='<bpmn:message id="unnamed"/>\n')
    yield Case("message without a name (SpiffWorkflow: TypeError)", content, "wait",
               line_of(content, "<bpmn:messageEventDefinition"), ("message 'unnamed'", "no name"))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:intermediateCatchEvent id="wait">\n'
                       '<bpmn:signalEventDefinition id="wait_def" signalRef="ghost"/>\n'
                       '</bpmn:intermediateCatchEvent>\n<bpmn:endEvent id="e"/>' + chain("s", "wait", "e"))
    yield Case("signalRef to nothing", content, "wait", line_of(content, "<bpmn:signalEventDefinition"),
               ("signalRef 'ghost'",))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:userTask id="work"/>\n<bpmn:endEvent id="e"/>\n'
                       '<bpmn:boundaryEvent id="late" attachedToRef="wrok">\n<bpmn:timerEventDefinition>'
                       "<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>\n"
                       '</bpmn:boundaryEvent>\n<bpmn:endEvent id="e2"/>' + chain("s", "work", "e") + chain("late", "e2"))
    yield Case("boundary event attached to nothing", content, "late", line_of(content, 'id="late"'),
               ("attachedToRef 'wrok'",))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:exclusiveGateway id="gw" default="f_typo"/>\n'
                       '<bpmn:endEvent id="yes"/><bpmn:endEvent id="no"/>\n' + flow("s", "gw") + "\n"
                       + flow("gw", "yes", "${ok}", flow_id="f_yes") + "\n" + flow("gw", "no", flow_id="f_no"))
    yield Case("default flow that is not an outgoing flow", content, "gw", line_of(content, 'id="gw"'),
               ("default flow 'f_typo'",))

    content = _process('<bpmn:dataObjectReference id="ref" dataObjectRef="missing_object"/>\n'
                       '<bpmn:startEvent id="s"/>\n<bpmn:task id="use">\n<bpmn:dataInputAssociation id="dia">\n'
                       "<bpmn:sourceRef>ref</bpmn:sourceRef></bpmn:dataInputAssociation></bpmn:task>\n"
                       '<bpmn:endEvent id="e"/>' + chain("s", "use", "e"))
    yield Case("data object reference to nothing", content, "use", line_of(content, "<bpmn:sourceRef>"),
               ("data object 'missing_object'",))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:userTask id="amount">\n<bpmn:extensionElements>\n'
                       '<camunda:formData>\n<camunda:formField id="amount" label="Amount" type="long"/>\n'
                       '</camunda:formData></bpmn:extensionElements></bpmn:userTask>\n<bpmn:endEvent id="e"/>'
                       + chain("s", "amount", "e"))
    yield Case("form field with the id of its task (SpiffWorkflow: 'no support for this task type')", content,
               "amount", line_of(content, "<camunda:formField"), ("'amount'", "camunda:formField", "userTask"))

    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:eventBasedGateway id="ebg"/>\n<bpmn:userTask id="call"/>\n'
                       '<bpmn:intermediateCatchEvent id="tick"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H'
                       '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n'
                       '<bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>\n' + chain("s", "ebg") + "\n"
                       + flow("ebg", "call", flow_id="f_call") + "\n" + flow("ebg", "tick") + chain("call", "e")
                       + chain("tick", "e2"))
    yield Case("event-based gateway leading to a task (SpiffWorkflow: AttributeError)", content, "f_call",
               line_of(content, 'id="f_call"'), ("event-based gateway", "'call'"))

    # EventBasedGatewayTest.testEventInvalidSequenceFlow: SpiffWorkflow let a start pass the signal event at once
    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:eventBasedGateway id="ebg"/>\n'
                       '<bpmn:intermediateCatchEvent id="alert"><bpmn:signalEventDefinition signalRef="sig"/>'
                       '</bpmn:intermediateCatchEvent>\n'
                       '<bpmn:intermediateCatchEvent id="tick"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H'
                       '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n'
                       '<bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>\n' + chain("s", "ebg") + "\n"
                       + flow("ebg", "alert") + flow("ebg", "tick") + "\n" + flow("s", "alert", flow_id="f_bypass")
                       + "\n" + chain("alert", "e") + chain("tick", "e2"),
                       extra='<bpmn:signal id="sig" name="alert"/>\n')
    yield Case("event after an event-based gateway with another incoming flow", content, "f_bypass",
               line_of(content, 'id="f_bypass"'), ("Invalid incoming sequenceflow for intermediateCatchEvent with id "
                                                   "'alert' connected to an event-based gateway", "'ebg'"))

    content = b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>\n'
    yield Case("non-BPMN XML root", content, None, 2, ("not a BPMN or DMN document",))


CASES = list(_cases())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_file_is_refused_naming_file_element_and_line(engine: Engine, case: Case) -> None:
    err = refused(engine, [(case.file, case.content)])
    assert (err.file, err.element_id, err.line) == (case.file, case.element_id, case.line), str(err)
    for text in case.says:
        assert text in err.reason, (text, str(err))


def test_an_expression_error_names_the_flow_once(engine: Engine) -> None:
    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:exclusiveGateway id="gw" default="f_no"/>\n'
                       '<bpmn:endEvent id="yes"/><bpmn:endEvent id="no"/>\n' + flow("s", "gw") + "\n"
                       + flow("gw", "yes", "${amount >}", flow_id="f_yes") + "\n" + flow("gw", "no", flow_id="f_no"))
    err = refused(engine, [("bad.bpmn", content)])
    assert str(err).count("f_yes") == 1, str(err)
    assert err.reason.startswith("condition '${amount >}': "), err.reason


def test_a_condition_with_its_own_id_is_reported_under_its_sequence_flow(engine: Engine) -> None:
    content = _process(
        '<bpmn:startEvent id="s"/>\n<bpmn:exclusiveGateway id="gw" default="f_no"/>\n'
        '<bpmn:endEvent id="yes"/><bpmn:endEvent id="no"/>\n' + flow("s", "gw") + "\n"
        '<bpmn:sequenceFlow id="f_yes" sourceRef="gw" targetRef="yes">\n'
        '<bpmn:conditionExpression id="FormalExpression_1" xsi:type="bpmn:tFormalExpression">'
        "Service Level == 1</bpmn:conditionExpression></bpmn:sequenceFlow>\n" + flow("gw", "no", flow_id="f_no"))
    err = refused(engine, [("bad.bpmn", content)])
    assert (err.element_id, err.line) == ("f_yes", line_of(content, "<bpmn:conditionExpression"))


def test_a_file_over_the_size_limit_is_refused_before_parsing(database_url: str, clock: VirtualClock) -> None:
    eng = Engine(Settings(database_url=database_url, max_definition_bytes=4096), clock=clock)
    try:
        assert eng.definitions.max_bytes == 4096
        big = bpmn('<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>' + chain("s", "e")
                   + "<!--" + "x" * 5000 + "-->", "big")
        err = refused(eng, [("big.bpmn", big)])
        assert (err.file, err.element_id, err.line) == ("big.bpmn", None, None)
        assert "too large" in err.reason and "4096" in err.reason and str(len(big)) in err.reason
        eng.definitions.max_bytes = len(big)  # the limit in use, not the one the engine started with
        assert eng.definitions.deploy([("big.bpmn", big)]).definitions[0].key == "big"
    finally:
        eng.close()


def test_two_files_defining_one_process_id_are_refused(engine: Engine) -> None:
    one = bpmn('<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>' + chain("s", "e"), "twin")
    two = bpmn('<bpmn:startEvent id="s2"/><bpmn:endEvent id="e2"/>' + chain("s2", "e2"), "twin")
    err = refused(engine, [("one.bpmn", one), ("two.bpmn", two)])
    assert (err.file, err.element_id, err.line) == ("two.bpmn", "twin", line_of(two, 'id="twin"'))
    assert "one.bpmn" in err.reason


def test_an_empty_deployment_is_refused(engine: Engine) -> None:
    engine.definitions.deploy([("earlier.bpmn", EARLIER)])
    before = stored(engine)
    with pytest.raises(DefinitionError) as info:
        engine.definitions.deploy([])
    assert stored(engine) == before
    readable(info.value)
    assert "at least one" in info.value.reason


def test_nothing_of_a_deployment_is_kept_when_its_last_file_fails_while_compiling(engine: Engine) -> None:
    """The companion's definition and subscription rows are flushed before the bad file's compile fails."""
    bad = _process('<bpmn:startEvent id="s"/>\n<bpmn:callActivity id="call" calledElement="nowhere"/>\n'
                   '<bpmn:endEvent id="e"/>' + chain("s", "call", "e"))
    refused(engine, [("bad.bpmn", bad)])
    # And the same files minus the bad one deploy afterwards (no half-written leftovers in the way).
    view = engine.definitions.deploy([("companion.bpmn", COMPANION)])
    assert [(d.key, d.version) for d in view.definitions] == [("companion", 1)]


# -- files that used to break SpiffWorkflow's parser now deploy -----------------------------------------------


_COMPILE_IN_CHILD = """
import sys
from engine.dialect import Dialect
from engine.sandbox import ScriptSandbox
from engine.spiff import Document, compile_process
from engine.xmlsafe import parse_xml

name, key = sys.argv[1], sys.argv[2]
tree = parse_xml(sys.stdin.buffer.read(), name)
Dialect(tree, name, ScriptSandbox()).process()
compile_process(key, [Document(name, tree, False)])
"""


def compiles_within(content: bytes, name: str, key: str, seconds: float = 60.0) -> None:
    """Check and compile the file in a child process, killed (failing the test) when it does not finish in time.

    A parse that never returns would otherwise hang the suite: through the engine it holds a write transaction.
    """
    root = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run([sys.executable, "-c", _COMPILE_IN_CHILD, name, key], input=content, cwd=root,
                              capture_output=True, timeout=seconds, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"parsing {name} did not finish within {seconds} s")
    assert done.returncode == 0, done.stderr.decode()


def test_a_data_object_two_subprocesses_up_deploys_and_runs(engine: Engine) -> None:
    """SpiffWorkflow 3.2.0 loops forever parsing this (its lookup never climbs past the parent process)."""
    inner = ('<bpmn:subProcess id="s2"><bpmn:startEvent id="s2s"/>'
             '<bpmn:dataObjectReference id="ref" dataObjectRef="total"/>'
             '<bpmn:scriptTask id="write"><bpmn:dataOutputAssociation id="out"><bpmn:targetRef>ref</bpmn:targetRef>'
             "</bpmn:dataOutputAssociation><bpmn:script>total = 5</bpmn:script></bpmn:scriptTask>"
             '<bpmn:endEvent id="s2e"/>' + chain("s2s", "write", "s2e") + "</bpmn:subProcess>")
    outer = ('<bpmn:subProcess id="s1"><bpmn:startEvent id="s1s"/>' + inner + '<bpmn:endEvent id="s1e"/>'
             + chain("s1s", "s2", "s1e") + "</bpmn:subProcess>")
    content = bpmn('<bpmn:dataObject id="total"/><bpmn:startEvent id="s"/>' + outer
                   + '<bpmn:scriptTask id="read"><bpmn:dataInputAssociation id="in"><bpmn:sourceRef>ref'
                   "</bpmn:sourceRef></bpmn:dataInputAssociation><bpmn:script>result = total</bpmn:script>"
                   '</bpmn:scriptTask><bpmn:endEvent id="e"/>' + chain("s", "s1", "read", "e"), "nested_data")
    compiles_within(content, "nested.bpmn", "nested_data")
    view = engine.definitions.deploy([("nested.bpmn", content)])
    assert [d.key for d in view.definitions] == ["nested_data"]
    instance = engine.instances.start("nested_data")
    assert instance.state == "COMPLETED"
    assert instance.variables["result"] == 5


def test_data_stores_and_their_associations_deploy_and_are_ignored(engine: Engine) -> None:
    """Camunda 7 treats data stores as modelling only; SpiffWorkflow refuses one it has no implementation of, and
    would require the task's data input the store feeds ("Missing data input")."""
    content = bpmn('<bpmn:dataStoreReference id="db_ref" dataStoreRef="db"/><bpmn:startEvent id="s"/>'
                   '<bpmn:userTask id="review"><bpmn:ioSpecification><bpmn:dataInput id="customer" name="customer"/>'
                   '<bpmn:dataOutput id="decision" name="decision"/><bpmn:inputSet><bpmn:dataInputRefs>customer'
                   '</bpmn:dataInputRefs></bpmn:inputSet><bpmn:outputSet><bpmn:dataOutputRefs>decision'
                   '</bpmn:dataOutputRefs></bpmn:outputSet></bpmn:ioSpecification>'
                   '<bpmn:dataInputAssociation id="from_db"><bpmn:sourceRef>db_ref</bpmn:sourceRef>'
                   '<bpmn:targetRef>customer</bpmn:targetRef></bpmn:dataInputAssociation>'
                   '<bpmn:dataOutputAssociation id="back_to_db"><bpmn:sourceRef>decision</bpmn:sourceRef>'
                   '<bpmn:targetRef>db_ref</bpmn:targetRef></bpmn:dataOutputAssociation></bpmn:userTask>'
                   '<bpmn:scriptTask id="save"><bpmn:dataOutputAssociation id="to_db"><bpmn:targetRef>db_ref'
                   '</bpmn:targetRef></bpmn:dataOutputAssociation>'
                   '<bpmn:script>note = "seen " + who</bpmn:script></bpmn:scriptTask>'
                   '<bpmn:userTask id="check"/><bpmn:endEvent id="e"/>' + chain("s", "review", "save", "check", "e"),
                   "stores",
                   extra='<bpmn:dataStore id="db" name="Customer DB"/>')
    view = engine.definitions.deploy([("stores.bpmn", content)])
    assert [d.key for d in view.definitions] == ["stores"]
    instance = engine.instances.start("stores")
    [task] = engine.tasks.list(instance_id=instance.id)
    assert task.task_definition_key == "review"
    engine.tasks.complete(task.id, {"who": "Ann"})
    assert engine.instances.variables(instance.id) == {"who": "Ann", "note": "seen Ann"}
    [check] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(check.id, {})
    assert engine.instances.get(instance.id).state == "COMPLETED"


def test_an_external_business_rule_task_deploys(engine: Engine) -> None:
    """SpiffWorkflow 3.2.0 raises KeyError for a business rule task without camunda:decisionRef."""
    content = bpmn('<bpmn:startEvent id="s"/><bpmn:businessRuleTask id="rules" camunda:type="external" '
                   'camunda:topic="pricing"/><bpmn:endEvent id="e"/>' + chain("s", "rules", "e"), "priced")
    view = engine.definitions.deploy([("priced.bpmn", content)])
    assert [d.key for d in view.definitions] == ["priced"]


def test_a_link_event_definition_outside_intermediate_events_is_refused(engine) -> None:  # type: ignore[no-untyped-def]
    """Intermediate link events run (they become a sequence flow); SpiffWorkflow would lose the token elsewhere."""
    from engine.errors import DefinitionError
    from tests.helpers import bpmn, chain

    bad = bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="t"/>
        <bpmn:endEvent id="go_to"><bpmn:linkEventDefinition id="l1" name="next"/></bpmn:endEvent>""" + chain("s", "t", "go_to"))
    with pytest.raises(DefinitionError) as err:
        engine.definitions.deploy([("links.bpmn", bad)])
    assert err.value.element_id == "go_to" and err.value.line == 7
    assert "link event definition belongs on an intermediate throw or catch event" in err.value.message


def test_camundas_event_gateway_model_with_an_invalid_flow_is_refused_as_camunda_refuses_it(engine: Engine) -> None:
    """EventBasedGatewayTest.testInvalidSequenceFlow: Camunda names the flow 'invalidFlow' that bypasses the gateway."""
    path = (Path(__file__).resolve().parents[2].parent / "shared" / "bpmn" / "camunda7-engine" / "gateway"
            / "EventBasedGatewayTest.testEventInvalidSequenceFlow.bpmn20.xml")
    if not path.exists():
        pytest.skip(f"Camunda's test models are not at {path.parent}")
    content = path.read_bytes()
    err = refused(engine, [(path.name, content)])
    assert (err.file, err.element_id, err.line) == (path.name, "invalidFlow", line_of(content, 'id="invalidFlow"'))
    assert "Invalid incoming sequenceflow for intermediateCatchEvent with id 'signalEvent'" in err.reason


def test_an_id_with_blanks_around_it_deploys_as_in_camunda(engine: Engine) -> None:
    """The schema trims an id before checking it (Camunda's own `BoundaryErrorEventTest` has `id="flow4 "`)."""
    content = _process('<bpmn:startEvent id="s"/>\n<bpmn:userTask id="review"/>\n<bpmn:endEvent id="e"/>'
                       + flow("s", "review", flow_id="flow4 ") + flow("review", "e"))
    engine.definitions.deploy([("trimmed.bpmn", content)])
    instance = engine.instances.start("bad")
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["review"]
