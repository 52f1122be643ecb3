"""Gateway conditions compare as JUEL does (EL coercion), as in Camunda's reviewSalesLead example."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from engine.api import Engine
from engine.errors import ScriptError
from tests.helpers import bpmn, chain, flow

GATEWAY = bpmn("""
    <bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="enough"/>
    <bpmn:userTask id="ask_more"/><bpmn:userTask id="review"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
    """ + chain("s", "enough") + flow("enough", "ask_more", "${notEnoughInformation == 'true'}")
    + flow("enough", "review", "${notEnoughInformation != 'true'}") + chain("ask_more", "e1") + chain("review", "e2"))


@pytest.mark.parametrize(("value", "task"), [(True, "ask_more"), (False, "review"), ("true", "ask_more")])
def test_a_boolean_variable_matches_the_string_true(engine: Engine, deploy, value: object, task: str) -> None:
    deploy(GATEWAY)
    instance = engine.instances.start("p", variables={"notEnoughInformation": value})
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == [task]


def test_a_number_compares_with_a_numeric_string(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="size" default="f_small"/>
        <bpmn:userTask id="big"/><bpmn:userTask id="small"/>
        """ + chain("s", "size") + flow("size", "big", "${amount > 1000}")
        + flow("size", "small", flow_id="f_small")))
    big = engine.instances.start("p", variables={"amount": "1500"})  # a form sent the amount as text
    small = engine.instances.start("p", variables={"amount": "999"})
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=big.id)] == ["big"]
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=small.id)] == ["small"]


CAMUNDA_GATEWAY = (Path(__file__).resolve().parents[2].parent / "shared" / "bpmn" / "camunda7-engine" / "gateway"
                   / "ExclusiveGatewayTest.testDivergingExclusiveGateway.bpmn20.xml")


def test_a_failing_condition_is_reported_as_written_in_the_diagram(engine: Engine, deploy) -> None:
    """Camunda's own model, `${input == 1}`: the error shows that expression, never the engine's translation of it,
    and a variable that is not set is Camunda's "Unknown property" error (whatever its name: `input` is a Python
    builtin, `amount` is not)."""
    deploy(CAMUNDA_GATEWAY.read_bytes(), CAMUNDA_GATEWAY.name)
    with pytest.raises(ScriptError) as missing:
        engine.instances.start("exclusiveGwDiverging")
    assert missing.value.reason == ("Unknown property used in expression: ${input == 1}. "
                                    "Cause: Cannot resolve identifier 'input'")
    assert missing.value.element_id == "exclusiveGw"
    with pytest.raises(ScriptError) as text:
        engine.instances.start("exclusiveGwDiverging", variables={"input": "abc"})
    assert text.value.reason.startswith("Error evaluating expression '${input == 1}': ")
    assert "_sf_" not in text.value.reason
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="size" default="f_small"/>
        <bpmn:userTask id="big"/><bpmn:userTask id="small"/>
        """ + chain("s", "size") + flow("size", "big", "${amount > 1000}")
        + flow("size", "small", flow_id="f_small")))
    with pytest.raises(ScriptError, match=r"Unknown property used in expression: \$\{amount > 1000\}\. "
                                          r"Cause: Cannot resolve identifier 'amount'"):
        engine.instances.start("p")
    assert [t.task_definition_key for t in engine.tasks.list(
        instance_id=engine.instances.start("exclusiveGwDiverging", variables={"input": 2}).id)] == ["theTask2"]


def test_arithmetic_on_a_form_text_gives_a_long_as_camunda_does(engine: Engine, deploy) -> None:
    # ${qty * 2} with qty the text "3" was "33"; a whole result is a Long (Camunda's JUEL computes longs), and it
    # wraps past 64 bits as Java's does instead of keeping a number no Long holds
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="count" name="Count ${qty * 2}">
          <bpmn:extensionElements><camunda:inputOutput>
            <camunda:outputParameter name="double">${qty * 2}</camunda:outputParameter>
            <camunda:outputParameter name="square">${big * big}</camunda:outputParameter>
          </camunda:inputOutput></bpmn:extensionElements>
        </bpmn:userTask><bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "count", "after", "e")))
    instance = engine.instances.start("p", variables={"qty": "3", "big": 2**32})
    [task] = engine.tasks.list(instance_id=instance.id)
    assert task.name == "Count 6"
    engine.tasks.complete(task.id, {})
    with engine.db.read() as session:
        rows = dict(session.execute(text("SELECT name, type FROM variable WHERE name IN ('double', 'square')")).all())
    assert rows == {"double": "Long", "square": "Long"}
    assert {k: v for k, v in engine.instances.variables(instance.id).items() if k in ("double", "square")} == {
        "double": 6, "square": 0}


def test_a_condition_that_gives_no_boolean_stops_the_gateway_and_a_text_flag_reads_as_juel_reads_it(
        engine: Engine, deploy) -> None:
    # `${amount}` took its flow for any amount but 0 (Python's truth); Camunda refuses a non-Boolean result. And
    # `${!flag}` with the text "false" took the wrong flow: JUEL reads the text as a boolean
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="route" default="f_other"/>
        <bpmn:userTask id="chosen"/><bpmn:userTask id="other"/>
        """ + chain("s", "route") + flow("route", "chosen", "${amount}")
        + flow("route", "other", flow_id="f_other")), "amount.bpmn")
    with pytest.raises(ScriptError) as err:
        engine.instances.start("p", variables={"amount": 50})
    assert err.value.element_id == "route"
    assert err.value.reason == ("Error evaluating expression '${amount}': ValueError: condition expression returns "
                                "non-Boolean: result has class java.lang.Long and not java.lang.Boolean")
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="route" default="f_other"/>
        <bpmn:userTask id="chosen"/><bpmn:userTask id="other"/>
        """ + chain("s", "route") + flow("route", "chosen", "${!flag}")
        + flow("route", "other", flow_id="f_other")), "flag.bpmn")
    for value, task in (("false", "chosen"), ("true", "other"), (False, "chosen")):
        instance = engine.instances.start("p", variables={"flag": value})
        assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == [task], value
