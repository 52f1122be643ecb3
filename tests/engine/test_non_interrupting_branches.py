"""Non-interrupting event branches (boundary events, event subprocesses): what a branch writes is a process
variable, as in Camunda 7, and an ended branch does not stay in the stored runtime."""

from __future__ import annotations

from engine.api import Engine
from engine.store import models as m
from tests.helpers import bpmn, chain

MESSAGES = '<bpmn:message id="m_ping" name="ping"/>'


def reminders(branch_script: str = "reminded = reminded + 1") -> bytes:
    """A user task nagged every hour by a non-interrupting cycle timer whose branch runs a script and ends."""
    return bpmn(f"""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e1"/>
        <bpmn:boundaryEvent id="nag" attachedToRef="work" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:scriptTask id="remind"><bpmn:script>{branch_script}</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="e2"/>
        """ + chain("s", "work", "e1") + chain("nag", "remind", "e2"))


def fire_hourly(engine: Engine, clock, times: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(times):
        clock.advance(hours=1, seconds=1)
        assert engine.jobs.execute_due() == 1


def open_task(engine: Engine, instance_id: str, element_id: str):  # type: ignore[no-untyped-def]
    [task] = [t for t in engine.tasks.list(instance_id=instance_id) if t.task_definition_key == element_id]
    return task


def runtime_size(engine: Engine, instance_id: str) -> int:
    with engine.db.read() as session:
        return len(session.get(m.ProcessInstance, instance_id).runtime)


def test_a_counter_a_cycle_branch_increments_reads_100_after_100_firings(engine: Engine, deploy, clock) -> None:
    deploy(reminders())
    instance = engine.instances.start("p", variables={"reminded": 0})
    fire_hourly(engine, clock, 1)
    assert engine.instances.variables(instance.id)["reminded"] == 1
    fire_hourly(engine, clock, 99)
    assert engine.instances.variables(instance.id)["reminded"] == 100
    assert engine.tasks.variables(open_task(engine, instance.id, "work").id)["reminded"] == 100
    engine.tasks.complete(open_task(engine, instance.id, "work").id, {})
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.instances.variables(instance.id) == {"reminded": 100}


def test_the_runtime_stays_the_same_size_however_often_a_cycle_branch_ran(engine: Engine, deploy, clock) -> None:
    deploy(reminders())
    instance = engine.instances.start("p", variables={"reminded": 0})
    fire_hourly(engine, clock, 1)
    after_one = runtime_size(engine, instance.id)
    fire_hourly(engine, clock, 99)
    after_hundred = runtime_size(engine, instance.id)
    assert after_hundred < 2 * after_one, (after_one, after_hundred)  # it grew 30-fold while branches were kept


def test_a_message_branch_variable_reaches_the_next_task_and_the_end(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:userTask id="after"/><bpmn:endEvent id="e1"/>
        <bpmn:boundaryEvent id="ping" attachedToRef="work" cancelActivity="false"><bpmn:messageEventDefinition messageRef="m_ping"/></bpmn:boundaryEvent>
        <bpmn:scriptTask id="count"><bpmn:script>pings = pings + 1
pinged = True</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="e2"/>
        """ + chain("s", "work", "after", "e1") + chain("ping", "count", "e2"), extra=MESSAGES))
    instance = engine.instances.start("p", variables={"pings": 0})
    engine.messages.correlate("ping", instance_id=instance.id)
    assert engine.instances.variables(instance.id) == {"pings": 1, "pinged": True}
    engine.tasks.complete(open_task(engine, instance.id, "work").id, {"approved": True})
    after = open_task(engine, instance.id, "after")
    assert engine.tasks.variables(after.id) == {"pings": 1, "pinged": True, "approved": True}
    engine.tasks.complete(after.id, {})
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.instances.variables(instance.id) == {"pings": 1, "pinged": True, "approved": True}


def test_a_branch_ending_after_the_main_flow_moved_on_writes_only_what_it_changed(engine: Engine, deploy) -> None:
    """The branch's copy of `status` is older than the main flow's: it must not come back when the branch ends.
    A variable the branch deleted is deleted."""
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:userTask id="after"/><bpmn:endEvent id="e1"/>
        <bpmn:boundaryEvent id="ping" attachedToRef="work" cancelActivity="false"><bpmn:messageEventDefinition messageRef="m_ping"/></bpmn:boundaryEvent>
        <bpmn:scriptTask id="tidy"><bpmn:script>del draft
touched = 'by the branch'</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="handle"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "work", "after", "e1") + chain("ping", "tidy", "handle", "e2"), extra=MESSAGES))
    instance = engine.instances.start("p", variables={"status": "open", "draft": "x", "touched": "no"})
    engine.messages.correlate("ping", instance_id=instance.id)
    engine.tasks.complete(open_task(engine, instance.id, "work").id, {"status": "done"})
    engine.tasks.complete(open_task(engine, instance.id, "handle").id, {"handled": True})
    expected = {"status": "done", "touched": "by the branch", "handled": True}
    assert engine.tasks.variables(open_task(engine, instance.id, "after").id) == expected
    assert engine.instances.variables(instance.id) == expected
    engine.tasks.complete(open_task(engine, instance.id, "after").id, {})
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.instances.variables(instance.id) == expected


def test_a_branch_ending_after_the_main_flow_ended_ends_the_instance_with_both(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e1"/>
        <bpmn:boundaryEvent id="ping" attachedToRef="work" cancelActivity="false"><bpmn:messageEventDefinition messageRef="m_ping"/></bpmn:boundaryEvent>
        <bpmn:userTask id="handle"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "work", "e1") + chain("ping", "handle", "e2"), extra=MESSAGES))
    instance = engine.instances.start("p", variables={"status": "open"})
    engine.messages.correlate("ping", instance_id=instance.id)
    engine.tasks.complete(open_task(engine, instance.id, "work").id, {"status": "done"})
    assert engine.instances.variables(instance.id) == {"status": "done"}  # the main flow waits at the end
    engine.tasks.complete(open_task(engine, instance.id, "handle").id, {"handled": True})
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.instances.variables(instance.id) == {"status": "done", "handled": True}


def test_a_branch_ending_in_the_change_that_ends_the_main_task_is_kept(engine: Engine, deploy, clock) -> None:
    """A reminder and an interrupting deadline due at the same moment fire in one change: the deadline cancels
    the task and ends the instance, the reminder's branch ends too, and both paths' variables are kept."""
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e1"/>
        <bpmn:boundaryEvent id="reminder" attachedToRef="work" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:boundaryEvent id="deadline" attachedToRef="work"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:scriptTask id="remind"><bpmn:script>reminded = reminded + 1</bpmn:script></bpmn:scriptTask>
        <bpmn:scriptTask id="escalate"><bpmn:script>escalated = True</bpmn:script></bpmn:scriptTask>
        <bpmn:endEvent id="e2"/><bpmn:endEvent id="e3"/>
        """ + chain("s", "work", "e1") + chain("reminder", "remind", "e2") + chain("deadline", "escalate", "e3")))
    instance = engine.instances.start("p", variables={"reminded": 0})
    work = open_task(engine, instance.id, "work")
    clock.advance(hours=1, seconds=1)
    assert engine.jobs.execute_due() == 1  # the first job fires both timers; the second has nothing left to do
    assert engine.tasks.get(work.id).outcome == "cancelled"
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.instances.variables(instance.id) == {"reminded": 1, "escalated": True}


