"""Real `stageflow serve` and `stageflow worker` processes, and a client that drives a mixed load over HTTP.

The process `MIXED_PROCESS` is linear: start -> review (user task) -> paid (message) -> cool_off (timer, PT1S) ->
ship (user task) -> end, so a state reachable by a correct execution is a prefix of that path with at most one
open task. `Driver` threads start instances (with an `Idempotency-Key`, so a start retried after a lost answer is
not doubled), complete `review`, correlate `paid`, wait for the timer and complete `ship`, and record every
request that got a 2xx answer: those are the effects the database must keep. A request that got no answer (the
server was killed, the database was down) is retried from what the server says now, never blindly.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.helpers import bpmn, chain, wait_until_serving

REPO = Path(__file__).resolve().parents[2]
STAGEFLOW = [sys.executable, "-m", "engine.cli"]
ADMIN = ("ops", "ops-pass-1234")

MIXED_KEY = "mixed"
MIXED_PATH = ["review", "paid", "cool_off", "ship"]  # the elements of the one path, in order
MIXED_PROCESS = bpmn(
    """
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="review" name="Review"/>
    <bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="m_paid"/></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="cool_off"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="ship" name="Ship"/>
    <bpmn:endEvent id="end"/>
    """
    + chain("start", "review", "paid", "cool_off", "ship", "end"),
    process_id=MIXED_KEY,
    extra='<bpmn:message id="m_paid" name="paid"/>',
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(url: str, **more: str) -> dict[str, str]:
    """The environment of a server or worker on `url`: quick timer polls, short job locks."""
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", "STAGEFLOW_DATABASE_URL": url,
            "STAGEFLOW_TIMER_POLL_SECONDS": "0.2", "STAGEFLOW_JOB_LOCK_SECONDS": "3", **more}


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*STAGEFLOW, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def prepare(env: dict[str, str], tmp: Path) -> Path:
    """The admin user and the mixed process file (deployed by the first server)."""
    cli(env, "user", "add", ADMIN[0], "--password", ADMIN[1], "--group", "admins", "--exist-ok")
    path = tmp / "mixed.bpmn"
    path.write_bytes(MIXED_PROCESS)
    return path


class Proc:
    """A `stageflow serve` or `stageflow worker` in its own process group (a kill -9 takes its children too)."""

    def __init__(self, env: dict[str, str], args: list[str], log: Path) -> None:
        self.env, self.args, self.log = env, args, log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen([*STAGEFLOW, *self.args], env=self.env, cwd=REPO, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True)

    def kill9(self) -> None:
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.kill9()

    def pids(self) -> list[int]:
        """The process and its children (gunicorn's workers)."""
        assert self.popen is not None
        children = subprocess.run(["pgrep", "-P", str(self.popen.pid)], capture_output=True, text=True).stdout
        return [self.popen.pid, *(int(p) for p in children.split())]


def server(env: dict[str, str], port: int, log: Path, *, workers: int = 1, threads: int = 8,
           deploy: Path | None = None, timers: bool = True) -> Proc:
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--threads", str(threads)]
    args += [] if timers else ["--no-timers"]
    return Proc(env, args + (["--deploy", str(deploy)] if deploy else []), log)


def wait_up(base: str, proc: Proc, timeout: float = 60.0) -> None:
    """Until `base`/engine-rest/version answers (the server imported, forked and bound its port)."""
    try:
        wait_until_serving(f"{base}/engine-rest", timeout=timeout,
                           alive=lambda: proc.popen is not None and proc.popen.poll() is None)
    except (RuntimeError, TimeoutError) as err:
        raise AssertionError(f"{err}\n{proc.log.read_text()[-3000:]}") from err


@dataclass
class Ledger:
    """What the server acknowledged (a 2xx answer), and every status seen, for the checks after the run."""

    started: dict[str, str] = field(default_factory=dict)  # business key -> instance id
    completed: list[tuple[str, str]] = field(default_factory=list)  # (instance id, element)
    messaged: list[str] = field(default_factory=list)  # instance id
    statuses: Counter[int] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)  # answers that are neither 2xx, a clean 503 nor an expected 4xx
    no_answer: int = 0
    finished: set[str] = field(default_factory=set)  # instances this client drove to the end
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ack(self, kind: str, *what: str) -> None:
        with self.lock:
            if kind == "started":
                self.started[what[0]] = what[1]
            elif kind == "completed":
                self.completed.append((what[0], what[1]))
            elif kind == "messaged":
                self.messaged.append(what[0])


