"""Reports over the stored tasks and history: the sales funnel and stage report of a process.

For each stage (a user task element of the process, in the order the instances first reached them): how many
instances entered it, completed it, were lost while it was their furthest stage, the median and 90th percentile
time in the stage (first task created to last task ended, per instance, over finished stays) and how many of its
tasks are overdue now. Per person (the assignee of open tasks and the `manager` variable of won instances):
open tasks, overdue ones, instances won. Won and lost are the instances that completed the end events named
`won_end` and `lost_end`.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .store import models as m
from .variables import stored_value

if TYPE_CHECKING:
    from .api import Engine


@dataclass
class _Stay:
    entered: datetime
    left: datetime | None
    completed: bool


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def funnel(engine: Engine, process_key: str, *, won_end: str = "deal_won", lost_end: str = "deal_lost",
           stages: list[str] | None = None) -> dict[str, Any]:
    """The funnel and stage report of `process_key` (see the module docstring), as JSON-ready data."""
    now = engine.clock.now()
    with engine.db.read() as session:
        tasks = session.execute(select(m.HumanTask.instance_id, m.HumanTask.element_id, m.HumanTask.name,
                                       m.HumanTask.created_at, m.HumanTask.ended_at, m.HumanTask.outcome,
                                       m.HumanTask.assignee, m.HumanTask.due)
                                .where(m.HumanTask.definition_key == process_key)
                                .order_by(m.HumanTask.created_at)).all()
        instance_ids = select(m.ProcessInstance.id).where(m.ProcessInstance.definition_key == process_key)
        ends = dict(session.execute(select(m.HistoryEvent.instance_id, m.HistoryEvent.element_id)
                                    .where(m.HistoryEvent.instance_id.in_(instance_ids),
                                           m.HistoryEvent.element_id.in_([won_end, lost_end]),
                                           m.HistoryEvent.event == "completed")).all())
        managers = {row.instance_id: stored_value(row.type, row.value) for row in session.scalars(
            select(m.Variable).where(m.Variable.instance_id.in_(instance_ids), m.Variable.name == "manager"))}
    order: list[str] = []
    names: dict[str, str] = {}
    stays: dict[str, dict[str, _Stay]] = defaultdict(dict)  # stage -> instance -> stay
    furthest: dict[str, str] = {}
    people: dict[str, dict[str, int]] = defaultdict(lambda: {"open": 0, "overdue": 0, "won": 0})
    overdue: dict[str, int] = defaultdict(int)
    for t in tasks:
        if stages is not None and t.element_id not in stages:
            continue
        if t.element_id not in names:
            order.append(t.element_id)
            names[t.element_id] = t.name or t.element_id
        stay = stays[t.element_id].get(t.instance_id)
        if stay is None:
            stay = stays[t.element_id][t.instance_id] = _Stay(t.created_at, t.ended_at, t.outcome == "completed")
        else:  # the stage again (reassigned): the stay lasts until its last task ended
            stay.left = t.ended_at
            stay.completed = t.outcome == "completed"
        furthest[t.instance_id] = t.element_id
        if t.ended_at is None:
            late = t.due is not None and t.due < now
            overdue[t.element_id] += late
            if t.assignee:
                people[t.assignee]["open"] += 1
                people[t.assignee]["overdue"] += late
    for instance_id, end in ends.items():
        if end == won_end and managers.get(instance_id):
            people[str(managers[instance_id])]["won"] += 1
    report_stages = []
    for stage in (stages if stages is not None else order):
        by_instance = stays.get(stage, {})
        durations = [(s.left - s.entered).total_seconds() for s in by_instance.values() if s.left is not None]
        report_stages.append({
            "stage": stage,
            "name": names.get(stage, stage),
            "entered": len(by_instance),
            "completed": sum(s.completed for s in by_instance.values()),
            "lost": sum(1 for i in by_instance if furthest.get(i) == stage and ends.get(i) == lost_end),
            "medianHours": _hours(statistics.median(durations) if durations else None),
            "p90Hours": _hours(_percentile(durations, 0.9)),
            "overdueNow": overdue.get(stage, 0),
        })
    return {
        "processDefinitionKey": process_key,
        "at": now.isoformat(),
        "instances": len({t.instance_id for t in tasks}),
        "won": sum(1 for e in ends.values() if e == won_end),
        "lost": sum(1 for e in ends.values() if e == lost_end),
        "stages": report_stages,
        "people": [{"user": user, **counts} for user, counts in sorted(people.items())],
    }


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)
