"""The Camunda-compatible REST API over real HTTP: deploy, start, tasks, messages, external tasks, jobs, errors."""

from __future__ import annotations

from engine.api import Engine
from tests.helpers import bpmn, chain
from tests.rest.conftest import Client

ORDER = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="review" name="Review order" camunda:candidateGroups="sales"/>
    <bpmn:serviceTask id="charge" camunda:type="external" camunda:topic="payments"/>
    <bpmn:receiveTask id="delivered" messageRef="msg_delivered"/>
    <bpmn:intermediateCatchEvent id="cool_off"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="e"/>
    """ + chain("s", "review", "charge", "delivered", "cool_off", "e"),
    process_id="order", extra='<bpmn:message id="msg_delivered" name="delivered"/>')


def deploy(client: Client, content: bytes = ORDER, name: str = "order.bpmn", **fields: str):  # type: ignore[no-untyped-def]
    return client.post("/deployment/create", files={"upload": (name, content)},
                       data={"deployment-name": "test", **fields})


def start(client: Client, business_key: str = "B-1", **variables):  # type: ignore[no-untyped-def]
    typed = {k: {"value": v, "type": "Integer" if isinstance(v, int) else "String"} for k, v in variables.items()}
    return client.post("/process-definition/key/order/start", json={"businessKey": business_key,
                                                                     "variables": typed})


def test_without_credentials_every_call_but_version_is_401(anonymous: Client) -> None:
    assert anonymous.get("/version").status_code == 200
    response = anonymous.get("/process-definition")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.json()["type"] == "AuthenticationException"
    wrong = Client(anonymous.base, "mary")
    wrong.session.auth = ("mary", "not-her-password")
    assert wrong.get("/task").status_code == 401


def test_a_bearer_token_works_like_the_password(engine: Engine, server: str) -> None:
    token = engine.identity.create_token("mary", "ci")
    client = Client(server, None)
    client.session.headers["Authorization"] = f"Bearer {token}"
    assert client.get("/task").status_code == 200
    engine.identity.revoke_token(token)
    assert client.get("/task").status_code == 401


def test_deploy_start_work_and_finish_an_order(admin: Client, mary: Client, engine: Engine, clock) -> None:
    response = deploy(admin)
    assert response.status_code == 200, response.text
    deployed = response.json()
    [definition] = deployed["deployedProcessDefinitions"].values()
    assert (definition["key"], definition["version"]) == ("order", 1)
    assert deploy(admin, **{"enable-duplicate-filtering": "true"}).status_code == 200
    assert [d["version"] for d in admin.get("/process-definition", params={"key": "order"}).json()] == [1]
    deploy(admin)  # without filtering, Camunda (and Stageflow) make a new version of the same content
    assert [d["version"] for d in admin.get("/process-definition", params={"key": "order"}).json()] == [2, 1]

    started = start(mary, "B-1", amount=1200)
    assert started.status_code == 200, started.text
    instance = started.json()
    assert (instance["businessKey"], instance["ended"], instance["suspended"]) == ("B-1", False, False)

    [task] = mary.get("/task", params={"candidateGroup": "sales"}).json()
    assert (task["taskDefinitionKey"], task["name"], task["assignee"]) == ("review", "Review order", None)
    assert mary.post(f"/task/{task['id']}/claim", json={"userId": "mary"}).status_code == 204
    assert mary.get("/task", params={"assignee": "mary"}).json()[0]["id"] == task["id"]
    done = mary.post(f"/task/{task['id']}/complete",
                     json={"variables": {"approved": {"value": True, "type": "Boolean"}},
                           "withVariablesInReturn": True})
    assert done.status_code == 200 and done.json()["approved"] == {"value": True, "type": "Boolean",
                                                                    "valueInfo": {}}
    again = mary.post(f"/task/{task['id']}/complete", json={})
    assert again.status_code == 409 and "already completed" in again.json()["message"]

    [locked] = mary.post("/external-task/fetchAndLock", json={
        "workerId": "psp", "maxTasks": 5, "topics": [{"topicName": "payments", "lockDuration": 10000,
                                                      "variables": ["amount"]}]}).json()
    assert locked["variables"] == {"amount": {"value": 1200, "type": "Integer", "valueInfo": {}}}
    assert mary.post(f"/external-task/{locked['id']}/complete",
                     json={"workerId": "psp", "variables": {"paid": {"value": True}}}).status_code == 204

    correlated = mary.post("/message", json={"messageName": "delivered", "businessKey": "B-1",
                                             "resultEnabled": True})
    assert correlated.status_code == 200 and correlated.json()[0]["resultType"] == "Execution"
    [job] = admin.get("/job", params={"processInstanceId": instance["id"]}).json()
    assert job["activityId"] == "cool_off"
    clock.advance(hours=1)
    engine.jobs.execute_due()
    assert admin.get(f"/history/process-instance/{instance['id']}").json()["state"] == "COMPLETED"
    activities = [a["activityId"] for a in admin.get("/history/activity-instance",
                                                      params={"processInstanceId": instance["id"]}).json()]
    assert activities == ["s", "review", "charge", "delivered", "cool_off", "e"]
    assert [t["assignee"] for t in admin.get("/history/task",
                                             params={"processInstanceId": instance["id"]}).json()] == ["mary"]


def test_a_person_sees_only_their_and_their_groups_tasks(admin: Client, mary: Client, bob: Client) -> None:
    deploy(admin)
    start(mary)
    [task] = mary.get("/task").json()
    assert bob.get("/task").json() == []
    assert bob.get("/task/count").json() == {"count": 0}
    assert admin.get("/task/count").json() == {"count": 1}
    for call in (bob.get(f"/task/{task['id']}"), bob.post(f"/task/{task['id']}/claim", json={"userId": "bob"}),
                 bob.post(f"/task/{task['id']}/complete", json={})):
        assert call.status_code == 403
        assert call.json()["type"] == "AuthorizationException"
    assert mary.post("/deployment/create", files={"f": ("x.bpmn", ORDER)}).status_code == 403


def test_an_instance_is_read_by_those_involved_in_it_and_by_admins_only(admin: Client, mary: Client, bob: Client,
                                                                        engine: Engine) -> None:
    deploy(admin)
    by_admin = start(admin, "B-7", secret=1).json()["id"]  # a task for sales: mary is a candidate
    engine.identity.add_user("walt", "secret-pass-1", ["warehouse"])
    walt = Client(mary.base, "walt")
    by_walt = start(walt, "B-8").json()["id"]  # bob's colleague started it: his, not bob's
    for path in (f"/process-instance/{by_admin}", f"/process-instance/{by_admin}/variables",
                 f"/history/process-instance/{by_admin}", f"/history/activity-instance?processInstanceId={by_admin}"):
        assert mary.get(path).status_code == 200, path
        assert bob.get(path).status_code == 404, path
        assert admin.get(path).status_code == 200, path
    # mary is a candidate of both instances' tasks; walt (warehouse) only started his
    assert sorted(i["id"] for i in mary.get("/process-instance").json()) == sorted([by_admin, by_walt])
    assert [i["id"] for i in walt.get("/process-instance").json()] == [by_walt]
    assert walt.get(f"/process-instance/{by_admin}").status_code == 404
    assert bob.get("/process-instance").json() == [] and bob.get("/process-instance/count").json() == {"count": 0}
    assert sorted(i["id"] for i in admin.get("/history/process-instance").json()) == sorted([by_admin, by_walt])
    assert {t["processInstanceId"] for t in mary.get("/history/task").json()} == {by_admin, by_walt}
    assert {t["processInstanceId"] for t in walt.get("/history/task").json()} == {by_walt}
    assert bob.get("/history/task").json() == [] and bob.get("/history/process-instance").json() == []


def test_bad_input_is_a_400_naming_the_problem(admin: Client) -> None:
    deploy(admin)
    wrong_type = admin.post("/process-definition/key/order/start",
                            json={"variables": {"amount": {"value": "lots", "type": "Integer"}}})
    assert wrong_type.status_code == 400
    assert "amount" in wrong_type.json()["message"]
    untyped = admin.post("/process-definition/key/order/start", json={"variables": {"client": "ACME"}})
    assert untyped.status_code == 400
    assert untyped.json()["message"] == ('variables.client: "ACME" is not of type \'object\' (a variable is an '
                                         'object such as {"value": 1200, "type": "Integer"})')
    misspelt = admin.post("/process-definition/key/order/start",
                          json={"variables": {"client": {"value": "ACME", "type": "Strin"}}})
    assert (misspelt.status_code, misspelt.json()["message"]) == (400, (
        'variables.client.type: "Strin" is not a variable type Stageflow knows: use one of String, Boolean, Integer, '
        "Short, Long, Double, Date, Json, Object, Null (the first letter in either case)"))
    long_text = admin.post("/process-definition/key/order/start",
                           json={"variables": {"n": {"value": "x", "type": "Long"}}})
    assert long_text.json()["message"] == "variable 'n': value 'x' is not a Long"
    broken = deploy(admin, b"<bpmn:definitions", name="broken.bpmn")
    assert broken.status_code == 400 and "broken.bpmn" in broken.json()["message"]
    assert admin.get("/process-definition/key/nope").status_code == 404
    assert admin.get("/no/such/route").status_code == 404
    assert admin.get("/no/such/route").headers["Content-Type"].startswith("application/json")
    not_json = admin.post("/message", data="{{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    assert admin.post("/message", json={"messageName": "nobody-waits"}).status_code == 400


def test_an_idempotency_key_returns_the_first_instance_again(admin: Client) -> None:
    deploy(admin)
    headers = {"Idempotency-Key": "order-form-42"}
    body = {"businessKey": "B-42", "variables": {"amount": {"value": 5, "type": "Integer"}}}
    first = admin.post("/process-definition/key/order/start", json=body, headers=headers)
    second = admin.post("/process-definition/key/order/start", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert admin.get("/process-instance/count", params={"businessKey": "B-42"}).json() == {"count": 1}
    other = admin.post("/process-definition/key/order/start", json={"businessKey": "B-43"}, headers=headers)
    assert other.status_code == 409


def test_instances_filters_suspend_variables_and_delete(admin: Client, mary: Client) -> None:
    deploy(admin)
    a = start(mary, "A", amount=10).json()
    b = start(mary, "B", amount=20).json()
    assert [i["id"] for i in admin.get("/process-instance", params={"variables": "amount_eq_20"}).json()] == [b["id"]]
    # Camunda's other operators too, in the URL and in a POST query
    assert [i["id"] for i in admin.get("/process-instance", params={"variables": "amount_gt_15"}).json()] == [b["id"]]
    assert [i["id"] for i in admin.get("/process-instance", params={"variables": "amount_lteq_10"}).json()] == \
        [a["id"]]
    assert admin.post("/process-instance/count", json={"variables": [
        {"name": "amount", "operator": "neq", "value": 20}]}).json() == {"count": 1}
    assert admin.get("/process-instance/count", params={"variables": "amount_gteq_10,amount_lt_20"}).json() == \
        {"count": 1}
    bad = admin.get("/process-instance", params={"variables": "amount_about_20"})
    assert bad.status_code == 400 and "variables" in bad.json()["message"]
    assert admin.put(f"/process-instance/{a['id']}/suspended", json={"suspended": True}).status_code == 204
    assert [i["id"] for i in admin.get("/process-instance", params={"suspended": "true"}).json()] == [a["id"]]
    assert admin.post(f"/process-instance/{b['id']}/variables",
                      json={"modifications": {"note": {"value": "rush", "type": "String"}},
                            "deletions": ["amount"]}).status_code == 204
    values = admin.get(f"/process-instance/{b['id']}/variables").json()
    assert values == {"note": {"value": "rush", "type": "String", "valueInfo": {}}}
    tree = admin.get(f"/process-instance/{b['id']}/activity-instances").json()
    assert [c["activityId"] for c in tree["childActivityInstances"]] == ["review"]
    assert admin.delete(f"/process-instance/{a['id']}").status_code == 204
    assert admin.get(f"/history/process-instance/{a['id']}").json()["state"] == "EXTERNALLY_TERMINATED"
    assert mary.delete(f"/process-instance/{b['id']}").status_code == 403


def test_external_task_failure_incident_retries_and_bpmn_error(admin: Client, mary: Client) -> None:
    deploy(admin)
    instance = start(mary).json()
    [task] = mary.get("/task").json()
    mary.post(f"/task/{task['id']}/complete", json={})
    fetch = {"workerId": "w", "maxTasks": 1, "topics": [{"topicName": "payments", "lockDuration": 1000}]}
    [locked] = mary.post("/external-task/fetchAndLock", json=fetch).json()
    failed = mary.post(f"/external-task/{locked['id']}/failure",
                       json={"workerId": "w", "errorMessage": "psp down", "retries": 0, "retryTimeout": 0})
    assert failed.status_code == 204
    [incident] = admin.get("/incident", params={"processInstanceId": instance["id"]}).json()
    assert (incident["incidentType"], incident["activityId"], incident["incidentMessage"]) == (
        "failedExternalTask", "charge", "psp down")
    # the incident happened in the external task's execution, as the task names it (and its configuration)
    assert incident["executionId"] == locked["executionId"] and incident["configuration"] == locked["id"]
    [historic] = admin.get("/history/incident", params={"processInstanceId": instance["id"]}).json()
    assert historic["executionId"] == locked["executionId"]
    assert mary.post("/external-task/fetchAndLock", json=fetch).json() == []
    assert admin.put(f"/external-task/{locked['id']}/retries", json={"retries": 1}).status_code == 204
    assert admin.get("/incident").json() == []
    [locked] = mary.post("/external-task/fetchAndLock", json=fetch).json()
    # a worker that gives no message (`handleFailure(task)`): the incident has none either, as in Camunda
    assert mary.post(f"/external-task/{locked['id']}/failure", json={"workerId": "w"}).status_code == 204
    [incident] = admin.get("/incident", params={"processInstanceId": instance["id"]}).json()
    assert incident["incidentMessage"] is None
    assert admin.put(f"/external-task/{locked['id']}/retries", json={"retries": 1}).status_code == 204
    [locked] = mary.post("/external-task/fetchAndLock", json=fetch).json()
    wrong_worker = mary.post(f"/external-task/{locked['id']}/complete", json={"workerId": "other"})
    assert wrong_worker.status_code == 400 and "locked by worker 'w'" in wrong_worker.json()["message"]
    # a BPMN error nothing catches ends the task's path as Camunda's default does (no more retries of it)
    uncaught = mary.post(f"/external-task/{locked['id']}/bpmnError", json={"workerId": "w", "errorCode": "X"})
    assert uncaught.status_code == 204, uncaught.text
    assert mary.get(f"/external-task/{locked['id']}").status_code == 404
    ended = admin.get(f"/history/process-instance/{instance['id']}").json()
    assert ended["state"] == "COMPLETED", ended  # its one path ended there: "delivered" is never waited for


def test_long_polling_returns_when_a_task_appears(admin: Client, mary: Client) -> None:
    import threading
    import time

    deploy(admin)
    start(mary)
    [task] = mary.get("/task").json()
    got: dict[str, object] = {}

    def poll() -> None:
        began = time.monotonic()
        got["tasks"] = mary.post("/external-task/fetchAndLock", json={
            "workerId": "w", "maxTasks": 1, "asyncResponseTimeout": 20000,
            "topics": [{"topicName": "payments", "lockDuration": 1000}]}).json()
        got["waited"] = time.monotonic() - began

    poller = threading.Thread(target=poll)
    poller.start()
    mary.post(f"/task/{task['id']}/complete", json={})  # creates the external task while the poll waits
    poller.join(timeout=30)
    assert [t["activityId"] for t in got["tasks"]] == ["charge"]  # type: ignore[union-attr]
    assert got["waited"] < 20  # answered when the task appeared, not at the timeout


def test_comments_identity_links_and_form_variables(admin: Client, mary: Client) -> None:
    deploy(admin)
    start(mary)
    [task] = mary.get("/task").json()
    created = mary.post(f"/task/{task['id']}/comment/create", json={"message": "called the client"})
    assert created.status_code == 200 and created.json()["userId"] == "mary"
    assert [c["message"] for c in mary.get(f"/task/{task['id']}/comment").json()] == ["called the client"]
    assert mary.get(f"/task/{task['id']}/identity-links").json() == [
        {"userId": None, "groupId": "sales", "type": "candidate"}]
    assert mary.get(f"/task/{task['id']}/form-variables").json() == {}


def test_concurrent_starts_with_one_idempotency_key_make_one_instance(admin: Client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    deploy(admin)
    body = {"businessKey": "B-77", "variables": {"amount": {"value": 7, "type": "Integer"}}}

    def start_once(_: int):  # type: ignore[no-untyped-def]
        client = Client(admin.base, "admin")
        return client.post("/process-definition/key/order/start", json=body, headers={"Idempotency-Key": "k-77"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(start_once, range(8)))
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses if r.status_code != 200]
    assert len({r.json()["id"] for r in responses}) == 1
    assert admin.get("/process-instance/count", params={"businessKey": "B-77"}).json() == {"count": 1}


def test_duplicate_filtering_compares_with_deployments_of_the_same_name(admin: Client) -> None:
    """Camunda's enable-duplicate-filtering and deploy-changed-only look at earlier deployments of that name, and a
    deployment's deployed*Definitions list only what it deployed."""
    first = deploy(admin).json()
    assert [d["version"] for d in first["deployedProcessDefinitions"].values()] == [1]
    again = deploy(admin, **{"enable-duplicate-filtering": "true"}).json()
    assert (again["created"], again["id"]) == (False, first["id"])  # the same name and content: the same deployment
    other = admin.post("/deployment/create", files={"upload": ("order.bpmn", ORDER)},
                       data={"deployment-name": "elsewhere", "enable-duplicate-filtering": "true"}).json()
    assert other["created"] and [d["version"] for d in other["deployedProcessDefinitions"].values()] == [2]
    extra = bpmn('<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>' + chain("s", "e"), process_id="extra")
    mixed = admin.post("/deployment/create", files=[("a", ("order.bpmn", ORDER)), ("b", ("extra.bpmn", extra))],
                       data={"deployment-name": "test", "deploy-changed-only": "true"}).json()
    assert mixed["created"] and [d["key"] for d in mixed["deployedProcessDefinitions"].values()] == ["extra"]


