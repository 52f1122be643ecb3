"""Messages and signals: correlation in SQL, delivery through the executor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .errors import BadRequest, MismatchingCorrelation, NotFound, Suspended
from .spiff.runtime import check_variables_serializable
from .store import models as m
from .variables import project_variable, stored_value
from .views import InstanceView, iso

if TYPE_CHECKING:
    from .api import Engine


# Suspended instances' subscriptions are suspended too: messages and signals pass them by, as in Camunda. Each
# subscription found looks up its own instance (`IN (SELECT ... WHERE state = 'ACTIVE')` listed every running
# instance of the database at each correlation).
_OF_AN_ACTIVE_INSTANCE = (select(m.ProcessInstance.id)
                          .where(m.ProcessInstance.id == m.EventSubscription.instance_id,
                                 m.ProcessInstance.state == "ACTIVE").exists())


@dataclass
class Correlation:
    """What a message did: the instance it reached (or started) and how."""

    result_type: str  # Execution (an instance waiting for it) or ProcessDefinition (a message start)
    instance: InstanceView

    def to_json(self, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "resultType": self.result_type,
            "execution": None,
            "processInstance": None,
        }
        if self.result_type == "Execution":
            body["execution"] = {"id": self.instance.id, "processInstanceId": self.instance.id,
                                 "ended": self.instance.ended, "tenantId": None}
        else:
            body["processInstance"] = self.instance.to_json()
        if variables is not None:
            body["variables"] = variables
        return body


class Messages:
    """Correlate messages and broadcast signals."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def correlate(self, name: str, *, business_key: str | None = None, instance_id: str | None = None,
                  correlation_keys: dict[str, Any] | None = None, variables: dict[str, Any] | None = None,
                  all: bool = False, user: str | None = None) -> list[Correlation]:  # noqa: A002 - Camunda's name
        """Deliver message `name` to the instance that waits for it, or start one at a message start event.

        Matching is done in SQL on the subscription's name, the instance's business key or id and the
        instance's variables (`correlation_keys`; a Date matches the same moment in any offset). No match, or
        several where one is expected (`all` false), is a `BadRequest` that says which; with `all`, no match is an
        empty list, as Camunda's correlateAll. As Camunda's correlation handler, a message start event is tried
        when no instance waits (with `all`: as well as the instances that wait), whatever the correlation keys
        (they are variables of running instances) and unless an instance was named.
        """
        if not name:
            raise BadRequest("a message needs a name")
        variables = dict(variables or {})
        check_variables_serializable(variables)
        eng = self.engine
        results: list[Correlation] = []
        with eng.transaction() as session:
            waits = self._waiting(session, name, business_key, instance_id, correlation_keys)
            targets = sorted(set(waits))
            if len(targets) > 1 and not all:
                raise MismatchingCorrelation(f"message '{name}' matches {len(targets)} process instances "
                                 f"({', '.join(targets[:5])}); give a business key, an instance id or "
                                 "correlation keys, or correlate to all")
            if len(waits) > 1 and not all:  # several executions of one instance wait: Camunda refuses too
                raise MismatchingCorrelation(
                    f"Cannot correlate a message with name '{name}' to a single execution. {len(waits)} executions "
                    f"of process instance {targets[0]} wait for it; correlate to all")
            for target in targets:
                delivered, loaded = eng.executor.change(
                    session, target, lambda run: run.deliver_message(name, variables), user=user)
                if delivered:
                    results.append(Correlation("Execution", InstanceView.of(loaded.row)))
            if instance_id is None and (all or not results):
                results.extend(self._start(session, name, business_key, variables, all, user))
            if not results and not all:  # Camunda's correlateAll with nothing waiting: an empty result
                raise MismatchingCorrelation(f"no process instance waits for message '{name}'"
                                 + (f" with business key '{business_key}'" if business_key else "")
                                 + (f" in instance '{instance_id}'" if instance_id else "")
                                 + (" with the given correlation keys" if correlation_keys else "")
                                 + ", and no process starts with it")
        return results

    def _waiting(self, session: Session, name: str, business_key: str | None, instance_id: str | None,
                 correlation_keys: dict[str, Any] | None) -> list[str]:
        query = (select(m.EventSubscription.instance_id)
                 .where(m.EventSubscription.event_type == "message", m.EventSubscription.name == name,
                        _OF_AN_ACTIVE_INSTANCE))
        if business_key is not None:
            query = query.where(m.EventSubscription.business_key == business_key)
        if instance_id is not None:
            query = query.where(m.EventSubscription.instance_id == instance_id)
        for key, value in (correlation_keys or {}).items():
            if isinstance(value, datetime):  # the same moment, whatever offset either was written with
                named = session.execute(select(m.Variable.instance_id, m.Variable.value).where(
                    m.Variable.name == key, m.Variable.type == "Date",
                    m.Variable.instance_id.in_(query.with_only_columns(m.EventSubscription.instance_id))))
                query = query.where(m.EventSubscription.instance_id.in_(
                    [owner for owner, stored in named if _same_moment(stored, value)]))
                continue
            columns = project_variable(value)  # the value and its type, as Camunda's typed match: a Long 10 is not
            query = query.where(m.EventSubscription.instance_id.in_(  # an Integer 10
                select(m.Variable.instance_id).where(m.Variable.name == key, m.Variable.value == columns["value"],
                                                     m.Variable.type == columns["type"])))
        return list(session.scalars(query.order_by(m.EventSubscription.created_at)).all())

    def _start(self, session: Session, name: str, business_key: str | None, variables: dict[str, Any],
               all: bool, user: str | None) -> list[Correlation]:  # noqa: A002
        starts = session.scalars(select(m.EventSubscription).where(
            m.EventSubscription.event_type == "message", m.EventSubscription.name == name,
            m.EventSubscription.instance_id.is_(None))).all()
        if len(starts) > 1 and not all:
            raise MismatchingCorrelation(f"message '{name}' starts {len(starts)} processes; correlate to all or "
                                         "rename one")
        results = []
        for start in starts:
            definition = session.get(m.ProcessDefinition, start.definition_id)
            if definition is None:
                raise NotFound(f"process definition '{start.definition_id}' not found")
            loaded = self.engine.executor.start(session, definition, business_key=business_key,
                                                variables=variables, user=user, trigger=("message", name))
            results.append(Correlation("ProcessDefinition", InstanceView.of(loaded.row)))
        return results

    def subscriptions(self, *, first: int = 0, max_results: int = 100, sort_order: str = "asc",
                      **filters: Any) -> list[dict[str, Any]]:
        """What waits for a message or signal, as Camunda's `GET /event-subscription`: the waits of running
        instances and the message and signal start events of deployed definitions, oldest first (`sort_order`
        desc: newest first). Filters: see `_subscription_query`."""
        es = m.EventSubscription
        order = es.created_at.desc() if sort_order == "desc" else es.created_at.asc()
        with self.engine.db.read() as session:
            rows = session.scalars(_subscription_query(**filters).order_by(order, es.id).offset(first)
                                   .limit(min(max_results, 1000))).all()
            return [_subscription_json(r) for r in rows]

    def count_subscriptions(self, **filters: Any) -> int:
        with self.engine.db.read() as session:
            return session.scalar(select(func.count()).select_from(_subscription_query(**filters).subquery())) or 0

    def signal(self, name: str, *, variables: dict[str, Any] | None = None,
               instance_id: str | None = None, user: str | None = None) -> int:
        """Broadcast signal `name` to every instance waiting for it and start processes with that signal start.

        Returns how many instances received or were started by it. With `instance_id` (Camunda's `executionId`:
        an instance is its one execution here) only that instance receives it, and one that is not running
        (`NotFound`), suspended (`Suspended`) or not waiting for the signal (`BadRequest`) is an error, as
        Camunda's signal to one execution.
        """
        if not name:
            raise BadRequest("a signal needs a name")
        variables = dict(variables or {})
        check_variables_serializable(variables)
        eng = self.engine
        count = 0
        with eng.transaction() as session:
            if instance_id:
                _check_signal_target(session, name, instance_id)
            query = select(m.EventSubscription.instance_id).where(
                m.EventSubscription.event_type == "signal", m.EventSubscription.name == name,
                _OF_AN_ACTIVE_INSTANCE)
            if instance_id:
                query = query.where(m.EventSubscription.instance_id == instance_id)
            for target in sorted(set(session.scalars(query).all())):
                delivered, _ = eng.executor.change(session, target,
                                                   lambda run: run.deliver_signal(name, variables), user=user)
                count += int(bool(delivered))
            if instance_id is None:
                starts = session.scalars(select(m.EventSubscription).where(
                    m.EventSubscription.event_type == "signal", m.EventSubscription.name == name,
                    m.EventSubscription.instance_id.is_(None))).all()
                for start in starts:
                    definition = session.get(m.ProcessDefinition, start.definition_id)
                    eng.executor.start(session, definition, business_key=None, variables=variables, user=user,
                                       trigger=("signal", name))
                    count += 1
        return count


