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
        assert response.json()["type"] == "RestException"  # Camunda's ExternalTaskResourceImpl's
    assert admin.post(f"/external-task/{tid}/unlock").status_code == 204
    response = admin.post(f"/external-task/{tid}/complete", json={"workerId": "wx"})
    assert response.status_code == 400
    assert response.json()["message"] == (f"External Task {tid} cannot be completed by worker 'wx'. "
                                          "It is not locked by any worker.")


def test_a_suspended_instances_task_takes_no_completion_failure_error_or_longer_lock(admin: Client) -> None:
    """Camunda's `ExternalTaskEntity` checks `ensureActive` before each of the four: a failure reported on a
    suspended instance's task was taken (and made an incident), and its lock was extended; unlocking is allowed."""
    _setup(admin)
    task = _fetch(admin, "payments")
    tid, instance = task["id"], task["processInstanceId"]
    assert admin.put(f"/process-instance/{instance}/suspended", json={"suspended": True}).status_code == 204
    for action, body in (("complete", {"workerId": "w1"}), ("bpmnError", {"workerId": "w1", "errorCode": "E1"}),
                         ("failure", {"workerId": "w1", "errorMessage": "down", "retries": 0}),
                         ("extendLock", {"workerId": "w1", "newDuration": 1000})):
        response = admin.post(f"/external-task/{tid}/{action}", json=body)
        assert (response.status_code, response.json()["type"]) == (409, "SuspendedEntityInteractionException"), action
        assert response.json()["message"] == f"external task '{tid}' is suspended", action
    assert admin.get("/incident", params={"processInstanceId": instance}).json() == []
    assert admin.get(f"/external-task/{tid}").json()["lockExpirationTime"] == task["lockExpirationTime"]
    assert admin.post(f"/external-task/{tid}/unlock").status_code == 204
    assert admin.put(f"/process-instance/{instance}/suspended", json={"suspended": False}).status_code == 204
    assert admin.post(f"/external-task/{tid}/complete", json={"workerId": "w1"}).status_code == 400  # unlocked


def test_fetch_and_lock_with_local_variables_gives_only_the_tasks_own(admin: Client) -> None:
    _setup(admin)
    task = _fetch(admin, "payments", localVariables=True)
    # `${amount * 100}`: JUEL computes a long, so Camunda's variable is a Long
    assert task["variables"] == {"cents": {"value": 1200, "type": "Long", "valueInfo": {}},
                                 "currency": {"value": "EUR", "type": "String", "valueInfo": {}}}
    assert admin.post(f"/external-task/{task['id']}/unlock").status_code == 204
    task = _fetch(admin, "payments", localVariables=True, variables=["currency"])
    assert task["variables"] == {"currency": {"value": "EUR", "type": "String", "valueInfo": {}}}
    assert admin.post(f"/external-task/{task['id']}/complete", json={"workerId": "w1"}).status_code == 204

    # no camunda:inputOutput, the only path: Camunda runs it in the process instance's execution, whose local
    # variables are the process variables
    ship = _fetch(admin, "shipping", localVariables=True)
    assert set(ship["variables"]) == {"amount", "customer"}


def test_fetch_and_lock_with_variable_names_gives_only_those(admin: Client) -> None:
    _setup(admin)
    task = _fetch(admin, "payments", variables=["customer"])
    assert task["variables"] == {"customer": {"value": "ACME", "type": "String", "valueInfo": {}}}
    assert admin.post(f"/external-task/{task['id']}/unlock").status_code == 204
    every = _fetch(admin, "payments")
    assert {"amount", "customer"} <= set(every["variables"])
    assert every["variables"]["cents"]["value"] == 1200  # the task's input parameters too: its execution sees them


def test_input_parameters_are_the_tasks_not_the_instances_variables(admin: Client) -> None:
    """While the task is open its input parameters are its own: the instance's variables show what they hide (or
    nothing), as Camunda keeps them in the activity's scope; they were listed as the instance's."""
    _setup(admin)
    task = _fetch(admin, "payments")
    instance = task["processInstanceId"]
    names = set(admin.get(f"/process-instance/{instance}/variables").json())
    assert names == {"amount", "customer"}
    listed = {v["name"] for v in admin.get("/variable-instance", params={"processInstanceIdIn": instance}).json()}
    assert listed == {"amount", "customer"}
    assert _fetch_again(admin, task)["variables"]["currency"]["value"] == "EUR"


