"""Generated forms over the REST API as a Camunda 7 client sees them: submit-form refuses readonly fields and
converts values to the fields' types; form-variables types each field by its form type and adds the task's
other variables."""

from __future__ import annotations

from typing import Any

from tests.helpers import bpmn, chain
from tests.rest.conftest import Client

LEAVE = bpmn("""
    <bpmn:startEvent id="s">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="days" type="long" defaultValue="1"/>
        <camunda:formField id="urgent" type="boolean" defaultValue="false"/>
        <camunda:formField id="firstDay" type="date" defaultValue="04/01/2027"/>
        <camunda:formField id="reason" type="string"/>
        <camunda:formField id="kind" type="enum"><camunda:value id="paid"/><camunda:value id="unpaid"/></camunda:formField>
      </camunda:formData></bpmn:extensionElements>
    </bpmn:startEvent>
    <bpmn:userTask id="approve" name="Approve leave" camunda:candidateGroups="sales">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="days" type="long">
          <camunda:validation><camunda:constraint name="readonly"/></camunda:validation>
        </camunda:formField>
        <camunda:formField id="approved" type="boolean" defaultValue="false"/>
        <camunda:formField id="budget" type="long"/>
        <camunda:formField id="startDate" type="date"/>
        <camunda:formField id="tier" type="enum"><camunda:value id="gold"/><camunda:value id="silver"/></camunda:formField>
        <camunda:formField id="note" type="string"/>
      </camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:userTask id="archive" name="Archive" camunda:candidateGroups="sales"/>
    <bpmn:endEvent id="e"/>
    """ + chain("s", "approve", "archive", "e"), process_id="leave")


def _deploy(admin: Client) -> None:
    response = admin.post("/deployment/create", files={"upload": ("leave.bpmn", LEAVE)},
                          data={"deployment-name": "leave"})
    assert response.status_code == 200, response.text


def _start(client: Client, **variables: dict[str, Any]) -> str:
    response = client.post("/process-definition/key/leave/start", json={"variables": variables})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _task(client: Client, instance_id: str) -> dict[str, Any]:
    [task] = client.get("/task", params={"processInstanceId": instance_id}).json()
    return task


def test_submit_form_refuses_a_value_for_a_readonly_field_and_the_task_stays_open(admin: Client,
                                                                                  mary: Client) -> None:
    _deploy(admin)
    instance = _start(mary, days={"value": 3, "type": "Long"})
    task = _task(mary, instance)
    refused = mary.post(f"/task/{task['id']}/submit-form", json={"variables": {"days": {"value": 99}}})
    assert refused.status_code == 400
    assert refused.json()["type"] == "InvalidRequestException"
    assert "days" in refused.json()["message"] and "read-only" in refused.json()["message"]
    assert mary.get(f"/task/{task['id']}").status_code == 200  # still open
    assert mary.get(f"/task/{task['id']}/variables/days").json()["value"] == 3

    # without the readonly field the form goes through, and the readonly value is kept
    done = mary.post(f"/task/{task['id']}/submit-form", json={"variables": {"approved": {"value": True}}})
    assert done.status_code == 204, done.text
    archive = _task(mary, instance)
    assert archive["taskDefinitionKey"] == "archive"
    assert mary.get(f"/task/{archive['id']}/variables/days").json()["value"] == 3


def test_submit_form_converts_each_value_to_its_fields_type(admin: Client, mary: Client) -> None:
    _deploy(admin)
    instance = _start(mary)
    task = _task(mary, instance)
    done = mary.post(f"/task/{task['id']}/submit-form", json={"variables": {
        "budget": {"value": "25"}, "approved": {"value": "true"}, "startDate": {"value": "04/01/2027"},
        "tier": {"value": "gold"}, "note": {"value": 5}}})
    assert done.status_code == 204, done.text
    values = mary.get(f"/process-instance/{instance}/variables").json()
    assert values["budget"] == {"value": 25, "type": "Long", "valueInfo": {}}  # as Camunda's LongFormType
    assert values["approved"] == {"value": True, "type": "Boolean", "valueInfo": {}}
    assert values["startDate"]["type"] == "Date"
    assert values["startDate"]["value"].startswith("2027-01-04T00:00:00")
    assert values["note"] == {"value": "5", "type": "String", "valueInfo": {}}


