"""Jobs: timers due later, kept as rows with a due time; acquired with row locks and run through the executor."""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from .errors import Conflict, NotFound, ScriptError
from .store import models as m
from .views import iso

if TYPE_CHECKING:
    from .api import Engine

log = logging.getLogger("stageflow.jobs")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Jobs:
    """Pending timers and their execution."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list(self, *, instance_id: str | None = None, due_before: datetime | None = None, first: int = 0,
             max_results: int = 100) -> list[dict[str, Any]]:
        with self.engine.db.read() as session:
            query = select(m.Job)
            if instance_id:
                query = query.where(m.Job.instance_id == instance_id)
            if due_before:
                query = query.where(m.Job.due_at <= due_before)
            rows = session.scalars(query.order_by(m.Job.due_at, m.Job.id).offset(first)
                                   .limit(min(max_results, 1000))).all()
            return [_job_json(r) for r in rows]

    def next_due(self) -> datetime | None:
        """When the earliest pending job falls due."""
        with self.engine.db.read() as session:
            return session.scalar(select(m.Job.due_at).where(m.Job.suspended.is_(False), m.Job.retries > 0,
                                                             m.Job.due_at.isnot(None))
                                  .order_by(m.Job.due_at).limit(1))

    def execute_due(self, *, limit: int = 100) -> int:
        """Fire every job due now (on the engine's clock); returns how many fired."""
        now = self.engine.clock.now()
        with self.engine.db.read() as session:
            ids = session.scalars(select(m.Job.id).where(m.Job.due_at <= now, m.Job.suspended.is_(False),
                                                         m.Job.retries > 0)
                                  .order_by(m.Job.due_at, m.Job.id).limit(limit)).all()
        fired = 0
        for job_id in ids:
            fired += int(self.execute(job_id))
        return fired

    def execute(self, job_id: str) -> bool:
        """Fire one job if it is due; False when another worker took it, it is gone or not yet due."""
        eng = self.engine
        now = eng.clock.now()
        try:
            with eng.transaction() as session:
                query = select(m.Job).where(m.Job.id == job_id)
                if not eng.db.is_sqlite:
                    query = query.with_for_update(skip_locked=True)
                job = session.scalars(query).first()
                if job is None or job.instance_id is None:
                    return False
                if job.due_at is None or _aware(job.due_at) > now:
                    return False
                eng.executor.change(session, job.instance_id, lambda run: run.fire_timers())
                log.info("fired timer %s of instance %s at element %s", job.id, job.instance_id, job.element_id)
                return True
        except ScriptError as err:
            self._failed(job_id, err)
            return False
        except Conflict:
            return False

    def _failed(self, job_id: str, err: ScriptError) -> None:
        with self.engine.db.write() as session:
            session.execute(update(m.Job).where(m.Job.id == job_id)
                            .values(retries=m.Job.retries - 1, exception=err.message))

    def set_due(self, job_id: str, due: datetime) -> dict[str, Any]:
        """Move a pending timer; the instance's timer moves with it."""
        with self.engine.db.write() as session:
            job = session.get(m.Job, job_id)
            if job is None:
                raise NotFound(f"job '{job_id}' not found")
            job.due_at = due
            return _job_json(job)


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _job_json(row: m.Job) -> dict[str, Any]:
    return {
        "id": row.id,
        "jobDefinitionId": None,
        "processInstanceId": row.instance_id,
        "processDefinitionId": row.definition_id,
        "executionId": row.instance_id,
        "activityId": row.element_id,
        "dueDate": iso(row.due_at),
        "retries": row.retries,
        "exceptionMessage": row.exception,
        "failedActivityId": row.element_id if row.exception else None,
        "suspended": row.suspended,
        "priority": 0,
        "tenantId": None,
        "createTime": iso(row.created_at),
        "jobType": row.job_type,
        "timerKind": row.timer_kind,
    }
