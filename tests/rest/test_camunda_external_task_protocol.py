"""External tasks over the REST API as a Camunda 7 worker sees them: the wrong worker's errors in Camunda's
words, and the variables fetchAndLock hands out (`localVariables`, `variables`)."""

from __future__ import annotations

from typing import Any

from tests.helpers import bpmn, chain
from tests.rest.conftest import Client

CHARGE = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:serviceTask id="charge" camunda:type="external" camunda:topic="payments">
      <bpmn:extensionElements><camunda:inputOutput>
        <camunda:inputParameter name="cents">${amount * 100}</camunda:inputParameter>
        <camunda:inputParameter name="currency">EUR</camunda:inputParameter>
      </camunda:inputOutput></bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:serviceTask id="ship" camunda:type="external" camunda:topic="shipping"/>
    <bpmn:endEvent id="e"/>
    """ + chain("s", "charge", "ship", "e"), process_id="billing")


def _setup(admin: Client) -> None:
    response = admin.post("/deployment/create", files={"upload": ("charge.bpmn", CHARGE)},
                          data={"deployment-name": "charge"})
    assert response.status_code == 200, response.text
    started = admin.post("/process-definition/key/billing/start", json={"variables": {
        "amount": {"value": 12, "type": "Integer"}, "customer": {"value": "ACME", "type": "String"}}})
    assert started.status_code == 200, started.text


def _fetch(client: Client, topic: str, worker: str = "w1", **options: Any) -> dict[str, Any]:
    response = client.post("/external-task/fetchAndLock", json={
        "workerId": worker, "maxTasks": 1, "topics": [{"topicName": topic, "lockDuration": 60000, **options}]})
    assert response.status_code == 200, response.text
    [task] = response.json()
    return task


def test_the_wrong_worker_gets_camundas_messages_naming_the_task(admin: Client) -> None:
    _setup(admin)
    task = _fetch(admin, "payments")
    tid = task["id"]
    cases = [
        ("complete", {"workerId": "wx"}, f"External Task {tid} cannot be completed by worker 'wx'. "
                                         "It is locked by worker 'w1'."),
        ("failure", {"workerId": "w9", "errorMessage": "down", "retries": 1, "retryTimeout": 0},
         f"Failure of External Task {tid} cannot be reported by worker 'w9'. It is locked by worker 'w1'."),
        ("extendLock", {"workerId": "other", "newDuration": 1000},
         f"The lock of the External Task {tid} cannot be extended by worker 'other'. It is locked by worker 'w1'."),
        ("bpmnError", {"workerId": "w9", "errorCode": "E1"},
         f"Bpmn error of External Task {tid} cannot be reported by worker 'w9'. It is locked by worker 'w1'."),
    ]
    for action, body, message in cases:
        response = admin.post(f"/external-task/{tid}/{action}", json=body)
        assert response.status_code == 400, action
        assert response.json()["message"] == message
    assert admin.post(f"/external-task/{tid}/unlock").status_code == 204
    response = admin.post(f"/external-task/{tid}/complete", json={"workerId": "wx"})
    assert response.status_code == 400
    assert response.json()["message"] == (f"External Task {tid} cannot be completed by worker 'wx'. "
                                          "It is not locked by any worker.")


def test_fetch_and_lock_with_local_variables_gives_only_the_tasks_own(admin: Client) -> None:
    _setup(admin)
    task = _fetch(admin, "payments", localVariables=True)
    assert task["variables"] == {"cents": {"value": 1200, "type": "Integer", "valueInfo": {}},
                                 "currency": {"value": "EUR", "type": "String", "valueInfo": {}}}
    assert admin.post(f"/external-task/{task['id']}/unlock").status_code == 204
    task = _fetch(admin, "payments", localVariables=True, variables=["currency"])
    assert task["variables"] == {"currency": {"value": "EUR", "type": "String", "valueInfo": {}}}
    assert admin.post(f"/external-task/{task['id']}/complete", json={"workerId": "w1"}).status_code == 204

    ship = _fetch(admin, "shipping", localVariables=True)  # no camunda:inputOutput: no local variables
    assert ship["variables"] == {}


def test_fetch_and_lock_with_variable_names_gives_only_those(admin: Client) -> None:
    _setup(admin)
    task = _fetch(admin, "payments", variables=["customer"])
    assert task["variables"] == {"customer": {"value": "ACME", "type": "String", "valueInfo": {}}}
    assert admin.post(f"/external-task/{task['id']}/unlock").status_code == 204
    every = _fetch(admin, "payments")
    assert {"amount", "customer"} <= set(every["variables"])
