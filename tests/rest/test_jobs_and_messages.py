"""Jobs, incidents, correlate-all and the activity tree over real HTTP, as Camunda's REST clients use them; and the
repository queries (definitions, deployments) with Camunda's filters."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.helpers import bpmn, chain, flow
from tests.rest.conftest import Client
from tests.rest.test_rest_api import deploy

BILLING = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:intermediateCatchEvent id="wait_a_day" name="Wait a day"><bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="charge" name="Charge"><bpmn:script>fee = amount / divisor</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="check" name="Check the fee"/>
    <bpmn:endEvent id="e"/>
    """ + chain("s", "wait_a_day", "charge", "check", "e"), process_id="billing", name="Billing")


def _start(admin: Client, divisor: int) -> str:
    deploy(admin, BILLING, "billing.bpmn")
    response = admin.post("/process-definition/key/billing/start", json={"variables": {
        "amount": {"value": 100, "type": "Integer"}, "divisor": {"value": divisor, "type": "Integer"}}})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def test_execute_runs_a_timer_job_before_it_is_due(admin: Client) -> None:
    instance_id = _start(admin, divisor=4)
    [job] = admin.get("/job", params={"processInstanceId": instance_id}).json()
    assert admin.post(f"/job/{job['id']}/execute").status_code == 204
    assert admin.get("/job/count", params={"processInstanceId": instance_id}).json() == {"count": 0}
    assert admin.get(f"/process-instance/{instance_id}/variables/fee").json()["value"] == 25
    [task] = admin.get("/task", params={"processInstanceId": instance_id}).json()
    assert task["taskDefinitionKey"] == "check"


def test_a_failing_execute_takes_a_retry_off_and_zero_retries_make_an_incident(admin: Client) -> None:
    instance_id = _start(admin, divisor=0)
    [job] = admin.get("/job", params={"processInstanceId": instance_id}).json()
    failed = admin.post(f"/job/{job['id']}/execute")
    assert failed.status_code == 400  # Stageflow's ScriptEvaluationException (Camunda answers 500)
    assert failed.json()["type"] == "ScriptEvaluationException"
    [after] = admin.get("/job", params={"withException": "true"}).json()
    assert (after["id"], after["retries"], after["processDefinitionKey"]) == (job["id"], 2, "billing")
    assert after["exceptionMessage"]
    assert admin.get("/job/count", params={"noRetriesLeft": "true"}).json() == {"count": 0}
    assert admin.get("/incident/count").json() == {"count": 0}
    assert admin.put(f"/job/{job['id']}/retries", json={"retries": 0}).status_code == 204
    assert admin.get("/job/count", params={"noRetriesLeft": "true"}).json() == {"count": 1}
    assert admin.get("/job/count", params={"executable": "true"}).json() == {"count": 0}
    [incident] = admin.get("/incident", params={"processInstanceId": instance_id}).json()
    assert (incident["incidentType"], incident["jobId"]) == ("failedJob", job["id"])
    assert admin.get("/incident/count", params={"processInstanceId": instance_id}).json() == {"count": 1}
    assert admin.put(f"/job/{job['id']}/retries", json={"retries": 1}).status_code == 204
    assert admin.get("/incident/count").json() == {"count": 0}


def test_execute_of_a_job_that_cannot_run_says_so_instead_of_204(admin: Client) -> None:
    """Camunda's 204 means the job ran: a suspended one is refused, and stays (an operator's script must not
    report a success that did not happen)."""
    instance_id = _start(admin, divisor=4)
    [job] = admin.get("/job", params={"processInstanceId": instance_id}).json()
    assert admin.put(f"/process-instance/{instance_id}/suspended", json={"suspended": True}).status_code == 204
    assert admin.get("/job/count", params={"executable": "true", "processInstanceId": instance_id}).json() == {
        "count": 0}  # not due yet
    refused = admin.post(f"/job/{job['id']}/execute")
    assert (refused.status_code, refused.json()["type"]) == (409, "SuspendedEntityInteractionException")
    assert admin.get("/job/count", params={"processInstanceId": instance_id}).json() == {"count": 1}
    assert admin.get("/task/count", params={"processInstanceId": instance_id}).json() == {"count": 0}
    assert admin.put(f"/job/{job['id']}/duedate", json={"duedate": None}).status_code == 204  # due at once
    # Camunda's `executable`: retries left and due, suspended or not (`active=true` leaves it out)
    assert admin.get("/job/count", params={"executable": "true", "processInstanceId": instance_id}).json() == {
        "count": 1}
    assert admin.get("/job/count", params={"executable": "true", "active": "true",
                                           "processInstanceId": instance_id}).json() == {"count": 0}


