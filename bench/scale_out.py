"""Scale-out on PostgreSQL: start-and-complete and timer throughput with 1, 2 and 4 engine processes.

    python bench/scale_out.py                       # N = 1, 2, 4; 10 s of HTTP load and 2,000 timers per N
    python bench/scale_out.py --processes 1 2 --seconds 5 --timers 500
    python bench/scale_out.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Everything runs on this machine against PostgreSQL, in a private schema of `--postgres` (dropped at the end):

1. HTTP: N `stageflow serve --workers 1 --threads 8 --no-timers` processes on N ports (no coordinator: they only share the
   database). Client threads (`--clients`, spread over the ports round-robin) each loop start -> find the task ->
   complete (three requests, Bearer token) on `scale` (start -> user task -> end). After a warm-up, the completed
   instances in `--seconds` give instances/s.
2. Timers: `--timers` instances wait at a user task with a non-interrupting timer cycle `R/PT1H`. With the servers
   stopped, N `stageflow worker` processes are started and every timer is moved to fall due at one moment T0 a
   few seconds ahead (`engine.jobs.set_due`, as `stageflow job set-due` does); the time from T0 until none is
   due any more gives timers/s. Each firing reschedules the cycle an hour later, so the same instances serve
   every N.
3. CPU: the utime+stime (from `/proc/PID/stat`) of the PostgreSQL backends serving this benchmark (found in
   `pg_stat_activity` by their `application_name`), of the engine processes (servers and their gunicorn workers,
   or the timer workers) and of the client (this process), over the measured window, as a share of wall time
   (1.00 = one core busy).

The table gives each figure, its ratio to N = 1 and the CPU shares. Figures depend on the machine (its cores, the
other load: `uptime` is printed) and are not asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from engine.api import Engine  # noqa: E402
from engine.config import Settings  # noqa: E402
from tests.helpers import TEST_PG_URL, wait_until_serving  # noqa: E402

APP_NAME = "sf_scale_bench"
TICKS = os.sysconf("SC_CLK_TCK")
NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x"'
SCALE = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS}><bpmn:process id="scale" isExecutable="true">
  <bpmn:startEvent id="start"/><bpmn:userTask id="work"/><bpmn:endEvent id="end"/>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/><bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
</bpmn:process></bpmn:definitions>"""
NAG = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS}><bpmn:process id="nag" isExecutable="true">
  <bpmn:startEvent id="start"/><bpmn:userTask id="work"/><bpmn:endEvent id="end"/>
  <bpmn:boundaryEvent id="remind" attachedToRef="work" cancelActivity="false">
    <bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
  <bpmn:endEvent id="reminded"/>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/><bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
  <bpmn:sequenceFlow id="f3" sourceRef="remind" targetRef="reminded"/>
</bpmn:process></bpmn:definitions>"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """utime + stime of each process that still exists, in seconds."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid, *(int(p) for p in found)]


class Cpu:
    """CPU seconds used by a changing set of processes between `start()` and `stop()`."""

    def __init__(self, pids: callable) -> None:  # type: ignore[valid-type]
        self.pids = pids
        self.before: dict[int, float] = {}
        self.used = 0.0

    def start(self) -> None:
        self.before = cpu_seconds(self.pids())

    def stop(self) -> float:
        after = cpu_seconds(self.pids())
        self.used = sum(v - self.before.get(pid, 0.0) for pid, v in after.items())
        return self.used


@dataclass
class Row:
    what: str
    n: int
    rate: float
    db_cpu: float
    engine_cpu: float
    client_cpu: float