def _fetch_again(admin: Client, task: dict[str, Any]) -> dict[str, Any]:
    assert admin.post(f"/external-task/{task['id']}/unlock").status_code == 204
    return _fetch(admin, "payments", localVariables=True)


def test_a_failure_sets_the_workers_variables_and_keeps_earlier_error_details(admin: Client) -> None:
    """Camunda's `handleFailure(task, message, details, retries, timeout, variables, localVariables)`: the variables
    become process variables, the local ones the task's own (the next fetch with `localVariables` sees them, and
    they are gone once it completes); a failure without details keeps those of the one before. Both were dropped."""
    _setup(admin)
    task = _fetch(admin, "payments")
    tid = task["id"]
    failed = admin.post(f"/external-task/{tid}/failure", json={
        "workerId": "w1", "errorMessage": "gateway down", "errorDetails": "trace 1", "retries": 2, "retryTimeout": 0,
        "variables": {"attempts": {"value": 1, "type": "Integer"}},
        "localVariables": {"lastError": {"value": "timeout", "type": "String"}}})
    assert failed.status_code == 204, failed.text
    instance = task["processInstanceId"]
    assert admin.get(f"/process-instance/{instance}/variables/attempts").json()["value"] == 1

    again = _fetch(admin, "payments", worker="w2", localVariables=True)
    assert again["id"] == tid
    assert again["variables"]["lastError"] == {"value": "timeout", "type": "String", "valueInfo": {}}
    assert again["variables"]["currency"]["value"] == "EUR"  # the input parameters are still its own
    second = admin.post(f"/external-task/{tid}/failure", json={"workerId": "w2", "errorMessage": "still down",
                                                               "retries": 1, "retryTimeout": 0})
    assert second.status_code == 204
    listed = admin.get(f"/external-task/{tid}").json()
    assert (listed["errorMessage"], listed["errorDetails"]) == ("still down", "trace 1")

    _fetch(admin, "payments", worker="w3")
    assert admin.post(f"/external-task/{tid}/complete", json={"workerId": "w3"}).status_code == 204
    names = admin.get(f"/process-instance/{instance}/variables").json()
    assert "attempts" in names and "lastError" not in names and "currency" not in names


def test_a_process_variable_set_under_a_workers_local_one_is_kept(admin: Client) -> None:
    """A failure's local variable hides the process variable of its name while the task is open, as an input
    parameter does: a client's write goes to the process variable, which is there once the task completes."""
    _setup(admin)
    task = _fetch(admin, "payments")
    tid, instance = task["id"], task["processInstanceId"]
    assert admin.post(f"/external-task/{tid}/failure", json={
        "workerId": "w1", "errorMessage": "down", "retries": 1, "retryTimeout": 0,
        "localVariables": {"note": {"value": "worker's", "type": "String"}}}).status_code == 204
    assert admin.get(f"/process-instance/{instance}/variables/note").status_code == 404  # the task's own
    assert admin.put(f"/process-instance/{instance}/variables/note",
                     json={"value": "client's", "type": "String"}).status_code == 204
    assert admin.get(f"/process-instance/{instance}/variables/note").json()["value"] == "client's"
    again = _fetch(admin, "payments", worker="w2", localVariables=True)
    assert again["variables"]["note"]["value"] == "worker's"
    assert admin.post(f"/external-task/{tid}/complete", json={"workerId": "w2"}).status_code == 204
    assert admin.get(f"/process-instance/{instance}/variables/note").json()["value"] == "client's"


def test_fetch_and_lock_by_version_tag_and_the_tag_in_each_task(admin: Client) -> None:
    tagged = CHARGE.replace(b'<bpmn:process id="billing"', b'<bpmn:process id="billing" camunda:versionTag="v2"')
    assert tagged != CHARGE
    assert admin.post("/deployment/create", files={"upload": ("charge.bpmn", tagged)},
                      data={"deployment-name": "charge"}).status_code == 200
    assert admin.post("/process-definition/key/billing/start", json={"variables": {
        "amount": {"value": 1, "type": "Integer"}}}).status_code == 200
    none = admin.post("/external-task/fetchAndLock", json={"workerId": "w1", "maxTasks": 5, "topics": [
        {"topicName": "payments", "lockDuration": 1000, "processDefinitionVersionTag": "v1"}]})
    assert none.status_code == 200 and none.json() == []  # it was ignored: the v2 task came back, locked
    task = _fetch(admin, "payments", processDefinitionVersionTag="v2")
    assert task["processDefinitionVersionTag"] == "v2"
    assert admin.get(f"/external-task/{task['id']}").json()["processDefinitionVersionTag"] == "v2"
    assert [t["processDefinitionVersionTag"] for t in admin.get("/external-task").json()] == ["v2"]


