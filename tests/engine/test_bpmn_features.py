"""The BPMN constructs a designer draws: gateways, subprocesses, multi-instance, errors, escalations, DMN."""

from __future__ import annotations

import pytest

from engine.api import Engine
from engine.errors import DefinitionError, MismatchingCorrelation
from tests.helpers import bpmn, chain, flow


def open_tasks(engine: Engine, instance_id: str) -> list[str]:
    return sorted(t.task_definition_key for t in engine.tasks.list(instance_id=instance_id))


def complete(engine: Engine, instance_id: str, element_id: str, **variables) -> None:  # type: ignore[no-untyped-def]
    [task] = [t for t in engine.tasks.list(instance_id=instance_id) if t.task_definition_key == element_id]
    engine.tasks.complete(task.id, variables)


def state(engine: Engine, instance_id: str) -> str:
    return engine.instances.get(instance_id).state


def test_parallel_gateway_waits_for_every_branch(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>
        <bpmn:userTask id="a"/><bpmn:userTask id="b"/>
        <bpmn:parallelGateway id="join"/><bpmn:endEvent id="e"/>
        """ + chain("s", "fork") + flow("fork", "a") + flow("fork", "b") + flow("a", "join") + flow("b", "join")
        + chain("join", "e")))
    i = engine.instances.start("p")
    assert open_tasks(engine, i.id) == ["a", "b"]
    complete(engine, i.id, "a", x=1)
    assert open_tasks(engine, i.id) == ["b"] and state(engine, i.id) == "ACTIVE"
    complete(engine, i.id, "b", y=2)
    assert state(engine, i.id) == "COMPLETED"
    assert engine.instances.variables(i.id) == {"x": 1, "y": 2}


def test_inclusive_gateway_takes_every_true_branch_and_joins_them(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:inclusiveGateway id="fork"/>
        <bpmn:userTask id="credit"/><bpmn:userTask id="stock"/><bpmn:userTask id="legal"/>
        <bpmn:inclusiveGateway id="join"/><bpmn:endEvent id="e"/>
        """ + chain("s", "fork")
        + flow("fork", "credit", "${amount > 1000}") + flow("fork", "stock", "${physical}")
        + flow("fork", "legal", "${export}")
        + flow("credit", "join") + flow("stock", "join") + flow("legal", "join") + chain("join", "e")))
    i = engine.instances.start("p", variables={"amount": 5000, "physical": True, "export": False})
    assert open_tasks(engine, i.id) == ["credit", "stock"]
    complete(engine, i.id, "credit")
    complete(engine, i.id, "stock")
    assert state(engine, i.id) == "COMPLETED"


def test_event_based_gateway_follows_the_message_that_arrives_first(engine: Engine, deploy, clock) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:eventBasedGateway id="wait"/>
        <bpmn:intermediateCatchEvent id="accepted"><bpmn:messageEventDefinition messageRef="m_acc"/></bpmn:intermediateCatchEvent>
        <bpmn:intermediateCatchEvent id="timeout"><bpmn:timerEventDefinition><bpmn:timeDuration>P14D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:userTask id="deliver"/><bpmn:userTask id="follow_up"/>
        <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "wait") + flow("wait", "accepted") + flow("wait", "timeout")
        + chain("accepted", "deliver", "e1") + chain("timeout", "follow_up", "e2"),
        extra='<bpmn:message id="m_acc" name="proposal-accepted"/>'))
    a = engine.instances.start("p", business_key="A")
    b = engine.instances.start("p", business_key="B")
    engine.messages.correlate("proposal-accepted", business_key="A", variables={"signedBy": "CFO"})
    assert open_tasks(engine, a.id) == ["deliver"]
    assert engine.instances.variables(a.id)["signedBy"] == "CFO"
    assert engine.jobs.list(instance_id=a.id) == []  # the losing timer is gone
    clock.advance(days=14, seconds=1)
    assert engine.jobs.execute_due() == 1
    assert open_tasks(engine, b.id) == ["follow_up"]


def test_embedded_subprocess_runs_its_own_flow(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="checks">
          <bpmn:startEvent id="cs"/><bpmn:userTask id="check_id"/><bpmn:scriptTask id="mark"><bpmn:script>checked = True</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="ce"/>
          """ + chain("cs", "check_id", "mark", "ce") + """
        </bpmn:subProcess>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>
        """ + chain("s", "checks", "after", "e")))
    i = engine.instances.start("p")
    assert open_tasks(engine, i.id) == ["check_id"]
    complete(engine, i.id, "check_id", doc="passport")
    assert open_tasks(engine, i.id) == ["after"]
    assert engine.instances.variables(i.id)["checked"] is True
    assert engine.instances.variables(i.id)["doc"] == "passport"


def test_call_activity_calls_a_process_deployed_before(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="register"/>
        <bpmn:scriptTask id="number"><bpmn:script>clientNo = "C-" + name</bpmn:script></bpmn:scriptTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "register", "number", "e"), process_id="register_client"),
        "register.bpmn")
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:callActivity id="call" calledElement="register_client">
          <bpmn:extensionElements><camunda:in source="name" target="name"/><camunda:out variables="all"/></bpmn:extensionElements>
        </bpmn:callActivity>
        <bpmn:userTask id="welcome"/><bpmn:endEvent id="e"/>""" + chain("s", "call", "welcome", "e"),
        process_id="onboarding"), "onboarding.bpmn")
    i = engine.instances.start("onboarding", variables={"name": "Ann", "secret": "kept here"})
    assert open_tasks(engine, i.id) == ["register"]
    complete(engine, i.id, "register")
    assert open_tasks(engine, i.id) == ["welcome"]
    assert engine.instances.variables(i.id)["clientNo"] == "C-Ann"
    assert engine.instances.variables(i.id)["secret"] == "kept here"


