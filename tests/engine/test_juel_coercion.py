"""Gateway conditions compare as JUEL does (EL coercion), as in Camunda's reviewSalesLead example."""

from __future__ import annotations

import pytest

from engine.api import Engine
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
