"""Every task a person works in the shipped processes has a deadline (`camunda:dueDate`), so the inbox shows it as
overdue and the funnel report counts it: the business asked for a deadline on every stage."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"


@pytest.mark.parametrize("path", sorted(PROCESSES.glob("*.bpmn")), ids=lambda p: p.name)
def test_every_user_task_has_a_due_date(path: Path) -> None:
    tasks = etree.parse(str(path)).iter(f"{BPMN}userTask")
    without = [t.get("id") for t in tasks if not t.get(f"{CAMUNDA}dueDate")]
    assert without == []