def _same_moment(stored: str, wanted: datetime) -> bool:
    """A stored Date variable (its JSON text) is the moment `wanted`; a date without an offset is UTC."""
    try:
        moment = stored_value("Date", stored)
    except (TypeError, ValueError):
        return False
    return isinstance(moment, datetime) and _utc(moment) == _utc(wanted)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _check_signal_target(session: Session, name: str, instance_id: str) -> None:
    state = session.scalar(select(m.ProcessInstance.state).where(m.ProcessInstance.id == instance_id,
                                                                 m.ProcessInstance.ended_at.is_(None)))
    if state is None:
        raise NotFound(f"Cannot find execution with id '{instance_id}'")
    waits = session.scalar(select(func.count()).select_from(m.EventSubscription).where(
        m.EventSubscription.event_type == "signal", m.EventSubscription.name == name,
        m.EventSubscription.instance_id == instance_id))
    if not waits:
        raise BadRequest(f"Execution '{instance_id}' has not subscribed to a signal event with name '{name}'.")
    if state == "SUSPENDED":
        raise Suspended(f"execution '{instance_id}' is suspended: it cannot receive signal '{name}'")


def _subscription_query(*, subscription_id: str | None = None, event_type: str | None = None,
                        event_name: str | None = None, instance_id: str | None = None,
                        execution_id: str | None = None, activity_id: str | None = None) -> Any:
    """Event subscriptions with Camunda's filters; an instance's waits are in its one execution (its id)."""
    es = m.EventSubscription
    query = select(es)
    for column, value in ((es.id, subscription_id), (es.event_type, event_type), (es.name, event_name),
                          (es.instance_id, instance_id), (es.instance_id, execution_id), (es.element_id, activity_id)):
        if value:
            query = query.where(column == value)
    return query


def _subscription_json(row: m.EventSubscription) -> dict[str, Any]:
    """Camunda's EventSubscriptionDto (a start event's subscription has no execution or instance)."""
    return {"id": row.id, "eventType": row.event_type, "eventName": row.name, "executionId": row.instance_id,
            "processInstanceId": row.instance_id, "activityId": row.element_id,
            "createdDate": iso(row.created_at), "tenantId": None}
