"""Variables are process variables (Camunda 7): a parallel path sees what another path's task was completed with,
or what a script on another path wrote, also after that path has ended."""

from __future__ import annotations

from engine.api import Engine
from tests.helpers import bpmn, chain, flow

PARALLEL = bpmn("""
    <bpmn:startEvent id="s"/><bpmn:parallelGateway id="split"/>
    <bpmn:userTask id="A"/><bpmn:endEvent id="endA"/>
    <bpmn:userTask id="B"/><bpmn:exclusiveGateway id="g" default="no"/>
    <bpmn:userTask id="C"/><bpmn:endEvent id="endB"/><bpmn:endEvent id="endC"/>
    """ + chain("s", "split") + flow("split", "A") + flow("split", "B") + chain("A", "endA") + chain("B", "g")
    + flow("g", "C", "${creditOk}") + flow("g", "endB", flow_id="no") + chain("C", "endC"), process_id="par")


def _task(engine: Engine, instance_id: str, key: str):  # type: ignore[no-untyped-def]
    [task] = [t for t in engine.tasks.list(instance_id=instance_id) if t.task_definition_key == key]
    return task


def test_a_variable_from_one_branch_reaches_a_gateway_of_the_other_after_its_branch_ended(
        engine: Engine, deploy) -> None:
    deploy(PARALLEL)
    instance = engine.instances.start("par", variables={"x": 5})
    engine.tasks.complete(_task(engine, instance.id, "A").id, {"creditOk": True})  # A's branch ends at endA
    assert engine.instances.variables(instance.id) == {"x": 5, "creditOk": True}
    b = _task(engine, instance.id, "B")
    assert engine.tasks.variables(b.id)["creditOk"] is True
    engine.tasks.complete(b.id, {})
    c = _task(engine, instance.id, "C")  # the gateway took the creditOk path
    engine.tasks.complete(c.id, {})
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.instances.variables(instance.id) == {"x": 5, "creditOk": True}


def test_the_later_completion_wins_on_every_path(engine: Engine, deploy) -> None:
    deploy(PARALLEL)
    instance = engine.instances.start("par", variables={"creditOk": True})
    engine.tasks.complete(_task(engine, instance.id, "A").id, {"creditOk": False, "note": "checked"})
    engine.tasks.complete(_task(engine, instance.id, "B").id, {})
    assert engine.instances.get(instance.id).state == "COMPLETED"  # no C: the gateway read A's False
    assert engine.instances.variables(instance.id) == {"creditOk": False, "note": "checked"}


def test_a_script_in_one_branch_writes_a_variable_the_other_branch_reads(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:parallelGateway id="split"/>
        <bpmn:userTask id="wait_a"/>
        <bpmn:scriptTask id="set_limit"><bpmn:script>limit = 500
checked_by = "script"</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="endA"/>
        <bpmn:userTask id="B"/><bpmn:exclusiveGateway id="g" default="low"/>
        <bpmn:userTask id="high_limit"/><bpmn:endEvent id="endB"/><bpmn:endEvent id="endC"/>
        """ + chain("s", "split") + flow("split", "wait_a") + flow("split", "B") + chain("wait_a", "set_limit", "endA")
        + chain("B", "g") + flow("g", "high_limit", "${limit > 100}") + flow("g", "endB", flow_id="low")
        + chain("high_limit", "endC"), process_id="scripted"))
    instance = engine.instances.start("scripted", variables={"limit": 10})
    engine.tasks.complete(_task(engine, instance.id, "wait_a").id, {})  # branch A runs its script and ends
    b = _task(engine, instance.id, "B")
    assert engine.tasks.variables(b.id)["limit"] == 500
    engine.tasks.complete(b.id, {})
    engine.tasks.complete(_task(engine, instance.id, "high_limit").id, {})
    assert engine.instances.variables(instance.id) == {"limit": 500, "checked_by": "script"}
