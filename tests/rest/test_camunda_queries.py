"""Camunda's list and count queries over real HTTP: the filters Stageflow supports work, and one it does not
support is a 400 that says so, never ignored (a client acting on the list would otherwise act on everything)."""

from __future__ import annotations

import pytest

from tests.helpers import bpmn, chain, flow
from tests.rest.conftest import Client
from tests.rest.test_rest_api import deploy, start


@pytest.mark.parametrize("path, params", [
    ("/process-instance", {"superProcessInstance": "x"}),
    ("/process-instance", {"subProcessInstance": "x"}),
    ("/process-instance/count", {"incidentType": "failedJob"}),
    ("/task", {"withoutTenantId": "true"}),
    ("/history/process-instance", {"withIncidents": "true"}),
    ("/history/activity-instance", {"canceled": "true"}),
    ("/deployment", {"tenantIdIn": "x"}),
    ("/process-definition", {"startableBy": "mary"}),
    ("/variable-instance", {"processDefinitionIdIn": "x"}),
    ("/job", {"jobDefinitionId": "x"}),
    ("/incident", {"jobDefinitionIdIn": "x"}),
    ("/external-task", {"tenantIdIn": "x"}),
    ("/user", {"firstNameLike": "M%"}),
])
def test_a_filter_stageflow_does_not_support_is_a_400_naming_it(admin: Client, path: str, params: dict) -> None:
    response = admin.get(path, params=params)
    assert response.status_code == 400, response.text
    name = next(iter(params))
    assert response.json()["type"] == "InvalidRequestException"
    assert f"does not support the query parameter '{name}' of {path}" in response.json()["message"]
    assert "supported: " in response.json()["message"]


def test_sorting_needs_both_parameters_and_a_known_field(admin: Client) -> None:
    for params in ({"sortBy": "instanceId"}, {"sortOrder": "desc"}):
        response = admin.get("/process-instance", params=params)
        assert response.status_code == 400
        assert "sortBy and sortOrder required" in response.json()["message"]
    response = admin.get("/process-instance", params={"sortBy": "bogus", "sortOrder": "asc"})
    assert response.status_code == 400 and "'bogus'" in response.json()["message"]
    response = admin.post("/process-instance", json={"sortBy": "businessKey"})
    assert response.status_code == 400


def test_a_post_query_refuses_a_field_it_does_not_support(admin: Client) -> None:
    response = admin.post("/process-instance", json={"superProcessInstance": "x"})
    assert response.status_code == 400
    assert "superProcessInstance" in response.json()["message"]
    assert admin.post("/process-instance/count", json={"subProcessInstance": "x"}).status_code == 400


def test_process_instances_by_ids_business_key_pattern_and_sorted(admin: Client) -> None:
    deploy(admin)
    ids = {key: start(admin, key).json()["id"] for key in ("ORD-1", "ORD-2", "INV-3")}
    listed = admin.get("/process-instance", params={"processInstanceIds": f"{ids['ORD-1']},{ids['INV-3']}"}).json()
    assert {i["id"] for i in listed} == {ids["ORD-1"], ids["INV-3"]}
    assert admin.get("/process-instance", params={"processInstanceIds": "nope"}).json() == []
    assert admin.get("/process-instance/count", params={"businessKeyLike": "ORD-%"}).json() == {"count": 2}
    by_key = admin.get("/process-instance", params={"sortBy": "businessKey", "sortOrder": "desc"}).json()
    assert [i["businessKey"] for i in by_key] == ["ORD-2", "ORD-1", "INV-3"]
    body = {"processInstanceIds": [ids["ORD-2"]], "sorting": [{"sortBy": "businessKey", "sortOrder": "asc"}]}
    assert [i["id"] for i in admin.post("/process-instance", json=body).json()] == [ids["ORD-2"]]
    assert admin.post("/process-instance/count", json={"businessKeyLike": "%-3"}).json() == {"count": 1}