def test_call_activity_passes_only_mapped_variables_as_camunda_does(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="check"/>
        <bpmn:scriptTask id="score"><bpmn:script>result = 700 if seen_secret is None else -1
leak = "child-only"</bpmn:script></bpmn:scriptTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "check", "score", "e"), process_id="credit_check"), "credit.bpmn")
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:callActivity id="call" calledElement="credit_check" camunda:calledElementBinding="latest">
          <bpmn:extensionElements>
            <camunda:in source="customer" target="client"/>
            <camunda:in sourceExpression="${amount * 2}" target="limit"/>
            <camunda:out source="result" target="creditScore"/>
          </bpmn:extensionElements>
        </bpmn:callActivity>
        <bpmn:userTask id="decide"/><bpmn:endEvent id="e"/>""" + chain("s", "call", "decide", "e"),
        process_id="order"), "order.bpmn")
    i = engine.instances.start("order", variables={"customer": "ACME", "amount": 50, "secret": "x"})
    [task] = engine.tasks.list(instance_id=i.id)
    assert engine.tasks.variables(task.id) == {"client": "ACME", "limit": 100}  # the called process's scope
    engine.tasks.complete(task.id, {"seen_secret": None})
    variables = engine.instances.variables(i.id)
    assert variables["creditScore"] == 700
    assert "leak" not in variables and "result" not in variables
    assert variables["secret"] == "x"


def test_parallel_multi_instance_creates_a_task_per_item(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="approve" camunda:assignee="${approver}">
          <bpmn:multiInstanceLoopCharacteristics camunda:collection="${approvers}" camunda:elementVariable="approver"/>
        </bpmn:userTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "approve", "e")))
    i = engine.instances.start("p", variables={"approvers": ["ann", "bob", "cid"]})
    tasks = engine.tasks.list(instance_id=i.id)
    assert sorted(t.assignee for t in tasks) == ["ann", "bob", "cid"]
    for t in tasks:
        engine.tasks.complete(t.id, {})
    assert state(engine, i.id) == "COMPLETED"


def test_sequential_multi_instance_creates_tasks_one_after_another(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="call">
          <bpmn:multiInstanceLoopCharacteristics isSequential="true"><bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
        </bpmn:userTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "call", "e")))
    i = engine.instances.start("p")
    for _ in range(3):
        [t] = engine.tasks.list(instance_id=i.id)
        engine.tasks.complete(t.id, {})
    assert state(engine, i.id) == "COMPLETED"


def test_error_end_event_is_caught_by_a_boundary_event(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="payment">
          <bpmn:startEvent id="ps"/><bpmn:exclusiveGateway id="ok" default="f_paid"/>
          <bpmn:endEvent id="declined"><bpmn:errorEventDefinition errorRef="err_declined"/></bpmn:endEvent>
          <bpmn:endEvent id="paid"/>
          """ + chain("ps", "ok") + flow("ok", "declined", "${card == 'bad'}") + flow("ok", "paid", flow_id="f_paid")
        + """
        </bpmn:subProcess>
        <bpmn:boundaryEvent id="on_declined" attachedToRef="payment"><bpmn:errorEventDefinition errorRef="err_declined"/></bpmn:boundaryEvent>
        <bpmn:userTask id="ask_other_card"/><bpmn:userTask id="ship"/>
        <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "payment", "ship", "e1") + chain("on_declined", "ask_other_card", "e2"),
        extra='<bpmn:error id="err_declined" name="Declined" errorCode="CARD_DECLINED"/>'))
    bad = engine.instances.start("p", variables={"card": "bad"})
    good = engine.instances.start("p", variables={"card": "good"})
    assert open_tasks(engine, bad.id) == ["ask_other_card"]
    assert open_tasks(engine, good.id) == ["ship"]


def test_escalation_is_caught_without_interrupting(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="work">
          <bpmn:startEvent id="ws"/>
          <bpmn:intermediateThrowEvent id="raise"><bpmn:escalationEventDefinition escalationRef="esc"/></bpmn:intermediateThrowEvent>
          <bpmn:userTask id="keep_working"/><bpmn:endEvent id="we"/>
          """ + chain("ws", "raise", "keep_working", "we") + """
        </bpmn:subProcess>
        <bpmn:boundaryEvent id="noticed" attachedToRef="work" cancelActivity="false"><bpmn:escalationEventDefinition escalationRef="esc"/></bpmn:boundaryEvent>
        <bpmn:userTask id="inform_head"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "work", "e1") + chain("noticed", "inform_head", "e2"),
        extra='<bpmn:escalation id="esc" name="Late" escalationCode="LATE"/>'))
    i = engine.instances.start("p")
    assert open_tasks(engine, i.id) == ["inform_head", "keep_working"]


def test_interrupting_timer_boundary_event_replaces_the_task(engine: Engine, deploy, clock) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="qualify"/>
        <bpmn:boundaryEvent id="late" attachedToRef="qualify"><bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:userTask id="escalate"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "qualify", "e1") + chain("late", "escalate", "e2")))
    i = engine.instances.start("p")
    [job] = engine.jobs.list(instance_id=i.id)
    assert job["activityId"] == "late"
    clock.advance(hours=23)
    assert engine.jobs.execute_due() == 0
    clock.advance(hours=1, seconds=1)
    assert engine.jobs.execute_due() == 1
    assert open_tasks(engine, i.id) == ["escalate"]
    assert engine.jobs.list(instance_id=i.id) == []


def test_non_interrupting_timer_keeps_the_task_open(engine: Engine, deploy, clock) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="qualify"/>
        <bpmn:boundaryEvent id="remind" attachedToRef="qualify" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeDuration>PT4H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:userTask id="reminder"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "qualify", "e1") + chain("remind", "reminder", "e2")))
    i = engine.instances.start("p")
    clock.advance(hours=5)
    assert engine.jobs.execute_due() == 1
    assert open_tasks(engine, i.id) == ["qualify", "reminder"]


def test_message_event_subprocess_interrupts_the_main_flow(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="assemble"/><bpmn:endEvent id="e"/>
        """ + chain("s", "assemble", "e") + """
        <bpmn:subProcess id="on_cancel" triggeredByEvent="true">
          <bpmn:startEvent id="cancel_start" isInterrupting="true"><bpmn:messageEventDefinition messageRef="m_cancel"/></bpmn:startEvent>
          <bpmn:userTask id="refund"/><bpmn:endEvent id="ce"/>
          """ + chain("cancel_start", "refund", "ce") + """
        </bpmn:subProcess>""", extra='<bpmn:message id="m_cancel" name="order-cancelled"/>'))
    i = engine.instances.start("p", business_key="O-1")
    engine.messages.correlate("order-cancelled", business_key="O-1")
    assert open_tasks(engine, i.id) == ["refund"]
    [refund] = engine.tasks.list(instance_id=i.id)
    # the interrupted process no longer listens (Camunda: MismatchingMessageCorrelationException); a second message
    # must not throw the refund under way away and start it again
    assert engine.instances.state(i.id).subscriptions == []
    with pytest.raises(MismatchingCorrelation):
        engine.messages.correlate("order-cancelled", business_key="O-1")
    assert [t.id for t in engine.tasks.list(instance_id=i.id)] == [refund.id]
    engine.tasks.complete(refund.id, {})
    assert state(engine, i.id) == "COMPLETED"  # the interrupted process ends with its event subprocess


def test_signal_reaches_every_waiting_instance(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:intermediateCatchEvent id="wait"><bpmn:signalEventDefinition signalRef="sig"/></bpmn:intermediateCatchEvent>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "wait", "after", "e"),
        extra='<bpmn:signal id="sig" name="price-list-changed"/>'))
    ids = [engine.instances.start("p").id for _ in range(3)]
    paused = engine.instances.start("p").id
    engine.instances.suspend(paused)
    assert engine.messages.signal("price-list-changed") == 3  # a suspended instance is passed by
    assert all(open_tasks(engine, i) == ["after"] for i in ids)
    assert open_tasks(engine, paused) == []


