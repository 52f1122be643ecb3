"""Jobs: timers due later, kept as rows with a due time; acquired with row locks and run through the executor."""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from .errors import BadRequest, Conflict, NotFound, ScriptError, Suspended
from .executor import SUSPENDED, StaleInstance
from .ids import new_id
from .store import models as m
from .views import iso

if TYPE_CHECKING:
    from .api import Engine

log = logging.getLogger("stageflow.jobs")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Jobs:
    """Pending timers and their execution."""

    def __init__(self, engine: Engine, worker_id: str | None = None) -> None:
        self.engine = engine
        self.worker_id = worker_id or default_worker_id()

    def _query(self, *, instance_id: str | None = None, due_before: datetime | None = None,
               **filters: Any) -> Any:
        """Jobs with Camunda's filters: `job_id`, `definition_id`, `activity_id`, `due_after`, `timers` (timer
        jobs), `messages` (async continuations), `executable` (retries left and due), `with_exception`,
        `no_retries_left`, `with_retries_left`, `suspended`/`active`."""
        query = select(m.Job)
        if instance_id:
            query = query.where(m.Job.instance_id == instance_id)
        if due_before:
            query = query.where(m.Job.due_at <= due_before)
        for name, column in (("job_id", m.Job.id), ("definition_id", m.Job.definition_id),
                             ("activity_id", m.Job.element_id)):
            if filters.get(name):
                query = query.where(column == filters[name])
        if filters.get("definition_key"):  # a job keeps its definition's id: the key is the definition's
            query = query.where(m.Job.definition_id.in_(select(m.ProcessDefinition.id).where(
                m.ProcessDefinition.key == filters["definition_key"])))
        if filters.get("due_after"):
            query = query.where(m.Job.due_at > filters["due_after"])
        if filters.get("timers") and filters.get("messages"):
            raise BadRequest("Parameter timers cannot be used together with parameter messages")
        if filters.get("timers"):
            query = query.where(m.Job.job_type.in_(("timer", "timer-start")))
        if filters.get("messages"):
            query = query.where(m.Job.job_type == "async")
        if filters.get("executable"):
            # Camunda's `executable`: retries left and due, suspended or not (`active` leaves suspended ones out)
            query = query.where(m.Job.retries > 0,
                                or_(m.Job.due_at.is_(None), m.Job.due_at <= self.engine.clock.now()))
        if filters.get("with_exception"):
            query = query.where(m.Job.exception.isnot(None))
        if filters.get("no_retries_left"):
            query = query.where(m.Job.retries <= 0)
        if filters.get("with_retries_left"):
            query = query.where(m.Job.retries > 0)
        if filters.get("suspended"):
            query = query.where(m.Job.suspended.is_(True))
        if filters.get("active"):
            query = query.where(m.Job.suspended.is_(False))
        return query

    def list(self, *, first: int = 0, max_results: int = 100, sorting: list[tuple[str, str]] | None = None,
             **filters: Any) -> list[dict[str, Any]]:
        """Jobs filtered (see `_query`), soonest due first unless sorted; at most 1,000."""
        from .queries import order_by

        columns = {"jobId": m.Job.id, "jobDueDate": m.Job.due_at, "jobRetries": m.Job.retries,
                   "processInstanceId": m.Job.instance_id, "processDefinitionId": m.Job.definition_id}
        order = order_by(sorting, columns, "jobs") or [m.Job.due_at]
        with self.engine.db.read() as session:
            rows = session.scalars(self._query(**filters).order_by(*order, m.Job.id).offset(first)
                                   .limit(min(max_results, 1000))).all()
            return [_job_json(r, session) for r in rows]

    def count(self, **filters: Any) -> int:
        """How many jobs match (the filters of `list`), counted in SQL."""
        with self.engine.db.read() as session:
            query = self._query(**filters).with_only_columns(m.Job.id)
            return session.scalar(select(func.count()).select_from(query.subquery())) or 0

    def get(self, job_id: str) -> dict[str, Any]:
        with self.engine.db.read() as session:
            row = session.get(m.Job, job_id)
            if row is None:
                raise NotFound(f"job '{job_id}' not found")
            return _job_json(row, session)

    def next_due(self) -> datetime | None:
        """When the earliest pending job falls due."""
        with self.engine.db.read() as session:
            return session.scalar(select(m.Job.due_at).where(m.Job.suspended.is_(False), m.Job.retries > 0,
                                                             m.Job.due_at.isnot(None))
                                  .order_by(m.Job.due_at).limit(1))

    def execute_due(self, *, limit: int = 100) -> int:
        """Acquire up to `limit` jobs due now (on the engine's clock) and fire them; returns how many fired."""
        return self.run_due(limit=limit)[0]

    def run_due(self, *, limit: int = 100) -> tuple[int, int]:
        """`execute_due`, counting both ways: (fired, not fired: failed, to be retried or an incident, or taken
        by another worker meanwhile)."""
        due = self.acquire(limit)
        fired = sum(int(self.execute(job_id)) for job_id in due)
        return fired, len(due) - fired

    def acquire(self, limit: int) -> list[str]:
        """Lock up to `limit` due jobs for this worker, oldest due first, in one short transaction.

        A job stays locked for `job_lock_seconds` (engine clock): other workers skip it meanwhile, so that
        several workers share the due jobs instead of racing for the same ones. A worker that dies holding locks
        leaves its jobs to the others once the locks expire; the job's effect is written only in the
        transaction that fires it, so a job cut short is as if it never ran.
        """
        eng = self.engine
        now = eng.clock.now()
        with eng.db.write() as session:
            query = (select(m.Job.id)
                     .where(m.Job.due_at <= now, m.Job.suspended.is_(False), m.Job.retries > 0,
                            or_(m.Job.lock_expires_at.is_(None), m.Job.lock_expires_at <= now))
                     .order_by(m.Job.due_at, m.Job.id).limit(limit))
            if not eng.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            ids = list(session.scalars(query).all())
            if ids:
                session.execute(update(m.Job).where(m.Job.id.in_(ids))
                                .values(lock_owner=self.worker_id,
                                        lock_expires_at=now + timedelta(seconds=eng.settings.job_lock_seconds))
                                .execution_options(synchronize_session=False))
        return ids

    def execute(self, job_id: str, *, now_anyway: bool = False) -> bool:
        """Fire one job if it is due; False when another worker holds it, it is gone or not yet due.

        A job whose execution fails (a script or expression error) is retried per the element's
        `camunda:failedJobRetryTimeCycle` (default `R3/PT5M`: three tries, five minutes apart); when no retry is
        left it becomes an incident naming the instance, the element and the error.

        With `now_anyway` (Camunda's executeJob, an operator's "run it now"), the job runs even when it is not
        due, has no retries left or another worker's lock has expired, and a failure is raised after its try was
        counted, so that the caller sees the error; so is a job that cannot run (gone: `NotFound`, suspended:
        `Suspended`, its instance changed meanwhile: `StaleInstance`).
        """
        eng = self.engine
        now = eng.clock.now()
        try:
            with eng.transaction() as session:
                query = select(m.Job).where(m.Job.id == job_id)
                if not eng.db.is_sqlite:
                    # Lock the instance first, then the job, as every change does (instance, then its rows), so
                    # that two workers running two jobs of one instance queue instead of deadlocking. Then wait
                    # for the job's row rather than skip it: another worker's acquire may hold it for an instant
                    # (PostgreSQL keeps the row locks a SKIP LOCKED query took while re-checking its WHERE), and
                    # skipping would leave this worker's lock on a job it never ran.
                    owner = session.scalar(select(m.Job.instance_id).where(m.Job.id == job_id))
                    if owner is not None:
                        session.execute(select(m.ProcessInstance.id).where(m.ProcessInstance.id == owner)
                                        .with_for_update())
                    query = query.with_for_update()
                job = session.scalars(query).first()
                if now_anyway:
                    _check_runnable(job, job_id)  # raises unless the job exists and is not suspended
                forced = now_anyway
                if job is None or job.suspended or (job.retries <= 0 and not forced):
                    return False
                if not forced and job.lock_owner not in (None, self.worker_id) \
                        and job.lock_expires_at is not None and _aware(job.lock_expires_at) > now:
                    return False  # another worker acquired it and may be running it
                if not forced and (job.due_at is None or _aware(job.due_at) > now):
                    job.lock_owner = job.lock_expires_at = None
                    return False
                log.debug("executing job %s (%s) of instance %s at element %s", job.id, job.job_type,
                          job.instance_id, job.element_id)
                if job.job_type == "timer-start":
                    return self._start_by_timer(session, job, now)
                if job.instance_id is None:
                    return False
                task_id = job.task_id
                action = ((lambda run: run.continue_async(task_id)) if job.job_type == "async"
                          else (lambda run: run.fire_timers()))
                # Run now (an operator's execute, due or not), or a retry of a failed try: the timer fell due (or
                # was run early) once already, and that try's change was rolled back with its failure, so the
                # runtime may still hold the timer's first due time. The job's row says when it runs (Camunda).
                if (forced or job.exception is not None) and task_id and job.job_type == "timer":
                    def action(run):  # type: ignore[no-untyped-def]
                        run.set_timer_due(task_id, now)
                        return run.fire_timers()
                _, loaded = eng.executor.change(session, job.instance_id, action, record_incident=False)
                if job.job_type == "timer" and self._resync(session, job, loaded, now):
                    return False
                # a cycle timer stays with its next due time: free it for whichever worker comes then
                session.execute(update(m.Job).where(m.Job.id == job_id)
                                .values(lock_owner=None, lock_expires_at=None)
                                .execution_options(synchronize_session=False))
                if now_anyway:  # it went through: an incident of its earlier tries is over
                    session.execute(update(m.Incident).where(m.Incident.job_id == job_id,
                                                             m.Incident.resolved_at.is_(None))
                                    .values(resolved_at=now).execution_options(synchronize_session=False))
                fired = (job.job_type, job.instance_id, job.element_id)
            # logged once committed: a worker killed before the commit left no effect and no such line
            log.info("fired %s job %s of instance %s at element %s", fired[0], job_id, fired[1], fired[2])
            return True
        except ScriptError as err:
            self._failed(job_id, err)
            if now_anyway:
                raise
            return False
        except StaleInstance:
            self._release(job_id)  # another change to the instance won the race: due again, for any worker
            if now_anyway:
                raise
            return False
        except Conflict as err:
            self._cannot_run(job_id, err)
            if now_anyway:
                raise
            return False

    def _resync(self, session, job: m.Job, loaded, now: datetime) -> bool:  # type: ignore[no-untyped-def]
        """True when the instance's timer did not fire because it is not due by the runtime (the job's row said
        otherwise: a due time changed behind the engine's back): the row takes the runtime's due time, or goes
        when nothing waits on it, instead of being fired again on every tick."""
        row_due = session.scalar(select(m.Job.due_at).where(m.Job.id == job.id))
        if row_due is None or _aware(row_due) > now:
            return False  # it fired: the save removed the row or moved a cycle to its next time
        due = self.engine.executor.timer_due(loaded, job.task_id) if job.task_id else None
        if due is not None and _aware(due) <= now:
            return False  # due by both: it fired and waits again at the same time (nothing to correct)
        log.warning("job %s of instance %s at element %s was due at %s but its timer is due at %s: corrected",
                    job.id, job.instance_id, job.element_id, iso(row_due), iso(due) if due else "never")
        if due is None:
            session.execute(m.Job.__table__.delete().where(m.Job.id == job.id))
        else:
            session.execute(update(m.Job).where(m.Job.id == job.id)
                            .values(due_at=due, lock_owner=None, lock_expires_at=None)
                            .execution_options(synchronize_session=False))
        return True

    def _release(self, job_id: str) -> None:
        """Give up this worker's lock on a job it did not run, so that the next tick (of any worker) runs it."""
        with self.engine.db.write() as session:
            session.execute(update(m.Job).where(m.Job.id == job_id, m.Job.lock_owner == self.worker_id)
                            .values(lock_owner=None, lock_expires_at=None)
                            .execution_options(synchronize_session=False))

    def _start_by_timer(self, session, job: m.Job, now: datetime) -> bool:  # type: ignore[no-untyped-def]
        """A timer start event fell due: start an instance, then schedule the next firing of a cycle."""
        from .definitions import next_cycle

        definition = session.get(m.ProcessDefinition, job.definition_id)
        if definition is None:
            session.delete(job)
            return False
        loaded = self.engine.executor.start(session, definition, business_key=None, variables={},
                                            trigger=("timer", job.element_id))
        log.info("timer start event %s of %s started instance %s", job.element_id, job.definition_id,
                 loaded.row.id)
        due, repeat = next_cycle(job.repeat, now) if job.repeat else (None, None)
        if due is None:
            session.delete(job)
        else:
            job.due_at, job.repeat = due, repeat
            job.lock_owner = job.lock_expires_at = None
        return True

    def _cannot_run(self, job_id: str, err: Conflict) -> None:
        """A job whose instance or definition refuses it for good (its timer or continuation is gone): make it
        an incident rather than leave it due for ever. A job of a suspended instance or definition just waits."""
        eng = self.engine
        now = eng.clock.now()
        with eng.transaction() as session:
            job = session.get(m.Job, job_id)
            if job is None:
                return
            # Suspended (a race with the suspension): it stays locked until the lock expires, then is tried again.
            if job.job_type == "timer-start":
                definition = session.get(m.ProcessDefinition, job.definition_id)
                if definition is not None and definition.suspended:
                    return
            elif job.instance_id is not None:
                instance = session.get(m.ProcessInstance, job.instance_id)
                if instance is not None and instance.state == SUSPENDED:
                    return
            message = f"the job cannot run: {err.message}"
            job.lock_owner = job.lock_expires_at = None
            job.retries = 0
            job.exception = message
            session.add(m.Incident(id=new_id(), incident_type="failedJob", instance_id=job.instance_id,
                                   definition_id=job.definition_id, element_id=job.element_id, job_id=job.id,
                                   message=message, created_at=now))
            log.error("%s job %s of instance %s at element %s cannot run (now an incident): %s", job.job_type,
                      job.id, job.instance_id, job.element_id, err.message)

    def _failed(self, job_id: str, err: ScriptError) -> None:
        """Count a failed try: due again after the retry interval, or an incident when none is left."""
        eng = self.engine
        now = eng.clock.now()
        with eng.transaction() as session:
            job = session.get(m.Job, job_id)
            if job is None:
                return
            tries, interval = self._retry_cycle(session, job)
            retries = (job.retries if job.exception is not None else tries) - 1
            job.retries = max(retries, 0)
            job.exception = err.message
            job.failed_element_id = err.element_id or job.element_id
            job.due_at = now + interval
            job.lock_owner = job.lock_expires_at = None
            already = session.scalar(select(m.Incident.id).where(m.Incident.job_id == job_id,
                                                                 m.Incident.resolved_at.is_(None)))
            if job.retries == 0 and already is None:
                session.add(m.Incident(id=new_id(), incident_type="failedJob", instance_id=job.instance_id,
                                       definition_id=job.definition_id, element_id=job.element_id, job_id=job.id,
                                       failed_element_id=job.failed_element_id, message=err.message,
                                       created_at=now))
                log.error("job %s of instance %s at element %s failed with no retries left: %s", job.id,
                          job.instance_id, job.element_id, err.message)
            else:
                log.warning("job %s of instance %s at element %s failed (%d retries left): %s", job.id,
                            job.instance_id, job.element_id, job.retries, err.message)

    def _retry_cycle(self, session, job: m.Job) -> tuple[int, timedelta]:  # type: ignore[no-untyped-def]
        """(tries, interval) from the element's failedJobRetryTimeCycle, `R3/PT5M` when it names none."""
        cycle = "R3/PT5M"
        if job.definition_id:
            compiled = self.engine.definitions.for_instance(session, job.definition_id, job.instance_id)
            info = compiled.element_by_id(job.element_id)
            if info is not None and info.retry_cycle:
                cycle = info.retry_cycle
        return parse_retry_cycle(cycle)

    def retry(self, job_id: str, retries: int = 1, *, due: datetime | None = None) -> dict[str, Any]:
        """Give a job new tries; a failed one is due now (or at `due`) and its incident resolved (after the cause
        was fixed).

        Zero retries stops the job as if its tries had run out: it becomes an incident (as in Camunda)."""
        now = self.engine.clock.now()
        with self.engine.db.write() as session:
            job = session.get(m.Job, job_id)
            if job is None:
                raise NotFound(f"job '{job_id}' not found")
            if retries < 0:
                raise BadRequest("retries must be 0 or more")
            if retries == 0:
                job.retries = 0
                job.lock_owner = job.lock_expires_at = None
                open_one = session.scalar(select(m.Incident.id).where(m.Incident.job_id == job_id,
                                                                      m.Incident.resolved_at.is_(None)))
                if open_one is None:
                    session.add(m.Incident(id=new_id(), incident_type="failedJob",
                                           instance_id=job.instance_id, definition_id=job.definition_id,
                                           element_id=job.element_id, job_id=job.id,
                                           failed_element_id=job.failed_element_id,
                                           message=job.exception or "the job's retries were set to 0",
                                           created_at=now))
                return _job_json(job, session)
            if due is not None:  # Camunda's `dueDate` of setJobRetries: when the new tries start
                job.due_at = due if due.tzinfo else due.replace(tzinfo=UTC)
            elif job.exception is not None or not job.retries:  # a failed job runs again now
                job.due_at = now  # (a healthy one keeps its due date, as Camunda's setJobRetries)
            job.retries = retries
            job.lock_owner = job.lock_expires_at = None
            session.execute(update(m.Incident).where(m.Incident.job_id == job_id, m.Incident.resolved_at.is_(None))
                            .values(resolved_at=now))
            return _job_json(job, session)

    def count_incidents(self, **filters: Any) -> int:
        """How many open incidents match `filters` (see `incident_conditions`), counted in SQL."""
        with self.engine.db.read() as session:
            return session.scalar(select(func.count()).select_from(m.Incident)
                                  .where(open_incident(), *incident_conditions(filters))) or 0

    def incidents(self, *, sorting: list[tuple[str, str]] | None = None, first: int = 0, max_results: int = 100,
                  **filters: Any) -> list[dict[str, Any]]:
        """Open incidents matching `filters` (see `incident_conditions`), oldest first unless `sorting` (Camunda's
        `[(sortBy, sortOrder)]`) says otherwise."""
        from .queries import order_by

        order = order_by(sorting, INCIDENT_SORT, "incidents")
        with self.engine.db.read() as session:
            query = select(m.Incident).where(open_incident(), *incident_conditions(filters))
            rows = session.scalars(query.order_by(*order, m.Incident.created_at, m.Incident.id).offset(first)
                                   .limit(min(max_results, 1000))).all()
            return [_incident_json(r) for r in rows]

    def historic_incidents(self, *, sorting: list[tuple[str, str]] | None = None, first: int = 0,
                           max_results: int = 100, state: str | None = None,
                           **filters: Any) -> list[dict[str, Any]]:
        """Every incident, open or not (Camunda's historic incidents), each with its state: `open`, `resolved`
        (its job was retried or its element has since completed) or `deleted` (its instance ended while it was
        open). `state` keeps one of them; `filters` as `incident_conditions`."""
        from .queries import order_by

        order = order_by(sorting, {**INCIDENT_SORT, "createTime": m.Incident.created_at}, "historic incidents")
        resolved = _resolved().label("resolved")
        ended = (select(m.ProcessInstance.ended_at).where(m.ProcessInstance.id == m.Incident.instance_id)
                 .scalar_subquery().label("instance_ended"))
        went_through = _step_through().with_only_columns(func.min(m.HistoryEvent.at)).scalar_subquery()
        with self.engine.db.read() as session:
            query = select(m.Incident, resolved, ended, went_through.label("went_through")).where(
                *incident_conditions(filters), *_state_condition(state))
            rows = session.execute(query.order_by(*order, m.Incident.created_at, m.Incident.id).offset(first)
                                   .limit(min(max_results, 1000))).all()
            return [_historic_incident_json(r, bool(done), end, session, through)
                    for r, done, end, through in rows]

    def count_historic_incidents(self, *, state: str | None = None, **filters: Any) -> int:
        with self.engine.db.read() as session:
            return session.scalar(select(func.count()).select_from(m.Incident)
                                  .where(*incident_conditions(filters), *_state_condition(state))) or 0

    def incident(self, incident_id: str) -> dict[str, Any]:
        """One open incident by id (a resolved one is gone, as in Camunda's runtime API)."""
        with self.engine.db.read() as session:
            row = session.scalars(select(m.Incident).where(m.Incident.id == incident_id, open_incident())).first()
            if row is None:
                raise NotFound(f"incident '{incident_id}' not found")
            return _incident_json(row)

    def set_due(self, job_id: str, due: datetime) -> dict[str, Any]:
        """Move a pending timer: the instance's timer moves with it (an ops person grants two more days); a job
        waiting to be tried again after a failure is due then too, as Camunda's `setJobDuedate`."""
        if due.tzinfo is None:
            due = due.replace(tzinfo=UTC)
        eng = self.engine
        with eng.transaction() as session:
            job = session.get(m.Job, job_id)
            if job is None:
                raise NotFound(f"job '{job_id}' not found")
            if job.instance_id is None or job.task_id is None or job.job_type == "async":  # no timer to move
                job.due_at = due
                return _job_json(job, session)
            task_id = job.task_id
            eng.executor.change(session, job.instance_id, lambda run: run.set_timer_due(task_id, due),
                                allow_suspended=True)
            # the save keeps a failed timer job's retry time; the date asked for is the job's
            session.execute(update(m.Job).where(m.Job.task_id == task_id).values(due_at=due))
        with eng.db.read() as session:
            row = session.scalars(select(m.Job).where(m.Job.task_id == task_id)).first()
            if row is None:
                raise NotFound(f"job '{job_id}' not found")
            return _job_json(row, session)


