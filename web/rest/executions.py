"""Executions, as Camunda's `/execution` resource answers a client that looks one up to trigger its message.

Each running instance is one execution, whose id is the instance's: a called process and the paths of a parallel
split run in it. An external task also has an execution of its own (its `executionId`), found by its id.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from engine.errors import NotFound

from . import arg_bool, body, bp, engine, paging, principal, typed_variables


def _filters() -> dict[str, Any]:
    args = request.args
    state = "SUSPENDED" if arg_bool("suspended") else ("ACTIVE" if arg_bool("active") else None)
    waits = [(kind, args[name]) for kind, name in (("message", "messageEventSubscriptionName"),
                                                   ("signal", "signalEventSubscriptionName")) if args.get(name)]
    return {"ids": [args["processInstanceId"]] if args.get("processInstanceId") else None,
            "business_key": args.get("businessKey"), "definition_key": args.get("processDefinitionKey"),
            "definition_id": args.get("processDefinitionId"), "state": state, "active_only": True,
            "activity_ids": [args["activityId"]] if args.get("activityId") else None, "subscriptions": waits,
            "visible_to": principal()}


def _dto(execution_id: str, instance_id: str) -> dict[str, Any]:
    return {"id": execution_id, "processInstanceId": instance_id, "ended": False, "tenantId": None}


@bp.get("/execution")
def list_executions():  # type: ignore[no-untyped-def]
    first, count = paging()
    rows = engine().instances.list(**_filters(), first=first, max_results=count, sorting=[("instanceId", "asc")])
    return jsonify([_dto(r.id, r.id) for r in rows])


@bp.get("/execution/count")
def count_executions():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().instances.count(**_filters())})


def _instance_of(execution_id: str) -> str:
    """The running instance an execution id belongs to (an instance's own, or an external task's), if the caller
    may read it; else 404, as for one that does not exist."""
    instance_id = execution_id
    try:
        instance = engine().instances.readable(principal(), instance_id)
    except NotFound:
        try:
            task = engine().external_tasks.get(execution_id)
        except NotFound:
            raise NotFound(f"execution '{execution_id}' not found") from None
        instance = engine().instances.readable(principal(), task["processInstanceId"])
    if instance.ended:
        raise NotFound(f"execution '{execution_id}' not found: its process instance has ended")
    return instance.id


@bp.get("/execution/<execution_id>")
def get_execution(execution_id: str):  # type: ignore[no-untyped-def]
    return jsonify(_dto(execution_id, _instance_of(execution_id)))


@bp.get("/execution/<execution_id>/messageSubscriptions/<name>")
def execution_subscription(execution_id: str, name: str):  # type: ignore[no-untyped-def]
    instance_id = _instance_of(execution_id)
    found = engine().messages.subscriptions(instance_id=instance_id, event_type="message", event_name=name,
                                            max_results=1)
    if not found:
        raise NotFound(f"execution '{execution_id}' has no subscription to message '{name}'")
    return jsonify(found[0])


@bp.post("/execution/<execution_id>/messageSubscriptions/<name>/trigger")
def trigger_subscription(execution_id: str, name: str):  # type: ignore[no-untyped-def]
    """Deliver message `name` to this execution's wait for it (never a start of another instance)."""
    instance_id = _instance_of(execution_id)
    engine().messages.correlate(name, instance_id=instance_id, variables=typed_variables(body()),
                                user=principal().user_id)
    return "", 204
