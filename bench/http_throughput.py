"""HTTP start-instance throughput and latency through `stageflow serve` (gunicorn), and the inbox query latency.

    python bench/http_throughput.py                       # SQLite and PostgreSQL, 2,000 starts, 100,000 tasks
    python bench/http_throughput.py --quick               # 400 starts, 20,000 tasks
    python bench/http_throughput.py --databases sqlite --workers 2 --clients 8 --postgres postgresql+psycopg://...

For each database (a fresh SQLite file; a private schema of `--postgres`, dropped at the end):

1. `stageflow serve --workers W` in its own process (gunicorn, gthread), a user in `admins`.
2. Starts: C client threads POST `/process-definition/key/bench/start` (start -> user task) with a business key
   and two typed variables until STARTS instances are started. Prints instances/s and p50/p95/max latency.
3. Task list: TASKS open human tasks in the database, spread over 10 candidate groups (inserted in bulk with SQL,
   not through the engine: only the query path is measured), then 200 requests of `GET /task?candidateGroup=g3&
   maxResults=50&sortBy=created&sortOrder=desc` as a user of group g3 (who sees only their groups' tasks).
   Prints p50/p95/max latency. Goal (issue 4): p95 under 50 ms.

The figures depend on the machine; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from engine.api import Engine  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.store import models as m  # noqa: E402
from tests.helpers import TEST_PG_URL, wait_until_serving  # noqa: E402

PASSWORD = "bench-pass-1"
PROCESS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">
  <bpmn:process id="bench" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="work" name="Work" camunda:candidateGroups="g1"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Server:
    """`stageflow serve` on a free port, as its own process."""

    def __init__(self, url: str, workers: int) -> None:
        self.port = _port()
        env = {**os.environ, "STAGEFLOW_DATABASE_URL": url, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--port", str(self.port),
                                      "--workers", str(workers)], env=env, cwd=REPO,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.base = f"http://127.0.0.1:{self.port}/engine-rest"
        try:
            wait_until_serving(self.base, alive=lambda: self.proc.poll() is None)
        except (RuntimeError, TimeoutError):
            raise RuntimeError(f"the server did not start: {self.proc.stderr.read().decode()[-2000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def bench_starts(base: str, starts: int, clients: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(starts))

    def client() -> None:
        session = requests.Session()
        session.auth = ("bench", PASSWORD)
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            began = time.perf_counter()
            response = session.post(f"{base}/process-definition/key/bench/start", json={
                "businessKey": f"B-{n}", "variables": {"amount": {"value": n, "type": "Integer"},
                                                       "customer": {"value": f"c{n}", "type": "String"}}},
                timeout=60)
            elapsed = time.perf_counter() - began
            if response.status_code != 200:
                raise RuntimeError(f"start failed: {response.status_code} {response.text}")
            with lock:
                latencies.append(elapsed)

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return starts / (time.perf_counter() - began), latencies


def seed_tasks(url: str, count: int) -> None:
    """COUNT open tasks of one definition, candidate groups g0..g9, in bulk."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        definition_id = conn.execute(text("SELECT id FROM process_definition WHERE key = 'bench'")).scalar_one()
        batch = 5000
        for first in range(0, count, batch):
            instances, tasks, links = [], [], []
            for n in range(first, min(count, first + batch)):
                iid, tid, group = str(uuid.uuid4()), str(uuid.uuid4()), f"g{n % 10}"
                created = now - timedelta(seconds=count - n)
                instances.append(dict(id=iid, definition_id=definition_id, definition_key="bench",
                                      business_key=f"S-{n}", state="ACTIVE", version=1, serializer_version="1",
                                      runtime=None, started_at=created, ended_at=None, start_user=None,
                                      delete_reason=None, error=None))
                tasks.append(dict(id=tid, instance_id=iid, definition_id=definition_id, definition_key="bench",
                                  business_key=f"S-{n}", element_id="work", name="Work", description=None,
                                  assignee=None, owner=None, candidate_users=[], candidate_groups=[group],
                                  due=None, follow_up=None, priority=50, form=[], created_at=created,
                                  ended_at=None, outcome=None, completed_by=None, suspended=False))
                links.append(dict(task_id=tid, user_id=None, group_id=group))
            conn.execute(insert(m.ProcessInstance), instances)
            conn.execute(insert(m.HumanTask), tasks)
            conn.execute(insert(m.IdentityLink), links)
        if url.startswith("postgresql"):
            conn.execute(text("ANALYZE"))
    engine.dispose()