def test_message_start_event_starts_an_instance(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"><bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent>
        <bpmn:userTask id="handle"/><bpmn:endEvent id="e"/>""" + chain("s", "handle", "e"),
        extra='<bpmn:message id="m" name="order-received"/>', process_id="order"))
    [result] = engine.messages.correlate("order-received", business_key="O-77", variables={"amount": 90})
    assert result.result_type == "ProcessDefinition"
    instance = engine.instances.get(result.instance.id)
    assert instance.business_key == "O-77"
    assert open_tasks(engine, instance.id) == ["handle"]
    assert engine.instances.variables(instance.id)["amount"] == 90


def test_dmn_decision_table_sets_a_result(engine: Engine, deploy) -> None:
    dmn = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="card_type" name="Card type">
    <decisionTable id="t" hitPolicy="UNIQUE">
      <input id="i1" label="Spent"><inputExpression id="ie1" typeRef="number"><text>spent</text></inputExpression></input>
      <output id="o1" name="cardType" typeRef="string"/>
      <rule id="r1"><inputEntry id="a1"><text>&gt;= 1000</text></inputEntry><outputEntry id="b1"><text>"gold"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="a2"><text>&lt; 1000</text></inputEntry><outputEntry id="b2"><text>"silver"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""
    process = bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:businessRuleTask id="decide" camunda:decisionRef="card_type" camunda:resultVariable="cardType"
            camunda:mapDecisionResult="singleEntry"/>
        <bpmn:userTask id="issue"/><bpmn:endEvent id="e"/>""" + chain("s", "decide", "issue", "e"), process_id="card")
    deploy(process, "card.bpmn", ("card_type.dmn", dmn))
    gold = engine.instances.start("card", variables={"spent": 1500})
    silver = engine.instances.start("card", variables={"spent": 20})
    assert engine.instances.variables(gold.id)["cardType"] == "gold"
    assert engine.instances.variables(silver.id)["cardType"] == "silver"


STOCK_SIGNAL = '<bpmn:signal id="sig" name="stock-arrived"/>'
WAITING_ORDER = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:signalEventDefinition signalRef="sig"/></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="ship"/><bpmn:endEvent id="e"/>""" + chain("s", "wait", "ship", "e"),
                     process_id="waiting_order", extra=STOCK_SIGNAL)


def test_a_thrown_signal_reaches_other_instances_after_the_thrower_commits(engine: Engine, deploy) -> None:
    signal = STOCK_SIGNAL
    deploy(WAITING_ORDER, "waiting.bpmn")
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="receive_goods"/>
        <bpmn:intermediateThrowEvent id="announce"><bpmn:signalEventDefinition signalRef="sig"/></bpmn:intermediateThrowEvent>
        <bpmn:endEvent id="e"/>""" + chain("s", "receive_goods", "announce", "e"),
        process_id="warehouse", extra=signal), "warehouse.bpmn")
    orders = [engine.instances.start("waiting_order").id for _ in range(2)]
    warehouse = engine.instances.start("warehouse")
    [task] = engine.tasks.list(instance_id=warehouse.id)
    engine.tasks.complete(task.id, {})
    assert engine.instances.get(warehouse.id).state == "COMPLETED"
    assert all(open_tasks(engine, o) == ["ship"] for o in orders)


def test_a_signal_end_event_broadcasts_its_signal(engine: Engine, deploy) -> None:
    """As Camunda's signal end event: a waiting catch event moves on and a signal start event starts an instance
    (SpiffWorkflow 3.2 read it as a none end event, which threw nothing)."""
    signal = STOCK_SIGNAL
    deploy(WAITING_ORDER, "waiting.bpmn")
    deploy(bpmn("""
        <bpmn:startEvent id="on_stock"><bpmn:signalEventDefinition signalRef="sig"/></bpmn:startEvent>
        <bpmn:userTask id="restock_report"/>""" + chain("on_stock", "restock_report"),
        process_id="report", extra=signal), "report.bpmn")
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="receive_goods"/>
        <bpmn:endEvent id="announced"><bpmn:signalEventDefinition signalRef="sig"/></bpmn:endEvent>"""
        + chain("s", "receive_goods", "announced"), process_id="warehouse", extra=signal), "warehouse.bpmn")
    order = engine.instances.start("waiting_order").id
    warehouse = engine.instances.start("warehouse")
    [task] = engine.tasks.list(instance_id=warehouse.id)
    engine.tasks.complete(task.id, {})

    assert engine.instances.get(warehouse.id).state == "COMPLETED"
    assert open_tasks(engine, order) == ["ship"]
    [report] = engine.instances.list(definition_key="report")
    assert open_tasks(engine, report.id) == ["restock_report"]


TWO_DECISIONS = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="discount" name="Discount">
    <decisionTable id="t1" hitPolicy="FIRST">
      <input id="i1" label="Category"><inputExpression id="e1" typeRef="string"><text>category</text></inputExpression></input>
      <input id="i2" label="Amount"><inputExpression id="e2" typeRef="number"><text>amount</text></inputExpression></input>
      <output id="o1" name="percent" typeRef="integer"/>
      <rule id="gold_big"><inputEntry id="a1"><text>"gold"</text></inputEntry><inputEntry id="a2"><text>[1000..100000]</text></inputEntry><outputEntry id="b1"><text>15</text></outputEntry></rule>
      <rule id="gold_or_silver"><inputEntry id="a3"><text>"gold","silver"</text></inputEntry><inputEntry id="a4"><text>-</text></inputEntry><outputEntry id="b2"><text>5</text></outputEntry></rule>
      <rule id="others"><inputEntry id="a5"><text>-</text></inputEntry><inputEntry id="a6"><text>-</text></inputEntry><outputEntry id="b3"><text>0</text></outputEntry></rule>
    </decisionTable>
  </decision>
  <decision id="checks" name="Checks">
    <decisionTable id="t2" hitPolicy="COLLECT">
      <input id="i3"><inputExpression id="e3" typeRef="number"><text>amount</text></inputExpression></input>
      <output id="o2" name="check" typeRef="string"/>
      <rule id="r1"><inputEntry id="c1"><text>&gt; 500</text></inputEntry><outputEntry id="d1"><text>"credit"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="c2"><text>&gt; 5000</text></inputEntry><outputEntry id="d2"><text>"legal"</text></outputEntry></rule>
      <rule id="r3"><inputEntry id="c3"><text>-</text></inputEntry><outputEntry id="d3"><text>"identity"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""


def test_several_decisions_of_one_file_and_their_result_mappings(engine: Engine, deploy) -> None:
    process = bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:businessRuleTask id="price" camunda:decisionRef="discount" camunda:resultVariable="discount"
            camunda:mapDecisionResult="singleEntry"/>
        <bpmn:businessRuleTask id="plan" camunda:decisionRef="checks" camunda:resultVariable="checks"
            camunda:mapDecisionResult="collectEntries"/>
        <bpmn:businessRuleTask id="raw" camunda:decisionRef="discount" camunda:resultVariable="rawResult"/>
        <bpmn:businessRuleTask id="unsaved" camunda:decisionRef="checks"/>
        <bpmn:userTask id="review"/><bpmn:endEvent id="e"/>""" + chain("s", "price", "plan", "raw", "unsaved", "review", "e"),
        process_id="quote")
    deploy(process, "quote.bpmn", ("rules.dmn", TWO_DECISIONS))
    big = engine.instances.start("quote", variables={"category": "gold", "amount": 6000})
    small = engine.instances.start("quote", variables={"category": "bronze", "amount": 100})
    v = engine.instances.variables(big.id)
    assert v["discount"] == 15
    assert v["checks"] == ["credit", "legal", "identity"]
    assert v["rawResult"] == [{"percent": 15}]  # resultList is Camunda's default mapping
    assert "check" not in v and "percent" not in v  # without resultVariable nothing is stored
    w = engine.instances.variables(small.id)
    assert (w["discount"], w["checks"]) == (0, ["identity"])


