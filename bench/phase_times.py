"""Where one instance of the benchmark flow spends its time in the engine, phase by phase.

    python bench/phase_times.py [--instances 3000]

Runs start -> list -> complete (the flow of `engine_throughput.py`) on a SQLite file and times the engine's phases
by wrapping them (each wrapper adds about a microsecond): the API calls, the executor's start, load and save, the
BPMN run (SpiffWorkflow's workflow creation, the engine steps), the projections a save writes, and the driver's
BEGIN and COMMIT. Prints microseconds per instance, largest first. Phases nest (a save holds its projections), so
the figures do not add up to the total.
"""

from __future__ import annotations

import argparse
import collections
import functools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import SpiffWorkflow.bpmn.workflow as spiff_workflow  # noqa: E402
from engine_throughput import FLOW, _engine_seconds  # noqa: E402

import engine.executor as executor  # noqa: E402
import engine.spiff.runtime as runtime  # noqa: E402
import engine.store.database as database  # noqa: E402
from engine.api import Engine  # noqa: E402
from engine.clock import VirtualClock  # noqa: E402
from engine.config import Settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=3000)
    n = ap.parse_args().instances
    spent: collections.Counter[str] = collections.Counter()

    def timed(owner: Any, name: str, label: str) -> None:
        plain = getattr(owner, name)

        @functools.wraps(plain)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return plain(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started

        setattr(owner, name, wrapper)

    with tempfile.TemporaryDirectory() as tmp:
        eng = Engine(Settings(database_url=f"sqlite:///{tmp}/phases.db"), clock=VirtualClock())
        eng.upgrade()
        eng.definitions.deploy([("bench.bpmn", FLOW)])
        _engine_seconds(eng, 300)  # warm up before anything is timed
        for owner, name, label in (
                (spiff_workflow.BpmnWorkflow, "__init__", "SpiffWorkflow workflow creation"),
                (runtime.Run, "advance", "engine steps (Run.advance)"), (runtime.Run, "complete", "Run.complete"),
                (runtime.Run, "dump", "runtime to JSON (Run.dump)"), (runtime.Run, "steps", "history steps"),
                (runtime.Run, "prune", "pruning the task tree"), (runtime.Run, "waiting_tasks", "waiting tasks"),
                (runtime.Run, "variables", "variables"), (executor.Executor, "start", "Executor.start"),
                (executor.Executor, "load", "Executor.load"), (executor.Executor, "save", "Executor.save"),
                (executor._Rows, "flush", "new rows inserted"), (executor.Executor, "_human_tasks", "task rows"),
                (executor.Executor, "_variables", "variable rows"), (eng.instances, "start", "API start"),
                (eng.tasks, "list", "API task list"), (eng.tasks, "complete", "API complete")):
            timed(owner, name, label)
        plain_driver = database._driver

        def driver(call: Any, statement: str) -> None:
            started = time.perf_counter()
            try:
                plain_driver(call, statement)
            finally:
                spent[f"driver {statement.split()[0]}"] += time.perf_counter() - started

        database._driver = driver
        started = time.perf_counter()
        _engine_seconds(eng, n)
        total = time.perf_counter() - started
        eng.close()
    print(f"{'whole flow':34s} {total / n * 1e6:8.1f} µs an instance")
    for label, seconds in spent.most_common():
        print(f"{label:34s} {seconds / n * 1e6:8.1f}")


if __name__ == "__main__":
    main()