def _check_runnable(job: m.Job | None, job_id: str) -> None:
    """An operator's execute of a job that cannot run now is an error, not a silent nothing."""
    if job is None:
        raise NotFound(f"job '{job_id}' not found")
    if job.suspended:
        raise Suspended(f"job '{job_id}' is suspended: activate it (or its instance) first")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_retry_cycle(cycle: str) -> tuple[int, timedelta]:
    """`R3/PT5M` → (3, 5 minutes); a list of intervals `PT1M,PT10M` → (2, 1 minute)."""
    from .spiff.timers import parse_moment

    text = cycle.strip()
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    try:
        if text.upper().startswith("R"):
            count, _, duration = text[1:].partition("/")
            return max(int(count), 1), parse_moment(duration, epoch) - epoch
        parts = [p.strip() for p in text.split(",") if p.strip()]
        return len(parts), parse_moment(parts[0], epoch) - epoch
    except (ValueError, IndexError):
        raise BadRequest(f"failedJobRetryTimeCycle '{cycle}' is neither R<n>/<duration> nor a list of durations")


_KEYS: dict[str, str] = {}  # definition id -> process key (a definition never changes its key)


def _definition_key(session: Session, definition_id: str | None) -> str | None:
    """The process key of a definition id: Camunda's `key:version:uuid` names it, a bare uuid (a key too long for
    that form) is looked up once."""
    if not definition_id:
        return None
    if ":" in definition_id:
        return definition_id.split(":", 1)[0]
    key = _KEYS.get(definition_id)
    if key is None:
        key = session.scalar(select(m.ProcessDefinition.key).where(m.ProcessDefinition.id == definition_id))
        if key is None:
            return None
        if len(_KEYS) > 10_000:
            _KEYS.clear()
        _KEYS[definition_id] = key
    return key


