"""Delegation as in Camunda 7: mary hands her review to john, john fills in what he knows and resolves it, and the
review is back with mary, still open, for her to complete. The history says who did what."""

from __future__ import annotations

import pytest

from engine.api import Engine
from engine.errors import BadRequest, Conflict, InvalidVariables, Suspended
from tests.helpers import bpmn, chain

REVIEW = bpmn("""
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="review" name="Review order" camunda:assignee="mary">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="stock" label="In stock" type="long">
            <camunda:validation><camunda:constraint name="required"/></camunda:validation>
          </camunda:formField>
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:endEvent id="done"/>
    """ + chain("start", "review", "done"), process_id="order_review")

OFFERED = bpmn("""
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="pick" name="Pick goods" camunda:candidateGroups="warehouse"/>
    <bpmn:endEvent id="done"/>
    """ + chain("start", "pick", "done"), process_id="offered")


def _review(engine: Engine) -> tuple[str, str]:
    engine.definitions.deploy([("review.bpmn", REVIEW)])
    instance = engine.instances.start("order_review", business_key="ORD-1")
    [task] = engine.tasks.list(instance_id=instance.id)
    return instance.id, task.id


def test_a_delegated_task_goes_to_the_delegate_and_comes_back_to_its_owner_still_open(engine: Engine) -> None:
    instance, task = _review(engine)
    assert (engine.tasks.get(task).owner, engine.tasks.get(task).delegation_state) == (None, None)

    delegated = engine.tasks.delegate(task, "john", "mary")
    assert (delegated.assignee, delegated.owner, delegated.delegation_state) == ("john", "mary", "PENDING")
    assert delegated.to_json()["delegationState"] == "PENDING" and delegated.to_json()["owner"] == "mary"

    resolved = engine.tasks.resolve(task, {"stock": 7}, user="john")
    assert (resolved.assignee, resolved.owner, resolved.delegation_state) == ("mary", "mary", "RESOLVED")
    assert resolved.ended_at is None  # resolving does not complete it
    assert engine.tasks.variables(task)["stock"] == 7
    assert engine.instances.variables(instance)["stock"] == 7

    engine.tasks.complete(task, {"stock": 7}, user="mary")
    assert engine.instances.get(instance).ended


def test_the_history_says_who_delegated_and_who_resolved(engine: Engine) -> None:
    instance, task = _review(engine)
    engine.tasks.delegate(task, "john", "mary")
    engine.tasks.resolve(task, {"stock": 3}, user="john")
    events = [(h.event, h.user_id, h.details) for h in engine.instances.history(instance)
              if h.event in ("delegated", "resolved")]
    assert events == [("delegated", "mary", {"assignee": "john", "owner": "mary"}),
                      ("resolved", "john", {"assignee": "mary", "variables": ["stock"]})]


def test_a_second_delegation_keeps_the_first_owner(engine: Engine) -> None:
    _, task = _review(engine)
    engine.tasks.delegate(task, "john", "mary")
    again = engine.tasks.delegate(task, "sam", "john")
    assert (again.assignee, again.owner, again.delegation_state) == ("sam", "mary", "PENDING")
    assert engine.tasks.resolve(task, user="sam").assignee == "mary"


def test_an_unclaimed_task_delegated_has_no_owner_and_goes_back_to_its_candidates(engine: Engine) -> None:
    engine.definitions.deploy([("offered.bpmn", OFFERED)])
    instance = engine.instances.start("offered")
    [task] = engine.tasks.list(instance_id=instance.id)
    delegated = engine.tasks.delegate(task.id, "bob")
    assert (delegated.assignee, delegated.owner, delegated.delegation_state) == ("bob", None, "PENDING")
    resolved = engine.tasks.resolve(task.id, user="bob")
    assert (resolved.assignee, resolved.delegation_state) == (None, "RESOLVED")
    assert [t.id for t in engine.tasks.list(candidate_groups=["warehouse"])] == [task.id]


