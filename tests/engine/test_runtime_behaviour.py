"""How instances behave at run time: long loops, failing scripts, correlation, lanes, expressions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from engine.api import Engine
from engine.errors import BadRequest, MismatchingCorrelation, ScriptError
from engine.store import models as m
from tests.helpers import bpmn, chain, flow

WAIT_FOR_PAYMENT = bpmn(
    """
    <bpmn:startEvent id="s"/>
    <bpmn:intermediateCatchEvent id="wait_payment"><bpmn:messageEventDefinition messageRef="m_pay"/></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="ship"/><bpmn:endEvent id="e"/>
    """ + chain("s", "wait_payment", "ship", "e"),
    process_id="order",
    extra='<bpmn:message id="m_pay" name="payment-received"/>',
)


def test_a_loop_of_400_rounds_keeps_finding_its_next_task(engine: Engine, deploy) -> None:
    """SpiffWorkflow alone stops finding READY tasks after 333 rounds of a three-task loop."""
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="call"/>
        <bpmn:scriptTask id="count"><bpmn:script>calls = calls + 1</bpmn:script></bpmn:scriptTask>
        <bpmn:exclusiveGateway id="again" default="f_back"/><bpmn:endEvent id="e"/>
        """ + chain("s", "call", "count", "again") + flow("again", "e", "${calls >= 400}")
        + flow("again", "call", flow_id="f_back")))
    instance = engine.instances.start("p", variables={"calls": 0})
    for _ in range(400):
        [task] = engine.tasks.list(instance_id=instance.id)
        engine.tasks.complete(task.id, {})
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.instances.variables(instance.id)["calls"] == 400
    with engine.db.read() as session:
        completed_calls = session.scalars(select(m.HistoryEvent).where(
            m.HistoryEvent.instance_id == instance.id, m.HistoryEvent.element_id == "call",
            m.HistoryEvent.event == "completed")).all()
    assert len(completed_calls) == 400


def test_the_stored_runtime_does_not_grow_with_history(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="call"/>
        <bpmn:exclusiveGateway id="again" default="f_back"/><bpmn:endEvent id="e"/>
        """ + chain("s", "call", "again") + flow("again", "e", "${stop}") + flow("again", "call", flow_id="f_back")))
    instance = engine.instances.start("p", variables={"stop": False})
    sizes = []
    for _ in range(60):
        [task] = engine.tasks.list(instance_id=instance.id)
        engine.tasks.complete(task.id, {})
        with engine.db.read() as session:
            sizes.append(len(session.get(m.ProcessInstance, instance.id).runtime))
    assert max(sizes[10:]) <= sizes[5] * 1.2


def test_a_failing_script_leaves_the_instance_at_its_last_wait_with_an_incident(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="enter"/>
        <bpmn:scriptTask id="compute"><bpmn:script>ratio = 10
ratio = total / count</bpmn:script></bpmn:scriptTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "enter", "compute", "e"), process_id="calc"))
    instance = engine.instances.start("calc")
    [task] = engine.tasks.list(instance_id=instance.id)
    with pytest.raises(ScriptError) as err:
        engine.tasks.complete(task.id, {"total": 5, "count": 0})
    assert err.value.element_id == "compute"
    assert err.value.instance_id == instance.id
    assert err.value.line == 2
    assert "ZeroDivisionError" in err.value.message
    # nothing half-written: the task is still open and the instance unchanged
    assert engine.tasks.get(task.id).ended_at is None
    assert "total" not in engine.instances.variables(instance.id)
    state = engine.instances.state(instance.id)
    [incident] = state.incidents
    assert incident["activityId"] == "compute" and "ZeroDivisionError" in incident["incidentMessage"]
    # the person fixes the input and completes again
    engine.tasks.complete(task.id, {"total": 5, "count": 2})
    assert engine.instances.variables(instance.id)["ratio"] == 2.5


def test_a_script_that_never_ends_is_stopped(engine: Engine, deploy) -> None:
    engine.sandbox.time_limit = 0.3
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="go"/>
        <bpmn:scriptTask id="spin"><bpmn:script>n = 0
while True:
    n = n + 1</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="e"/>""" + chain("s", "go", "spin", "e")))
    instance = engine.instances.start("p")
    [task] = engine.tasks.list(instance_id=instance.id)
    with pytest.raises(ScriptError, match="time limit"):
        engine.tasks.complete(task.id, {})
    assert engine.tasks.get(task.id).ended_at is None


