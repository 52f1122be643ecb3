"""A process designer deploys, an employee works the tasks, and every instance survives a restart."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.api import Engine
from engine.config import Settings
from engine.errors import Conflict, InvalidVariables, NotFound, ScriptError
from engine.views import iso
from tests.helpers import bpmn, chain, flow

APPROVAL = bpmn(
    """
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="review" name="Review order" camunda:assignee="${owner}" camunda:candidateGroups="sales, managers"
        camunda:dueDate="P2D" camunda:priority="70">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="amount" label="Amount" type="long">
            <camunda:validation><camunda:constraint name="required"/><camunda:constraint name="min" config="1"/></camunda:validation>
          </camunda:formField>
          <camunda:formField id="approved" label="Approved" type="boolean"/>
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="decide" default="f_rejected"/>
    <bpmn:scriptTask id="book" scriptFormat="python"><bpmn:script>total = amount * 2
booked = True</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="done"/>
    <bpmn:endEvent id="rejected"/>
    """
    + chain("start", "review", "decide")
    + flow("decide", "book", "${approved && amount > 10}")
    + flow("decide", "rejected", flow_id="f_rejected")
    + chain("book", "done"),
    process_id="approval",
    name="Order approval",
)


def test_deploy_versions_only_changed_content(engine: Engine, deploy) -> None:
    first = deploy(APPROVAL, "approval.bpmn")
    assert first.created
    assert [(d.key, d.version, d.name) for d in first.definitions] == [("approval", 1, "Order approval")]

    again = deploy(APPROVAL, "approval.bpmn")
    assert not again.created
    assert [(d.key, d.version) for d in again.definitions] == [("approval", 1)]

    changed = deploy(APPROVAL.replace(b"Review order", b"Review the order"), "approval.bpmn")
    assert changed.created
    assert [(d.key, d.version) for d in changed.definitions] == [("approval", 2)]
    assert [d.version for d in engine.definitions.list(key="approval")] == [2, 1]
    assert [d.version for d in engine.definitions.list(latest_only=True)] == [2]


def test_a_user_task_waits_and_completing_it_runs_to_the_end(engine: Engine, deploy) -> None:
    deploy(APPROVAL)
    instance = engine.instances.start("approval", business_key="ORD-1", variables={"owner": "mary"})
    assert instance.state == "ACTIVE"

    [task] = engine.tasks.list(instance_id=instance.id)
    assert (task.name, task.task_definition_key, task.assignee) == ("Review order", "review", "mary")
    assert task.candidate_groups == ["sales", "managers"]
    assert task.priority == 70
    assert task.due == engine.clock.now() + timedelta(days=2)
    assert task.business_key == "ORD-1"
    assert [f["id"] for f in task.form] == ["amount", "approved"]

    engine.tasks.complete(task.id, {"amount": "12", "approved": True}, user="mary")

    done = engine.instances.get(instance.id)
    assert done.state == "COMPLETED"
    assert done.ended_at is not None
    variables = engine.instances.variables(instance.id)
    assert variables["amount"] == 12  # the form turned "12" into a long
    assert variables["total"] == 24 and variables["booked"] is True
    assert engine.tasks.list(instance_id=instance.id) == []
    events = [(h.element_id, h.event) for h in engine.instances.history(instance.id)]
    assert ("review", "completed") in events and ("book", "completed") in events
    assert events[0] == ("approval", "started") and events[-1] == ("approval", "completed")
    assert [h.user_id for h in engine.instances.history(instance.id) if h.element_id == "review"] == ["mary"]


def test_the_default_flow_is_taken_when_no_condition_holds(engine: Engine, deploy) -> None:
    deploy(APPROVAL)
    instance = engine.instances.start("approval", variables={"owner": "mary"})
    [task] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(task.id, {"amount": 5, "approved": True})
    history = [h.element_id for h in engine.instances.history(instance.id)]
    assert "rejected" in history and "book" not in history


def test_a_form_refuses_a_missing_required_field_and_the_task_stays_open(engine: Engine, deploy) -> None:
    deploy(APPROVAL)
    instance = engine.instances.start("approval", variables={"owner": "mary"})
    [task] = engine.tasks.list(instance_id=instance.id)
    with pytest.raises(InvalidVariables) as err:
        engine.tasks.complete(task.id, {"approved": True})
    assert err.value.field == "amount"
    with pytest.raises(InvalidVariables) as err:
        engine.tasks.complete(task.id, {"amount": "many"})
    assert err.value.field == "amount"
    assert engine.tasks.get(task.id).ended_at is None
    assert engine.instances.get(instance.id).state == "ACTIVE"


def test_a_completed_task_cannot_be_completed_again(engine: Engine, deploy) -> None:
    deploy(APPROVAL)
    instance = engine.instances.start("approval", variables={"owner": "mary"})
    [task] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(task.id, {"amount": 50, "approved": False}, user="mary")
    with pytest.raises(Conflict, match="already completed"):
        engine.tasks.complete(task.id, {"amount": 50}, user="joe")
    with pytest.raises(NotFound):
        engine.tasks.complete("no-such-task", {})


def test_instances_survive_an_engine_restart(engine: Engine, deploy, clock) -> None:
    deploy(APPROVAL)
    instance = engine.instances.start("approval", business_key="ORD-9", variables={"owner": "ann"})
    url = engine.settings.database_url
    engine.close()

    restarted = Engine(Settings(database_url=url), clock=clock)
    try:
        [task] = restarted.tasks.list(business_key="ORD-9")
        assert task.assignee == "ann"
        restarted.tasks.complete(task.id, {"amount": 20, "approved": True})
        assert restarted.instances.get(instance.id).state == "COMPLETED"
        assert restarted.instances.variables(instance.id)["total"] == 40
    finally:
        restarted.close()


def test_claim_unclaim_and_candidate_queries(engine: Engine, deploy) -> None:
    deploy(APPROVAL.replace(b'camunda:assignee="${owner}" ', b""))
    instance = engine.instances.start("approval")
    [task] = engine.tasks.list(candidate_group="sales")
    assert task.assignee is None and task.process_instance_id == instance.id

    engine.tasks.claim(task.id, "mary")
    assert engine.tasks.list(candidate_group="sales") == []  # claimed tasks leave the group queue
    assert [t.id for t in engine.tasks.list(assignee="mary")] == [task.id]
    with pytest.raises(Conflict, match="already claimed by mary"):
        engine.tasks.claim(task.id, "joe")

    engine.tasks.unclaim(task.id)
    assert [t.id for t in engine.tasks.list(candidate_groups=["managers"])] == [task.id]
    engine.tasks.assign(task.id, "joe")
    assert engine.tasks.get(task.id).assignee == "joe"
    assert [t.id for t in engine.tasks.list(involved_user="joe")] == [task.id]


def test_running_instances_stay_on_their_version(engine: Engine, deploy) -> None:
    deploy(APPROVAL)
    old = engine.instances.start("approval", variables={"owner": "mary"})
    deploy(APPROVAL.replace(b'name="Review order"', b'name="Check order"'))
    new = engine.instances.start("approval", variables={"owner": "mary"})
    assert old.definition_id != new.definition_id
    assert engine.tasks.list(instance_id=old.id)[0].name == "Review order"
    assert engine.tasks.list(instance_id=new.id)[0].name == "Check order"
    pinned = engine.instances.start("approval", version=1, variables={"owner": "x"})
    assert pinned.definition_id == old.definition_id


def test_a_unique_business_key_refuses_a_second_start(engine: Engine, deploy) -> None:
    deploy(APPROVAL)
    first = engine.instances.start("approval", business_key="ORD-7", variables={"owner": "a"},
                                   unique_business_key=True)
    with pytest.raises(Conflict) as err:
        engine.instances.start("approval", business_key="ORD-7", variables={"owner": "a"}, unique_business_key=True)
    assert first.id in err.value.message
    # 409, but not code 1 (an optimistic-locking conflict a Camunda client retries): no retry helps while it runs
    assert (err.value.status, err.value.code, err.value.to_json()["type"]) == (409, 0, "ProcessEngineException")
    engine.instances.start("approval", business_key="ORD-7", variables={"owner": "a"})  # not asked: allowed


def test_cancel_ends_the_instance_and_its_tasks(engine: Engine, deploy) -> None:
    deploy(APPROVAL)
    instance = engine.instances.start("approval", variables={"owner": "mary"})
    [task] = engine.tasks.list(instance_id=instance.id)
    engine.instances.cancel(instance.id, reason="customer withdrew")
    assert engine.instances.get(instance.id).state == "CANCELED"
    assert engine.tasks.get(task.id).outcome == "cancelled"
    assert engine.tasks.list(instance_id=instance.id) == []
    with pytest.raises(Conflict):
        engine.tasks.complete(task.id, {"amount": 3})


def test_suspended_instances_refuse_work_until_resumed(engine: Engine, deploy) -> None:
    deploy(APPROVAL)
    instance = engine.instances.start("approval", variables={"owner": "mary"})
    [task] = engine.tasks.list(instance_id=instance.id)
    engine.instances.suspend(instance.id)
    assert engine.tasks.get(task.id).suspended
    with pytest.raises(Conflict, match="suspended"):
        engine.tasks.complete(task.id, {"amount": 3})
    for hand_on in (lambda: engine.tasks.claim(task.id, "john"), lambda: engine.tasks.unclaim(task.id),
                    lambda: engine.tasks.assign(task.id, "john")):  # as Camunda's ProcessInstanceSuspensionTest
        with pytest.raises(Conflict, match="suspended"):
            hand_on()
    assert engine.tasks.get(task.id).assignee == "mary"
    engine.instances.resume(instance.id)
    engine.tasks.claim(task.id, "mary")
    engine.tasks.complete(task.id, {"amount": 3, "approved": False})
    assert engine.instances.get(instance.id).state == "COMPLETED"


def test_a_completed_task_records_who_completed_it_while_the_instance_goes_on(engine: Engine, deploy) -> None:
    deploy(bpmn("""<bpmn:startEvent id="s"/><bpmn:userTask id="first"/><bpmn:userTask id="second"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "first", "second", "e")))
    instance = engine.instances.start("p")
    [first] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(first.id, {}, user="ann")
    done = engine.tasks.get(first.id)
    assert (done.outcome, done.ended_at is not None) == ("completed", True)
    with engine.db.read() as session:
        from engine.store import models as m

        assert session.get(m.HumanTask, first.id).completed_by == "ann"