def test_a_timer_job_run_early_that_failed_fires_when_retried(admin: Client) -> None:
    """Execute before its due time, fail, fix the cause, give it a retry, execute: the timer fires (the failed
    try's early firing was rolled back with it, and must not send the job back to its first due time)."""
    instance_id = _start(admin, divisor=0)
    [job] = admin.get("/job", params={"processInstanceId": instance_id}).json()
    assert admin.post(f"/job/{job['id']}/execute").status_code == 400  # the script divides by zero
    assert admin.put(f"/process-instance/{instance_id}/variables/divisor",
                     json={"value": 4, "type": "Integer"}).status_code == 204
    assert admin.put(f"/job/{job['id']}/retries", json={"retries": 1}).status_code == 204
    assert admin.post(f"/job/{job['id']}/execute").status_code == 204
    assert admin.get(f"/process-instance/{instance_id}/variables/fee").json()["value"] == 25
    assert [t["taskDefinitionKey"] for t in admin.get("/task", params={"processInstanceId": instance_id}).json()] \
        == ["check"]


def test_failed_activity_is_where_the_try_failed_not_the_jobs_timer(admin: Client) -> None:
    """The timer fires, then the script after it fails: Camunda's failedActivityId names the script, the job's
    and the incident's activityId the timer."""
    instance_id = _start(admin, divisor=0)
    [job] = admin.get("/job", params={"processInstanceId": instance_id}).json()
    assert job["failedActivityId"] is None
    assert admin.post(f"/job/{job['id']}/execute").status_code == 400
    failed = admin.get(f"/job/{job['id']}").json()
    assert (failed["activityId"], failed["failedActivityId"]) == ("wait_a_day", "charge")
    assert admin.put(f"/job/{job['id']}/retries", json={"retries": 0}).status_code == 204
    [incident] = admin.get("/incident", params={"failedActivityId": "charge"}).json()
    assert (incident["activityId"], incident["failedActivityId"]) == ("wait_a_day", "charge")
    assert admin.get("/incident/count", params={"failedActivityId": "wait_a_day"}).json() == {"count": 0}
    [past] = admin.get("/history/incident", params={"processInstanceId": instance_id}).json()
    assert past["failedActivityId"] == "charge"


def test_new_retries_start_at_the_due_date_given(admin: Client) -> None:
    instance_id = _start(admin, divisor=0)
    [job] = admin.get("/job", params={"processInstanceId": instance_id}).json()
    assert admin.post(f"/job/{job['id']}/execute").status_code == 400
    later = "2030-06-01T00:00:00.000+0000"
    assert admin.put(f"/job/{job['id']}/retries", json={"retries": 2, "dueDate": later}).status_code == 204
    after = admin.get(f"/job/{job['id']}").json()
    assert (after["retries"], after["dueDate"]) == (2, later)
    wrong = admin.put(f"/job/{job['id']}/retries", json={"retries": None})
    assert (wrong.status_code, wrong.json()["message"]) == (400, "retries: null is not of type 'integer'")
    wrong = admin.put(f"/job/{job['id']}/retries", json={"retries": 1, "dueDate": "soon"})
    assert wrong.status_code == 400
    assert wrong.json()["message"].startswith("Cannot set 'dueDate' of the request body to value 'soon'")


ALARM = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:intermediateCatchEvent id="alarm_heard"><bpmn:signalEventDefinition signalRef="alarm"/></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="evacuate"/><bpmn:endEvent id="e"/>
    """ + chain("s", "alarm_heard", "evacuate", "e"), process_id="drill",
    extra='<bpmn:signal id="alarm" name="alarm"/>')


def test_a_signal_to_one_execution_reaches_it_or_says_why_not(admin: Client) -> None:
    """Camunda's signal to one execution: an unknown one, one not waiting for the signal, a suspended one and a
    tenant given with it are errors (not a 204 that delivered nothing); a tenant's broadcast reaches nothing."""
    deploy(admin, ALARM, "drill.bpmn")
    first, second = (admin.post("/process-definition/key/drill/start", json={}).json()["id"] for _ in range(2))
    busy = _start(admin, divisor=4)  # waits on a timer, not for the signal

    def tasks(instance_id: str) -> list[str]:
        return [t["taskDefinitionKey"] for t in admin.get("/task", params={"processInstanceId": instance_id}).json()]

    assert admin.post("/signal", json={"name": "alarm", "executionId": "nope"}).status_code == 404
    refused = admin.post("/signal", json={"name": "alarm", "executionId": busy})
    assert refused.status_code == 400 and "has not subscribed to a signal event with name 'alarm'" in refused.text
    assert admin.post("/signal", json={"name": "alarm", "executionId": first, "tenantId": "t"}).status_code == 400
    assert admin.post("/signal", json={"name": "alarm", "tenantId": "t"}).status_code == 204
    assert tasks(first) == tasks(second) == []  # Stageflow has no tenants: nothing of tenant t waited
    assert admin.put(f"/process-instance/{second}/suspended", json={"suspended": True}).status_code == 204
    held = admin.post("/signal", json={"name": "alarm", "executionId": second})
    assert (held.status_code, held.json()["type"]) == (409, "SuspendedEntityInteractionException")
    assert admin.post("/signal", json={"name": "alarm", "executionId": first}).status_code == 204
    assert (tasks(first), tasks(second)) == (["evacuate"], [])


