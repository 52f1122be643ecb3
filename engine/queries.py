"""Filters and sort orders of Camunda's list queries that several engine services share: instances (running and
historic) and their history, written as SQL conditions so that paging and counting see the same rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, UnaryExpression, func, or_, select, tuple_

from .errors import BadRequest
from .store import models as m

_PI = m.ProcessInstance
INSTANCE_SORT = {"instanceId": _PI.id, "definitionKey": _PI.definition_key, "definitionId": _PI.definition_id,
                 "businessKey": _PI.business_key, "startTime": _PI.started_at, "endTime": _PI.ended_at}


def instance_conditions(more: dict[str, Any]) -> list[ColumnElement[bool]]:
    """SQL conditions for the instance filters beyond the basic ones: `ids`, `business_key_like` (a LIKE pattern
    with `%`, as Camunda's), `started_after`/`started_before`, `finished_after`/`finished_before`,
    `started_by`, `definition_keys`, `with_incident` (an open incident), `subscriptions` ((event type, name)
    pairs it waits for), `activity_waits` (see
    `Instances._resolve_activities`), `finished` (True: ended; False: running)."""
    out: list[ColumnElement[bool]] = []
    if more.get("ids") is not None:
        out.append(_PI.id.in_(list(more["ids"])))
    if more.get("business_key_like"):
        out.append(_PI.business_key.like(more["business_key_like"]))
    if more.get("started_by"):
        out.append(_PI.start_user == more["started_by"])
    for key, column, compare in (("started_after", _PI.started_at, "gt"), ("started_before", _PI.started_at, "lt"),
                                 ("finished_after", _PI.ended_at, "gt"), ("finished_before", _PI.ended_at, "lt")):
        moment: datetime | None = more.get(key)
        if moment is not None:
            out.append(column > moment if compare == "gt" else column < moment)
    if more.get("definition_keys") is not None:
        out.append(_PI.definition_key.in_(list(more["definition_keys"])))
    if more.get("with_incident"):  # an open incident in it (Camunda's withIncident)
        from .jobs import open_incident

        out.append(_PI.id.in_(select(m.Incident.instance_id).where(open_incident())))
    for event_type, name in more.get("subscriptions") or ():  # waits for this message or signal
        es = m.EventSubscription
        out.append(_PI.id.in_(select(es.instance_id).where(es.event_type == event_type, es.name == name)))
    if more.get("variable_conditions"):  # ((name, operator, value), ...): see `variable_instances.having_variables`
        from .variable_instances import having_variables

        out.extend(having_variables(_PI.id, more["variable_conditions"]))
    if more.get("activity_waits") is not None:  # see `Instances._resolve_activities`
        out.append(_waiting_in(*more["activity_waits"]))
    if more.get("finished") is True:
        out.append(_PI.ended_at.isnot(None))
    elif more.get("finished") is False:
        out.append(_PI.ended_at.is_(None))
    return out


def _waiting_in(ids: list[str], pairs: list[tuple[str, str]]) -> ColumnElement[bool]:
    """The instance waits in one of the activities `ids`: an open user task or external task of one of them, or a
    timer, async continuation or subscription at one of the (definition id, element id) `pairs`."""
    ht, et, job, sub = m.HumanTask, m.ExternalTask, m.Job, m.EventSubscription
    found = [_PI.id.in_(select(ht.instance_id).where(ht.ended_at.is_(None), ht.element_id.in_(ids))),
             _PI.id.in_(select(et.instance_id).where(et.element_id.in_(ids)))]
    if pairs:
        for model in (job, sub):
            found.append(_PI.id.in_(select(model.instance_id).where(
                model.element_id.in_(sorted({e for _, e in pairs})),
                tuple_(model.definition_id, model.element_id).in_(pairs))))
    return or_(*found)


def order_by(sorting: list[tuple[str, str]] | None, columns: dict[str, Any], what: str) -> list[UnaryExpression[Any]]:
    """ORDER BY terms for Camunda's `[(sortBy, sortOrder)]` over `columns` (a `BadRequest` naming an unknown one)."""
    out = []
    for sort_by, sort_order in sorting or []:
        column = columns.get(sort_by)
        if column is None:
            raise BadRequest(f"cannot sort {what} by '{sort_by}' (use {', '.join(columns)})")
        if sort_order not in ("asc", "desc"):
            raise BadRequest(f"sortOrder must be asc or desc, not '{sort_order}'")
        out.append(column.desc() if sort_order == "desc" else column.asc())
    return out


_ET = m.ExternalTask
# Camunda's sort keys of the external task query (but tenantId: there are no tenants here)
EXTERNAL_TASK_SORT = {"id": _ET.id, "lockExpirationTime": _ET.lock_expires_at, "processInstanceId": _ET.instance_id,
                      "processDefinitionId": _ET.definition_id, "processDefinitionKey": _ET.definition_key,
                      "taskPriority": _ET.priority, "createTime": _ET.created_at}

_PD, _DEP = m.ProcessDefinition, m.Deployment
DEFINITION_SORT = {"id": _PD.id, "key": _PD.key, "name": _PD.name, "version": _PD.version,
                   "deploymentId": _PD.deployment_id, "versionTag": _PD.version_tag}
DEPLOYMENT_SORT = {"id": _DEP.id, "name": _DEP.name, "deploymentTime": _DEP.deployed_at}


def definition_conditions(filters: dict[str, Any]) -> list[ColumnElement[bool]]:
    """Process definition filters: `id`, `ids`, `key_like`, `name`, `name_like` (LIKE patterns with `%`, as
    Camunda's), `deployment_id`, `version`, `suspended` (True/False)."""
    out: list[ColumnElement[bool]] = []
    for name, column in (("id", _PD.id), ("name", _PD.name), ("deployment_id", _PD.deployment_id),
                         ("version", _PD.version), ("version_tag", _PD.version_tag)):
        if filters.get(name) is not None:
            out.append(column == filters[name])
    if filters.get("ids") is not None:
        out.append(_PD.id.in_(list(filters["ids"])))
    if filters.get("keys") is not None:
        out.append(_PD.key.in_(list(filters["keys"])))
    if filters.get("key_like"):
        out.append(_PD.key.like(filters["key_like"]))
    if filters.get("name_like"):
        out.append(_PD.name.like(filters["name_like"]))
    if filters.get("suspended") is not None:
        out.append(_PD.suspended.is_(bool(filters["suspended"])))
    return out


def deployment_conditions(filters: dict[str, Any]) -> list[ColumnElement[bool]]:
    """Deployment filters: `id`, `name`, `name_like` (a LIKE pattern), `source`, `after`, `before`."""
    out: list[ColumnElement[bool]] = []
    for name, column in (("id", _DEP.id), ("name", _DEP.name), ("source", _DEP.source)):
        if filters.get(name) is not None:
            out.append(column == filters[name])
    if filters.get("name_like"):
        out.append(_DEP.name.like(filters["name_like"]))
    if filters.get("after") is not None:
        out.append(_DEP.deployed_at > filters["after"])
    if filters.get("before") is not None:
        out.append(_DEP.deployed_at < filters["before"])
    return out


def latest_versions(query: Select, model: Any) -> Select:  # type: ignore[type-arg]
    """`query` over a versioned definition table (processes, decisions) kept to the newest version of each key."""
    newest = select(model.key, func.max(model.version).label("v")).group_by(model.key).subquery()
    return query.join(newest, (newest.c.key == model.key) & (newest.c.v == model.version))