def test_duplicate_filtering_alone_deploys_every_file_when_one_changed(admin: Client) -> None:
    """Camunda's enable-duplicate-filtering without deploy-changed-only: all or nothing (a changed file brings the
    unchanged ones along); with deploy-changed-only, the changed file alone; an unchanged repeat answers the latest
    deployment of that name, which deployed nothing now; a deployment without a name is compared with none."""
    def model(key: str, task: str) -> bytes:
        return bpmn(f'<bpmn:startEvent id="s"/><bpmn:userTask id="{task}"/><bpmn:endEvent id="e"/>'
                    + chain("s", task, "e"), process_id=key)

    def send(a: bytes, b: bytes, **fields: str):  # type: ignore[no-untyped-def]
        return admin.post("/deployment/create", files=[("a", ("a.bpmn", a)), ("b", ("b.bpmn", b))],
                          data={"deployment-name": "pair", **fields}).json()

    def versions(body: dict) -> dict[str, int]:
        return {d["key"]: d["version"] for d in (body["deployedProcessDefinitions"] or {}).values()}

    first = send(model("pa", "t1"), model("pb", "t1"))
    assert versions(first) == {"pa": 1, "pb": 1}
    whole = send(model("pa", "t1"), model("pb", "t2"), **{"enable-duplicate-filtering": "true"})
    assert versions(whole) == {"pa": 2, "pb": 2}
    changed = send(model("pa", "t1"), model("pb", "t3"), **{"deploy-changed-only": "true"})
    assert versions(changed) == {"pb": 3}
    repeat = send(model("pa", "t1"), model("pb", "t3"), **{"enable-duplicate-filtering": "true"})
    assert (repeat["id"], repeat["deployedProcessDefinitions"]) == (changed["id"], None)
    nameless = admin.post("/deployment/create", files=[("a", ("a.bpmn", model("pa", "t1")))],
                          data={"enable-duplicate-filtering": "true"}).json()
    assert versions(nameless) == {"pa": 3}
    other_source = send(model("pa", "t1"), model("pb", "t3"), **{"deploy-changed-only": "true",
                                                                  "deployment-source": "Camunda Modeler"})
    assert versions(other_source) == {"pa": 4, "pb": 4}  # compared only with deployments of its own source