def _execution_of(incident: m.Incident) -> str | None:
    """The execution an incident happened in, as its job or external task names it: an external task is its own
    execution here (its `executionId`), a job runs in its instance's."""
    if incident.incident_type == "failedExternalTask" and incident.job_id:
        return incident.job_id
    return incident.instance_id


def _incident_json(row: m.Incident) -> dict[str, Any]:
    return {
        "id": row.id,
        "incidentType": row.incident_type,
        "processInstanceId": row.instance_id,
        "processDefinitionId": row.definition_id,
        "activityId": row.element_id,
        "failedActivityId": row.failed_element_id or row.element_id,
        "jobId": row.job_id,
        "configuration": row.job_id,
        "incidentMessage": row.message,
        "incidentTimestamp": iso(row.created_at),
        "executionId": _execution_of(row),
        "tenantId": None,
        "causeIncidentId": row.id,  # an incident of its own: Stageflow's incidents have no chain of causes
        "rootCauseIncidentId": row.id,
        "jobDefinitionId": None,
        "annotation": None,
    }


def _job_json(row: m.Job, session: Session) -> dict[str, Any]:
    return {
        "id": row.id,
        "jobDefinitionId": None,
        "processInstanceId": row.instance_id,
        "processDefinitionId": row.definition_id,
        "processDefinitionKey": _definition_key(session, row.definition_id),
        "executionId": row.instance_id,
        "activityId": row.element_id,
        "dueDate": iso(row.due_at),
        "retries": row.retries,
        "exceptionMessage": row.exception,
        "failedActivityId": (row.failed_element_id or row.element_id) if row.exception else None,
        "suspended": row.suspended,
        "priority": 0,
        "tenantId": None,
        "createTime": iso(row.created_at),
        "jobType": row.job_type,
        "timerKind": row.timer_kind,
    }