def test_error_details_topic_names_and_priority_as_camundas_endpoints(admin: Client) -> None:
    _setup(admin)
    names = admin.get("/external-task/topic-names")
    assert names.status_code == 200 and names.json() == ["payments"]
    task = _fetch(admin, "payments")
    tid = task["id"]
    none = admin.get(f"/external-task/{tid}/errorDetails")
    assert none.status_code == 204 and none.text == ""  # no failure yet
    assert admin.get("/external-task/topic-names", params={"withUnlockedTasks": "true"}).json() == []
    assert admin.get("/external-task/topic-names", params={"withLockedTasks": "true"}).json() == ["payments"]
    trace = "java.lang.RuntimeException: gateway down\n\tat Charge.run(Charge.java:12)"
    assert admin.post(f"/external-task/{tid}/failure", json={
        "workerId": "w1", "errorMessage": "gateway down", "errorDetails": trace, "retries": 0}).status_code == 204
    details = admin.get(f"/external-task/{tid}/errorDetails")
    assert details.status_code == 200 and details.text == trace
    assert details.headers["Content-Type"].startswith("text/plain")
    assert admin.get("/external-task/topic-names", params={"withRetriesLeft": "true"}).json() == []
    assert admin.get("/external-task/nope/errorDetails").status_code == 404

    assert admin.put(f"/external-task/{tid}/priority", json={"priority": 7}).status_code == 204
    assert admin.get(f"/external-task/{tid}").json()["priority"] == 7
    assert admin.put(f"/external-task/{tid}/priority", json={"priority": "high"}).status_code == 400


def test_fetch_and_lock_includes_the_activitys_extension_properties_when_asked(admin: Client) -> None:
    """Camunda Modeler's Extensions tab writes camunda:properties; a worker asking `includeExtensionProperties`
    gets them with each task (it got {})."""
    with_properties = CHARGE.replace(
        b'<bpmn:extensionElements><camunda:inputOutput>',
        b'<bpmn:extensionElements><camunda:properties><camunda:property name="queue" value="eu-1"/>'
        b'<camunda:property name="sla" value="PT5M"/></camunda:properties><camunda:inputOutput>')
    assert with_properties != CHARGE
    assert admin.post("/deployment/create", files={"upload": ("charge.bpmn", with_properties)},
                      data={"deployment-name": "charge"}).status_code == 200
    assert admin.post("/process-definition/key/billing/start", json={"variables": {
        "amount": {"value": 1, "type": "Integer"}}}).status_code == 200
    task = _fetch(admin, "payments", includeExtensionProperties=True)
    assert task["extensionProperties"] == {"queue": "eu-1", "sla": "PT5M"}
    assert admin.post(f"/external-task/{task['id']}/unlock").status_code == 204
    assert _fetch(admin, "payments")["extensionProperties"] == {}  # only when asked, as Camunda's