def test_a_claim_for_no_user_leaves_the_task_to_no_one(admin: Client, mary: Client) -> None:
    """Camunda's ClaimTaskCmd with a null userId sets no assignee (it claimed the task for the caller here), with
    unclaim's rights: a user who does not hold the task may not release it."""
    deploy(admin)
    instance_id = start(mary, "B-8", amount=10).json()["id"]
    [task] = mary.get("/task", params={"processInstanceId": instance_id}).json()
    assert admin.post(f"/task/{task['id']}/claim", json={"userId": "admin"}).status_code == 204
    assert mary.post(f"/task/{task['id']}/claim", json={}).status_code == 403
    assert admin.get(f"/task/{task['id']}").json()["assignee"] == "admin"
    assert admin.post(f"/task/{task['id']}/claim", json={"userId": None}).status_code == 204
    assert admin.get(f"/task/{task['id']}").json()["assignee"] is None
    blank = admin.post(f"/task/{task['id']}/claim", json={"userId": ""})
    assert (blank.status_code, blank.json()["type"]) == (400, "InvalidRequestException")
    assert admin.get(f"/task/{task['id']}").json()["assignee"] is None


def test_a_claimed_task_and_a_deployment_in_use_answer_camundas_exception_types(admin: Client, mary: Client) -> None:
    """Errors a client must not retry as an optimistic-locking conflict: a task someone else claimed
    (TaskAlreadyClaimedException) and a deployment with running instances deleted without cascade
    (ProcessEngineException, in Camunda's words)."""
    deployed = deploy(admin).json()
    instance_id = start(mary, "B-9", amount=10).json()["id"]
    [task] = mary.get("/task", params={"processInstanceId": instance_id}).json()
    assert admin.post(f"/task/{task['id']}/claim", json={"userId": "admin"}).status_code == 204
    taken = mary.post(f"/task/{task['id']}/claim", json={"userId": "mary"})
    assert taken.status_code == 409
    assert taken.json() == {"type": "TaskAlreadyClaimedException", "code": 0,
                            "message": f"task '{task['id']}' is already claimed by admin"}
    kept = admin.delete(f"/deployment/{deployed['id']}")
    assert kept.status_code == 409 and kept.json()["type"] == "ProcessEngineException"
    assert kept.json()["message"].startswith("Deletion of process definition without cascading failed")
    assert admin.get(f"/process-instance/{instance_id}").status_code == 200  # nothing was deleted
    assert admin.delete(f"/deployment/{deployed['id']}", params={"cascade": "true"}).status_code == 204


