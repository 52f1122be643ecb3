"""Activity statistics of a process definition over real HTTP, as Camunda's `/process-definition/{id}/statistics`
answers them: per activity the running instances waiting there (the open activities their activity trees show),
with `failedJobs` and `incidents`/`incidentsForType` when asked for."""

from __future__ import annotations

from collections import Counter
from typing import Any

from engine.api import Engine
from tests.helpers import bpmn, chain, flow
from tests.rest.conftest import Client
from tests.rest.test_jobs_and_messages import BILLING
from tests.rest.test_rest_api import deploy, start

CLASS = "org.camunda.bpm.engine.rest.dto.repository.ActivityStatisticsResultDto"

RISKY = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:scriptTask id="risky" camunda:asyncBefore="true"><bpmn:extensionElements><camunda:failedJobRetryTimeCycle>R1/PT1M</camunda:failedJobRetryTimeCycle></bpmn:extensionElements><bpmn:script>x = 1 / zero</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="e"/>""" + chain("s", "risky", "e"), process_id="async_step")

WAITS = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="review"/>
    <bpmn:boundaryEvent id="late" attachedToRef="review" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeDuration>P2D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:eventBasedGateway id="g"/>
    <bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="m"/></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="timeout"><bpmn:timerEventDefinition><bpmn:timeDuration>PT2H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="remind"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/><bpmn:endEvent id="e3"/>
    """ + chain("s", "review", "g") + flow("g", "paid") + flow("g", "timeout") + chain("paid", "e1")
    + chain("timeout", "remind", "e2") + chain("late", "e3"),
    process_id="waits", extra='<bpmn:message id="m" name="paid"/>')

CALC = bpmn("""
    <bpmn:startEvent id="s"/><bpmn:userTask id="enter"/>
    <bpmn:scriptTask id="calc"><bpmn:script>x = 1 / zero</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="check"/><bpmn:endEvent id="e"/>""" + chain("s", "enter", "calc", "check", "e"), process_id="calculation")


