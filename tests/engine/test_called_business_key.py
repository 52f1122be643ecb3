"""A called process has a business key of its own, as in Camunda 7: the one `camunda:in businessKey="..."` gives
it (evaluated in the caller), else none; `execution.processBusinessKey` inside it reads that, not the caller's."""

from __future__ import annotations

import pytest

from engine.api import Engine
from tests.helpers import bpmn, chain

CALLEE = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="inner" camunda:assignee="${execution.processBusinessKey}"/>
    <bpmn:endEvent id="e"/>""" + chain("s", "inner", "e"), process_id="callee")


def _caller(mapping: str) -> bytes:
    return bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:callActivity id="call" calledElement="callee">
          <bpmn:extensionElements>{mapping}</bpmn:extensionElements>
        </bpmn:callActivity>
        <bpmn:userTask id="after" camunda:assignee="${{execution.processBusinessKey}}"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "call", "after", "e"), process_id="caller")


@pytest.mark.parametrize(("mapping", "inner_key"), [
    ("", None),
    ('<camunda:in variables="all"/>', None),
    ('<camunda:in businessKey="#{execution.processBusinessKey}"/>', "order-1"),
    ('<camunda:in businessKey="${childKey}"/>', "kid-7"),
])
def test_the_called_process_sees_its_own_business_key(engine: Engine, deploy, mapping: str,
                                                      inner_key: str | None) -> None:
    deploy(CALLEE, "callee.bpmn")
    deploy(_caller(mapping), "caller.bpmn")
    instance = engine.instances.start("caller", business_key="order-1", variables={"childKey": "kid-7"})
    [inner] = engine.tasks.list(instance_id=instance.id)
    assert inner.task_definition_key == "inner"
    assert inner.assignee == inner_key
    engine.tasks.complete(inner.id, {})
    [after] = engine.tasks.list(instance_id=instance.id)
    assert after.assignee == "order-1"  # the caller's own key is unchanged
