"""The variables of running instances, queried across instances (Camunda's `/variable-instance`).

Reads the `variable` projection that every change writes, joined with its instance; a person who is not an admin
sees only the variables of instances they may read (`instances.involving`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, func, or_, select

from .errors import BadRequest, NotFound
from .identity import Principal
from .instances import involving
from .store import models as m
from .variables import stored_value, to_typed
from .views import iso

if TYPE_CHECKING:
    from .api import Engine

_SORTS = {"variableName": m.Variable.name, "variableType": m.Variable.type,
          "activityInstanceId": m.Variable.instance_id, "instanceId": m.Variable.instance_id,
          "tenantId": m.Variable.instance_id}  # no tenants: all null, so any order is theirs
_SORT_KEYS = {"variableName": "name", "variableType": "type", "activityInstanceId": "activityInstanceId",
              "instanceId": "processInstanceId", "tenantId": "tenantId"}
_OPERATORS = ("eq", "neq", "gt", "gteq", "lt", "lteq", "like")


@dataclass(frozen=True)
class VariableFilter:
    """What to look for: names (exact, `like` with `%`), instances, and `name_op_value` conditions on values."""

    names: tuple[str, ...] = ()
    name_like: str | None = None
    instance_ids: tuple[str, ...] = ()
    values: tuple[tuple[str, str, Any], ...] = ()
    ended_too: bool = False  # history: the variables of ended instances as well (their last values)
    # an instance's variables belong to its execution and root activity instance, whose ids are the instance's
    execution_ids: tuple[str, ...] = ()
    activity_instance_ids: tuple[str, ...] = ()
    definition_ids: tuple[str, ...] = ()
    definition_keys: tuple[str, ...] = ()
    task_ids: tuple[str, ...] | None = None  # given: the own variables of these (open) tasks only
    impossible: str | None = None  # a filter no variable here can match (a case, a batch, a tenant): why


class VariableInstances:
    """Variables of running instances, across instances."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list(self, person: Principal, where: VariableFilter, *, sort_by: str = "variableName",
             sort_order: str = "asc", first: int = 0, max_results: int = 100) -> list[dict[str, Any]]:
        """Camunda's variable instances: id, name, typed value, instance and definition. The instances' variables
        and the open tasks' own (with `taskId`; with `ended_too`, also those an ended task had at its end)."""
        column = _SORTS.get(sort_by)
        if column is None:
            raise BadRequest(f"cannot sort variables by '{sort_by}' (use {', '.join(_SORTS)})")
        if where.impossible:
            return []
        limit = min(max_results, 1000)
        tasks = self._task_locals(person, where) if _names_tasks(where) else []
        if not tasks:
            return self._instance_variables(person, where, column, sort_order, first, limit) \
                if _names_instances(where) else []
        # both kinds: the first `first + limit` of each, merged in the sort's order
        found = tasks + (self._instance_variables(person, where, column, sort_order, 0, first + limit)
                         if _names_instances(where) else [])
        key = _SORT_KEYS[sort_by]
        found.sort(key=lambda v: (v[key] or "", v["processInstanceId"], v["name"]), reverse=sort_order == "desc")
        return found[first:first + limit]

    def _instance_variables(self, person: Principal, where: VariableFilter, column: Any, sort_order: str,
                            first: int, limit: int) -> list[dict[str, Any]]:
        query = self._query(person, where).order_by(column.desc() if sort_order == "desc" else column,
                                                     m.Variable.instance_id, m.Variable.name)
        with self.engine.db.read() as session:
            rows = session.execute(query.offset(first).limit(limit)).all()
        if where.ended_too:
            return [_historic_dto(variable, instance) for variable, instance in rows]
        return [_dto(variable, instance.definition_id) for variable, instance in rows]

    def count(self, person: Principal, where: VariableFilter) -> int:
        if where.impossible:
            return 0
        tasks = len(self._task_locals(person, where)) if _names_tasks(where) else 0
        if not _names_instances(where):
            return tasks
        with self.engine.db.read() as session:
            return tasks + int(session.scalar(select(func.count()).select_from(
                self._query(person, where).subquery())) or 0)

    def get(self, person: Principal, variable_id: str, *, history: bool = False) -> dict[str, Any]:
        """One variable by the id `list` gives it (`instance id:name`, a task's own `task id:name`); with
        `history`, of an ended instance too (Camunda's historic variable instance)."""
        instance_id, sep, name = variable_id.partition(":")
        where = VariableFilter(names=(name,), instance_ids=(instance_id,), ended_too=history)
        found = self.list(person, where) if sep else []
        if sep and not found:  # a task's own variable: `task id:name`
            found = self.list(person, VariableFilter(names=(name,), task_ids=(instance_id,), ended_too=history))
        if not found:
            raise NotFound(f"{'historic ' if history else ''}variable instance with id {variable_id} does not exist")
        return found[0]

    def _task_locals(self, person: Principal, where: VariableFilter) -> list[dict[str, Any]]:
        """The tasks' own variables (as `/task/{id}/localVariables` gives them) that match the filter: of the open
        tasks, and with `ended_too` of the ended ones as they were at the end. A task's variable belongs to the task
        (`taskIdIn`, its activity instance id `element:taskId`) and to its instance and the instance's execution."""
        for _, operator, value in where.values:
            _check_condition(operator, value)
        query = (select(m.HumanTask, m.ProcessInstance)
                 .join(m.ProcessInstance, m.ProcessInstance.id == m.HumanTask.instance_id)
                 .where(m.HumanTask.local_variables.is_not(None)))
        if not where.ended_too:
            query = query.where(m.HumanTask.ended_at.is_(None))
        if where.task_ids is not None:
            query = query.where(m.HumanTask.id.in_(where.task_ids))
        if where.activity_instance_ids:  # and any activity instance ids given must name the same tasks
            query = query.where(m.HumanTask.id.in_(
                [a.partition(":")[2] for a in where.activity_instance_ids if ":" in a]))
        if not person.is_admin:  # (`involving` correlates with a task of its own: it gets the instances apart)
            query = query.where(m.HumanTask.instance_id.in_(select(m.ProcessInstance.id).where(involving(person))))
        if where.instance_ids:
            query = query.where(m.HumanTask.instance_id.in_(where.instance_ids))
        if where.execution_ids:  # a task runs in its instance's execution
            query = query.where(m.HumanTask.instance_id.in_(where.execution_ids))
        if where.definition_ids:
            query = query.where(m.ProcessInstance.definition_id.in_(where.definition_ids))
        if where.definition_keys:
            query = query.where(m.ProcessInstance.definition_key.in_(where.definition_keys))
        with self.engine.db.read() as session:
            rows = session.execute(query).all()
        out = []
        for task, instance in rows:
            for name, typed in sorted((task.local_variables or {}).items()):
                if where.names and name not in where.names:
                    continue
                if where.name_like and not _like(name, where.name_like):
                    continue
                activity = f"{task.element_id}:{task.id}"
                if where.activity_instance_ids and activity not in where.activity_instance_ids:
                    continue
                if any(n == name and not _matches(typed, op, v) for n, op, v in where.values) or \
                        any(n != name for n, _, _ in where.values):
                    continue
                body = {"id": f"{task.id}:{name}", "name": name, "type": typed["type"], "value": typed["value"],
                        "valueInfo": typed.get("valueInfo") or {}, "processDefinitionId": instance.definition_id,
                        "processInstanceId": instance.id, "executionId": instance.id, "caseInstanceId": None,
                        "caseExecutionId": None, "taskId": task.id, "batchId": None,
                        "activityInstanceId": activity, "errorMessage": None, "tenantId": None}
                if where.ended_too:
                    body.update({"processDefinitionKey": instance.definition_key, "state": "CREATED",
                                 "createTime": iso(task.created_at), "removalTime": None,
                                 "rootProcessInstanceId": instance.id})
                out.append(body)
        return out

    @staticmethod
    def _query(person: Principal, where: VariableFilter) -> Select:  # type: ignore[type-arg]
        query = (select(m.Variable, m.ProcessInstance)
                 .join(m.ProcessInstance, m.ProcessInstance.id == m.Variable.instance_id))
        if not where.ended_too:
            query = query.where(m.ProcessInstance.ended_at.is_(None))
        if not person.is_admin:
            query = query.where(involving(person))
        if where.names:
            query = query.where(m.Variable.name.in_(where.names))
        if where.name_like:
            query = query.where(m.Variable.name.like(where.name_like))
        if where.instance_ids:
            query = query.where(m.Variable.instance_id.in_(where.instance_ids))
        if where.execution_ids:
            query = query.where(m.Variable.instance_id.in_(where.execution_ids))
        if where.activity_instance_ids:  # an instance's variables belong to its root activity instance
            query = query.where(m.Variable.instance_id.in_([a for a in where.activity_instance_ids if ":" not in a]))
        if where.definition_ids:
            query = query.where(m.ProcessInstance.definition_id.in_(where.definition_ids))
        if where.definition_keys:
            query = query.where(m.ProcessInstance.definition_key.in_(where.definition_keys))
        for name, operator, value in where.values:
            query = query.where(m.Variable.name == name, _condition(operator, value))
        return query