def test_a_script_cannot_read_files(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:scriptTask id="peek"><bpmn:script>data = open('/etc/passwd').read()</bpmn:script></bpmn:scriptTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "peek", "e")))
    with pytest.raises(ScriptError) as err:
        engine.instances.start("p")
    assert err.value.element_id == "peek"
    assert engine.instances.list() == []


def test_a_message_reaches_only_the_instance_with_its_business_key(engine: Engine, deploy) -> None:
    deploy(WAIT_FOR_PAYMENT)
    a = engine.instances.start("order", business_key="A")
    b = engine.instances.start("order", business_key="B")
    [result] = engine.messages.correlate("payment-received", business_key="B", variables={"paid": 120})
    assert result.instance.id == b.id
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=b.id)] == ["ship"]
    assert engine.tasks.list(instance_id=a.id) == []
    assert engine.instances.variables(b.id)["paid"] == 120
    with pytest.raises(BadRequest, match="no process instance waits"):
        engine.messages.correlate("payment-received", business_key="C")
    with pytest.raises(BadRequest, match="no process instance waits"):
        engine.messages.correlate("payment-received", business_key="B")  # B no longer waits


def test_correlation_keys_match_process_variables(engine: Engine, deploy) -> None:
    deploy(WAIT_FOR_PAYMENT)
    a = engine.instances.start("order", variables={"orderNo": 17, "region": "north"})
    engine.instances.start("order", variables={"orderNo": 18, "region": "north"})
    [result] = engine.messages.correlate("payment-received", correlation_keys={"orderNo": 17})
    assert result.instance.id == a.id
    with pytest.raises(MismatchingCorrelation, match="correlation keys"):
        engine.messages.correlate("payment-received", correlation_keys={"orderNo": 99})


def test_a_correlation_key_matches_a_variable_of_its_own_type(engine: Engine, deploy) -> None:
    """As Camunda's typed match: a Long 10 finds the Long 10, not the Integer 10 (both matched: "matches 2 process
    instances"), and an untyped 10 (an Integer) the Integer."""
    from engine.variables import Long

    deploy(WAIT_FOR_PAYMENT)
    as_long = engine.instances.start("order", variables={"amt": Long(10)})
    as_integer = engine.instances.start("order", variables={"amt": 10})
    [result] = engine.messages.correlate("payment-received", correlation_keys={"amt": Long(10)})
    assert result.instance.id == as_long.id
    [result] = engine.messages.correlate("payment-received", correlation_keys={"amt": 10})
    assert result.instance.id == as_integer.id


PAYMENT_STARTS_A_REFUND = bpmn(
    """
    <bpmn:startEvent id="paid"><bpmn:messageEventDefinition messageRef="m_pay"/></bpmn:startEvent>
    <bpmn:userTask id="check_refund"/><bpmn:endEvent id="e"/>
    """ + chain("paid", "check_refund", "e"),
    process_id="refund",
    extra='<bpmn:message id="m_pay" name="payment-received"/>',
)


def test_a_message_to_all_reaches_the_waiting_instances_and_starts_its_processes(engine: Engine, deploy) -> None:
    """Camunda's correlateAll: the executions that wait and the process definitions the message starts, in one
    go; and a message start event is tried when no instance matches the correlation keys (which are variables
    of running instances, not of one about to start)."""
    deploy(WAIT_FOR_PAYMENT)
    deploy(PAYMENT_STARTS_A_REFUND, "refund.bpmn")
    waiting = engine.instances.start("order", variables={"orderNo": 17})
    results = engine.messages.correlate("payment-received", all=True)
    assert sorted((r.result_type, r.instance.definition_key) for r in results) == [
        ("Execution", "order"), ("ProcessDefinition", "refund")]
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=waiting.id)] == ["ship"]
    [started] = engine.messages.correlate("payment-received", correlation_keys={"orderNo": 99},
                                          business_key="R-99")
    assert (started.result_type, started.instance.definition_key, started.instance.business_key) == (
        "ProcessDefinition", "refund", "R-99")
    assert len(engine.instances.list(definition_key="refund")) == 2


