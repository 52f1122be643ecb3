"""`PUT /task/{id}` as Camunda 7 answers it: a client reads a task, changes fields and sends it all back; every
updatable field is replaced (one not sent is cleared), and bad values are a 400 naming them."""

from __future__ import annotations

from tests.rest.conftest import Client
from tests.rest.test_task_delegation import _claimed_by_mary, _quote, john  # noqa: F401  (john: a fixture)


def test_a_task_read_changed_and_sent_back_is_updated(admin: Client, mary: Client) -> None:
    instance, task_id = _claimed_by_mary(admin, mary)
    task = mary.get(f"/task/{task_id}").json()
    task.update(name="Write the quote for ACME", description="Call them first", priority=80,
                due="2026-12-24T17:00:00.000+0100", followUp="2026-12-20T09:00:00.000+0000")
    assert mary.put(f"/task/{task_id}", json=task).status_code == 204
    now = mary.get(f"/task/{task_id}").json()
    assert (now["name"], now["description"], now["priority"]) == ("Write the quote for ACME", "Call them first", 80)
    assert (now["due"], now["followUp"]) == ("2026-12-24T16:00:00.000+0000", "2026-12-20T09:00:00.000+0000")
    assert (now["assignee"], now["owner"], now["delegationState"]) == ("mary", None, None)
    assert (now["id"], now["created"], now["processInstanceId"]) == (task["id"], task["created"], instance)
    listed = admin.get("/task", params={"dueBefore": "2026-12-25T00:00:00.000+0000"}).json()
    assert [t["id"] for t in listed] == [task_id]
    [row] = admin.get("/history/task", params={"taskId": task_id}).json()
    assert (row["name"], row["priority"], row["due"]) == ("Write the quote for ACME", 80, now["due"])


def test_a_field_not_sent_is_cleared_as_camunda_does(admin: Client, mary: Client) -> None:
    _, task_id = _claimed_by_mary(admin, mary)
    assert mary.put(f"/task/{task_id}", json={"name": "Quote", "owner": "boss", "delegationState": "pending"}
                    ).status_code == 204
    now = admin.get(f"/task/{task_id}").json()
    assert (now["name"], now["assignee"], now["owner"], now["delegationState"], now["priority"], now["due"]) == \
        ("Quote", None, "boss", "PENDING", 0, None)


def test_bad_values_are_a_400_naming_them_and_change_nothing(admin: Client, mary: Client) -> None:
    _, task_id = _claimed_by_mary(admin, mary)
    before = admin.get(f"/task/{task_id}").json()
    for bad, words in (({"delegationState": "DONE"}, "'delegationState' are 'PENDING' or 'RESOLVED', but was 'DONE'"),
                       ({"due": "next friday"}, "'next friday' is not an ISO 8601 date"),
                       ({"priority": 2**31}, "'priority' must be a whole number"),
                       ({"priority": "high"}, "priority"),
                       ({"parentTaskId": "t-1"}, "Stageflow has no subtasks"),
                       ({"assignee": "x" * 300}, "'assignee' is too long")):
        response = mary.put(f"/task/{task_id}", json={**before, **bad})
        assert response.status_code == 400, (bad, response.text)
        assert words in response.json()["message"], response.json()
    assert admin.get(f"/task/{task_id}").json() == before


def test_only_those_who_may_work_the_task_update_it(admin: Client, mary: Client, john: Client) -> None:  # noqa: F811
    _, task_id = _quote(admin)
    assert john.put(f"/task/{task_id}", json={"name": "Mine"}).status_code in (403, 404)
    assert admin.put("/task/nope", json={"name": "x"}).status_code == 404
    assert mary.post(f"/task/{task_id}/complete", json={}).status_code == 204
    late = mary.put(f"/task/{task_id}", json={"name": "Late"})  # as a claim of a completed task
    assert late.status_code == 409 and "already completed" in late.json()["message"]