def having_variables(instance_id: Any, conditions: tuple[tuple[str, str, Any], ...]) -> list[Any]:
    """SQL conditions that the instance `instance_id` (a column) has a variable matching each of `conditions`
    (`(name, operator, value)`, as `parse_value_conditions` gives them): Camunda's `processVariables` filter."""
    return [instance_id.in_(select(m.Variable.instance_id).where(m.Variable.name == name, _condition(op, value)))
            for name, op, value in conditions]


def parse_value_conditions(text: str | None, field: str = "variableValues") -> tuple[tuple[str, str, Any], ...]:
    """Camunda's `variableValues=name_op_value,...` (op: eq, neq, gt, gteq, lt, lteq, like), or another
    `field` of that form (`processVariables`); a number or `true`/`false` compares as such (with `eq`: also as the
    text it is, see `_EqualText`), anything else as text."""
    out = []
    for part in (text or "").split(","):
        if not part:
            continue
        pieces = part.split("_")
        for i in range(len(pieces) - 2, 0, -1):  # names may hold "_": the operator is the last one that fits
            if pieces[i] in _OPERATORS:
                out.append(("_".join(pieces[:i]), pieces[i], query_value("_".join(pieces[i + 1:]), pieces[i])))
                break
        else:
            raise BadRequest(f"{field} '{part}' is not name_operator_value (operators: "
                             f"{', '.join(_OPERATORS)})")
    return tuple(out)


