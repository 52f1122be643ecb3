"""Timers on the virtual clock: retries and incidents, moved due dates, cycles after downtime."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from engine.api import Engine
from engine.errors import ScriptError
from engine.jobs import parse_retry_cycle
from engine.store import models as m
from engine.views import iso
from tests.helpers import bpmn, chain


def failing_after_timer(retry_cycle: str | None = None) -> bytes:
    retry = (f"<bpmn:extensionElements><camunda:failedJobRetryTimeCycle>{retry_cycle}"
             "</camunda:failedJobRetryTimeCycle></bpmn:extensionElements>") if retry_cycle else ""
    return bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:intermediateCatchEvent id="wait">{retry}<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:scriptTask id="charge"><bpmn:script>fee = amount / divisor</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="done"/><bpmn:endEvent id="e"/>""" + chain("s", "wait", "charge", "done", "e"))


def test_a_failing_timer_job_is_retried_then_becomes_an_incident(engine: Engine, deploy, clock) -> None:
    deploy(failing_after_timer())
    instance = engine.instances.start("p", variables={"amount": 10, "divisor": 0})
    clock.advance(hours=1, seconds=1)
    assert engine.jobs.execute_due() == 0  # it failed
    [job] = engine.jobs.list(instance_id=instance.id)
    assert job["retries"] == 2 and "ZeroDivisionError" in job["exceptionMessage"]
    assert engine.jobs.incidents() == []
    clock.advance(minutes=4)
    assert engine.jobs.execute_due() == 0  # not due again before five minutes
    assert engine.jobs.list(instance_id=instance.id)[0]["retries"] == 2
    clock.advance(minutes=1, seconds=1)
    engine.jobs.execute_due()
    clock.advance(minutes=5, seconds=1)
    engine.jobs.execute_due()
    [job] = engine.jobs.list(instance_id=instance.id)
    assert job["retries"] == 0
    [incident] = engine.jobs.incidents()
    assert (incident["processInstanceId"], incident["activityId"], incident["jobId"]) == (instance.id, "wait", job["id"])
    assert "ZeroDivisionError" in incident["incidentMessage"]
    clock.advance(hours=1)
    assert engine.jobs.execute_due() == 0  # an incident waits for a person

    engine.instances.set_variables(instance.id, {"divisor": 2})  # the cause is fixed ...
    engine.jobs.retry(job["id"])  # ... and the job retried
    assert engine.jobs.incidents() == []
    assert engine.jobs.execute_due() == 1
    assert engine.instances.variables(instance.id)["fee"] == 5
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["done"]


def test_moving_a_failed_job_due_again_takes_the_date_asked_for(engine: Engine, deploy, clock) -> None:
    """A job waiting for its next try after a failure (a timer's, an async step's) kept that retry time whatever
    date was set, and the command said "now due <the retry time>": once the cause is fixed, an operator runs it
    now, as with Camunda's setJobDuedate."""
    deploy(failing_after_timer())
    deploy(bpmn("""<bpmn:startEvent id="s"/>
        <bpmn:scriptTask id="charge" camunda:asyncBefore="true"><bpmn:script>fee = amount / divisor</bpmn:script>
        </bpmn:scriptTask><bpmn:userTask id="done"/><bpmn:endEvent id="e"/>""" + chain("s", "charge", "done", "e"),
        process_id="async_charge"))
    timer = engine.instances.start("p", variables={"amount": 10, "divisor": 0})
    clock.advance(hours=1, seconds=1)
    step = engine.instances.start("async_charge", variables={"amount": 10, "divisor": 0})
    assert engine.jobs.execute_due() == 0  # both failed: each tried again in 5 minutes
    for instance in (timer, step):
        [job] = engine.jobs.list(instance_id=instance.id)
        engine.instances.set_variables(instance.id, {"divisor": 2})
        moved = engine.jobs.set_due(job["id"], clock.now() - timedelta(days=300))
        assert moved["dueDate"] == iso(clock.now() - timedelta(days=300))
    assert engine.jobs.execute_due() == 2
    assert [engine.instances.variables(i.id)["fee"] for i in (timer, step)] == [5, 5]


