"""The background scheduler fires due timers on its own."""

from __future__ import annotations

from engine.api import Engine
from engine.scheduler import TimerScheduler
from tests.helpers import bpmn, chain

REMINDER = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="call"/><bpmn:endEvent id="e"/>""" + chain("s", "wait", "call", "e"))


def test_a_tick_fires_every_due_timer_and_nothing_early(engine: Engine, deploy, clock) -> None:
    deploy(REMINDER)
    ids = [engine.instances.start("p").id for _ in range(3)]
    scheduler = TimerScheduler(engine, poll_seconds=0.5)
    assert scheduler.tick() == 0
    clock.advance(minutes=61)
    assert scheduler.tick() == 3
    assert scheduler.tick() == 0
    assert all(engine.tasks.list(instance_id=i)[0].task_definition_key == "call" for i in ids)


def test_analyze_gives_sqlite_planner_statistics_of_the_task_tables(sqlite_engine) -> None:
    from sqlalchemy import text

    from engine.scheduler import TimerScheduler
    from tests.helpers import bpmn, chain

    process = bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="t" camunda:candidateGroups="sales"/>'
                   '<bpmn:endEvent id="e"/>' + chain("s", "t", "e"))
    sqlite_engine.definitions.deploy([("p.bpmn", process)])
    for _ in range(3):
        sqlite_engine.instances.start("p")
    TimerScheduler(sqlite_engine).analyze()
    with sqlite_engine.db.read() as session:
        tables = set(session.scalars(text("SELECT tbl FROM sqlite_stat1")))
    assert {"human_task", "identity_link", "process_instance"} <= tables


def test_a_tick_longer_than_the_poll_interval_is_not_reported_as_a_problem(sqlite_engine, caplog) -> None:
    """The first tick after a start may take long (everything due while the engine was down): overlapping polls
    skip quietly instead of APScheduler warning about its instance limit."""
    import logging
    import threading

    release = threading.Event()
    started = threading.Event()
    plain = sqlite_engine.jobs.execute_due

    def slow(limit: int = 100) -> int:
        started.set()
        release.wait(5)
        return plain(limit=limit)

    sqlite_engine.jobs.execute_due = slow
    scheduler = TimerScheduler(sqlite_engine, poll_seconds=0.05)
    with caplog.at_level(logging.WARNING, logger="apscheduler"):
        scheduler.start()
        try:
            assert started.wait(5)
            overlapped = threading.Event()
            overlapped.wait(0.4)  # several poll intervals pass while the first tick is still running
        finally:
            release.set()
            scheduler.stop()
    assert not [r for r in caplog.records if "maximum number of running instances" in r.getMessage()]