class _EqualText(str):
    """The value of a `name_eq_value` in a URL that reads as a number or boolean (`orderNo_eq_123`): Camunda takes
    every such value as text, so it finds the String variable "123"; Stageflow also finds the number 123 (or the
    Boolean), as its URL filters always have. `read` is that number or boolean."""

    read: Any


def query_value(text: str, operator: str) -> Any:
    """A value of a condition written in a URL (`123`, `true`, `abc`), as the condition's `operator` compares it:
    a number, a boolean or text (with `eq`, a number or boolean also as its text: see `_EqualText`)."""
    if text in ("true", "false"):
        read: Any = text == "true"
    else:
        try:
            read = float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            return text
    if operator != "eq":
        return read
    equal = _EqualText(text)
    equal.read = read
    return equal


def _condition(operator: str, value: Any) -> Any:
    if isinstance(value, _EqualText):
        return or_(_condition(operator, str(value)), _condition(operator, value.read))
    _check_condition(operator, value)
    if value is None:
        return m.Variable.type == "Null" if operator == "eq" else m.Variable.type != "Null"
    if isinstance(value, bool):
        column, value, kinds = m.Variable.text_value, "true" if value else "false", ("Boolean",)
    elif isinstance(value, (int, float)):
        column, kinds = m.Variable.number_value, ("Integer", "Short", "Long", "Double")
    else:
        column, kinds = m.Variable.text_value, ("String",)
    # a value compares with variables of its own kind only: 'abc' is neither less nor more than a Boolean's true
    return and_(m.Variable.type.in_(kinds), _compare(column, operator, value))