def test_the_retry_cycle_comes_from_the_element(engine: Engine, deploy, clock) -> None:
    deploy(failing_after_timer("R5/PT1M"))
    instance = engine.instances.start("p", variables={"amount": 1, "divisor": 0})
    clock.advance(hours=1, seconds=1)
    engine.jobs.execute_due()
    [job] = engine.jobs.list(instance_id=instance.id)
    assert job["retries"] == 4
    clock.advance(minutes=1, seconds=1)
    engine.jobs.execute_due()
    assert engine.jobs.list(instance_id=instance.id)[0]["retries"] == 3


def test_parse_retry_cycle() -> None:
    assert parse_retry_cycle("R3/PT5M") == (3, timedelta(minutes=5))
    assert parse_retry_cycle("PT1M,PT10M,PT1H") == (3, timedelta(minutes=1))


def test_an_ops_person_moves_a_deadline(engine: Engine, deploy, clock) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="qualify"/>
        <bpmn:boundaryEvent id="late" attachedToRef="qualify"><bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:userTask id="escalate"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "qualify", "e1") + chain("late", "escalate", "e2")))
    instance = engine.instances.start("p")
    [job] = engine.jobs.list(instance_id=instance.id)
    later = clock.now() + timedelta(days=3)
    moved = engine.jobs.set_due(job["id"], later)
    assert moved["dueDate"].startswith(later.strftime("%Y-%m-%dT%H:%M"))
    clock.advance(days=2)
    assert engine.jobs.execute_due() == 0  # the old deadline passed: nothing happens
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["qualify"]

    sooner = clock.now() + timedelta(hours=1)
    [job] = engine.jobs.list(instance_id=instance.id)
    engine.jobs.set_due(job["id"], sooner)  # earlier than the timer's own value: it must still fire then
    clock.advance(hours=1, seconds=1)
    assert engine.jobs.execute_due() == 1
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["escalate"]


def test_a_cycle_that_missed_periods_fires_once_not_in_a_burst(engine: Engine, deploy, clock) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/>
        <bpmn:boundaryEvent id="nag" attachedToRef="work" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R5/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:userTask id="reminder"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "work", "e1") + chain("nag", "reminder", "e2")))
    instance = engine.instances.start("p")

    def reminders() -> int:
        return sum(t.task_definition_key == "reminder" for t in engine.tasks.list(instance_id=instance.id))

    clock.advance(hours=1, seconds=1)
    engine.jobs.execute_due()
    assert reminders() == 1
    clock.advance(hours=3, seconds=1)  # the engine was down for three periods
    while engine.jobs.execute_due():
        pass
    assert reminders() == 2  # one firing for the missed periods
    [job] = engine.jobs.list(instance_id=instance.id)
    assert job["dueDate"] > clock.now().strftime("%Y-%m-%dT%H:%M")


def test_a_cycle_leaves_no_job_after_its_last_repetition(engine: Engine, deploy, clock) -> None:
    """`R2/PT1H` on a non-interrupting boundary: two reminders, then no third job (SpiffWorkflow keeps the event
    waiting for a time that would fire nothing)."""
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/>
        <bpmn:boundaryEvent id="nag" attachedToRef="work" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R2/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:userTask id="reminder"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "work", "e1") + chain("nag", "reminder", "e2")))
    instance = engine.instances.start("p")
    for _ in range(2):
        clock.advance(hours=1, seconds=1)
        assert engine.jobs.execute_due() == 1
    assert sorted(t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)) == [
        "reminder", "reminder", "work"]
    assert engine.jobs.list(instance_id=instance.id) == []


def timer_start(definition: str) -> bytes:
    return bpmn(f"""
        <bpmn:startEvent id="every_morning"><bpmn:timerEventDefinition>{definition}</bpmn:timerEventDefinition></bpmn:startEvent>
        <bpmn:userTask id="check_stock"/><bpmn:endEvent id="e"/>""" + chain("every_morning", "check_stock", "e"),
        process_id="stock_check")