def test_an_instance_saved_in_an_older_runtime_format_is_migrated_when_it_next_moves(
        engine: Engine, deploy, monkeypatch) -> None:
    from sqlalchemy import update

    from engine.spiff import runtime
    from engine.store import models as m

    deploy(APPROVAL)
    instance = engine.instances.start("approval", variables={"owner": "mary"})
    with engine.db.write() as session:  # as an older Stageflow would have left it
        session.execute(update(m.ProcessInstance).where(m.ProcessInstance.id == instance.id)
                        .values(serializer_version="sf0"))
    seen = []
    monkeypatch.setitem(runtime.RUNTIME_MIGRATIONS, "sf0", ("sf1", lambda dct: seen.append(1) or dct))
    [task] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.claim(task.id, "mary")
    engine.instances.set_variables(instance.id, {"note": "migrated"})
    assert seen == [1]
    with engine.db.read() as session:
        assert session.get(m.ProcessInstance, instance.id).serializer_version == runtime.SERIALIZER_VERSION

    with engine.db.write() as session:
        session.execute(update(m.ProcessInstance).where(m.ProcessInstance.id == instance.id)
                        .values(serializer_version="sf99"))
    from engine.errors import BadRequest

    with pytest.raises(BadRequest, match="runtime format 'sf99' is unknown"):
        engine.tasks.complete(task.id, {"amount": 2})


