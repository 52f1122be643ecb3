"""Variables given when completing one instance of a multi-instance user task are process variables, as in
Camunda 7: the process goes on with them (the last completion's value wins). SpiffWorkflow alone kept only each
instance's output item and dropped the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import ScriptError
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


CAMUNDA_MI = (Path(__file__).resolve().parents[2].parent / "shared" / "bpmn" / "camunda7-engine" / "multiinstance"
              / "MultiInstanceTest.testParallelUserTasksBasedOnCollection.bpmn20.xml")


@pytest.mark.parametrize("sequential", ["false", "true"])
def test_the_element_variable_is_each_instances_own(engine: Engine, deploy, sequential: str) -> None:
    """A process variable named like the element variable (`assignee`) neither stops the activity (SpiffWorkflow:
    "Multiinstance input item assignee already exists") nor shows the item as the instance's variable, and it is
    the process's value again after the activity, as in Camunda."""
    deploy(bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="review" camunda:assignee="${{assignee}}">
          <bpmn:multiInstanceLoopCharacteristics isSequential="{sequential}">
            <bpmn:loopDataInputRef>people</bpmn:loopDataInputRef><bpmn:inputDataItem name="assignee"/>
          </bpmn:multiInstanceLoopCharacteristics>
        </bpmn:userTask>
        <bpmn:userTask id="sign" camunda:assignee="${{assignee}}"/><bpmn:endEvent id="e"/>"""
                + chain("s", "review", "sign", "e"), process_id="mi"))
    instance = engine.instances.start("mi", variables={"assignee": "boss", "people": ["ann", "bob"]})
    reviewers = []
    while (tasks := engine.tasks.list(instance_id=instance.id))[0].task_definition_key == "review":
        assert engine.instances.variables(instance.id)["assignee"] == "boss"  # not the item of a running instance
        reviewers.append(tasks[0].assignee)
        engine.tasks.complete(tasks[0].id, {})
    assert sorted(reviewers) == ["ann", "bob"]
    [sign] = tasks
    assert sign.assignee == "boss"
    assert engine.instances.variables(instance.id)["assignee"] == "boss"


def test_camundas_collection_model_starts_beside_a_variable_of_the_items_name(engine: Engine, deploy) -> None:
    deploy(CAMUNDA_MI.read_bytes(), CAMUNDA_MI.name)
    instance = engine.instances.start("miParallelUserTasksBasedOnCollection",
                                      variables={"assignee": "boss", "assigneeList": ["kermit", "gonzo", "fozzie"]})
    assert sorted(t.assignee for t in engine.tasks.list(instance_id=instance.id)) == ["fozzie", "gonzo", "kermit"]


def _reviews(sequential: str) -> bytes:
    return bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="review" camunda:assignee="${{reviewer}}">
          <bpmn:multiInstanceLoopCharacteristics isSequential="{sequential}" camunda:collection="${{reviewers}}"
                                                 camunda:elementVariable="reviewer"/>
        </bpmn:userTask><bpmn:endEvent id="e"/>""" + chain("s", "review", "e"), process_id="reviews")


def _counted(sequential: str) -> bytes:
    return bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="check"><bpmn:multiInstanceLoopCharacteristics isSequential="{sequential}">
          <bpmn:loopCardinality>${{n}}</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
        </bpmn:userTask><bpmn:endEvent id="e"/>""" + chain("s", "check", "e"), process_id="counted")


@pytest.mark.parametrize("sequential", ["true", "false"])
@pytest.mark.parametrize(("value", "kind"), [("ann,bob", "a String ('ann,bob')"), ({"a": 1}, "a map")])
def test_a_collection_that_is_no_list_is_refused_naming_it(engine: Engine, deploy, sequential: str, value: object,
                                                            kind: str) -> None:
    # a text ran one instance per character (assigned to 'a', 'n', 'n', ','...), a map one per value: Camunda
    # needs a Collection
    deploy(_reviews(sequential))
    with pytest.raises(ScriptError) as err:
        engine.instances.start("reviews", variables={"reviewers": value})
    assert err.value.element_id == "review"
    assert f"the multi-instance collection 'reviewers' is {kind}: it must be a list" in err.value.message
    assert engine.instances.count() == 0


@pytest.mark.parametrize("sequential", ["true", "false"])
def test_a_loop_cardinality_is_a_whole_number_not_negative_and_each_start_reads_its_own(
        engine: Engine, deploy, sequential: str) -> None:
    """Camunda's message for a negative count (a sequential activity waited forever with no instance, a parallel one
    ran none); a text of a number counts as the number; and a start whose cardinality was a text no longer turned
    the activity into one over a collection named after the expression for every later start."""
    deploy(_counted(sequential))
    with pytest.raises(ScriptError) as negative:
        engine.instances.start("counted", variables={"n": -1})
    assert negative.value.element_id == "check"
    assert negative.value.message.endswith(
        "Invalid number of instances: must be a non-negative integer value, but was -1")
    with pytest.raises(ScriptError, match=r"the loop cardinality is 'two': it must be a whole number"):
        engine.instances.start("counted", variables={"n": "two"})
    for n in ("2", 3, "2", 0):
        started = engine.instances.start("counted", variables={"n": n})
        count = len(engine.tasks.list(instance_id=started.id))
        assert count == (min(int(n), 1) if sequential == "true" else int(n)), n
