"""`execution.processInstanceId` and its kin in a diagram's expressions, as Camunda evaluates them: in a task's
name, its assignee, an input parameter and a condition (they were refused at deploy, or deployed in a name and
failed at every start)."""

from __future__ import annotations

from engine.api import Engine
from tests.helpers import bpmn, chain


def test_a_diagram_reads_the_instance_and_activity_of_its_execution(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:exclusiveGateway id="gw" default="f_gw_never"/>
        <bpmn:userTask id="review" name="Review ${execution.processInstanceId}"
                       camunda:assignee="${execution.currentActivityId}">
          <bpmn:extensionElements><camunda:inputOutput>
            <camunda:inputParameter name="where">${execution.getProcessDefinitionId()}</camunda:inputParameter>
          </camunda:inputOutput></bpmn:extensionElements>
        </bpmn:userTask>
        <bpmn:userTask id="never"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "gw") + chain("review", "e")
                + '<bpmn:sequenceFlow id="f_gw_review" sourceRef="gw" targetRef="review">'
                  '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
                  '${execution.processInstanceId != null}</bpmn:conditionExpression></bpmn:sequenceFlow>'
                + '<bpmn:sequenceFlow id="f_gw_never" sourceRef="gw" targetRef="never"/>'))
    instance = engine.instances.start("p")
    [task] = engine.tasks.list(instance_id=instance.id)
    assert task.task_definition_key == "review"
    assert task.name == f"Review {instance.id}"
    assert task.assignee == "review"
    assert engine.tasks.variables(task.id)["where"] == instance.definition_id
    engine.tasks.complete(task.id, {})  # a later load knows them too
    assert engine.instances.get(instance.id).state == "COMPLETED"
