"""A person working a user task reports a BPMN error or an escalation over HTTP, as Camunda 7's
`POST /task/{id}/bpmnError` and `/task/{id}/bpmnEscalation` (TaskService.handleBpmnError / handleEscalation): the
catching event of the diagram takes over."""

from __future__ import annotations

import pytest

from engine.api import Engine
from tests.helpers import bpmn
from tests.rest.conftest import PASSWORD, Client

REVIEW = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="review" name="Review the claim" camunda:candidateGroups="sales"/>
    <bpmn:boundaryEvent id="fraud" attachedToRef="review">
      <bpmn:errorEventDefinition errorRef="err_fraud" camunda:errorCodeVariable="code"
                                 camunda:errorMessageVariable="why"/>
    </bpmn:boundaryEvent>
    <bpmn:boundaryEvent id="ask_head" attachedToRef="review" cancelActivity="false">
      <bpmn:escalationEventDefinition escalationRef="esc_head"/>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="investigate" name="Investigate" camunda:candidateGroups="sales"/>
    <bpmn:userTask id="advise" name="Advise on the claim" camunda:candidateGroups="sales"/>
    <bpmn:endEvent id="paid"/><bpmn:endEvent id="closed"/><bpmn:endEvent id="advised"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="paid"/>
    <bpmn:sequenceFlow id="f3" sourceRef="fraud" targetRef="investigate"/>
    <bpmn:sequenceFlow id="f4" sourceRef="investigate" targetRef="closed"/>
    <bpmn:sequenceFlow id="f5" sourceRef="ask_head" targetRef="advise"/>
    <bpmn:sequenceFlow id="f6" sourceRef="advise" targetRef="advised"/>
    """, process_id="claim", extra='<bpmn:error id="err_fraud" errorCode="FRAUD"/>'
                                   '<bpmn:escalation id="esc_head" escalationCode="NEEDS_HEAD"/>')


@pytest.fixture
def claim(admin: Client) -> tuple[str, str]:
    """A running claim and its review task; (instance id, task id)."""
    deployed = admin.post("/deployment/create", files={"upload": ("claim.bpmn", REVIEW)})
    assert deployed.status_code == 200, deployed.text
    started = admin.post("/process-definition/key/claim/start", json={"businessKey": "CL-1"})
    assert started.status_code == 200, started.text
    [task] = admin.get("/task", params={"processInstanceId": started.json()["id"]}).json()
    return started.json()["id"], task["id"]


def _open(client: Client, instance: str) -> list[str]:
    return sorted(t["taskDefinitionKey"] for t in client.get("/task", params={"processInstanceId": instance}).json())


def test_a_bpmn_error_reported_at_a_user_task_is_caught_by_its_boundary_event(admin: Client, mary: Client,
                                                                              claim) -> None:
    instance, task = claim
    answer = mary.post(f"/task/{task}/bpmnError", json={
        "errorCode": "FRAUD", "errorMessage": "the receipt is forged",
        "variables": {"evidence": {"value": "receipt 17", "type": "String"}}})
    assert answer.status_code == 204, answer.text
    assert _open(mary, instance) == ["investigate"]  # the review is gone, the error's path goes on
    values = mary.get(f"/process-instance/{instance}/variables").json()
    assert {n: values[n]["value"] for n in ("code", "why", "evidence")} == {
        "code": "FRAUD", "why": "the receipt is forged", "evidence": "receipt 17"}
    assert mary.get(f"/task/{task}").status_code == 404
    history = admin.get("/history/activity-instance", params={"processInstanceId": instance,
                                                              "activityId": "fraud"}).json()
    assert [h["activityType"] for h in history] == ["boundaryError"]


def test_an_uncaught_bpmn_error_ends_the_tasks_path_as_in_camunda(admin: Client, mary: Client, claim) -> None:
    instance, task = claim
    assert mary.post(f"/task/{task}/bpmnError", json={"errorCode": "NOBODY_CATCHES"}).status_code == 204
    assert admin.get(f"/history/process-instance/{instance}").json()["state"] == "COMPLETED"


def test_a_non_interrupting_escalation_runs_beside_the_task(admin: Client, mary: Client, claim) -> None:
    instance, task = claim
    answer = mary.post(f"/task/{task}/bpmnEscalation", json={
        "escalationCode": "NEEDS_HEAD", "variables": {"question": {"value": "pay 30k?", "type": "String"}}})
    assert answer.status_code == 204, answer.text
    assert _open(mary, instance) == ["advise", "review"]  # the review stays open beside the advice
    assert mary.get(f"/process-instance/{instance}/variables/question").json()["value"] == "pay 30k?"


def test_an_escalation_nothing_catches_is_refused_and_changes_nothing(admin: Client, mary: Client, claim) -> None:
    instance, task = claim
    answer = mary.post(f"/task/{task}/bpmnEscalation", json={
        "escalationCode": "UNKNOWN", "variables": {"question": {"value": "?", "type": "String"}}})
    assert answer.status_code == 400
    assert answer.json()["message"] == ("no escalation boundary event or event subprocess catches escalation "
                                        "'UNKNOWN' reported at element 'review'")
    assert _open(mary, instance) == ["review"]
    assert "question" not in mary.get(f"/process-instance/{instance}/variables").json()


@pytest.mark.parametrize("path, payload, message", [
    ("bpmnError", {"errorMessage": "no code"}, "'errorCode' is a required property"),
    ("bpmnError", {"errorCode": "  "}, "errorCode is empty"),
    ("bpmnError", {"errorCode": "FRAUD", "errorMessage": 5}, "errorMessage: 5 is not of type 'string'"),
    ("bpmnEscalation", {}, "'escalationCode' is a required property"),
    ("bpmnEscalation", {"escalationCode": ""}, "escalationCode is empty"),
    ("bpmnEscalation", {"escalationCode": "NEEDS_HEAD", "variables": {"x": {"value": "a", "type": "Integer"}}},
     "variable 'x'"),
])
def test_a_report_without_its_code_or_with_bad_variables_is_a_400(mary: Client, claim, path, payload,
                                                                   message) -> None:
    instance, task = claim
    answer = mary.post(f"/task/{task}/{path}", json=payload)
    assert answer.status_code == 400 and message in answer.json()["message"], answer.text
    assert _open(mary, instance) == ["review"]


def test_only_who_may_work_the_task_reports_on_it(engine: Engine, server: str, admin: Client, mary: Client,
                                                  claim) -> None:
    instance, task = claim
    engine.identity.add_user("john", PASSWORD, ["finance"])  # not offered the task: it is not his to work
    refused = Client(server, "john").post(f"/task/{task}/bpmnError", json={"errorCode": "FRAUD"})
    assert refused.status_code == 403 and "may not see or work task" in refused.json()["message"]
    engine.identity.add_user("sue", PASSWORD, ["sales"])
    assert mary.post(f"/task/{task}/claim", json={"userId": "mary"}).status_code == 204
    sue = Client(server, "sue")  # a candidate too, but mary has claimed it
    refused = sue.post(f"/task/{task}/bpmnEscalation", json={"escalationCode": "NEEDS_HEAD"})
    assert refused.status_code == 403 and "claimed by mary" in refused.json()["message"]
    assert mary.post("/task/no-such-task/bpmnError", json={"errorCode": "FRAUD"}).status_code == 404
    assert _open(mary, instance) == ["review"]
    assert mary.post(f"/task/{task}/complete", json={}).status_code == 204
    again = mary.post(f"/task/{task}/bpmnError", json={"errorCode": "FRAUD"})
    assert again.status_code in (404, 409), again.text  # the task has ended