DECIDE_ON_ARRIVAL = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:exclusiveGateway id="first_look"/>
    <bpmn:intermediateCatchEvent id="arrives"><bpmn:messageEventDefinition messageRef="m_parcel"/></bpmn:intermediateCatchEvent>
    <bpmn:exclusiveGateway id="inspect"/>
    <bpmn:userTask id="accept"/><bpmn:userTask id="send_back"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
    """ + chain("s", "first_look") + flow("first_look", "arrives", "${express}") + flow("first_look", "inspect",
                                                                                      "${!express}")
    + chain("arrives", "inspect") + flow("inspect", "accept", "${intact}") + flow("inspect", "send_back", "${!intact}")
    + chain("accept", "e1") + chain("send_back", "e2"), process_id="parcel",
    extra='<bpmn:message id="m_parcel" name="parcel-arrived"/>')


def test_transient_variables_steer_the_change_that_sets_them_and_are_never_stored(admin: Client) -> None:
    """Camunda's `valueInfo.transient`: the gateway of the same change reads it; no variable, history row or
    later read has it; one may not take the name of a stored variable."""
    deploy(admin, DECIDE_ON_ARRIVAL, "parcel.bpmn")
    transient = {"type": "Boolean", "valueInfo": {"transient": True}}
    started = admin.post("/process-definition/key/parcel/start", json={"variables": {
        "express": {**transient, "value": True}, "sender": {"value": "ACME", "type": "String"}}})
    assert started.status_code == 200, started.text
    instance_id = started.json()["id"]
    assert admin.get(f"/process-instance/{instance_id}/variables").json() == {
        "sender": {"value": "ACME", "type": "String", "valueInfo": {}}}
    correlated = admin.post("/message", json={"messageName": "parcel-arrived", "processInstanceId": instance_id,
                                              "processVariables": {"intact": {**transient, "value": False},
                                                                   "note": {"value": "wet", "type": "String"}}})
    assert correlated.status_code == 204, correlated.text
    [task] = admin.get("/task", params={"processInstanceId": instance_id}).json()
    assert task["taskDefinitionKey"] == "send_back"
    assert sorted(admin.get(f"/process-instance/{instance_id}/variables").json()) == ["note", "sender"]
    stored = {v["name"] for v in admin.get("/history/variable-instance",
                                           params={"processInstanceId": instance_id}).json()}
    assert stored == {"note", "sender"}
    clash = admin.put(f"/process-instance/{instance_id}/variables/sender",
                      json={"value": "other", "type": "String", "valueInfo": {"transient": True}})
    assert clash.status_code == 400
    assert "Cannot set transient variable with name sender" in clash.json()["message"]
    assert admin.get(f"/process-instance/{instance_id}/variables/sender").json()["value"] == "ACME"
    # transient for the request that said so only: the same name later, not transient, is stored
    for _ in range(4):  # (whichever of the server's threads answers)
        assert admin.put(f"/process-instance/{instance_id}/variables/express",
                         json={"value": True, "type": "Boolean"}).status_code == 204
    assert admin.get(f"/process-instance/{instance_id}/variables/express").json()["value"] is True


def test_job_filters(admin: Client) -> None:
    instance_id = _start(admin, divisor=4)
    assert admin.get("/job/count", params={"timers": "true"}).json() == {"count": 1}
    assert admin.get("/job/count", params={"messages": "true"}).json() == {"count": 0}
    assert admin.get("/job/count", params={"activityId": "wait_a_day"}).json() == {"count": 1}
    assert admin.get("/job/count", params={"activityId": "charge"}).json() == {"count": 0}
    assert admin.get("/job/count", params={"executable": "true"}).json() == {"count": 0}  # due tomorrow
    listed = admin.get("/job", params={"sortBy": "jobDueDate", "sortOrder": "desc"}).json()
    assert [j["processInstanceId"] for j in listed] == [instance_id]
    assert admin.get("/job", params={"timers": "true", "messages": "true"}).status_code == 400

    # Camunda's dueDates (gt_ and lt_ conditions) was refused as an unknown parameter
    [job] = listed
    due = datetime.strptime(job["dueDate"], "%Y-%m-%dT%H:%M:%S.%f%z")

    def due_count(*conditions: tuple[str, timedelta]) -> int:
        text = ",".join(f"{op}_{(due + shift).strftime('%Y-%m-%dT%H:%M:%S.000%z')}" for op, shift in conditions)
        answer = admin.get("/job/count", params={"dueDates": text})
        assert answer.status_code == 200, answer.text
        return answer.json()["count"]

    hour = timedelta(hours=1)
    assert due_count(("gt", -hour), ("lt", hour)) == 1
    assert due_count(("gt", hour)) == 0 and due_count(("lt", -hour)) == 0
    wrong = admin.get("/job", params={"dueDates": "eq_2026-01-01T00:00:00.000+0000"})
    assert wrong.status_code == 400 and "gt_DATE or lt_DATE" in wrong.json()["message"]


def test_correlate_all_with_nothing_waiting_is_an_empty_result(admin: Client) -> None:
    assert admin.post("/message", json={"messageName": "nobody-waits", "all": True}).status_code == 204
    result = admin.post("/message", json={"messageName": "nobody-waits", "all": True, "resultEnabled": True})
    assert (result.status_code, result.json()) == (200, [])
    single = admin.post("/message", json={"messageName": "nobody-waits"})
    assert single.status_code == 400 and "no process instance waits" in single.json()["message"]
    assert single.json()["type"] == "MismatchingMessageCorrelationException"  # as Camunda's, clients branch on it


def test_the_activity_tree_names_types_and_names(admin: Client) -> None:
    instance_id = _start(admin, divisor=4)
    tree = admin.get(f"/process-instance/{instance_id}/activity-instances").json()
    assert (tree["activityType"], tree["activityName"]) == ("processDefinition", "Billing")
    [child] = tree["childActivityInstances"]
    assert (child["activityId"], child["activityType"], child["activityName"]) == \
        ("wait_a_day", "intermediateTimer", "Wait a day")
    [waiting] = admin.get("/history/activity-instance", params={"processInstanceId": instance_id,
                                                                "unfinished": "true"}).json()
    assert (waiting["activityId"], waiting["activityType"], waiting["endTime"]) == \
        ("wait_a_day", "intermediateTimer", None)
    assert child["id"] == waiting["id"]  # one activity instance, one id, whichever endpoint names it
    historic = admin.get(f"/history/process-instance/{instance_id}").json()
    assert (historic["processDefinitionName"], historic["processDefinitionVersion"]) == ("Billing", 1)
    [job] = admin.get("/job", params={"processInstanceId": instance_id}).json()
    admin.post(f"/job/{job['id']}/execute")
    [child] = admin.get(f"/process-instance/{instance_id}/activity-instances").json()["childActivityInstances"]
    assert (child["activityType"], child["activityName"]) == ("userTask", "Check the fee")
    [task] = admin.get("/task", params={"processInstanceId": instance_id}).json()
    assert child["id"] == f"check:{task['id']}"


def test_the_activity_tree_shows_an_activitys_open_incident(admin: Client) -> None:
    instance_id = _start(admin, divisor=0)
    [job] = admin.get("/job", params={"processInstanceId": instance_id}).json()
    admin.post(f"/job/{job['id']}/execute")
    assert admin.put(f"/job/{job['id']}/retries", json={"retries": 0}).status_code == 204
    [incident] = admin.get("/incident", params={"processInstanceId": instance_id}).json()
    [child] = admin.get(f"/process-instance/{instance_id}/activity-instances").json()["childActivityInstances"]
    assert child["activityId"] == incident["activityId"] == "wait_a_day"
    assert child["incidentIds"] == [incident["id"]]


def test_definitions_and_deployments_with_camunda_filters(admin: Client) -> None:
    deploy(admin, BILLING, "billing.bpmn")
    order = deploy(admin).json()
    assert [d["key"] for d in admin.get("/process-definition", params={"keyLike": "bill%"}).json()] == ["billing"]
    assert [d["key"] for d in admin.get("/process-definition", params={"name": "Billing"}).json()] == ["billing"]
    assert [d["key"] for d in admin.get("/process-definition", params={"nameLike": "%ill%"}).json()] == ["billing"]
    by_deployment = admin.get("/process-definition", params={"deploymentId": order["id"]}).json()
    assert [d["key"] for d in by_deployment] == ["order"]
    assert admin.get("/process-definition/count", params={"keyLike": "%r%"}).json() == {"count": 1}
    desc = admin.get("/process-definition", params={"sortBy": "key", "sortOrder": "desc"}).json()
    assert [d["key"] for d in desc] == ["order", "billing"]
    assert admin.get("/deployment/count", params={"name": "test"}).json() == {"count": 2}
    assert admin.get("/deployment", params={"name": "nope"}).json() == []
    assert admin.get("/deployment/count", params={"nameLike": "te%"}).json() == {"count": 2}
    newest = admin.get("/deployment", params={"sortBy": "deploymentTime", "sortOrder": "asc"}).json()
    assert len(newest) == 2


def test_a_failed_jobs_stacktrace_is_its_failure_as_plain_text(admin: Client) -> None:
    instance_id = _start(admin, divisor=0)
    [job] = admin.get("/job", params={"processInstanceId": instance_id}).json()
    before = admin.get(f"/job/{job['id']}/stacktrace")
    assert (before.status_code, before.text) == (200, "")  # not failed yet
    assert admin.post(f"/job/{job['id']}/execute").status_code == 400
    trace = admin.get(f"/job/{job['id']}/stacktrace")
    assert trace.status_code == 200 and trace.headers["Content-Type"].startswith("text/plain")
    assert "ZeroDivisionError" in trace.text and "charge" in trace.text
    missing = admin.get("/job/no-such-job/stacktrace")
    assert missing.status_code == 404 and "no-such-job" in missing.json()["message"]


def test_task_form_and_start_form_give_the_form_key(admin: Client) -> None:
    keyed = bpmn("""<bpmn:startEvent id="s" camunda:formKey="embedded:app:forms/start.html"/>
        <bpmn:userTask id="prepare" camunda:formKey="embedded:app:forms/prepare.html"/><bpmn:endEvent id="e"/>"""
                 + chain("s", "prepare", "e"), process_id="keyed")
    deploy(admin, keyed, "keyed.bpmn")
    assert admin.get("/process-definition/key/keyed/startForm").json() == {
        "key": "embedded:app:forms/start.html", "contextPath": None}
    instance_id = admin.post("/process-definition/key/keyed/start", json={}).json()["id"]
    [task] = admin.get("/task", params={"processInstanceId": instance_id}).json()
    assert task["formKey"] == "embedded:app:forms/prepare.html"
    assert admin.get(f"/task/{task['id']}/form").json() == {"key": "embedded:app:forms/prepare.html",
                                                            "contextPath": None}
    assert admin.get("/task/no-such-task/form").status_code == 404


def test_correlation_and_start_options_stageflow_lacks_are_refused_not_ignored(admin: Client) -> None:
    for body in ({"messageName": "m", "localCorrelationKeys": {"k": {"value": 1, "type": "Integer"}}},
                 {"messageName": "m", "processVariablesLocal": {"k": {"value": 1, "type": "Integer"}}},
                 {"messageName": "m", "tenantId": "t1"}):
        refused = admin.post("/message", json=body)
        assert refused.status_code == 400, refused.text
        assert ("not supported" in refused.json()["message"] if "tenantId" not in body
                else "no tenants" in refused.json()["message"])
    _start(admin, divisor=4)
    started = admin.post("/process-definition/key/billing/start", json={
        "startInstructions": [{"type": "startBeforeActivity", "activityId": "check"}]})
    assert started.status_code == 400 and "startInstructions" in started.json()["message"]
    assert admin.get("/process-instance/count").json()["count"] == 1  # only the first started


def test_deleting_a_missing_instance_with_fail_if_not_exists_false_is_no_error(admin: Client) -> None:
    assert admin.delete("/process-instance/no-such", params={"failIfNotExists": "false"}).status_code == 204
    assert admin.delete("/process-instance/no-such").status_code == 404


def test_a_double_that_is_not_finite_is_refused(admin: Client) -> None:
    deploy(admin, BILLING, "billing.bpmn")
    for text in ("1e400", "nan", "-inf"):
        refused = admin.post("/process-definition/key/billing/start",
                             json={"variables": {"ratio": {"value": text, "type": "Double"}}})
        assert refused.status_code == 400 and "not a finite Double" in refused.json()["message"], refused.text


def test_a_refused_deployment_reports_per_resource_as_camundas_parse_exception(admin: Client) -> None:
    broken = bpmn('<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>' + flow("s", "nowhere", flow_id="f"),
                  process_id="broken")
    refused = admin.post("/deployment/create", files={"upload": ("broken.bpmn", broken)})
    assert refused.status_code == 400
    body = refused.json()
    assert body["type"] == "ParseException"
    [problem] = body["details"]["broken.bpmn"]["errors"]
    assert (problem["mainElementId"], problem["elementIds"]) == ("f", ["f"])
    assert problem["line"] and "nowhere" in problem["message"]
    assert problem["column"] is None  # a diagram's element has a line, not a column
    assert body["details"]["broken.bpmn"]["warnings"] == []
    malformed = admin.post("/deployment/create", files={"upload": ("bad.bpmn", b"<definitions>\n  <a></b>")})
    [problem] = malformed.json()["details"]["bad.bpmn"]["errors"]
    assert (problem["line"], problem["column"]) == (2, 10)  # where the XML parser stopped, as Camunda fills it
    assert "(column 10)" in problem["message"]


def test_incidents_decisions_and_variables_answer_in_the_shape_camunda_clients_read(admin: Client) -> None:
    """pycamunda and the like index these fields: each must be there (null where Stageflow has no such thing)."""
    instance_id = _start(admin, divisor=0)
    [job] = admin.get("/job", params={"processInstanceId": instance_id}).json()
    admin.post(f"/job/{job['id']}/execute")
    assert admin.put(f"/job/{job['id']}/retries", json={"retries": 0}).status_code == 204
    [incident] = admin.get("/incident").json()
    assert (incident["causeIncidentId"], incident["rootCauseIncidentId"]) == (incident["id"], incident["id"])
    assert admin.get(f"/incident/{incident['id']}").json() == incident
    assert admin.get("/incident/no-such").status_code == 404
    assert admin.get("/incident/count").json() == {"count": 1}
    assert {"jobDefinitionId", "annotation"} <= set(incident)
    variables = admin.get("/variable-instance", params={"deserializeValues": "false",
                                                        "processInstanceIdIn": instance_id})
    assert variables.status_code == 200 and {v["name"] for v in variables.json()} == {"amount", "divisor"}
    assert admin.get(f"/process-instance/{instance_id}/variables",
                     params={"deserializeValues": "true"}).status_code == 200


def test_work_on_a_suspended_instance_is_not_an_optimistic_locking_conflict(admin: Client) -> None:
    """Clients retry an OptimisticLockingException; a suspension needs a person: Camunda's own type for it."""
    deploy(admin, bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="t"/><bpmn:endEvent id="e"/>'
                       + chain("s", "t", "e"), process_id="held"), "held.bpmn")
    instance_id = admin.post("/process-definition/key/held/start", json={}).json()["id"]
    [task] = admin.get("/task", params={"processInstanceId": instance_id}).json()
    assert admin.put(f"/process-instance/{instance_id}/suspended", json={"suspended": True}).status_code == 204
    refused = admin.post(f"/task/{task['id']}/complete", json={})
    assert (refused.status_code, refused.json()["type"]) == (409, "SuspendedEntityInteractionException")


