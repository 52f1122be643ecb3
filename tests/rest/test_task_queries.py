"""The task query and one task over the REST API as Camunda 7 answers them: candidateUser with the user's
groups, sorting, nameLike patterns, bad parameters, and ended tasks no longer found."""

from __future__ import annotations

from tests.helpers import bpmn, chain
from tests.rest.conftest import Client

OFFERS = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:parallelGateway id="fork"/>
    <bpmn:userTask id="quote" name="Write quote" camunda:candidateGroups="sales" camunda:priority="10"/>
    <bpmn:userTask id="call" name="Call customer" camunda:candidateUsers="mary" camunda:priority="30"/>
    <bpmn:userTask id="pick" name="Pick goods" camunda:candidateGroups="warehouse" camunda:priority="30"/>
    <bpmn:userTask id="check" name="Check quote" camunda:candidateGroups="sales" camunda:priority="20"/>
    <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/><bpmn:endEvent id="e3"/><bpmn:endEvent id="e4"/>
    """ + chain("s", "fork") + chain("fork", "quote", "e1") + chain("fork", "call", "e2")
    + chain("fork", "pick", "e3") + chain("fork", "check", "e4"),
    process_id="offers")


def _setup(admin: Client) -> str:
    response = admin.post("/deployment/create", files={"upload": ("offers.bpmn", OFFERS)},
                          data={"deployment-name": "offers"})
    assert response.status_code == 200, response.text
    started = admin.post("/process-definition/key/offers/start", json={})
    assert started.status_code == 200, started.text
    return started.json()["id"]


def _names(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [t["name"] for t in response.json()]


def test_candidate_user_includes_the_tasks_offered_to_the_users_groups(admin: Client) -> None:
    _setup(admin)
    assert admin.get("/task/count", params={"candidateUser": "mary"}).json() == {"count": 3}
    assert sorted(_names(admin.get("/task", params={"candidateUser": "mary"}))) == [
        "Call customer", "Check quote", "Write quote"]
    assert _names(admin.get("/task", params={"candidateUser": "bob"})) == ["Pick goods"]
    assert admin.get("/task/count", params={"candidateUser": "nobody"}).json() == {"count": 0}
    assert admin.post("/task/count", json={"candidateUser": "mary"}).json() == {"count": 3}


def test_candidate_user_leaves_out_assigned_tasks_unless_asked(admin: Client, mary: Client) -> None:
    _setup(admin)
    [quote] = mary.get("/task", params={"nameLike": "Write quote"}).json()
    assert mary.post(f"/task/{quote['id']}/claim", json={"userId": "mary"}).status_code == 204
    assert sorted(_names(admin.get("/task", params={"candidateUser": "mary"}))) == ["Call customer", "Check quote"]
    assert sorted(_names(admin.get("/task", params={"candidateUser": "mary", "includeAssignedTasks": "true"}))) == [
        "Call customer", "Check quote", "Write quote"]


def test_candidate_user_and_candidate_group_together_are_refused(admin: Client) -> None:
    _setup(admin)
    response = admin.get("/task", params={"candidateUser": "mary", "candidateGroup": "sales"})
    assert response.status_code == 400
    assert "candidateUser" in response.json()["message"]


def test_sort_by_needs_a_sort_order_and_the_reverse(admin: Client) -> None:
    _setup(admin)
    for params in ({"sortBy": "priority"}, {"sortOrder": "desc"}):
        response = admin.get("/task", params=params)
        assert response.status_code == 400, params
        assert response.json()["type"] == "InvalidRequestException"
        assert "sortBy and sortOrder required" in response.json()["message"]
    assert admin.post("/task", json={"sorting": [{"sortBy": "priority"}]}).status_code == 400
    assert admin.get("/task", params={"sortBy": "bogus", "sortOrder": "asc"}).status_code == 400


def test_every_entry_of_a_sorting_array_is_used_in_order(admin: Client) -> None:
    _setup(admin)
    by_priority_then_name = admin.post("/task", json={"sorting": [{"sortBy": "priority", "sortOrder": "desc"},
                                                                  {"sortBy": "name", "sortOrder": "asc"}]})
    assert _names(by_priority_then_name) == ["Call customer", "Pick goods", "Check quote", "Write quote"]
    then_name_desc = admin.post("/task", json={"sorting": [{"sortBy": "priority", "sortOrder": "desc"},
                                                           {"sortBy": "name", "sortOrder": "desc"}]})
    assert _names(then_name_desc) == ["Pick goods", "Call customer", "Check quote", "Write quote"]
    assert _names(admin.get("/task", params={"sortBy": "name", "sortOrder": "desc"})) == [
        "Write quote", "Pick goods", "Check quote", "Call customer"]


def test_name_like_is_a_like_pattern(admin: Client) -> None:
    _setup(admin)
    assert sorted(_names(admin.get("/task", params={"nameLike": "%quote"}))) == ["Check quote", "Write quote"]
    assert _names(admin.get("/task", params={"nameLike": "Check%"})) == ["Check quote"]
    assert _names(admin.get("/task", params={"nameLike": "quote"})) == []  # no wildcard: the whole name
    assert _names(admin.get("/task", params={"nameLike": "P_ck goods"})) == ["Pick goods"]


def test_a_bad_date_parameter_names_the_parameter_not_a_variable(admin: Client) -> None:
    _setup(admin)
    response = admin.get("/task", params={"dueBefore": "next week"})
    assert response.status_code == 400
    message = response.json()["message"]
    assert "query parameter 'dueBefore'" in message and "variable" not in message


def test_a_completed_or_cancelled_task_is_not_found(admin: Client, mary: Client) -> None:
    instance = _setup(admin)
    [call] = mary.get("/task", params={"nameLike": "Call%"}).json()
    assert mary.get(f"/task/{call['id']}").status_code == 200
    assert mary.post(f"/task/{call['id']}/complete", json={}).status_code == 204
    gone = mary.get(f"/task/{call['id']}")
    assert gone.status_code == 404
    assert call["id"] in gone.json()["message"]

    [check] = mary.get("/task", params={"nameLike": "Check%"}).json()
    assert admin.delete(f"/process-instance/{instance}").status_code == 204
    assert mary.get(f"/task/{check['id']}").status_code == 404


def test_tasks_by_process_variables_names_keys_assignees_business_keys_and_creation(admin: Client, clock) -> None:
    """The task query filters a Camunda integration leans on: `processVariables` (GET `name_op_value,...`, POST a
    list of `{name, operator, value}`), `name`, `processDefinitionKeyIn`, `assigneeIn`,
    `processInstanceBusinessKeyIn`, `createdBefore`/`createdAfter`."""
    _setup(admin)  # no business key, no variables
    first = admin.post("/process-definition/key/offers/start", json={"businessKey": "ORD-7", "variables": {
        "amount": {"value": 1200, "type": "Integer"}, "region": {"value": "north", "type": "String"}}}).json()["id"]
    clock.advance(minutes=5)
    second = admin.post("/process-definition/key/offers/start", json={"businessKey": "ORD-8", "variables": {
        "amount": {"value": 80, "type": "Integer"}, "region": {"value": "south", "type": "String"}}}).json()["id"]

    def instances(**params: str) -> list[str]:
        response = admin.get("/task", params={"taskDefinitionKey": "quote", **params})
        assert response.status_code == 200, response.text
        return sorted(t["processInstanceId"] for t in response.json())

    assert instances(processVariables="amount_gt_1000") == [first]
    assert instances(processVariables="amount_lteq_1200,region_eq_south") == [second]
    assert instances(processVariables="region_like_%th") == sorted([first, second])
    assert instances(processVariables="region_neq_north") == [second]
    assert instances(processVariables="missing_eq_1") == []
    body = {"taskDefinitionKey": "quote", "processVariables": [
        {"name": "amount", "operator": "gteq", "value": 80}, {"name": "region", "operator": "eq", "value": "north"}]}
    assert [t["processInstanceId"] for t in admin.post("/task", json=body).json()] == [first]
    assert admin.post("/task/count", json=body).json() == {"count": 1}

    assert instances(processInstanceBusinessKeyIn="ORD-7,ORD-9") == [first]
    assert admin.get("/task/count", params={"name": "Write quote"}).json() == {"count": 3}
    assert admin.get("/task/count", params={"name": "Write"}).json() == {"count": 0}  # exact, not a pattern
    assert admin.get("/task/count", params={"processDefinitionKeyIn": "offers,other"}).json() == {"count": 12}
    created = admin.get("/task", params={"processInstanceId": second}).json()[0]["created"]
    assert instances(createdBefore=created) != [] and second not in instances(createdBefore=created)
    assert instances(createdAfter=created) == []
    [task] = admin.get("/task", params={"processInstanceId": first, "taskDefinitionKey": "quote"}).json()
    assert admin.post(f"/task/{task['id']}/claim", json={"userId": "mary"}).status_code == 204
    assert [t["id"] for t in admin.get("/task", params={"assigneeIn": "mary,bob"}).json()] == [task["id"]]
    bad = admin.get("/task", params={"processVariables": "amount_between_1"})
    assert bad.status_code == 400 and "processVariables 'amount_between_1'" in bad.json()["message"]


def test_tasks_active_or_suspended_and_with_or_without_candidate_groups(admin: Client) -> None:
    """`active`/`suspended` (the instance's suspension reaches its tasks) and `withCandidateGroups`/
    `withoutCandidateGroups`, each pair refused together; a flag given as false filters nothing."""
    running = _setup(admin)
    paused = admin.post("/process-definition/key/offers/start", json={}).json()["id"]
    assert admin.put(f"/process-instance/{paused}/suspended", json={"suspended": True}).status_code == 204

    def instances(**params: str) -> set[str]:
        response = admin.get("/task", params=params)
        assert response.status_code == 200, response.text
        return {t["processInstanceId"] for t in response.json()}

    assert instances(active="true") == {running} and instances(suspended="true") == {paused}
    assert admin.get("/task/count", params={"active": "true"}).json() == {"count": 4}
    assert admin.get("/task/count", params={"active": "false"}).json() == {"count": 8}
    assert sorted(_names(admin.get("/task", params={"processInstanceId": running, "withoutCandidateGroups": "true"}))) \
        == ["Call customer"]  # offered to mary only
    assert sorted(_names(admin.get("/task", params={"processInstanceId": running, "withCandidateGroups": "true"}))) \
        == ["Check quote", "Pick goods", "Write quote"]
    assert admin.post("/task/count", json={"suspended": True, "withCandidateGroups": True}).json() == {"count": 3}
    for both in ({"active": "true", "suspended": "true"},
                 {"withCandidateGroups": "true", "withoutCandidateGroups": "true"}):
        refused = admin.get("/task", params=both)
        assert refused.status_code == 400 and "cannot set both" in refused.json()["message"]