def test_identity_links_offer_a_task_to_more_people_and_take_it_back(admin: Client, mary: Client,
                                                                      john: Client) -> None:  # noqa: F811
    """`POST /task/{id}/identity-links` and `/identity-links/delete`: a candidate group or user added sees the task
    in their list (and may work it); removed, no longer. An assignee or owner link sets that person."""
    _, task_id = _quote(admin)  # offered to sales (mary); john is in finance
    assert john.get("/task", params={"candidateUser": "john"}).json() == []
    assert mary.post(f"/task/{task_id}/identity-links", json={"groupId": "finance", "type": "candidate"}
                     ).status_code == 204
    assert [t["id"] for t in john.get("/task", params={"candidateGroup": "finance"}).json()] == [task_id]
    links = admin.get(f"/task/{task_id}/identity-links", params={"type": "candidate"}).json()
    assert sorted((lk["groupId"] or "") for lk in links) == ["finance", "sales"]
    assert admin.post(f"/task/{task_id}/identity-links", json={"userId": "zoe", "type": "candidate"}
                      ).status_code == 204
    assert [t["id"] for t in admin.get("/task", params={"candidateUser": "zoe"}).json()] == [task_id]
    assert admin.get(f"/task/{task_id}").json()["candidateUsers"] == ["zoe"]
    # john, a candidate now, claims it; his group taken off, he keeps what he claimed
    assert john.post(f"/task/{task_id}/claim", json={"userId": "john"}).status_code == 204
    assert admin.post(f"/task/{task_id}/identity-links/delete", json={"groupId": "finance", "type": "candidate"}
                      ).status_code == 204
    assert admin.get("/task", params={"candidateGroup": "finance", "includeAssignedTasks": "true"}).json() == []
    assert admin.get(f"/task/{task_id}").json()["assignee"] == "john"
    # assignee and owner links
    assert admin.post(f"/task/{task_id}/identity-links", json={"userId": "mary", "type": "assignee"}
                      ).status_code == 204
    assert admin.post(f"/task/{task_id}/identity-links", json={"userId": "boss", "type": "owner"}).status_code == 204
    now = admin.get(f"/task/{task_id}").json()
    assert (now["assignee"], now["owner"]) == ("mary", "boss")
    assert admin.post(f"/task/{task_id}/identity-links/delete", json={"userId": "someone", "type": "assignee"}
                      ).status_code == 204
    assert admin.get(f"/task/{task_id}").json()["assignee"] is None
    for bad, words in (({"userId": "a", "groupId": "b", "type": "candidate"}, "userId or groupId, but not both"),
                       ({"type": "candidate"}, "userId or groupId, but not both"),
                       ({"groupId": "sales", "type": "owner"}, "cannot use type 'owner' together with a groupId"),
                       ({"userId": "a", "type": "watcher"}, "type 'watcher' is not supported"),
                       ({"userId": "a"}, "'type'")):
        response = admin.post(f"/task/{task_id}/identity-links", json=bad)
        assert response.status_code == 400 and words in response.json()["message"], (bad, response.text)


def test_a_tasks_own_variables_shadow_its_instances_and_go_with_it(admin: Client, mary: Client) -> None:
    """Camunda's task-local variables (`/task/{id}/localVariables`, all pycamunda uses for task variables): the
    task's own, seen among its variables over the instance's of the same name, never the instance's, and gone once
    the task is completed."""
    instance, task_id = _claimed_by_mary(admin, mary)
    assert mary.get(f"/task/{task_id}/localVariables").json() == {}
    assert mary.put(f"/task/{task_id}/localVariables/draft", json={"value": "half done", "type": "String"}
                    ).status_code == 204
    assert mary.post(f"/task/{task_id}/localVariables", json={"modifications": {
        "attempt": {"value": 2, "type": "Long"}, "discount": {"value": 5, "type": "Integer"}}}).status_code == 204
    assert admin.post(f"/process-instance/{instance}/variables", json={"modifications": {
        "discount": {"value": 1, "type": "Integer"}}}).status_code == 204  # the instance's
    local = mary.get(f"/task/{task_id}/localVariables").json()
    assert {n: (v["type"], v["value"]) for n, v in local.items()} == {
        "draft": ("String", "half done"), "attempt": ("Long", 2), "discount": ("Integer", 5)}
    assert mary.get(f"/task/{task_id}/localVariables/attempt").json()["type"] == "Long"
    seen = mary.get(f"/task/{task_id}/variables").json()
    assert (seen["draft"]["value"], seen["discount"]["value"]) == ("half done", 5)  # its own over the instance's
    assert mary.get(f"/task/{task_id}/variables/discount").json()["value"] == 5
    instance_vars = admin.get(f"/process-instance/{instance}/variables").json()
    assert "draft" not in instance_vars and instance_vars["discount"]["value"] == 1
    # through the task's variables, a name it holds as its own changes its own, any other the instance's
    assert mary.put(f"/task/{task_id}/variables/attempt", json={"value": 3, "type": "Long"}).status_code == 204
    assert mary.post(f"/task/{task_id}/variables", json={"modifications": {
        "region": {"value": "north", "type": "String"}}}).status_code == 204
    assert mary.get(f"/task/{task_id}/localVariables/attempt").json()["value"] == 3
    instance_vars = admin.get(f"/process-instance/{instance}/variables").json()
    assert "attempt" not in instance_vars and instance_vars["region"]["value"] == "north"
    assert mary.delete(f"/task/{task_id}/variables/attempt").status_code == 204
    assert mary.get(f"/task/{task_id}/localVariables/attempt").status_code == 404
    assert mary.delete(f"/task/{task_id}/localVariables/draft").status_code == 204
    assert mary.get(f"/task/{task_id}/localVariables/draft").status_code == 404
    assert mary.post(f"/task/{task_id}/complete", json={}).status_code == 204
    kept = admin.get("/history/variable-instance", params={"processInstanceId": instance}).json()
    assert "attempt" not in {v["name"] for v in kept}
    assert mary.get(f"/task/{task_id}/localVariables").status_code == 404
