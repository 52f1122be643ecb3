"""Runtime statistics of one process definition by activity, as Camunda's `ActivityStatisticsQuery` counts them.

Per activity: how many running instances wait there now, how many failed jobs (no retries left) it has and its
open incidents per type. Where an instance waits is what its activity tree (`/process-instance/{id}/activity-
instances`, `History._open_activities`) shows: open user tasks, external tasks, timers, message and signal waits
(a boundary event waits with its activity; the events after an event-based gateway count as the gateway). An async
continuation not yet run also counts at its element, as Camunda's execution waits there. An activity with only
failed jobs or incidents is listed when those were asked for, with its instances (possibly 0), as Camunda's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from .jobs import open_incident
from .store import models as m
from .views import ActivityStatisticsView

if TYPE_CHECKING:
    from .api import Engine


def activity_statistics(engine: Engine, definition_id: str, *, failed_jobs: bool = False, incidents: bool = False,
                        incident_type: str | None = None) -> list[ActivityStatisticsView]:
    """The activities of `definition_id` with running instances (and, when asked, failed jobs or open incidents:
    `incidents` for every type, `incident_type` for one), by activity id. An unknown definition has none."""
    pi, job = m.ProcessInstance, m.Job
    instances: Counter[str] = Counter()
    failed: dict[str, int] = {}
    by_type: defaultdict[str, dict[str, int]] = defaultdict(dict)
    with engine.db.read() as session:
        # the columns an activity names (not the serialized runtime state)
        running = session.execute(select(pi.id, pi.definition_id, pi.definition_key)
                                  .where(pi.definition_id == definition_id, pi.ended_at.is_(None))).all()
        if running:
            history = engine.history
            types = history._activity_types(session, definition_id)
            open_tasks: defaultdict[str, dict[str, m.HumanTask]] = defaultdict(dict)
            for task in session.scalars(select(m.HumanTask).where(m.HumanTask.definition_id == definition_id,
                                                                  m.HumanTask.ended_at.is_(None))):
                open_tasks[task.instance_id][task.id] = task
            waits = history.waits_of(session, select(pi.id).where(pi.definition_id == definition_id,
                                                                  pi.ended_at.is_(None)))
            for instance in running:  # each instance's open activities, as its activity tree lists them
                for activity in history._open_activities(session, instance, types, open_tasks[instance.id],
                                                         waits.get(instance.id, [])):
                    instances[activity["activityId"]] += 1
            waiting = select(job.element_id, func.count()).join(pi, pi.id == job.instance_id).where(
                pi.definition_id == definition_id, pi.ended_at.is_(None), job.job_type == "async")
            instances.update(dict(session.execute(waiting.group_by(job.element_id)).all()))
        if failed_jobs:  # Camunda: the definition's jobs with no retries left, by the job's activity
            failed = dict(session.execute(select(job.element_id, func.count())
                                          .where(job.definition_id == definition_id, job.retries == 0)
                                          .group_by(job.element_id)).all())
        if incidents or incident_type is not None:
            inc = m.Incident
            query = select(inc.element_id, inc.incident_type, func.count()).where(
                open_incident(), inc.definition_id == definition_id, inc.element_id.isnot(None))
            if incident_type is not None:
                query = query.where(inc.incident_type == incident_type)
            for element_id, kind, count in session.execute(query.group_by(inc.element_id, inc.incident_type)):
                by_type[element_id][kind] = count
    ids = {a for a, n in instances.items() if n} | set(failed) | set(by_type)
    return [ActivityStatisticsView(a, instances.get(a, 0), failed.get(a, 0), dict(by_type.get(a, {})))
            for a in sorted(ids)]
