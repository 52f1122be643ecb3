"""Camunda's history service over real HTTP: historic process instances, activity instances and tasks, as a
migrating Camunda client reads them (filters in the query, counts, what each row knows)."""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.api import Engine
from tests.helpers import bpmn, chain
from tests.rest.conftest import Client
from tests.rest.test_rest_api import deploy, start


def _task(client: Client, instance_id: str) -> dict:
    [task] = client.get("/task", params={"processInstanceId": instance_id}).json()
    return task


def test_historic_instances_filter_before_paging_and_count(admin: Client, clock) -> None:
    deploy(admin)
    first = start(admin, "ORD-1").json()["id"]
    clock.advance(minutes=5)
    second = start(admin, "ORD-2").json()["id"]
    clock.advance(minutes=5)
    third = start(admin, "INV-3").json()["id"]
    # the filter is in the query: one page of one still finds an instance that is not the newest
    found = admin.get("/history/process-instance", params={"processInstanceId": first, "maxResults": 1}).json()
    assert [i["id"] for i in found] == [first]
    ids = admin.get("/history/process-instance", params={"processInstanceIds": f"{first},{third}"}).json()
    assert {i["id"] for i in ids} == {first, third}
    after = admin.get("/history/process-instance", params={"startedAfter": found[0]["startTime"],
                                                           "sortBy": "startTime", "sortOrder": "asc"}).json()
    assert [i["id"] for i in after] == [second, third]
    assert admin.get("/history/process-instance/count").json() == {"count": 3}
    assert admin.get("/history/process-instance/count", params={"startedBefore": after[1]["startTime"]}).json() \
        == {"count": 2}
    assert admin.get("/history/process-instance/count", params={"finished": "true"}).json() == {"count": 0}
    by_key = admin.get("/history/process-instance", params={"sortBy": "businessKey", "sortOrder": "asc"}).json()
    assert [i["businessKey"] for i in by_key] == ["INV-3", "ORD-1", "ORD-2"]
    # the same query in a POST body, as Camunda's clients send a long one (it was a 405)
    posted = admin.post("/history/process-instance", params={"maxResults": 5}, json={
        "processInstanceIds": [first, second, third], "startedAfter": found[0]["startTime"], "unfinished": True,
        "sorting": [{"sortBy": "businessKey", "sortOrder": "desc"}]})
    assert posted.status_code == 200, posted.text
    assert [i["businessKey"] for i in posted.json()] == ["ORD-2", "INV-3"]
    counted = admin.post("/history/process-instance/count", json={"processInstanceBusinessKeyLike": "ORD-%"})
    assert counted.json() == {"count": 2}
    unknown = admin.post("/history/process-instance", json={"tenantIdIn": ["t"]})
    assert unknown.status_code == 400 and "tenantIdIn" in unknown.json()["message"]


def test_a_cancelled_instance_keeps_its_reason_and_says_who_started_it(admin: Client, clock) -> None:
    deploy(admin)
    instance_id = start(admin, "ORD-9").json()["id"]
    clock.advance(minutes=1)
    assert admin.delete(f"/process-instance/{instance_id}", params={"deleteReason": "customer withdrew"}) \
        .status_code == 204
    row = admin.get(f"/history/process-instance/{instance_id}").json()
    assert row["deleteReason"] == "customer withdrew"
    assert row["state"] == "EXTERNALLY_TERMINATED"
    assert (row["startUserId"], row["rootProcessInstanceId"]) == ("admin", instance_id)
    assert (row["processDefinitionVersion"], row["startActivityId"]) == (1, "s")
    assert row["durationInMillis"] == 60_000
    finished = admin.get("/history/process-instance", params={"finishedAfter": row["startTime"]}).json()
    assert [i["id"] for i in finished] == [instance_id]
    assert admin.get("/history/process-instance", params={"processInstanceId": "nope"}).json() == []