def test_the_instances_of_a_key_or_a_definition_or_those_named_are_suspended_at_once(admin: Client) -> None:
    """Camunda's `PUT /process-instance/suspended`; an endpoint of Camunda's that Stageflow lacks, whose path a
    route reads as an id, says that it is not supported (not a 405)."""
    deploy(admin, bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="t"/><bpmn:endEvent id="e"/>'
                       + chain("s", "t", "e"), process_id="held"), "held.bpmn")
    ids = [admin.post("/process-definition/key/held/start", json={}).json()["id"] for _ in range(3)]

    def states() -> list[bool]:
        return [admin.get(f"/process-instance/{i}").json()["suspended"] for i in ids]

    assert admin.put("/process-instance/suspended", json={"processDefinitionKey": "held",
                                                          "suspended": True}).status_code == 204
    assert states() == [True, True, True]
    refused = admin.post(f"/task/{admin.get('/task', params={'processInstanceId': ids[0]}).json()[0]['id']}/complete",
                         json={})
    assert refused.status_code == 409
    assert admin.put("/process-instance/suspended", json={"processInstanceIds": ids[:2],
                                                          "suspended": False}).status_code == 204
    assert states() == [False, False, True]
    definition_id = admin.get(f"/process-instance/{ids[2]}").json()["definitionId"]
    assert admin.put("/process-instance/suspended", json={"processDefinitionId": definition_id,
                                                          "suspended": False}).status_code == 204
    assert states() == [False, False, False]
    both = admin.put("/process-instance/suspended", json={"processDefinitionKey": "held", "processInstanceIds": ids,
                                                          "suspended": True})
    assert both.status_code == 400 and states() == [False, False, False]
    assert admin.put("/process-instance/suspended", json={"processDefinitionKey": "nope",
                                                          "suspended": True}).status_code == 404
    assert admin.put("/process-instance/suspended", json={"processInstanceIds": [ids[0], "gone"],
                                                          "suspended": True}).status_code == 404
    assert states() == [False, False, False]  # nothing changed by a refused request
    lacking = admin.put("/job/suspended", json={"processDefinitionKey": "held", "suspended": True})
    assert (lacking.status_code, lacking.json()["type"]) == (404, "NotFoundException")
    assert "does not support the endpoint PUT /engine-rest/job/suspended" in lacking.json()["message"]