def test_a_timer_start_event_starts_instances_on_its_cycle(engine: Engine, deploy, clock) -> None:
    deploy(timer_start("<bpmn:timeCycle>R3/P1D</bpmn:timeCycle>"))
    [job] = engine.jobs.list()
    assert job["jobType"] == "timer-start" and job["processInstanceId"] is None
    assert engine.jobs.execute_due() == 0
    for day in range(1, 5):
        clock.advance(days=1, seconds=1)
        engine.jobs.execute_due()
        assert len(engine.instances.list(definition_key="stock_check")) == min(day, 3)
    assert engine.jobs.list() == []  # three repetitions, then done
    [task, *_] = engine.tasks.list(process_key="stock_check")
    assert task.task_definition_key == "check_stock"


def test_a_new_version_replaces_the_timer_of_the_old_one(engine: Engine, deploy, clock) -> None:
    deploy(timer_start("<bpmn:timeDuration>PT1H</bpmn:timeDuration>"))
    deploy(timer_start("<bpmn:timeDuration>PT2H</bpmn:timeDuration>"))
    [job] = engine.jobs.list()
    assert job["processDefinitionId"] == engine.definitions.latest("stock_check").id
    clock.advance(hours=2, seconds=1)
    assert engine.jobs.execute_due() == 1
    [instance] = engine.instances.list(definition_key="stock_check")
    assert instance.definition_id == job["processDefinitionId"]
    assert engine.jobs.list() == []


def sla_process(interrupting: bool) -> bytes:
    flag = "true" if interrupting else "false"
    return bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e"/>
        """ + chain("s", "work", "e") + f"""
        <bpmn:subProcess id="sla" triggeredByEvent="true">
          <bpmn:startEvent id="sla_start" isInterrupting="{flag}"><bpmn:timerEventDefinition><bpmn:timeDuration>PT4H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>
          <bpmn:userTask id="escalate"/><bpmn:endEvent id="se"/>
          """ + chain("sla_start", "escalate", "se") + """
        </bpmn:subProcess>""")


def test_a_non_interrupting_timer_event_subprocess_runs_beside_the_work(engine: Engine, deploy, clock) -> None:
    deploy(sla_process(interrupting=False))
    instance = engine.instances.start("p")
    clock.advance(hours=4, seconds=1)
    assert engine.jobs.execute_due() == 1
    tasks = {t.task_definition_key: t for t in engine.tasks.list(instance_id=instance.id)}
    assert sorted(tasks) == ["escalate", "work"]
    for task in tasks.values():
        engine.tasks.complete(task.id, {})
    assert engine.instances.get(instance.id).state == "COMPLETED"


def test_an_interrupting_timer_event_subprocess_takes_over(engine: Engine, deploy, clock) -> None:
    deploy(sla_process(interrupting=True))
    instance = engine.instances.start("p")
    [work] = engine.tasks.list(instance_id=instance.id)
    clock.advance(hours=4, seconds=1)
    assert engine.jobs.execute_due() == 1
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["escalate"]
    assert engine.tasks.get(work.id).outcome == "cancelled"


def test_an_instance_whose_work_ends_before_the_event_subprocess_timer_ends_too(engine: Engine, deploy) -> None:
    deploy(sla_process(interrupting=False))
    instance = engine.instances.start("p")
    [work] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(work.id, {})
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.jobs.list(instance_id=instance.id) == []


def test_async_before_returns_to_the_caller_and_a_job_continues(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="order"/>
        <bpmn:scriptTask id="invoice" camunda:asyncBefore="true"><bpmn:script>invoiced = total * 2</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="ship" camunda:asyncBefore="true"/><bpmn:endEvent id="e"/>""" + chain("s", "order", "invoice", "ship", "e")))
    instance = engine.instances.start("p")
    [order] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(order.id, {"total": 21})
    assert "invoiced" not in engine.instances.variables(instance.id)  # the caller got control back first
    [job] = engine.jobs.list(instance_id=instance.id)
    assert (job["jobType"], job["activityId"]) == ("async", "invoice")
    assert engine.jobs.execute_due() == 1
    assert engine.instances.variables(instance.id)["invoiced"] == 42
    assert engine.tasks.list(instance_id=instance.id) == []  # the user task waits for its own job
    assert engine.jobs.execute_due() == 1
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["ship"]