def test_activity_history_has_times_types_open_activities_and_stable_ids(admin: Client, mary: Client,
                                                                         engine: Engine, clock) -> None:
    deploy(admin)
    instance_id = start(admin, "ORD-1").json()["id"]
    task = _task(admin, instance_id)
    clock.advance(minutes=10)
    assert mary.post(f"/task/{task['id']}/claim", json={"userId": "mary"}).status_code == 204
    assert mary.post(f"/task/{task['id']}/complete", json={}).status_code == 204
    rows = admin.get("/history/activity-instance", params={"processInstanceId": instance_id}).json()
    by_activity = {r["activityId"]: r for r in rows}
    start_event, review, charge = by_activity["s"], by_activity["review"], by_activity["charge"]
    assert (start_event["activityType"], start_event["taskId"]) == ("startEvent", None)
    assert start_event["startTime"] == start_event["endTime"] and start_event["durationInMillis"] == 0
    assert (review["activityType"], review["activityName"], review["taskId"]) == ("userTask", "Review order",
                                                                                  task["id"])
    assert review["durationInMillis"] == 600_000 and review["assignee"] == "mary"
    # the external task it now waits at is an open activity
    assert (charge["activityType"], charge["endTime"], charge["taskId"]) == ("serviceTask", None, None)
    historic_task = admin.get("/history/task", params={"processInstanceId": instance_id}).json()[0]
    assert historic_task["activityInstanceId"] == review["id"]
    # ids do not depend on paging
    page = admin.get("/history/activity-instance", params={"processInstanceId": instance_id, "firstResult": 1,
                                                           "maxResults": 1}).json()
    assert page == [rows[1]]
    unfinished = admin.get("/history/activity-instance", params={"processInstanceId": instance_id,
                                                                 "unfinished": "true"}).json()
    assert [r["activityId"] for r in unfinished] == ["charge"]
    only_tasks = admin.get("/history/activity-instance", params={"processInstanceId": instance_id,
                                                                 "activityType": "userTask"}).json()
    assert [r["activityId"] for r in only_tasks] == ["review"]
    newest_end = admin.get("/history/activity-instance", params={"processInstanceId": instance_id,
                                                                 "sortBy": "endTime", "sortOrder": "desc"}).json()
    # an open activity has no end time: it sorts as the smallest (first ascending, last descending)
    assert [r["activityId"] for r in newest_end] == ["review", "s", "charge"]


def test_historic_tasks_filters_sorting_and_count(admin: Client, mary: Client, clock) -> None:
    deploy(admin)
    ids = []
    for key in ("ORD-1", "ORD-2"):
        ids.append(start(admin, key).json()["id"])
        clock.advance(minutes=1)
    first = _task(admin, ids[0])
    assert mary.post(f"/task/{first['id']}/claim", json={"userId": "mary"}).status_code == 204
    assert mary.post(f"/task/{first['id']}/complete", json={}).status_code == 204
    mine = admin.get("/history/task", params={"taskAssignee": "mary"}).json()
    assert [t["id"] for t in mine] == [first["id"]]
    assert admin.get("/history/task/count", params={"processDefinitionKey": "order"}).json() == {"count": 2}
    assert admin.get("/history/task/count", params={"processDefinitionKey": "other"}).json() == {"count": 0}
    assert admin.get("/history/task/count", params={"processInstanceBusinessKey": "ORD-2"}).json() == {"count": 1}
    newest = admin.get("/history/task", params={"sortBy": "startTime", "sortOrder": "desc"}).json()
    assert [t["processInstanceId"] for t in newest] == [ids[1], ids[0]]
    assert admin.get("/history/task", params={"sortBy": "endTime"}).status_code == 400
    # how each ended: Camunda's deleteReason, "completed", or "deleted" for a task its instance's end took away
    assert admin.delete(f"/process-instance/{ids[1]}").status_code == 204
    reasons = {t["processInstanceId"]: t["deleteReason"] for t in admin.get("/history/task").json()}
    assert reasons == {ids[0]: "completed", ids[1]: "deleted"}


