"""Two servers complete the same task at the same moment: one wins, the other is told so, nothing is doubled.

Every "server" is an `Engine` object of its own on the same database URL (its own connection pool and
definition cache), as two processes behind a load balancer would have; the last test uses two real OS processes.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from engine.api import Engine
from engine.config import Settings
from engine.errors import Conflict
from engine.store import models as m
from tests.reliability.worker_script import RACE_KEY, RACE_PROCESS, race_worker

ROUNDS = 20
JOIN_TIMEOUT = 30.0


def new_engine(url: str) -> Engine:
    return Engine(Settings(database_url=url, script_time_limit=5.0))


def review_completions(engine: Engine, instance_id: str) -> list[Any]:
    return [h for h in engine.instances.history(instance_id) if h.element_id == "review" and h.event == "completed"]


def completed_by(engine: Engine, task_id: str) -> str | None:
    with engine.db.read() as session:
        return session.get(m.HumanTask, task_id).completed_by


def race(engines: dict[str, Engine], task_id: str) -> dict[str, tuple[str, Any]]:
    """Every engine completes `task_id` at once (a barrier releases them together); returns what each got."""
    return at_once({name: partial(engine.tasks.complete, task_id, {"winner": name, f"by_{name}": True}, user=name)
                    for name, engine in engines.items()})


def at_once(works: dict[str, Callable[[], Any]]) -> dict[str, tuple[str, Any]]:
    """Each work in a thread of its own, released together by a barrier; what each got: ("ok", its result),
    ("conflict", the message) or ("error", the exception)."""
    barrier = threading.Barrier(len(works))
    results: dict[str, tuple[str, Any]] = {}

    def act(name: str, work: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[name] = ("ok", work())
        except Conflict as err:
            results[name] = ("conflict", err.message)
        except Exception as err:  # noqa: BLE001 - any other outcome fails the test
            results[name] = ("error", repr(err))

    threads = [threading.Thread(target=act, args=item, daemon=True) for item in works.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a request never returned (deadlock or lost wake-up?)"
    return results


def test_two_engines_completing_one_task_at_once_one_wins(shared_url: str) -> None:
    admin = new_engine(shared_url)
    admin.definitions.deploy([("race.bpmn", RACE_PROCESS)])
    servers = {"alice": new_engine(shared_url), "bob": new_engine(shared_url)}
    try:
        wins: Counter[str] = Counter()
        wrong_rows: list[tuple[str, str | None, str | None, str]] = []
        for n in range(ROUNDS):
            instance = admin.instances.start(RACE_KEY, business_key=f"R-{n}")
            [task] = admin.tasks.list(instance_id=instance.id)

            results = race(servers, task.id)

            assert sorted(kind for kind, _ in results.values()) == ["conflict", "ok"], (n, results)
            [winner] = [name for name, (kind, _) in results.items() if kind == "ok"]
            [loser] = [name for name in servers if name != winner]
            wins[winner] += 1
            assert results[winner][1]["winner"] == winner
            assert len(review_completions(admin, instance.id)) == 1, admin.instances.history(instance.id)
            variables = admin.instances.variables(instance.id)
            assert variables["winner"] == winner and variables[f"by_{winner}"] is True
            assert f"by_{loser}" not in variables, variables
            finished = admin.tasks.get(task.id)
            assert finished.ended_at is not None
            assert [t.task_definition_key for t in admin.tasks.list(instance_id=instance.id)] == ["followup"]
            assert admin.instances.get(instance.id).state == "ACTIVE"
            if (finished.outcome, completed_by(admin, task.id)) != ("completed", winner):
                wrong_rows.append((task.id, finished.outcome, completed_by(admin, task.id), winner))
        assert sum(wins.values()) == ROUNDS
        # the task row tells who completed it (checked last, so that every round's race is checked first)
        assert not wrong_rows, f"task rows not recorded as completed by the winner: {wrong_rows[:3]}"
    finally:
        for eng in (admin, *servers.values()):
            eng.close()


def test_the_loser_of_the_last_task_is_told_the_instance_ended(shared_url: str) -> None:
    """The winning completion ends the instance (its runtime is gone): the other one is still a `Conflict`."""
    admin = new_engine(shared_url)
    admin.definitions.deploy([("race.bpmn", RACE_PROCESS)])
    servers = {"alice": new_engine(shared_url), "bob": new_engine(shared_url)}
    try:
        for n in range(ROUNDS // 2):
            instance = admin.instances.start(RACE_KEY, business_key=f"E-{n}")
            [review] = admin.tasks.list(instance_id=instance.id)
            admin.tasks.complete(review.id, {})
            [followup] = admin.tasks.list(instance_id=instance.id)

            results = race(servers, followup.id)

            assert sorted(kind for kind, _ in results.values()) == ["conflict", "ok"], (n, results)
            [winner] = [name for name, (kind, _) in results.items() if kind == "ok"]
            done = admin.instances.get(instance.id)
            assert done.state == "COMPLETED" and done.ended_at is not None
            history = admin.instances.history(instance.id)
            assert [h.event for h in history if h.element_id == "followup" and h.event == "completed"] == ["completed"]
            assert [h.event for h in history if h.element_id == RACE_KEY] == ["started", "completed"]
            assert admin.instances.variables(instance.id)["winner"] == winner
    finally:
        for eng in (admin, *servers.values()):
            eng.close()


TASKS_ACROSS_PROCESSES = 50


def test_two_os_processes_race_on_fifty_tasks_on_postgres(pg_url: str) -> None:
    admin = new_engine(pg_url)
    try:
        admin.definitions.deploy([("race.bpmn", RACE_PROCESS)])
        instances = [admin.instances.start(RACE_KEY, business_key=f"P-{n}") for n in range(TASKS_ACROSS_PROCESSES)]
        task_ids = [admin.tasks.list(instance_id=i.id)[0].id for i in instances]

        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(2)
        results = ctx.Queue()
        procs = [ctx.Process(target=race_worker, args=(pg_url, name, task_ids, barrier, results), daemon=True)
                 for name in ("proc-a", "proc-b")]
        for p in procs:
            p.start()
        try:
            reports = dict(results.get(timeout=60) for _ in procs)
        finally:
            for p in procs:
                p.join(10)
                if p.is_alive():
                    p.kill()
                    p.join(5)
        assert [p.exitcode for p in procs] == [0, 0]

        outcomes: dict[str, list[tuple[str, str]]] = {t: [] for t in task_ids}
        for name, rows in reports.items():
            assert [r[0] for r in rows] == task_ids, f"{name} stopped early: {rows[-1:]}"
            for task_id, kind, detail in rows:
                outcomes[task_id].append((kind, name if kind == "ok" else detail))
        errors = [(t, o) for t, o in outcomes.items() if any(kind == "error" for kind, _ in o)]
        assert not errors, errors
        assert all(sorted(kind for kind, _ in o) == ["conflict", "ok"] for o in outcomes.values()), outcomes
        assert sum(kind == "ok" for o in outcomes.values() for kind, _ in o) == TASKS_ACROSS_PROCESSES

        wrong_rows = []
        for instance, task_id in zip(instances, task_ids, strict=True):
            [winner] = [who for kind, who in outcomes[task_id] if kind == "ok"]
            assert len(review_completions(admin, instance.id)) == 1
            assert admin.tasks.get(task_id).ended_at is not None
            assert admin.instances.variables(instance.id)["winner"] == winner
            assert [t.task_definition_key for t in admin.tasks.list(instance_id=instance.id)] == ["followup"]
            row = admin.tasks.get(task_id)
            if (row.outcome, completed_by(admin, task_id)) != ("completed", winner):
                wrong_rows.append((task_id, row.outcome, completed_by(admin, task_id), winner))
        assert admin.tasks.count(process_key=RACE_KEY) == TASKS_ACROSS_PROCESSES  # one follow-up each, no more
        assert not wrong_rows, f"task rows not recorded as completed by the winner: {wrong_rows[:3]}"
    finally:
        admin.close()


@pytest.mark.parametrize("engines", [1, 8], ids=["one-shared-engine", "engine-per-thread"])
def test_racing_completions_never_raise_anything_but_conflict(shared_url: str, engines: int) -> None:
    """Eight callers on one task: one completion, seven conflicts, with one engine shared by the threads
    (one server, many request threads) or one engine each."""
    admin = new_engine(shared_url)
    admin.definitions.deploy([("race.bpmn", RACE_PROCESS)])
    pool = [new_engine(shared_url) for _ in range(engines)]
    servers = {f"user{i}": pool[i % engines] for i in range(8)}
    try:
        for n in range(5):
            instance = admin.instances.start(RACE_KEY, business_key=f"M-{n}")
            [task] = admin.tasks.list(instance_id=instance.id)
            results = race(servers, task.id)
            assert Counter(kind for kind, _ in results.values()) == {"ok": 1, "conflict": 7}, results
            assert len(review_completions(admin, instance.id)) == 1
    finally:
        for eng in (admin, *pool):
            eng.close()


def test_a_claim_and_a_completion_of_one_task_at_once_never_deadlock(shared_url: str) -> None:
    """One person claims a task while another completes it (and, in every fourth round, while an admin cancels
    its instance). On PostgreSQL a claim locked the task and then, writing its history row, waited for the
    instance the completion held, which waited for the task: a deadlock, answered as "database unavailable" (seen
    3-4 times in 30 rounds over HTTP). Now each round ends with the completion or the cancellation done once and
    the claim either done before it or refused as a conflict."""
    admin = new_engine(shared_url)
    admin.definitions.deploy([("race.bpmn", RACE_PROCESS)])
    claimer, completer = new_engine(shared_url), new_engine(shared_url)
    try:
        for n in range(ROUNDS * 2):
            instance = admin.instances.start(RACE_KEY, business_key=f"C-{n}")
            [task] = admin.tasks.list(instance_id=instance.id)
            cancel = n % 4 == 3
            end = (partial(completer.instances.cancel, instance.id) if cancel
                   else partial(completer.tasks.complete, task.id, {}, user="bob"))

            results = at_once({"claim": partial(claimer.tasks.claim, task.id, "mary"), "end": end})

            assert results["end"][0] == "ok", (n, results)
            assert results["claim"][0] in ("ok", "conflict"), (n, results)
            if cancel:
                assert admin.instances.get(instance.id).state == "CANCELED", n
            else:
                assert len(review_completions(admin, instance.id)) == 1, n
                assert [t.task_definition_key for t in admin.tasks.list(instance_id=instance.id)] == ["followup"]
    finally:
        for eng in (admin, claimer, completer):
            eng.close()


def test_a_deadlock_the_database_breaks_is_a_conflict_to_retry_not_an_outage(pg_url: str) -> None:
    """Two transactions that lock two rows in opposite orders: PostgreSQL ends one of them (`deadlock detected`).
    The engine reports that one as a `Conflict` (409, code 1: try again), not as "database unavailable" (503), which
    it was because the message says "blocked by process"."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from engine.store.database import _unavailable

    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS deadlock_probe (id int PRIMARY KEY, n int)"))
            conn.execute(text("DELETE FROM deadlock_probe"))
            conn.execute(text("INSERT INTO deadlock_probe VALUES (1, 0), (2, 0)"))
        first, second = engine.connect(), engine.connect()
        first.begin()
        second.begin()
        first.execute(text("UPDATE deadlock_probe SET n = 1 WHERE id = 1"))
        second.execute(text("UPDATE deadlock_probe SET n = 2 WHERE id = 2"))
        errors: list[OperationalError] = []

        def cross(conn: Any, row: int) -> None:
            try:
                conn.execute(text("UPDATE deadlock_probe SET n = 3 WHERE id = :id"), {"id": row})
            except OperationalError as err:
                errors.append(err)
                conn.rollback()
            else:
                conn.commit()

        threads = [threading.Thread(target=cross, args=(first, 2)), threading.Thread(target=cross, args=(second, 1))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(JOIN_TIMEOUT)
        first.close()
        second.close()

        [error] = errors
        assert "deadlock detected" in str(error)
        reported = _unavailable(error)
        assert isinstance(reported, Conflict) and reported.code == 1, reported
        assert "deadlock" in reported.message and "try again" in reported.message
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS deadlock_probe"))
        engine.dispose()
