"""The engine's faster paths give what the plain ones gave: SpiffWorkflow's log records when its loggers are on,
runtimes written by orjson that load back to the same variables, and WAL checkpoints off the request path."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
from SpiffWorkflow.util.task import TaskState

from engine.api import Engine
from engine.clock import VirtualClock
from engine.config import Settings
from engine.errors import NotFound
from engine.spiff import speedups
from tests.helpers import bpmn, chain


def test_state_names_are_spiffworkflows_own() -> None:
    for value in range(1, 512):  # every state, mask and combination
        assert TaskState.get_name(value) == speedups.PLAIN_GET_NAME(TaskState, value), value


USER_THEN_SCRIPT = bpmn("""
    <bpmn:startEvent id="s"/><bpmn:userTask id="task"/>
    <bpmn:scriptTask id="calc"><bpmn:script>y = x * 2</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="e"/>
    """ + chain("s", "task", "calc", "e"))


def test_spiffworkflow_log_records_keep_their_details_when_its_logger_is_on(engine: Engine, deploy) -> None:
    deploy(USER_THEN_SCRIPT)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("spiff.task")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        engine.instances.start("p", variables={"x": 1})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    changes = [r for r in records if r.getMessage().startswith("State changed to")]
    assert changes, "SpiffWorkflow logged no state change"
    assert {"task_spec", "task_id", "state", "elapsed"} <= set(vars(changes[0]))
    assert any(r.task_spec == "task" and r.state == "READY" for r in changes)


def test_no_log_details_are_built_while_the_logger_is_off(engine: Engine, deploy) -> None:
    deploy(USER_THEN_SCRIPT)
    instance = engine.instances.start("p", variables={"x": 1})
    with engine.db.read() as session:
        task = next(t for t in engine.executor.load(session, instance.id, for_change=False).run.workflow.tasks.values()
                    if t.task_spec.name == "task")
    logger = logging.getLogger("spiff.task")
    assert not logger.isEnabledFor(logging.INFO)
    assert task.collect_log_extras({"elapsed": 1}) == {}
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        extras = task.collect_log_extras({"elapsed": 1})
    finally:
        logger.setLevel(old_level)
    assert extras["task_spec"] == "task" and extras["state"] == "READY" and extras["elapsed"] == 1


def test_a_started_key_takes_its_latest_version_after_a_deletion(engine: Engine, deploy) -> None:
    """Definition rows are kept per process once read: a deleted version is not started from what was kept."""
    first = deploy(USER_THEN_SCRIPT)
    second = deploy(bpmn("<bpmn:startEvent id='s'/><bpmn:userTask id='other'/>" + chain("s", "other")))
    assert engine.instances.start("p").definition_id.startswith("p:2:")  # the second version's row is kept
    engine.definitions.delete_deployment(second.id, cascade=True)
    started = engine.instances.start("p", variables={"x": 1})
    assert started.definition_id.startswith("p:1:")
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=started.id)] == ["task"]
    engine.definitions.delete_deployment(first.id, cascade=True)
    with pytest.raises(NotFound):
        engine.instances.start("p")


@pytest.mark.parametrize("value", [
    [2**70],  # beyond 64 bits (in a Json value: a variable of its own is refused): orjson refuses, the standard
    # library writes it
    {"name": "Zoë ✓", "lines": [1.5, -0.0, 1e300, None, True], "nested": {"deep": [[], {}]}},
    "\u2028 line separator and \x01 control",  # (a NUL is refused as input: PostgreSQL stores none)
    float("nan"),  # no JSON word for it: written by the standard library, the run is loaded again each change
])
def test_runtime_values_come_back_the_same_after_a_reload(sqlite_engine: Engine, value) -> None:
    sqlite_engine.definitions.deploy([("p.bpmn", USER_THEN_SCRIPT)])
    instance = sqlite_engine.instances.start("p", variables={"x": 2, "kept": value})
    sqlite_engine.executor.runs.clear()  # the next change loads the runtime from the database
    with sqlite_engine.db.read() as session:
        loaded = sqlite_engine.executor.load(session, instance.id, for_change=False)
    got = loaded.run.variables()["kept"]
    if isinstance(value, float) and value != value:
        assert got != got
    else:
        assert got == value and type(got) is type(value)
    [task] = sqlite_engine.tasks.list(instance_id=instance.id)
    assert sqlite_engine.tasks.complete(task.id, {})["y"] == 4


def test_wal_is_checkpointed_by_its_own_thread(tmp_path: Path, sqlite_template: Path) -> None:
    target = tmp_path / "wal.db"
    target.write_bytes(sqlite_template.read_bytes())
    eng = Engine(Settings(database_url=f"sqlite:///{target}"), clock=VirtualClock())
    try:
        eng.definitions.deploy([("p.bpmn", USER_THEN_SCRIPT)])
        checkpoints = eng.db._checkpoints
        assert checkpoints is not None
        checkpoints.THRESHOLD_BYTES = 256 * 1024  # type: ignore[misc]  (64 pages: a few instances' worth)
        before = os.path.getsize(target)
        for _ in range(40):
            instance = eng.instances.start("p", variables={"x": 1})
            [task] = eng.tasks.list(instance_id=instance.id)
            eng.tasks.complete(task.id, {})
        # 40 instances write about 1,300 pages, fewer than the 4,000 of SQLite's own checkpoint: the database file
        # grows only by the thread's checkpoints
        deadline = time.monotonic() + 20
        while os.path.getsize(target) == before and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for another thread's work, not for a moment in time
        assert os.path.getsize(target) > before
        assert checkpoints._thread is not None and checkpoints._thread.name == "stageflow-wal-checkpoint"
    finally:
        eng.close()
    assert checkpoints._thread is None  # closing the engine stops it


def test_a_step_is_one_commit_and_the_page_count_bench_reads_the_wal() -> None:
    """`bench/wal_pages.py` (the pages a step writes, by table and index) on a few instances: each instance of the
    flow is two writing transactions (its start, its completion), and the pages are named by their tables."""
    import subprocess
    import sys

    bench = Path(__file__).resolve().parents[2] / "bench" / "wal_pages.py"
    done = subprocess.run([sys.executable, str(bench), "--instances", "20", "--warm", "20"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    first, *rows, cost = done.stdout.splitlines()
    assert first.endswith("pages written per instance in 2.0 commits (20 instances after 20)"), first
    assert cost.startswith("writing one frame here (two pwrite calls): ") and cost.endswith(" µs an instance"), cost
    pages = {line.split()[1]: float(line.split()[0]) for line in rows}
    assert {"process_instance", "human_task", "history_event", "variable"} <= set(pages)
    assert float(first.split()[0]) == pytest.approx(sum(pages.values()), abs=0.1)


def test_the_sqlite_share_bench_replays_every_write_of_the_flow() -> None:
    """`bench/sqlite_share.py` (SQLite's own time in the flow, by replaying the engine's driver calls) on a few
    instances: the replay writes what the engine wrote (every instance completed on each copy), and the engine's
    flow is three transactions an instance, two of them writing."""
    import subprocess
    import sys

    bench = Path(__file__).resolve().parents[2] / "bench" / "sqlite_share.py"
    done = subprocess.run([sys.executable, str(bench), "--instances", "30", "--warm", "10",
                           "--page-sizes", "4096,1024"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    whole, *replays = done.stdout.splitlines()
    assert "(30 instances, 4 KB pages, " in whole and whole.endswith(" driver calls and 3.0 commits an instance)"), whole
    assert [line.split()[2] for line in replays] == ["4096", "1024"]
    for line in replays:
        assert line.endswith("40 instances completed)"), line  # 10 before the recording, 30 replayed