def test_an_interrupting_timer_still_cancels_the_task(engine: Engine, deploy, clock) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e1"/>
        <bpmn:boundaryEvent id="late" attachedToRef="work"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:scriptTask id="mark"><bpmn:script>late = True</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="escalate"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "work", "e1") + chain("late", "mark", "escalate", "e2")))
    instance = engine.instances.start("p", variables={"n": 1})
    work = open_task(engine, instance.id, "work")
    clock.advance(hours=1, seconds=1)
    assert engine.jobs.execute_due() == 1
    assert engine.tasks.get(work.id).outcome == "cancelled"
    escalate = open_task(engine, instance.id, "escalate")
    assert engine.tasks.variables(escalate.id) == {"n": 1, "late": True}
    engine.tasks.complete(escalate.id, {})
    assert engine.instances.variables(instance.id) == {"n": 1, "late": True}


def event_subprocess(trigger: str) -> bytes:
    return bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e"/>
        """ + chain("s", "work", "e") + f"""
        <bpmn:subProcess id="count_sp" triggeredByEvent="true">
          <bpmn:startEvent id="count_start" isInterrupting="false">{trigger}</bpmn:startEvent>
          <bpmn:scriptTask id="count"><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="count_end"/>
          """ + chain("count_start", "count", "count_end") + """
        </bpmn:subProcess>""", extra=MESSAGES)


def test_each_run_of_a_timer_cycle_event_subprocess_counts(engine: Engine, deploy, clock) -> None:
    deploy(event_subprocess("<bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1H</bpmn:timeCycle>"
                            "</bpmn:timerEventDefinition>"))
    instance = engine.instances.start("p", variables={"n": 0})
    fire_hourly(engine, clock, 1)
    after_one = runtime_size(engine, instance.id)
    fire_hourly(engine, clock, 29)
    assert engine.instances.variables(instance.id) == {"n": 30}
    assert runtime_size(engine, instance.id) < 2 * after_one
    engine.tasks.complete(open_task(engine, instance.id, "work").id, {"done": True})
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.instances.variables(instance.id) == {"n": 30, "done": True}


def test_each_run_of_a_message_event_subprocess_counts(engine: Engine, deploy) -> None:
    deploy(event_subprocess('<bpmn:messageEventDefinition messageRef="m_ping"/>'))
    instance = engine.instances.start("p", variables={"n": 0})
    engine.messages.correlate("ping", instance_id=instance.id)
    after_one = runtime_size(engine, instance.id)
    for _ in range(9):
        engine.messages.correlate("ping", instance_id=instance.id)
    assert engine.instances.variables(instance.id) == {"n": 10}
    assert engine.tasks.variables(open_task(engine, instance.id, "work").id) == {"n": 10}
    assert runtime_size(engine, instance.id) < 2 * after_one
    engine.tasks.complete(open_task(engine, instance.id, "work").id, {})
    assert engine.instances.variables(instance.id) == {"n": 10}


def test_a_branch_inside_a_subprocess_writes_process_variables(engine: Engine, deploy, clock) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="after"/><bpmn:endEvent id="e"/>
        <bpmn:subProcess id="sub">
          <bpmn:startEvent id="ss"/><bpmn:userTask id="inner"/><bpmn:endEvent id="se"/>
          <bpmn:boundaryEvent id="nag" attachedToRef="inner" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
          <bpmn:scriptTask id="remind"><bpmn:script>reminded = reminded + 1</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="se2"/>
          """ + chain("ss", "inner", "se") + chain("nag", "remind", "se2") + """
        </bpmn:subProcess>""" + chain("s", "sub", "after", "e")))
    instance = engine.instances.start("p", variables={"reminded": 0})
    fire_hourly(engine, clock, 3)
    assert engine.instances.variables(instance.id) == {"reminded": 3}
    engine.tasks.complete(open_task(engine, instance.id, "inner").id, {"x": 1})
    assert engine.tasks.variables(open_task(engine, instance.id, "after").id) == {"reminded": 3, "x": 1}


