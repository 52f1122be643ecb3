"""`POST /message` (correlate), `POST /signal` (broadcast) and `GET /event-subscription` (what waits for them)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from engine.errors import BadRequest
from engine.variables import to_typed_map

from . import arg_bool, body, bp, engine, paging, principal, require_admin, typed_variables


@bp.post("/message")
def correlate():  # type: ignore[no-untyped-def]
    data = body()
    name = data.get("messageName")
    if not isinstance(name, str) or not name:
        raise BadRequest("the body needs 'messageName'")
    for unsupported in ("localCorrelationKeys", "processVariablesLocal"):
        if data.get(unsupported):  # never ignored: the message would reach other executions than asked
            raise BadRequest(f"'{unsupported}' is not supported by Stageflow (its variables are the instance's: "
                             "use 'correlationKeys' and 'processVariables')")
    if data.get("tenantId") is not None:  # Stageflow has no tenants: nothing of a tenant waits for it
        raise BadRequest(f"Cannot correlate message '{name}': no execution or process definition of tenant "
                         f"'{data['tenantId']}' (Stageflow has no tenants)")
    keys = typed_variables(data, "correlationKeys")
    results = engine().messages.correlate(name, business_key=data.get("businessKey"),
                                          instance_id=data.get("processInstanceId"), correlation_keys=keys or None,
                                          variables=typed_variables(data, "processVariables"),
                                          all=bool(arg_bool("all", data)), user=principal().user_id)
    if not arg_bool("resultEnabled", data):
        return "", 204
    with_variables = bool(arg_bool("variablesInResultEnabled", data))
    out = []
    for result in results:
        variables = None
        if with_variables:  # only of an instance the caller may read: others' are an empty map
            variables = (to_typed_map(engine().instances.variables(result.instance.id))
                         if engine().instances.visible(principal(), result.instance.id) else {})
        out.append(result.to_json(variables))
    return jsonify(out)


@bp.post("/signal")
def signal():  # type: ignore[no-untyped-def]
    data = body()
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest("the body needs 'name'")
    if data.get("tenantId") is not None:
        if data.get("executionId"):
            raise BadRequest("Cannot specify a tenant-id when deliver a signal to a single execution.")
        return "", 204  # Stageflow has no tenants: nothing of that tenant waits for it or starts with it
    engine().messages.signal(name, variables=typed_variables(data), instance_id=data.get("executionId"),
                             user=principal().user_id)
    return "", 204


def _subscription_filters() -> dict[str, Any]:
    args = request.args
    return {"subscription_id": args.get("eventSubscriptionId"), "event_type": args.get("eventType"),
            "event_name": args.get("eventName"), "instance_id": args.get("processInstanceId"),
            "execution_id": args.get("executionId"), "activity_id": args.get("activityId")}


@bp.get("/event-subscription")
def event_subscriptions():  # type: ignore[no-untyped-def]
    require_admin()  # every instance's waits, as /job and /incident: admins only
    first, count = paging()
    return jsonify(engine().messages.subscriptions(first=first, max_results=count,
                                                   sort_order=request.args.get("sortOrder") or "asc",
                                                   **_subscription_filters()))


@bp.get("/event-subscription/count")
def count_event_subscriptions():  # type: ignore[no-untyped-def]
    require_admin()
    return jsonify({"count": engine().messages.count_subscriptions(**_subscription_filters())})