def test_an_unknown_endpoint_says_stageflow_does_not_support_it(admin: Client) -> None:
    response = admin.get("/process-instance/abc/comment")
    assert response.status_code == 404
    assert response.json()["type"] == "NotFoundException"
    assert "Stageflow does not support the endpoint GET /engine-rest/process-instance/abc/comment" in \
        response.json()["message"]
    unknown_id = admin.get("/process-instance/abc")
    assert unknown_id.status_code == 404 and unknown_id.json()["type"] == "InvalidRequestException"
    assert admin.get("/message").status_code == 405
    # a fixed path of another method's route, which a route of this method reads as an id: 405, as Camunda's
    # JAX-RS matches the fixed path first (it was "External task with id fetchAndLock does not exist")
    fetch = admin.get("/external-task/fetchAndLock")
    assert (fetch.status_code, fetch.json()["type"]) == (405, "MethodNotAllowed")
    assert admin.delete("/process-instance/count").status_code == 405
    assert admin.get("/external-task/no-such-task").status_code == 404  # an unknown id stays a 404


def test_tasks_by_id_ids_and_involved_user(admin: Client, mary: Client) -> None:
    deploy(admin)
    for key in ("ORD-1", "ORD-2", "ORD-3"):
        start(admin, key)
    tasks = admin.get("/task", params={"sortBy": "created", "sortOrder": "asc"}).json()
    assert [t["id"] for t in admin.get("/task", params={"taskId": tasks[1]["id"]}).json()] == [tasks[1]["id"]]
    some = admin.get("/task", params={"taskIdIn": f"{tasks[0]['id']},{tasks[2]['id']}"}).json()
    assert {t["id"] for t in some} == {tasks[0]["id"], tasks[2]["id"]}
    assert admin.post("/task/count", json={"taskIdIn": [tasks[0]["id"]]}).json() == {"count": 1}
    assert admin.get("/task", params={"taskIdIn": ","}).status_code == 400
    # the tasks are offered to mary's group: she is involved in none until one is hers
    assert admin.get("/task/count", params={"involvedUser": "mary"}).json() == {"count": 0}
    assert mary.post(f"/task/{tasks[1]['id']}/claim", json={"userId": "mary"}).status_code == 204
    assert [t["id"] for t in admin.get("/task", params={"involvedUser": "mary"}).json()] == [tasks[1]["id"]]
    assert [t["id"] for t in mary.get("/task", params={"involvedUser": "mary"}).json()] == [tasks[1]["id"]]
    assert mary.get("/task", params={"involvedUser": "admin"}).status_code == 400


def test_a_definition_version_outside_a_java_int_or_not_a_number_is_a_400(admin: Client) -> None:
    for version in ("18446744073709551617", "²", "-1", "one"):
        answer = admin.get("/process-definition/count", params={"version": version})
        assert answer.status_code == 400, (version, answer.text)
        assert "'version'" in answer.json()["message"]
    assert admin.get("/process-definition", params={"version": "1"}).status_code == 200


@pytest.mark.parametrize("path, name", [
    ("/task", "processInstanceId"), ("/task/count", "processInstanceBusinessKey"), ("/task", "assignee"),
    ("/process-instance", "processInstanceIds"), ("/process-instance/count", "businessKey"),
    ("/history/process-instance/count", "processInstanceId"), ("/history/task", "processInstanceId"),
    ("/variable-instance/count", "processInstanceIdIn"), ("/history/variable-instance", "processInstanceId"),
    ("/history/process-instance", "startedAfter"),
])
def test_a_text_filter_given_empty_matches_nothing(admin: Client, path: str, name: str) -> None:
    """A script whose id came out empty (`?processInstanceId=$ID`) must not get, and act on, every task."""
    deploy(admin)
    start(admin, "B-1", amount=1)
    start(admin, "B-2", amount=2)
    assert admin.get(path.removesuffix("/count") + "/count").json()["count"] > 0  # there is something to find
    answer = admin.get(path, params={name: ""})
    assert answer.status_code == 200, answer.text
    assert answer.json() == ({"count": 0} if path.endswith("/count") else [])