RELAY = bpmn(
    """<bpmn:startEvent id="s"/><bpmn:userTask id="first"/><bpmn:userTask id="second"/><bpmn:userTask id="third"/>
    <bpmn:scriptTask id="add"><bpmn:script>total = a + b + c</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="e"/>"""
    + chain("s", "first", "second", "third", "add", "e"),
    process_id="relay",
)


def test_two_engines_taking_turns_on_one_instance_each_see_the_others_steps(
        engine: Engine, deploy, database_url: str, clock) -> None:
    """Two processes on one database (two web workers): each keeps the workflow it saved last in memory, and must
    notice when the other moved the instance on meanwhile."""
    deploy(RELAY)
    other = Engine(Settings(database_url=database_url, script_time_limit=2.0), clock=clock)
    try:
        instance = engine.instances.start("relay")
        for who, value in ((engine, {"a": 1}), (other, {"b": 20}), (engine, {"c": 300})):
            [task] = who.tasks.list(instance_id=instance.id)
            who.tasks.complete(task.id, value)
        assert engine.instances.get(instance.id).state == "COMPLETED"
        assert engine.instances.variables(instance.id)["total"] == 321
        done = engine.history.tasks(instance_id=instance.id, finished=True)
        assert sorted(h["taskDefinitionKey"] for h in done) == ["first", "second", "third"]
    finally:
        other.close()


