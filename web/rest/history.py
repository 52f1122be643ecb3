"""History: process instances (running and ended), activity instances and tasks, with Camunda's filters."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from engine.errors import BadRequest

from . import arg_bool, arg_date, arg_list, body, bp, engine, paging, principal, sorting


def _finished(source: Any = None) -> bool | None:
    """`finished=true` / `unfinished=true` (both: nothing can be both, as in Camunda's SQL)."""
    finished, unfinished = arg_bool("finished", source), arg_bool("unfinished", source)
    if finished and unfinished:
        raise BadRequest("finished and unfinished exclude each other")
    return True if finished else (False if unfinished else None)


def _instance_filters(source: Any = None) -> dict[str, Any]:
    """The filters of Camunda's historic process instance query: the query string's, or a POST body's."""
    args = request.args if source is None else source
    return {"instance_id": args.get("processInstanceId"), "ids": arg_list("processInstanceIds", source),
            "definition_key": args.get("processDefinitionKey"), "definition_id": args.get("processDefinitionId"),
            "business_key": args.get("processInstanceBusinessKey") or args.get("businessKey"),
            "business_key_like": args.get("processInstanceBusinessKeyLike"), "started_by": args.get("startedBy"),
            "finished": _finished(source), "started_after": arg_date("startedAfter", source),
            "started_before": arg_date("startedBefore", source), "finished_after": arg_date("finishedAfter", source),
            "finished_before": arg_date("finishedBefore", source), "state": args.get("state"),
            "visible_to": principal()}


@bp.get("/history/process-instance")
def historic_instances():  # type: ignore[no-untyped-def]
    first, count = paging()
    return jsonify(engine().history.instances(**_instance_filters(), sorting=sorting(), first=first,
                                              max_results=count))


@bp.post("/history/process-instance")
def query_historic_instances():  # type: ignore[no-untyped-def]
    """Camunda's POST form of the query: the filters in a JSON body, paging in the query string."""
    first, count = paging()
    data = body()
    return jsonify(engine().history.instances(**_instance_filters(data), sorting=sorting(data), first=first,
                                              max_results=count))


@bp.get("/history/process-instance/count")
def count_historic_instances():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().history.count_instances(**_instance_filters())})


@bp.post("/history/process-instance/count")
def count_queried_historic_instances():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().history.count_instances(**_instance_filters(body()))})


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


def _decision_filters() -> dict[str, Any]:
    args = request.args
    return {"ids": _one_and_in("decisionInstanceId"), "definition_ids": _one_and_in("decisionDefinitionId"),
            "keys": _one_and_in("decisionDefinitionKey"), "name": args.get("decisionDefinitionName"),
            "instance_id": args.get("processInstanceId"), "process_definition_id": args.get("processDefinitionId"),
            "process_definition_key": args.get("processDefinitionKey"), "activity_ids": arg_list("activityIdIn"),
            "evaluated_after": arg_date("evaluatedAfter"), "evaluated_before": arg_date("evaluatedBefore"),
            "user_id": args.get("userId"), "root_id": args.get("rootDecisionInstanceId"),
            "roots_only": bool(arg_bool("rootDecisionInstancesOnly"))}


def _one_and_in(name: str) -> list[str] | None:
    """`name` and `nameIn` as one list of allowed values; both given, a value must be in both (Camunda ANDs its
    filters)."""
    one, many = request.args.get(name), arg_list(f"{name}In")
    if one and many is not None:
        return [one] if one in many else []
    return [one] if one else many


@bp.get("/history/decision-instance")
def historic_decisions():  # type: ignore[no-untyped-def]
    first, count = paging()
    return jsonify(engine().decision_history.list(
        principal(), include_inputs=bool(arg_bool("includeInputs")), include_outputs=bool(arg_bool("includeOutputs")),
        sorting=sorting(), first=first, max_results=count, **_decision_filters()))


@bp.get("/history/decision-instance/count")
def count_historic_decisions():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().decision_history.count(principal(), **_decision_filters())})


@bp.get("/history/decision-instance/<instance_id>")
def historic_decision(instance_id: str):  # type: ignore[no-untyped-def]
    """One decision instance, by its id."""
    return jsonify(engine().decision_history.get(principal(), instance_id,
                                                 include_inputs=bool(arg_bool("includeInputs")),
                                                 include_outputs=bool(arg_bool("includeOutputs"))))