def test_a_date_correlation_key_matches_the_same_moment_in_another_offset(engine: Engine, deploy) -> None:
    deploy(WAIT_FOR_PAYMENT)
    due = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    waiting = engine.instances.start("order", variables={"due": due})
    engine.instances.start("order", variables={"due": due + timedelta(hours=1)})
    in_paris = datetime(2026, 1, 5, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    [result] = engine.messages.correlate("payment-received", correlation_keys={"due": in_paris})
    assert result.instance.id == waiting.id
    with pytest.raises(MismatchingCorrelation, match="correlation keys"):
        engine.messages.correlate("payment-received", correlation_keys={"due": in_paris - timedelta(minutes=1)})


def test_an_ambiguous_message_is_refused_unless_sent_to_all(engine: Engine, deploy) -> None:
    deploy(WAIT_FOR_PAYMENT)
    ids = {engine.instances.start("order", business_key="same").id for _ in range(2)}
    with pytest.raises(MismatchingCorrelation, match="matches 2 process instances"):
        engine.messages.correlate("payment-received", business_key="same")
    results = engine.messages.correlate("payment-received", business_key="same", all=True)
    assert {r.instance.id for r in results} == ids


def test_lanes_offer_tasks_to_their_group_when_the_task_names_none(engine: Engine, deploy) -> None:
    collaboration = """
      <bpmn:collaboration id="c"><bpmn:participant id="part" processRef="p"/></bpmn:collaboration>"""
    deploy(bpmn("""
        <bpmn:laneSet id="ls">
          <bpmn:lane id="lane_sales" name="sales"><bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>offer</bpmn:flowNodeRef></bpmn:lane>
          <bpmn:lane id="lane_wh" name="warehouse"><bpmn:flowNodeRef>pack</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane>
        </bpmn:laneSet>
        <bpmn:startEvent id="s"/><bpmn:userTask id="offer"/>
        <bpmn:userTask id="pack" camunda:candidateGroups="packers"/><bpmn:endEvent id="e"/>
        """ + chain("s", "offer", "pack", "e"), extra=collaboration))
    instance = engine.instances.start("p")
    [offer] = engine.tasks.list(instance_id=instance.id)
    assert offer.candidate_groups == ["sales"]
    engine.tasks.complete(offer.id, {})
    [pack] = engine.tasks.list(instance_id=instance.id)
    assert pack.candidate_groups == ["packers"]  # named groups win over the lane


def test_juel_conditions_route_as_camunda_users_write_them(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="route" default="f_std"/>
        <bpmn:userTask id="gold_desk"/><bpmn:userTask id="review_reason"/><bpmn:userTask id="standard"/>
        <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/><bpmn:endEvent id="e3"/>
        """ + chain("s", "route")
        + flow("route", "gold_desk", "${status == 'gold' and !blocked}")
        + flow("route", "review_reason", "${not empty reason}")
        + flow("route", "standard", flow_id="f_std")
        + chain("gold_desk", "e1") + chain("review_reason", "e2") + chain("standard", "e3")))

    def first_task(**variables) -> str:  # type: ignore[no-untyped-def]
        i = engine.instances.start("p", variables=variables)
        return engine.tasks.list(instance_id=i.id)[0].task_definition_key

    assert first_task(status="gold", blocked=False, reason="") == "gold_desk"
    assert first_task(status="gold", blocked=True, reason="late payer") == "review_reason"
    assert first_task(status="silver", blocked=False, reason=None) == "standard"


def test_a_timer_date_can_come_from_a_variable(engine: Engine, deploy, clock) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:intermediateCatchEvent id="until"><bpmn:timerEventDefinition><bpmn:timeDate>${followUp}</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:userTask id="call_back"/><bpmn:endEvent id="e"/>""" + chain("s", "until", "call_back", "e")))
    follow_up = clock.now() + timedelta(days=7)
    instance = engine.instances.start("p", variables={"followUp": follow_up})
    [job] = engine.jobs.list(instance_id=instance.id)
    assert job["dueDate"].startswith(follow_up.strftime("%Y-%m-%dT%H:%M"))
    clock.advance(days=7, seconds=1)
    assert engine.jobs.execute_due() == 1
    assert engine.tasks.list(instance_id=instance.id)[0].task_definition_key == "call_back"


def test_every_step_is_in_the_history_with_who_and_when(engine: Engine, deploy, clock) -> None:
    deploy(bpmn("""<bpmn:startEvent id="s"/><bpmn:userTask id="approve" name="Approve"/><bpmn:endEvent id="e"/>"""
                + chain("s", "approve", "e")))
    instance = engine.instances.start("p", user="ann")
    [task] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.claim(task.id, "bob")
    clock.advance(hours=2)
    engine.tasks.complete(task.id, {}, user="bob")
    history = [(h.element_id, h.event, h.user_id) for h in engine.instances.history(instance.id)]
    assert history[0] == ("p", "started", "ann")
    assert ("approve", "claimed", "bob") in history
    assert ("approve", "completed", "bob") in history
    assert history[-1][:2] == ("p", "completed")
    completed_at = next(h.at for h in engine.instances.history(instance.id)
                        if (h.element_id, h.event) == ("approve", "completed"))
    assert completed_at == datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