class Driver:
    """Client threads spread over `bases` (servers), each keeping a few instances in flight."""

    def __init__(self, bases: list[str], ledger: Ledger, *, threads: int = 4, prefix: str = "L",
                 in_flight: int = 3, new_instances: bool = True) -> None:
        self.bases = bases
        self.ledger = ledger
        self.prefix = prefix
        self.in_flight = in_flight
        self.new_instances = new_instances
        self.stop_event = threading.Event()
        self.draining = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=60)

    def drain(self, timeout: float) -> bool:
        """Start no more instances, drive the ones in flight to their end; False when that took too long."""
        self.draining.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        drained = not any(t.is_alive() for t in self.threads)
        self.stop()
        return drained

    # -- one client thread -----------------------------------------------------------------------------------

    def _call(self, session: requests.Session, method: str, path: str, ok_4xx: tuple[int, ...] = (),
              **kw: Any) -> requests.Response | None:
        """One request to a random server; None when it got no usable answer (to retry from the state later)."""
        base = random.choice(self.bases)
        try:
            response = session.request(method, f"{base}/engine-rest{path}", timeout=30, **kw)
        except requests.RequestException:
            with self.ledger.lock:
                self.ledger.no_answer += 1
            time.sleep(0.05)
            return None
        with self.ledger.lock:
            self.ledger.statuses[response.status_code] += 1
        if response.ok or response.status_code in ok_4xx:
            return response
        if not _clean_503(response):
            with self.ledger.lock:
                self.ledger.bad.append(f"{method} {path} -> {response.status_code} {response.text[:300]}")
        time.sleep(0.05)
        return None

    def _run(self, n: int) -> None:
        session = requests.Session()
        session.auth = ADMIN
        flights: list[dict[str, Any]] = []
        made = 0
        while not self.stop_event.is_set():
            while self.new_instances and not self.draining.is_set() and len(flights) < self.in_flight:
                made += 1
                flights.append({"bk": f"{self.prefix}-{n}-{made}", "id": None, "step": "start"})
            if not flights:
                return
            for flight in list(flights):
                if self.stop_event.is_set():
                    break
                if self._advance(session, flight):
                    flights.remove(flight)
                    with self.ledger.lock:
                        self.ledger.finished.add(flight["id"])

    def _advance(self, session: requests.Session, f: dict[str, Any]) -> bool:
        """One step of an instance's path; True once it ended."""
        if f["step"] == "start":
            r = self._call(session, "POST", f"/process-definition/key/{MIXED_KEY}/start",
                           json={"businessKey": f["bk"]}, headers={"Idempotency-Key": f["bk"]})
            if r is not None:
                f["id"] = r.json()["id"]
                self.ledger.ack("started", f["bk"], f["id"])
                f["step"] = "review"
            return False
        if f["step"] in ("review", "ship"):
            r = self._call(session, "GET", f"/task?processInstanceId={f['id']}")
            if r is None:
                return False
            tasks = [t for t in r.json() if t["taskDefinitionKey"] == f["step"]]
            if not tasks:
                if f["step"] == "review" and not r.json():
                    f["step"] = "paid"  # an earlier completion went through though its answer was lost
                elif f["step"] == "ship":
                    state = self._call(session, "GET", f"/history/process-instance/{f['id']}")
                    if state is not None and state.json().get("state") == "COMPLETED":
                        return True
                    time.sleep(0.02)  # the timer has not fired yet
                return False
            done = self._call(session, "POST", f"/task/{tasks[0]['id']}/complete", json={}, ok_4xx=(404, 409))
            if done is not None:
                if done.ok:
                    self.ledger.ack("completed", f["id"], f["step"])
                if f["step"] == "ship":
                    return True
                f["step"] = "paid"
            return False
        if f["step"] == "paid":
            r = self._call(session, "POST", "/message", ok_4xx=(400, 404),
                           json={"messageName": "paid", "processInstanceId": f["id"], "resultEnabled": True})
            if r is not None:
                if r.ok:
                    self.ledger.ack("messaged", f["id"])
                # a 4xx: nothing waits for it, because an earlier correlation went through unanswered
                f["step"] = "ship"
            return False
        return False


def _clean_503(response: requests.Response) -> bool:
    """A 503 as the API gives it while the database is down: JSON, `Retry-After`, no traceback or address."""
    if response.status_code != 503:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return (set(body) >= {"type", "message"} and "Retry-After" in response.headers
            and "Traceback" not in response.text and "127.0.0.1" not in response.text)