def test_a_decision_that_fails_is_an_incident_at_the_business_rule_task(engine: Engine, deploy) -> None:
    process = bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:businessRuleTask id="price" camunda:decisionRef="discount" camunda:resultVariable="d"
            camunda:mapDecisionResult="singleEntry"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "price", "e"), process_id="quote")
    deploy(process, "quote.bpmn", ("rules.dmn", TWO_DECISIONS))
    from engine.errors import ScriptError

    with pytest.raises(ScriptError) as err:
        engine.instances.start("quote", variables={"category": "gold"})  # no amount
    assert err.value.element_id == "price"
    assert "amount" in err.value.message


def test_sequence_flows_without_an_id_are_followed_as_camunda_does(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="big"/>
        <bpmn:userTask id="review"/><bpmn:userTask id="ship"/><bpmn:endEvent id="e"/>
        <bpmn:sequenceFlow sourceRef="s" targetRef="big"/>
        <bpmn:sequenceFlow sourceRef="big" targetRef="review"><bpmn:conditionExpression>${amount &gt; 100}</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:sequenceFlow sourceRef="big" targetRef="ship"><bpmn:conditionExpression>${amount &lt;= 100}</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:sequenceFlow sourceRef="review" targetRef="e"/><bpmn:sequenceFlow sourceRef="ship" targetRef="e"/>
        """))
    large = engine.instances.start("p", variables={"amount": 500})
    small = engine.instances.start("p", variables={"amount": 5})
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=large.id)] == ["review"]
    [ship] = engine.tasks.list(instance_id=small.id)
    assert ship.task_definition_key == "ship"
    engine.tasks.complete(ship.id, {})
    assert engine.instances.get(small.id).state == "COMPLETED"


def nested_cancellation(interrupting: bool) -> bytes:
    """An order subprocess holding a message event subprocess (the order process's cancellation)."""
    return bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="fulfil">
          <bpmn:startEvent id="fs"/><bpmn:userTask id="pack"/><bpmn:endEvent id="fe"/>
          {chain("fs", "pack", "fe")}
          <bpmn:subProcess id="on_cancel" triggeredByEvent="true">
            <bpmn:startEvent id="cancelled" isInterrupting="{str(interrupting).lower()}"><bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent>
            <bpmn:userTask id="refund"/><bpmn:endEvent id="ce"/>
            {chain("cancelled", "refund", "ce")}
          </bpmn:subProcess>
        </bpmn:subProcess>
        <bpmn:userTask id="close"/><bpmn:endEvent id="e"/>""" + chain("s", "fulfil", "close", "e"),
        extra='<bpmn:message id="m" name="order-cancelled"/>')


def test_a_message_event_subprocess_inside_a_subprocess_interrupts_it(engine: Engine, deploy) -> None:
    deploy(nested_cancellation(interrupting=True))
    i = engine.instances.start("p", business_key="O-2")
    assert [s["eventName"] for s in engine.instances.state(i.id).subscriptions] == ["order-cancelled"]
    engine.messages.correlate("order-cancelled", business_key="O-2", variables={"reason": "late"})
    assert open_tasks(engine, i.id) == ["refund"]  # the packing is cancelled
    assert engine.instances.state(i.id).subscriptions == []  # and the interrupted subprocess listens no more
    with pytest.raises(MismatchingCorrelation):
        engine.messages.correlate("order-cancelled", business_key="O-2")
    assert open_tasks(engine, i.id) == ["refund"]
    complete(engine, i.id, "refund")
    assert open_tasks(engine, i.id) == ["close"]  # the subprocess ends; the process goes on after it
    assert engine.instances.state(i.id).subscriptions == []
    complete(engine, i.id, "close")
    assert state(engine, i.id) == "COMPLETED"
    assert engine.instances.variables(i.id)["reason"] == "late"


def test_a_non_interrupting_message_event_subprocess_inside_a_subprocess_runs_beside_it(engine: Engine,
                                                                                        deploy) -> None:
    deploy(nested_cancellation(interrupting=False))
    i = engine.instances.start("p")
    engine.messages.correlate("order-cancelled", instance_id=i.id)
    assert open_tasks(engine, i.id) == ["pack", "refund"]
    complete(engine, i.id, "refund")
    assert open_tasks(engine, i.id) == ["pack"]
    complete(engine, i.id, "pack")
    assert open_tasks(engine, i.id) == ["close"]  # the subscription ended with the subprocess
    assert engine.instances.state(i.id).subscriptions == []


CODES = '<bpmn:error id="broken" errorCode="BROKEN"/><bpmn:escalation id="late" escalationCode="LATE"/>'


def _handlers(suffix: str = "") -> str:
    """An error event subprocess (`repair`) and a non-interrupting escalation one (`inform`), ids suffixed."""
    caught, repair, repaired = f"caught{suffix}", f"repair{suffix}", f"repaired{suffix}"
    escalated, inform, informed = f"escalated{suffix}", f"inform{suffix}", f"informed{suffix}"
    return f"""
        <bpmn:subProcess id="on_error{suffix}" triggeredByEvent="true">
          <bpmn:startEvent id="{caught}"><bpmn:errorEventDefinition errorRef="broken" camunda:errorCodeVariable="code"/>
          </bpmn:startEvent>
          <bpmn:userTask id="{repair}"/><bpmn:endEvent id="{repaired}"/>{chain(caught, repair, repaired)}
        </bpmn:subProcess>
        <bpmn:subProcess id="on_escalation{suffix}" triggeredByEvent="true">
          <bpmn:startEvent id="{escalated}" isInterrupting="false"><bpmn:escalationEventDefinition escalationRef="late"/>
          </bpmn:startEvent>
          <bpmn:userTask id="{inform}"/><bpmn:endEvent id="{informed}"/>{chain(escalated, inform, informed)}
        </bpmn:subProcess>"""


def test_error_and_escalation_event_subprocesses_wait_for_what_they_catch(engine: Engine, deploy) -> None:
    """Until an error or escalation is thrown, its event subprocess does not start (SpiffWorkflow 3.2 read their
    start events as none start events: the handler ran at once and an interrupting one cancelled the process)."""
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:exclusiveGateway id="how" default="fine"/>
        <bpmn:endEvent id="fails"><bpmn:errorEventDefinition errorRef="broken"/></bpmn:endEvent>
        <bpmn:intermediateThrowEvent id="tell"><bpmn:escalationEventDefinition escalationRef="late"/>
        </bpmn:intermediateThrowEvent><bpmn:userTask id="finish"/><bpmn:endEvent id="e"/>
        """ + chain("s", "work", "how") + flow("how", "fails", "${broken}") + flow("how", "tell", flow_id="fine")
        + chain("tell", "finish", "e") + _handlers(), extra=CODES))

    def open_tasks(instance_id: str) -> list[str]:
        return sorted(t.task_definition_key for t in engine.tasks.list(instance_id=instance_id))

    for broken, after in ((True, ["repair"]), (False, ["finish", "inform"])):
        instance = engine.instances.start("p")
        assert open_tasks(instance.id) == ["work"]
        [work] = engine.tasks.list(instance_id=instance.id)
        engine.tasks.complete(work.id, {"broken": broken})
        assert open_tasks(instance.id) == after
        assert ("code" in engine.instances.variables(instance.id)) is broken


