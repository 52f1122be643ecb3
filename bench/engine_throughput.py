"""Engine throughput against plain in-memory SpiffWorkflow, and the cost of a step as history grows.

    python bench/engine_throughput.py [--instances 1000] [--postgres URL] [--loop 1000]

Prints, for start -> user task -> complete -> script -> end:
- instances/s through the engine API on SQLite (a file, WAL) and on PostgreSQL;
- the same flow in plain in-memory SpiffWorkflow in the same run, and the ratio. The reference runs in a process
  of its own (`spiff_baseline.py`), so that what Stageflow changes in SpiffWorkflow when imported does not reach
  it; the same flow in this process's SpiffWorkflow (as Stageflow runs it) is printed beside it;
- the time to complete one task in an instance that has already completed 10 vs 1,000 tasks (a loop).

The measurements whose ratio is printed are interleaved (rounds of 50 instances in memory and 50 on one database,
one completion in each loop instance in turn), so that a change in the machine's load during the run weighs on both
sides alike; SQLite and PostgreSQL are each paired with in-memory rounds of their own.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import spiff_baseline  # noqa: E402
from spiff_baseline import FLOW, NS  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from engine.api import Engine  # noqa: E402
from engine.clock import VirtualClock  # noqa: E402
from engine.config import Settings  # noqa: E402
from tests.helpers import TEST_PG_URL  # noqa: E402

LOOP = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS}>
  <bpmn:process id="loop" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="task" name="Round"/>
    <bpmn:exclusiveGateway id="again" default="back"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task"/>
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="again"/>
    <bpmn:sequenceFlow id="done" sourceRef="again" targetRef="end"><bpmn:conditionExpression>${{stop}}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="back" sourceRef="again" targetRef="task"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


ROUND = 50  # instances of each kind per round of the interleaved measurement


class PlainSpiff:
    """Plain SpiffWorkflow in a process of its own (`spiff_baseline.py`): rounds of the flow on request."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("spiff_baseline.py"))],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def seconds(self, n: int) -> float:
        """Seconds the reference took for `n` instances."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{n}\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()


def engine_flow(engine: Engine, n: int) -> float:
    """Instances per second of the flow through the engine API."""
    engine.definitions.deploy([("bench.bpmn", FLOW)])
    return n / _engine_seconds(engine, n)


def _engine_seconds(engine: Engine, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        instance = engine.instances.start("bench", variables={"x": 21})
        [task] = engine.tasks.list(instance_id=instance.id, max_results=1)
        engine.tasks.complete(task.id, {})
    seconds = time.perf_counter() - started
    assert engine.instances.get(instance.id).state == "COMPLETED"
    return seconds


def throughput(engine: Engine, n: int) -> tuple[float, float, float, list[float]]:
    """(plain SpiffWorkflow, SpiffWorkflow as Stageflow runs it, engine) instances/s, measured in alternating rounds
    of `ROUND` instances (see the module docstring), and the engine's ratio to plain SpiffWorkflow in each round.

    Each database is paired with in-memory rounds of its own: PostgreSQL's server goes on working after a commit
    returns (on a 2-core machine it was seen to halve the in-memory rate of the rounds that followed its own).
    """
    reference = PlainSpiff()
    patched = spiff_baseline.specs()  # parsed here: this process's SpiffWorkflow carries Stageflow's changes
    engine.definitions.deploy([("bench.bpmn", FLOW)])
    _engine_seconds(engine, 20)  # warm up: compiled specs, statements, connections
    reference.seconds(20)
    spiff_baseline.seconds(patched, 20)
    memory = inside = persisted = 0.0
    done = 0
    rounds: list[float] = []
    try:
        while done < n:
            k = min(ROUND, n - done)
            plain = reference.seconds(k)
            memory += plain
            inside += spiff_baseline.seconds(patched, k)
            stored = _engine_seconds(engine, k)
            persisted += stored
            rounds.append(plain / stored)
            done += k
    finally:
        reference.close()
    return n / memory, n / inside, n / persisted, rounds


def _spread(rounds: list[float]) -> str:
    """The per-round ratios' median and middle half: on a noisy machine they say more than one total."""
    if len(rounds) < 4:
        return ""
    low, mid, high = statistics.quantiles(rounds, n=4)
    return f"   (per round of {ROUND}: median {mid:.2f}, middle half {low:.2f}-{high:.2f})"


def step_cost(engine: Engine, rounds_before: list[int], samples: int = 50) -> dict[int, float]:
    """Median seconds to complete one task after `rounds` completed rounds of a loop (the instances take turns)."""
    engine.definitions.deploy([("loop.bpmn", LOOP)])
    instances = {}
    for rounds in rounds_before:
        instance = engine.instances.start("loop", variables={"stop": False})
        for _ in range(rounds):
            [task] = engine.tasks.list(instance_id=instance.id)
            engine.tasks.complete(task.id, {})
        instances[rounds] = instance.id
    times: dict[int, list[float]] = {rounds: [] for rounds in rounds_before}
    for _ in range(samples):
        for rounds, instance_id in instances.items():
            [task] = engine.tasks.list(instance_id=instance_id)
            t0 = time.perf_counter()
            engine.tasks.complete(task.id, {})
            times[rounds].append(time.perf_counter() - t0)
    return {rounds: statistics.median(t) for rounds, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--loop", type=int, default=1000, help="rounds for the long-history measurement")
    ap.add_argument("--postgres", default=TEST_PG_URL,
                    help="PostgreSQL URL ('' to skip)")
    args = ap.parse_args()

    n = args.instances
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Engine(Settings(database_url=f"sqlite:///{tmp}/bench.db"), clock=VirtualClock())
        sqlite.upgrade()
        memory, inside, sqlite_rate, rounds = throughput(sqlite, n)
        print(f"in-memory SpiffWorkflow      {memory:8.0f} instances/s   (plain, in a process of its own)")
        print(f"  as Stageflow runs it       {inside:8.0f} instances/s   (with engine/spiff's hooks and speedups)")
        print(f"Stageflow on SQLite          {sqlite_rate:8.0f} instances/s   ratio {sqlite_rate / memory:.2f}"
              + _spread(rounds))
        with _postgres(args.postgres) as pg:
            if pg is not None:
                memory, _, pg_rate, rounds = throughput(pg, n)
                print(f"Stageflow on PostgreSQL      {pg_rate:8.0f} instances/s   ratio {pg_rate / memory:.2f}"
                      f"   (in-memory beside it {memory:.0f} instances/s)" + _spread(rounds))
        costs = step_cost(sqlite, [10, args.loop])
        sqlite.close()
    short, long = costs[10], costs[args.loop]
    print(f"one completion after 10 tasks {short * 1000:7.2f} ms, after {args.loop} tasks {long * 1000:7.2f} ms"
          f"   ratio {long / short:.2f}")


@contextmanager
def _postgres(url: str) -> Iterator[Engine | None]:
    """An engine on a fresh schema of the PostgreSQL at `url` (None when there is none), dropped afterwards."""
    if not url:
        yield None
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as err:  # noqa: BLE001
        print(f"PostgreSQL skipped: {err}")
        yield None
        return
    eng = Engine(Settings(database_url=f"{url}?options=-csearch_path%3D{schema}"), clock=VirtualClock())
    try:
        eng.upgrade()
        yield eng
    finally:
        eng.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
