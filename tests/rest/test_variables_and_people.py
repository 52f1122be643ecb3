"""Task variables (a form saved before it is completed, as Camunda's task list does), removing a variable, and
the identity endpoints a task list reads (`/identity/groups`, `/user`, `/group`), over real HTTP."""

from __future__ import annotations

from engine.api import Engine
from tests.helpers import bpmn, chain
from tests.rest.conftest import Client

REVIEW = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="review" name="Review order" camunda:candidateGroups="sales"/>
    <bpmn:endEvent id="e"/>
    """ + chain("s", "review", "e"), process_id="review_order")


def started(admin: Client, mary: Client) -> tuple[str, str]:
    """Deploy, start one order (amount 100); returns (instance id, task id)."""
    assert admin.post("/deployment/create", files={"upload": ("review.bpmn", REVIEW)}).status_code == 200
    instance = mary.post("/process-definition/key/review_order/start",
                         json={"variables": {"amount": {"value": 100, "type": "Integer"}}}).json()
    task = mary.get("/task", params={"processInstanceId": instance["id"]}).json()[0]
    return instance["id"], task["id"]


def test_a_candidate_saves_the_form_before_completing_the_task(engine: Engine, admin: Client, mary: Client,
                                                               bob: Client) -> None:
    instance_id, task_id = started(admin, mary)
    saved = mary.post(f"/task/{task_id}/variables", json={
        "modifications": {"comment": {"value": "call the client first", "type": "String"},
                          "amount": {"value": 120, "type": "Integer"}}})
    assert saved.status_code == 204, saved.text
    assert mary.get(f"/task/{task_id}/variables/comment").json() == {
        "value": "call the client first", "type": "String", "valueInfo": {}}
    assert mary.put(f"/task/{task_id}/variables/urgent", json={"value": True, "type": "Boolean"}).status_code == 204
    assert mary.delete(f"/task/{task_id}/variables/comment").status_code == 204
    assert mary.get(f"/task/{task_id}/variables/comment").status_code == 404
    values = admin.get(f"/process-instance/{instance_id}/variables").json()
    assert {n: v["value"] for n, v in values.items()} == {"amount": 120, "urgent": True}
    changes = engine.instances.variable_changes(instance_id)
    assert [(c.user_id, c.details["set"], c.details["removed"]) for c in changes] == [
        ("mary", {"comment": "call the client first", "amount": 120}, []), ("mary", {"urgent": True}, []),
        ("mary", {}, ["comment"])]

    # someone outside the task's candidates may neither read nor change its variables
    assert bob.get(f"/task/{task_id}/variables/amount").status_code == 403
    assert bob.post(f"/task/{task_id}/variables", json={"modifications": {}}).status_code == 403
    bad = mary.post(f"/task/{task_id}/variables", json={"modifications": {"amount": {"value": "x", "type": "Integer"}}})
    assert bad.status_code == 400 and "amount" in bad.json()["message"]

    assert mary.post(f"/task/{task_id}/complete", json={}).status_code == 204
    late = mary.put(f"/task/{task_id}/variables/amount", json={"value": 1, "type": "Integer"})
    assert late.status_code == 404 and "completed" in late.json()["message"]


def test_an_admin_removes_one_variable_of_an_instance(admin: Client, mary: Client) -> None:
    instance_id, _ = started(admin, mary)
    assert mary.delete(f"/process-instance/{instance_id}/variables/amount").status_code == 403
    assert admin.delete(f"/process-instance/{instance_id}/variables/amount").status_code == 204
    assert admin.get(f"/process-instance/{instance_id}/variables/amount").status_code == 404
    # once the instance has ended, changing its variables is a 404, as reading them is
    assert admin.delete(f"/process-instance/{instance_id}").status_code == 204
    for response in (admin.post(f"/process-instance/{instance_id}/variables",
                                json={"modifications": {"note": {"value": "x", "type": "String"}}}),
                     admin.put(f"/process-instance/{instance_id}/variables/note", json={"value": "x"}),
                     admin.delete(f"/process-instance/{instance_id}/variables/note"),
                     admin.get(f"/process-instance/{instance_id}/variables")):
        assert response.status_code == 404 and "has ended" in response.json()["message"], response.text


def test_people_read_their_groups_and_colleagues_and_admins_read_everyone(engine: Engine, admin: Client,
                                                                          mary: Client, bob: Client) -> None:
    engine.identity.add_user("sara", "secret-pass-1", ["sales", "loyalty-ops"], first_name="Sara", last_name="Lind")
    mine = mary.get("/identity/groups", params={"userId": "mary"}).json()
    assert mine["groups"] == [{"id": "sales", "name": "sales", "type": None}]
    assert sorted(u["id"] for u in mine["groupUsers"]) == ["mary", "sara"]
    assert next(u for u in mine["groupUsers"] if u["id"] == "sara")["displayName"] == "Sara Lind"
    assert mary.get("/identity/groups", params={"userId": "bob"}).status_code == 403
    assert admin.get("/identity/groups", params={"userId": "bob"}).json()["groups"][0]["id"] == "warehouse"

    assert [u["id"] for u in mary.get("/user").json()] == ["mary", "sara"]
    assert [u["id"] for u in admin.get("/user").json()] == ["admin", "bob", "mary", "sara"]
    assert admin.get("/user", params={"memberOfGroup": "sales"}).json() == [
        {"id": "mary", "firstName": None, "lastName": None, "email": None},
        {"id": "sara", "firstName": "Sara", "lastName": "Lind", "email": None}]
    assert admin.get("/user/count", params={"memberOfGroup": "sales"}).json() == {"count": 2}
    assert mary.get("/user/sara/profile").json()["firstName"] == "Sara"
    assert mary.get("/user/bob/profile").status_code == 404

    assert [g["id"] for g in mary.get("/group").json()] == ["sales"]
    assert [g["id"] for g in admin.get("/group", params={"member": "sara"}).json()] == ["loyalty-ops", "sales"]
    assert admin.get("/group/count").json() == {"count": 4}
    assert mary.get("/group/warehouse").status_code == 404
    assert bob.get("/group/warehouse").json() == {"id": "warehouse", "name": "warehouse", "type": None}


def test_variables_are_queried_across_the_instances_one_may_read(admin: Client, mary: Client, bob: Client) -> None:
    first, _ = started(admin, mary)
    second = mary.post("/process-definition/key/review_order/start", json={"variables": {
        "amount": {"value": 2500, "type": "Integer"}, "region": {"value": "north", "type": "String"}}}).json()["id"]
    # started by an admin: mary reads it too, her group being the candidate of its task
    admin.post("/process-definition/key/review_order/start", json={"variables": {"amount": {"value": 9,
                                                                                           "type": "Integer"}}})

    amounts = mary.get("/variable-instance", params={"variableName": "amount", "sortBy": "variableName",
                                                          "sortOrder": "asc"}).json()
    assert sorted(v["value"] for v in amounts) == [9, 100, 2500]
    one = next(v for v in amounts if v["processInstanceId"] == second)
    assert one["type"] == "Integer" and one["name"] == "amount" and one["processDefinitionId"].startswith("review_order")
    assert mary.get(f"/variable-instance/{one['id']}").json() == one
    assert bob.get("/variable-instance", params={"variableName": "amount"}).json() == []  # warehouse: none of it
    assert bob.get(f"/variable-instance/{one['id']}").status_code == 404

    big = mary.get("/variable-instance", params={"variableValues": "amount_gt_1000"}).json()
    assert [(v["processInstanceId"], v["value"]) for v in big] == [(second, 2500)]
    both = mary.post("/variable-instance", json={"processInstanceIdIn": [first, second],
                                                  "sorting": [{"sortBy": "variableName", "sortOrder": "desc"}]}).json()
    assert [(v["name"], v["value"]) for v in both if v["processInstanceId"] == second] == [
        ("region", "north"), ("amount", 2500)]
    assert mary.post("/variable-instance/count", json={"variableNameLike": "reg%"}).json() == {"count": 1}
    assert mary.get("/variable-instance/count", params={"processInstanceIdIn": f"{first},{second}"}).json() == {
        "count": 3}
    bad = mary.get("/variable-instance", params={"variableValues": "amount_about_3"})
    assert bad.status_code == 400 and "name_operator_value" in bad.json()["message"]

    assert admin.delete(f"/process-instance/{second}").status_code == 204  # ended instances have no runtime variables
    assert mary.get("/variable-instance/count", params={"variableName": "amount"}).json() == {"count": 2}


def test_a_form_encoded_variable_is_refused_and_no_content_has_no_media_type(admin: Client, mary: Client) -> None:
    """A client that sends form fields where JSON is expected gets 415 (Camunda's answer), and nothing is stored:
    the fields were read off as an empty body, which stored a Null variable."""
    instance_id, _ = started(admin, mary)
    refused = admin.put(f"/process-instance/{instance_id}/variables/fx", data={"value": "1"})
    assert refused.status_code == 415, refused.text
    assert refused.json()["type"] and "application/json" in refused.json()["message"]
    assert admin.get(f"/process-instance/{instance_id}/variables/fx").status_code == 404
    # JSON text sent as text/plain, or with no Content-Type: 415 too, saying so (it read as "not valid JSON")
    body = '{"value": 1, "type": "Integer"}'
    for headers in ({"Content-Type": "text/plain"}, {}):
        refused = admin.put(f"/process-instance/{instance_id}/variables/fx", data=body, headers=headers)
        assert refused.status_code == 415 and "Content-Type: application/json" in refused.json()["message"]
    null = admin.put(f"/process-instance/{instance_id}/variables/fx", data="null",
                     headers={"Content-Type": "application/json"})
    assert (null.status_code, null.json()["message"]) == (400, "the request body must be a JSON object, not null")
    done = admin.put(f"/process-instance/{instance_id}/variables/fx", json={"value": 1, "type": "Integer"})
    assert done.status_code == 204 and "Content-Type" not in done.headers
    assert admin.get(f"/process-instance/{instance_id}/variables/fx").json()["value"] == 1


def test_a_multi_instance_tasks_variables_include_camundas_loop_variables(admin: Client) -> None:
    """`/task/{id}/variables` of a parallel multi-instance user task: the element variable and Camunda's
    `loopCounter` (the instance's position) and `nrOfInstances`/`nrOfActiveInstances`/`nrOfCompletedInstances`
    of the activity instance, as they stand when read."""
    from tests.helpers import bpmn, chain

    response = admin.post("/deployment/create", files={"upload": ("mi.bpmn", bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="check" name="Check" camunda:assignee="${reviewer}">
          <bpmn:multiInstanceLoopCharacteristics camunda:collection="${reviewers}"
                                                 camunda:elementVariable="reviewer"/>
        </bpmn:userTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "check", "e"), process_id="mi"))})
    assert response.status_code == 200, response.text
    instance_id = admin.post("/process-definition/key/mi/start", json={"variables": {
        "reviewers": {"value": '["ann","bob","cid"]', "type": "Json"}}}).json()["id"]
    tasks = sorted(admin.get("/task", params={"processInstanceId": instance_id}).json(), key=lambda t: t["assignee"])

    def loop(task: dict) -> tuple:
        values = admin.get(f"/task/{task['id']}/variables").json()
        return tuple(values[n]["value"] for n in ("reviewer", "loopCounter", "nrOfInstances", "nrOfActiveInstances",
                                                  "nrOfCompletedInstances"))

    assert [loop(t) for t in tasks] == [("ann", 0, 3, 3, 0), ("bob", 1, 3, 3, 0), ("cid", 2, 3, 3, 0)]
    assert admin.get(f"/task/{tasks[0]['id']}/variables/loopCounter").json() == {
        "value": 0, "type": "Integer", "valueInfo": {}}
    assert admin.post(f"/task/{tasks[0]['id']}/complete", json={}).status_code == 204
    assert loop(tasks[2]) == ("cid", 2, 3, 2, 1)
    assert "loopCounter" not in admin.get(f"/process-instance/{instance_id}/variables").json()


def test_credentials_are_verified_and_any_method_answers_under_the_default_engine(admin: Client,
                                                                                   mary: Client) -> None:
    """`POST /identity/verify` as Camunda answers it, and `/engine-rest/engine/default/...` (Camunda's named-engine
    prefix) reaching the same methods; another engine name is unknown."""
    from tests.rest.conftest import PASSWORD

    right = mary.post("/identity/verify", json={"username": "bob", "password": PASSWORD})
    assert right.json() == {"authenticatedUser": "bob", "authenticated": True}
    wrong = mary.post("/identity/verify", json={"username": "bob", "password": "nope-nope-1"})
    assert wrong.json() == {"authenticatedUser": None, "authenticated": False}
    assert mary.post("/identity/verify", json={"username": "bob"}).status_code == 400
    named = Client(admin.base + "/engine/default", "admin")
    assert named.get("/process-definition/count").json() == admin.get("/process-definition/count").json()
    assert named.get("/version").json() == admin.get("/version").json()
    assert Client(admin.base + "/engine/other", "admin").get("/task").status_code == 404