RANKED = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:serviceTask id="rank" camunda:type="external" camunda:topic="ranking" camunda:taskPriority="${prio}"/>
    <bpmn:endEvent id="e"/>
    """ + chain("s", "rank", "e"), process_id="ranked")


def test_the_external_task_query_by_ids_priority_lock_and_suspension_get_and_post(admin: Client) -> None:
    """Camunda's `GET`/`POST /external-task` (and `/count`) filters an operator's script uses: several ids,
    instances or activities, a priority range, a lock's expiry, active or suspended; sorted by priority."""
    assert admin.post("/deployment/create", files={"upload": ("ranked.bpmn", RANKED)}).status_code == 200
    instances = [admin.post("/process-definition/key/ranked/start",
                            json={"variables": {"prio": {"value": p, "type": "Integer"}}}).json()["id"]
                 for p in (5, 20, 50)]
    tasks = {t["processInstanceId"]: t for t in admin.get("/external-task").json()}
    ids = [tasks[i]["id"] for i in instances]  # priorities 5, 20, 50
    assert [tasks[i]["priority"] for i in instances] == [5, 20, 50]
    locked = admin.post("/external-task/fetchAndLock", json={
        "workerId": "w1", "maxTasks": 1, "usePriority": True,
        "topics": [{"topicName": "ranking", "lockDuration": 60000}]}).json()
    assert [t["id"] for t in locked] == [ids[2]]  # the highest priority first
    assert admin.put(f"/process-instance/{instances[0]}/suspended", json={"suspended": True}).status_code == 204

    def listed(**params: Any) -> list[str]:
        response = admin.get("/external-task", params=params)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()]

    assert sorted(listed(externalTaskIdIn=f"{ids[0]},{ids[2]}")) == sorted([ids[0], ids[2]])
    assert listed(externalTaskId=ids[1]) == [ids[1]]
    assert sorted(listed(processInstanceIdIn=",".join(instances[:2]))) == sorted(ids[:2])
    assert len(listed(activityIdIn="rank,other")) == 3 and listed(activityIdIn="other") == []
    assert listed(executionId=ids[1]) == [ids[1]]
    assert listed(priorityHigherThanOrEquals="20", sortBy="taskPriority", sortOrder="desc") == [ids[2], ids[1]]
    assert listed(priorityLowerThanOrEquals="20", sortBy="taskPriority", sortOrder="asc") == [ids[0], ids[1]]
    assert listed(lockExpirationAfter="2020-01-01T00:00:00.000+0000") == [ids[2]]
    assert listed(lockExpirationBefore="2020-01-01T00:00:00.000+0000") == []
    assert listed(suspended="true") == [ids[0]]
    assert sorted(listed(active="true")) == sorted(ids[1:])

    response = admin.post("/external-task", json={
        "processInstanceIdIn": instances, "priorityHigherThanOrEquals": 10, "active": True,
        "sorting": [{"sortBy": "taskPriority", "sortOrder": "asc"}]})
    assert response.status_code == 200, response.text
    assert [t["id"] for t in response.json()] == [ids[1], ids[2]]
    assert admin.post("/external-task/count", json={"externalTaskIdIn": ids[:2], "notLocked": True}).json() == {
        "count": 2}
    assert admin.get("/external-task/count", params={"locked": "true"}).json() == {"count": 1}
    # two opposite filters both apply, as in Camunda: no task is locked and not locked (the first one won)
    assert listed(locked="true", notLocked="true") == [] and listed(suspended="true", active="true") == []

    for bad in (admin.get("/external-task", params={"priorityHigherThanOrEquals": "high"}),
                admin.post("/external-task", json={"priorityHigherThanOrEquals": "high"}),
                admin.get("/external-task", params={"priorityLowerThanOrEquals": str(-(2 ** 70))}),
                admin.get("/external-task", params={"priorityLowerThanOrEquals": "²"}),
                admin.post("/external-task", json={"tenantIdIn": ["t1"]}),
                admin.get("/external-task", params={"sortBy": "tenantId", "sortOrder": "asc"})):
        assert bad.status_code == 400, bad.text
        assert bad.json()["type"] == "InvalidRequestException"


def test_a_task_is_locked_by_its_id_as_camundas_clients_lock_it(admin: Client) -> None:
    """`POST /external-task/{id}/lock` (the Java and JS clients' `lock`): a free task is locked for the worker, who
    then completes it; another worker's live lock is a 400 naming both workers, the holder may lock again."""
    _setup(admin)
    [task] = admin.get("/external-task", params={"activityId": "charge"}).json()
    assert task["workerId"] is None
    assert admin.post(f"/external-task/{task['id']}/lock", json={"workerId": "w9", "lockDuration": 30000}
                      ).status_code == 204
    locked = admin.get(f"/external-task/{task['id']}").json()
    assert locked["workerId"] == "w9" and locked["lockExpirationTime"] is not None
    assert admin.post("/external-task/fetchAndLock", json={
        "workerId": "w1", "maxTasks": 1, "topics": [{"topicName": "payments", "lockDuration": 1000}]}).json() == []
    taken = admin.post(f"/external-task/{task['id']}/lock", json={"workerId": "w1", "lockDuration": 30000})
    assert taken.status_code == 400
    assert taken.json()["message"] == (f"External Task {task['id']} cannot be locked by worker 'w1'. "
                                       "It is locked by worker 'w9'.")
    assert admin.post(f"/external-task/{task['id']}/lock", json={"workerId": "w9", "lockDuration": 60000}
                      ).status_code == 204
    assert admin.post(f"/external-task/{task['id']}/complete", json={"workerId": "w9"}).status_code == 204
    missing = admin.post("/external-task/nope/lock", json={"workerId": "w9", "lockDuration": 1})
    assert missing.status_code == 404 and missing.json()["message"] == "External task with id nope does not exist"
    assert missing.json()["type"] == "RestException"
    unknown = admin.get("/external-task/nope")
    assert (unknown.status_code, unknown.json()["type"]) == (404, "RestException")
    [ship] = admin.get("/external-task", params={"activityId": "ship"}).json()
    for bad in ({"workerId": "w9", "lockDuration": 0}, {"workerId": "w9"}, {"lockDuration": 1000}):
        assert admin.post(f"/external-task/{ship['id']}/lock", json=bad).status_code == 400, bad


