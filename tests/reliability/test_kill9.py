"""A server killed with SIGKILL in the middle of its work loses nothing it confirmed and leaves nothing half-done.

A child process (`worker_script.py loop`) starts instances of start -> userTask -> scriptTask -> userTask -> end
and completes their tasks, printing a line after each call returned (its transaction committed). The parent
kills it with SIGKILL at an arbitrary point of that loop, several times on the same database, then checks with a
fresh engine that every confirmed operation is there and that every instance's runtime agrees with its rows.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.api import Engine
from engine.config import Settings
from engine.store import models as m
from tests.reliability.worker_script import LOOP_KEY, LOOP_PROCESS

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("worker_script.py")
KILLS = 3
STARTUP_TIMEOUT = 30.0


@dataclass
class Confirmed:
    """What the killed children reported as committed."""

    started: dict[str, str] = field(default_factory=dict)  # business key -> instance id
    completed: list[tuple[str, str, str, int]] = field(default_factory=list)  # instance, task, element, value


def run_and_kill(url: str, prefix: str, kill_after: int, confirmed: Confirmed) -> None:
    """Run a worker until it confirmed `kill_after` operations (plus whatever it does meanwhile), SIGKILL it."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(WORKER), "loop", url, prefix], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=REPO_ROOT)
    lines: queue.Queue[bytes | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    received: list[bytes] = []
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        operations = 0
        while operations < kill_after:
            try:
                raw = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"worker confirmed only {operations} operations in {STARTUP_TIMEOUT} s") from None
            if raw is None:
                stderr = proc.stderr.read().decode() if proc.stderr else ""
                raise AssertionError(f"worker exited with {proc.wait()} before being killed:\n{stderr}")
            received.append(raw)
            operations += raw.startswith((b"started ", b"completed "))
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # wherever the loop is: mid-transaction, mid-commit, between calls
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    reader.join(timeout=30)
    while True:  # lines written before the kill are confirmed operations too
        raw = lines.get(timeout=30)
        if raw is None:
            break
        received.append(raw)
    if proc.stderr is not None:
        proc.stderr.close()

    for raw in received:
        if not raw.endswith(b"\n"):  # cut by the kill: the operation it would report is not confirmed
            continue
        parts = raw.decode().split()
        if parts[0] == "started":
            confirmed.started[parts[1]] = parts[2]
        elif parts[0] == "completed":
            confirmed.completed.append((parts[1], parts[2], parts[3], int(parts[4])))


def kill_repeatedly(url: str) -> Confirmed:
    deployer = Engine(Settings(database_url=url))
    deployer.definitions.deploy([("loop.bpmn", LOOP_PROCESS)])
    deployer.close()
    confirmed = Confirmed()
    rng = random.Random(9)
    for round_ in range(KILLS):
        run_and_kill(url, f"K{round_}", rng.randint(5, 40), confirmed)
    assert confirmed.started and confirmed.completed
    return confirmed


def check_survivors(url: str, confirmed: Confirmed) -> None:
    engine = Engine(Settings(database_url=url))
    try:
        # every confirmed start is there, under its business key
        for business_key, instance_id in confirmed.started.items():
            instance = engine.instances.get(instance_id)
            assert instance.business_key == business_key and instance.definition_key == LOOP_KEY
        # every confirmed completion is there, once, with its variable
        wrong_rows = []
        for instance_id, task_id, element, value in confirmed.completed:
            task = engine.tasks.get(task_id)
            assert task.ended_at is not None and task.process_instance_id == instance_id
            if task.outcome != "completed":
                wrong_rows.append((task_id, element, task.outcome))
            history = engine.instances.history(instance_id)
            assert [h.task_id for h in history if h.element_id == element and h.event == "completed"] == [task_id]
            assert engine.instances.variables(instance_id)[element] == value
            if element == "second":
                assert engine.instances.get(instance_id).state == "COMPLETED"

        # nothing half-written: every instance is whole, its rows agree with its runtime
        instances = engine.instances.list(max_results=1000)
        assert len(instances) < 1000
        assert {i.id for i in instances} >= set(confirmed.started.values())
        active = [i for i in instances if i.state == "ACTIVE"]
        for instance in instances:
            history = engine.instances.history(instance.id)
            assert history and (history[0].element_id, history[0].event) == (LOOP_KEY, "started")
            state = engine.instances.state(instance.id)
            if instance.state == "COMPLETED":
                assert instance.ended_at is not None and state.tasks == []
                assert (history[-1].element_id, history[-1].event) == (LOOP_KEY, "completed")
                assert state.variables["doubled"] == state.variables["first"] * 2
                continue
            assert instance.state == "ACTIVE" and instance.ended_at is None
            [open_task] = state.tasks  # one token: exactly one open task
            with engine.db.read() as session:
                row = session.get(m.ProcessInstance, instance.id)
                assert row.runtime is not None
                loaded = engine.executor.load(session, instance.id, for_change=False)
            assert loaded.before.users == {open_task.id}, (instance.id, loaded.before.users, open_task.id)
            assert loaded.run.variables() == state.variables
            assert state.active_elements == [open_task.task_definition_key]

        # ... and every open task can be worked to the end
        for instance in active:
            for _ in range(2):
                tasks = engine.tasks.list(instance_id=instance.id)
                if not tasks:
                    break
                [task] = tasks
                engine.tasks.complete(task.id, {task.task_definition_key: 7})
            done = engine.instances.get(instance.id)
            assert done.state == "COMPLETED", done
            variables = engine.instances.variables(instance.id)
            assert variables["doubled"] == variables["first"] * 2
        assert engine.tasks.count() == 0
        assert engine.instances.count(active_only=True) == 0
        assert not wrong_rows, f"completed tasks recorded with another outcome: {wrong_rows[:3]}"
    finally:
        engine.close()


def test_sigkill_on_sqlite_loses_nothing_committed(sqlite_url: str) -> None:
    confirmed = kill_repeatedly(sqlite_url)
    path = sqlite_url.split("///", 1)[1]
    conn = sqlite3.connect(path)  # the first connection after the kill recovers the WAL
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
    check_survivors(sqlite_url, confirmed)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


def test_sigkill_on_postgres_loses_nothing_committed(pg_url: str) -> None:
    confirmed = kill_repeatedly(pg_url)
    check_survivors(pg_url, confirmed)
