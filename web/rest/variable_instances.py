"""Variables of running instances across instances: `/variable-instance` (GET with query parameters, POST with
the query as JSON), its count, and one by id."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from engine.errors import BadRequest
from engine.variable_instances import VariableFilter, parse_value_conditions, query_value

from . import body, bp, deserialized, engine, paging, principal


def _ids(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v for v in value.split(",") if v)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise BadRequest(f"{field} must be a list of ids (or, in the URL, ids separated by commas)")


def value_conditions(source: Any, field: str) -> tuple[tuple[str, str, Any], ...]:
    """Camunda's variable value filter `field` (`variableValues`, `processVariables`): `name_op_value,...` in a
    query string, a list of `{name, operator, value}` in a JSON body."""
    values = source.get(field)
    if isinstance(values, list):
        conditions = []
        for item in values:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
                    or not isinstance(item.get("operator"), str):
                raise BadRequest(f"{field} must be a list of {{name, operator, value}}")
            conditions.append((item["name"], item["operator"], item.get("value")))
        return tuple(conditions)
    if values is not None and not isinstance(values, str):
        raise BadRequest(f"{field} must be a list of {{name, operator, value}}")
    return parse_value_conditions(values, field)


def _filter(source: Any, *, history: bool = False) -> VariableFilter:
    parsed = value_conditions(source, "variableValues")
    name = source.get("variableName")
    if history and source.get("variableValue") is not None:  # Camunda's historic query: one variable's value
        if not isinstance(name, str) or not name:
            raise BadRequest("Only a single variable value parameter specified: variable name and value are "
                             "required to be able to query after a specific variable value.")
        value = source["variableValue"]
        parsed = (*parsed, (name, "eq", query_value(value, "eq") if isinstance(value, str) else value))
    instance_ids = _ids(source.get("processInstanceIdIn"), "processInstanceIdIn")
    if history and source.get("processInstanceId"):
        instance_ids = (*instance_ids, str(source["processInstanceId"]))
    # Stageflow has no cases, batches or tenants: a filter by one matches no variable (Camunda's answer here too)
    impossible = next((f for f in ("caseInstanceIdIn", "caseExecutionIdIn", "caseActivityIdIn", "batchIdIn",
                                   "tenantIdIn") if _ids(source.get(f), f)), None)
    definition_ids = _ids(source.get("processDefinitionId"), "processDefinitionId") if history else ()
    definition_keys = _ids(source.get("processDefinitionKey"), "processDefinitionKey") if history else ()
    return VariableFilter(names=(name,) if isinstance(name, str) and name else (),
                          name_like=source.get("variableNameLike") or None,
                          instance_ids=instance_ids, values=parsed, ended_too=history,
                          execution_ids=_ids(source.get("executionIdIn"), "executionIdIn"),
                          activity_instance_ids=_ids(source.get("activityInstanceIdIn"), "activityInstanceIdIn"),
                          definition_ids=definition_ids, definition_keys=definition_keys,
                          task_ids=_ids(source.get("taskIdIn"), "taskIdIn") or None, impossible=impossible)


def _sorting(source: Any) -> tuple[str, str]:
    sorting = source.get("sorting")
    if isinstance(sorting, list) and sorting and isinstance(sorting[0], dict):
        source = sorting[0]
    order = source.get("sortOrder") or "asc"
    if order not in ("asc", "desc"):
        raise BadRequest("sortOrder must be asc or desc")
    return source.get("sortBy") or "variableName", order


def _list(source: Any, *, history: bool = False):  # type: ignore[no-untyped-def]
    first, count = paging()
    sort_by, order = _sorting(source)
    return jsonify(deserialized(engine().variable_instances.list(principal(), _filter(source, history=history),
                                                                 sort_by=sort_by, sort_order=order, first=first,
                                                                 max_results=count)))


@bp.get("/history/variable-instance")
def list_historic_variable_instances():  # type: ignore[no-untyped-def]
    """Camunda's historic variable instances: each variable's last value, of running and ended instances."""
    return _list(request.args, history=True)


@bp.get("/history/variable-instance/count")
def count_historic_variable_instances():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().variable_instances.count(principal(), _filter(request.args, history=True))})


@bp.post("/history/variable-instance")
def query_historic_variable_instances():  # type: ignore[no-untyped-def]
    return _list(body(), history=True)


@bp.post("/history/variable-instance/count")
def query_count_historic_variable_instances():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().variable_instances.count(principal(), _filter(body(), history=True))})


@bp.get("/history/variable-instance/<variable_id>")
def get_historic_variable_instance(variable_id: str):  # type: ignore[no-untyped-def]
    """One historic variable instance by id: a variable's last value, of a running or an ended instance."""
    return jsonify(deserialized(engine().variable_instances.get(principal(), variable_id, history=True),
                                "deserializeValue"))


@bp.get("/variable-instance")
def list_variable_instances():  # type: ignore[no-untyped-def]
    return _list(request.args)


@bp.post("/variable-instance")
def query_variable_instances():  # type: ignore[no-untyped-def]
    return _list(body())


@bp.get("/variable-instance/count")
def count_variable_instances():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().variable_instances.count(principal(), _filter(request.args))})


@bp.post("/variable-instance/count")
def query_count_variable_instances():  # type: ignore[no-untyped-def]
    return jsonify({"count": engine().variable_instances.count(principal(), _filter(body()))})


@bp.get("/variable-instance/<variable_id>")
def get_variable_instance(variable_id: str):  # type: ignore[no-untyped-def]
    return jsonify(deserialized(engine().variable_instances.get(principal(), variable_id), "deserializeValue"))
