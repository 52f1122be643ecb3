"""Camunda's date functions in a diagram's expressions, on the engine's clock: `${dateTime().plusDays(2).toDate()}`
as a task's due date, `${now()}` in a variable, a timer's date (they were refused at deploy)."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.api import Engine
from tests.helpers import bpmn, chain


def test_due_dates_and_timers_from_now_and_date_time(engine: Engine, deploy, clock) -> None:
    clock.set(datetime(2026, 1, 31, 9, 30, tzinfo=UTC))
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="call" name="Call back by ${dateTime().plusDays(1).withTimeAtStartOfDay().plusHours(17)}"
                       camunda:dueDate="${dateTime().plusDays(2).toDate()}"
                       camunda:followUpDate="${dateTime().plusMonths(1).toDate()}">
          <bpmn:extensionElements><camunda:inputOutput>
            <camunda:inputParameter name="askedAt">${now()}</camunda:inputParameter>
          </camunda:inputOutput></bpmn:extensionElements>
        </bpmn:userTask>
        <bpmn:intermediateCatchEvent id="wait">
          <bpmn:timerEventDefinition><bpmn:timeDate>${dateTime().plusHours(3).toDate()}</bpmn:timeDate>
          </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "call", "wait", "after", "e")))
    instance = engine.instances.start("p")
    [task] = engine.tasks.list(instance_id=instance.id)
    assert task.name == "Call back by 2026-02-01T17:00:00.000Z"
    assert task.due == datetime(2026, 2, 2, 9, 30, tzinfo=UTC)
    assert task.follow_up == datetime(2026, 2, 28, 9, 30, tzinfo=UTC)  # Joda's month: the month's last day
    assert engine.tasks.variables(task.id)["askedAt"] == datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
    clock.advance(minutes=10)
    engine.tasks.complete(task.id, {})
    [job] = engine.jobs.list(instance_id=instance.id)
    assert job["dueDate"] == "2026-01-31T12:40:00.000+0000"  # three hours from when the timer started
    clock.advance(hours=3, seconds=1)
    engine.jobs.execute_due()
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["after"]