_FAILED_AT = func.coalesce(m.Incident.failed_element_id, m.Incident.element_id)  # Camunda's failedActivityId
INCIDENT_SORT = {"incidentId": m.Incident.id, "incidentMessage": m.Incident.message,
                 "incidentTimestamp": m.Incident.created_at, "incidentType": m.Incident.incident_type,
                 "activityId": m.Incident.element_id, "failedActivityId": _FAILED_AT,
                 "processInstanceId": m.Incident.instance_id, "processDefinitionId": m.Incident.definition_id,
                 "executionId": m.Incident.instance_id, "causeIncidentId": m.Incident.id,
                 "rootCauseIncidentId": m.Incident.id, "configuration": m.Incident.job_id}


def incident_conditions(filters: dict[str, Any]) -> list[Any]:
    """Camunda's incident filters: `incident_id`, `incident_type`, `incident_message`, `incident_message_like` (a
    LIKE pattern with `%`), `instance_id`, `instance_ids`, `definition_id`, `definition_key`, `definition_keys`,
    `activity_id`, `failed_activity_id` (where a job's last try failed), `job_id` (Camunda's `configuration`),
    `created_before`, `created_after`. A value of None is no filter."""
    inc = m.Incident
    out: list[Any] = []
    for name, column in (("incident_id", inc.id), ("incident_type", inc.incident_type),
                         ("incident_message", inc.message), ("instance_id", inc.instance_id),
                         ("definition_id", inc.definition_id), ("activity_id", inc.element_id),
                         ("failed_activity_id", _FAILED_AT), ("job_id", inc.job_id)):
        if filters.get(name) is not None:
            out.append(column == filters[name])
    if filters.get("incident_message_like") is not None:
        out.append(inc.message.like(filters["incident_message_like"]))
    if filters.get("instance_ids"):
        out.append(inc.instance_id.in_(list(filters["instance_ids"])))
    keys = list(filters.get("definition_keys") or []) + ([filters["definition_key"]]
                                                         if filters.get("definition_key") else [])
    if keys:  # definition ids are `key:version:uuid`
        out.append(inc.definition_id.in_(select(m.ProcessDefinition.id).where(m.ProcessDefinition.key.in_(keys))))
    if filters.get("created_before") is not None:
        out.append(inc.created_at < filters["created_before"])
    if filters.get("created_after") is not None:
        out.append(inc.created_at > filters["created_after"])
    unknown = set(filters) - _INCIDENT_FILTERS
    if unknown:
        raise BadRequest(f"unknown incident filter(s): {', '.join(sorted(unknown))}")
    return out


