"""The history of decision evaluations: Camunda's historic decision instances (`/history/decision-instance`).

Each decision a business rule task evaluates is written with the step that ran the task, in its transaction; an
evaluation through the decision service (`POST /decision-definition/{id}/evaluate`) is written on its own, with
no instance. A decision that requires others is evaluated after them; each gets a row of its own, and the required
ones name the task's decision as their root (`rootDecisionInstanceId`), as Camunda records a decision graph.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from .dmn import DecisionTrace
from .errors import BadRequest, NotFound
from .identity import Principal
from .ids import new_id
from .store import models as m
from .variables import to_typed
from .views import iso

if TYPE_CHECKING:
    from .api import Engine
    from .spiff.parser import Evaluation

_DI = m.DecisionInstance
SORT = {"evaluationTime": _DI.evaluated_at}


def _typed(value: Any) -> dict[str, Any]:
    try:
        return to_typed(value)
    except (TypeError, ValueError):  # a value no Camunda type holds: its text, as a String
        return {"value": str(value), "type": "String", "valueInfo": {}}


def trace_rows(session: Session, trace: list[DecisionTrace], *, at: datetime, user: str | None,
               deployment_of: str | None = None, **where: Any) -> list[dict[str, Any]]:
    """The rows of one evaluation (`trace`, the evaluated decision last): `where` gives the instance columns
    (`instance_id`, `process_definition_id`, `process_definition_key`, `element_id`, `task_id`; none for an
    evaluation on its own). A decision bound at the process's deployment was parsed with the process and knows
    no stored version of its own: the decision of that key deployed with `deployment_of` (a process definition
    id) is taken."""
    ids = [new_id() for _ in trace]
    root = ids[-1]
    rows = []
    for row_id, record in zip(ids, trace, strict=True):
        decision = record.decision
        definition_id = decision.definition_id or _deployed_with(session, decision.id, deployment_of)
        inputs = [{"id": f"{row_id}:in:{i}", "clauseId": column.id, "clauseName": column.label, **_typed(value)}
                  for i, (column, value) in enumerate(record.inputs)]
        columns = {o.name: o for o in decision.outputs}
        outputs = []
        for rule, values in record.matched:
            for name, value in values.items():
                column = columns.get(name)
                outputs.append({"id": f"{row_id}:out:{len(outputs)}", "clauseId": column.id if column else None,
                                "clauseName": column.label if column else None,
                                "ruleId": rule.id if rule is not None else None,
                                "ruleOrder": rule.index + 1 if rule is not None else None,
                                "variableName": name, **_typed(value)})
        collected = record.collect_result
        rows.append(dict(
            id=row_id, decision_definition_id=definition_id, decision_key=decision.id, decision_name=decision.name,
            root_id=None if row_id == root else root, user_id=user, evaluated_at=at, inputs=inputs,
            outputs=outputs, collect_result=_typed(collected) if collected is not None else None,
            instance_id=where.get("instance_id"), process_definition_id=where.get("process_definition_id"),
            process_definition_key=where.get("process_definition_key"), element_id=where.get("element_id"),
            task_id=where.get("task_id")))
    return rows


def evaluation_rows(session: Session, evaluations: Iterable[Evaluation], *, instance_id: str,
                    definition_id: str, definition_key: str, at: datetime, user: str | None) -> list[dict[str, Any]]:
    """The rows of the evaluations of an instance's business rule tasks in one step."""
    rows = []
    for evaluation in evaluations:
        rows.extend(trace_rows(session, evaluation.trace, at=at, user=user, deployment_of=definition_id,
                               instance_id=instance_id, process_definition_id=definition_id,
                               process_definition_key=definition_key, element_id=evaluation.element_id,
                               task_id=evaluation.task_id))
    return rows


def _deployed_with(session: Session, key: str, process_definition_id: str | None) -> str | None:
    """The id of decision `key` as deployed with the process definition (else its latest version)."""
    query = select(m.DecisionDefinition.id).where(m.DecisionDefinition.key == key)
    if process_definition_id is not None:
        deployment = select(m.ProcessDefinition.deployment_id).where(
            m.ProcessDefinition.id == process_definition_id).scalar_subquery()
        found = session.scalar(query.where(m.DecisionDefinition.deployment_id == deployment))
        if found is not None:
            return found
    return session.scalar(query.order_by(m.DecisionDefinition.version.desc()))