def test_async_after_commits_the_completed_element_and_a_job_runs_what_follows(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="order" camunda:asyncAfter="true"/>
        <bpmn:scriptTask id="invoice"><bpmn:script>invoiced = total * 2</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="ship"/><bpmn:endEvent id="e"/>""" + chain("s", "order", "invoice", "ship", "e")))
    instance = engine.instances.start("p")
    [order] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(order.id, {"total": 21})
    # the completion is stored and the task gone; what follows waits for a job of the element `order`
    assert engine.tasks.list(instance_id=instance.id) == []
    assert engine.instances.variables(instance.id)["total"] == 21
    assert "invoiced" not in engine.instances.variables(instance.id)
    [job] = engine.jobs.list(instance_id=instance.id)
    assert (job["jobType"], job["activityId"]) == ("async", "order")
    assert [e.event for e in engine.instances.history(instance.id) if e.element_id == "order"] == ["completed"]
    assert engine.jobs.execute_due() == 1
    assert engine.instances.variables(instance.id)["invoiced"] == 42
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["ship"]
    assert engine.jobs.list(instance_id=instance.id) == []


def test_async_after_a_gateway_holds_the_chosen_branch_only(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:exclusiveGateway id="big" camunda:asyncAfter="true" default="small_flow"/>
        <bpmn:userTask id="review"/><bpmn:userTask id="ship"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
        <bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="big"/>
        <bpmn:sequenceFlow id="big_flow" sourceRef="big" targetRef="review"><bpmn:conditionExpression>${amount > 1000}</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:sequenceFlow id="small_flow" sourceRef="big" targetRef="ship"/>
        """ + chain("review", "e1") + chain("ship", "e2")))
    large = engine.instances.start("p", variables={"amount": 5000})
    small = engine.instances.start("p", variables={"amount": 10})
    assert engine.tasks.list(instance_id=large.id) == engine.tasks.list(instance_id=small.id) == []
    assert [j["activityId"] for j in engine.jobs.list(instance_id=large.id)] == ["big"]
    assert engine.jobs.execute_due() == 2
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=large.id)] == ["review"]
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=small.id)] == ["ship"]


def test_a_failing_async_step_is_retried_then_an_incident(engine: Engine, deploy, clock) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:scriptTask id="risky" camunda:asyncBefore="true"><bpmn:extensionElements><camunda:failedJobRetryTimeCycle>R2/PT1M</camunda:failedJobRetryTimeCycle></bpmn:extensionElements><bpmn:script>x = 1 / zero</bpmn:script></bpmn:scriptTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "risky", "e")))
    instance = engine.instances.start("p", variables={"zero": 0})
    assert engine.instances.get(instance.id).state == "ACTIVE"  # start returned before the failing step
    engine.jobs.execute_due()
    clock.advance(minutes=1, seconds=1)
    engine.jobs.execute_due()
    [incident] = engine.jobs.incidents(instance_id=instance.id)
    assert incident["activityId"] == "risky"


def test_a_timer_fires_when_the_clock_reaches_its_time(engine: Engine, deploy, clock) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "wait", "after", "e")))
    instance = engine.instances.start("p")
    clock.advance(minutes=59, seconds=59)
    assert engine.jobs.execute_due() == 0
    clock.advance(seconds=1)  # exactly due (SpiffWorkflow alone waits until strictly past it)
    assert engine.jobs.execute_due() == 1
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["after"]


def test_a_job_row_due_before_its_timer_is_corrected_instead_of_fired_on_every_tick(engine: Engine, deploy,
                                                                                    clock) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "wait", "after", "e")))
    instance = engine.instances.start("p")
    [job] = engine.jobs.list(instance_id=instance.id)
    with engine.db.write() as session:  # the row's due time changed behind the engine's back (a restore, by hand)
        session.execute(update(m.Job).where(m.Job.id == job["id"]).values(due_at=clock.now() - timedelta(hours=1)))
    assert engine.jobs.execute_due() == 0  # not due by the instance's timer: nothing fired
    assert engine.jobs.list(instance_id=instance.id) == [job]  # the row has its timer's due time again
    assert engine.jobs.acquire(10) == []  # so no tick takes it again before then
    assert engine.tasks.list(instance_id=instance.id) == []
    clock.advance(hours=1)
    assert engine.jobs.execute_due() == 1
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["after"]