def test_overlapping_runs_of_an_event_subprocess_each_see_what_the_other_wrote(engine: Engine, deploy) -> None:
    """Two runs wait at a user task at once; the first to end writes `n`, which the second then reads (the runs'
    start events are pruned away while they wait: the run's start data stands in for them)."""
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e"/>
        """ + chain("s", "work", "e") + """
        <bpmn:subProcess id="count_sp" triggeredByEvent="true">
          <bpmn:startEvent id="count_start" isInterrupting="false"><bpmn:messageEventDefinition messageRef="m_ping"/></bpmn:startEvent>
          <bpmn:userTask id="handle"/>
          <bpmn:scriptTask id="count"><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="count_end"/>
          """ + chain("count_start", "handle", "count", "count_end") + """
        </bpmn:subProcess>""", extra=MESSAGES))
    instance = engine.instances.start("p", variables={"n": 0})
    engine.messages.correlate("ping", instance_id=instance.id)
    engine.messages.correlate("ping", instance_id=instance.id)
    first, second = [t for t in engine.tasks.list(instance_id=instance.id) if t.task_definition_key == "handle"]
    engine.tasks.complete(first.id, {})
    assert engine.tasks.variables(second.id)["n"] == 1
    engine.tasks.complete(second.id, {})
    assert engine.instances.variables(instance.id) == {"n": 2}
    engine.tasks.complete(open_task(engine, instance.id, "work").id, {})
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.instances.variables(instance.id) == {"n": 2}


PINGED = bpmn("""
    <bpmn:startEvent id="s"/><bpmn:userTask id="main"/><bpmn:endEvent id="e"/>
    <bpmn:subProcess id="on_ping" triggeredByEvent="true">
      <bpmn:startEvent id="ping_start" isInterrupting="false"><bpmn:messageEventDefinition messageRef="m_ping"/></bpmn:startEvent>
      <bpmn:userTask id="handle_ping"/><bpmn:endEvent id="ee"/>
    """ + chain("ping_start", "handle_ping", "ee") + "</bpmn:subProcess>" + chain("s", "main", "e"), extra=MESSAGES)


def test_an_event_subprocess_fired_in_one_process_is_worked_in_another(engine: Engine, deploy, database_url,
                                                                       clock) -> None:
    """A server that did not fire the event subprocess (a restart, an upgrade, another worker) completes its task:
    it failed with "No input task connected", an incident naming no element."""
    from engine.config import Settings

    deploy(PINGED)
    instance = engine.instances.start("p")
    engine.messages.correlate("ping", instance_id=instance.id)
    other = Engine(Settings(database_url=database_url), clock=clock)  # compiles the definition afresh
    try:
        other.tasks.complete(open_task(other, instance.id, "handle_ping").id, {})
        assert sorted(t.task_definition_key for t in other.tasks.list(instance_id=instance.id)) == ["main"]
        other.tasks.complete(open_task(other, instance.id, "main").id, {})
        assert other.instances.get(instance.id).state == "COMPLETED"
    finally:
        other.close()


def test_an_instance_started_after_another_fired_its_event_subprocess_waits_once(engine: Engine, deploy) -> None:
    deploy(PINGED)
    first = engine.instances.start("p")
    engine.messages.correlate("ping", instance_id=first.id)
    second = engine.instances.start("p")  # it got the event subprocess as a path of its start too
    assert [s["eventName"] for s in engine.instances.state(second.id).subscriptions] == ["ping"]
    engine.messages.correlate("ping", instance_id=second.id)
    assert sorted(t.task_definition_key for t in engine.tasks.list(instance_id=second.id)) == ["handle_ping", "main"]