def test_an_error_thrown_in_a_subprocess_is_caught_by_its_own_event_subprocess_first(engine: Engine,
                                                                                   deploy) -> None:
    """The innermost catcher wins (Camunda): the subprocess's event subprocess, not the boundary event on the
    subprocess nor the process's event subprocess. SpiffWorkflow starts only the process's event subprocesses."""
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="sub">
          <bpmn:startEvent id="in"/><bpmn:userTask id="first"/>
          <bpmn:endEvent id="fails"><bpmn:errorEventDefinition errorRef="broken"/></bpmn:endEvent>
          """ + chain("in", "first", "fails") + _handlers("_inside") + """
        </bpmn:subProcess>
        <bpmn:boundaryEvent id="on_sub_error" attachedToRef="sub"><bpmn:errorEventDefinition errorRef="broken"/>
        </bpmn:boundaryEvent><bpmn:userTask id="boundary_caught"/><bpmn:endEvent id="e2"/>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>
        """ + chain("s", "sub", "after", "e") + chain("on_sub_error", "boundary_caught", "e2") + _handlers(),
        extra=CODES))
    instance = engine.instances.start("p")
    [first] = engine.tasks.list(instance_id=instance.id)
    assert first.task_definition_key == "first"
    engine.tasks.complete(first.id, {})
    [repair] = engine.tasks.list(instance_id=instance.id)
    assert repair.task_definition_key == "repair_inside"
    engine.tasks.complete(repair.id, {})
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["after"]


def test_the_caught_error_and_escalation_codes_go_to_their_code_variables(engine: Engine, deploy) -> None:
    # BoundaryErrorEventTest.testCatchErrorOnSubprocessSetsErrorVariables, EscalationEventTest (escalationCodeVariable):
    # a catch-all event (no errorRef) learns which code was thrown.
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="work">
          <bpmn:startEvent id="ws"/>
          <bpmn:intermediateThrowEvent id="raise"><bpmn:escalationEventDefinition escalationRef="esc"/></bpmn:intermediateThrowEvent>
          <bpmn:userTask id="go_on"/><bpmn:endEvent id="fail"><bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent>
          """ + chain("ws", "raise", "go_on", "fail") + """
        </bpmn:subProcess>
        <bpmn:boundaryEvent id="noticed" attachedToRef="work" cancelActivity="false">
          <bpmn:escalationEventDefinition camunda:escalationCodeVariable="escalation"/></bpmn:boundaryEvent>
        <bpmn:boundaryEvent id="failed" attachedToRef="work">
          <bpmn:errorEventDefinition camunda:errorCodeVariable="code"/></bpmn:boundaryEvent>
        <bpmn:userTask id="inform_head"/><bpmn:userTask id="repair"/>
        <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/><bpmn:endEvent id="e3"/>
        """ + chain("s", "work", "e1") + chain("noticed", "inform_head", "e2") + chain("failed", "repair", "e3"),
        extra='<bpmn:escalation id="esc" name="Late" escalationCode="LATE"/>'
              '<bpmn:error id="err" name="Broken" errorCode="BROKEN"/>'))
    i = engine.instances.start("p")
    assert open_tasks(engine, i.id) == ["go_on", "inform_head"]
    [inform] = [t for t in engine.tasks.list(instance_id=i.id) if t.task_definition_key == "inform_head"]
    assert engine.tasks.variables(inform.id)["escalation"] == "LATE"
    complete(engine, i.id, "go_on")
    assert open_tasks(engine, i.id) == ["inform_head", "repair"]
    [repair] = [t for t in engine.tasks.list(instance_id=i.id) if t.task_definition_key == "repair"]
    assert engine.tasks.variables(repair.id)["code"] == "BROKEN"


def booking(throw: str) -> bytes:
    """Book a hotel and a flight, each with an undo handler; `throw` decides what happens after."""
    return bpmn(f"""
        <bpmn:startEvent id="s"/><bpmn:userTask id="book_hotel"/><bpmn:userTask id="book_flight"/>
        <bpmn:boundaryEvent id="undo_hotel_b" attachedToRef="book_hotel"><bpmn:compensateEventDefinition/></bpmn:boundaryEvent>
        <bpmn:boundaryEvent id="undo_flight_b" attachedToRef="book_flight"><bpmn:compensateEventDefinition/></bpmn:boundaryEvent>
        <bpmn:userTask id="cancel_hotel" isForCompensation="true"/><bpmn:userTask id="cancel_flight" isForCompensation="true"/>
        <bpmn:association id="a1" sourceRef="undo_hotel_b" targetRef="cancel_hotel"/>
        <bpmn:association id="a2" sourceRef="undo_flight_b" targetRef="cancel_flight"/>
        <bpmn:exclusiveGateway id="paid" default="f_ok"/><bpmn:userTask id="travel"/><bpmn:endEvent id="done"/>
        {throw}
        """ + chain("s", "book_hotel", "paid") + flow("paid", "travel", flow_id="f_ok")
        + flow("paid", "book_flight", "${retry}") + chain("travel", "done") + chain("book_flight", "undo"))


