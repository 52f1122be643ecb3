"""The task-query options the inbox adds to the engine, on SQLite and PostgreSQL: search, priority bounds, tasks
without a due date last, and capped counts."""

from __future__ import annotations

from engine.api import Engine
from tests.helpers import bpmn, chain


def process(key: str, title: str) -> bytes:
    return bpmn(f'<bpmn:startEvent id="s"/><bpmn:userTask id="t" name="{title}" camunda:candidateGroups="sales" '
                'camunda:dueDate="${due}" camunda:priority="${priority}"/><bpmn:endEvent id="e"/>'
                + chain("s", "t", "e"), key)


def keys(engine: Engine, **options: object) -> list[str | None]:
    return [t.business_key for t in engine.tasks.list(**options)]  # type: ignore[arg-type]


def test_the_inbox_query_options(engine: Engine) -> None:
    cases = (("A-1", "Check 100% of it", "2026-01-07T00:00:00Z", 70), ("A_2", "Review order", None, 50),
             ("B-3", "Review invoice", "2026-01-06T00:00:00Z", 30))
    engine.definitions.deploy([(f"q{i}.bpmn", process(f"q{i}", title)) for i, (_, title, _, _) in enumerate(cases)])
    for i, (key, _, due, priority) in enumerate(cases):
        engine.instances.start(f"q{i}", business_key=key, variables={"due": due, "priority": priority})

    assert sorted(keys(engine, search="review")) == ["A_2", "B-3"]  # a task name, any case
    assert keys(engine, search="b-3") == ["B-3"]  # a business key
    assert keys(engine, search="100%") == ["A-1"]  # % and _ are taken literally
    assert keys(engine, search="A_") == ["A_2"]
    assert keys(engine, search="%") == ["A-1"]

    assert sorted(keys(engine, min_priority=50)) == ["A-1", "A_2"]
    assert keys(engine, min_priority=50, max_priority=50) == ["A_2"]
    assert keys(engine, max_priority=49) == ["B-3"]

    assert keys(engine, sort_by="dueDate", nulls_last=True) == ["B-3", "A-1", "A_2"]
    assert keys(engine, sort_by="dueDate", sort_order="desc", nulls_last=True) == ["A-1", "B-3", "A_2"]

    assert engine.tasks.count(candidate_group="sales") == 3
    assert engine.tasks.count(at_most=2, candidate_group="sales") == 2
    assert engine.tasks.count(at_most=10, search="review") == 2