class DecisionHistory:
    """Queries over the decisions evaluated, as Camunda's historic decision instance query answers them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list(self, person: Principal, *, include_inputs: bool = False, include_outputs: bool = False,
             sorting: list[tuple[str, str]] | None = None, first: int = 0, max_results: int = 100,
             **filters: Any) -> list[dict[str, Any]]:
        """Decision instances matching `filters` (see `_query`), in the order they were evaluated unless sorted;
        their inputs and outputs only when asked for (Camunda's `includeInputs`, `includeOutputs`)."""
        order = []
        for name, direction in sorting or []:
            if name not in SORT or direction not in ("asc", "desc"):
                raise BadRequest(f"cannot sort decision instances by '{name}' {direction} "
                                 f"(use {', '.join(SORT)} with asc or desc)")
            order.append(SORT[name].desc() if direction == "desc" else SORT[name].asc())
        query = self._query(person, filters).order_by(*order, _DI.seq)
        with self.engine.db.read() as session:
            rows = session.scalars(query.offset(first).limit(min(max_results, 1000))).all()
            steps = _steps(session, rows)
        return [_dto(r, steps.get((r.instance_id, r.task_id)), include_inputs, include_outputs) for r in rows]

    def count(self, person: Principal, **filters: Any) -> int:
        with self.engine.db.read() as session:
            return int(session.scalar(select(func.count()).select_from(
                self._query(person, filters).subquery())) or 0)

    def get(self, person: Principal, decision_instance_id: str, *, include_inputs: bool = False,
            include_outputs: bool = False) -> dict[str, Any]:
        found = self.list(person, ids=[decision_instance_id], include_inputs=include_inputs,
                          include_outputs=include_outputs)
        if not found:
            raise NotFound(f"Historic decision instance with id '{decision_instance_id}' does not exist")
        return found[0]

    @staticmethod
    def _query(person: Principal, filters: dict[str, Any]) -> Select:  # type: ignore[type-arg]
        """Filters: `ids`, `definition_ids`, `keys`, `name`, `instance_id`, `process_definition_id`,
        `process_definition_key`, `activity_ids`, `evaluated_after`, `evaluated_before`, `user_id`, `root_id`,
        `roots_only`. A person who is not an admin sees the decisions of the instances they may read, and those
        they evaluated on their own."""
        from .instances import involving  # (instances -> executor -> this module)

        query = select(_DI)
        if not person.is_admin:  # their own evaluations on their own too
            query = query.where(or_(_DI.instance_id.in_(select(m.ProcessInstance.id).where(involving(person))),
                                    and_(_DI.instance_id.is_(None), _DI.user_id == person.user_id)))
        for name, column in (("ids", _DI.id), ("definition_ids", _DI.decision_definition_id),
                             ("keys", _DI.decision_key), ("activity_ids", _DI.element_id)):
            if filters.get(name) is not None:
                query = query.where(column.in_(list(filters[name])))
        for name, column in (("name", _DI.decision_name), ("instance_id", _DI.instance_id),
                             ("process_definition_id", _DI.process_definition_id),
                             ("process_definition_key", _DI.process_definition_key), ("user_id", _DI.user_id),
                             ("root_id", _DI.root_id)):
            if filters.get(name) is not None:
                query = query.where(column == filters[name])
        if filters.get("evaluated_after") is not None:
            query = query.where(_DI.evaluated_at > filters["evaluated_after"])
        if filters.get("evaluated_before") is not None:
            query = query.where(_DI.evaluated_at < filters["evaluated_before"])
        if filters.get("roots_only"):
            query = query.where(_DI.root_id.is_(None))
        return query


def _steps(session: Session, rows: list[m.DecisionInstance]) -> dict[tuple[str, str], int]:
    """Per (instance, task) of `rows`: the history row of the business rule task's step, whose number is the
    activity instance's id in `/history/activity-instance`."""
    tasks = {r.task_id for r in rows if r.task_id}
    if not tasks:
        return {}
    he = m.HistoryEvent
    found = session.execute(select(he.instance_id, he.task_id, func.min(he.seq)).where(
        he.instance_id.in_({r.instance_id for r in rows if r.task_id}), he.task_id.in_(tasks),
        he.event.in_(("completed", "cancelled"))).group_by(he.instance_id, he.task_id))
    return {(instance_id, task_id): seq for instance_id, task_id, seq in found}


def _dto(row: m.DecisionInstance, step: int | None, include_inputs: bool, include_outputs: bool) -> dict[str, Any]:
    """Camunda's HistoricDecisionInstanceDto (inputs and outputs: null unless asked for)."""
    at = iso(row.evaluated_at)
    common = {"decisionInstanceId": row.id, "errorMessage": None, "createTime": at, "removalTime": None,
              "rootProcessInstanceId": row.instance_id}
    inputs = [{**{k: i[k] for k in ("id", "clauseId", "clauseName", "type", "value", "valueInfo")}, **common}
              for i in row.inputs] if include_inputs else None
    outputs = [{**{k: o[k] for k in ("id", "clauseId", "clauseName", "ruleId", "ruleOrder", "variableName", "type",
                                     "value", "valueInfo")}, **common}
               for o in row.outputs] if include_outputs else None
    collected = row.collect_result
    return {"id": row.id, "decisionDefinitionId": row.decision_definition_id,
            "decisionDefinitionKey": row.decision_key, "decisionDefinitionName": row.decision_name,
            "evaluationTime": at, "removalTime": None, "processDefinitionId": row.process_definition_id,
            "processDefinitionKey": row.process_definition_key, "processInstanceId": row.instance_id,
            "caseDefinitionId": None, "caseDefinitionKey": None, "caseInstanceId": None,
            "activityId": row.element_id,
            "activityInstanceId": f"{row.element_id}:{step}" if step is not None else None,
            "userId": row.user_id, "inputs": inputs, "outputs": outputs,
            "collectResultValue": collected["value"] if collected else None,
            "rootDecisionInstanceId": row.root_id, "rootProcessInstanceId": row.instance_id,
            "decisionRequirementsDefinitionId": None, "decisionRequirementsDefinitionKey": None,
            "tenantId": None}