def _incident_of(admin: Client, divisor: int) -> tuple[str, str]:
    """(instance id, job id) of an instance whose timer job failed and has no retries left: an open incident."""
    instance_id = _start(admin, divisor=divisor)
    [job] = admin.get("/job", params={"processInstanceId": instance_id}).json()
    assert admin.put(f"/job/{job['id']}/retries", json={"retries": 0}).status_code == 204
    return instance_id, job["id"]


def test_incidents_are_filtered_and_sorted_with_camundas_parameters(admin: Client, mary: Client) -> None:
    first, first_job = _incident_of(admin, 0)
    second, _ = _incident_of(admin, 0)
    assert admin.get("/incident/count").json() == {"count": 2}
    [only] = admin.get("/incident", params={"processInstanceId": second}).json()
    assert only["processInstanceId"] == second
    assert admin.get("/incident/count", params={"executionId": first}).json() == {"count": 1}
    assert admin.get("/incident/count", params={"configuration": first_job}).json() == {"count": 1}
    assert admin.get("/incident/count", params={"incidentType": "failedJob"}).json() == {"count": 2}
    assert admin.get("/incident/count", params={"incidentType": "failedExternalTask"}).json() == {"count": 0}
    assert admin.get("/incident/count", params={"activityId": "wait_a_day"}).json() == {"count": 2}
    assert admin.get("/incident/count", params={"failedActivityId": "charge"}).json() == {"count": 0}
    assert admin.get("/incident/count", params={"processDefinitionKeyIn": "billing,other"}).json() == {"count": 2}
    assert admin.get("/incident/count", params={"processDefinitionKeyIn": "other"}).json() == {"count": 0}
    message = only["incidentMessage"]
    assert admin.get("/incident/count", params={"incidentMessage": message}).json() == {"count": 2}
    assert admin.get("/incident/count", params={"incidentMessageLike": "%no such text%"}).json() == {"count": 0}
    [by_id] = admin.get("/incident", params={"incidentId": only["id"]}).json()
    assert by_id == only
    assert admin.get("/incident", params={"rootCauseIncidentId": only["id"]}).json() == [only]
    newest_first = admin.get("/incident", params={"sortBy": "processInstanceId", "sortOrder": "desc"}).json()
    assert [i["processInstanceId"] for i in newest_first] == sorted([first, second], reverse=True)
    refused = admin.get("/incident", params={"sortBy": "nonsense", "sortOrder": "asc"})
    assert refused.status_code == 400 and "nonsense" in refused.json()["message"]
    assert admin.get("/incident", params={"tenantIdIn": "t1"}).status_code == 400  # never silently ignored
    # incidents are for operations: a person who is not an admin is refused
    assert (mary.get("/incident").status_code, mary.get("/history/incident").status_code) == (403, 403)