class Bench:
    def __init__(self, admin_url: str) -> None:
        self.schema = f"sf_scale_{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        sep = "&" if "?" in admin_url else "?"
        self.url = f"{admin_url}{sep}options=-csearch_path%3D{self.schema}&application_name={APP_NAME}"
        self.tmp = Path(tempfile.mkdtemp(prefix="sf-scale-"))
        self.env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "STAGEFLOW_DATABASE_URL": self.url,
                    "STAGEFLOW_TIMER_POLL_SECONDS": "0.5"}
        engine = Engine(Settings(database_url=self.url))
        engine.upgrade()
        engine.definitions.deploy([("scale.bpmn", SCALE.encode()), ("nag.bpmn", NAG.encode())])
        engine.identity.add_user("bench", "bench-pass-1", ["admins"])
        self.token = engine.identity.create_token("bench", "scale-out bench")
        self.engine = engine
        self.procs: list[subprocess.Popen[bytes]] = []

    def backends(self) -> list[int]:
        with self.admin.connect() as conn:
            return list(conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :a"),
                                     {"a": APP_NAME}).scalars())

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{args[0]}-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", *args], env=self.env, cwd=REPO_ROOT,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs = []

    def engine_pids(self) -> list[int]:
        return [pid for proc in self.procs for pid in children(proc.pid)]

    # -- HTTP start-and-complete ---------------------------------------------------------------------------

    def http(self, n: int, clients: int, seconds: float, warmup: float) -> Row:
        ports = [free_port() for _ in range(n)]
        for port in ports:
            self.spawn("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--threads", "8",
                       "--no-timers")
        bases = [f"http://127.0.0.1:{p}/engine-rest" for p in ports]
        for base in bases:
            try:
                wait_until_serving(base)
            except TimeoutError:
                raise SystemExit(f"{base} did not start: see {self.tmp}")
        done = [0] * clients
        errors = [0] * clients
        measuring = threading.Event()
        stop = threading.Event()

        def client(i: int) -> None:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {self.token}"
            base = bases[i % len(bases)]
            while not stop.is_set():
                try:
                    started = session.post(f"{base}/process-definition/key/scale/start", json={}, timeout=30)
                    [task] = session.get(f"{base}/task?processInstanceId={started.json()['id']}", timeout=30).json()
                    ok = session.post(f"{base}/task/{task['id']}/complete", json={}, timeout=30).ok
                except (requests.RequestException, ValueError, KeyError):
                    ok = False
                if measuring.is_set():
                    done[i] += ok
                    errors[i] += not ok

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        time.sleep(warmup)
        db, eng = Cpu(self.backends), Cpu(self.engine_pids)
        db.start()
        eng.start()
        me0, t0 = time.process_time(), time.monotonic()
        measuring.set()
        time.sleep(seconds)
        measuring.clear()
        wall = time.monotonic() - t0
        db.stop()
        eng.stop()
        me = time.process_time() - me0
        stop.set()
        for t in threads:
            t.join(timeout=60)
        self.stop_all()
        if sum(errors):
            print(f"  ({sum(errors)} failed rounds with {n} servers)")
        return Row("start+complete over HTTP (instances/s)", n, sum(done) / wall, db.used / wall, eng.used / wall,
                   me / wall)

    # -- timers ----------------------------------------------------------------------------------------------

    def create_timers(self, count: int) -> None:
        started = time.monotonic()
        for _ in range(count):
            self.engine.instances.start("nag")
        print(f"setup: {count} instances waiting with a timer cycle in {time.monotonic() - started:.1f} s")

    def timers(self, n: int, count: int) -> Row:
        workers = [self.spawn("worker") for _ in range(n)]
        with self.admin.connect() as conn:
            jobs = list(conn.execute(text(f'SELECT id FROM "{self.schema}".job')).scalars())
        # every timer due at one moment T0, through the engine (the instance's own timer moves with its row)
        t0_wall = time.time() + 5.0 + len(jobs) / 40  # setting one takes ~10-25 ms on a busy machine
        due = datetime.fromtimestamp(t0_wall, UTC)
        chunks = [jobs[i::4] for i in range(4)]
        setters = [threading.Thread(target=lambda ids: [self.engine.jobs.set_due(j, due) for j in ids], args=(c,))
                   for c in chunks]
        for t in setters:
            t.start()
        for t in setters:
            t.join()
        late = time.time() - t0_wall
        if late > 0:
            print(f"  (setting the due times ended {late:.1f} s after T0: the rate is understated)")
        for w in workers:
            assert w.poll() is None, f"a worker exited: see {self.tmp}"
        db, eng = Cpu(self.backends), Cpu(self.engine_pids)
        time.sleep(max(0.0, t0_wall - time.time()))
        db.start()
        eng.start()
        me0, t0 = time.process_time(), time.monotonic()
        deadline = t0 + 600
        while True:
            with self.admin.connect() as conn:
                left = conn.execute(text(f'SELECT count(*) FROM "{self.schema}".job WHERE due_at <= :due'),
                                    {"due": due}).scalar_one()
            if left == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        wall = time.monotonic() - t0
        db.stop()
        eng.stop()
        me = time.process_time() - me0
        self.stop_all()
        if left:
            print(f"  ({left} timers still due after {wall:.0f} s with {n} workers)")
        return Row("timers fired (timers/s)", n, (count - left) / wall, db.used / wall, eng.used / wall, me / wall)

    def close(self) -> None:
        self.stop_all()
        self.engine.close()
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default=TEST_PG_URL)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--clients", type=int, default=16, help="HTTP client threads (default 16)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds of HTTP load per N")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--timers", type=int, default=2000)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    bench = Bench(args.postgres)
    rows: list[Row] = []
    try:
        for n in args.processes:
            rows.append(bench.http(n, args.clients, args.seconds, args.warmup))
            print(f"  HTTP, {n} servers: {rows[-1].rate:.1f} instances/s", flush=True)
        bench.create_timers(args.timers)
        for n in args.processes:
            rows.append(bench.timers(n, args.timers))
            print(f"  timers, {n} workers: {rows[-1].rate:.1f} timers/s", flush=True)
    finally:
        bench.close()
    print(f"\nload after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print("| what | processes | rate | ratio to 1 | PostgreSQL CPU | engine CPU | client CPU | DB share |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    base: dict[str, float] = {}
    for r in rows:
        base.setdefault(r.what, r.rate)
        share = r.db_cpu / (r.db_cpu + r.engine_cpu) if r.db_cpu + r.engine_cpu else 0.0
        print(f"| {r.what} | {r.n} | {r.rate:.1f} | {r.rate / base[r.what]:.2f} | {r.db_cpu:.2f} | "
              f"{r.engine_cpu:.2f} | {r.client_cpu:.2f} | {share:.0%} |")
    print("CPU columns: cores busy on average over the measured window (1.00 = one core); DB share = PostgreSQL's "
          "part of PostgreSQL + engine CPU")


if __name__ == "__main__":
    main()