def test_a_timer_start_event_on_a_fixed_date_starts_one_instance_then(engine: Engine, deploy, clock) -> None:
    # StartTimerEventTest.testFixedDateStartTimerEvent: the date has passed by the time the job runs, so the
    # new instance's first step fires the timer itself.
    deploy(timer_start("<bpmn:timeDate>2036-11-14T11:12:22</bpmn:timeDate>"))
    [job] = engine.jobs.list()
    assert job["dueDate"].startswith("2036-11-14T11:12:22")
    clock.set(clock.now().replace(year=2036, month=11, day=14, hour=11, minute=12, second=23))
    assert engine.jobs.execute_due() == 1
    [instance] = engine.instances.list(definition_key="stock_check")
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["check_stock"]
    assert engine.jobs.list() == [] and engine.jobs.incidents() == []


def test_a_job_that_can_never_run_becomes_an_incident_instead_of_staying_due(engine: Engine, deploy) -> None:
    from sqlalchemy import update

    from engine.store import models as m

    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:scriptTask id="invoice" camunda:asyncBefore="true"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "invoice", "e")))
    instance = engine.instances.start("p")
    [job] = engine.jobs.list(instance_id=instance.id)
    with engine.db.write() as session:  # the continuation it names is gone (a damaged or outdated row)
        session.execute(update(m.Job).where(m.Job.id == job["id"]).values(task_id="00000000-0000-0000-0000-000000000000"))
    assert engine.jobs.execute_due() == 0
    [incident] = engine.jobs.incidents(instance_id=instance.id)
    assert incident["activityId"] == "invoice" and "cannot run" in incident["incidentMessage"]
    [after] = engine.jobs.list(instance_id=instance.id)
    assert after["retries"] == 0
    assert engine.jobs.execute_due() == 0  # no longer due: nothing picks it up again


def test_new_retries_for_a_healthy_timer_keep_its_due_date_and_execute_still_fires_it(
        engine: Engine, deploy, clock) -> None:
    """Camunda's setJobRetries changes no due date; executeJob runs the job whatever its retries."""
    deploy(failing_after_timer())
    instance = engine.instances.start("p", variables={"amount": 10, "divisor": 2})
    [job] = engine.jobs.list(instance_id=instance.id)
    engine.jobs.retry(job["id"], 2)
    [again] = engine.jobs.list(instance_id=instance.id)
    assert (again["dueDate"], again["retries"]) == (job["dueDate"], 2)
    assert engine.jobs.execute_due() == 0  # not due: setting retries did not make it so
    engine.jobs.execute(job["id"], now_anyway=True)
    assert engine.jobs.list(instance_id=instance.id) == []
    assert engine.instances.variables(instance.id)["fee"] == 5


def test_a_timer_run_early_that_failed_fires_at_its_retry_on_the_worker(engine: Engine, deploy, clock) -> None:
    """An operator's early execute fails; the retry's due time comes: the timer fires then, though the failed
    try's early firing was rolled back (the job's row says when it runs, not the timer's first due time)."""
    deploy(failing_after_timer())
    instance = engine.instances.start("p", variables={"amount": 10, "divisor": 0})
    [job] = engine.jobs.list(instance_id=instance.id)
    with pytest.raises(ScriptError):
        engine.jobs.execute(job["id"], now_anyway=True)
    engine.instances.set_variables(instance.id, {"divisor": 2})
    [failed] = engine.jobs.list(instance_id=instance.id)
    clock.set(datetime.fromisoformat(failed["dueDate"].replace("+0000", "+00:00")))  # the retry interval
    assert engine.jobs.execute_due() == 1
    assert engine.jobs.list(instance_id=instance.id) == []
    assert engine.instances.variables(instance.id)["fee"] == 5