def test_submit_form_accepts_iso_dates_and_refuses_a_value_outside_an_enum(admin: Client, mary: Client) -> None:
    _deploy(admin)
    instance = _start(mary)
    task = _task(mary, instance)
    bad = mary.post(f"/task/{task['id']}/submit-form", json={"variables": {"tier": {"value": "bronze"}}})
    assert bad.status_code == 400 and "tier" in bad.json()["message"]
    bad = mary.post(f"/task/{task['id']}/submit-form", json={"variables": {"startDate": {"value": "4.1.2027"}}})
    assert bad.status_code == 400 and "dd/MM/yyyy" in bad.json()["message"]
    done = mary.post(f"/task/{task['id']}/submit-form", json={"variables": {"startDate": {"value": "2027-01-04"}}})
    assert done.status_code == 204, done.text
    values = mary.get(f"/process-instance/{instance}/variables").json()
    assert values["startDate"]["value"].startswith("2027-01-04T00:00:00")


def test_task_form_variables_are_typed_by_the_fields_form_types(admin: Client, mary: Client) -> None:
    _deploy(admin)
    instance = _start(mary, days={"value": 3, "type": "Long"}, requester={"value": "mary", "type": "String"},
                      startDate={"value": "2027-03-05T00:00:00.000+0000", "type": "Date"})
    task = _task(mary, instance)
    answer = mary.get(f"/task/{task['id']}/form-variables")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"days", "approved", "budget", "startDate", "tier", "note", "requester"}
    assert body["days"] == {"value": 3, "type": "Long", "valueInfo": {}}
    assert body["approved"] == {"value": False, "type": "Boolean", "valueInfo": {}}
    assert body["budget"] == {"value": None, "type": "Long", "valueInfo": {}}
    assert body["startDate"] == {"value": "05/03/2027", "type": "String", "valueInfo": {}}
    assert body["tier"] == {"value": None, "type": "String", "valueInfo": {}}
    assert body["note"] == {"value": None, "type": "String", "valueInfo": {}}
    assert body["requester"] == {"value": "mary", "type": "String", "valueInfo": {}}  # then the task's others

    some = mary.get(f"/task/{task['id']}/form-variables", params={"variableNames": "approved,requester"}).json()
    assert some == {"approved": {"value": False, "type": "Boolean", "valueInfo": {}},
                    "requester": {"value": "mary", "type": "String", "valueInfo": {}}}


def test_form_variables_of_a_task_without_a_form_are_all_its_variables(admin: Client, mary: Client) -> None:
    _deploy(admin)
    instance = _start(mary, requester={"value": "mary", "type": "String"})
    task = _task(mary, instance)
    assert mary.post(f"/task/{task['id']}/submit-form", json={"variables": {}}).status_code == 204
    archive = _task(mary, instance)
    body = mary.get(f"/task/{archive['id']}/form-variables").json()
    assert body["requester"] == {"value": "mary", "type": "String", "valueInfo": {}}
    assert body["approved"] == {"value": False, "type": "Boolean", "valueInfo": {}}  # the form's default, set
    assert mary.get(f"/task/{archive['id']}/form-variables", params={"variableNames": "requester"}).json() == {
        "requester": {"value": "mary", "type": "String", "valueInfo": {}}}


def test_start_form_variables_type_the_defaults(admin: Client, mary: Client) -> None:
    _deploy(admin)
    body = mary.get("/process-definition/key/leave/form-variables").json()
    assert body == {
        "days": {"value": 1, "type": "Long", "valueInfo": {}},
        "urgent": {"value": False, "type": "Boolean", "valueInfo": {}},
        "firstDay": {"value": "04/01/2027", "type": "String", "valueInfo": {}},
        "reason": {"value": None, "type": "String", "valueInfo": {}},
        "kind": {"value": None, "type": "String", "valueInfo": {}},
    }
    assert mary.get("/process-definition/key/leave/form-variables", params={"variableNames": "days"}).json() == {
        "days": {"value": 1, "type": "Long", "valueInfo": {}}}


def test_start_submit_form_reads_the_default_date_pattern(admin: Client, mary: Client) -> None:
    _deploy(admin)
    started = mary.post("/process-definition/key/leave/submit-form", json={"variables": {
        "firstDay": {"value": "05/02/2027"}, "days": {"value": 4}}})
    assert started.status_code == 200, started.text
    values = mary.get(f"/process-instance/{started.json()['id']}/variables").json()
    assert values["firstDay"]["type"] == "Date" and values["firstDay"]["value"].startswith("2027-02-05T00:00:00")
    assert values["days"] == {"value": 4, "type": "Long", "valueInfo": {}}
    assert values["urgent"] == {"value": False, "type": "Boolean", "valueInfo": {}}  # the default, converted
