"""Child processes of the reliability tests: another server process working on the same database.

Run as a script (``python tests/reliability/worker_script.py loop URL PREFIX``, with the repository root on
PYTHONPATH) it starts instances of `LOOP_PROCESS` and completes their tasks forever, printing one line per
operation *after* the engine returned, that is after its transaction committed:

    started <business key> <instance id>
    completed <instance id> <task id> <element id> <value>

The parent kills it with SIGKILL wherever it happens to be and checks that every printed operation is in the
database and that nothing is half-written.

`race_worker` is the target of a `multiprocessing` 'spawn' process: it completes a list of tasks in step with
another process (a shared barrier before each task) and reports what each call did.
"""

from __future__ import annotations

import sys
from collections import deque
from typing import Any

from tests.helpers import bpmn, chain

# start -> userTask -> scriptTask -> userTask -> end
LOOP_KEY = "kill9"
LOOP_PROCESS = bpmn(
    """
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="first" name="First"/>
    <bpmn:scriptTask id="compute" scriptFormat="python"><bpmn:script>doubled = first * 2</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="second" name="Second"/>
    <bpmn:endEvent id="end"/>
    """
    + chain("start", "first", "compute", "second", "end"),
    process_id=LOOP_KEY,
)

# start -> review -> followup -> end: the race is on `review`, the instance still runs afterwards
RACE_KEY = "race"
RACE_PROCESS = bpmn(
    """
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="review" name="Review"/>
    <bpmn:userTask id="followup" name="Follow up"/>
    <bpmn:endEvent id="end"/>
    """
    + chain("start", "review", "followup", "end"),
    process_id=RACE_KEY,
)


def _emit(*parts: object) -> None:
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()


def loop(url: str, prefix: str) -> None:
    """Start instances and complete their tasks until killed; keep a few instances at every stage."""
    from engine.api import Engine
    from engine.config import Settings

    engine = Engine(Settings(database_url=url, script_time_limit=5.0))
    pending: deque[tuple[str, str]] = deque()  # (instance id, task id) of tasks this process left open
    _emit("ready")
    n = 0
    while True:
        n += 1
        business_key = f"{prefix}-{n}"
        instance = engine.instances.start(LOOP_KEY, business_key=business_key, variables={"n": n})
        _emit("started", business_key, instance.id)
        [task] = engine.tasks.list(instance_id=instance.id)
        pending.append((instance.id, task.id))
        if len(pending) > 3:
            instance_id, task_id = pending.popleft()
            element = engine.tasks.get(task_id).task_definition_key
            engine.tasks.complete(task_id, {element: n}, user=prefix)
            _emit("completed", instance_id, task_id, element, n)
            pending.extend((instance_id, t.id) for t in engine.tasks.list(instance_id=instance_id))


def race_worker(url: str, name: str, task_ids: list[str], barrier: Any, results: Any) -> None:
    """Complete each task right when the other process does; put (name, [(task id, outcome, detail)])."""
    from engine.api import Engine
    from engine.config import Settings
    from engine.errors import Conflict

    engine = Engine(Settings(database_url=url, script_time_limit=5.0))
    outcomes: list[tuple[str, str, str]] = []
    try:
        engine.db.ensure_schema()
        for task_id in task_ids:
            barrier.wait(timeout=30)
            try:
                engine.tasks.complete(task_id, {"winner": name}, user=name)
                outcomes.append((task_id, "ok", ""))
            except Conflict as err:
                outcomes.append((task_id, "conflict", err.message))
            except Exception as err:  # noqa: BLE001 - reported to the parent, which fails the test
                outcomes.append((task_id, "error", repr(err)))
    finally:
        results.put((name, outcomes))
        engine.close()


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "loop":
        sys.exit("usage: worker_script.py loop DATABASE_URL PREFIX")
    loop(sys.argv[2], sys.argv[3])
