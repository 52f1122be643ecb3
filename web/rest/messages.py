"""`POST /message` (correlate) and `POST /signal` (broadcast)."""

from __future__ import annotations

from flask import jsonify

from engine.errors import BadRequest
from engine.variables import to_typed_map

from . import arg_bool, body, bp, engine, principal, typed_variables


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
        variables = to_typed_map(engine().instances.variables(result.instance.id)) if with_variables else None
        out.append(result.to_json(variables))
    return jsonify(out)


@bp.post("/signal")
def signal():  # type: ignore[no-untyped-def]
    data = body()
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest("the body needs 'name'")
    engine().messages.signal(name, variables=typed_variables(data), instance_id=data.get("executionId"),
                             user=principal().user_id)
    return "", 204