def test_historic_variable_instances_keep_an_ended_instances_last_values(admin: Client, clock) -> None:
    flow = bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="t"/><bpmn:endEvent id="e"/>' + chain("s", "t", "e"),
                process_id="kept")
    deploy(admin, flow, "kept.bpmn")
    instance_id = admin.post("/process-definition/key/kept/start", json={
        "variables": {"amount": {"value": 5, "type": "Integer"}}}).json()["id"]
    [task] = admin.get("/task", params={"processInstanceId": instance_id}).json()
    started = admin.get(f"/history/process-instance/{instance_id}").json()["startTime"]
    clock.advance(minutes=5)
    admin.post(f"/task/{task['id']}/complete", json={"variables": {"amount": {"value": 7, "type": "Integer"},
                                                                   "note": {"value": "ok", "type": "String"}}})
    assert admin.get("/variable-instance", params={"processInstanceIdIn": instance_id}).json() == []
    historic = admin.get("/history/variable-instance", params={"processInstanceId": instance_id}).json()
    assert sorted((v["name"], v["type"], v["value"], v["state"], v["processDefinitionKey"]) for v in historic) == [
        ("amount", "Integer", 7, "CREATED", "kept"), ("note", "String", "ok", "CREATED", "kept")]
    assert admin.get("/history/variable-instance/count", params={"variableName": "note",
                                                                 "processInstanceId": instance_id}).json() == {
        "count": 1}
    # when each was first set: amount at the start (changed since), note by the completion five minutes later
    created = {v["name"]: _moment(v["createTime"]) for v in historic}
    assert created == {"amount": _moment(started), "note": _moment(started) + timedelta(minutes=5)}
    # one by id, and the query as a POST body, as Camunda's clients send them
    note = next(v for v in historic if v["name"] == "note")
    assert admin.get(f"/history/variable-instance/{note['id']}").json() == note
    assert admin.get(f"/variable-instance/{note['id']}").status_code == 404  # its instance has ended
    assert admin.get(f"/history/variable-instance/{instance_id}:nothing").status_code == 404
    posted = admin.post("/history/variable-instance", json={"processInstanceId": instance_id,
                                                            "variableValues": [{"name": "amount", "operator": "gt",
                                                                                "value": 6}]}).json()
    assert [v["name"] for v in posted] == ["amount"]
    assert admin.post("/history/variable-instance/count", json={"processInstanceIdIn": [instance_id]}).json() == {
        "count": 2}
    # Camunda's variableName with variableValue (it was refused as an unknown parameter)
    by_value = admin.get("/history/variable-instance", params={"variableName": "note", "variableValue": "ok"}).json()
    assert [(v["name"], v["processInstanceId"]) for v in by_value] == [("note", instance_id)]
    assert admin.get("/history/variable-instance/count", params={"variableName": "amount",
                                                                 "variableValue": "7"}).json() == {"count": 1}
    assert admin.post("/history/variable-instance/count", json={"variableName": "amount",
                                                                "variableValue": 5}).json() == {"count": 0}
    alone = admin.get("/history/variable-instance", params={"variableValue": "ok"})
    assert alone.status_code == 400 and "variable name and value are required" in alone.json()["message"]
    refused = admin.post("/history/variable-instance", json={"includeDeleted": True})  # not supported: said so
    assert refused.status_code == 400 and "includeDeleted" in refused.json()["message"]
    # no tenants here: a tenant filter matches nothing
    assert admin.post("/history/variable-instance", json={"tenantIdIn": ["t"]}).json() == []


def test_a_multi_instance_activity_has_its_instances_and_one_body_in_history(admin: Client, mary: Client,
                                                                             clock) -> None:
    """Camunda's history of a parallel multi-instance user task: one row per instance, with its task and assignee,
    and one `miTasks#multiInstanceBody` of type `multiInstanceBody` with none (not a fourth user task credited to
    whoever completed the last one)."""
    deploy(admin, bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="miTasks" name="Check" camunda:candidateGroups="sales">
          <bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality>
          </bpmn:multiInstanceLoopCharacteristics>
        </bpmn:userTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "miTasks", "e"), process_id="mi"), "mi.bpmn")
    instance_id = admin.post("/process-definition/key/mi/start", json={}).json()["id"]
    clock.advance(minutes=1)
    for task in admin.get("/task", params={"processInstanceId": instance_id}).json():
        assert mary.post(f"/task/{task['id']}/claim", json={"userId": "mary"}).status_code == 204
        assert mary.post(f"/task/{task['id']}/complete", json={}).status_code == 204
    rows = admin.get("/history/activity-instance", params={"processInstanceId": instance_id,
                                                           "activityId": "miTasks"}).json()
    assert [(r["activityType"], r["assignee"], r["taskId"] is not None) for r in rows] == [
        ("userTask", "mary", True)] * 3
    [body] = admin.get("/history/activity-instance", params={"processInstanceId": instance_id,
                                                             "activityType": "multiInstanceBody"}).json()
    assert (body["activityId"], body["activityName"], body["taskId"], body["assignee"]) == (
        "miTasks#multiInstanceBody", "Check", None, None)
    assert body["startTime"] == min(r["startTime"] for r in rows)  # from its first instance to its end
    assert body["endTime"] == max(r["endTime"] for r in rows) and body["durationInMillis"] == 60_000


