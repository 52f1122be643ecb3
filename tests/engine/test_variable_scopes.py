"""A variable is written to the nearest scope that defines it, as in Camunda 7: a multi-instance activity's
instance keeps its element variable, an embedded subprocess its input parameters; other names are process
variables. (SpiffWorkflow gives each path a copy of the data, and Stageflow shares what a task writes with the
instance's other paths: before scopes were respected, `item=X` given by one instance reached every instance and the
process, and a subprocess's input parameter stayed a process variable once the subprocess had ended.)"""

from __future__ import annotations

import pytest

from engine.api import Engine
from tests.helpers import bpmn, chain

LOOP = ('<bpmn:multiInstanceLoopCharacteristics isSequential="{sequential}" camunda:collection="${{items}}" '
        'camunda:elementVariable="item"/>')


def _open(engine: Engine, instance_id: str, key: str = "work") -> list:
    return [t for t in engine.tasks.list(instance_id=instance_id) if t.task_definition_key == key]


def _work_through(engine: Engine, instance_id: str, first_variables: dict) -> list[tuple[str, str]]:
    """Complete the `work` tasks, the first with `first_variables`; (assignee, the `item` it saw) of each. Each
    sees the collection as it was."""
    seen = []
    variables = first_variables
    while tasks := _open(engine, instance_id):
        task = tasks[0]
        seen_by_task = engine.tasks.variables(task.id)
        assert seen_by_task["items"] == ["ann", "bob", "cy"]
        seen.append((task.assignee, seen_by_task["item"]))
        engine.tasks.complete(task.id, variables)
        variables = {}
    return seen


@pytest.mark.parametrize("sequential", ["false", "true"])
def test_an_instance_that_sets_its_element_variable_changes_only_its_own(engine: Engine, deploy,
                                                                        sequential: str) -> None:
    deploy(bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="work" camunda:assignee="${{item}}">{LOOP.format(sequential=sequential)}</bpmn:userTask>
        <bpmn:userTask id="after"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "work", "after", "e")))
    instance = engine.instances.start("p", variables={"items": ["ann", "bob", "cy"]})
    seen = _work_through(engine, instance.id, {"item": "X", "note": "seen"})
    assert sorted(seen) == [("ann", "ann"), ("bob", "bob"), ("cy", "cy")]  # no later instance saw X
    # the collection is not written back (SpiffWorkflow wrote X into it), and no `item` is left in the process
    assert engine.instances.variables(instance.id) == {"items": ["ann", "bob", "cy"], "note": "seen"}