def test_a_topic_asking_for_deserialized_values_gets_objects_as_json(admin: Client) -> None:
    """A topic's `deserializeValues` (false by default, as Camunda's): an Object serialized as JSON comes as the
    JSON value it holds when asked for, else as its text."""
    response = admin.post("/deployment/create", files={"upload": ("charge.bpmn", CHARGE)},
                          data={"deployment-name": "charge"})
    assert response.status_code == 200, response.text
    order = {"value": '{"id":7}', "type": "Object",
             "valueInfo": {"objectTypeName": "com.example.Order", "serializationDataFormat": "application/json"}}
    for _ in range(2):
        assert admin.post("/process-definition/key/billing/start", json={"variables": {
            "amount": {"value": 1, "type": "Integer"}, "order": order}}).status_code == 200
    plain = _fetch(admin, "payments", variables=["order"])
    assert plain["variables"]["order"] == order
    readable = _fetch(admin, "payments", variables=["order"], deserializeValues=True)
    assert readable["variables"]["order"] == {**order, "value": {"id": 7}}


def test_fetch_and_lock_sorted_by_create_time_as_camunda_7_21(admin: Client, clock) -> None:
    """The `sorting` of a fetch (Camunda 7.21, sent by camunda-external-task-client-js 3.1): newest first with
    `desc`, oldest first with `asc`, after the priority with `usePriority`; another criterion is a 400 naming it.
    Tasks show their `createTime`."""
    assert admin.post("/deployment/create", files={"upload": ("ranked.bpmn", RANKED)}).status_code == 200
    instances = []
    for prio in (5, 5, 50):
        instances.append(admin.post("/process-definition/key/ranked/start", json={"variables": {
            "prio": {"value": prio, "type": "Integer"}}}).json()["id"])
        clock.advance(minutes=1)
    listed = {t["processInstanceId"]: t for t in admin.get("/external-task").json()}
    assert listed[instances[0]]["createTime"] < listed[instances[1]]["createTime"] < listed[instances[2]]["createTime"]

    def fetched(sorting: Any, use_priority: bool = False) -> list[str]:
        response = admin.post("/external-task/fetchAndLock", json={
            "workerId": "w1", "maxTasks": 3, "usePriority": use_priority, "sorting": sorting,
            "topics": [{"topicName": "ranking", "lockDuration": 60000}]})
        assert response.status_code == 200, response.text
        tasks = response.json()
        assert all(t["createTime"] == listed[t["processInstanceId"]]["createTime"] for t in tasks)
        for task in tasks:  # free again for the next fetch
            assert admin.post(f"/external-task/{task['id']}/unlock").status_code == 204
        return [t["processInstanceId"] for t in tasks]

    assert fetched([{"sortBy": "createTime", "sortOrder": "desc"}]) == instances[::-1]
    assert fetched([{"sortBy": "createTime", "sortOrder": "asc"}]) == instances
    assert fetched(None) == instances
    assert fetched([{"sortBy": "createTime", "sortOrder": "desc"}], use_priority=True) == [
        instances[2], instances[1], instances[0]]
    assert fetched([{"sortBy": "createTime", "sortOrder": "asc"}], use_priority=True) == [
        instances[2], instances[0], instances[1]]
    for sorting, named in (([{"sortBy": "bogus", "sortOrder": "asc"}], "bogus"),
                           ([{"sortBy": "createTime", "sortOrder": "down"}], "down"),
                           ("createTime", "sorting"), ([1], "sorting")):
        response = admin.post("/external-task/fetchAndLock", json={
            "workerId": "w1", "maxTasks": 3, "sorting": sorting,
            "topics": [{"topicName": "ranking", "lockDuration": 60000}]})
        assert response.status_code == 400 and named in response.json()["message"], response.text