def test_a_timer_value_that_does_not_parse_names_the_element_the_value_and_the_forms(engine: Engine, deploy,
                                                                                     clock) -> None:
    """A cycle from an expression: an unset variable is Camunda's message about the expression as written (not
    Stageflow's translation of it); a value that is no cycle says which forms are; a number is refused as a cycle.
    Each leaves no instance behind."""
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="t"/><bpmn:endEvent id="e"/>
        <bpmn:boundaryEvent id="remind" attachedToRef="t" cancelActivity="false">
          <bpmn:timerEventDefinition><bpmn:timeCycle>${cycle}</bpmn:timeCycle></bpmn:timerEventDefinition>
        </bpmn:boundaryEvent>
        <bpmn:endEvent id="e2"/><bpmn:sequenceFlow id="fb" sourceRef="remind" targetRef="e2"/>
        """ + chain("s", "t", "e"), process_id="cycles"))
    cases = [({}, "Unknown property used in expression: ${cycle}. Cause: Cannot resolve identifier 'cycle'"),
             ({"cycle": "every day"}, "timer cycle 'every day' is neither an ISO 8601 repeating interval "
                                      "(R3/PT10M, R/2026-01-05T09:00:00Z/P1D) nor a cron expression (0 0 9 * * ?)"),
             ({"cycle": 5}, "timer cycle 5 is a number, not a repeating interval (R3/PT10M) or a cron expression")]
    for variables, message in cases:
        with pytest.raises(ScriptError) as failed:
            engine.instances.start("cycles", variables=variables)
        assert failed.value.element_id == "remind"
        assert message in str(failed.value), str(failed.value)
        assert "_sf_" not in str(failed.value) and "could not run" not in str(failed.value)
    assert engine.instances.list(definition_key="cycles") == []
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:intermediateCatchEvent id="pause"><bpmn:timerEventDefinition>
          <bpmn:timeDuration>${wait}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:intermediateCatchEvent id="until"><bpmn:timerEventDefinition>
          <bpmn:timeDate>${when}</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:endEvent id="e"/>""" + chain("s", "pause", "until", "e"), process_id="pauses"))
    with pytest.raises(ScriptError) as failed:  # the first timer is set at the start
        engine.instances.start("pauses", variables={"wait": "soon"})
    assert failed.value.element_id == "pause"
    assert "timer duration 'soon' is not an ISO 8601 duration (PT10M, P2D)" in str(failed.value)
    for when, message in [("tomorrow", "timer date 'tomorrow' is not an ISO 8601 date-time (2026-01-05T09:00:00Z) "
                                       "or duration (P2D)"),
                          (5, "timer date 5 is a number, not an ISO 8601 date-time or duration")]:
        paused = engine.instances.start("pauses", variables={"wait": "PT1M", "when": when})
        clock.advance(minutes=1)
        assert engine.jobs.execute_due() == 0  # the second timer is set once the first fired: that step fails
        [job] = engine.jobs.list(instance_id=paused.id)
        assert job["activityId"] == "pause" and message in job["exceptionMessage"], job["exceptionMessage"]
    started = engine.instances.start("cycles", variables={"cycle": "R2/PT1H"})
    assert [j["activityId"] for j in engine.jobs.list(instance_id=started.id)] == ["remind"]