def _moment(text: str) -> datetime:
    """A date in Camunda's format (2026-01-05T09:00:00.000+0000)."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def test_a_task_completed_without_being_claimed_has_no_assignee_in_history(admin: Client, mary: Client) -> None:
    """Completing a task does not assign it (Camunda): the historic task and its activity instance have the
    assignee the task had, none for one completed straight from the group's list."""
    deploy(admin)
    unclaimed = start(mary, "ORD-1").json()["id"]
    claimed = start(mary, "ORD-2").json()["id"]
    assert mary.post(f"/task/{_task(mary, unclaimed)['id']}/complete", json={}).status_code == 204
    task = _task(mary, claimed)
    assert mary.post(f"/task/{task['id']}/claim", json={"userId": "mary"}).status_code == 204
    assert mary.post(f"/task/{task['id']}/complete", json={}).status_code == 204
    for instance_id, assignee in ((unclaimed, None), (claimed, "mary")):
        [historic] = admin.get("/history/task", params={"processInstanceId": instance_id,
                                                        "taskDefinitionKey": "review"}).json()
        assert historic["assignee"] == assignee
        [activity] = admin.get("/history/activity-instance", params={"processInstanceId": instance_id,
                                                                     "activityId": "review"}).json()
        assert activity["assignee"] == assignee
    assert [t["processInstanceId"] for t in admin.get("/history/task", params={"taskAssignee": "mary"}).json()] \
        == [claimed]


def test_historic_instances_by_camundas_state(admin: Client) -> None:
    """`state`: ACTIVE, SUSPENDED, COMPLETED, EXTERNALLY_TERMINATED (cancelled); another value is a 400."""
    deploy(admin, bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="t"/><bpmn:endEvent id="e"/>'
                       + chain("s", "t", "e"), process_id="one"), "one.bpmn")
    running, paused, cancelled, done = (admin.post("/process-definition/key/one/start", json={}).json()["id"]
                                        for _ in range(4))
    assert admin.put(f"/process-instance/{paused}/suspended", json={"suspended": True}).status_code == 204
    assert admin.delete(f"/process-instance/{cancelled}").status_code == 204
    assert admin.post(f"/task/{_task(admin, done)['id']}/complete", json={}).status_code == 204
    for state, expected in (("ACTIVE", running), ("SUSPENDED", paused), ("EXTERNALLY_TERMINATED", cancelled),
                            ("COMPLETED", done)):
        listed = admin.get("/history/process-instance", params={"state": state}).json()
        assert [(i["id"], i["state"]) for i in listed] == [(expected, state)]
        assert admin.get("/history/process-instance/count", params={"state": state}).json() == {"count": 1}
    assert admin.get("/history/process-instance", params={"state": "RUNNING"}).status_code == 400


def test_an_event_that_never_fired_is_no_activity_instance(admin: Client) -> None:
    """A boundary event, or an event after an event-based gateway, waits as a subscription: once its scope moves
    on without it, Camunda's history has no activity instance of it (before, each showed as a cancelled one). One
    that fired is one."""
    flow = bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="review" name="Review"/>
        <bpmn:boundaryEvent id="late" attachedToRef="review" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:boundaryEvent id="withdrawn" attachedToRef="review"><bpmn:errorEventDefinition/></bpmn:boundaryEvent>
        <bpmn:eventBasedGateway id="choice"/>
        <bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="m_paid"/></bpmn:intermediateCatchEvent>
        <bpmn:intermediateCatchEvent id="expired"><bpmn:timerEventDefinition><bpmn:timeDuration>P7D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/><bpmn:endEvent id="e3"/><bpmn:endEvent id="e4"/>
        <bpmn:userTask id="chase" name="Chase"/>
        """ + chain("s", "review", "choice") + chain("late", "chase", "e1") + chain("withdrawn", "e2")
        + chain("choice", "paid", "e3") + chain("choice", "expired", "e4"),
        process_id="events", extra='<bpmn:message id="m_paid" name="paid"/>')
    assert admin.post("/deployment/create", files={"upload": ("events.bpmn", flow)}).status_code == 200
    instance = admin.post("/process-definition/key/events/start", json={}).json()["id"]
    [timer] = admin.get("/job", params={"processInstanceId": instance, "activityId": "late"}).json()
    assert admin.post(f"/job/{timer['id']}/execute").status_code == 204  # the timer fires: chase is offered
    review = next(t for t in admin.get("/task", params={"processInstanceId": instance}).json()
                  if t["taskDefinitionKey"] == "review")
    assert admin.post(f"/task/{review['id']}/complete", json={}).status_code == 204
    assert admin.post("/message", json={"messageName": "paid", "processInstanceId": instance}).status_code == 204

    def ids(**params: str) -> list[str]:
        rows = admin.get("/history/activity-instance", params={"processInstanceId": instance, **params}).json()
        return sorted(a["activityId"] for a in rows)

    assert ids(finished="true") == ["choice", "e3", "late", "paid", "review", "s"]
    assert ids(unfinished="true") == ["chase"]
    assert [a["canceled"] for a in admin.get("/history/activity-instance", params={
        "processInstanceId": instance}).json()] == [False] * 7
