"""Processes with several start events: each way of starting runs its own start event's path only, as in Camunda."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import Engine
from tests.helpers import bpmn, chain

CAMUNDA = Path(__file__).resolve().parents[2].parent / "shared" / "bpmn" / "camunda7-engine"


def open_tasks(engine: Engine, instance_id: str) -> list[str]:
    return sorted(t.task_definition_key for t in engine.tasks.list(instance_id=instance_id))


def two_starts(definition: str, extra: str) -> bytes:
    """A process with a none start (path `by_hand`) and a start with `definition` (path `by_event`)."""
    return bpmn(f"""
        <bpmn:startEvent id="plain"/><bpmn:startEvent id="event">{definition}</bpmn:startEvent>
        <bpmn:userTask id="by_hand"/><bpmn:userTask id="by_event"/>
        <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>""" + chain("plain", "by_hand", "e1")
        + chain("event", "by_event", "e2"), process_id="twostarts", extra=extra)


def test_a_message_starts_a_process_that_also_has_a_none_start_on_its_own_path(engine: Engine, deploy) -> None:
    deploy(two_starts('<bpmn:messageEventDefinition messageRef="m"/>', '<bpmn:message id="m" name="web-order"/>'))
    [result] = engine.messages.correlate("web-order", business_key="W-1", variables={"amount": 12})
    assert result.result_type == "ProcessDefinition"
    assert open_tasks(engine, result.instance.id) == ["by_event"]  # the none start's path is not taken
    assert engine.instances.variables(result.instance.id) == {"amount": 12}
    plain = engine.instances.start("twostarts")
    assert open_tasks(engine, plain.id) == ["by_hand"]
    # the plain instance does not wait for the start message: the next one starts another instance
    [again] = engine.messages.correlate("web-order")
    assert again.instance.id not in (plain.id, result.instance.id)
    assert open_tasks(engine, plain.id) == ["by_hand"]


def test_a_signal_starts_a_process_that_also_has_a_none_start_on_its_own_path(engine: Engine, deploy) -> None:
    deploy(two_starts('<bpmn:signalEventDefinition signalRef="s"/>', '<bpmn:signal id="s" name="price-change"/>'))
    assert engine.messages.signal("price-change", variables={"list": "B"}) == 1
    [instance] = engine.instances.list(definition_key="twostarts")
    assert open_tasks(engine, instance.id) == ["by_event"]
    assert engine.instances.variables(instance.id) == {"list": "B"}
    assert open_tasks(engine, engine.instances.start("twostarts").id) == ["by_hand"]


def test_a_timer_starts_a_process_that_also_has_a_none_start_on_its_own_path(engine: Engine, deploy, clock) -> None:
    deploy(two_starts("<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>"
                      "</bpmn:timerEventDefinition>", ""))
    plain = engine.instances.start("twostarts")
    assert open_tasks(engine, plain.id) == ["by_hand"]
    assert engine.jobs.list(instance_id=plain.id) == []  # the timer start is the definition's, not the instance's
    clock.advance(hours=1, seconds=1)
    assert engine.jobs.execute_due() == 1
    [started] = [i for i in engine.instances.list(definition_key="twostarts") if i.id != plain.id]
    assert open_tasks(engine, started.id) == ["by_event"]
    assert engine.jobs.incidents() == []


def test_camundas_message_start_and_none_start_model(engine: Engine) -> None:
    # MessageStartEventTest.testMessageStartEventAndNoneStartEvent
    path = CAMUNDA / "event" / "message" / "MessageStartEventTest.testMessageStartEventAndNoneStartEvent.bpmn20.xml"
    if not path.exists():
        pytest.skip(f"Camunda's test models are not at {CAMUNDA}")
    engine.definitions.deploy([(path.name, path.read_bytes())])
    plain = engine.instances.start("testProcess")
    assert open_tasks(engine, plain.id) == ["taskAfterNoneStart"]
    [result] = engine.messages.correlate("newInvoiceMessage")
    assert open_tasks(engine, result.instance.id) == ["taskAfterMessageStart"]
    ran = {a["activityId"] for a in engine.history.activities(result.instance.id)}
    assert "messageStart" in ran and "noneStart" not in ran


def test_an_async_none_start_beside_a_message_start_runs_once_its_job_does(engine: Engine) -> None:
    """Camunda's AsyncStartEventTest.testMultipleAsyncStartEvents: the saved instance waits at the asynchronous
    start; its job later goes through the start join (pruning keeps the start split that join looks for)."""
    engine.definitions.deploy([("async.bpmn20.xml", (
        CAMUNDA / "async" / "AsyncStartEventTest.testMultipleAsyncStartEvents.bpmn20.xml").read_bytes())])
    instance = engine.instances.start("process")
    [job] = engine.jobs.list(instance_id=instance.id)
    assert (job["activityId"], open_tasks(engine, instance.id)) == ("startEvent", [])
    assert engine.jobs.execute_due() == 1
    assert open_tasks(engine, instance.id) == ["taskAfterStartEvent"]
    assert engine.jobs.incidents() == []
