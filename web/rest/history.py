"""History: process instances (running and ended), activity instances and tasks."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from engine.errors import BadRequest

from . import arg_bool, bp, engine, paging, principal


@bp.get("/history/process-instance")
def historic_instances():  # type: ignore[no-untyped-def]
    first, count = paging()
    args = request.args
    state = "COMPLETED" if arg_bool("finished") else None
    rows = engine().instances.list(definition_key=args.get("processDefinitionKey"),
                                   business_key=args.get("processInstanceBusinessKey") or args.get("businessKey"),
                                   state=state, active_only=bool(arg_bool("unfinished")),
                                   visible_to=principal(), first=first, max_results=count)
    if args.get("processInstanceId"):
        rows = [r for r in rows if r.id == args["processInstanceId"]]
    return jsonify([_instance(r) for r in rows])


@bp.get("/history/process-instance/<instance_id>")
def historic_instance(instance_id: str):  # type: ignore[no-untyped-def]
    return jsonify(_instance(engine().instances.readable(principal(), instance_id)))


def _instance(view) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = view.to_json()
    duration = int((view.ended_at - view.started_at).total_seconds() * 1000) if view.ended_at else None
    return {"id": view.id, "businessKey": view.business_key, "processDefinitionId": view.definition_id,
            "processDefinitionKey": view.definition_key, "startTime": body["startTime"], "endTime": body["endTime"],
            "durationInMillis": duration, "state": {"CANCELED": "EXTERNALLY_TERMINATED"}.get(view.state, view.state),
            "deleteReason": None, "superProcessInstanceId": None, "tenantId": None}


@bp.get("/history/activity-instance")
def historic_activities():  # type: ignore[no-untyped-def]
    instance_id = request.args.get("processInstanceId")
    if not instance_id:
        raise BadRequest("Stageflow answers activity instance history per instance: give processInstanceId")
    first, count = paging()
    view = engine().instances.readable(principal(), instance_id)
    out = []
    for n, event in enumerate(engine().instances.history(instance_id, first=first, max_results=count)):
        if event.event not in ("completed", "cancelled") or event.element_id == view.definition_key:
            continue
        out.append({"id": f"{event.element_id}:{n}", "activityId": event.element_id,
                    "activityName": event.element_name, "activityType": event.element_type,
                    "processInstanceId": instance_id, "processDefinitionId": view.definition_id,
                    "processDefinitionKey": view.definition_key, "taskId": event.task_id,
                    "assignee": event.user_id, "startTime": None, "endTime": event.to_json()["time"],
                    "canceled": event.event == "cancelled", "completeScope": False, "tenantId": None})
    return jsonify(out)


@bp.get("/history/task")
def historic_tasks():  # type: ignore[no-untyped-def]
    first, count = paging()
    finished = True if arg_bool("finished") else (False if arg_bool("unfinished") else None)
    return jsonify(engine().tasks.history(instance_id=request.args.get("processInstanceId"), finished=finished,
                                          visible_to=principal(), first=first, max_results=count))