def test_errors_carry_camundas_exception_code(admin: Client, mary: Client) -> None:
    """Camunda 7.20+ error bodies have a `code`: 1 for an optimistic-locking conflict (a client's backoff retries
    those), 0 for the others."""
    deploy(admin)
    start(mary)
    [task] = mary.get("/task").json()
    assert mary.post(f"/task/{task['id']}/complete", json={}).status_code == 204
    again = mary.post(f"/task/{task['id']}/complete", json={})
    assert (again.status_code, again.json()["type"], again.json()["code"]) == (409, "OptimisticLockingException", 1)
    missing = mary.get("/task/nope")
    assert (missing.status_code, missing.json()["code"]) == (404, 0)
    unsupported = admin.get("/nothing-here")
    assert (unsupported.status_code, unsupported.json()["code"]) == (404, 0)


def test_a_correlation_returns_the_variables_only_of_an_instance_the_caller_may_read(
        admin: Client, mary: Client, bob: Client, engine: Engine) -> None:
    # bob (warehouse) may correlate messages, but the instance is not his to read: its variables stay hidden
    deploy(admin)
    instance = start(admin, "B-7", amount=900).json()
    engine.tasks.complete(engine.tasks.list(instance_id=instance["id"])[0].id, {})
    [locked] = admin.post("/external-task/fetchAndLock", json={
        "workerId": "psp", "topics": [{"topicName": "payments", "lockDuration": 10000}]}).json()
    admin.post(f"/external-task/{locked['id']}/complete", json={"workerId": "psp"})
    assert bob.get(f"/process-instance/{instance['id']}/variables").status_code == 404
    hidden = bob.post("/message", json={"messageName": "delivered", "businessKey": "B-7", "resultEnabled": True,
                                        "variablesInResultEnabled": True,
                                        "processVariables": {"note": {"value": "left at the door"}}})
    assert hidden.status_code == 200, hidden.text
    [result] = hidden.json()
    assert result["execution"]["processInstanceId"] == instance["id"] and result["variables"] == {}
    assert engine.instances.variables(instance["id"])["note"] == "left at the door"  # the message did arrive
    again = start(admin, "B-8", amount=5).json()  # an admin sees them
    engine.tasks.complete(engine.tasks.list(instance_id=again["id"])[0].id, {})
    [locked] = admin.post("/external-task/fetchAndLock", json={
        "workerId": "psp", "topics": [{"topicName": "payments", "lockDuration": 10000}]}).json()
    admin.post(f"/external-task/{locked['id']}/complete", json={"workerId": "psp"})
    [seen] = admin.post("/message", json={"messageName": "delivered", "businessKey": "B-8", "resultEnabled": True,
                                          "variablesInResultEnabled": True}).json()
    assert seen["variables"]["amount"]["value"] == 5


def test_deployments_and_their_files_are_for_admins(admin: Client, bob: Client) -> None:
    deploy(admin)
    [deployment] = admin.get("/deployment").json()
    [resource] = admin.get(f"/deployment/{deployment['id']}/resources").json()
    for path in ("/deployment", "/deployment/count", f"/deployment/{deployment['id']}",
                 f"/deployment/{deployment['id']}/resources", f"/deployment/{deployment['id']}/resources/{resource['id']}",
                 f"/deployment/{deployment['id']}/resources/{resource['id']}/data"):
        answer = bob.get(path)
        assert answer.status_code == 403 and answer.json()["type"] == "AuthorizationException", path
        assert admin.get(path).status_code == 200, path


def test_no_page_may_be_framed_by_another_site(server: str, admin: Client) -> None:
    import requests

    for response in (requests.get(server.removesuffix("/engine-rest") + "/login", timeout=10),
                     admin.get("/process-definition")):
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