def test_a_step_that_fails_leaves_the_instance_as_it_was_for_the_next_try(engine: Engine, deploy,
                                                                           clock) -> None:
    deploy(bpmn("""<bpmn:startEvent id="s"/><bpmn:userTask id="enter"/>
        <bpmn:scriptTask id="share"><bpmn:script>each = 100 / people</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="check"/><bpmn:endEvent id="e"/>""" + chain("s", "enter", "share", "check", "e")))
    instance = engine.instances.start("p", variables={"people": 4})
    [task] = engine.tasks.list(instance_id=instance.id)
    with pytest.raises(ScriptError, match="division by zero"):
        engine.tasks.complete(task.id, {"people": 0})
    assert engine.instances.variables(instance.id)["people"] == 4
    [again] = engine.tasks.list(instance_id=instance.id)
    assert again.id == task.id
    with pytest.raises(ScriptError, match="division by zero"):  # the same mistake twice: one incident
        engine.tasks.complete(task.id, {"people": 0})
    [incident] = engine.jobs.incidents(instance_id=instance.id)
    assert (incident["incidentType"], incident["activityId"]) == ("failedScript", "share")
    assert engine.instances.markers(instance.id).incidents == ["share"]
    clock.advance(minutes=5)  # fixed a little later
    went_through = iso(clock.now())
    engine.tasks.complete(task.id, {"people": 5})
    [check] = engine.tasks.list(instance_id=instance.id)
    assert check.task_definition_key == "check"
    assert engine.instances.variables(instance.id)["each"] == 20
    # the step went through: the failure is history, no longer an open incident anywhere
    assert engine.jobs.incidents(instance_id=instance.id) == [] and engine.jobs.incidents() == []
    assert engine.instances.markers(instance.id).incidents == []
    assert engine.instances.counts_by_definition()[instance.definition_id].incidents == {}
    [past] = engine.jobs.historic_incidents(instance_id=instance.id)
    assert (past["resolved"], past["endTime"]) == (True, went_through)  # when the step went through


def test_a_tuple_a_script_stored_is_a_list_at_the_next_step_as_after_a_restart(engine: Engine, deploy) -> None:
    """The runtime stores JSON: a tuple comes back as a list. The next step sees a list whether the engine kept
    the workflow in memory or loaded it, so a process behaves the same on one worker and on several."""
    deploy(bpmn("""<bpmn:startEvent id="s"/>
        <bpmn:scriptTask id="pair"><bpmn:script>point = (1, 2)</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="look"/>
        <bpmn:scriptTask id="extend"><bpmn:script>line = point + [3]</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="done"/><bpmn:endEvent id="e"/>""" + chain("s", "pair", "look", "extend", "done", "e")))
    instance = engine.instances.start("p")
    [task] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(task.id, {})
    assert engine.instances.variables(instance.id)["line"] == [1, 2, 3]