def test_a_query_body_with_an_empty_text_filter_matches_nothing(admin: Client, mary: Client) -> None:
    deploy(admin)
    start(admin, "B-1")
    assert admin.post("/task/count", json={}).json()["count"] == 1
    assert admin.post("/task/count", json={"processInstanceId": ""}).json() == {"count": 0}
    assert admin.post("/task", json={"processInstanceBusinessKey": ""}).json() == []
    assert admin.post("/variable-instance", json={"variableName": ""}).json() == []
    # a flag or a number given empty is refused, and who may call a list is checked as always
    refused = admin.get("/task", params={"unassigned": ""})
    assert refused.status_code == 400 and "'unassigned' has no value" in refused.json()["message"]
    assert mary.get("/incident", params={"processInstanceId": ""}).status_code == 403


def test_instances_by_definition_keys_and_with_an_incident_and_jobs_by_definition_key(admin: Client) -> None:
    """`processDefinitionKeyIn` and `withIncident` (an open incident) on `/process-instance`, GET and POST;
    `processDefinitionKey` on `/job`."""
    from tests.rest.test_jobs_and_messages import BILLING

    deploy(admin)
    deploy(admin, BILLING, "billing.bpmn")
    order = start(admin, "ORD-1").json()["id"]
    billing = admin.post("/process-definition/key/billing/start", json={"variables": {
        "amount": {"value": 100, "type": "Integer"}, "divisor": {"value": 0, "type": "Integer"}}}).json()["id"]
    listed = admin.get("/process-instance", params={"processDefinitionKeyIn": "order,billing"}).json()
    assert sorted(i["id"] for i in listed) == sorted([order, billing])
    assert [i["id"] for i in admin.get("/process-instance", params={"processDefinitionKeyIn": "billing"}).json()] \
        == [billing]
    [job] = admin.get("/job", params={"processDefinitionKey": "billing"}).json()
    assert job["processInstanceId"] == billing
    assert admin.get("/job/count", params={"processDefinitionKey": "order"}).json() == {"count": 0}
    assert admin.get("/process-instance", params={"withIncident": "true"}).json() == []
    assert admin.put(f"/job/{job['id']}/retries", json={"retries": 0}).status_code == 204  # an incident
    assert [i["id"] for i in admin.get("/process-instance", params={"withIncident": "true"}).json()] == [billing]
    assert admin.post("/process-instance/count", json={"withIncident": True,
                                                       "processDefinitionKeyIn": ["order"]}).json() == {"count": 0}


