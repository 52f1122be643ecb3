"""History: process instances (running and ended), activity instances and tasks, with Camunda's filters."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from engine.errors import BadRequest

from . import arg_bool, arg_date, arg_list, bp, engine, paging, principal, sorting


def _finished() -> bool | None:
    """`finished=true` / `unfinished=true` (both: nothing can be both, as in Camunda's SQL)."""
    finished, unfinished = arg_bool("finished"), arg_bool("unfinished")
    if finished and unfinished:
        raise BadRequest("finished and unfinished exclude each other")
    return True if finished else (False if unfinished else None)


def _instance_filters() -> dict[str, Any]:
    args = request.args
    return {"instance_id": args.get("processInstanceId"), "ids": arg_list("processInstanceIds"),
            "definition_key": args.get("processDefinitionKey"), "definition_id": args.get("processDefinitionId"),
            "business_key": args.get("processInstanceBusinessKey") or args.get("businessKey"),
            "business_key_like": args.get("processInstanceBusinessKeyLike"), "started_by": args.get("startedBy"),
            "finished": _finished(), "started_after": arg_date("startedAfter"),
            "started_before": arg_date("startedBefore"), "finished_after": arg_date("finishedAfter"),
            "finished_before": arg_date("finishedBefore"), "state": args.get("state"), "visible_to": principal()}


@bp.get("/history/process-instance")
def historic_instances():  # type: ignore[no-untyped-def]
    first, count = paging()
    return jsonify(engine().history.instances(**_instance_filters(), sorting=sorting(), first=first,
                                              max_results=count))


@bp.get("/history/process-instance/count")
def count_historic_instances():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().history.count_instances(**_instance_filters())})


@bp.get("/history/process-instance/<instance_id>")
def historic_instance(instance_id: str):  # type: ignore[no-untyped-def]
    return jsonify(engine().history.instance(instance_id, principal()))


@bp.get("/history/activity-instance")
def historic_activities():  # type: ignore[no-untyped-def]
    # Stageflow reads activity history per instance (its history rows are kept per instance); across instances
    # it would need an index and a projection of open activities it does not keep.
    instance_id = request.args.get("processInstanceId")
    if not instance_id:
        raise BadRequest("Stageflow answers activity instance history per instance: give processInstanceId")
    first, count = paging()
    engine().instances.readable(principal(), instance_id)
    return jsonify(engine().history.activities(instance_id, activity_id=request.args.get("activityId"),
                                               activity_type=request.args.get("activityType"),
                                               finished=_finished(), sorting=sorting(), first=first,
                                               max_results=count))


def _task_filters() -> dict[str, Any]:
    args = request.args
    return {"task_id": args.get("taskId"), "instance_id": args.get("processInstanceId"),
            "definition_key": args.get("processDefinitionKey"), "definition_id": args.get("processDefinitionId"),
            "business_key": args.get("processInstanceBusinessKey"), "assignee": args.get("taskAssignee"),
            "task_definition_key": args.get("taskDefinitionKey"), "finished": _finished(),
            "visible_to": principal()}


@bp.get("/history/task")
def historic_tasks():  # type: ignore[no-untyped-def]
    first, count = paging()
    return jsonify(engine().history.tasks(**_task_filters(), sorting=sorting(), first=first, max_results=count))


@bp.get("/history/task/count")
def count_historic_tasks():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().history.count_tasks(**_task_filters())})
