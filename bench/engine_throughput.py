"""Engine throughput against plain in-memory SpiffWorkflow, and the cost of a step as history grows.

    python bench/engine_throughput.py [--instances 1000] [--postgres URL] [--loop 1000]

Prints, for start -> user task -> complete -> script -> end:
- instances/s through the engine API on SQLite (a file, WAL) and on PostgreSQL;
- the same flow in plain in-memory SpiffWorkflow in the same run, and the ratio;
- the time to complete one task in an instance that has already completed 10 vs 1,000 tasks (a loop).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from engine.api import Engine  # noqa: E402
from engine.clock import VirtualClock  # noqa: E402
from engine.config import Settings  # noqa: E402

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x"')

FLOW = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS}>
  <bpmn:process id="bench" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="task" name="Do it"/>
    <bpmn:scriptTask id="script"><bpmn:script>y = x * 2</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task"/>
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="script"/>
    <bpmn:sequenceFlow id="f3" sourceRef="script" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()

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


def spiff_in_memory(n: int) -> float:
    parser = CamundaParser()
    parser.add_bpmn_str(FLOW.replace(b"<bpmn:script>y = x * 2", b"<bpmn:script>y = x * 2"))
    spec, subs = parser.get_spec("bench"), parser.get_subprocess_specs("bench")
    started = time.perf_counter()
    for _ in range(n):
        wf = BpmnWorkflow(spec, subs)
        wf.task_tree.data["x"] = 21
        wf.do_engine_steps()
        task = wf.get_next_task(state=TaskState.READY, manual=True)
        task.run()
        wf.do_engine_steps()
        assert wf.completed
    return n / (time.perf_counter() - started)


def engine_flow(engine: Engine, n: int) -> float:
    engine.definitions.deploy([("bench.bpmn", FLOW)])
    started = time.perf_counter()
    for _ in range(n):
        instance = engine.instances.start("bench", variables={"x": 21})
        [task] = engine.tasks.list(instance_id=instance.id, max_results=1)
        engine.tasks.complete(task.id, {})
    rate = n / (time.perf_counter() - started)
    assert engine.instances.get(instance.id).state == "COMPLETED"
    return rate


def step_cost(engine: Engine, rounds_before: list[int], samples: int = 20) -> dict[int, float]:
    """Median seconds to complete one task after `rounds` completed rounds of a loop."""
    engine.definitions.deploy([("loop.bpmn", LOOP)])
    results = {}
    for rounds in rounds_before:
        instance = engine.instances.start("loop", variables={"stop": False})
        for _ in range(rounds):
            [task] = engine.tasks.list(instance_id=instance.id)
            engine.tasks.complete(task.id, {})
        times = []
        for _ in range(samples):
            [task] = engine.tasks.list(instance_id=instance.id)
            t0 = time.perf_counter()
            engine.tasks.complete(task.id, {})
            times.append(time.perf_counter() - t0)
        results[rounds] = statistics.median(times)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--loop", type=int, default=1000, help="rounds for the long-history measurement")
    ap.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                    help="PostgreSQL URL ('' to skip)")
    args = ap.parse_args()

    n = args.instances
    memory = spiff_in_memory(n)
    print(f"in-memory SpiffWorkflow      {memory:8.0f} instances/s")

    with tempfile.TemporaryDirectory() as tmp:
        eng = Engine(Settings(database_url=f"sqlite:///{tmp}/bench.db"), clock=VirtualClock())
        eng.upgrade()
        sqlite_rate = engine_flow(eng, n)
        print(f"Stageflow on SQLite          {sqlite_rate:8.0f} instances/s   ratio {sqlite_rate / memory:.2f}")
        costs = step_cost(eng, [10, args.loop])
        eng.close()
    short, long = costs[10], costs[args.loop]
    print(f"one completion after 10 tasks {short * 1000:7.2f} ms, after {args.loop} tasks {long * 1000:7.2f} ms"
          f"   ratio {long / short:.2f}")

    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as err:  # noqa: BLE001
            print(f"PostgreSQL skipped: {err}")
            return
        try:
            eng = Engine(Settings(database_url=f"{args.postgres}?options=-csearch_path%3D{schema}"),
                         clock=VirtualClock())
            eng.upgrade()
            pg_rate = engine_flow(eng, n)
            eng.close()
            print(f"Stageflow on PostgreSQL      {pg_rate:8.0f} instances/s   ratio {pg_rate / memory:.2f}")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
