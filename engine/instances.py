"""The runtime service: start, read, cancel, suspend and resume instances; read and set their variables."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from .errors import BadRequest, Conflict, NotFound
from .executor import ACTIVE, CANCELED, COMPLETED, SUSPENDED
from .jobs import open_incident
from .store import models as m
from .variables import stored_value
from .views import DiagramMarkers, HistoryView, InstanceState, InstanceView, TaskView, iso

if TYPE_CHECKING:
    from .api import Engine
    from .identity import Principal

log = logging.getLogger("stageflow.instances")

VARIABLES_EVENT = "variables"  # the history event of a change of variables from outside (inbox, REST, CLI)


@dataclass(frozen=True)
class DefinitionCounts:
    """What runs of one process definition: instances, failed jobs, open incidents by type."""

    running: int = 0
    failed_jobs: int = 0
    incidents: dict[str, int] = field(default_factory=dict)


class Instances:
    """Process instances; every change runs through the engine's executor in one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(self, key_or_id: str, *, business_key: str | None = None, variables: dict[str, Any] | None = None,
              version: int | None = None, user: str | None = None, unique_business_key: bool | None = None,
              validate_form: bool = False, idempotency_key: str | None = None) -> InstanceView:
        """Start the latest version of a process key (or a definition id, or a named version).

        With an `idempotency_key`, a repeated start with the same key and the same request returns the instance
        the first one created (marked `replayed`) instead of a second one; the same key with a different request
        is a `Conflict`. The key is stored in the start's own transaction, so two concurrent repeats cannot both
        start an instance.
        """
        if idempotency_key is not None:
            if len(idempotency_key) > 255:
                raise BadRequest(f"the Idempotency-Key is too long ({len(idempotency_key)} characters): at most 255")
            request = json.dumps([key_or_id, business_key, variables, version], sort_keys=True, default=str)
            request_hash = hashlib.sha256(request.encode()).hexdigest()
            try:
                return self._start_once(idempotency_key, request_hash, key_or_id, business_key=business_key,
                                        variables=variables, version=version, user=user,
                                        unique_business_key=unique_business_key, validate_form=validate_form)
            except IntegrityError:  # a concurrent repeat stored the key first: its instance is the answer
                return self._replay(idempotency_key, request_hash)
        return self._start(key_or_id, business_key=business_key, variables=variables, version=version, user=user,
                           unique_business_key=unique_business_key, validate_form=validate_form)

    def _start_once(self, idempotency_key: str, request_hash: str, key_or_id: str, **options: Any) -> InstanceView:
        with self.engine.db.read() as session:
            known = session.get(m.IdempotentStart, idempotency_key)
        if known is not None:
            return self._replay(idempotency_key, request_hash)
        return self._start(key_or_id, idempotency=(idempotency_key, request_hash), **options)

    def _replay(self, idempotency_key: str, request_hash: str) -> InstanceView:
        with self.engine.db.read() as session:
            known = session.get(m.IdempotentStart, idempotency_key)
            if known is None:
                raise Conflict(f"Idempotency-Key '{idempotency_key}' is being used by a request still running")
            if known.request_hash != request_hash:
                raise Conflict(f"Idempotency-Key '{idempotency_key}' was used for a different start request")
            row = session.get(m.ProcessInstance, known.instance_id)
            if row is None:
                raise NotFound(f"the instance started with Idempotency-Key '{idempotency_key}' no longer exists")
            view = InstanceView.of(row)
            view.replayed = True
            return view

    def _start(self, key_or_id: str, *, business_key: str | None = None, variables: dict[str, Any] | None = None,
               version: int | None = None, user: str | None = None, unique_business_key: bool | None = None,
               validate_form: bool = False, idempotency: tuple[str, str] | None = None) -> InstanceView:
        eng = self.engine
        variables = dict(variables or {})
        with eng.transaction() as session:
            if idempotency is not None:
                session.add(m.IdempotentStart(key=idempotency[0], instance_id="", request_hash=idempotency[1],
                                              created_at=eng.clock.now()))
                session.flush()  # the key's row lock (or a unique violation) before any work
            definition = eng.definitions.resolve(session, key_or_id, version)
            if validate_form:
                from .forms import validate_submission

                variables = validate_submission(eng.definitions.start_form(session, definition.id), variables)
            loaded = eng.executor.start(session, definition, business_key=business_key, variables=variables,
                                        user=user, unique=unique_business_key)
            if idempotency is not None:
                session.execute(update(m.IdempotentStart).where(m.IdempotentStart.key == idempotency[0])
                                .values(instance_id=loaded.row.id))
            return InstanceView.of(loaded.row, loaded.variables())

    def get(self, instance_id: str) -> InstanceView:
        with self.engine.db.read() as session:
            row = session.get(m.ProcessInstance, instance_id)
            if row is None:
                raise NotFound(f"process instance '{instance_id}' not found")
            return InstanceView.of(row)

    def list(self, *, definition_key: str | None = None, definition_id: str | None = None,
             business_key: str | None = None, state: str | None = None, active_only: bool = False,
             variable_equals: dict[str, Any] | None = None, visible_to: Principal | None = None, first: int = 0,
             max_results: int = 100, sorting: list[tuple[str, str]] | None = None,
             **more: Any) -> list[InstanceView]:
        """Instances, newest first (or by Camunda's `sorting`), filtered (`more`: see
        `queries.instance_conditions`); bounded by `max_results` (at most 1,000). With `visible_to`, only
        the instances that person may read (see `visible`)."""
        from .queries import INSTANCE_SORT, order_by

        with self.engine.db.read() as session:
            self._resolve_activities(session, more)
            query = self._query(definition_key, definition_id, business_key, state, active_only, variable_equals,
                                visible_to, more)
            order = order_by(sorting, INSTANCE_SORT, "process instances") or [m.ProcessInstance.started_at.desc()]
            rows = session.scalars(query.order_by(*order, m.ProcessInstance.id)
                                   .offset(first).limit(min(max_results, 1000))).all()
            return [InstanceView.of(r) for r in rows]

    def count(self, **filters: Any) -> int:
        with self.engine.db.read() as session:
            self._resolve_activities(session, filters)
            query = self._query(filters.get("definition_key"), filters.get("definition_id"),
                                filters.get("business_key"), filters.get("state"), filters.get("active_only", False),
                                filters.get("variable_equals"), filters.get("visible_to"), filters)
            return session.scalar(select(func.count()).select_from(query.subquery())) or 0

    def counts_by_definition(self, incident_type: str | None = None) -> dict[str, DefinitionCounts]:
        """Per definition id: running instances, failed jobs (no retries left) and open incidents by type (only
        `incident_type` when given), as Camunda's process definition statistics count them."""
        pi, job, inc = m.ProcessInstance, m.Job, m.Incident
        with self.engine.db.read() as session:
            running = dict(session.execute(
                select(pi.definition_id, func.count()).where(pi.ended_at.is_(None)).group_by(pi.definition_id)).all())
            failed = dict(session.execute(select(job.definition_id, func.count()).where(job.retries == 0)
                                          .group_by(job.definition_id)).all())
            incidents: dict[str, dict[str, int]] = {}
            query = select(inc.definition_id, inc.incident_type, func.count()).where(open_incident())
            if incident_type is not None:
                query = query.where(inc.incident_type == incident_type)
            for definition_id, kind, count in session.execute(query.group_by(inc.definition_id, inc.incident_type)):
                incidents.setdefault(definition_id, {})[kind] = count
        return {d: DefinitionCounts(running.get(d, 0), failed.get(d, 0), incidents.get(d, {}))
                for d in set(running) | set(failed) | set(incidents) if d}

    def _resolve_activities(self, session, filters: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
        """Turn an `activity_ids` filter (Camunda's `activityIdIn`: the instance waits in one of these leaf
        activities) into `activity_waits`: per kind of wait row, what of it counts (see
        `queries.instance_conditions`).

        An open user task or external task is its activity. A timer or a subscription is one only where its element
        is an activity: an intermediate catch event or a receive task is; a boundary event waits with the activity it
        is attached to and an event subprocess's start event with its scope (each an event subscription in Camunda,
        not an activity instance); an event after an event-based gateway waits as the gateway. Those depend on
        the definition, so they are matched as (definition id, element id) pairs, read from the definitions that
        have such waits open."""
        ids = filters.get("activity_ids")
        if ids is None:
            return
        ids = set(ids)
        pairs: set[tuple[str, str]] = set()
        waiting = session.execute(
            select(m.Job.definition_id, m.Job.element_id).where(m.Job.instance_id.isnot(None)).distinct()
            .union(select(m.EventSubscription.definition_id, m.EventSubscription.element_id)
                   .where(m.EventSubscription.instance_id.isnot(None)).distinct())).all()
        for definition_id, element_id in waiting:
            if definition_id is None:
                continue
            try:
                compiled = self.engine.definitions.compiled(session, definition_id)
            except NotFound:  # its deployment was deleted: only the element's own id is known
                if element_id in ids:
                    pairs.add((definition_id, element_id))
                continue
            info = compiled.element_by_id(element_id)
            if info is not None and info.event_gateway:
                if info.event_gateway in ids:
                    pairs.add((definition_id, element_id))
            elif element_id in ids and not (info is not None and info.tag in ("boundaryEvent", "startEvent")):
                pairs.add((definition_id, element_id))
        filters["activity_waits"] = (sorted(ids), sorted(pairs))

    def visible(self, person: Principal, instance_id: str) -> bool:
        """Whether `person` may read the instance (see `_involving`); False for an instance that does not exist."""
        query = select(m.ProcessInstance.id).where(m.ProcessInstance.id == instance_id)
        if not person.is_admin:
            query = query.where(involving(person))
        with self.engine.db.read() as session:
            return session.scalar(query) is not None

    def readable(self, person: Principal, instance_id: str) -> InstanceView:
        """The instance, or `NotFound` (as for one that does not exist) when `person` may not read it."""
        if not person.is_admin and not self.visible(person, instance_id):
            raise NotFound(f"process instance '{instance_id}' not found")
        return self.get(instance_id)

    def _query(self, definition_key, definition_id, business_key, state, active_only, variable_equals,  # type: ignore[no-untyped-def]
               visible_to=None, more=None):
        from .queries import instance_conditions

        query = select(m.ProcessInstance).where(*instance_conditions(more or {}))
        if visible_to is not None and not visible_to.is_admin:
            query = query.where(involving(visible_to))
        if definition_key:
            query = query.where(m.ProcessInstance.definition_key == definition_key)
        if definition_id:
            query = query.where(m.ProcessInstance.definition_id == definition_id)
        if business_key:
            query = query.where(m.ProcessInstance.business_key == business_key)
        if state:
            query = query.where(m.ProcessInstance.state == state.upper())
            if state.upper() in (ACTIVE, SUSPENDED):  # read from the index of the unfinished instances
                query = query.where(m.ProcessInstance.ended_at.is_(None))
        if active_only:
            query = query.where(m.ProcessInstance.ended_at.is_(None))
        for name, value in (variable_equals or {}).items():
            from .variables import project_variable

            columns = project_variable(value)
            match = select(m.Variable.instance_id).where(m.Variable.name == name,
                                                         m.Variable.value == columns["value"])
            query = query.where(m.ProcessInstance.id.in_(match))
        return query

    def state(self, instance_id: str, *, history_limit: int = 200) -> InstanceState:
        """Everything an operator reads about one instance."""
        with self.engine.db.read() as session:
            row = session.get(m.ProcessInstance, instance_id)
            if row is None:
                raise NotFound(f"process instance '{instance_id}' not found")
            variables = self._variables(session, instance_id)
            tasks = session.scalars(select(m.HumanTask).where(m.HumanTask.instance_id == instance_id,
                                                              m.HumanTask.ended_at.is_(None))
                                    .order_by(m.HumanTask.created_at)).all()
            jobs = session.scalars(select(m.Job).where(m.Job.instance_id == instance_id).order_by(m.Job.due_at)).all()
            subs = session.scalars(select(m.EventSubscription)
                                   .where(m.EventSubscription.instance_id == instance_id)).all()
            externals = session.scalars(select(m.ExternalTask)
                                        .where(m.ExternalTask.instance_id == instance_id)).all()
            incidents = session.scalars(select(m.Incident).where(m.Incident.instance_id == instance_id,
                                                                 open_incident())).all()
            history = session.scalars(select(m.HistoryEvent).where(m.HistoryEvent.instance_id == instance_id)
                                      .order_by(m.HistoryEvent.seq.desc()).limit(history_limit)).all()
            active = [t.element_id for t in tasks] + self._waiting_at(session, row.definition_id, [
                *(j.element_id for j in jobs), *(s.element_id for s in subs)], activities_only=True) + [
                e.element_id for e in externals]
            return InstanceState(
                instance=InstanceView.of(row),
                variables=variables,
                active_elements=sorted(set(active)),
                tasks=[TaskView.of(t) for t in tasks],
                timers=[{"id": j.id, "activityId": j.element_id, "dueDate": iso(j.due_at), "kind": j.timer_kind,
                         "retries": j.retries} for j in jobs],
                subscriptions=[{"eventType": s.event_type, "eventName": s.name, "activityId": s.element_id}
                               for s in subs],
                external_tasks=[{"id": e.id, "topicName": e.topic, "activityId": e.element_id} for e in externals],
                incidents=[{"id": i.id, "incidentType": i.incident_type, "activityId": i.element_id,
                            "incidentMessage": i.message, "incidentTimestamp": iso(i.created_at)} for i in incidents],
                history=[HistoryView.of(h) for h in reversed(history)],
            )

    def _variables(self, session, instance_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        rows = session.scalars(select(m.Variable).where(m.Variable.instance_id == instance_id)
                               .order_by(m.Variable.name)).all()
        out: dict[str, Any] = {}
        for row in rows:
            out[row.name] = stored_value(row.type, row.value)
        return out

    def variables(self, instance_id: str) -> dict[str, Any]:
        """The instance's process variables."""
        with self.engine.db.read() as session:
            if session.get(m.ProcessInstance, instance_id) is None:
                raise NotFound(f"process instance '{instance_id}' not found")
            return self._variables(session, instance_id)

    def set_variables(self, instance_id: str, values: dict[str, Any], *, remove: list[str] | None = None,
                      user: str | None = None, task_id: str | None = None) -> None:
        """Set (and remove) process variables; the instance does not move. With `task_id`, through that open task,
        as Camunda's task service: each name in the nearest scope around the task that defines it
        (`Run.set_variables_at`).

        The change is a `variables` history event (who, when, the new and the previous values), so that an
        operator can see who changed what.
        """
        from .spiff.runtime import check_variables_serializable

        check_variables_serializable(values)

        def action(run):  # type: ignore[no-untyped-def]
            if task_id is not None:
                run.set_variables_at(task_id, values, remove)
                return
            run.set_variables(values)
            if remove:
                run.remove_variables(remove)

        with self.engine.transaction() as session:
            _, loaded = self.engine.executor.change(session, instance_id, action, user=user, allow_suspended=True)
            before = loaded.before.variables
            changed = {n: v for n, v in values.items() if n not in before or before[n] != v}
            removed = [n for n in remove or [] if n in before]
            if changed or removed:
                details = {"set": changed, "previous": {n: before[n] for n in [*changed, *removed] if n in before},
                           "removed": removed}
                session.add(m.HistoryEvent(
                    instance_id=instance_id, element_id=loaded.row.definition_key, element_type="process",
                    element_name=None, event=VARIABLES_EVENT, task_id=None, user_id=user, at=self.engine.clock.now(),
                    details=json.loads(json.dumps(details, default=str))))

    def cancel(self, instance_id: str, *, reason: str | None = None, user: str | None = None) -> InstanceView:
        """Cancel a running instance: its open tasks, timers and subscriptions go with it."""
        with self.engine.transaction() as session:
            loaded = self.engine.executor.load(session, instance_id)
            loaded.row.state = CANCELED
            loaded.run.cancel()
            loaded.row.delete_reason = reason
            self.engine.executor.save(session, loaded, user=user)
            session.execute(update(m.ProcessInstance).where(m.ProcessInstance.id == instance_id)
                            .values(state=CANCELED, delete_reason=reason))
            # its open incidents are closed by its end (`jobs.open_incident`): deleted, not resolved, as in Camunda
            loaded.row.state = CANCELED
            return InstanceView.of(loaded.row)

    def suspend(self, instance_id: str, *, user: str | None = None) -> InstanceView:
        """Suspend a running instance: its tasks, timers and external tasks wait (a history event says who)."""
        return self._set_suspended(instance_id, True, user)

    def resume(self, instance_id: str, *, user: str | None = None) -> InstanceView:
        return self._set_suspended(instance_id, False, user)

    def _set_suspended(self, instance_id: str, suspended: bool, user: str | None) -> InstanceView:
        with self.engine.transaction() as session:
            query = select(m.ProcessInstance).where(m.ProcessInstance.id == instance_id)
            if not self.engine.db.is_sqlite:
                query = query.with_for_update()
            row = session.scalars(query).first()
            if row is None:
                raise NotFound(f"process instance '{instance_id}' not found")
            if row.state in (COMPLETED, CANCELED):
                raise Conflict(f"process instance '{instance_id}' has ended")
            self._mark_suspended(session, row, suspended, user)
            return InstanceView.of(row)

    def _mark_suspended(self, session: Any, row: m.ProcessInstance, suspended: bool, user: str | None) -> None:
        row.state = SUSPENDED if suspended else ACTIVE
        row.version += 1
        for model in (m.HumanTask, m.ExternalTask, m.Job):
            session.execute(update(model).where(model.instance_id == row.id).values(suspended=suspended)
                            .execution_options(synchronize_session=False))
        session.add(m.HistoryEvent(instance_id=row.id, element_id=row.definition_key, element_type="process",
                                   element_name=None, event="suspended" if suspended else "resumed",
                                   task_id=None, user_id=user, at=self.engine.clock.now(), details=None))

    def set_suspended_where(self, suspended: bool, *, definition_id: str | None = None,
                            definition_key: str | None = None, instance_ids: list[str] | None = None,
                            user: str | None = None) -> int:
        """Suspend (or resume) at once the running instances of a definition, of every version of a process key,
        or those named (Camunda's `PUT /process-instance/suspended`), in one transaction; returns how many
        changed. An unknown definition, key or instance is a `NotFound` and changes nothing."""
        given = [v for v in (definition_id, definition_key, instance_ids) if v is not None]
        if len(given) != 1:
            raise BadRequest("give one of processDefinitionId, processDefinitionKey or processInstanceIds to "
                             "suspend or activate instances")
        pi = m.ProcessInstance
        with self.engine.transaction() as session:
            query = select(pi).where(pi.state == (ACTIVE if suspended else SUSPENDED), pi.ended_at.is_(None))
            if definition_id is not None:
                if session.get(m.ProcessDefinition, definition_id) is None:
                    raise NotFound(f"process definition '{definition_id}' not found")
                query = query.where(pi.definition_id == definition_id)
            elif definition_key is not None:
                if session.scalar(select(m.ProcessDefinition.id).where(m.ProcessDefinition.key == definition_key)
                                  .limit(1)) is None:
                    raise NotFound(f"no process definition with key '{definition_key}'")
                query = query.where(pi.definition_key == definition_key)
            else:
                ids = list(dict.fromkeys(instance_ids or []))
                running = set(session.scalars(select(pi.id).where(pi.id.in_(ids), pi.ended_at.is_(None))))
                missing = [i for i in ids if i not in running]
                if missing:
                    raise NotFound(f"process instance '{missing[0]}' not found (or it has ended)")
                query = query.where(pi.id.in_(ids))
            if not self.engine.db.is_sqlite:
                query = query.with_for_update()
            rows = session.scalars(query.order_by(pi.id)).all()
            for row in rows:
                self._mark_suspended(session, row, suspended, user)
            return len(rows)

    def history(self, instance_id: str, *, first: int = 0, max_results: int = 500) -> list[HistoryView]:
        with self.engine.db.read() as session:
            if session.get(m.ProcessInstance, instance_id) is None:
                raise NotFound(f"process instance '{instance_id}' not found")
            rows = session.scalars(select(m.HistoryEvent).where(m.HistoryEvent.instance_id == instance_id)
                                   .order_by(m.HistoryEvent.seq).offset(first)
                                   .limit(min(max_results, 5000))).all()
            return [HistoryView.of(r) for r in rows]

    def variable_changes(self, instance_id: str, *, max_results: int = 500) -> list[HistoryView]:
        """The changes of variables made from outside the process (see `set_variables`), oldest first."""
        with self.engine.db.read() as session:
            rows = session.scalars(select(m.HistoryEvent).where(m.HistoryEvent.instance_id == instance_id,
                                                                m.HistoryEvent.event == VARIABLES_EVENT)
                                   .order_by(m.HistoryEvent.seq.desc()).limit(min(max_results, 5000))).all()
            return [HistoryView.of(r) for r in reversed(rows)]

    def markers(self, instance_id: str) -> DiagramMarkers:
        """The diagram elements an instance is at (open tasks, waiting events, running scopes such as a call
        activity or subprocess), those it completed (from its history) and those with an open incident."""
        with self.engine.db.read() as session:
            state = session.scalar(select(m.ProcessInstance.state).where(m.ProcessInstance.id == instance_id))
            if state is None:
                raise NotFound(f"process instance '{instance_id}' not found")
            active: set[str] = set()
            definition_id = session.scalar(select(m.ProcessInstance.definition_id)
                                           .where(m.ProcessInstance.id == instance_id))
            for model in (m.HumanTask, m.Job, m.EventSubscription, m.ExternalTask):
                query = select(model.element_id).where(model.instance_id == instance_id)
                if model is m.HumanTask:
                    query = query.where(m.HumanTask.ended_at.is_(None))
                found = [e for e in session.scalars(query) if e]
                active.update(self._waiting_at(session, definition_id, found)
                              if model in (m.Job, m.EventSubscription) else found)
            completed = set(session.scalars(select(m.HistoryEvent.element_id).distinct().where(
                m.HistoryEvent.instance_id == instance_id, m.HistoryEvent.event == "completed",
                m.HistoryEvent.element_type != "process")))
            incidents = set(session.scalars(select(m.Incident.element_id).where(
                m.Incident.instance_id == instance_id, open_incident())))
            if state not in (COMPLETED, CANCELED):
                try:
                    loaded = self.engine.executor.load(session, instance_id, for_change=False)
                    active.update(element for _, element, _ in loaded.run.open_elements())
                except Exception as err:  # noqa: BLE001 - the projections above still tell where it waits
                    log.warning("instance %s: cannot read its runtime for the diagram: %s", instance_id, err)
        return DiagramMarkers(active=sorted(active), completed=sorted(completed),
                              incidents=sorted(e for e in incidents if e))

    def _waiting_at(self, session, definition_id: str, element_ids: list[str], *,  # type: ignore[no-untyped-def]
                    activities_only: bool = False) -> list[str]:
        """The elements jobs and subscriptions wait at, as Camunda shows them (see `CompiledProcess.waiting_at`);
        with `activities_only`, as Camunda's active activity ids: not a boundary event (it waits with its
        activity) nor an event subprocess's start event (with its scope), which are subscriptions only."""
        if not element_ids:
            return []
        try:
            compiled = self.engine.definitions.compiled(session, definition_id)
        except NotFound:  # its deployment was deleted
            return element_ids
        if activities_only:
            element_ids = [e for e in element_ids if (info := compiled.element_by_id(e)) is None
                           or info.tag not in ("boundaryEvent", "startEvent")]
        return [compiled.waiting_at(e) for e in element_ids]

    def element_names(self, instance_id: str) -> dict[str, str]:
        """The names of the diagram elements of an instance's process, by element id (unnamed ones left out)."""
        with self.engine.db.read() as session:
            row = session.get(m.ProcessInstance, instance_id)
            if row is None:
                raise NotFound(f"process instance '{instance_id}' not found")
            try:
                compiled = self.engine.definitions.compiled(session, row.definition_id, row.bindings)
            except NotFound:  # its deployment was deleted
                return {}
        return {info.element_id: info.name for info in compiled.elements.values() if info.name}

    def resolve_incident(self, instance_id: str, incident_id: str) -> None:
        """Close an open incident of the instance that has nothing to retry: a script that failed in a change
        that was undone (a task completion, a message), once that change was made again or given up."""
        with self.engine.db.write() as session:
            row = session.get(m.Incident, incident_id)
            if row is None or row.instance_id != instance_id:
                raise NotFound(f"incident '{incident_id}' of process instance '{instance_id}' not found")
            if row.resolved_at is not None:
                raise Conflict(f"incident '{incident_id}' is resolved already")
            if row.job_id is not None:
                raise Conflict(f"incident '{incident_id}' belongs to a job or external task: retry it instead")
            row.resolved_at = self.engine.clock.now()


def involving(person: Principal) -> Any:
    """The instances a person (not an admin) may read: those they started or acted in (history), and those with
    a task, open or done, that is or was theirs: assignee, the one who completed it, or a candidate, directly or
    through one of their groups. The inbox's instance page and the REST API's instance reads use it alike."""
    user, groups = person.user_id, list(person.groups)
    linked = [m.IdentityLink.user_id == user] + ([m.IdentityLink.group_id.in_(groups)] if groups else [])
    candidate = select(m.IdentityLink.id).where(m.IdentityLink.task_id == m.HumanTask.id, or_(*linked)).exists()
    task = select(m.HumanTask.id).where(m.HumanTask.instance_id == m.ProcessInstance.id,
                                        or_(m.HumanTask.assignee == user, m.HumanTask.completed_by == user,
                                            candidate)).exists()
    acted = select(m.HistoryEvent.seq).where(m.HistoryEvent.instance_id == m.ProcessInstance.id,
                                             m.HistoryEvent.user_id == user).exists()
    return or_(task, acted)
