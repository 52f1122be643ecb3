"""The cost of a parallel multi-instance activity as its collection grows.

    python bench/multi_instance.py [--items 1000 3000 5000] [--kind user script] [--sequential]

For each number of items, on a fresh SQLite file (a virtual clock, nothing else running in the engine):
- `user`: a user task with `camunda:collection` over the items (one task per item): the time to start the instance
  (to its wait state, saved with every task in the task list), then of one completion with the run kept in
  memory and of one after it was dropped (loaded from the database, as another worker process would);
- `script`: a script task with `camunda:collection` over the items, all run in the start.

Each time is split into the `Run` methods it spent most in (`PhaseClock`): `advance` is the engine steps, the
part the loop guard (`engine.spiff.runtime.TIME_LIMIT`, 15 s) bounds. "per item" is the time per item against
the first number of items' time per item: x1.0 when the cost grows as the number of items, x3.0 at three times
the items when it grows as its square. Prints the size of the stored runtime too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import MethodType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spiff_baseline import NS  # noqa: E402

from engine.api import Engine  # noqa: E402
from engine.clock import VirtualClock  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.spiff import runtime  # noqa: E402
from engine.store import models as m  # noqa: E402

ACTIVITY = {
    "user": '<bpmn:userTask id="each" camunda:assignee="${person}">{loop}</bpmn:userTask>',
    "script": '<bpmn:scriptTask id="each">{loop}<bpmn:script>done = done + 1</bpmn:script></bpmn:scriptTask>',
}


def process(kind: str, sequential: bool) -> bytes:
    loop = (f'<bpmn:multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}" '
            'camunda:collection="${people}" camunda:elementVariable="person"/>')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS}>
  <bpmn:process id="bench" isExecutable="true">
    <bpmn:startEvent id="start"/>
    {ACTIVITY[kind].replace("{loop}", loop)}
    <bpmn:userTask id="after"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="each"/>
    <bpmn:sequenceFlow id="f2" sourceRef="each" targetRef="after"/>
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


PHASES = ("advance", "waiting_tasks", "prune", "reusable", "dump", "load")  # methods of `Run` timed


class PhaseClock:
    """Adds up the time spent in some methods of `Run`: `advance` (the engine steps of a change, which the loop
    guard bounds) and the work of a save (`prune`, `waiting_tasks`, `reusable`, `dump`) and of a load."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)
        for name in PHASES:
            self._wrap(name, getattr(runtime.Run, name))

    def _wrap(self, name: str, method: Any) -> None:
        plain = getattr(method, "__func__", method)  # `load` is a classmethod

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return plain(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        setattr(runtime.Run, name, classmethod(timed) if isinstance(method, MethodType) else timed)

    def reset(self) -> dict[str, float]:
        """The times added up since the last reset (only those above 5 ms)."""
        spent = {name: value for name, value in self.seconds.items() if value >= 0.005}
        self.seconds = dict.fromkeys(PHASES, 0.0)
        return spent


def measure(kind: str, items: int, sequential: bool, clock: PhaseClock) -> list[tuple[str, float, dict]]:
    """(what, seconds, seconds by phase) of each change measured, and ("runtime KB", size, {})."""
    folder = tempfile.mkdtemp(prefix="sf-bench-mi-")
    engine = Engine(Settings(database_url=f"sqlite:///{folder}/bench.db"), clock=VirtualClock())
    out = []
    try:
        engine.definitions.deploy([("bench.bpmn", process(kind, sequential))])
        variables = {"people": [f"person{n}" for n in range(items)], "done": 0}
        clock.reset()
        started = time.perf_counter()
        instance = engine.instances.start("bench", variables=variables)
        out.append(("start", time.perf_counter() - started, clock.reset()))
        with engine.db.read() as session:
            size = len(session.get(m.ProcessInstance, instance.id).runtime or "") / 1024
        if kind == "user":
            tasks = engine.tasks.list(instance_id=instance.id, max_results=2)
            started = time.perf_counter()
            engine.tasks.complete(tasks[0].id, {"seen0": True})
            out.append(("complete (run kept)", time.perf_counter() - started, clock.reset()))
            runs = engine.executor.runs
            runs.take(instance.id, runs.version(instance.id))  # as if another process had changed it last
            started = time.perf_counter()
            engine.tasks.complete(tasks[1].id, {"seen1": True})
            out.append(("complete (loaded)", time.perf_counter() - started, clock.reset()))
        elif not sequential or items <= 5000:
            assert engine.instances.variables(instance.id)["done"] == items
        out.append(("runtime KB", size, {}))
        return out
    finally:
        engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, nargs="+", default=[1000, 3000, 5000])
    parser.add_argument("--kind", nargs="+", choices=sorted(ACTIVITY), default=["user", "script"])
    parser.add_argument("--sequential", action="store_true", help="a sequential multi-instance (default parallel)")
    args = parser.parse_args()
    clock = PhaseClock()
    for kind in args.kind:
        print(f"{'sequential' if args.sequential else 'parallel'} multi-instance {kind} task")
        measure(kind, 20, args.sequential, clock)  # warm up: imports, compiled statements
        first: dict[str, float] = {}
        for items in args.items:
            for what, value, phases in measure(kind, items, args.sequential, clock):
                if what == "runtime KB":
                    print(f"  {items:>6} items: stored runtime {value:,.0f} KB")
                    continue
                first.setdefault(what, value / items)
                growth = value / items / first[what]  # 1.0: as the number of items; more: faster than it
                split = ", ".join(f"{name} {spent:.2f}" for name, spent in phases.items())
                print(f"  {items:>6} items: {what} {value:.2f} s (per item x{growth:.2f}; {split})", flush=True)


if __name__ == "__main__":
    main()
