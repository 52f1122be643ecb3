"""Non-interrupting events that fire again and again, as in Camunda 7: a message or signal boundary event stays
subscribed while its activity runs (each message starts a branch), and the branches a boundary event started run
on to their own end after the activity is done."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from engine.api import Engine
from engine.errors import BadRequest
from engine.store import models as m
from tests.helpers import bpmn, chain

EVENTS = '<bpmn:message id="m_ping" name="ping"/><bpmn:message id="m_stop" name="stop"/>' \
         '<bpmn:signal id="s_alert" name="alert"/>'
PING = '<bpmn:messageEventDefinition messageRef="m_ping"/>'
ALERT = '<bpmn:signalEventDefinition signalRef="s_alert"/>'


def pinged(trigger: str = PING, branch: str = '<bpmn:userTask id="handle"/>', more: str = "") -> bytes:
    """A user task `work` with a non-interrupting boundary event `ping` whose branch runs `handle` and ends."""
    return bpmn(f"""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e1"/>
        <bpmn:boundaryEvent id="ping" attachedToRef="work" cancelActivity="false">{trigger}</bpmn:boundaryEvent>
        {branch}<bpmn:endEvent id="e2"/>{more}
        """ + chain("s", "work", "e1") + chain("ping", "handle", "e2"), extra=EVENTS)


def open_tasks(engine: Engine, instance_id: str, element_id: str) -> list:  # type: ignore[type-arg]
    return [t for t in engine.tasks.list(instance_id=instance_id) if t.task_definition_key == element_id]


def subscriptions(engine: Engine, instance_id: str) -> list[tuple[str, str, str]]:
    """(row id, event name, element) of the instance's subscription rows."""
    with engine.db.read() as session:
        rows = session.scalars(select(m.EventSubscription).where(m.EventSubscription.instance_id == instance_id))
        return sorted((r.id, r.name, r.element_id) for r in rows)


def history(engine: Engine, instance_id: str) -> Counter[tuple[str, str]]:
    return Counter((h.element_id, h.event) for h in engine.instances.history(instance_id))


def test_three_messages_start_three_branches_and_the_subscription_stays(engine: Engine, deploy) -> None:
    deploy(pinged())
    instance = engine.instances.start("p")
    [row] = subscriptions(engine, instance.id)
    assert row[1:] == ("ping", "ping")
    for _ in range(3):
        engine.messages.correlate("ping", instance_id=instance.id)
        assert subscriptions(engine, instance.id) == [row]  # the same row, not a new one per message
    assert len(open_tasks(engine, instance.id, "handle")) == 3
    assert len(open_tasks(engine, instance.id, "work")) == 1
    assert history(engine, instance.id)[("ping", "completed")] == 3  # one boundary event per message


def test_the_activity_ending_ends_the_subscription_and_leaves_the_branches_open(engine: Engine, deploy) -> None:
    deploy(pinged())
    instance = engine.instances.start("p", variables={"status": "open"})
    engine.messages.correlate("ping", instance_id=instance.id)
    engine.messages.correlate("ping", instance_id=instance.id)
    [work] = open_tasks(engine, instance.id, "work")
    engine.tasks.complete(work.id, {"status": "done"})
    assert subscriptions(engine, instance.id) == []
    with pytest.raises(BadRequest):
        engine.messages.correlate("ping", instance_id=instance.id)
    first, second = open_tasks(engine, instance.id, "handle")
    assert engine.instances.get(instance.id).state == "ACTIVE"
    engine.tasks.complete(first.id, {"first": True})
    assert engine.instances.get(instance.id).state == "ACTIVE"  # a token is still at the other branch
    engine.tasks.complete(second.id, {"second": True})
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.instances.variables(instance.id) == {"status": "done", "first": True, "second": True}
    assert engine.tasks.get(first.id).outcome == engine.tasks.get(second.id).outcome == "completed"
    seen = history(engine, instance.id)
    assert seen[("ping", "completed")] == seen[("handle", "completed")] == seen[("e2", "completed")] == 2
    assert seen[("work", "completed")] == seen[("e1", "completed")] == 1
    assert seen[("handle", "cancelled")] == 0


def test_a_branch_counter_counts_every_message(engine: Engine, deploy) -> None:
    deploy(pinged(branch='<bpmn:scriptTask id="handle"><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>'))
    instance = engine.instances.start("p", variables={"n": 0})
    engine.messages.correlate("ping", instance_id=instance.id)
    with engine.db.read() as session:
        after_one = len(session.get(m.ProcessInstance, instance.id).runtime)
    for _ in range(29):
        engine.messages.correlate("ping", instance_id=instance.id)
    assert engine.instances.variables(instance.id) == {"n": 30}
    with engine.db.read() as session:  # each ended branch and its fired event are pruned away
        assert len(session.get(m.ProcessInstance, instance.id).runtime) < 1.2 * after_one
    engine.tasks.complete(open_tasks(engine, instance.id, "work")[0].id, {})
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.instances.variables(instance.id) == {"n": 30}


