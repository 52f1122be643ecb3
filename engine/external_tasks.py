"""External tasks: service tasks of `camunda:type="external"` worked by workers that fetch, lock and complete them.

The protocol is Camunda 7's: a worker fetches and locks tasks of some topics for a lock duration, then completes
them (with variables), reports a failure (with the retries left and a retry timeout; no retries left makes an
incident) or a BPMN error (caught by an error boundary event or event subprocess), extends its lock or unlocks.
A lock that expires makes the task fetchable by any worker again. Only the worker holding a task's lock may
complete it, fail it or raise a BPMN error on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from .errors import BadRequest, NotFound, Suspended
from .executor import lock_instance_of
from .ids import new_id
from .queries import EXTERNAL_TASK_SORT, order_by
from .spiff.runtime import check_variables_serializable
from .store import models as m
from .variables import project_variable, stored_value, to_typed
from .views import iso

if TYPE_CHECKING:
    from .api import Engine


@dataclass
class TopicRequest:
    """One topic of a fetch-and-lock request."""

    topic_name: str
    lock_duration_ms: int
    variables: list[str] | None = None  # None: all variables
    local_variables: bool = False  # only the task's own (its camunda:inputParameter values)
    business_key: str | None = None
    process_definition_keys: list[str] = field(default_factory=list)
    process_definition_ids: list[str] = field(default_factory=list)
    process_variables: dict[str, Any] = field(default_factory=dict)  # only instances with these variable values
    tenant_ids: list[str] | None = None  # `tenantIdIn`: Stageflow has no tenants, so a list matches no task
    version_tag: str | None = None  # `processDefinitionVersionTag`: only tasks of definitions with this tag
    include_extension_properties: bool = False  # each task with its activity's camunda:properties


class ExternalTasks:
    """Fetch, lock, complete, fail and query external tasks."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def fetch_and_lock(self, worker_id: str, max_tasks: int, topics: list[TopicRequest], *,
                       use_priority: bool = False, newest_first: bool = False) -> list[dict[str, Any]]:
        """Lock up to `max_tasks` free tasks of `topics` for `worker_id`; each with its instance's variables.

        Oldest first (after the highest priority with `use_priority`); `newest_first`: newest first (Camunda's
        `sorting` by `createTime` descending)."""
        if not worker_id:
            raise BadRequest("workerId is required")
        if max_tasks < 0:
            raise BadRequest("maxTasks must not be negative")
        eng = self.engine
        now = eng.clock.now()
        locked: list[tuple[m.ExternalTask, TopicRequest]] = []
        with eng.db.write() as session:
            for topic in topics:
                if len(locked) >= max_tasks:
                    break
                if topic.lock_duration_ms <= 0:
                    raise BadRequest(f"lockDuration of topic '{topic.topic_name}' must be positive")
                query = select(m.ExternalTask).where(m.ExternalTask.topic == topic.topic_name, *_free(now))
                if topic.business_key is not None:
                    query = query.where(m.ExternalTask.business_key == topic.business_key)
                if topic.process_definition_keys:
                    query = query.where(m.ExternalTask.definition_key.in_(topic.process_definition_keys))
                if topic.process_definition_ids:
                    query = query.where(m.ExternalTask.definition_id.in_(topic.process_definition_ids))
                if topic.tenant_ids:
                    continue  # every task is without a tenant
                if topic.version_tag is not None:
                    query = query.where(m.ExternalTask.definition_id.in_(
                        select(m.ProcessDefinition.id).where(m.ProcessDefinition.version_tag == topic.version_tag)))
                for name, value in topic.process_variables.items():
                    query = query.where(select(m.Variable.instance_id).where(
                        m.Variable.instance_id == m.ExternalTask.instance_id, m.Variable.name == name,
                        m.Variable.value == project_variable(value)["value"]).exists())
                created = (m.ExternalTask.created_at.desc(), m.ExternalTask.id.desc()) if newest_first else (
                    m.ExternalTask.created_at, m.ExternalTask.id)
                order = ([m.ExternalTask.priority.desc()] if use_priority else []) + [*created]
                query = query.order_by(*order).limit(max_tasks - len(locked))
                if not eng.db.is_sqlite:
                    query = query.with_for_update(skip_locked=True)
                for row in session.scalars(query).all():
                    row.worker_id = worker_id
                    row.lock_expires_at = now + timedelta(milliseconds=topic.lock_duration_ms)
                    locked.append((row, topic))
            session.flush()
            out = []
            tags = _version_tags(session, [row for row, _ in locked])
            for row, topic in locked:
                body = _task_json(row, eng.clock.now(), tags)
                body["variables"] = (self._local_variables(session, row, topic.variables) if topic.local_variables
                                     else self._visible_variables(session, row, topic.variables))
                if topic.include_extension_properties:
                    info = eng.definitions.for_instance(session, row.definition_id, row.instance_id).element_by_id(
                        row.element_id)
                    body["extensionProperties"] = dict(info.properties) if info is not None else {}
                out.append(body)
            return out

    def any_free(self, topic_names: list[str]) -> bool:
        """Whether a task of one of the topics is free to lock now (a read, no lock taken): a waiting long poll asks
        this before it tries a `fetch_and_lock`, whose write transaction would queue behind every other writer."""
        with self.engine.db.read() as session:
            return session.scalar(select(m.ExternalTask.id).where(
                m.ExternalTask.topic.in_(topic_names), *_free(self.engine.clock.now())).limit(1)) is not None

    def _variables(self, session, instance_id: str, names: list[str] | None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        query = select(m.Variable).where(m.Variable.instance_id == instance_id)
        if names is not None:
            query = query.where(m.Variable.name.in_(names))
        return {row.name: to_typed(stored_value(row.type, row.value)) for row in session.scalars(query).all()}

    def _visible_variables(self, session, row: m.ExternalTask,  # type: ignore[no-untyped-def]
                           names: list[str] | None) -> dict[str, Any]:
        """The variables the task's execution sees (Camunda's fetch without `localVariables`): the instance's,
        with the task's own (its input parameters) over them; inside a subprocess or a multi-instance activity,
        those of its scopes too (an instance's element variable and loop counters, a subprocess's inputs); in a
        called process, that process's own (what the call activity's `camunda:in` gave it and what it set)."""
        compiled = self.engine.definitions.for_instance(session, row.definition_id, row.instance_id)
        info = compiled.element_by_id(row.element_id)
        if info is not None and (info.scoped or not compiled.in_main_process(row.element_id)):
            loaded = self.engine.executor.load(session, row.instance_id, for_change=False)
            seen = loaded.run.task_variables(row.id)
            return {name: to_typed(value) for name, value in seen.items()
                    if (names is None or name in names) and not name.startswith("_")}
        values = self._variables(session, row.instance_id, names)
        if info is not None and info.inputs:
            values.update(self._local_variables(session, row, names))
        return values

    def _local_variables(self, session, row: m.ExternalTask,  # type: ignore[no-untyped-def]
                         names: list[str] | None) -> dict[str, Any]:
        """The task's local variables, as Camunda's `localVariables: true`: those of its execution. A task that is
        a scope of its own has its input parameters and, as an instance of a multi-instance activity, its element
        variable and loop counters; one that runs in its scope's execution (`runtime._in_scope_execution`) has the
        process variables, or an embedded subprocess's own."""
        loaded = self.engine.executor.load(session, row.instance_id, for_change=False)
        local = loaded.run.local_variables(row.id)
        return {name: to_typed(value) for name, value in local.items() if names is None or name in names}

    def complete(self, task_id: str, worker_id: str, variables: dict[str, Any] | None = None, *,
                 local_variables: dict[str, Any] | None = None,
                 also: Callable[[Session], None] | None = None) -> None:
        """The worker finished the task: the instance goes on with `variables` set, and `local_variables` in the
        task's execution, as Camunda's `localVariables`: a task that is a scope of its own (input/output mapping,
        boundary event, multi-instance) or runs in a parallel branch keeps them for its output parameters only; one
        on the only path of its scope sets them in the scope: process variables, or an embedded subprocess's own.

        `also` writes the worker's own effect (a built-in worker's outbox record) in the same transaction, so
        that it exists exactly when the completion does.
        """
        values = dict(variables or {})
        local = dict(local_variables or {})
        check_variables_serializable(values)
        check_variables_serializable(local)
        self._change(task_id, worker_id, f"External Task {task_id} cannot be completed",
                     lambda run, row: run.complete(task_id, values, local, external=_facts(row)), also=also)

    def bpmn_error(self, task_id: str, worker_id: str, error_code: str, error_message: str | None = None,
                   variables: dict[str, Any] | None = None) -> None:
        """The worker reports a business error: the error boundary event or event subprocess catching
        `error_code` takes over; when none catches it the task's path ends there, as at a none end event
        (Camunda's default: its scope, or the instance, ends once its other paths have)."""
        if not error_code:
            raise BadRequest("errorCode is required")
        values = dict(variables or {})
        check_variables_serializable(values)
        self._change(task_id, worker_id, f"Bpmn error of External Task {task_id} cannot be reported",
                     lambda run, row: run.throw_error(task_id, error_code, error_message, values))

    def _change(self, task_id: str, worker_id: str, what: str, action,  # type: ignore[no-untyped-def]
                also: Callable[[Session], None] | None = None) -> None:
        eng = self.engine
        with eng.transaction() as session:
            row = self._locked_by(session, task_id, worker_id, what)
            eng.executor.change(session, row.instance_id, lambda run: action(run, row), user=None)
            if also is not None:
                also(session)
            session.execute(update(m.Incident).where(m.Incident.job_id == task_id,
                                                     m.Incident.resolved_at.is_(None))
                            .values(resolved_at=eng.clock.now()))

    def failure(self, task_id: str, worker_id: str, error_message: str | None, *, error_details: str | None = None,
                retries: int = 0, retry_timeout_ms: int = 0, variables: dict[str, Any] | None = None,
                local_variables: dict[str, Any] | None = None) -> None:
        """The worker failed: the task is fetchable again after `retry_timeout_ms` while `retries` are left;
        with no retries left it becomes an incident naming the instance, the element and the error.

        `variables` are set as process variables and `local_variables` in the task's own scope, as Camunda's
        `handleFailure` sets them; the error details of an earlier failure stay when none are given.
        """
        if retries < 0:
            raise BadRequest("retries must not be negative")
        if retry_timeout_ms < 0:
            raise BadRequest("retryTimeout must not be negative")
        values = dict(variables or {})
        local = dict(local_variables or {})
        check_variables_serializable(values)
        check_variables_serializable(local)
        eng = self.engine
        now = eng.clock.now()
        with eng.transaction() as session:
            row = self._locked_by(session, task_id, worker_id,
                                  f"Failure of External Task {task_id} cannot be reported")
            failed = {**_facts(row), "errorMessage": error_message, "retries": retries,
                      "errorDetails": row.error_details if error_details is None else error_details}
            checks = self._checks_errors(session, row)
            if values or local or checks:
                def report(run: Any) -> bool:
                    if values or local:
                        run.set_task_variables(task_id, values, local)
                    return checks and run.error_check(task_id, failed, lenient=True)

                thrown, _ = eng.executor.change(session, row.instance_id, report, user=None)
                if thrown:
                    return  # a camunda:errorEventDefinition held: its error was thrown, and the task is gone
            row.retries = retries
            row.error_message = error_message
            if error_details is not None:  # as Camunda's ExternalTaskEntity.failed: earlier details stay
                row.error_details = error_details
            row.lock_expires_at = now + timedelta(milliseconds=retry_timeout_ms)
            if retries == 0:
                session.add(m.Incident(id=new_id(), incident_type="failedExternalTask",
                                       instance_id=row.instance_id, definition_id=row.definition_id,
                                       element_id=row.element_id, job_id=row.id,
                                       message=error_message, created_at=now))  # Camunda's: the worker's, or none

    def extend_lock(self, task_id: str, worker_id: str, new_duration_ms: int) -> None:
        """Lock the task for `new_duration_ms` more from now; only while this worker still holds the lock."""
        if new_duration_ms <= 0:
            raise BadRequest("newDuration must be positive")
        now = self.engine.clock.now()
        with self.engine.db.write() as session:
            row = self._locked_by(session, task_id, worker_id,
                                  f"The lock of the External Task {task_id} cannot be extended")
            if row.lock_expires_at is None or row.lock_expires_at <= now:
                raise BadRequest(f"the lock of external task '{task_id}' has expired: fetch it again")
            row.lock_expires_at = now + timedelta(milliseconds=new_duration_ms)

    def lock(self, task_id: str, worker_id: str, duration_ms: int) -> None:
        """Lock one task, known by its id, for `worker_id` for `duration_ms` from now (Camunda's
        `POST /external-task/{id}/lock`): a free task, or one whose lock expired or that this worker holds already.
        Another worker's live lock is a `BadRequest` naming it; a suspended task is not locked."""
        if not worker_id:
            raise BadRequest("'workerId' is required")
        if duration_ms <= 0:
            raise BadRequest("lockDuration must be positive")
        now = self.engine.clock.now()
        with self.engine.db.write() as session:
            row = self._get(session, task_id)
            held = row.worker_id is not None and row.lock_expires_at is not None and row.lock_expires_at > now
            if held and row.worker_id != worker_id:
                raise BadRequest(f"External Task {task_id} cannot be locked by worker '{worker_id}'. It is locked "
                                 f"by worker '{row.worker_id}'.")
            if row.suspended:
                raise Suspended(f"external task '{task_id}' is suspended")
            row.worker_id = worker_id
            row.lock_expires_at = now + timedelta(milliseconds=duration_ms)

    def unlock(self, task_id: str) -> None:
        """Release the lock: any worker may fetch the task at once."""
        with self.engine.db.write() as session:
            row = self._get(session, task_id)
            row.worker_id = None
            row.lock_expires_at = None

    def set_priority(self, task_id: str, priority: int) -> None:
        """Set the priority a fetch with `usePriority` orders by (Camunda's `PUT /external-task/{id}/priority`)."""
        with self.engine.db.write() as session:
            self._get(session, task_id).priority = priority

    def error_details(self, task_id: str) -> str | None:
        """The details the last failure reported (a worker's stack trace), or None."""
        with self.engine.db.read() as session:
            return self._get(session, task_id).error_details

    def topic_names(self, *, locked: bool | None = None, with_retries_left: bool = False) -> list[str]:
        """The topics of the open external tasks, sorted (`locked`: only those with locked, or unlocked, tasks;
        `with_retries_left`: only those with tasks that have retries left)."""
        query = (self._query(self.engine.clock.now(), locked=locked, with_retries_left=with_retries_left)
                 .with_only_columns(m.ExternalTask.topic).distinct().order_by(m.ExternalTask.topic))
        with self.engine.db.read() as session:
            return list(session.scalars(query).all())

    def set_retries(self, task_id: str, retries: int) -> None:
        """Set the retries left; more than zero resolves the task's incident (after a fix)."""
        if retries < 0:
            raise BadRequest("retries must not be negative")
        now = self.engine.clock.now()
        with self.engine.db.write() as session:
            row = self._get(session, task_id)
            row.retries = retries
            if retries > 0:
                session.execute(update(m.Incident).where(m.Incident.job_id == task_id,
                                                         m.Incident.resolved_at.is_(None)).values(resolved_at=now))

    def get(self, task_id: str) -> dict[str, Any]:
        with self.engine.db.read() as session:
            row = self._get(session, task_id)
            return _task_json(row, self.engine.clock.now(), _version_tags(session, [row]))

    def list(self, *, first: int = 0, max_results: int = 100, sorting: list[tuple[str, str]] | None = None,
             **filters: Any) -> list[dict[str, Any]]:
        """External tasks, oldest first (or by Camunda's `sorting`, see `EXTERNAL_TASK_SORT`); filters as Camunda's
        external task query (see `_query`)."""
        now = self.engine.clock.now()
        order = order_by(sorting, EXTERNAL_TASK_SORT, "external tasks")
        with self.engine.db.read() as session:
            query = self._query(now, **filters).order_by(*order, m.ExternalTask.created_at, m.ExternalTask.id)
            rows = session.scalars(query.offset(first).limit(min(max_results, 1000))).all()
            tags = _version_tags(session, list(rows))
            return [_task_json(r, now, tags) for r in rows]

    def count(self, **filters: Any) -> int:
        now = self.engine.clock.now()
        with self.engine.db.read() as session:
            return session.scalar(select(func.count()).select_from(self._query(now, **filters).subquery())) or 0

    @staticmethod
    def _query(now: datetime, *, ids: list[str] | None = None, topic: str | None = None,
               worker_id: str | None = None, instance_id: str | None = None, instance_ids: list[str] | None = None,
               activity_id: str | None = None, activity_ids: list[str] | None = None,
               execution_id: str | None = None, definition_id: str | None = None,
               definition_key: str | None = None, locked: bool | None = None,
               with_retries_left: bool | None = None, no_retries_left: bool | None = None,
               lock_expiration_after: datetime | None = None, lock_expiration_before: datetime | None = None,
               suspended: bool | None = None, min_priority: int | None = None,
               max_priority: int | None = None):  # type: ignore[no-untyped-def]
        """The query of Camunda's `GET /external-task`: every filter given must hold. A task's execution is the
        task itself here (its `executionId` is its id); `locked` False means "not locked" (no lock, or an expired
        one), as `notLocked`."""
        et = m.ExternalTask
        q = select(et)
        for column, value in ((et.topic, topic), (et.worker_id, worker_id), (et.instance_id, instance_id),
                              (et.element_id, activity_id), (et.id, execution_id),
                              (et.definition_id, definition_id), (et.definition_key, definition_key)):
            if value:
                q = q.where(column == value)
        for column, values in ((et.id, ids), (et.instance_id, instance_ids), (et.element_id, activity_ids)):
            if values is not None:
                q = q.where(column.in_(values))
        if locked is True:
            q = q.where(et.lock_expires_at > now)
        elif locked is False:
            q = q.where(or_(et.lock_expires_at.is_(None), et.lock_expires_at <= now))
        if lock_expiration_after is not None:
            q = q.where(et.lock_expires_at > lock_expiration_after)
        if lock_expiration_before is not None:
            q = q.where(et.lock_expires_at < lock_expiration_before)
        if with_retries_left:
            q = q.where(or_(et.retries.is_(None), et.retries > 0))
        if no_retries_left:
            q = q.where(et.retries == 0)
        if suspended is not None:
            q = q.where(et.suspended == suspended)
        if min_priority is not None:
            q = q.where(et.priority >= min_priority)
        if max_priority is not None:
            q = q.where(et.priority <= max_priority)
        return q

    def _checks_errors(self, session: Session, row: m.ExternalTask) -> bool:
        """Whether the task's element has `camunda:errorEventDefinition`s (see `Run.error_check`)."""
        compiled = self.engine.definitions.for_instance(session, row.definition_id, row.instance_id)
        info = compiled.element_by_id(row.element_id)
        return info is not None and bool(info.error_checks)

    def _get(self, session, task_id: str) -> m.ExternalTask:  # type: ignore[no-untyped-def]
        query = select(m.ExternalTask).where(m.ExternalTask.id == task_id)
        if not self.engine.db.is_sqlite:
            lock_instance_of(session, m.ExternalTask, task_id)
            query = query.with_for_update()
        row = session.scalars(query).first()
        if row is None:
            raise NotFound(f"External task with id {task_id} does not exist")  # Camunda's words
        return row

    def _locked_by(self, session, task_id: str, worker_id: str, what: str) -> m.ExternalTask:  # type: ignore[no-untyped-def]
        """The task when `worker_id` holds its lock and it is not suspended; else `BadRequest` in Camunda's words:
        "`what` by worker 'w9'. It is locked by worker 'w1'." (or "It is not locked by any worker."), or
        `Suspended` (Camunda's `ensureActive`, before a completion, a failure, a BPMN error or a longer lock)."""
        row = self._get(session, task_id)
        if not worker_id or row.worker_id != worker_id:
            holder = (f"It is locked by worker '{row.worker_id}'." if row.worker_id
                      else "It is not locked by any worker.")
            raise BadRequest(f"{what} by worker '{worker_id}'. {holder}")
        if row.suspended:
            raise Suspended(f"external task '{task_id}' is suspended")
        return row


def _facts(row: m.ExternalTask) -> dict[str, Any]:
    """An external task as a `camunda:errorEventDefinition` expression sees it (`externalTask`): Camunda's
    ExternalTask properties, read there with their getters (`externalTask.getErrorDetails()`)."""
    return {"id": row.id, "topicName": row.topic, "workerId": row.worker_id, "retries": row.retries,
            "errorMessage": row.error_message, "errorDetails": row.error_details, "activityId": row.element_id,
            "processInstanceId": row.instance_id, "processDefinitionId": row.definition_id,
            "processDefinitionKey": row.definition_key, "businessKey": row.business_key, "priority": row.priority}


def _version_tags(session: Session, rows: list[m.ExternalTask]) -> dict[str, str | None]:
    """The `camunda:versionTag` of each task's process definition, by definition id (one query)."""
    ids = {r.definition_id for r in rows}
    if not ids:
        return {}
    return dict(session.execute(select(m.ProcessDefinition.id, m.ProcessDefinition.version_tag)
                                .where(m.ProcessDefinition.id.in_(ids))).all())


def _free(now: datetime) -> tuple[Any, ...]:
    """The conditions of a task free to lock at `now`: active, not locked (or its lock expired), retries left."""
    return (m.ExternalTask.suspended.is_(False),
            or_(m.ExternalTask.lock_expires_at.is_(None), m.ExternalTask.lock_expires_at <= now),
            or_(m.ExternalTask.retries.is_(None), m.ExternalTask.retries > 0))


def _task_json(row: m.ExternalTask, now: datetime, tags: dict[str, str | None]) -> dict[str, Any]:
    """An external task in Camunda's shape (`tags`: see `_version_tags`)."""
    return {
        "activityId": row.element_id,
        "activityInstanceId": f"{row.element_id}:{row.id}",
        "createTime": iso(row.created_at),
        "errorMessage": row.error_message,
        "errorDetails": row.error_details,
        "executionId": row.id,
        "id": row.id,
        "lockExpirationTime": iso(row.lock_expires_at),
        "processDefinitionId": row.definition_id,
        "processDefinitionKey": row.definition_key,
        "processDefinitionVersionTag": tags.get(row.definition_id),
        "processInstanceId": row.instance_id,
        "retries": row.retries,
        "suspended": row.suspended,
        "workerId": row.worker_id,
        "topicName": row.topic,
        "tenantId": None,
        "priority": row.priority,
        "businessKey": row.business_key,
        "extensionProperties": {},
    }
