"""Deploy refuses what Camunda 7's own parser refuses about signals and escalations (EscalationEventParseInvalid-
ProcessTest, SignalEventParseInvalidProcessTest), naming the element, and still accepts their valid neighbours."""

from __future__ import annotations

import pytest

from engine.api import Engine
from engine.errors import DefinitionError
from tests.helpers import bpmn, chain

ESCALATIONS = ('<bpmn:escalation id="none" name="none"/>'
               '<bpmn:escalation id="late" name="late" escalationCode="LATE"/>'
               '<bpmn:escalation id="late2" name="late2" escalationCode="LATE"/>'
               '<bpmn:escalation id="lost" name="lost" escalationCode="LOST"/>')


def _boundaries(first: str, second: str) -> bytes:
    """A subprocess with two escalation boundary events, whose definitions are `first` and `second`."""
    return bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="sub"><bpmn:startEvent id="ss"/><bpmn:userTask id="work"/><bpmn:endEvent id="se"/>"""
                + chain("ss", "work", "se") + """</bpmn:subProcess>
        <bpmn:boundaryEvent id="b1" attachedToRef="sub">""" + first + """</bpmn:boundaryEvent>
        <bpmn:boundaryEvent id="b2" attachedToRef="sub">""" + second + """</bpmn:boundaryEvent>
        <bpmn:endEvent id="e"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>"""
                + chain("s", "sub", "e") + chain("b1", "e1") + chain("b2", "e2"), extra=ESCALATIONS)


def _event_subprocesses(first: str, second: str) -> bytes:
    def event_sub(n: int, definition: str) -> str:
        return (f'<bpmn:subProcess id="handler{n}" triggeredByEvent="true"><bpmn:startEvent id="hs{n}" '
                f'isInterrupting="false">{definition}</bpmn:startEvent><bpmn:endEvent id="he{n}"/>'
                + chain(f"hs{n}", f"he{n}") + "</bpmn:subProcess>")
    return bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e"/>' + chain("s", "work", "e")
                + event_sub(1, first) + event_sub(2, second), extra=ESCALATIONS)


def _throw(tag: str, definition: str) -> bytes:
    if tag == "endEvent":
        return bpmn(f'<bpmn:startEvent id="s"/><bpmn:endEvent id="t">{definition}</bpmn:endEvent>' + chain("s", "t"),
                    extra=ESCALATIONS)
    return bpmn(f'<bpmn:startEvent id="s"/><bpmn:intermediateThrowEvent id="t">{definition}'
                '</bpmn:intermediateThrowEvent><bpmn:endEvent id="e"/>' + chain("s", "t", "e"), extra=ESCALATIONS)


def esc(ref: str | None = None) -> str:
    return f'<bpmn:escalationEventDefinition escalationRef="{ref}"/>' if ref else "<bpmn:escalationEventDefinition/>"


@pytest.mark.parametrize(
    ("content", "element", "message"),
    [
        (_throw("endEvent", esc()), "t", "escalationEventDefinition does not have required attribute 'escalationRef'"),
        (_throw("intermediateThrowEvent", esc()), "t", "does not have required attribute 'escalationRef'"),
        (_throw("endEvent", esc("none")), "t", "escalation end event must have an 'escalationCode'"),
        (_throw("intermediateThrowEvent", esc("none")), "t", "throwing escalation event must have an 'escalationCode'"),
        (_boundaries(esc(), esc("none")), "b2", "more than one escalation boundary event without escalation code"),
        (_boundaries(esc("none"), esc("late")), "b2",
         "an escalation boundary event without escalation code and another one with escalation code"),
        (_boundaries(esc("late"), esc("late2")), "b2",
         "multiple escalation boundary events with the same escalationCode 'LATE' are not supported on same scope"),
        (_event_subprocesses(esc(), esc()), "handler2",
         "more than one escalation event subprocess without escalation code"),
        (_event_subprocesses(esc("late"), esc()), "handler2",
         "an escalation event subprocess without escalation code and another one with escalation code"),
        (_event_subprocesses(esc("late"), esc("late2")), "handler2",
         "multiple escalation event subprocesses with the same escalationCode 'LATE'"),
    ],
)
def test_escalations_camunda_refuses_are_refused(sqlite_engine: Engine, content: bytes, element: str,
                                                 message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        sqlite_engine.definitions.deploy([("escalations.bpmn", content)])
    assert caught.value.element_id == element
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "content",
    [
        _throw("endEvent", esc("late")),
        _boundaries(esc("late"), esc("lost")),  # different codes
        _boundaries(esc(), '<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>'
                           '</bpmn:timerEventDefinition>'),  # one catch-all escalation boundary event
        _event_subprocesses(esc("late"), esc("lost")),
    ],
)
def test_escalations_camunda_accepts_deploy(sqlite_engine: Engine, content: bytes) -> None:
    [definition] = sqlite_engine.definitions.deploy([("escalations.bpmn", content)]).definitions
    assert definition.key == "p"


SIGNALS = '<bpmn:signal id="alert" name="alert"/><bpmn:signal id="abort" name="abort"/>'


def _signal_starts(first: str, second: str, extra: str = SIGNALS) -> bytes:
    return bpmn(f"""
        <bpmn:startEvent id="s1"><bpmn:signalEventDefinition signalRef="{first}"/></bpmn:startEvent>
        <bpmn:startEvent id="s2"><bpmn:signalEventDefinition signalRef="{second}"/></bpmn:startEvent>
        <bpmn:userTask id="work"/><bpmn:endEvent id="e"/>""" + chain("s1", "work", "e") + chain("s2", "work"),
                extra=extra)


def test_two_signals_with_one_name_are_refused(sqlite_engine: Engine) -> None:
    content = _signal_starts("alert", "alert2", extra=SIGNALS + '<bpmn:signal id="alert2" name="alert"/>')
    with pytest.raises(DefinitionError, match="duplicate signal name 'alert'") as caught:
        sqlite_engine.definitions.deploy([("signals.bpmn", content)])
    assert caught.value.element_id == "alert2"


def test_two_signal_start_events_on_one_signal_are_refused(sqlite_engine: Engine) -> None:
    with pytest.raises(DefinitionError, match="more than one signal event subscription with name 'alert'") as caught:
        sqlite_engine.definitions.deploy([("signals.bpmn", _signal_starts("alert", "alert"))])
    assert caught.value.element_id == "s2"


def test_a_signal_event_without_signal_ref_is_refused(sqlite_engine: Engine) -> None:
    content = bpmn('<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="wait"><bpmn:signalEventDefinition/>'
                   '</bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>' + chain("s", "wait", "e"), extra=SIGNALS)
    with pytest.raises(DefinitionError, match="signalEventDefinition does not have required property 'signalRef'") \
            as caught:
        sqlite_engine.definitions.deploy([("signals.bpmn", content)])
    assert caught.value.element_id == "wait"


def test_signal_start_events_on_different_signals_deploy(sqlite_engine: Engine) -> None:
    [definition] = sqlite_engine.definitions.deploy([("signals.bpmn", _signal_starts("alert", "abort"))]).definitions
    assert definition.key == "p"


def test_a_loop_cardinality_of_a_non_ascii_digit_is_refused_naming_the_element(sqlite_engine: Engine) -> None:
    """"²" passes `str.isdigit()` but is no number: a deploy error naming the element, not a run-time failure."""
    content = bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="vote"><bpmn:multiInstanceLoopCharacteristics>
          <bpmn:loopCardinality>²</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "vote", "e"))
    with pytest.raises(DefinitionError, match="loop cardinality '²' is neither a whole number nor an expression"):
        sqlite_engine.definitions.deploy([("votes.bpmn", content)])


def _message_start(process_id: str, message_name: str = "newOrder") -> bytes:
    return bpmn("""
        <bpmn:startEvent id="received"><bpmn:messageEventDefinition messageRef="msg"/></bpmn:startEvent>
        <bpmn:userTask id="handle"/>""" + chain("received", "handle"), process_id=process_id,
                extra=f'<bpmn:message id="msg" name="{message_name}"/>')


def test_a_message_name_that_already_starts_another_process_is_refused(engine: Engine) -> None:
    """As Camunda (`MessageStartEventTest.testSameMessageNameFails`): one message name starts one process, in one
    deployment or across deployments; a new version of the same process may keep it."""
    engine.definitions.deploy([("shop.bpmn", _message_start("shop"))])
    outlet = _message_start("outlet")
    with pytest.raises(DefinitionError, match="already is a message start event for the message with name "
                                              "'newOrder': it starts process 'shop'") as caught:
        engine.definitions.deploy([("outlet.bpmn", outlet)])
    line = outlet[:outlet.index(b'id="received"')].count(b"\n") + 1
    assert (caught.value.file, caught.value.element_id, caught.value.line) == ("outlet.bpmn", "received", line)
    with pytest.raises(DefinitionError, match="it starts process 'pos'"):
        engine.definitions.deploy([("pos.bpmn", _message_start("pos", "walkIn")),
                                   ("kiosk.bpmn", _message_start("kiosk", "walkIn"))])

    renamed = _message_start("shop").replace(b'id="handle"', b'id="handle" name="Handle it"')
    engine.definitions.deploy([("shop.bpmn", renamed)])  # a new version of the process that has the name
    assert sorted((d.key, d.version) for d in engine.definitions.list()) == [("shop", 1), ("shop", 2)]
    [started] = engine.messages.correlate("newOrder")
    assert started.result_type == "ProcessDefinition" and started.instance.definition_id.startswith("shop:2:")
