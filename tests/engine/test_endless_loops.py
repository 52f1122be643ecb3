"""A change that loops without reaching a wait state fails with a clear error instead of never returning; and
looping inclusive gateways join as in Camunda 7 (InclusiveGatewayTest.testLoopingInclusiveGateways)."""

from __future__ import annotations

import pytest
import requests

from engine.api import Engine
from engine.errors import ScriptError
from engine.spiff import runtime
from tests.helpers import bpmn, chain, flow, serving
from web.app import create_app

# After the user task 'review', an exclusive gateway cycle through a script task with no way out.
ENDLESS = bpmn("""
    <bpmn:startEvent id="s"/><bpmn:userTask id="review"/>
    <bpmn:scriptTask id="count"><bpmn:script>rounds = rounds + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="again" default="f_back"/><bpmn:endEvent id="e"/>
    """ + chain("s", "review", "count", "again") + flow("again", "e", "${rounds < 0}")
    + flow("again", "count", flow_id="f_back"))


def _keys(engine: Engine, instance_id: str) -> list[str]:
    return sorted(t.task_definition_key for t in engine.tasks.list(instance_id=instance_id))


def test_a_loop_without_wait_state_fails_the_change_and_keeps_the_last_wait_state(engine: Engine, deploy) -> None:
    deploy(ENDLESS)
    instance = engine.instances.start("p", variables={"rounds": 0})
    [task] = engine.tasks.list(instance_id=instance.id)
    with pytest.raises(ScriptError) as caught:
        engine.tasks.complete(task.id, {})
    err = caught.value
    assert err.status == 400
    assert err.instance_id == instance.id and err.element_id in ("count", "again")
    assert "loops without a wait state" in str(err) and instance.id in str(err)
    # the change is rolled back: the instance still waits at 'review', with its variables as before
    assert _keys(engine, instance.id) == ["review"]
    assert engine.instances.variables(instance.id)["rounds"] == 0
    assert engine.instances.get(instance.id).state == "ACTIVE"


def test_the_step_bound_stops_a_loop(engine: Engine, deploy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "STEP_LIMIT", 100)
    deploy(ENDLESS)
    instance = engine.instances.start("p", variables={"rounds": 0})
    [task] = engine.tasks.list(instance_id=instance.id)
    with pytest.raises(ScriptError, match="after 100 engine steps"):
        engine.tasks.complete(task.id, {})
    assert _keys(engine, instance.id) == ["review"]


def test_over_rest_the_loop_is_a_400_naming_the_element(engine: Engine, deploy,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "STEP_LIMIT", 100)
    deploy(ENDLESS)
    engine.identity.add_user("admin", "secret-pass-1", ["admins"])
    instance = engine.instances.start("p", variables={"rounds": 0})
    [task] = engine.tasks.list(instance_id=instance.id)
    with serving(create_app(engine=engine)) as url:
        answer = requests.post(f"{url}/engine-rest/task/{task.id}/complete", json={},
                               auth=("admin", "secret-pass-1"), timeout=30)
    assert answer.status_code == 400
    body = answer.json()
    assert "loops without a wait state" in body["message"] and instance.id in body["message"]
    assert _keys(engine, instance.id) == ["review"]


def test_a_loop_after_a_timer_becomes_an_incident(engine: Engine, deploy, clock,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "STEP_LIMIT", 100)
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:scriptTask id="count"><bpmn:script>rounds = rounds + 1</bpmn:script></bpmn:scriptTask>
        <bpmn:exclusiveGateway id="again" default="f_back"/><bpmn:endEvent id="e"/>
        """ + chain("s", "wait", "count", "again") + flow("again", "e", "${rounds < 0}")
        + flow("again", "count", flow_id="f_back")))
    instance = engine.instances.start("p", variables={"rounds": 0})
    clock.advance(hours=1, seconds=1)
    for _ in range(5):
        engine.jobs.execute_due()
        if engine.jobs.incidents(instance_id=instance.id):
            break
        clock.advance(minutes=10)
    [incident] = engine.jobs.incidents(instance_id=instance.id)
    assert "loops without a wait state" in incident["incidentMessage"]
    assert engine.instances.variables(instance.id)["rounds"] == 0  # every try was rolled back
    assert engine.instances.get(instance.id).state == "ACTIVE"


# Camunda's InclusiveGatewayTest.testLoopingInclusiveGateways: five inclusive gateways in a cycle, two user tasks.
LOOPING_INCLUSIVE = bpmn("""
    <bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>
    <bpmn:inclusiveGateway id="gw1"/><bpmn:inclusiveGateway id="gw2"/><bpmn:inclusiveGateway id="gw3"/>
    <bpmn:inclusiveGateway id="gw4"/><bpmn:inclusiveGateway id="gw5"/>
    <bpmn:userTask id="task1"/><bpmn:userTask id="task2"/>
    """ + chain("s", "gw1", "gw2", "gw3", "gw4", "gw5", "e") + flow("gw5", "gw1") + chain("gw1", "task1", "gw4")
    + chain("gw2", "task2", "gw3"))


def test_looping_inclusive_gateways_wait_for_the_tokens_that_can_reach_them(engine: Engine, deploy) -> None:
    deploy(LOOPING_INCLUSIVE)
    instance = engine.instances.start("p")
    assert _keys(engine, instance.id) == ["task1", "task2"]  # gw3 waits for task2 (Camunda's assertion)

    def complete(key: str) -> None:
        task = next(t for t in engine.tasks.list(instance_id=instance.id) if t.task_definition_key == key)
        engine.tasks.complete(task.id, {})

    complete("task1")  # gw4 waits: the token at gw3 and task2 can still reach it
    assert _keys(engine, instance.id) == ["task2"]
    complete("task2")  # gw3 then gw4 fire; gw5 ends one token and loops the other back to gw1
    assert _keys(engine, instance.id) == ["task1", "task2"]
    complete("task2")  # gw3 fires; gw4 waits for task1
    assert _keys(engine, instance.id) == ["task1"]
    complete("task1")
    assert _keys(engine, instance.id) == ["task1", "task2"]
    assert engine.instances.get(instance.id).state == "ACTIVE"