def test_historic_incidents_are_open_resolved_or_deleted_with_their_instance(admin: Client) -> None:
    resolved, resolved_job = _incident_of(admin, 0)
    deleted, _ = _incident_of(admin, 0)
    still_open, _ = _incident_of(admin, 0)
    assert admin.put(f"/job/{resolved_job}/retries", json={"retries": 1}).status_code == 204
    assert admin.delete(f"/process-instance/{deleted}").status_code == 204
    every = {i["processInstanceId"]: i for i in admin.get("/history/incident").json()}
    assert set(every) == {resolved, deleted, still_open}
    states = {instance: (i["open"], i["resolved"], i["deleted"]) for instance, i in every.items()}
    assert states == {resolved: (False, True, False), deleted: (False, False, True),
                      still_open: (True, False, False)}
    assert every[still_open]["endTime"] is None
    assert every[resolved]["endTime"] is not None and every[deleted]["endTime"] is not None
    assert every[resolved]["processDefinitionKey"] == "billing"
    assert every[resolved]["createTime"].endswith("+0000")
    for state, instance in (("open", still_open), ("resolved", resolved), ("deleted", deleted)):
        [one] = admin.get("/history/incident", params={state: "true"}).json()
        assert one["processInstanceId"] == instance
        assert admin.get("/history/incident/count", params={state: "true"}).json() == {"count": 1}
    assert admin.get("/history/incident/count", params={"processDefinitionKey": "billing"}).json() == {"count": 3}
    assert admin.get("/history/incident/count", params={"processInstanceId": deleted}).json() == {"count": 1}
    both = admin.get("/history/incident", params={"open": "true", "deleted": "true"})
    assert both.status_code == 400
    # the runtime API keeps only the open one
    assert [i["processInstanceId"] for i in admin.get("/incident").json()] == [still_open]


