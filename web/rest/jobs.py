"""Jobs (timers, async continuations, retries) and incidents: for operations, `admins` only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify, request

from engine.errors import BadRequest

from . import arg_bool, arg_date, arg_list, body, body_int, bp, date_value, engine, paging, require_admin, sorting


def _due_dates() -> dict[str, datetime]:
    """Camunda's `dueDates=gt_2026-01-01T00:00:00.000+0000,lt_...`: due after (`gt`) and before (`lt`) a moment."""
    bounds: dict[str, datetime] = {}
    for part in filter(None, (request.args.get("dueDates") or "").split(",")):
        operator, _, moment = part.partition("_")
        if operator not in ("gt", "lt") or not moment:
            raise BadRequest(f"query parameter 'dueDates' has '{part}': each condition is gt_DATE or lt_DATE")
        bounds["due_after" if operator == "gt" else "due_before"] = date_value("dueDates", moment)
    return bounds


def _job_filters() -> dict[str, Any]:
    args = request.args
    return {"instance_id": args.get("processInstanceId"), "job_id": args.get("jobId"),
            "definition_id": args.get("processDefinitionId"), "definition_key": args.get("processDefinitionKey"),
            "activity_id": args.get("activityId"),
            # Stageflow's `dueDateBefore`/`dueDateAfter`, or Camunda's `dueDates`
            "due_before": arg_date("dueDateBefore"), "due_after": arg_date("dueDateAfter"), **_due_dates(),
            "timers": arg_bool("timers"), "messages": arg_bool("messages"), "executable": arg_bool("executable"),
            "with_exception": arg_bool("withException"), "no_retries_left": arg_bool("noRetriesLeft"),
            "with_retries_left": arg_bool("withRetriesLeft"), "suspended": arg_bool("suspended"),
            "active": arg_bool("active")}


@bp.get("/job")
def list_jobs():  # type: ignore[no-untyped-def]
    require_admin()
    first, count = paging()
    return jsonify(engine().jobs.list(**_job_filters(), sorting=sorting(), first=first, max_results=count))


@bp.get("/job/count")
def count_jobs():  # type: ignore[no-untyped-def]
    require_admin()
    return jsonify({"count": engine().jobs.count(**_job_filters())})


@bp.get("/job/<job_id>")
def get_job(job_id: str):  # type: ignore[no-untyped-def]
    require_admin()
    return jsonify(engine().jobs.get(job_id))


@bp.get("/job/<job_id>/stacktrace")
def get_job_stacktrace(job_id: str):  # type: ignore[no-untyped-def]
    """Camunda's getJobExceptionStacktrace, as plain text: the last failure's message (the script's error, its
    element and line; Stageflow runs no Java, so there is no stack of frames), empty when it has not failed."""
    require_admin()
    failure = engine().jobs.get(job_id)["exceptionMessage"]
    return Response(failure or "", mimetype="text/plain")


@bp.put("/job/<job_id>/retries")
def set_job_retries(job_id: str):  # type: ignore[no-untyped-def]
    """Camunda's setJobRetries: 0 stops the job with an incident, more gives it new tries (from `dueDate`, when
    given)."""
    require_admin()
    data = body()
    engine().jobs.retry(job_id, body_int(data, "retries"), due=arg_date("dueDate", data))
    return "", 204


@bp.put("/job/<job_id>/duedate")
def set_job_due(job_id: str):  # type: ignore[no-untyped-def]
    require_admin()
    # null (or none given) makes the job due at once, as Camunda's job without a due date runs at the next tick
    due = arg_date("duedate", body()) or engine().clock.now()
    engine().jobs.set_due(job_id, due)
    return "", 204


@bp.post("/job/<job_id>/execute")
def execute_job(job_id: str):  # type: ignore[no-untyped-def]
    """Camunda's executeJob: run it now, due or not. A script that fails takes one retry off and answers the
    error (a `ScriptEvaluationException`, 400 in Stageflow: see the README's error semantics)."""
    require_admin()
    engine().jobs.get(job_id)
    engine().jobs.execute(job_id, now_anyway=True)  # what keeps it from running is an error (a suspended job: 409)
    return "", 204


def _incident_filters(*, history: bool = False) -> dict[str, Any]:
    """Camunda's incident query parameters as `engine.jobs.incident_conditions` filters. An incident is its own
    cause, and its execution is its instance."""
    args = request.args
    incident_id = args.get("incidentId")
    for same in ("causeIncidentId", "rootCauseIncidentId"):
        if args.get(same):
            if incident_id is not None and incident_id != args[same]:
                raise BadRequest(f"no incident matches: '{same}' and 'incidentId' differ (an incident is its own "
                                 "cause in Stageflow)")
            incident_id = args[same]
    instance_id = args.get("processInstanceId")
    if args.get("executionId"):
        if instance_id is not None and instance_id != args["executionId"]:
            raise BadRequest("no incident matches: 'executionId' and 'processInstanceId' differ (an incident's "
                             "execution is its instance in Stageflow)")
        instance_id = args["executionId"]
    created = ("createTimeBefore", "createTimeAfter") if history else ("incidentTimestampBefore",
                                                                       "incidentTimestampAfter")
    return {"incident_id": incident_id, "incident_type": args.get("incidentType"),
            "incident_message": args.get("incidentMessage"), "incident_message_like": args.get("incidentMessageLike"),
            "instance_id": instance_id, "definition_id": args.get("processDefinitionId"),
            "definition_key": args.get("processDefinitionKey") if history else None,
            "definition_keys": arg_list("processDefinitionKeyIn"), "activity_id": args.get("activityId"),
            "failed_activity_id": args.get("failedActivityId"), "job_id": args.get("configuration"),
            "created_before": arg_date(created[0]), "created_after": arg_date(created[1])}


def _incident_state() -> str | None:
    """`open`, `resolved` or `deleted` of a historic incident query (at most one of them true)."""
    wanted = [name for name in ("open", "resolved", "deleted") if arg_bool(name)]
    if len(wanted) > 1:
        raise BadRequest(f"an incident is in one state only: {' and '.join(wanted)} cannot both be true")
    return wanted[0] if wanted else None


@bp.get("/incident")
def list_incidents():  # type: ignore[no-untyped-def]
    require_admin()
    first, count = paging()
    return jsonify(engine().jobs.incidents(**_incident_filters(), sorting=sorting(), first=first,
                                           max_results=count))


@bp.get("/incident/count")
def count_incidents():  # type: ignore[no-untyped-def]
    require_admin()
    return jsonify({"count": engine().jobs.count_incidents(**_incident_filters())})


@bp.get("/history/incident")
def list_historic_incidents():  # type: ignore[no-untyped-def]
    """Camunda's historic incidents: open ones, those resolved, and those deleted with their instance."""
    require_admin()
    first, count = paging()
    return jsonify(engine().jobs.historic_incidents(**_incident_filters(history=True), state=_incident_state(),
                                                    sorting=sorting(), first=first, max_results=count))


@bp.get("/history/incident/count")
def count_historic_incidents():  # type: ignore[no-untyped-def]
    require_admin()
    return jsonify({"count": engine().jobs.count_historic_incidents(**_incident_filters(history=True),
                                                                    state=_incident_state())})


@bp.get("/incident/<incident_id>")
def get_incident(incident_id: str):  # type: ignore[no-untyped-def]
    require_admin()
    return jsonify(engine().jobs.incident(incident_id))