PLAIN_TASKS = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:serviceTask id="rate" camunda:type="external" camunda:topic="rate"/>
    <bpmn:subProcess id="checks">
      <bpmn:startEvent id="cs"/>
      <bpmn:serviceTask id="score" camunda:type="external" camunda:topic="score"/>
      <bpmn:serviceTask id="review" camunda:type="external" camunda:topic="review"/>
      <bpmn:endEvent id="ce"/>
      """ + chain("cs", "score", "review", "ce") + """
    </bpmn:subProcess>
    <bpmn:parallelGateway id="fork"/>
    <bpmn:serviceTask id="left" camunda:type="external" camunda:topic="left"/>
    <bpmn:serviceTask id="right" camunda:type="external" camunda:topic="right"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:serviceTask id="last" camunda:type="external" camunda:topic="last"/>
    <bpmn:endEvent id="e"/>
    """ + chain("s", "rate", "checks", "fork") + chain("fork", "left", "join") + chain("fork", "right", "join")
    + chain("join", "last", "e"), process_id="plain")


def test_local_variables_of_a_task_in_its_scopes_execution_are_the_scopes(admin: Client) -> None:
    """A service task with no scope of its own (no input/output mapping, no boundary event, not multi-instance) on
    the only path of its scope runs, in Camunda 7, in that scope's execution: the `localVariables` a worker sends
    (camunda-external-task-client-js' `complete(task, variables, localVariables)`) are process variables at the
    top, the embedded subprocess's own inside one; a fetch with `localVariables` gets that execution's variables.
    They were dropped without a word. In a parallel branch the task has an execution of its own: its local
    variables are not the process's."""
    assert admin.post("/deployment/create", files={"upload": ("plain.bpmn", PLAIN_TASKS)}).status_code == 200
    instance = admin.post("/process-definition/key/plain/start", json={"variables": {
        "order": {"value": "A-1", "type": "String"}}}).json()["id"]

    def complete(topic: str, local: dict[str, Any], variables: dict[str, Any] | None = None,
                 **options: Any) -> dict[str, Any]:
        task = _fetch(admin, topic, localVariables=True, **options)
        response = admin.post(f"/external-task/{task['id']}/complete", json={
            "workerId": "w1", "variables": {k: {"value": v} for k, v in (variables or {}).items()},
            "localVariables": {k: {"value": v} for k, v in local.items()}})
        assert response.status_code == 204, response.text
        return {name: value["value"] for name, value in task["variables"].items()}

    def process_variables() -> dict[str, Any]:
        found = admin.get(f"/process-instance/{instance}/variables").json()
        return {name: value["value"] for name, value in found.items()}

    assert complete("rate", {"note": "rated", "order": "local wins"}, {"order": "A-2"}) == {"order": "A-1"}
    assert process_variables() == {"order": "local wins", "note": "rated"}
    history = admin.get("/history/variable-instance", params={"processInstanceId": instance}).json()
    assert {v["name"]: v["value"] for v in history} == {"order": "local wins", "note": "rated"}

    # inside the subprocess: its own variable, seen by the next task there, gone when the subprocess ends
    assert complete("score", {"score": 7, "note": "scored"}) == {}  # the subprocess has no variables yet
    assert complete("review", {}) == {"score": 7, "note": "scored"}
    assert process_variables() == {"order": "local wins", "note": "rated"}

    # a parallel branch: an execution of its own
    assert complete("left", {"side": "left"}) == {}
    assert "side" not in process_variables()
    complete("right", {})
    # a failure's local variables likewise (`handleFailure(task, {..., localVariables})`)
    task = _fetch(admin, "last")
    assert admin.post(f"/external-task/{task['id']}/failure", json={
        "workerId": "w1", "errorMessage": "busy", "retries": 1, "retryTimeout": 0,
        "localVariables": {"attempt": {"value": 1, "type": "Integer"}}}).status_code == 204
    assert process_variables()["attempt"] == 1


def test_a_malformed_topic_or_variable_is_refused_with_the_hint_that_fits_it(admin: Client) -> None:
    # a topic's `variables` is a list of names: its error no longer explains what a variable object looks like
    _setup(admin)
    names = admin.post("/external-task/fetchAndLock", json={
        "workerId": "w1", "maxTasks": 1, "topics": [{"topicName": "payments", "lockDuration": 1000, "variables": "bk"}]})
    assert names.status_code == 400
    assert names.json()["message"].startswith("topics.0.variables: ") and "a variable is" not in names.json()["message"]
    value = admin.post("/process-definition/key/billing/start", json={"variables": {"amount": 12}})
    assert value.status_code == 400
    assert value.json()["message"].endswith('(a variable is an object such as {"value": 1200, "type": "Integer"})')