def test_every_signal_starts_a_branch_of_a_non_interrupting_signal_boundary_event(engine: Engine, deploy) -> None:
    deploy(pinged(trigger=ALERT))
    instance = engine.instances.start("p")
    [row] = subscriptions(engine, instance.id)
    for _ in range(3):
        assert engine.messages.signal("alert") == 1
    assert len(open_tasks(engine, instance.id, "handle")) == 3
    assert subscriptions(engine, instance.id) == [row]
    engine.tasks.complete(open_tasks(engine, instance.id, "work")[0].id, {})
    assert subscriptions(engine, instance.id) == []
    assert engine.messages.signal("alert") == 0
    for task in open_tasks(engine, instance.id, "handle"):
        engine.tasks.complete(task.id, {})
    assert engine.instances.get(instance.id).state == "COMPLETED"


def test_branches_outlive_an_interrupting_event_on_the_same_activity(engine: Engine, deploy) -> None:
    """Camunda starts each branch beside the activity: cancelling the activity leaves them running."""
    deploy(pinged(more='<bpmn:boundaryEvent id="stop" attachedToRef="work"><bpmn:messageEventDefinition '
                       'messageRef="m_stop"/></bpmn:boundaryEvent><bpmn:userTask id="stopped"/>'
                       '<bpmn:endEvent id="e3"/>' + chain("stop", "stopped", "e3")))
    instance = engine.instances.start("p")
    engine.messages.correlate("ping", instance_id=instance.id)
    engine.messages.correlate("ping", instance_id=instance.id)
    [work] = open_tasks(engine, instance.id, "work")
    engine.messages.correlate("stop", instance_id=instance.id)
    assert engine.tasks.get(work.id).outcome == "cancelled"
    assert subscriptions(engine, instance.id) == []
    assert len(open_tasks(engine, instance.id, "handle")) == 2
    for key in ("handle", "stopped"):
        for task in open_tasks(engine, instance.id, key):
            engine.tasks.complete(task.id, {})
    assert engine.instances.get(instance.id).state == "COMPLETED"


def test_the_branches_of_a_cycle_timer_outlive_the_activity(engine: Engine, deploy, clock) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e1"/>
        <bpmn:boundaryEvent id="nag" attachedToRef="work" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:userTask id="follow_up"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "work", "e1") + chain("nag", "follow_up", "e2")))
    instance = engine.instances.start("p")
    for _ in range(2):
        clock.advance(hours=1, seconds=1)
        assert engine.jobs.execute_due() == 1
    assert len(open_tasks(engine, instance.id, "follow_up")) == 2
    engine.tasks.complete(open_tasks(engine, instance.id, "work")[0].id, {})
    clock.advance(hours=5)
    assert engine.jobs.execute_due() == 0  # the timer ended with the activity
    first, second = open_tasks(engine, instance.id, "follow_up")
    engine.tasks.complete(first.id, {})
    assert engine.instances.get(instance.id).state == "ACTIVE"
    engine.tasks.complete(second.id, {"done": True})
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.instances.variables(instance.id) == {"done": True}
    seen = history(engine, instance.id)
    assert seen[("follow_up", "completed")] == seen[("e2", "completed")] == 2
    assert seen[("follow_up", "cancelled")] == 0


def test_cancelling_the_instance_cancels_the_branches_too(engine: Engine, deploy) -> None:
    deploy(pinged())
    instance = engine.instances.start("p")
    engine.messages.correlate("ping", instance_id=instance.id)
    engine.tasks.complete(open_tasks(engine, instance.id, "work")[0].id, {})
    [handle] = open_tasks(engine, instance.id, "handle")
    engine.instances.cancel(instance.id)
    assert engine.tasks.get(handle.id).outcome == "cancelled"
    assert engine.instances.get(instance.id).state == "CANCELED"


@pytest.mark.parametrize("trigger", [PING, ALERT], ids=["message", "signal"])
def test_a_non_interrupting_event_subprocess_in_a_subprocess_runs_on_every_event(engine: Engine, deploy,
                                                                                 trigger: str) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="after"/><bpmn:endEvent id="e"/>
        <bpmn:subProcess id="sub"><bpmn:startEvent id="ss"/><bpmn:userTask id="work"/><bpmn:endEvent id="se"/>
        """ + chain("ss", "work", "se") + f"""
          <bpmn:subProcess id="on_ping" triggeredByEvent="true">
            <bpmn:startEvent id="ping_start" isInterrupting="false">{trigger}</bpmn:startEvent>
            <bpmn:userTask id="handle"/><bpmn:endEvent id="ping_end"/>""" + chain("ping_start", "handle", "ping_end")
        + "</bpmn:subProcess></bpmn:subProcess>" + chain("s", "sub", "after", "e"), extra=EVENTS))
    instance = engine.instances.start("p")
    [row] = subscriptions(engine, instance.id)
    for _ in range(3):
        if trigger == PING:
            engine.messages.correlate("ping", instance_id=instance.id)
        else:
            engine.messages.signal("alert")
    assert len(open_tasks(engine, instance.id, "handle")) == 3
    assert subscriptions(engine, instance.id) == [row]
    engine.tasks.complete(open_tasks(engine, instance.id, "work")[0].id, {})
    assert open_tasks(engine, instance.id, "after") == []  # the subprocess waits for its runs
    for task in open_tasks(engine, instance.id, "handle"):
        engine.tasks.complete(task.id, {})
    assert subscriptions(engine, instance.id) == []
    engine.tasks.complete(open_tasks(engine, instance.id, "after")[0].id, {})
    assert engine.instances.get(instance.id).state == "COMPLETED"
