"""An element that waited (a timer, a message, an external task) starts in the activity history when it began to
wait, as Camunda's historic activity instance does: it started when it completed, so its duration read 0 ms."""

from __future__ import annotations

from datetime import timedelta

from engine.api import Engine
from engine.clock import VirtualClock
from engine.external_tasks import TopicRequest
from engine.views import iso
from tests.helpers import bpmn, chain

WAITS = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:intermediateCatchEvent id="cool_off"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>
    </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:serviceTask id="ship" camunda:type="external" camunda:topic="shipping"/>
    <bpmn:receiveTask id="delivered" messageRef="msg_delivered"/>
    <bpmn:endEvent id="e"/>""" + chain("s", "cool_off", "ship", "delivered", "e"), process_id="waits").replace(
    b"</bpmn:definitions>", b'<bpmn:message id="msg_delivered" name="delivered"/></bpmn:definitions>')


def test_a_timer_an_external_task_and_a_message_wait_start_when_they_began_to_wait(engine: Engine, deploy,
                                                                                   clock: VirtualClock) -> None:
    deploy(WAITS, "waits.bpmn")
    started = clock.now()
    instance = engine.instances.start("waits")
    clock.advance(hours=1)
    assert engine.jobs.execute_due() == 1
    shipping_from = clock.now()
    clock.advance(minutes=5)
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [TopicRequest("shipping", 60_000)])
    engine.external_tasks.complete(task["id"], "w1")
    engine.executor.runs.clear()  # what began to wait is read back from the stored runtime
    waiting_from = clock.now()
    clock.advance(days=2)
    engine.messages.correlate("delivered", instance_id=instance.id)
    times = {a["activityId"]: (a["startTime"], a["endTime"], a["durationInMillis"])
             for a in engine.history.activities(instance.id)}
    assert times["cool_off"] == (iso(started), iso(started + timedelta(hours=1)), 3_600_000)
    assert times["ship"] == (iso(shipping_from), iso(shipping_from + timedelta(minutes=5)), 300_000)
    assert times["delivered"] == (iso(waiting_from), iso(waiting_from + timedelta(days=2)), 172_800_000)
    assert times["s"][2] == 0  # what did not wait takes no time, as before
