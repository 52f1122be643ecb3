"""Transactions as the engine runs them (on SQLite: on a connection each thread keeps, begun and committed on the
driver), and task lists run from a statement built once per shape: what a user sees must not change."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from engine.api import Engine
from engine.clock import VirtualClock
from engine.errors import ScriptError
from engine.store import models as m
from tests.helpers import bpmn, chain

FAILING = bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="t" name="Check"/>'
               '<bpmn:scriptTask id="x"><bpmn:script>y = 1 / zero</bpmn:script></bpmn:scriptTask>'
               '<bpmn:endEvent id="e"/>' + chain("s", "t", "x", "e"), "failing")

TASK = bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="t" name="Review ${name}" camunda:assignee="${who}" '
            'camunda:candidateGroups="${group}" camunda:dueDate="${due}" camunda:priority="${priority}"/>'
            '<bpmn:endEvent id="e"/>' + chain("s", "t", "e"), "review")


def comment(task_id: str, text: str) -> m.TaskComment:
    return m.TaskComment(id=text, task_id=task_id, instance_id=None, user_id=None, message=text,
                         created_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_a_failed_change_leaves_nothing_and_the_next_one_works(engine: Engine) -> None:
    engine.definitions.deploy([("failing.bpmn", FAILING)])
    instance = engine.instances.start("failing", variables={"zero": 0})
    [task] = engine.tasks.list(instance_id=instance.id)
    with pytest.raises(ScriptError):
        engine.tasks.complete(task.id, {})
    assert [t.id for t in engine.tasks.list(instance_id=instance.id)] == [task.id]  # still open
    assert engine.instances.get(instance.id).state == "ACTIVE"
    engine.tasks.complete(task.id, {"zero": 2})
    assert engine.instances.get(instance.id).state == "COMPLETED"


def test_orm_work_and_nested_transactions_in_one_thread(engine: Engine) -> None:
    with engine.db.write() as session:
        session.add(comment("t1", "first"))
        session.flush()
        with engine.db.read() as other:  # another connection: the write is not committed yet
            assert other.get(m.TaskComment, "first") is None
    with engine.db.read() as session:
        assert session.get(m.TaskComment, "first").message == "first"
    with pytest.raises(RuntimeError), engine.db.write() as session:
        session.add(comment("t1", "second"))
        session.flush()
        raise RuntimeError("abandoned")
    with engine.db.read() as session:
        assert session.get(m.TaskComment, "second") is None
    with engine.db.write() as session:  # the thread's connection is free again, and clean
        session.add(comment("t1", "third"))
    with engine.db.read() as session:
        assert sorted(c.id for c in session.query(m.TaskComment)) == ["first", "third"]


def test_threads_change_instances_side_by_side(engine: Engine) -> None:
    engine.definitions.deploy([("review.bpmn", TASK)])
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(5):
                instance = engine.instances.start("review", business_key=f"T{n}-{i}", variables=_task(f"{n}"))
                [task] = engine.tasks.list(instance_id=instance.id)
                engine.tasks.complete(task.id, {})
        except BaseException as err:  # noqa: BLE001 - reported below
            failures.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    assert engine.instances.count(definition_key="review", state="COMPLETED") == 20


def _task(name: str, *, who: str | None = None, group: str = "sales", due: str | None = None,
          priority: int = 50) -> dict[str, object]:
    return {"name": name, "who": who, "group": group, "due": due, "priority": priority}


def test_task_lists_of_every_filter_shape(engine: Engine, clock: VirtualClock) -> None:
    engine.definitions.deploy([("review.bpmn", TASK)])
    a = engine.instances.start("review", business_key="A", variables=_task("a", who="mary", due="2026-01-05T00:00:00Z",
                                                                           priority=70))
    clock.advance(minutes=1)
    b = engine.instances.start("review", business_key="B", variables=_task("b", group="managers", priority=30))
    clock.advance(minutes=1)
    c = engine.instances.start("review", business_key="C", variables=_task("c", due="2026-01-09T00:00:00Z"))

    def keys(**filters: object) -> list[str | None]:
        return [t.business_key for t in engine.tasks.list(**filters)]  # type: ignore[arg-type]

    for _ in range(2):  # built on the first call, reused on the second
        assert keys() == ["A", "B", "C"]
        assert keys(instance_id=b.id) == ["B"]
        assert keys(business_key="C") == ["C"]
        assert keys(assignee="mary") == ["A"]
        assert keys(unassigned=True) == ["B", "C"]
        assert keys(candidate_group="sales") == ["C"]  # assigned tasks leave the group's queue
        assert keys(candidate_group="sales", include_assigned=True) == ["A", "C"]
        assert keys(candidate_groups=["sales", "managers"]) == ["B", "C"]  # a list: built per call
        assert keys(involved_user="mary") == ["A"]
        assert keys(process_key="review", task_definition_key="t", definition_id=a.definition_id) == ["A", "B", "C"]
        assert keys(due_before=datetime(2026, 1, 6, tzinfo=UTC)) == ["A"]
        assert keys(due_after=datetime(2026, 1, 6, tzinfo=UTC) - timedelta(days=2)) == ["A", "C"]
        assert keys(due_after=datetime(2026, 1, 6, tzinfo=UTC)) == ["C"]
        assert keys(without_due=True) == ["B"]
        assert keys(min_priority=50) == ["A", "C"]
        assert keys(min_priority=0, max_priority=30) == ["B"]
        assert keys(sort_by="priority", sort_order="desc") == ["A", "C", "B"]
        assert keys(sort_by="dueDate", nulls_last=True) == ["A", "C", "B"]
        assert keys(first=1, max_results=1) == ["B"]
        assert keys(assignee="", business_key=None) == ["A", "B", "C"]  # empty filters are no filters
        assert keys(search="b") == ["B"]  # a search text (here a business key): built per call
    engine.tasks.complete(engine.tasks.list(instance_id=c.id)[0].id, {})
    assert keys(candidate_group="sales") == []


def test_closing_the_engine_lets_another_threads_transaction_finish(sqlite_engine: Engine) -> None:
    """A server stopping (the engine closed) while a request thread is inside a transaction: the transaction goes on
    to its end on its connection, which its thread then closes. Closing it under the thread, its next statement
    failed, and a statement running at that moment saw SQLite's memory freed (seen: a crashed test worker, a
    MemoryError at the COMMIT)."""
    sqlite_engine.definitions.deploy([("review.bpmn", TASK)])
    inside, release = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def reader() -> None:
        try:
            with sqlite_engine.db.read() as session:
                raw = session.info["stageflow_dbapi"][1]
                seen["raw"] = raw
                seen["rows"] = raw.execute("SELECT key FROM process_definition").fetchall()
                inside.set()
                release.wait(10)
                seen["more"] = raw.execute("SELECT count(*) FROM process_definition").fetchall()
        except Exception as err:  # noqa: BLE001  (the assertion below names it)
            seen["error"] = err

    thread = threading.Thread(target=reader)
    thread.start()
    assert inside.wait(10)
    sqlite_engine.close()
    release.set()
    thread.join(10)
    assert "error" not in seen, seen.get("error")
    assert seen["rows"] == [("review",)] and seen["more"] == [(1,)]
    with pytest.raises(Exception, match="closed"):  # and then its thread closed it
        seen["raw"].execute("SELECT 1")  # type: ignore[attr-defined]
    assert sqlite_engine.definitions.latest("review").version == 1  # a closed engine opens anew when used


def test_a_read_sees_the_database_at_one_moment_while_a_change_commits(engine: Engine) -> None:
    """An instance's state is read in several statements (its tasks, then its timers and messages, then its
    history). A change that commits between two of them must not show half of itself: on PostgreSQL's default
    isolation each statement saw the latest commit, and a task completed meanwhile was in neither list."""
    from sqlalchemy import func, select

    engine.definitions.deploy([("review.bpmn", TASK)])
    instance = engine.instances.start("review", variables={"name": "n", "who": "ann", "group": "g",
                                                           "due": None, "priority": 50})
    [task] = engine.tasks.list(instance_id=instance.id)
    open_tasks = select(func.count()).select_from(m.HumanTask).where(m.HumanTask.ended_at.is_(None))
    history = select(func.count()).select_from(m.HistoryEvent).where(m.HistoryEvent.instance_id == instance.id)
    with engine.db.read() as session:
        seen = (session.scalar(open_tasks), session.scalar(history))
        worker = threading.Thread(target=engine.tasks.complete, args=(task.id, {}))
        worker.start()
        worker.join()
        assert engine.instances.get(instance.id).state == "COMPLETED"  # committed, seen by a new read
        assert (session.scalar(open_tasks), session.scalar(history)) == seen
    with engine.db.read() as session:
        assert session.scalar(open_tasks) == 0 and session.scalar(history) > seen[1]
