"""A service or send task with `camunda:expression`, as Camunda runs it: the expression is evaluated when the task
runs, its value kept in `camunda:resultVariable` (a stub `${true}` just passes). One that calls Java code (a bean's
method) is refused at deploy, naming the element, as Java code is. (Every such task was refused before.)"""

from __future__ import annotations

import pytest

from engine.api import Engine
from engine.errors import DefinitionError, ScriptError
from tests.helpers import bpmn, chain


def _process(task: str) -> bytes:
    return bpmn(f"""<bpmn:startEvent id="s"/>{task}<bpmn:userTask id="check"/><bpmn:endEvent id="e"/>"""
                + chain("s", "calc", "check", "e"))


def test_an_expression_task_runs_and_keeps_its_result(engine: Engine, deploy) -> None:
    deploy(_process('<bpmn:serviceTask id="calc" camunda:expression="${amount * 2 > limit}" '
                    'camunda:resultVariable="large"/>'))
    instance = engine.instances.start("p", variables={"amount": 60, "limit": 100})
    assert engine.instances.variables(instance.id) == {"amount": 60, "limit": 100, "large": True}
    [step] = engine.history.activities(instance.id, activity_id="calc")
    assert step["activityType"] == "serviceTask"  # a service task in the history, as Camunda records it


@pytest.mark.parametrize("tag", ["serviceTask", "sendTask"])
def test_a_stub_expression_task_just_passes(engine: Engine, deploy, tag: str) -> None:
    deploy(_process(f'<bpmn:{tag} id="calc" camunda:expression="${{true}}"/>'))
    instance = engine.instances.start("p", variables={"x": 1})
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["check"]
    assert engine.instances.variables(instance.id) == {"x": 1}


def test_an_expression_calling_java_code_is_refused_naming_the_element(engine: Engine, deploy) -> None:
    with pytest.raises(DefinitionError) as err:
        deploy(_process('<bpmn:serviceTask id="calc" camunda:expression="${mailer.send(order)}"/>'))
    assert err.value.element_id == "calc"
    assert "camunda:expression (Java code) is not supported" in err.value.message


@pytest.mark.parametrize(("expression", "problem"), [
    ("${`amount`}", "unexpected character '`' at column 3"),
    ("${amount +}", "unexpected end of expression"),
])
def test_an_expression_with_a_syntax_error_is_refused_as_one(engine: Engine, deploy, expression: str,
                                                             problem: str) -> None:
    # it was refused as "Java code", which sent the designer to an external task for a typo
    with pytest.raises(DefinitionError) as err:
        deploy(_process(f'<bpmn:serviceTask id="calc" camunda:expression="{expression}"/>'))
    assert err.value.element_id == "calc" and problem in err.value.message
    assert "Java code" not in err.value.message


def test_an_expression_that_fails_is_an_error_at_the_task(engine: Engine, deploy) -> None:
    deploy(_process('<bpmn:serviceTask id="calc" camunda:expression="${orderService}"/>'))
    with pytest.raises(ScriptError) as err:
        engine.instances.start("p")
    assert err.value.element_id == "calc" and "orderService" in err.value.message


def test_an_escalation_boundary_event_on_a_service_task_is_refused_as_camunda_refuses_it(engine: Engine,
                                                                                       deploy) -> None:
    """Camunda's own parse test (EscalationEventParseInvalidProcessTest.invalidAttachement), whose `${true}` service
    task used to be refused for its expression alone."""
    with pytest.raises(DefinitionError) as err:
        deploy(_process('<bpmn:serviceTask id="calc" camunda:expression="${true}"/>'
                        '<bpmn:boundaryEvent id="esc" attachedToRef="calc"><bpmn:escalationEventDefinition/>'
                        '</bpmn:boundaryEvent>'))
    assert err.value.element_id == "esc"
    assert "escalation boundary event should only be attached to a subprocess, a call activity" in err.value.message