_INCIDENT_FILTERS = {"incident_id", "incident_type", "incident_message", "incident_message_like", "instance_id",
                     "instance_ids", "definition_id", "definition_key", "definition_keys", "activity_id",
                     "failed_activity_id", "job_id", "created_before", "created_after"}


def _state_condition(state: str | None) -> list[Any]:
    """Historic incidents in one state (`open`, `resolved`, `deleted`; None: all)."""
    if state is None:
        return []
    conditions = {"open": open_incident(), "resolved": _resolved(), "deleted": and_(~_resolved(), _ended())}
    if state not in conditions:
        raise BadRequest(f"unknown incident state '{state}' (use open, resolved or deleted)")
    return [conditions[state]]


def _historic_incident_json(row: m.Incident, resolved: bool, instance_ended: datetime | None,
                            session: Session, went_through: datetime | None = None) -> dict[str, Any]:
    """Camunda's HistoricIncident: the incident and its state. One whose job was retried or whose element has since
    completed is `resolved` (then: when its element went through); one still open when its instance ended is
    `deleted`, at that end."""
    deleted = not resolved and instance_ended is not None
    end = row.resolved_at if row.resolved_at is not None else (instance_ended if deleted else None)
    if resolved and end is None:  # resolved by its element's completion: when it completed
        end = went_through or instance_ended
    return {
        "id": row.id, "processDefinitionKey": _definition_key(session, row.definition_id),
        "processDefinitionId": row.definition_id, "processInstanceId": row.instance_id,
        "executionId": _execution_of(row), "rootProcessInstanceId": row.instance_id,
        "createTime": iso(row.created_at), "endTime": iso(end), "removalTime": None,
        "incidentType": row.incident_type, "activityId": row.element_id,
        "failedActivityId": row.failed_element_id or row.element_id,
        "causeIncidentId": row.id, "rootCauseIncidentId": row.id, "configuration": row.job_id,
        "historyConfiguration": None, "incidentMessage": row.message, "tenantId": None, "jobDefinitionId": None,
        "open": not resolved and not deleted, "deleted": deleted, "resolved": resolved, "annotation": None,
    }


def open_incident() -> Any:
    """The incidents still open: neither resolved (`_resolved`) nor closed by the end of their instance (completed
    or cancelled: Camunda removes an instance's incidents with it)."""
    return and_(~_resolved(), ~_ended())


def _resolved() -> Any:
    """Incidents resolved: a job's once it was given retries again; a failed script's (an incident without a job: a
    task completion or a message whose script raised, undone with its change) once its element has since
    completed, as the step was made again and went through."""
    inc = m.Incident
    return or_(inc.resolved_at.isnot(None), and_(inc.job_id.is_(None), _step_through().exists()))


def _step_through() -> Any:
    """The history rows of an incident's element completing since the incident (a failed step made again)."""
    inc = m.Incident
    return select(m.HistoryEvent.seq).where(
        m.HistoryEvent.instance_id == inc.instance_id, m.HistoryEvent.element_id == inc.element_id,
        m.HistoryEvent.event == "completed", m.HistoryEvent.at >= inc.created_at)


def _ended() -> Any:
    """Incidents whose instance has ended."""
    return select(m.ProcessInstance.id).where(m.ProcessInstance.id == m.Incident.instance_id,
                                              m.ProcessInstance.ended_at.isnot(None)).exists()