def past_due_timer_before_a_script() -> bytes:
    """A timer on a date its instances reach after it passed (a deadline a variable gives), then a script."""
    return bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="prepare"/>
        <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDate>${deadline}</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:scriptTask id="charge"><bpmn:script>fee = amount / divisor</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="done"/><bpmn:endEvent id="e"/>""" + chain("s", "prepare", "wait", "charge", "done", "e"))


@pytest.mark.parametrize("when", ["start", "completion"])
def test_a_timer_already_due_fires_after_the_change_that_reached_it_commits(engine: Engine, deploy, clock,
                                                                              when: str) -> None:
    """Camunda: a timer is a job. A change that reaches a timer whose date has passed commits with the instance
    waiting at it; the job executor fires it next, in its own transaction. A script failing after the timer fails
    the timer's job (retries, then an incident), never the start or completion that reached the timer."""
    deploy(past_due_timer_before_a_script())
    past = (clock.now() - timedelta(days=1)).isoformat()
    variables = {"deadline": past, "amount": 10, "divisor": 0}
    instance = engine.instances.start("p", variables=variables)
    [prepare] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(prepare.id, {})  # reaches the timer: the completion goes through
    state = engine.instances.state(instance.id)
    assert state.active_elements == ["wait"] and state.incidents == []
    [job] = engine.jobs.list(instance_id=instance.id)
    assert job["dueDate"] == engine.instances.state(instance.id).timers[0]["dueDate"]
    assert datetime.fromisoformat(job["dueDate"].replace("+0000", "+00:00")) < clock.now()  # due: the next poll

    assert engine.jobs.execute_due() == 0  # the job runs and fails: the instance stays at the timer
    [job] = engine.jobs.list(instance_id=instance.id)
    assert job["retries"] == 2 and "ZeroDivisionError" in job["exceptionMessage"]
    assert engine.instances.state(instance.id).active_elements == ["wait"]
    engine.instances.set_variables(instance.id, {"divisor": 2})
    engine.jobs.retry(job["id"])
    assert engine.jobs.execute_due() == 1
    assert engine.instances.variables(instance.id)["fee"] == 5
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["done"]
    if when == "start":  # the same when the start itself reaches the timer
        start_first = bpmn("""<bpmn:startEvent id="s"/>
            <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDate>${deadline}</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
            <bpmn:scriptTask id="charge"><bpmn:script>fee = amount / divisor</bpmn:script></bpmn:scriptTask>
            <bpmn:endEvent id="e"/>""" + chain("s", "wait", "charge", "e"), "direct")
        deploy(start_first, "direct.bpmn")
        direct = engine.instances.start("direct", variables=variables)
        assert engine.instances.state(direct.id).active_elements == ["wait"]
        assert engine.jobs.execute_due() == 0
        assert engine.jobs.list(instance_id=direct.id)[0]["retries"] == 2


def test_a_boundary_timer_already_due_interrupts_after_the_task_was_created(engine: Engine, deploy, clock) -> None:
    """A user task whose deadline has passed when it is created: the start commits with the task open (Camunda:
    the boundary timer's job is created due), and the timer interrupts it at the next poll."""
    deploy(bpmn("""<bpmn:startEvent id="s"/><bpmn:userTask id="review"/>
        <bpmn:boundaryEvent id="late" attachedToRef="review"><bpmn:timerEventDefinition><bpmn:timeDate>${deadline}</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:userTask id="escalate"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>"""
                + chain("s", "review", "e1") + chain("late", "escalate", "e2")))
    instance = engine.instances.start("p", variables={"deadline": (clock.now() - timedelta(hours=1)).isoformat()})
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["review"]
    assert engine.jobs.execute_due() == 1
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["escalate"]


def test_a_cycle_whose_start_has_passed_first_falls_due_at_its_next_repetition(engine: Engine, deploy,
                                                                             clock) -> None:
    """`R3/<90 minutes ago>/PT1H` on a non-interrupting boundary: as Camunda's `DurationHelper`, the first firing
    is the first repetition after now (in 30 minutes), never one at once for the repetitions already past."""
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/>
        <bpmn:boundaryEvent id="nag" attachedToRef="work" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R3/${since}/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:userTask id="reminder"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "work", "e1") + chain("nag", "reminder", "e2")))
    started = clock.now()
    since = (started - timedelta(hours=1, minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    instance = engine.instances.start("p", variables={"since": since})

    def open_tasks() -> list[str]:
        return sorted(t.task_definition_key for t in engine.tasks.list(instance_id=instance.id))

    assert open_tasks() == ["work"]
    [job] = engine.jobs.list(instance_id=instance.id)
    due = datetime.fromisoformat(job["dueDate"].replace("+0000", "+00:00"))
    assert due == datetime.fromisoformat(since.replace("Z", "+00:00")) + timedelta(hours=2)
    assert engine.jobs.execute_due() == 0
    clock.advance(minutes=30, seconds=1)
    assert engine.jobs.execute_due() == 1
    assert open_tasks() == ["reminder", "work"]