def test_a_compensation_throw_runs_the_handlers_of_the_completed_activities_then_goes_on(engine: Engine,
                                                                                         deploy) -> None:
    # CompensateEventTest.testReceiveTaskCompensationHandler and friends: SpiffWorkflow has no compensation.
    deploy(booking('<bpmn:intermediateThrowEvent id="undo"><bpmn:compensateEventDefinition/>'
                   '</bpmn:intermediateThrowEvent><bpmn:userTask id="apologise"/><bpmn:endEvent id="e2"/>'
                   + chain("undo", "apologise", "e2")))
    i = engine.instances.start("p", variables={"retry": True})
    complete(engine, i.id, "book_hotel")
    complete(engine, i.id, "book_flight")
    assert open_tasks(engine, i.id) == ["cancel_flight", "cancel_hotel"]  # both completed: both undone
    complete(engine, i.id, "cancel_flight")
    assert open_tasks(engine, i.id) == ["cancel_hotel"]  # the throw waits for every handler
    complete(engine, i.id, "cancel_hotel")
    assert open_tasks(engine, i.id) == ["apologise"]
    complete(engine, i.id, "apologise")
    assert state(engine, i.id) == "COMPLETED"
    assert "sf_compensable" not in engine.instances.variables(i.id)


def test_a_compensation_end_event_for_one_activity_undoes_only_that_one(engine: Engine, deploy) -> None:
    deploy(booking('<bpmn:endEvent id="undo"><bpmn:compensateEventDefinition activityRef="book_flight"/>'
                   '</bpmn:endEvent>'))
    i = engine.instances.start("p", variables={"retry": True})
    complete(engine, i.id, "book_hotel")
    complete(engine, i.id, "book_flight")
    assert open_tasks(engine, i.id) == ["cancel_flight"]
    complete(engine, i.id, "cancel_flight")
    assert state(engine, i.id) == "COMPLETED"


def test_compensation_skips_an_activity_that_did_not_complete(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="x" default="f_skip"/><bpmn:userTask id="book"/>
        <bpmn:boundaryEvent id="b" attachedToRef="book"><bpmn:compensateEventDefinition/></bpmn:boundaryEvent>
        <bpmn:userTask id="cancel" isForCompensation="true"/><bpmn:association id="a" sourceRef="b" targetRef="cancel"/>
        <bpmn:exclusiveGateway id="m"/>
        <bpmn:intermediateThrowEvent id="undo"><bpmn:compensateEventDefinition/></bpmn:intermediateThrowEvent>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>
        """ + chain("s", "x") + flow("x", "book", "${wanted}") + flow("x", "m", flow_id="f_skip")
        + chain("book", "m") + chain("m", "undo", "after", "e")))
    i = engine.instances.start("p", variables={"wanted": False})
    assert open_tasks(engine, i.id) == ["after"]  # nothing was booked: nothing to undo


@pytest.mark.parametrize(("body", "element", "problem"), [
    ('<bpmn:startEvent id="s"/><bpmn:subProcess id="undo_all" triggeredByEvent="true"><bpmn:startEvent id="cs">'
     '<bpmn:compensateEventDefinition/></bpmn:startEvent><bpmn:endEvent id="ce"/>' + chain("cs", "ce")
     + '</bpmn:subProcess><bpmn:endEvent id="e"/>' + chain("s", "e"),
     "cs", "a compensation start event is only supported inside an embedded subprocess"),
    # compensating multi-instance activities, subprocesses and waitForCompletion="false": test_compensation_scopes
])
def test_compensation_stageflow_cannot_run_is_refused_naming_the_element(engine: Engine, deploy, body: str,
                                                                         element: str, problem: str) -> None:
    from engine.errors import DefinitionError

    with pytest.raises(DefinitionError) as err:
        deploy(bpmn(body))
    assert err.value.element_id == element and problem in err.value.reason


def test_the_called_processs_activities_have_their_types_in_the_callers_history(engine: Engine, deploy) -> None:
    """A called process runs inside its caller's instance here: its activities still carry Camunda's activity
    types and names in the history and the activity tree (read from the called process's BPMN)."""
    deploy(bpmn("""
        <bpmn:startEvent id="cs"/><bpmn:userTask id="register" name="Register the client"/>
        <bpmn:endEvent id="ce"/>""" + chain("cs", "register", "ce"), process_id="register_client"),
        "register.bpmn")
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:callActivity id="call" calledElement="register_client"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "call", "e"), process_id="onboarding"), "onboarding.bpmn")
    instance = engine.instances.start("onboarding")
    activities = {a["activityId"]: (a["activityType"], a["activityName"])
                  for a in engine.history.activities(instance.id)}
    assert activities["cs"] == ("startEvent", None)
    assert activities["register"] == ("userTask", "Register the client")
    assert activities["s"] == ("startEvent", None)


def test_a_called_processs_element_keeps_its_own_type_and_name_where_the_caller_uses_its_id(engine: Engine,
                                                                                            deploy) -> None:
    """Camunda Modeler names elements `StartEvent_1`, `Event_0x...`: a called process often has ids its caller
    has too. Its history showed the caller's element of that id (an unnamed terminate end event as the caller's
    signal throw 'Order shipped')."""
    deploy(bpmn("""
        <bpmn:startEvent id="StartEvent_1"/><bpmn:userTask id="pack" name="Pack"/>
        <bpmn:endEvent id="Event_Shipped"><bpmn:terminateEventDefinition/></bpmn:endEvent>
        """ + chain("StartEvent_1", "pack", "Event_Shipped"), process_id="shipping"), "shipping.bpmn")
    deploy(bpmn("""
        <bpmn:startEvent id="StartEvent_1" name="Order received"/>
        <bpmn:callActivity id="ship" name="Ship" calledElement="shipping"/>
        <bpmn:intermediateThrowEvent id="Event_Shipped" name="Order shipped">
          <bpmn:signalEventDefinition signalRef="shipped"/></bpmn:intermediateThrowEvent>
        <bpmn:endEvent id="done"/>""" + chain("StartEvent_1", "ship", "Event_Shipped", "done"), process_id="order",
        extra='<bpmn:signal id="shipped" name="order-shipped"/>'), "order.bpmn")
    instance = engine.instances.start("order")
    [task] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(task.id, {})
    seen = [(a["activityId"], a["activityType"], a["activityName"]) for a in engine.history.activities(instance.id)]
    assert seen == [("StartEvent_1", "startEvent", "Order received"), ("StartEvent_1", "startEvent", None),
                    ("pack", "userTask", "Pack"), ("Event_Shipped", "terminateEndEvent", None),
                    ("ship", "callActivity", "Ship"), ("Event_Shipped", "intermediateSignalThrow", "Order shipped"),
                    ("done", "noneEndEvent", None)]


