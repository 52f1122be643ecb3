"""The waits of an event-based gateway are reported against each catch event after it, as Camunda does."""

from __future__ import annotations

from engine.api import Engine
from tests.helpers import bpmn, chain, flow

GATEWAY = bpmn("""
    <bpmn:startEvent id="s"/><bpmn:eventBasedGateway id="g"/>
    <bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="m"/></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="recalled"><bpmn:signalEventDefinition signalRef="sg"/></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="timeout"><bpmn:timerEventDefinition><bpmn:timeDuration>PT2H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="ship"/><bpmn:userTask id="stop"/><bpmn:userTask id="remind"/>
    <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/><bpmn:endEvent id="e3"/>
    """ + chain("s", "g") + flow("g", "paid") + flow("g", "recalled") + flow("g", "timeout")
    + chain("paid", "ship", "e1") + chain("recalled", "stop", "e2") + chain("timeout", "remind", "e3"),
    extra='<bpmn:message id="m" name="paid"/><bpmn:signal id="sg" name="recall"/>')


def open_tasks(engine: Engine, instance_id: str) -> list[str]:
    return sorted(t.task_definition_key for t in engine.tasks.list(instance_id=instance_id))


def test_each_wait_of_an_event_based_gateway_names_its_catch_event(engine: Engine, deploy) -> None:
    deploy(GATEWAY)
    instance = engine.instances.start("p")
    state = engine.instances.state(instance.id)
    assert sorted((s["eventType"], s["eventName"], s["activityId"]) for s in state.subscriptions) == [
        ("message", "paid", "paid"), ("signal", "recall", "recalled")]
    [job] = engine.jobs.list(instance_id=instance.id)
    assert job["activityId"] == "timeout"


def test_the_message_still_reaches_the_gateway(engine: Engine, deploy) -> None:
    deploy(GATEWAY)
    instance = engine.instances.start("p")
    engine.messages.correlate("paid", instance_id=instance.id)
    assert open_tasks(engine, instance.id) == ["ship"]
    assert engine.jobs.list(instance_id=instance.id) == []
    assert engine.instances.state(instance.id).subscriptions == []


def test_the_signal_still_reaches_the_gateway(engine: Engine, deploy) -> None:
    deploy(GATEWAY)
    instance = engine.instances.start("p")
    assert engine.messages.signal("recall") == 1
    assert open_tasks(engine, instance.id) == ["stop"]


def test_the_timer_still_fires_at_the_gateway(engine: Engine, deploy, clock) -> None:
    deploy(GATEWAY)
    instance = engine.instances.start("p")
    clock.advance(hours=2, seconds=1)
    assert engine.jobs.execute_due() == 1
    assert open_tasks(engine, instance.id) == ["remind"]
    assert engine.instances.state(instance.id).subscriptions == []
    assert engine.jobs.incidents() == []


def test_the_definition_knows_the_gateway_each_catch_event_waits_at(engine: Engine, deploy) -> None:
    """For readers that show where an instance is (Camunda's activity instance is the gateway's)."""
    [definition] = deploy(GATEWAY).definitions
    with engine.db.read() as session:
        compiled = engine.definitions.compiled(session, definition.id)
    assert {e: compiled.element_by_id(e).event_gateway for e in ("paid", "recalled", "timeout", "ship")} == {
        "paid": "g", "recalled": "g", "timeout": "g", "ship": None}


def test_the_instance_is_shown_waiting_at_the_gateway(engine: Engine, deploy) -> None:
    """As Camunda's activity instances and Cockpit: the event-based gateway is open, once, not its events."""
    deploy(GATEWAY)
    instance = engine.instances.start("p")
    assert engine.instances.state(instance.id).active_elements == ["g"]
    assert engine.instances.markers(instance.id).active == ["g"]
    open_activities = [a["activityId"] for a in engine.history.activities(instance.id)
                       if a["endTime"] is None]
    assert open_activities == ["g"]


def test_a_boundary_event_and_an_event_subprocess_start_are_not_active_activities(engine: Engine, deploy) -> None:
    """Camunda's active activity ids: the task, not its boundary timer nor the event subprocess's start events
    (each is a subscription of its scope); `show` listed them as active."""
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e"/>
        <bpmn:boundaryEvent id="late" attachedToRef="work" cancelActivity="false">
          <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
        </bpmn:boundaryEvent><bpmn:userTask id="chase"/><bpmn:endEvent id="e2"/>
        <bpmn:subProcess id="events" triggeredByEvent="true">
          <bpmn:startEvent id="asked" isInterrupting="false"><bpmn:messageEventDefinition messageRef="m"/>
          </bpmn:startEvent><bpmn:userTask id="answer"/><bpmn:endEvent id="answered"/>
          """ + chain("asked", "answer", "answered") + """
        </bpmn:subProcess>""" + chain("s", "work", "e") + chain("late", "chase", "e2"),
        extra='<bpmn:message id="m" name="question"/>'))
    instance = engine.instances.start("p")
    state = engine.instances.state(instance.id)
    assert state.active_elements == ["work"]
    assert {t["activityId"] for t in state.timers} == {"late"}  # the waits themselves are still listed
    assert {s["activityId"] for s in state.subscriptions} == {"asked"}
