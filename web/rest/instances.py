"""Process instances: list and count with filters, get, delete (cancel), suspend, variables, activity tree."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from engine.errors import BadRequest, NotFound
from engine.variables import to_typed, to_typed_map

from . import (
    arg_bool,
    arg_list,
    body,
    body_variable,
    bp,
    deletions,
    deserialized,
    engine,
    paging,
    principal,
    require_admin,
    sorting,
    typed_variables,
)
from .variable_instances import value_conditions


def _filters(source: dict[str, Any]) -> dict[str, Any]:
    state = None
    if arg_bool("suspended", source):
        state = "SUSPENDED"
    elif arg_bool("active", source):
        state = "ACTIVE"
    # Camunda's `variables`: `amount_gt_1000,region_eq_north` in the URL, [{name, operator, value}] in a POST
    conditions = value_conditions(source, "variables")
    return {"definition_key": source.get("processDefinitionKey"), "definition_id": source.get("processDefinitionId"),
            "business_key": source.get("businessKey"), "state": state, "active_only": True,
            "variable_conditions": conditions, "visible_to": principal(),
            "ids": arg_list("processInstanceIds", source), "business_key_like": source.get("businessKeyLike"),
            "definition_keys": arg_list("processDefinitionKeyIn", source),
            "with_incident": bool(arg_bool("withIncident", source)),
            # every instance is a root and a leaf: a called process runs inside its caller's instance
            "activity_ids": arg_list("activityIdIn", source)}


@bp.get("/process-instance")
def list_instances():  # type: ignore[no-untyped-def]
    first, count = paging()
    rows = engine().instances.list(**_filters(request.args), first=first, max_results=count, sorting=sorting())
    return jsonify([_view(r) for r in rows])


@bp.post("/process-instance")
def query_instances():  # type: ignore[no-untyped-def]
    first, count = paging()
    data = body()
    rows = engine().instances.list(**_filters(data), first=first, max_results=count, sorting=sorting(data))
    return jsonify([_view(r) for r in rows])


@bp.get("/process-instance/count")
def count_instances():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().instances.count(**_filters(request.args))})


@bp.post("/process-instance/count")
def query_count_instances():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().instances.count(**_filters(body()))})


def _view(instance) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    out = instance.to_json()
    out.pop("variables", None)
    out["links"] = []
    return out


def running(instance_id: str):  # type: ignore[no-untyped-def]
    """The instance while it runs, if the caller may read it (else 404, as for none): as in Camunda, the runtime
    API does not know ended instances (see history)."""
    instance = engine().instances.readable(principal(), instance_id)
    if instance.ended:
        raise NotFound(f"process instance '{instance_id}' has ended: see /history/process-instance")
    return instance


@bp.get("/process-instance/<instance_id>")
def get_instance(instance_id: str):  # type: ignore[no-untyped-def]
    return jsonify(_view(running(instance_id)))


@bp.delete("/process-instance/<instance_id>")
def delete_instance(instance_id: str):  # type: ignore[no-untyped-def]
    require_admin()
    if arg_bool("failIfNotExists") is False:  # Camunda: then a missing (or ended) instance is not an error
        try:
            running(instance_id)
        except NotFound:
            return "", 204
    running(instance_id)
    engine().instances.cancel(instance_id, reason=request.args.get("deleteReason"), user=principal().user_id)
    return "", 204


@bp.put("/process-instance/suspended")
def suspend_instances():  # type: ignore[no-untyped-def]
    """Camunda's activate/suspend of many instances at once: of a definition (`processDefinitionId`), of every
    version of a key (`processDefinitionKey`) or those named (`processInstanceIds`)."""
    require_admin()
    data = body()
    suspended = arg_bool("suspended", data)
    if suspended is None:
        raise BadRequest("the body needs 'suspended': true or false")
    for unsupported in ("processInstanceQuery", "historicProcessInstanceQuery", "processDefinitionTenantId"):
        if data.get(unsupported) is not None:
            raise BadRequest(f"'{unsupported}' is not supported by Stageflow: name the instances with "
                             "processInstanceIds, or give processDefinitionId or processDefinitionKey")
    engine().instances.set_suspended_where(suspended, definition_id=data.get("processDefinitionId"),
                                           definition_key=data.get("processDefinitionKey"),
                                           instance_ids=arg_list("processInstanceIds", data),
                                           user=principal().user_id)
    return "", 204


@bp.put("/process-instance/<instance_id>/suspended")
def suspend_instance(instance_id: str):  # type: ignore[no-untyped-def]
    require_admin()
    suspended = arg_bool("suspended", body())
    if suspended is None:
        raise BadRequest("the body needs 'suspended': true or false")
    if suspended:
        engine().instances.suspend(instance_id, user=principal().user_id)
    else:
        engine().instances.resume(instance_id, user=principal().user_id)
    return "", 204


@bp.get("/process-instance/<instance_id>/variables")
def instance_variables(instance_id: str):  # type: ignore[no-untyped-def]
    running(instance_id)
    return jsonify(deserialized(to_typed_map(engine().instances.variables(instance_id))))


@bp.get("/process-instance/<instance_id>/variables/<name>")
def instance_variable(instance_id: str, name: str):  # type: ignore[no-untyped-def]
    running(instance_id)
    values = engine().instances.variables(instance_id)
    if name not in values:
        raise NotFound(f"process instance '{instance_id}' has no variable '{name}'")
    return jsonify(deserialized(to_typed(values[name]), "deserializeValue"))


@bp.post("/process-instance/<instance_id>/variables")
def modify_instance_variables(instance_id: str):  # type: ignore[no-untyped-def]
    require_admin()
    running(instance_id)  # an ended instance is 404 here too, as for reading its variables
    data = body()
    removals = deletions(data)
    engine().instances.set_variables(instance_id, typed_variables(data, "modifications"), remove=removals,
                                     user=principal().user_id)
    return "", 204


@bp.put("/process-instance/<instance_id>/variables/<name>")
def put_instance_variable(instance_id: str, name: str):  # type: ignore[no-untyped-def]
    require_admin()
    running(instance_id)  # an ended instance is 404 here too, as for reading its variables
    values = body_variable(name)
    engine().instances.set_variables(instance_id, values, user=principal().user_id)
    return "", 204


@bp.delete("/process-instance/<instance_id>/variables/<name>")
def delete_instance_variable(instance_id: str, name: str):  # type: ignore[no-untyped-def]
    require_admin()
    running(instance_id)  # an ended instance is 404 here too, as for reading its variables
    engine().instances.set_variables(instance_id, {}, remove=[name], user=principal().user_id)
    return "", 204


@bp.get("/process-instance/<instance_id>/activity-instances")
def activity_instances(instance_id: str):  # type: ignore[no-untyped-def]
    """Camunda's activity tree: the instance and its open activities, with the ids `/history/activity-instance`,
    `/task` and `/external-task` give them, and each one's open incidents."""
    running(instance_id)
    state = engine().instances.state(instance_id, history_limit=0)
    inst = state.instance
    externals = {e["id"] for e in state.external_tasks}
    incidents: dict[str, list[dict[str, str]]] = {}
    for incident in state.incidents:
        incidents.setdefault(incident["activityId"], []).append({"id": incident["id"],
                                                                 "activityId": incident["activityId"]})
    children = []
    for activity in engine().history.activities(instance_id):
        if activity["endTime"] is not None:
            continue
        row_id = activity["id"].rpartition(":")[2]
        own = incidents.get(activity["activityId"], [])
        children.append({"id": activity["id"], "parentActivityInstanceId": inst.id,
                         "activityId": activity["activityId"], "activityType": activity["activityType"],
                         "activityName": activity["activityName"], "name": activity["activityName"],
                         "processInstanceId": inst.id, "processDefinitionId": inst.definition_id,
                         "childActivityInstances": [], "childTransitionInstances": [],
                         "executionIds": [row_id if row_id in externals else inst.id],
                         "incidentIds": [i["id"] for i in own], "incidents": own})
    process_name = engine().definitions.get(inst.definition_id).name
    return jsonify({"id": inst.id, "parentActivityInstanceId": None, "activityId": inst.definition_id,
                    "activityType": "processDefinition", "activityName": process_name, "name": process_name,
                    "processInstanceId": inst.id,
                    "processDefinitionId": inst.definition_id, "childActivityInstances": children,
                    "childTransitionInstances": [], "executionIds": [inst.id], "incidentIds": [],
                    "incidents": []})
