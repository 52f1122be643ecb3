"""Variables given when completing one instance of a multi-instance user task are process variables, as in
Camunda 7: the process goes on with them (the last completion's value wins). SpiffWorkflow alone kept only each
instance's output item and dropped the rest."""

from __future__ import annotations

import pytest

from engine.api import Engine
from tests.helpers import bpmn, chain


@pytest.mark.parametrize("sequential", ["false", "true"])
def test_what_each_approver_enters_reaches_the_process(engine: Engine, deploy, sequential: str) -> None:
    deploy(bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="approve" camunda:assignee="${{approver}}">
          <bpmn:multiInstanceLoopCharacteristics isSequential="{sequential}" camunda:collection="${{approvers}}"
                                                 camunda:elementVariable="approver"/>
        </bpmn:userTask>
        <bpmn:userTask id="summary" name="Read the approvals"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "approve", "summary", "e")))
    instance = engine.instances.start("p", variables={"approvers": ["ann", "bob"], "budget": 100})
    completed = []
    for _ in range(2):
        task = engine.tasks.list(instance_id=instance.id)[0]
        engine.tasks.complete(task.id, {"lastApprover": task.assignee, f"ok_{task.assignee}": True})
        completed.append(task.assignee)
    [summary] = engine.tasks.list(instance_id=instance.id)
    assert summary.task_definition_key == "summary"
    assert sorted(completed) == ["ann", "bob"]
    assert engine.instances.variables(instance.id) == {
        "approvers": ["ann", "bob"], "budget": 100, "lastApprover": completed[-1], "ok_ann": True, "ok_bob": True}
