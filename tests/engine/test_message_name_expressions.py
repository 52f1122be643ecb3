"""Message names written with an expression (`pay-${orderId}`), as Camunda 7 resolves them: each waiting instance
waits for the name its own variables give, when it starts to wait; a start event's message takes none."""

from __future__ import annotations

import pytest

from engine.api import Engine
from engine.errors import DefinitionError, MismatchingCorrelation, ScriptError
from tests.helpers import bpmn, chain


def _with_message(body: str, name: str, process_id: str = "m") -> bytes:
    return bpmn(body, process_id=process_id).replace(
        b"</bpmn:definitions>", f'<bpmn:message id="pay" name="{name}"/></bpmn:definitions>'.encode())


CATCH = _with_message("""
    <bpmn:startEvent id="s"/>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition messageRef="pay"/></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "wait", "after", "e"), "pay-${orderId}")

GATEWAY = _with_message("""
    <bpmn:startEvent id="s"/><bpmn:eventBasedGateway id="g"/>
    <bpmn:receiveTask id="paid" messageRef="pay"/>
    <bpmn:intermediateCatchEvent id="late"><bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration>
    </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="ship"/><bpmn:userTask id="chase"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
    """ + chain("s", "g") + chain("g", "paid", "ship", "e1") + chain("g", "late", "chase", "e2"), "paid ${orderId}")


def _tasks(engine: Engine, instance_id: str) -> list[str]:
    return [t.task_definition_key for t in engine.tasks.list(instance_id=instance_id)]


def test_each_instance_waits_for_the_name_its_variables_give(engine: Engine, deploy) -> None:
    deploy(CATCH)
    first = engine.instances.start("m", variables={"orderId": 7})
    second = engine.instances.start("m", variables={"orderId": 8})
    assert [s["eventName"] for s in engine.instances.state(first.id).subscriptions] == ["pay-7"]
    engine.executor.runs.clear()  # the next change reads the runtime back from the database
    [correlated] = engine.messages.correlate("pay-8")
    assert correlated.instance.id == second.id
    assert (_tasks(engine, first.id), _tasks(engine, second.id)) == ([], ["after"])
    with pytest.raises(MismatchingCorrelation):
        engine.messages.correlate("pay-${orderId}")  # the name as written waits nowhere
    engine.instances.set_variables(first.id, {"orderId": 9})  # resolved when it started to wait, as in Camunda
    engine.messages.correlate("pay-7")
    assert _tasks(engine, first.id) == ["after"]


def test_an_event_based_gateways_receive_task_waits_for_its_resolved_name(engine: Engine, deploy) -> None:
    deploy(GATEWAY)
    instance = engine.instances.start("m", variables={"orderId": "A-1"})
    assert sorted(s["eventName"] for s in engine.instances.state(instance.id).subscriptions) == ["paid A-1"]
    engine.messages.correlate("paid A-1", business_key=None)
    assert _tasks(engine, instance.id) == ["ship"]


def test_a_name_whose_expression_fails_stops_the_step_naming_the_element(engine: Engine, deploy) -> None:
    deploy(CATCH)
    with pytest.raises(ScriptError) as err:
        engine.instances.start("m")
    assert err.value.element_id == "wait"
    assert "Cannot resolve identifier 'orderId'" in err.value.message
    assert engine.instances.count() == 0


def test_a_message_start_event_takes_no_expression_and_a_broken_one_is_refused(engine: Engine, deploy) -> None:
    started = _with_message('<bpmn:startEvent id="s"><bpmn:messageEventDefinition messageRef="pay"/>'
                            '</bpmn:startEvent><bpmn:endEvent id="e"/>' + chain("s", "e"), "order-${id}", "st")
    with pytest.raises(DefinitionError) as refused:
        deploy(started, "st.bpmn")
    assert refused.value.element_id == "s"
    assert refused.value.reason == ("Invalid message name 'order-${id}' for element 's': expressions in the message "
                                    "start event name are not allowed!")
    broken = CATCH.replace(b"pay-${orderId}", b"pay-${orderId +}")
    with pytest.raises(DefinitionError, match="message name"):
        deploy(broken, "broken.bpmn")
