"""Jobs (timers, async continuations, retries) and incidents: for operations, `admins` only."""

from __future__ import annotations

from flask import jsonify, request

from engine.errors import BadRequest

from . import arg_date, body, body_int, bp, engine, paging, require_admin


@bp.get("/job")
def list_jobs():  # type: ignore[no-untyped-def]
    require_admin()
    first, count = paging()
    return jsonify(engine().jobs.list(instance_id=request.args.get("processInstanceId"),
                                      due_before=arg_date("dueDateBefore"), first=first, max_results=count))


@bp.get("/job/count")
def count_jobs():  # type: ignore[no-untyped-def]
    require_admin()
    return jsonify({"count": len(engine().jobs.list(instance_id=request.args.get("processInstanceId"),
                                                    max_results=1000))})


@bp.get("/job/<job_id>")
def get_job(job_id: str):  # type: ignore[no-untyped-def]
    require_admin()
    return jsonify(engine().jobs.get(job_id))


@bp.put("/job/<job_id>/retries")
def set_job_retries(job_id: str):  # type: ignore[no-untyped-def]
    require_admin()
    engine().jobs.retry(job_id, body_int(body(), "retries"))
    return "", 204


@bp.put("/job/<job_id>/duedate")
def set_job_due(job_id: str):  # type: ignore[no-untyped-def]
    require_admin()
    due = arg_date("duedate", body())
    if due is None:
        raise BadRequest("'duedate' is required")
    engine().jobs.set_due(job_id, due)
    return "", 204


@bp.post("/job/<job_id>/execute")
def execute_job(job_id: str):  # type: ignore[no-untyped-def]
    require_admin()
    engine().jobs.get(job_id)
    engine().jobs.execute(job_id)
    return "", 204


@bp.get("/incident")
def list_incidents():  # type: ignore[no-untyped-def]
    require_admin()
    first, count = paging()
    return jsonify(engine().jobs.incidents(instance_id=request.args.get("processInstanceId"), first=first,
                                           max_results=count))


@bp.get("/incident/count")
def count_incidents():  # type: ignore[no-untyped-def]
    require_admin()
    return jsonify({"count": len(engine().jobs.incidents(instance_id=request.args.get("processInstanceId"),
                                                         max_results=1000))})