def test_a_message_to_all_that_fails_at_one_instance_changes_none_even_for_a_second_engine(
        engine: Engine, deploy, database_url: str, clock) -> None:
    """A broadcast moves the first instance, fails at the second, and is rolled back as a whole. The first
    instance's step never happened: after another process moves it on, this one must not take its own memory of
    the rolled-back step for the instance's state."""
    deploy(bpmn("""<bpmn:startEvent id="s"/>
        <bpmn:intermediateCatchEvent id="go"><bpmn:messageEventDefinition messageRef="m_go"/></bpmn:intermediateCatchEvent>
        <bpmn:scriptTask id="divide"><bpmn:script>share = 10 / parts</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "go", "divide", "after", "e"),
        extra='<bpmn:message id="m_go" name="go"/>'))
    started = [engine.instances.start("p", business_key=key, variables={"parts": 1}) for key in "AB"]
    good, bad = sorted(started, key=lambda i: i.id)  # the broadcast goes to instances in the order of their ids
    engine.instances.set_variables(bad.id, {"parts": 0})
    with pytest.raises(ScriptError, match="division by zero"):
        engine.messages.correlate("go", all=True)
    assert engine.tasks.list(instance_id=good.id) == []
    other = Engine(Settings(database_url=database_url, script_time_limit=2.0), clock=clock)
    try:
        other.instances.set_variables(good.id, {"parts": 2})
    finally:
        other.close()
    engine.messages.correlate("go", instance_id=good.id)
    assert engine.instances.variables(good.id)["share"] == 5
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=good.id)] == ["after"]


def test_a_start_that_fails_leaves_no_incident_behind(engine: Engine, deploy) -> None:
    """The caller gets the error; with no instance there is nothing an incident could wait for (Camunda: the
    start throws, nothing is kept)."""
    deploy(bpmn("""<bpmn:startEvent id="s"/>
        <bpmn:scriptTask id="share"><bpmn:script>each = 100 / people</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="check"/><bpmn:endEvent id="e"/>""" + chain("s", "share", "check", "e")))
    with pytest.raises(ScriptError, match="division by zero") as failed:
        engine.instances.start("p", variables={"people": 0})
    assert failed.value.element_id == "share"
    assert engine.jobs.incidents() == [] and engine.instances.list() == []


def test_a_version_seen_again_after_the_database_lost_commits_never_brings_back_a_kept_run(
        engine: Engine, deploy) -> None:
    """The engine keeps the live workflow of an instance it changed last, under the version it saved. A database
    that loses its latest commits (restored from a backup, a failover to a standby that lagged) can reach that
    version again with other content: the kept workflow must not come back for it."""
    from sqlalchemy import update

    from engine.store import models as m

    deploy(bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="one"/><bpmn:userTask id="two"/>'
                '<bpmn:userTask id="three"/><bpmn:endEvent id="e"/>' + chain("s", "one", "two", "three", "e")))
    instance = engine.instances.start("p")

    def complete(key: str) -> None:
        [task] = engine.tasks.list(instance_id=instance.id)
        assert task.task_definition_key == key
        engine.tasks.complete(task.id, {})

    complete("one")  # the engine keeps the workflow waiting at `two`, under the version it saved
    with engine.db.write() as session:  # the database's version goes back by one: the next save reaches it again
        session.execute(update(m.ProcessInstance).where(m.ProcessInstance.id == instance.id)
                        .values(version=m.ProcessInstance.version - 1))
    complete("two")  # loaded from the database (its version differs from the one kept), saved at the kept one
    complete("three")
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert [e for e, ev in ((h.element_id, h.event) for h in engine.instances.history(instance.id))
            if ev == "completed" and e in ("one", "two", "three")] == ["one", "two", "three"]