def _compare(column: Any, operator: str, value: Any) -> Any:
    if operator == "like":
        return column.like(str(value))
    if operator in ("eq", "neq") and type(value) is int:
        # whole numbers are stored as doubles too, which hold them exactly only up to 2^53 (a 64-bit id is
        # beyond): a whole-number variable's text says which it is
        same = and_(column == float(value), or_(m.Variable.type == "Double", m.Variable.text_value == str(value)))
        return same if operator == "eq" else ~same
    compare = {"eq": column.__eq__, "neq": column.__ne__, "gt": column.__gt__, "gteq": column.__ge__,
               "lt": column.__lt__, "lteq": column.__le__}[operator]
    return compare(value)


def _names_tasks(where: VariableFilter) -> bool:
    """Whether tasks' own variables can match: not when activity instance ids name only instances."""
    return (where.task_ids is not None or not where.activity_instance_ids
            or any(":" in a for a in where.activity_instance_ids))


def _names_instances(where: VariableFilter) -> bool:
    """Whether instances' variables can match: not when only tasks are named."""
    return where.task_ids is None and (not where.activity_instance_ids
                                       or any(":" not in a for a in where.activity_instance_ids))


def _like(text: str, pattern: str) -> bool:
    """SQL's LIKE (`%` any run, `_` one character), case-sensitive (as PostgreSQL's)."""
    return re.fullmatch("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern), text,
                        re.DOTALL) is not None


def _check_condition(operator: str, value: Any) -> None:
    """Refuse a `variableValues` condition that no variable can be compared with (in SQL or in `_matches`)."""
    if operator not in _OPERATORS:
        raise BadRequest(f"unknown operator '{operator}' (use {', '.join(_OPERATORS)})")
    if value is None and operator not in ("eq", "neq"):
        raise BadRequest(f"a null value compares only with eq or neq, not {operator}")
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise BadRequest("a variable value to compare with must be a string, a number, a boolean or null")


def _matches(typed: dict[str, Any], operator: str, value: Any) -> bool:
    """A typed value against one checked `variableValues` condition, as `_condition` compares a stored variable:
    a value compares with variables of its own kind only."""
    if isinstance(value, _EqualText):
        return _matches(typed, operator, str(value)) or _matches(typed, operator, value.read)
    kind, stored = typed.get("type"), typed.get("value")
    if value is None:
        return (kind == "Null") == (operator == "eq")
    if isinstance(value, bool):
        ok, stored, value = kind == "Boolean", "true" if stored else "false", "true" if value else "false"
    elif isinstance(value, (int, float)):
        ok = kind in ("Integer", "Short", "Long", "Double") and isinstance(stored, (int, float))
    else:
        ok = kind == "String" and isinstance(stored, str)
    if not ok:
        return False
    if operator == "like":
        return _like(str(stored), str(value))
    return {"eq": stored == value, "neq": stored != value, "gt": stored > value, "gteq": stored >= value,
            "lt": stored < value, "lteq": stored <= value}[operator]


def _dto(row: m.Variable, definition_id: str) -> dict[str, Any]:
    typed = to_typed(stored_value(row.type, row.value))
    return {"id": f"{row.instance_id}:{row.name}", "name": row.name, "type": typed["type"], "value": typed["value"],
            "valueInfo": typed["valueInfo"], "processDefinitionId": definition_id,
            "processInstanceId": row.instance_id, "executionId": row.instance_id, "caseInstanceId": None,
            "caseExecutionId": None, "taskId": None, "batchId": None, "activityInstanceId": row.instance_id,
            "errorMessage": None, "tenantId": None}


def _historic_dto(row: m.Variable, instance: m.ProcessInstance) -> dict[str, Any]:
    """Camunda's HistoricVariableInstance: a variable's last value, of a running or an ended instance."""
    body = _dto(row, instance.definition_id)
    body.update({"processDefinitionKey": instance.definition_key, "state": "CREATED",
                 "createTime": iso(row.created_at or instance.started_at), "removalTime": None,
                 "rootProcessInstanceId": instance.id,
                 "errorMessage": None})
    return body