def _credit_check(error: str) -> bytes:
    """A subprocess that ends with the error `error` declares, caught with its code and message variables."""
    return bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="check">
          <bpmn:startEvent id="in"/><bpmn:endEvent id="refuse"><bpmn:errorEventDefinition errorRef="credit"/>
          </bpmn:endEvent>""" + chain("in", "refuse") + """
        </bpmn:subProcess>
        <bpmn:boundaryEvent id="refused" attachedToRef="check">
          <bpmn:errorEventDefinition errorRef="credit" camunda:errorCodeVariable="code"
                                     camunda:errorMessageVariable="why"/></bpmn:boundaryEvent>
        <bpmn:userTask id="handle" name="${code}: ${why}"/><bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "check", "e") + chain("refused", "handle", "e2"), extra=error)


def test_an_errors_message_goes_to_the_catching_events_message_variable(engine: Engine, deploy) -> None:
    """`camunda:errorMessage` on `<bpmn:error>` (an expression, evaluated where the error is thrown) reaches the
    catching event's `camunda:errorMessageVariable`, beside the code in `camunda:errorCodeVariable`."""
    deploy(_credit_check('<bpmn:error id="credit" errorCode="CREDIT_FAIL" '
                         'camunda:errorMessage="No credit for ${customer}"/>'))
    instance = engine.instances.start("p", variables={"customer": "ACME"})
    [task] = engine.tasks.list(instance_id=instance.id)
    assert task.name == "CREDIT_FAIL: No credit for ACME"
    assert engine.instances.variables(instance.id)["why"] == "No credit for ACME"


def test_an_error_without_a_message_sets_the_message_variable_to_null(engine: Engine, deploy) -> None:
    """As Camunda: the catching event's `camunda:errorMessageVariable` is set (to null) when the error has no
    `camunda:errorMessage`; before, it was left unset and a text naming it failed ("Cannot resolve identifier")."""
    deploy(_credit_check('<bpmn:error id="credit" errorCode="CREDIT_FAIL"/>'))
    instance = engine.instances.start("p")
    [task] = engine.tasks.list(instance_id=instance.id)
    assert task.name == "CREDIT_FAIL: "  # JUEL writes null as nothing
    values = engine.instances.variables(instance.id)
    assert "why" in values and values["why"] is None


def _stock_watch(interrupting: bool) -> bytes:
    return bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="count"/><bpmn:userTask id="count_again"/><bpmn:endEvent id="e"/>
        """ + chain("s", "count", "count_again", "e") + f"""
        <bpmn:subProcess id="on_negative" triggeredByEvent="true">
          <bpmn:startEvent id="negative" isInterrupting="{str(interrupting).lower()}">
            <bpmn:conditionalEventDefinition camunda:variableName="stock">
              <bpmn:condition xsi:type="bpmn:tFormalExpression">${{stock &lt; 0}}</bpmn:condition>
            </bpmn:conditionalEventDefinition></bpmn:startEvent>
          <bpmn:userTask id="fix_stock"/><bpmn:endEvent id="fixed"/>""" + chain("negative", "fix_stock", "fixed") + """
        </bpmn:subProcess>""")


def test_an_event_subprocess_starts_when_its_condition_comes_to_hold(engine: Engine, deploy) -> None:
    """A conditional start event of an event subprocess (SpiffWorkflow never starts one): when a completion or a
    change of variables makes its condition true; an interrupting one cancels the rest of the process."""
    deploy(_stock_watch(interrupting=True))

    def open_tasks(instance_id: str) -> list[str]:
        return sorted(t.task_definition_key for t in engine.tasks.list(instance_id=instance_id))

    by_completion = engine.instances.start("p", variables={"stock": 3})
    assert open_tasks(by_completion.id) == ["count"]
    [count] = engine.tasks.list(instance_id=by_completion.id)
    engine.tasks.complete(count.id, {"stock": -3})
    assert open_tasks(by_completion.id) == ["fix_stock"]
    by_change = engine.instances.start("p")  # no stock yet: the condition is false, not an error
    engine.instances.set_variables(by_change.id, {"stock": -7})
    assert open_tasks(by_change.id) == ["fix_stock"]


def test_a_non_interrupting_conditional_event_subprocess_starts_each_time_its_condition_becomes_true(
        engine: Engine, deploy) -> None:
    deploy(_stock_watch(interrupting=False))
    instance = engine.instances.start("p", variables={"stock": 3})
    engine.instances.set_variables(instance.id, {"stock": -1})
    engine.instances.set_variables(instance.id, {"stock": -2})  # still true: no second start
    assert sorted(t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)) == ["count", "fix_stock"]
    engine.instances.set_variables(instance.id, {"stock": 5})
    engine.instances.set_variables(instance.id, {"stock": -4})  # true again
    assert sorted(t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)) == [
        "count", "fix_stock", "fix_stock"]


def _watching(attributes: str) -> bytes:
    return bpmn(f"""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:endEvent id="e"/>
        <bpmn:boundaryEvent id="big" attachedToRef="work" cancelActivity="false">
          <bpmn:conditionalEventDefinition {attributes}>
            <bpmn:condition xsi:type="bpmn:tFormalExpression">${{amount > 10}}</bpmn:condition>
          </bpmn:conditionalEventDefinition></bpmn:boundaryEvent>
        <bpmn:userTask id="review_big"/><bpmn:endEvent id="e2"/>""" + chain("s", "work", "e") + chain(
        "big", "review_big", "e2"))


def test_a_conditional_event_with_a_variable_name_looks_only_at_that_variables_changes(engine: Engine,
                                                                                       deploy) -> None:
    """`camunda:variableName`: only a change of that variable evaluates the condition again (it fired on any
    change); `camunda:variableEvents`: only changes of those kinds."""
    deploy(_watching('camunda:variableName="trigger"'))

    def open_keys(instance_id: str) -> list[str]:
        return sorted(t.task_definition_key for t in engine.tasks.list(instance_id=instance_id))

    instance = engine.instances.start("p", variables={"amount": 0, "trigger": 0})
    engine.instances.set_variables(instance.id, {"amount": 20})  # the condition holds, but trigger did not change
    assert open_keys(instance.id) == ["work"]
    engine.executor.runs.clear()  # what the event saw survives a reload
    engine.instances.set_variables(instance.id, {"trigger": 1})
    assert open_keys(instance.id) == ["review_big", "work"]

    deploy(_watching('camunda:variableName="trigger" camunda:variableEvents="create"'))
    created = engine.instances.start("p", variables={"amount": 20, "trigger": 0})
    assert open_keys(created.id) == ["review_big", "work"]  # evaluated as it starts to wait: true at once
    updated = engine.instances.start("p", variables={"amount": 0, "trigger": 0})
    engine.instances.set_variables(updated.id, {"amount": 20})
    engine.instances.set_variables(updated.id, {"trigger": 5})  # an update, not a create: not evaluated
    assert open_keys(updated.id) == ["work"]
    engine.instances.set_variables(updated.id, {}, remove=["trigger"])
    engine.instances.set_variables(updated.id, {"trigger": 6})  # created again
    assert open_keys(updated.id) == ["review_big", "work"]


def test_unknown_variable_events_are_refused_naming_the_element(engine: Engine) -> None:
    with pytest.raises(DefinitionError, match="camunda:variableEvents 'change' is not a variable event"):
        engine.definitions.deploy([("p.bpmn", _watching('camunda:variableEvents="update, change"'))])


def _archive_on_invoice(kind: str) -> bytes:
    """Camunda's order-handling example: a subprocess whose task's completion may set `invoiceId`, and an
    interrupting conditional boundary event on the subprocess that archives the invoice when it is set."""
    work = ('<bpmn:serviceTask id="create_invoice" camunda:type="external" camunda:topic="invoices"/>'
            if kind == "external" else '<bpmn:userTask id="create_invoice"/>')
    return bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="invoicing"><bpmn:startEvent id="ss"/>{work}<bpmn:endEvent id="se"/>
        """ + chain("ss", "create_invoice", "se") + """</bpmn:subProcess>
        <bpmn:boundaryEvent id="invoiced" attachedToRef="invoicing">
          <bpmn:conditionalEventDefinition><bpmn:condition xsi:type="bpmn:tFormalExpression">${invoiceId != null}</bpmn:condition></bpmn:conditionalEventDefinition>
        </bpmn:boundaryEvent>
        <bpmn:userTask id="archive"/><bpmn:endEvent id="archived"/><bpmn:endEvent id="e"/>
        """ + chain("s", "invoicing", "e") + chain("invoiced", "archive", "archived"))


