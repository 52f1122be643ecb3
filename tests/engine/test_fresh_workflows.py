"""A new instance's workflow is copied from one prepared per process (`engine/spiff/fresh.py`): the copy must be what
SpiffWorkflow's constructor builds, task for task, for every kind of process the engine deploys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from engine.api import Engine
from engine.errors import StageflowError
from engine.spiff.fresh import new_workflow
from tests.definitions.test_miwg_corpus import MIWG, all_executable
from tests.helpers import bpmn, chain

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "bpmn" / "camunda7-engine"


def _files() -> list[Path]:
    shipped = sorted((ROOT / "processes").glob("*.bpmn")) + sorted((ROOT / "examples").glob("*.bpmn"))
    corpus = sorted(p for p in CORPUS.rglob("*") if p.name.endswith((".bpmn", ".bpmn20.xml")))[::12]  # 96 files
    return shipped + sorted(p for p in MIWG.iterdir() if p.name.endswith(".bpmn")) + corpus


def _shape(workflow: BpmnWorkflow) -> dict[str, Any]:
    """Everything of a new workflow but its ids and the moment it was made."""
    tasks = list(workflow.tasks.values())
    index = {task.id: i for i, task in enumerate(tasks)}
    changes = sorted(range(len(tasks)), key=lambda i: tasks[i].last_state_change)
    return {
        "workflow": sorted(workflow.__dict__),
        "data": workflow.data, "completed": workflow.completed, "success": workflow.success,
        "last_task": index.get(workflow.last_task.id) if workflow.last_task is not None else None,
        "root": index[workflow.task_tree.id],
        "tasks": [(type(t), t.task_spec, t._state, index.get(t._parent), [index[c] for c in t._children],
                   t.triggered, t.thread_id, t.data, t.internal_data, sorted(t.__dict__)) for t in tasks],
        "order of changes": changes,
        "subprocesses": workflow.subprocesses, "events": workflow.bpmn_events, "waiting": workflow.event_manager.tasks,
    }


def test_a_copied_workflow_is_what_spiffworkflows_constructor_builds(sqlite_engine: Engine) -> None:
    engine = sqlite_engine
    compared = 0
    for path in _files():
        try:
            deployment = engine.definitions.deploy([(path.name, all_executable(path.read_bytes()))])
        except StageflowError:
            continue  # refused at deploy (the corpus's tests say why): nothing to start
        for definition in deployment.definitions:
            with engine.db.read() as session:
                compiled = engine.definitions.compiled(session, definition.id, None)
            script_engine = object()
            built = BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=script_engine)
            first, second = new_workflow(compiled, script_engine), new_workflow(compiled, script_engine)
            assert _shape(first) == _shape(built), f"{path.name}: {definition.key}"
            assert _shape(second) == _shape(built), f"{path.name}: {definition.key}"
            assert first.script_engine is script_engine and first.task_tree.workflow is first
            assert all(task.workflow is first for task in first.tasks.values())
            # nothing shared between two instances: their own ids, task objects, data and containers
            assert not first.tasks.keys() & second.tasks.keys()
            assert first.task_tree.data is not second.task_tree.data and first.data is not second.data
            assert first.event_manager is not second.event_manager and first.subprocesses is not second.subprocesses
            # the called processes' specs: the compiled process's own dict where it has some, as the constructor
            # does, else a dict of the instance's own
            assert ((first.subprocess_specs is compiled.subprocess_specs)
                    == (built.subprocess_specs is compiled.subprocess_specs))
            assert first.subprocess_specs is not second.subprocess_specs or bool(compiled.subprocess_specs)
            first.task_tree.data["x"] = 1
            assert "x" not in second.task_tree.data
            compared += 1
    assert compared > 60


def test_instances_started_one_after_another_keep_their_own_variables(engine: Engine, deploy) -> None:
    deploy(bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="t"/><bpmn:endEvent id="e"/>' + chain("s", "t", "e")))
    first = engine.instances.start("p", variables={"x": 21})
    second = engine.instances.start("p", variables={"y": 2})
    assert engine.instances.variables(first.id) == {"x": 21}
    assert engine.instances.variables(second.id) == {"y": 2}
    [task] = engine.tasks.list(instance_id=second.id)
    engine.tasks.complete(task.id, {"z": 3})
    assert engine.instances.variables(first.id) == {"x": 21}
