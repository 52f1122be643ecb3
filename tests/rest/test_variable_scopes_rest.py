"""Variables written through the REST API land in the scope Camunda 7 would write them to: a task's variable
endpoints (`PUT /task/{id}/variables/{name}`, `POST /task/{id}/variables`, `DELETE`, `/resolve`) change the
nearest scope around the task that holds the name, and an external task fetched inside a subprocess or a
multi-instance activity gets the variables of its scopes. (Before, the task endpoints wrote the process instance:
a subprocess's input parameter set through its task overwrote the process's variable of that name.)"""

from __future__ import annotations

from engine.api import Engine
from tests.helpers import bpmn, chain
from tests.rest.conftest import Client

SUBPROCESS = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:subProcess id="sub">
      <bpmn:extensionElements><camunda:inputOutput>
        <camunda:inputParameter name="amount">${amount + 1}</camunda:inputParameter>
        <camunda:outputParameter name="subAmount">${amount}</camunda:outputParameter>
      </camunda:inputOutput></bpmn:extensionElements>
      <bpmn:startEvent id="ss"/>
      <bpmn:userTask id="work">
        <bpmn:extensionElements><camunda:inputOutput>
          <camunda:inputParameter name="inp">I</camunda:inputParameter>
          <camunda:outputParameter name="out">${inp}</camunda:outputParameter>
        </camunda:inputOutput></bpmn:extensionElements>
      </bpmn:userTask>
      <bpmn:endEvent id="se"/>
      """ + chain("ss", "work", "se") + """
    </bpmn:subProcess>
    <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "sub", "after", "e"))


def _value(client: Client, path: str) -> dict:
    return {name: v["value"] for name, v in client.get(path).json().items()}


def test_task_variable_endpoints_write_the_nearest_scope_that_holds_the_name(engine: Engine, admin: Client) -> None:
    engine.definitions.deploy([("p.bpmn", SUBPROCESS)])
    instance = engine.instances.start("p", variables={"amount": 100})
    [task] = engine.tasks.list(instance_id=instance.id)
    assert admin.put(f"/task/{task.id}/variables/inp", json={"value": "X", "type": "String"}).status_code == 204
    assert admin.post(f"/task/{task.id}/variables", json={"modifications": {
        "amount": {"value": 555, "type": "Integer"}, "note": {"value": "n", "type": "String"}}}).status_code == 204
    seen = _value(admin, f"/task/{task.id}/variables")
    assert (seen["inp"], seen["amount"], seen["note"]) == ("X", 555, "n")
    # the process keeps its own amount; a name no scope holds is the process's
    assert _value(admin, f"/process-instance/{instance.id}/variables") == {"amount": 100, "note": "n"}
    assert admin.delete(f"/task/{task.id}/variables/inp").status_code == 204
    assert "inp" not in _value(admin, f"/task/{task.id}/variables")
    # no scope holds inp now: set again, it is the process's (Camunda's setVariable goes to the highest scope)
    assert admin.put(f"/task/{task.id}/variables/inp", json={"value": "Y", "type": "String"}).status_code == 204
    assert admin.post(f"/task/{task.id}/complete", json={}).status_code == 204
    # the output parameters read the values the task saw: inp, and the subprocess's amount
    assert _value(admin, f"/process-instance/{instance.id}/variables") == {
        "amount": 100, "note": "n", "inp": "Y", "out": "Y", "subAmount": 555}


def test_an_output_parameter_inside_a_subprocess_is_seen_by_a_parallel_branch_at_once(engine: Engine,
                                                                                      admin: Client) -> None:
    engine.definitions.deploy([("p.bpmn", bpmn("""
        <bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>
        <bpmn:subProcess id="sub">
          <bpmn:startEvent id="ss"/>
          <bpmn:userTask id="decide">
            <bpmn:extensionElements><camunda:inputOutput>
              <camunda:outputParameter name="out">${decision}</camunda:outputParameter>
            </camunda:inputOutput></bpmn:extensionElements>
          </bpmn:userTask>
          <bpmn:userTask id="more"/><bpmn:endEvent id="se"/>
          """ + chain("ss", "decide", "more", "se") + """
        </bpmn:subProcess>
        <bpmn:userTask id="other"/><bpmn:parallelGateway id="join"/><bpmn:endEvent id="e"/>"""
        + chain("s", "fork", "sub", "join", "e") + chain("fork", "other", "join")))])
    instance = engine.instances.start("p")
    decide = next(t for t in engine.tasks.list(instance_id=instance.id) if t.task_definition_key == "decide")
    assert admin.post(f"/task/{decide.id}/complete", json={"variables": {
        "decision": {"value": "yes", "type": "String"}}}).status_code == 204
    other = next(t for t in engine.tasks.list(instance_id=instance.id) if t.task_definition_key == "other")
    assert _value(admin, f"/task/{other.id}/variables")["out"] == "yes"
    assert _value(admin, f"/process-instance/{instance.id}/variables") == {"decision": "yes", "out": "yes"}


def test_an_external_task_in_a_multi_instance_subprocess_is_fetched_with_its_scope_variables(
        engine: Engine, admin: Client) -> None:
    engine.definitions.deploy([("p.bpmn", bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="sub">
          <bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="${items}"
                                                 camunda:elementVariable="item"/>
          <bpmn:startEvent id="ss"/>
          <bpmn:serviceTask id="pack" camunda:type="external" camunda:topic="pack">
            <bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="${boxes}"
                                                   camunda:elementVariable="box"/>
          </bpmn:serviceTask>
          <bpmn:endEvent id="se"/>
          """ + chain("ss", "pack", "se") + """
        </bpmn:subProcess>
        <bpmn:endEvent id="e"/>""" + chain("s", "sub", "e")))])
    engine.instances.start("p", variables={"items": ["apple", "pear"], "boxes": ["small"]})

    def fetch(**topic: object) -> dict:
        [locked] = admin.post("/external-task/fetchAndLock", json={"workerId": "w", "maxTasks": 1, "topics": [
            {"topicName": "pack", "lockDuration": 10000, **topic}]}).json()
        return locked

    locked = fetch()
    seen = {name: v["value"] for name, v in locked["variables"].items()}
    assert (seen["item"], seen["box"], seen["loopCounter"], seen["nrOfInstances"]) == ("apple", "small", 0, 1)
    admin.post(f"/external-task/{locked['id']}/unlock")
    local = {name: v["value"] for name, v in fetch(localVariables=True)["variables"].items()}
    assert local == {"box": "small", "loopCounter": 0}


def test_a_task_may_replace_the_collection_of_its_multi_instance_activity(engine: Engine, admin: Client) -> None:
    """As in Camunda: the collection is a process variable; a sequential activity reads each next item from it."""
    engine.definitions.deploy([("p.bpmn", bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="work" camunda:assignee="${item}">
          <bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="${items}"
                                                 camunda:elementVariable="item"/>
        </bpmn:userTask>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "work", "after", "e")))])
    instance = engine.instances.start("p", variables={"items": ["ann", "bob"]})
    [first] = engine.tasks.list(instance_id=instance.id)
    assert admin.post(f"/task/{first.id}/complete", json={"variables": {
        "items": {"value": '["ann", "cy"]', "type": "Json"}}}).status_code == 204
    [second] = engine.tasks.list(instance_id=instance.id)
    assert second.assignee == "cy"
    admin.post(f"/task/{second.id}/complete", json={})
    assert engine.instances.variables(instance.id)["items"] == ["ann", "cy"]