def test_a_process_key_too_long_for_a_key_version_id_is_still_the_key_of_its_jobs_and_incidents(
        admin: Client) -> None:
    """Past 64 characters a definition id is a bare uuid (as Camunda's), so the key cannot be read off the id:
    jobs and historic incidents still name the process key."""
    key = "invoiceApprovalWithEscalationAndReminderProcess"
    deploy(admin, BILLING.replace(b'id="billing"', f'id="{key}"'.encode()), "long.bpmn")
    started = admin.post(f"/process-definition/key/{key}/start", json={"variables": {
        "amount": {"value": 100, "type": "Integer"}, "divisor": {"value": 0, "type": "Integer"}}})
    assert started.status_code == 200, started.text
    definition_id = started.json()["definitionId"]
    assert ":" not in definition_id  # the bare uuid form
    [job] = admin.get("/job", params={"processInstanceId": started.json()["id"]}).json()
    assert (job["processDefinitionId"], job["processDefinitionKey"]) == (definition_id, key)
    assert admin.get(f"/job/{job['id']}").json()["processDefinitionKey"] == key
    assert admin.put(f"/job/{job['id']}/retries", json={"retries": 0}).status_code == 204
    [incident] = admin.get("/history/incident", params={"processInstanceId": started.json()["id"]}).json()
    assert incident["processDefinitionKey"] == key


WATCHED = bpmn("""
    <bpmn:startEvent id="s"/><bpmn:userTask id="work" name="Work"/><bpmn:endEvent id="e"/>
    <bpmn:subProcess id="onNote" triggeredByEvent="true">
      <bpmn:startEvent id="noteArrives" isInterrupting="false"><bpmn:messageEventDefinition messageRef="note"/>
      </bpmn:startEvent>
      <bpmn:userTask id="readNote" name="Read the note"/><bpmn:endEvent id="noteRead"/>
      <bpmn:sequenceFlow id="n1" sourceRef="noteArrives" targetRef="readNote"/>
      <bpmn:sequenceFlow id="n2" sourceRef="readNote" targetRef="noteRead"/>
    </bpmn:subProcess>
    """ + chain("s", "work", "e"), process_id="watched",
    extra='<bpmn:message id="note" name="note"/>')