@pytest.mark.parametrize("sequential", ["false", "true"])
def test_a_task_inside_a_multi_instance_subprocess_sets_its_instances_element_variable(engine: Engine, deploy,
                                                                                      sequential: str) -> None:
    deploy(bpmn(f"""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="sub">{LOOP.format(sequential=sequential)}
          <bpmn:startEvent id="ss"/><bpmn:userTask id="work" camunda:assignee="${{item}}"/>
          <bpmn:userTask id="check" camunda:assignee="${{item}}"/><bpmn:endEvent id="se"/>
          {chain("ss", "work", "check", "se")}
        </bpmn:subProcess>
        <bpmn:userTask id="after"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "sub", "after", "e")))
    instance = engine.instances.start("p", variables={"items": ["ann", "bob", "cy"]})
    first = _open(engine, instance.id)[0]
    engine.tasks.complete(first.id, {"item": "X", "note": "seen"})
    [check] = _open(engine, instance.id, "check")
    assert check.assignee == "X"  # the instance's own element variable changed
    assert "item" not in engine.instances.variables(instance.id)
    engine.tasks.complete(check.id, {})
    seen = []
    while tasks := [t for t in engine.tasks.list(instance_id=instance.id) if t.task_definition_key != "after"]:
        seen.append((tasks[0].assignee, engine.tasks.variables(tasks[0].id)["item"]))
        engine.tasks.complete(tasks[0].id, {})
    others = [name for name in ("ann", "bob", "cy") if name != first.assignee]
    assert sorted(seen) == sorted([(name, name) for name in others] * 2)  # work and check: their own items
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["after"]
    assert engine.instances.variables(instance.id) == {"items": ["ann", "bob", "cy"], "note": "seen"}


X_FROM_BASE = """<bpmn:extensionElements><camunda:inputOutput>
    <camunda:inputParameter name="x">${base}</camunda:inputParameter>
  </camunda:inputOutput></bpmn:extensionElements>"""


def _subprocess_beside_a_branch(inside: str, inputs: str = X_FROM_BASE) -> str:
    """A subprocess `sub` (with `inputs`, holding `inside`) and a user task `other` on parallel branches, then a
    user task `after`."""
    return f"""
        <bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>
        <bpmn:subProcess id="sub">{inputs}{inside}</bpmn:subProcess>
        <bpmn:userTask id="other"/><bpmn:parallelGateway id="join"/><bpmn:userTask id="after"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "fork", "sub", "join", "after", "e") + chain("fork", "other", "join")


SUBPROCESS_WITH_INPUT = _subprocess_beside_a_branch("""
    <bpmn:startEvent id="ss"/>
    <bpmn:scriptTask id="bump" scriptFormat="python"><bpmn:script>x = x + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="work"/><bpmn:endEvent id="se"/>""" + chain("ss", "bump", "work", "se"))


def test_a_subprocess_input_parameter_stays_in_the_subprocess(engine: Engine, deploy) -> None:
    deploy(bpmn(SUBPROCESS_WITH_INPUT))
    instance = engine.instances.start("p", variables={"base": 1, "x": 0})
    [work] = _open(engine, instance.id)
    assert engine.tasks.variables(work.id)["x"] == 2  # the script changed the subprocess's x
    assert engine.instances.variables(instance.id)["x"] == 0  # not the process's (the branch beside it)
    [other] = _open(engine, instance.id, "other")
    assert engine.tasks.variables(other.id)["x"] == 0
    engine.tasks.complete(work.id, {"x": 5, "y": 6})
    engine.tasks.complete(other.id, {})
    [after] = engine.tasks.list(instance_id=instance.id)
    assert after.task_definition_key == "after"
    assert engine.instances.variables(instance.id) == {"base": 1, "x": 0, "y": 6}


def test_a_process_variable_set_while_a_subprocess_hides_it_is_the_process_value_afterwards(
        engine: Engine, deploy) -> None:
    deploy(bpmn(SUBPROCESS_WITH_INPUT))
    instance = engine.instances.start("p", variables={"base": 1, "x": 0})
    engine.instances.set_variables(instance.id, {"x": 9})
    [work] = _open(engine, instance.id)
    assert engine.tasks.variables(work.id)["x"] == 2  # the subprocess still sees its own x
    engine.tasks.complete(work.id, {})
    engine.tasks.complete(_open(engine, instance.id, "other")[0].id, {})
    assert engine.instances.variables(instance.id) == {"base": 1, "x": 9}


def test_a_non_interrupting_branch_in_a_subprocess_writes_the_subprocess_variable(engine: Engine, deploy) -> None:
    """The branch's writes, merged into the instance when the branch ends, go to the scope that defines them."""
    deploy(bpmn(_subprocess_beside_a_branch("""
          <bpmn:startEvent id="ss"/><bpmn:userTask id="work"/><bpmn:endEvent id="se"/>
          <bpmn:boundaryEvent id="ping" attachedToRef="work" cancelActivity="false">
            <bpmn:messageEventDefinition messageRef="m"/>
          </bpmn:boundaryEvent>
          <bpmn:scriptTask id="bump" scriptFormat="python"><bpmn:script>x = x + 10
pinged = True</bpmn:script></bpmn:scriptTask>
          <bpmn:endEvent id="pe"/>""" + chain("ss", "work", "se") + chain("ping", "bump", "pe")),
                extra='<bpmn:message id="m" name="ping"/>'))
    instance = engine.instances.start("p", variables={"base": 1, "x": 0})
    engine.messages.correlate("ping", instance_id=instance.id)
    [work] = _open(engine, instance.id)
    assert engine.tasks.variables(work.id)["x"] == 11
    assert engine.instances.variables(instance.id) == {"base": 1, "x": 0, "pinged": True}
    engine.tasks.complete(work.id, {})
    engine.tasks.complete(_open(engine, instance.id, "other")[0].id, {})
    assert engine.instances.variables(instance.id) == {"base": 1, "x": 0, "pinged": True}


def test_a_multi_instance_call_activity_passes_its_instance_variables_with_variables_all(engine: Engine,
                                                                                        deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="inner" name="${item} ${loopCounter}/${nrOfInstances}"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "inner", "e"), process_id="callee"), "callee.bpmn")
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:callActivity id="call" calledElement="callee">
          <bpmn:extensionElements><camunda:in variables="all"/></bpmn:extensionElements>
          <bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="${items}"
                                                 camunda:elementVariable="item"/>
        </bpmn:callActivity>
        <bpmn:endEvent id="e"/>""" + chain("s", "call", "e"), process_id="caller"), "caller.bpmn")
    instance = engine.instances.start("caller", variables={"items": ["a", "b"]})
    names = []
    while tasks := engine.tasks.list(instance_id=instance.id):
        names.append(tasks[0].name)
        engine.tasks.complete(tasks[0].id, {})
    assert names == ["a 0/2", "b 1/2"]


def test_a_script_that_removes_a_variable_removes_it_from_the_instance_at_once(engine: Engine, deploy) -> None:
    """Inside a subprocess, beside a parallel branch: the variable is gone for the whole instance, not only on the
    script's path until the subprocess ends (or back again when the paths join)."""
    deploy(bpmn(_subprocess_beside_a_branch("""
          <bpmn:startEvent id="ss"/>
          <bpmn:scriptTask id="drop" scriptFormat="python"><bpmn:script>execution.removeVariable("base")
del scratch</bpmn:script></bpmn:scriptTask>
          <bpmn:userTask id="work"/><bpmn:endEvent id="se"/>""" + chain("ss", "drop", "work", "se"), inputs="")))
    instance = engine.instances.start("p", variables={"base": 10, "scratch": 1, "keep": 2})
    assert engine.instances.variables(instance.id) == {"keep": 2}
    other = _open(engine, instance.id, "other")[0]
    assert "base" not in engine.tasks.variables(other.id)
    engine.tasks.complete(other.id, {})
    engine.tasks.complete(_open(engine, instance.id)[0].id, {})
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["after"]
    assert engine.instances.variables(instance.id) == {"keep": 2}