def test_only_a_pending_delegation_is_resolved(engine: Engine) -> None:
    _, task = _review(engine)
    with pytest.raises(BadRequest, match="not delegated"):
        engine.tasks.resolve(task, user="mary")
    engine.tasks.delegate(task, "john", "mary")
    engine.tasks.resolve(task, user="john")
    with pytest.raises(BadRequest, match="RESOLVED"):
        engine.tasks.resolve(task, user="mary")
    assert engine.tasks.get(task).assignee == "mary"


def test_delegating_needs_a_user(engine: Engine) -> None:
    _, task = _review(engine)
    for nobody in ("", "  "):
        with pytest.raises(BadRequest, match="userId"):
            engine.tasks.delegate(task, nobody, "mary")
    with pytest.raises(BadRequest, match="too long"):
        engine.tasks.delegate(task, "x" * 256, "mary")
    assert engine.tasks.get(task).delegation_state is None


def test_suspended_work_is_neither_delegated_nor_resolved(engine: Engine) -> None:
    instance, task = _review(engine)
    engine.tasks.delegate(task, "john", "mary")
    engine.instances.suspend(instance)
    with pytest.raises(Suspended):
        engine.tasks.delegate(task, "sam", "john")
    for variables in ({}, {"stock": 1}):
        with pytest.raises(Suspended):
            engine.tasks.resolve(task, variables, user="john")
    engine.instances.resume(instance)
    assert engine.tasks.resolve(task, user="john").assignee == "mary"


def test_an_ended_task_is_neither_delegated_nor_resolved(engine: Engine) -> None:
    _, task = _review(engine)
    engine.tasks.delegate(task, "john", "mary")
    engine.tasks.complete(task, {"stock": 1}, user="john")  # Camunda lets the delegate complete it outright
    with pytest.raises(Conflict):
        engine.tasks.delegate(task, "sam", "mary")
    for variables in ({}, {"stock": 1}):
        with pytest.raises(Conflict):
            engine.tasks.resolve(task, variables, user="john")


def test_the_form_is_checked_when_asked_and_nothing_changes_when_it_fails(engine: Engine) -> None:
    instance, task = _review(engine)
    engine.tasks.delegate(task, "john", "mary")
    with pytest.raises(InvalidVariables, match="stock"):
        engine.tasks.resolve(task, {"stock": "many"}, user="john", check_form=True)
    assert engine.tasks.get(task).delegation_state == "PENDING"
    assert "stock" not in engine.instances.variables(instance)
    assert engine.tasks.resolve(task, {"stock": "12"}, user="john", check_form=True).assignee == "mary"
    assert engine.instances.variables(instance)["stock"] == 12  # converted by the form's type
    # a required field is not required yet: the owner fills it when she completes the task
    engine.tasks.delegate(task, "john", "mary")
    engine.instances.set_variables(instance, {}, remove=["stock"])
    assert engine.tasks.resolve(task, {}, user="john").delegation_state == "RESOLVED"
    with pytest.raises(InvalidVariables, match="stock"):
        engine.tasks.complete(task, {}, user="mary")


def test_tasks_are_found_by_owner_and_delegation_state(engine: Engine) -> None:
    engine.definitions.deploy([("review.bpmn", REVIEW)])
    ids = [engine.instances.start("order_review", business_key=f"ORD-{n}").id for n in range(3)]
    tasks = [engine.tasks.list(instance_id=i)[0].id for i in ids]
    engine.tasks.delegate(tasks[0], "john", "mary")
    engine.tasks.delegate(tasks[1], "john", "mary")
    engine.tasks.resolve(tasks[1], user="john")

    def found(**filters: str) -> list[str]:
        listed = sorted(t.id for t in engine.tasks.list(**filters))
        assert engine.tasks.count(**filters) == len(listed)
        return listed

    assert found(owner="mary") == sorted(tasks[:2])
    assert found(delegation_state="PENDING") == [tasks[0]]
    assert found(delegation_state="RESOLVED") == [tasks[1]]
    assert found(owner="mary", assignee="mary") == [tasks[1]]
    assert found(owner="john") == []
    by_priority = engine.tasks.list(delegation_state="PENDING", owner="mary", sort_by="priority", sort_order="desc")
    assert [t.id for t in by_priority] == [tasks[0]]