def stats(client: Client, path: str, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"/process-definition/{path}/statistics", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {row["id"]: row["instances"] for row in rows}


def test_each_kind_of_wait_is_counted_at_its_activity(admin: Client, mary: Client, engine: Engine, clock) -> None:
    definition = deploy(admin).json()["deployedProcessDefinitions"]
    [definition_id] = definition
    ids = [start(mary, f"B-{i}").json()["id"] for i in range(5)]
    assert counts(stats(admin, "key/order")) == {"review": 5}
    tasks = {t["processInstanceId"]: t["id"] for t in admin.get("/task").json()}
    for instance_id in ids[:3]:  # three go on to the external task
        assert admin.post(f"/task/{tasks[instance_id]}/complete", json={}).status_code == 204
    fetch = {"workerId": "w", "maxTasks": 2, "topics": [{"topicName": "payments", "lockDuration": 60000}]}
    for locked in admin.post("/external-task/fetchAndLock", json=fetch).json():  # two are paid: wait for delivery
        assert admin.post(f"/external-task/{locked['id']}/complete", json={"workerId": "w"}).status_code == 204
    delivered = {"messageName": "delivered", "processInstanceId": ids[0]}  # one delivered: the cool-off timer
    assert admin.post("/message", json=delivered).status_code == 204
    expected = {"review": 2, "charge": 1, "delivered": 1, "cool_off": 1}
    rows = stats(admin, definition_id)
    assert counts(rows) == expected
    assert [row["id"] for row in rows] == sorted(expected)
    assert rows[0] == {"@class": CLASS, "id": "charge", "instances": 1, "failedJobs": 0, "incidents": []}
    assert stats(admin, "key/order") == rows
    assert stats(admin, definition_id, failedJobs="true", incidents="true") == rows  # nothing failed

    # the same as the activity trees of the running instances say, added up
    trees = Counter(child["activityId"] for instance_id in ids
                    for child in admin.get(f"/process-instance/{instance_id}/activity-instances").json()[
                        "childActivityInstances"])
    assert dict(trees) == expected

    # a suspended instance still waits where it was (Camunda counts it); an ended one is gone
    assert admin.put(f"/process-instance/{ids[4]}/suspended", json={"suspended": True}).status_code == 204
    assert counts(stats(admin, definition_id))["review"] == 2
    assert admin.delete(f"/process-instance/{ids[3]}").status_code == 204
    assert counts(stats(admin, definition_id)) == {**expected, "review": 1}


def test_a_new_version_is_counted_on_its_own(admin: Client, mary: Client) -> None:
    first = deploy(admin).json()
    start(mary, "B-1")
    second = deploy(admin).json()  # no duplicate filtering: version 2
    start(mary, "B-2")
    start(mary, "B-3")
    [v1], [v2] = first["deployedProcessDefinitions"], second["deployedProcessDefinitions"]
    assert counts(stats(admin, v1)) == {"review": 1}
    assert counts(stats(admin, v2)) == counts(stats(admin, "key/order")) == {"review": 2}


def test_a_boundary_event_waits_with_its_activity_and_a_gateways_events_count_as_the_gateway(
        admin: Client, engine: Engine) -> None:
    engine.definitions.deploy([("waits.bpmn", WAITS)])
    ids = [engine.instances.start("waits").id for _ in range(3)]
    assert counts(stats(admin, "key/waits")) == {"review": 3}
    for instance_id in ids[:2]:
        [task] = admin.get("/task", params={"processInstanceId": instance_id}).json()
        assert admin.post(f"/task/{task['id']}/complete", json={}).status_code == 204
    assert counts(stats(admin, "key/waits")) == {"review": 1, "g": 2}  # one wait each, message and timer alike
    trees = Counter(child["activityId"] for instance_id in ids
                    for child in admin.get(f"/process-instance/{instance_id}/activity-instances").json()[
                        "childActivityInstances"])
    assert dict(trees) == {"review": 1, "g": 2}


def test_failed_jobs_and_incidents_are_shown_when_asked_for(admin: Client, engine: Engine) -> None:
    engine.definitions.deploy([("billing.bpmn", BILLING)])
    failing = engine.instances.start("billing", variables={"amount": 100, "divisor": 0}).id
    engine.instances.start("billing", variables={"amount": 100, "divisor": 4})
    [job] = admin.get("/job", params={"processInstanceId": failing}).json()
    assert admin.post(f"/job/{job['id']}/execute").status_code == 400  # a retry taken off: not failed yet
    assert stats(admin, "key/billing", failedJobs="true", incidents="true")[0]["failedJobs"] == 0
    assert admin.put(f"/job/{job['id']}/retries", json={"retries": 0}).status_code == 204  # now an incident

    plain = {"@class": CLASS, "id": "wait_a_day", "instances": 2, "failedJobs": 0, "incidents": []}
    assert stats(admin, "key/billing") == [plain]
    assert stats(admin, "key/billing", failedJobs="true") == [{**plain, "failedJobs": 1}]
    incident = [{"incidentType": "failedJob", "incidentCount": 1}]
    assert stats(admin, "key/billing", incidents="true") == [{**plain, "incidents": incident}]
    assert stats(admin, "key/billing", incidents="false") == [plain]
    assert stats(admin, "key/billing", incidentsForType="failedJob") == [{**plain, "incidents": incident}]
    assert stats(admin, "key/billing", incidentsForType="failedExternalTask") == [plain]
    assert stats(admin, "key/billing", failedJobs="true", incidents="true") == [
        {**plain, "failedJobs": 1, "incidents": incident}]

    assert admin.put(f"/job/{job['id']}/retries", json={"retries": 1}).status_code == 204  # resolved
    assert stats(admin, "key/billing", failedJobs="true", incidents="true") == [plain]


def test_an_async_step_waiting_or_failed_counts_at_its_activity(admin: Client, engine: Engine) -> None:
    engine.definitions.deploy([("risky.bpmn", RISKY)])
    engine.instances.start("async_step", variables={"zero": 0})
    engine.instances.start("async_step", variables={"zero": 1})
    assert counts(stats(admin, "key/async_step")) == {"risky": 2}  # both wait for their job (Camunda: an execution)
    engine.jobs.execute_due()  # one goes through and ends, the other fails its only try
    assert stats(admin, "key/async_step", failedJobs="true", incidents="true") == [
        {"@class": CLASS, "id": "risky", "instances": 1, "failedJobs": 1,
         "incidents": [{"incidentType": "failedJob", "incidentCount": 1}]}]


def test_an_external_task_failure_is_a_failed_external_task_incident_not_a_failed_job(
        admin: Client, mary: Client) -> None:
    deploy(admin)
    start(mary)
    [task] = mary.get("/task").json()
    mary.post(f"/task/{task['id']}/complete", json={})
    fetch = {"workerId": "w", "maxTasks": 1, "topics": [{"topicName": "payments", "lockDuration": 1000}]}
    [locked] = mary.post("/external-task/fetchAndLock", json=fetch).json()
    assert mary.post(f"/external-task/{locked['id']}/failure", json={
        "workerId": "w", "errorMessage": "psp down", "retries": 0, "retryTimeout": 0}).status_code == 204
    assert stats(admin, "key/order", failedJobs="true", incidents="true") == [
        {"@class": CLASS, "id": "charge", "instances": 1, "failedJobs": 0,
         "incidents": [{"incidentType": "failedExternalTask", "incidentCount": 1}]}]
    assert stats(admin, "key/order", incidentsForType="failedJob")[0]["incidents"] == []


def test_an_activity_with_only_an_incident_is_listed_when_incidents_are_asked_for(admin: Client,
                                                                                  engine: Engine) -> None:
    engine.definitions.deploy([("calc.bpmn", CALC)])
    engine.instances.start("calculation", variables={"zero": 0})
    [task] = admin.get("/task").json()
    failed = admin.post(f"/task/{task['id']}/complete", json={})  # the script after it fails: undone
    assert failed.status_code == 400 and failed.json()["type"] == "ScriptEvaluationException"
    assert counts(stats(admin, "key/calculation")) == {"enter": 1}
    assert stats(admin, "key/calculation", incidents="true") == [
        {"@class": CLASS, "id": "calc", "instances": 0, "failedJobs": 0,
         "incidents": [{"incidentType": "failedScript", "incidentCount": 1}]},
        {"@class": CLASS, "id": "enter", "instances": 1, "failedJobs": 0, "incidents": []}]


def test_bad_input_and_unknown_definitions(admin: Client, mary: Client) -> None:
    deploy(admin)
    start(mary)
    both = admin.get("/process-definition/key/order/statistics", params={"incidents": "true",
                                                                          "incidentsForType": "failedJob"})
    assert both.status_code == 400
    assert both.json() == {"type": "InvalidRequestException", "code": 0, "message": "Only one of the query parameter "
                           "includeIncidents or includeIncidentsForType can be set."}
    bad = admin.get("/process-definition/key/order/statistics", params={"failedJobs": "maybe"})
    assert bad.status_code == 400 and "failedJobs" in bad.json()["message"]
    unknown_key = admin.get("/process-definition/key/nope/statistics")
    assert unknown_key.status_code == 404 and unknown_key.json()["type"] == "InvalidRequestException"
    assert stats(admin, "no-such-definition") == []  # Camunda's query by id: nothing runs there
    # counts over every instance, with failed jobs and incidents: admins only, as /incident and /job
    for path in ("/process-definition/key/order/statistics", "/process-definition/statistics"):
        refused = mary.get(path)
        assert refused.status_code == 403 and "admins" in refused.json()["message"], path


def test_field_names_agree_with_the_definition_statistics(admin: Client, mary: Client) -> None:
    deploy(admin)
    start(mary)
    [by_definition] = admin.get("/process-definition/statistics").json()
    [by_activity] = stats(admin, "key/order")
    assert set(by_activity) == set(by_definition) - {"definition", "tenantId"}
    assert by_activity["@class"].rsplit(".", 1)[0] == by_definition["@class"].rsplit(".", 1)[0]


def test_the_definition_statistics_count_failed_jobs_and_incidents_by_their_type(admin: Client, engine: Engine,
                                                                                 mary: Client) -> None:
    """`/process-definition/statistics`: failed jobs and incidents of each definition, of their real type, and
    only when asked for."""
    engine.definitions.deploy([("billing.bpmn", BILLING), ("calc.bpmn", CALC)])
    failing = engine.instances.start("billing", variables={"amount": 100, "divisor": 0}).id
    [job] = admin.get("/job", params={"processInstanceId": failing}).json()
    assert admin.put(f"/job/{job['id']}/retries", json={"retries": 0}).status_code == 204
    engine.instances.start("calculation", variables={"zero": 0})
    [task] = admin.get("/task").json()
    assert admin.post(f"/task/{task['id']}/complete", json={}).status_code == 400  # a failedScript incident

    def by_key(**params: str) -> dict[str, tuple[int, int, list[dict[str, Any]]]]:
        response = admin.get("/process-definition/statistics", params=params)
        assert response.status_code == 200, response.text
        return {row["definition"]["key"]: (row["instances"], row["failedJobs"], row["incidents"])
                for row in response.json()}

    assert by_key() == {"billing": (1, 0, []), "calculation": (1, 0, [])}
    failed_job = [{"incidentType": "failedJob", "incidentCount": 1}]
    failed_script = [{"incidentType": "failedScript", "incidentCount": 1}]
    assert by_key(failedJobs="true", incidents="true") == {"billing": (1, 1, failed_job),
                                                            "calculation": (1, 0, failed_script)}
    assert by_key(incidentsForType="failedScript") == {"billing": (1, 0, []), "calculation": (1, 0, failed_script)}
    both = admin.get("/process-definition/statistics", params={"incidents": "true", "incidentsForType": "x"})
    assert both.status_code == 400 and "includeIncidentsForType" in both.json()["message"]


def test_a_cancelled_instances_incidents_go_with_it(admin: Client, engine: Engine) -> None:
    """Camunda removes an instance's incidents with it: neither `/incident` nor any statistics count them."""
    engine.definitions.deploy([("risky.bpmn", RISKY)])
    doomed = engine.instances.start("async_step", variables={"zero": 0}).id
    kept = engine.instances.start("async_step", variables={"zero": 0}).id
    engine.jobs.execute_due()  # both fail their only try: two failedJob incidents
    assert len(admin.get("/incident").json()) == 2
    assert admin.delete(f"/process-instance/{doomed}").status_code == 204
    [left] = admin.get("/incident").json()
    assert left["processInstanceId"] == kept
    one = [{"incidentType": "failedJob", "incidentCount": 1}]
    assert stats(admin, "key/async_step", incidents="true")[0]["incidents"] == one
    [by_definition] = admin.get("/process-definition/statistics", params={"incidents": "true"}).json()
    assert by_definition["incidents"] == one
