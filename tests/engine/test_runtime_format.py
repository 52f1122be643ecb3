"""The runtime Stageflow saves stays in SpiffWorkflow's own format (Stageflow writes tasks with its own, faster
converter)."""

from __future__ import annotations

import json

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG

from engine.api import Engine
from engine.spiff import runtime
from tests.helpers import bpmn, chain, flow


def test_every_saved_task_is_what_spiffworkflows_converter_writes(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>
        <bpmn:userTask id="a"/>
        <bpmn:subProcess id="checks">
          <bpmn:startEvent id="cs"/><bpmn:userTask id="check"/><bpmn:endEvent id="ce"/>
          """ + chain("cs", "check", "ce") + """
        </bpmn:subProcess>
        <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>
          <bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:parallelGateway id="join"/><bpmn:endEvent id="e"/>
        """ + chain("s", "fork") + flow("fork", "a") + flow("fork", "checks") + flow("fork", "wait")
        + flow("a", "join") + flow("checks", "join") + flow("wait", "join") + chain("join", "e")))
    instance = engine.instances.start("p", variables={"order": {"lines": [1, 2], "note": None}, "n": 3})
    [task] = [t for t in engine.tasks.list(instance_id=instance.id) if t.task_definition_key == "a"]
    engine.tasks.complete(task.id, {"approved": True})
    with engine.db.read() as session:
        run = engine.executor.load(session, instance.id, for_change=False).run
    spiffs = BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)
    workflows = [run.workflow, *run.workflow.subprocesses.values()]
    tasks = [t for wf in workflows for t in wf.tasks.values()]
    assert len(workflows) == 2 and any(t.internal_data for t in tasks)  # a subprocess, a timer's value
    for t in tasks:
        assert runtime._REGISTRY.convert(t) == spiffs.convert(t), t.task_spec.name


def test_a_plain_workflows_runtime_is_what_the_registrys_walk_writes(engine: Engine, deploy) -> None:
    """`Run.dump(plain=True)` builds the runtime in one pass; the JSON must be the registry's, value for value."""
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>
        <bpmn:userTask id="a"/><bpmn:userTask id="b"/>
        <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>
          <bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:parallelGateway id="join"/><bpmn:endEvent id="e"/>
        """ + chain("s", "fork") + flow("fork", "a") + flow("fork", "b") + flow("fork", "wait")
        + flow("a", "join") + flow("b", "join") + flow("wait", "join") + chain("join", "e")))
    instance = engine.instances.start("p", variables={"order": {"lines": [1, 2], "note": None}, "n": 3, "x": 1.5})
    [task] = [t for t in engine.tasks.list(instance_id=instance.id) if t.task_definition_key == "a"]
    engine.tasks.complete(task.id, {"approved": True, "removed": None})
    with engine.db.read() as session:
        run = engine.executor.load(session, instance.id, for_change=False).run
    assert run.reusable() and not run.workflow.subprocesses
    tasks = run.workflow.tasks.values()
    assert any(t.internal_data for t in tasks) and any(t.data for t in tasks)  # a timer's value, the variables
    one_pass = json.loads(run.dump(plain=True))
    walked = json.loads(run.dump(plain=False))
    assert one_pass == walked
    assert list(one_pass) == list(walked)  # and the same fields in the same order


def test_the_saves_one_pass_gives_what_dump_and_reusable_give(engine: Engine, deploy) -> None:
    """A save dumps the runtime and finds out whether the live workflow may serve the next change in one pass
    (`Run.dump_for_save`); both answers must be those of `dump` and `reusable`, plain values or not."""
    from datetime import UTC, datetime

    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="a"/><bpmn:userTask id="b"/><bpmn:endEvent id="e"/>
        """ + chain("s", "a", "b", "e")))
    instance = engine.instances.start("p", variables={"order": {"lines": [1, 2]}, "n": 3})
    with engine.db.read() as session:
        run = engine.executor.load(session, instance.id, for_change=False).run
    [task] = [t for t in run.workflow.tasks.values() if t.task_spec.name == "a"]
    for change, plain in ((lambda: None, True),
                          (lambda: task.data.update(due=datetime(2026, 1, 2, tzinfo=UTC)), False),  # in a task's own data
                          (lambda: task.data.update(due=None, pair=(1, 2)), False),  # a tuple comes back a list
                          (lambda: task.data.pop("pair"), True),
                          (lambda: task.internal_data.update(seen={"x"}), False),  # a set, in internal data
                          (lambda: task.internal_data.pop("seen"), True),
                          (lambda: run.workflow.data.update(when=datetime(2026, 1, 2, tzinfo=UTC)), False)):  # the workflow's
        change()
        dumped, reusable = run.dump_for_save()
        assert reusable is plain is run.reusable()
        assert json.loads(dumped) == json.loads(run.dump(plain=plain))
