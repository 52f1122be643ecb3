"""Variables changed from outside stay changed when a waiting task moves on later (the pruned task tree must not give
the waiting task its start data back)."""

from __future__ import annotations

from engine.api import Engine
from tests.helpers import bpmn, chain

RECEIVE = bpmn("""<bpmn:startEvent id="s"/><bpmn:userTask id="ut"/>
    <bpmn:receiveTask id="wait" messageRef="m"/><bpmn:userTask id="after"/><bpmn:endEvent id="e"/>"""
               + chain("s", "ut", "wait", "after", "e"), extra='<bpmn:message id="m" name="go"/>', process_id="r")


def test_a_variable_set_or_removed_through_the_api_is_not_undone_by_a_later_message(engine: Engine, deploy) -> None:
    deploy(RECEIVE)
    instance = engine.instances.start("r", variables={"i": 5, "s": "a"})
    engine.instances.set_variables(instance.id, {"i": 6}, remove=["s"])
    [task] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(task.id, {})
    assert engine.instances.variables(instance.id) == {"i": 6}
    engine.messages.correlate("go", instance_id=instance.id)
    assert engine.instances.variables(instance.id) == {"i": 6}
    [after] = engine.tasks.list(instance_id=instance.id)
    assert engine.tasks.variables(after.id) == {"i": 6}


def test_a_variable_set_while_the_receive_task_waits_stays(engine: Engine, deploy) -> None:
    deploy(RECEIVE)
    instance = engine.instances.start("r", variables={"i": 5})
    [task] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(task.id, {"j": 1})
    engine.instances.set_variables(instance.id, {"i": 7})
    engine.messages.correlate("go", instance_id=instance.id)
    assert engine.instances.variables(instance.id) == {"i": 7, "j": 1}