WAITS = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:parallelGateway id="fork"/>
    <bpmn:userTask id="approve" name="Approve"/>
    <bpmn:boundaryEvent id="too_slow" attachedToRef="approve" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:eventBasedGateway id="choice"/>
    <bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="m_paid"/></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="late"><bpmn:timerEventDefinition><bpmn:timeDuration>P7D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:serviceTask id="pay" camunda:type="external" camunda:topic="charging"/>
    <bpmn:intermediateCatchEvent id="settle"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/><bpmn:endEvent id="e3"/><bpmn:endEvent id="e4"/>
    <bpmn:endEvent id="e5"/><bpmn:endEvent id="e6"/>
    """ + chain("s", "fork") + "".join(flow("fork", t) for t in ("approve", "choice", "pay", "settle"))
    + chain("approve", "e1") + chain("too_slow", "e2") + flow("choice", "paid") + flow("choice", "late")
    + chain("paid", "e3") + chain("late", "e4") + chain("pay", "e5") + chain("settle", "e6"),
    process_id="waits", extra='<bpmn:message id="m_paid" name="paid"/>')


def test_instances_waiting_in_an_activity(admin: Client) -> None:
    """`activityIdIn`: instances waiting in one of these activities (Camunda: a leaf activity instance). A
    boundary event's timer is not an activity until it fires, and an event-based gateway is what waits, not the
    events after it."""
    assert deploy(admin, WAITS, "waits.bpmn").status_code == 200
    deploy(admin)
    waiting = admin.post("/process-definition/key/waits/start", json={}).json()["id"]
    order = start(admin, "ORD-1").json()["id"]  # waits in its own user task only

    def found(ids: str) -> list[str]:
        return sorted(i["id"] for i in admin.get("/process-instance", params={"activityIdIn": ids}).json())

    for activity in ("approve", "choice", "pay", "settle"):
        assert found(activity) == [waiting], activity
    for not_an_activity in ("too_slow", "paid", "late", "fork", "s", "nope"):
        assert found(not_an_activity) == [], not_an_activity
    [order_task] = admin.get("/task", params={"processInstanceId": order}).json()
    assert found(f"nope,{order_task['taskDefinitionKey']}") == [order]
    assert found(f"pay,{order_task['taskDefinitionKey']}") == sorted([waiting, order])
    assert admin.post("/process-instance/count", json={"activityIdIn": ["approve", "late"]}).json() == {"count": 1}
    # a completed task is no longer a wait; every instance is a root and a leaf (no child instances)
    [approve] = admin.get("/task", params={"processInstanceId": waiting, "taskDefinitionKey": "approve"}).json()
    assert admin.post(f"/task/{approve['id']}/complete", json={}).status_code == 204
    assert found("approve") == []
    assert found("choice") == [waiting]
    assert admin.get("/process-instance/count", params={"rootProcessInstances": "true",
                                                        "leafProcessInstances": "true"}).json() == {"count": 2}


def test_variable_instances_by_execution_activity_instance_task_and_definition(admin: Client, mary: Client,
                                                                              bob: Client) -> None:
    """`/variable-instance` filters of Camunda's that were refused: an instance's variables belong to its execution
    and root activity instance (ids: the instance's), a task's own variables to the task (`taskIdIn`); a case,
    batch or tenant matches nothing here. `/history/variable-instance` takes the process definition too."""
    deploy(admin)
    instance = start(admin, "B-1", amount=1).json()
    other = start(admin, "B-2", amount=2).json()
    [task] = admin.get("/task", params={"processInstanceId": instance["id"]}).json()
    assert admin.put(f"/task/{task['id']}/localVariables/note",
                     json={"value": "call back", "type": "String"}).status_code == 204

    def names(path: str = "/variable-instance", **params: str) -> list[tuple[str, str | None, str]]:
        answer = admin.get(path, params=params)
        assert answer.status_code == 200, answer.text
        return sorted((v["name"], v["taskId"], v["processInstanceId"]) for v in answer.json())

    everything = names(processInstanceIdIn=instance["id"])  # the instance's and its open task's own, as Camunda
    assert ("note", task["id"], instance["id"]) in everything and ("note", None, instance["id"]) not in everything
    mine = [v for v in everything if v[1] is None]  # the instance's own
    assert mine and len(mine) == len(everything) - 1
    assert names(executionIdIn=instance["id"]) == everything
    assert names(activityInstanceIdIn=f"{instance['id']},{other['id']}") == sorted(
        mine + names(processInstanceIdIn=other["id"]))
    assert names(taskIdIn=task["id"]) == [("note", task["id"], instance["id"])]
    [note] = admin.get("/variable-instance", params={"taskIdIn": task["id"]}).json()
    assert (note["value"], note["type"], note["activityInstanceId"]) == ("call back", "String",
                                                                         f"{task['taskDefinitionKey']}:{task['id']}")
    assert admin.get("/variable-instance/count", params={"taskIdIn": task["id"]}).json() == {"count": 1}
    assert admin.get(f"/variable-instance/{note['id']}").json()["value"] == "call back"
    found = admin.post("/variable-instance", json={"taskIdIn": [task["id"]], "variableValues": [
        {"name": "note", "operator": "like", "value": "call%"}]}).json()
    assert [v["name"] for v in found] == ["note"]
    assert admin.post("/variable-instance", json={"taskIdIn": [task["id"]], "variableValues": [
        {"name": "note", "operator": "eq", "value": "later"}]}).json() == []
    assert names(taskIdIn=task["id"], processInstanceIdIn=other["id"]) == []
    bad = admin.post("/variable-instance", json={"taskIdIn": [other["id"]], "variableValues": [
        {"name": "note", "operator": "near", "value": "x"}]})  # refused even where no task variable is compared
    assert bad.status_code == 400 and "unknown operator 'near'" in bad.json()["message"]
    for name in ("tenantIdIn", "caseInstanceIdIn", "caseExecutionIdIn", "batchIdIn"):
        assert names(**{name: "x"}) == [], name
        assert admin.post("/variable-instance/count", json={name: ["x"]}).json() == {"count": 0}
    # a task's own variable is found by the activity instance id it reports too, beside its instance's
    activity = note["activityInstanceId"]
    assert names(activityInstanceIdIn=activity) == [("note", task["id"], instance["id"])]
    assert names(activityInstanceIdIn=f"{activity},{instance['id']}") == sorted(
        mine + [("note", task["id"], instance["id"])])
    assert admin.get("/variable-instance/count", params={"activityInstanceIdIn": f"{activity},{instance['id']}"}
                     ).json() == {"count": len(mine) + 1}
    # people see the task variables of the instances they may read (mary: a candidate of the task), no one else
    assert [v["name"] for v in mary.get("/variable-instance", params={"taskIdIn": task["id"]}).json()] == ["note"]
    assert mary.get(f"/variable-instance/{note['id']}").json()["value"] == "call back"
    assert bob.get("/variable-instance", params={"taskIdIn": task["id"]}).json() == []
    assert bob.get("/history/variable-instance", params={"taskIdIn": task["id"]}).json() == []
    for path in (f"/variable-instance/{note['id']}", f"/variable-instance/{instance['id']}:amount",
                 "/variable-instance/a:b", f"/history/variable-instance/{instance['id']}:amount"):
        assert bob.get(path).status_code == 404, path
    # Camunda's sort keys of both endpoints; a value condition needs its operator
    by_instance = admin.get("/history/variable-instance", params={"sortBy": "instanceId", "sortOrder": "desc"}).json()
    assert [v["processInstanceId"] for v in by_instance] == sorted((v["processInstanceId"] for v in by_instance),
                                                                   reverse=True)
    assert admin.get("/variable-instance", params={"sortBy": "tenantId", "sortOrder": "asc"}).status_code == 200
    missing = admin.post("/variable-instance", json={"variableValues": [{"name": "amount", "value": 1}]})
    assert missing.status_code == 400 and "{name, operator, value}" in missing.json()["message"]
    history = names("/history/variable-instance", processDefinitionKey="order")
    assert history == sorted(everything + names(processInstanceIdIn=other["id"]))
    assert names("/history/variable-instance", processDefinitionKey="nothing") == []
    assert names("/history/variable-instance", processDefinitionId=instance["definitionId"],
                 processInstanceId=instance["id"]) == everything
    # a list across instances has the task's variable too, for those who may read its instance
    assert ("note", task["id"], instance["id"]) in names()
    assert admin.get("/variable-instance/count").json() == {"count": len(names())}
    assert "note" not in [v["name"] for v in bob.get("/variable-instance").json()]
    # once the task ends, its variable is gone from the running ones and kept in the history, with its task
    assert admin.post(f"/task/{task['id']}/complete", json={"variables": {}}).status_code == 204
    assert ("note", task["id"], instance["id"]) not in names(processInstanceIdIn=instance["id"])
    kept = admin.get("/history/variable-instance", params={"processInstanceId": instance["id"],
                                                           "variableName": "note"}).json()
    assert [(v["value"], v["taskId"], v["state"]) for v in kept] == [("call back", task["id"], "CREATED")]
    assert admin.get(f"/history/variable-instance/{kept[0]['id']}").json()["value"] == "call back"
    assert admin.get("/history/variable-instance/count", params={"taskIdIn": task["id"]}).json() == {"count": 1}