def test_an_event_subprocess_waiting_to_start_is_no_running_activity(admin: Client) -> None:
    """Its start event is a subscription (Camunda): not in the activity tree, the statistics or the unfinished
    history; once the message came, what it started is."""
    deploy(admin, WATCHED, "watched.bpmn")
    instance_id = admin.post("/process-definition/key/watched/start", json={}).json()["id"]

    def running() -> list[str]:
        tree = admin.get(f"/process-instance/{instance_id}/activity-instances").json()
        return sorted(c["activityId"] for c in tree["childActivityInstances"])

    def unfinished() -> list[str]:
        return sorted(a["activityId"] for a in admin.get("/history/activity-instance", params={
            "processInstanceId": instance_id, "unfinished": "true"}).json())

    definition_id = admin.get(f"/process-instance/{instance_id}").json()["definitionId"]
    assert running() == unfinished() == ["work"]
    assert [(s["id"], s["instances"]) for s in admin.get(f"/process-definition/{definition_id}/statistics").json()] \
        == [("work", 1)]
    assert admin.post("/message", json={"messageName": "note", "processInstanceId": instance_id}).status_code == 204
    assert "readNote" in unfinished() and "noteArrives" not in unfinished()


def test_event_subscriptions_list_what_waits_for_a_message(admin: Client, mary: Client) -> None:
    """Camunda's `GET /event-subscription`: an instance's message wait (in its execution), with filters and
    count; admins only."""
    deploy(admin, WATCHED, "watched.bpmn")
    first = admin.post("/process-definition/key/watched/start", json={}).json()["id"]
    second = admin.post("/process-definition/key/watched/start", json={}).json()["id"]
    listed = admin.get("/event-subscription", params={"eventName": "note"}).json()
    assert sorted(s["processInstanceId"] for s in listed) == sorted([first, second])
    one = next(s for s in listed if s["processInstanceId"] == first)
    assert (one["eventType"], one["activityId"], one["executionId"], one["tenantId"]) == (
        "message", "noteArrives", first, None)
    assert one["createdDate"]
    assert admin.get("/event-subscription", params={"processInstanceId": second}).json()[0]["processInstanceId"] \
        == second
    assert admin.get("/event-subscription/count", params={"eventType": "signal"}).json() == {"count": 0}
    assert admin.get("/event-subscription/count", params={"eventName": "note"}).json() == {"count": 2}
    assert mary.get("/event-subscription").status_code == 403
    assert admin.get("/event-subscription", params={"eventType": "timer"}).status_code == 400


def test_a_client_finds_the_execution_waiting_for_a_message_and_triggers_it(admin: Client, mary: Client) -> None:
    """Camunda's `/execution` as a client uses it to deliver a message to one wait: each running instance is an
    execution; `messageEventSubscriptionName` finds those waiting for the message, and the trigger delivers it
    there only."""
    from tests.rest.test_rest_api import start

    deploy(admin)
    first, second = (start(mary, key).json()["id"] for key in ("ORD-1", "ORD-2"))
    assert admin.get("/execution", params={"messageEventSubscriptionName": "delivered"}).json() == []
    for instance in (first, second):  # review, then the external charge: both wait at the receive task
        [task] = mary.get("/task", params={"processInstanceId": instance}).json()
        assert mary.post(f"/task/{task['id']}/complete", json={}).status_code == 204
        [charge] = admin.post("/external-task/fetchAndLock", json={"workerId": "w", "maxTasks": 1, "topics": [
            {"topicName": "payments", "lockDuration": 10000}]}).json()
        assert charge["processInstanceId"] == instance
        assert admin.get(f"/execution/{charge['executionId']}").json()["processInstanceId"] == instance
        assert admin.post(f"/external-task/{charge['id']}/complete", json={"workerId": "w"}).status_code == 204
    waiting = admin.get("/execution", params={"messageEventSubscriptionName": "delivered",
                                              "businessKey": "ORD-2"}).json()
    assert waiting == [{"id": second, "processInstanceId": second, "ended": False, "tenantId": None}]
    assert admin.get("/execution/count", params={"activityId": "delivered"}).json() == {"count": 2}
    assert admin.get("/execution/count", params={"signalEventSubscriptionName": "delivered"}).json() == {"count": 0}
    wait = admin.get(f"/execution/{second}/messageSubscriptions/delivered").json()
    assert (wait["eventType"], wait["activityId"], wait["processInstanceId"]) == ("message", "delivered", second)
    assert admin.get(f"/execution/{second}/messageSubscriptions/other").status_code == 404
    triggered = admin.post(f"/execution/{second}/messageSubscriptions/delivered/trigger",
                           json={"variables": {"signedBy": {"value": "Ann", "type": "String"}}})
    assert triggered.status_code == 204, triggered.text
    assert admin.get(f"/process-instance/{second}/variables/signedBy").json()["value"] == "Ann"
    assert admin.get("/execution/count", params={"activityId": "delivered"}).json() == {"count": 1}
    again = admin.post(f"/execution/{second}/messageSubscriptions/delivered/trigger", json={})
    assert again.status_code == 400  # it waits for it no longer (and no other instance is reached)
    assert admin.get("/execution", params={"processInstanceId": first}).json()[0]["id"] == first
    assert admin.get("/execution/nope").status_code == 404