@pytest.mark.parametrize("kind", ["external", "user"])
def test_variables_a_task_is_completed_with_fire_a_conditional_event_before_it_is_left(engine: Engine, deploy,
                                                                                      kind: str) -> None:
    # as Camunda sets them on the task's execution first: the boundary event interrupts the subprocess (an external
    # task's variables ended the subprocess instead, the event never firing)
    from engine.external_tasks import TopicRequest

    deploy(_archive_on_invoice(kind))
    for variables, after in (({"invoiceId": "INV-1"}, ["archive"]), ({"note": "none yet"}, [])):
        instance = engine.instances.start("p", variables={"invoiceId": None})
        if kind == "external":
            [task] = engine.external_tasks.fetch_and_lock("w1", 1, [TopicRequest("invoices", 60_000)])
            engine.external_tasks.complete(task["id"], "w1", variables)
        else:
            complete(engine, instance.id, "create_invoice", **variables)
        assert open_tasks(engine, instance.id) == after
        ended = {h.element_id for h in engine.instances.history(instance.id) if h.event == "cancelled"}
        assert ended == ({"invoicing", "create_invoice"} if after else set())
        assert state(engine, instance.id) == ("ACTIVE" if after else "COMPLETED")


def test_a_message_two_executions_of_one_instance_wait_for_is_refused_unless_correlated_to_all(
        engine: Engine, deploy) -> None:
    """As Camunda's `correlate()`: "Cannot correlate a message ... to a single execution" when two executions of
    one instance wait (here the two instances of a multi-instance subprocess); `correlateAll` reaches both."""
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="per_item">
          <bpmn:multiInstanceLoopCharacteristics camunda:collection="${items}" camunda:elementVariable="item"/>
          <bpmn:startEvent id="ss"/><bpmn:receiveTask id="confirmed" messageRef="msg"/><bpmn:endEvent id="se"/>
          """ + chain("ss", "confirmed", "se") + """
        </bpmn:subProcess>
        <bpmn:userTask id="ship"/>""" + chain("s", "per_item", "ship"), process_id="confirm_items",
        extra='<bpmn:message id="msg" name="item-confirmed"/>'), "confirm_items.bpmn")
    instance = engine.instances.start("confirm_items", business_key="B-1", variables={"items": ["a", "b"]})

    with pytest.raises(MismatchingCorrelation, match="to a single execution. 2 executions"):
        engine.messages.correlate("item-confirmed", business_key="B-1")
    assert open_tasks(engine, instance.id) == []
    [reached] = engine.messages.correlate("item-confirmed", business_key="B-1", all=True)
    assert reached.instance.id == instance.id
    assert open_tasks(engine, instance.id) == ["ship"]


def test_a_thrown_signal_carries_only_what_its_camunda_in_map(engine: Engine, deploy) -> None:
    """As Camunda's signal payload (`SignalEventPayloadTest`): nothing of the thrower's variables without
    `camunda:in`, the mapped names with it; SpiffWorkflow sent every variable of the thrower to every instance
    the signal woke or started."""
    signals = '<bpmn:signal id="plain" name="restocked"/><bpmn:signal id="mapped" name="price-changed"/>'
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>
        <bpmn:intermediateCatchEvent id="on_plain"><bpmn:signalEventDefinition signalRef="plain"/>
        </bpmn:intermediateCatchEvent><bpmn:userTask id="after_plain"/>
        <bpmn:intermediateCatchEvent id="on_mapped"><bpmn:signalEventDefinition signalRef="mapped"/>
        </bpmn:intermediateCatchEvent><bpmn:userTask id="after_mapped"/>"""
        + chain("s", "fork", "on_plain", "after_plain") + chain("fork", "on_mapped", "after_mapped"),
        process_id="listener", extra=signals), "listener.bpmn")
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:intermediateThrowEvent id="announce"><bpmn:signalEventDefinition signalRef="plain"/>
        </bpmn:intermediateThrowEvent>
        <bpmn:endEvent id="e"><bpmn:signalEventDefinition signalRef="mapped"><bpmn:extensionElements>
          <camunda:in source="price" target="newPrice"/>
          <camunda:in sourceExpression="${price * 2}" target="doublePrice"/>
        </bpmn:extensionElements></bpmn:signalEventDefinition></bpmn:endEvent>""" + chain("s", "announce", "e"),
        process_id="pricing", extra=signals), "pricing.bpmn")
    listener = engine.instances.start("listener")
    engine.instances.start("pricing", variables={"price": 21, "margin_secret": 0.4})

    assert sorted(open_tasks(engine, listener.id)) == ["after_mapped", "after_plain"]
    assert engine.instances.variables(listener.id) == {"newPrice": 21, "doublePrice": 42}