def check_consistent(url: str, ledger: Ledger, *, all_finished: bool = False) -> dict[str, int]:
    """Every acknowledged effect is in the database once, nothing is doubled, every instance is on its path.

    Returns counts of what was checked.
    """
    from engine.api import Engine
    from engine.config import Settings

    engine = Engine(Settings(database_url=url))
    counts: Counter[str] = Counter()
    try:
        instances: list[Any] = []
        while True:  # every page (a long soak starts thousands)
            page = engine.instances.list(definition_key=MIXED_KEY, first=len(instances), max_results=1000)
            instances += page
            if len(page) < 1000:
                break
        by_key: dict[str, list[str]] = {}
        for instance in instances:
            by_key.setdefault(instance.business_key, []).append(instance.id)
        # every acknowledged start is there exactly once, under its business key
        for business_key, instance_id in ledger.started.items():
            assert by_key.get(business_key) == [instance_id], (business_key, by_key.get(business_key))
        doubled = {k: v for k, v in by_key.items() if len(v) > 1}
        assert not doubled, f"one business key, several instances: {doubled}"
        history: dict[str, list[tuple[str, str]]] = {}
        for listed in instances:
            # one read of each instance: its history, tasks and waits at one moment (timers go on firing)
            state = engine.instances.state(listed.id)
            instance = state.instance
            events = [(h.element_id, h.event) for h in state.history]
            history[instance.id] = events
            done = [e for e, ev in events if ev == "completed" and e in MIXED_PATH]
            # nothing doubled: each element of the path completed at most once, and in the path's order
            assert done == MIXED_PATH[: len(done)], (instance.id, events)
            counts["instances"] += 1
            counts["steps"] += len(done)
            open_tasks = [t.task_definition_key for t in state.tasks]
            assert len(open_tasks) <= 1, (instance.id, open_tasks)
            if instance.state == "COMPLETED":
                assert done == MIXED_PATH and not open_tasks, (instance.id, events)
                counts["completed"] += 1
                continue
            assert instance.state == "ACTIVE", (instance.id, instance.state)
            # reachable: the open task (or the wait) is the element right after the last one completed
            expected_next = MIXED_PATH[len(done)]
            if expected_next in ("review", "ship"):
                assert open_tasks == [expected_next], (instance.id, events, open_tasks)
            else:
                assert open_tasks == [] and state.active_elements == [expected_next], \
                    (instance.id, events, state.active_elements)
        for instance_id, element in ledger.completed:
            assert (element, "completed") in history[instance_id], (instance_id, element)
            counts["acked_completions"] += 1
        for instance_id in ledger.messaged:
            assert ("paid", "completed") in history[instance_id], instance_id
            counts["acked_messages"] += 1
        if all_finished:
            for instance_id in ledger.finished:
                assert engine.instances.get(instance_id).state == "COMPLETED"
        # each fired timer is counted once: no timer job is left for an instance past its timer
        timers_fired = sum(("cool_off", "completed") in ev for ev in history.values())
        counts["timers_fired"] = timers_fired
    finally:
        engine.close()
    return dict(counts)



@dataclass
class Sample:
    """One look at the engine processes: memory, database connections, open files, threads."""

    at: float
    rss_kib: dict[str, int]
    connections: int
    fds: int
    threads: int
    acknowledged: int


def sample(procs: dict[str, Proc], count_connections: Any, ledger: Ledger, began: float) -> Sample:
    """RSS of every process of `procs` (by name; a server's gunicorn workers as `name/worker`), the database's
    connections from this run (`count_connections()`), and the open file descriptors and threads of them all."""
    rss: dict[str, int] = {}
    fds = threads = 0
    for name, proc in procs.items():
        for n, pid in enumerate(proc.pids()):
            try:
                status = Path(f"/proc/{pid}/status").read_text().splitlines()
                fds += len(os.listdir(f"/proc/{pid}/fd"))
            except FileNotFoundError:
                continue
            fields = dict(line.split(":", 1) for line in status if ":" in line)
            rss[name if n == 0 else f"{name}/worker{n}"] = int(fields["VmRSS"].split()[0])
            threads += int(fields["Threads"])
    with ledger.lock:
        acknowledged = len(ledger.started) + len(ledger.completed) + len(ledger.messaged)
    return Sample(time.monotonic() - began, rss, count_connections(), fds, threads, acknowledged)


def pg_connections(admin_url: str, application_name: str) -> Any:
    """A function counting the PostgreSQL connections whose `application_name` is this run's."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    admin = create_engine(admin_url, poolclass=NullPool)

    def count() -> int:
        with admin.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :a"),
                                    {"a": application_name}).scalar_one())

    return count