def bench_task_list(base: str, requests_count: int = 200) -> list[float]:
    session = requests.Session()
    session.auth = ("g3user", PASSWORD)
    latencies = []
    for _ in range(requests_count):
        began = time.perf_counter()
        response = session.get(f"{base}/task", params={"candidateGroup": "g3", "maxResults": 50,
                                                        "sortBy": "created", "sortOrder": "desc"}, timeout=60)
        latencies.append(time.perf_counter() - began)
        if response.status_code != 200 or len(response.json()) != 50:
            raise RuntimeError(f"task list failed: {response.status_code} {response.text[:200]}")
    return latencies


def run(name: str, url: str, args: argparse.Namespace) -> dict[str, object]:
    engine = Engine(Settings(database_url=url))
    engine.upgrade()
    engine.identity.add_user("bench", PASSWORD, ["admins"])
    engine.identity.add_user("g3user", PASSWORD, ["g3"])
    engine.definitions.deploy([("bench.bpmn", PROCESS)])
    engine.close()
    server = Server(url, args.workers)
    try:
        print(f"[{name}] {args.starts} starts with {args.clients} clients, {args.workers} gunicorn workers",
              flush=True)
        rate, lat = bench_starts(server.base, args.starts, args.clients)
        print(f"[{name}] {rate:.0f} starts/s, p50 {_pct(lat, .5) * 1000:.1f} ms, p95 {_pct(lat, .95) * 1000:.1f} ms,"
              f" max {max(lat) * 1000:.1f} ms", flush=True)
        began = time.perf_counter()
        seed_tasks(url, args.tasks)
        print(f"[{name}] seeded {args.tasks:,} open tasks in {time.perf_counter() - began:.1f} s", flush=True)
        task_lat = bench_task_list(server.base)
        print(f"[{name}] task list (candidate group page of 50 among {args.tasks + args.starts:,} open tasks): "
              f"p50 {_pct(task_lat, .5) * 1000:.1f} ms, p95 {_pct(task_lat, .95) * 1000:.1f} ms, "
              f"max {max(task_lat) * 1000:.1f} ms", flush=True)
    finally:
        server.stop()
    return {"database": name, "starts_per_s": rate, "start_p50_ms": _pct(lat, .5) * 1000,
            "start_p95_ms": _pct(lat, .95) * 1000, "list_p50_ms": _pct(task_lat, .5) * 1000,
            "list_p95_ms": _pct(task_lat, .95) * 1000, "median_ms": statistics.median(task_lat) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres", default=TEST_PG_URL)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--starts", type=int)
    parser.add_argument("--tasks", type=int)
    args = parser.parse_args()
    args.starts = args.starts or (400 if args.quick else 2000)
    args.tasks = args.tasks or (20_000 if args.quick else 100_000)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in args.databases:
            rows.append(run("SQLite", f"sqlite:///{tmp}/bench.db", args))
        if "postgres" in args.databases:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.postgres)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                rows.append(run("PostgreSQL", f"{args.postgres}?options=-csearch_path%3D{schema}", args))
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    print("\n| database | starts/s | start p50 ms | start p95 ms | task list p50 ms | task list p95 ms |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['database']} | {r['starts_per_s']:.0f} | {r['start_p50_ms']:.1f} | {r['start_p95_ms']:.1f} | "
              f"{r['list_p50_ms']:.1f} | {r['list_p95_ms']:.1f} |")


if __name__ == "__main__":
    main()
