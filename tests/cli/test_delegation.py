"""`stageflow delegate` and `stageflow resolve` as a user types them: mary hands the review to john, john resolves
it with what he found, and mary completes it. (A real process per command, as in test_cli.py.)"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.cli.test_cli import ORDER, Stageflow


@pytest.fixture
def sf(tmp_path: Path, sqlite_template: Path) -> Stageflow:
    shutil.copy(sqlite_template, tmp_path / "sf.db")
    return Stageflow(tmp_path)


def _claimed_review(sf: Stageflow) -> tuple[str, str]:
    sf.file("order.bpmn", ORDER)
    sf.ok("deploy", "order.bpmn")
    instance = sf.json("start", "order", "--business-key", "ORD-7")["id"]
    [task] = sf.json("tasks", "--instance", instance)
    sf.ok("claim", task["id"], "--user", "mary")
    return instance, task["id"]


def test_mary_delegates_john_resolves_and_mary_completes(sf: Stageflow) -> None:
    instance, task = _claimed_review(sf)

    assert sf.ok("delegate", task, "--user", "john").out.strip() == f"task {task} delegated to john by mary"
    [pending] = sf.json("tasks", "--assignee", "john")
    assert (pending["id"], pending["owner"], pending["delegationState"]) == (task, "mary", "PENDING")

    resolved = sf.json("resolve", task, "--var", "amount=900")
    assert (resolved["assignee"], resolved["owner"], resolved["delegationState"]) == ("mary", "mary", "RESOLVED")
    assert sf.json("show", instance)["variables"] == {"amount": 900}  # set, and the task is still open
    [back] = sf.json("tasks", "--assignee", "mary")
    assert back["id"] == task

    assert "completed" in sf.ok("complete", task, "--var", "approved=true", "--user", "mary").out
    history = sf.ok("show", instance).out.split("history\n", 1)[1]
    assert re.search(r"delegated +review \(usertask\) by mary", history, re.IGNORECASE), history
    assert re.search(r"resolved +review \(usertask\) by john", history, re.IGNORECASE), history


def test_resolve_prints_where_the_task_went(sf: Stageflow) -> None:
    _, task = _claimed_review(sf)
    sf.ok("delegate", task, "--user", "john", "--by", "sam")
    assert sf.ok("resolve", task).out.strip() == f"task {task} resolved: back with mary"


def test_delegation_mistakes_are_one_error_line(sf: Stageflow) -> None:
    _, task = _claimed_review(sf)
    not_delegated, unknown, no_user, bad_var = sf.run_all(
        ("resolve", task), ("delegate", "no-such-task", "--user", "john"), ("delegate", task),
        ("resolve", task, "--var", "amount"))
    assert "not delegated" in sf.check_failure(not_delegated)
    assert "no-such-task" in sf.check_failure(unknown) and unknown.code == 1
    assert no_user.code == 2 and "--user" in no_user.err  # a usage error, as a missing --user of claim
    assert "name=value" in sf.check_failure(bad_var)

    as_json = sf.run("resolve", task, "--json")
    assert as_json.code != 0 and as_json.out == ""
    assert '"type": "InvalidRequestException"' in as_json.err.replace('":"', '": "')

    sf.ok("delegate", task, "--user", "john")
    sf.ok("resolve", task)
    assert "RESOLVED" in sf.fails("resolve", task)


def test_resolve_checks_the_form_as_complete_does_and_delegate_names_who_delegated(sf: Stageflow) -> None:
    _, task = _claimed_review(sf)
    sf.ok("delegate", task, "--user", "john")
    assert sf.ok("delegate", task, "--user", "sam").out.strip() == f"task {task} delegated to sam by john"
    assert "approved" in sf.fails("resolve", task, "--var", "approved=notabool")
    [still] = sf.json("tasks", "--assignee", "sam")  # refused: nothing changed
    assert (still["id"], still["delegationState"]) == (task, "PENDING")
    assert sf.json("resolve", task, "--var", "approved=true")["assignee"] == "mary"