def test_a_task_cancelled_when_its_multi_instance_activity_ends_early_is_credited_to_no_one(engine: Engine,
                                                                                              deploy) -> None:
    # with nrOfCompletedInstances >= 2, the second completion cancels the third task: the history named the person
    # who completed the second as the one who cancelled it ("cancelled ... by cid")
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="work" camunda:assignee="${item}">
          <bpmn:multiInstanceLoopCharacteristics isSequential="false" camunda:collection="${items}"
              camunda:elementVariable="item">
            <bpmn:completionCondition>${nrOfCompletedInstances >= 2}</bpmn:completionCondition>
          </bpmn:multiInstanceLoopCharacteristics>
        </bpmn:userTask>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "work", "after", "e")))
    instance = engine.instances.start("p", variables={"items": ["ann", "bob", "cid"]})
    for person in ("ann", "cid"):
        [task] = [t for t in _open(engine, instance.id) if t.assignee == person]
        engine.tasks.complete(task.id, {}, user=person)
    work = [(h.event, h.user_id) for h in engine.instances.history(instance.id) if h.element_id == "work"
            and h.element_type == "userTask" and h.event in ("completed", "cancelled")]
    assert sorted(work, key=str) == sorted([("completed", "ann"), ("completed", "cid"), ("cancelled", None)], key=str)
