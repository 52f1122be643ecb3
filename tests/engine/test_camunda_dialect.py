"""Diagrams Camunda 7 runs as drawn, taken from its own engine test corpus: Stageflow runs them the same way."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import DefinitionError
from tests.helpers import BPMN_HEADER, bpmn, chain, flow


def open_tasks(engine: Engine, instance_id: str) -> list[str]:
    return sorted(t.task_definition_key for t in engine.tasks.list(instance_id=instance_id))


def complete(engine: Engine, instance_id: str, element_id: str, **variables) -> None:  # type: ignore[no-untyped-def]
    [task] = [t for t in engine.tasks.list(instance_id=instance_id) if t.task_definition_key == element_id]
    engine.tasks.complete(task.id, variables)


def state(engine: Engine, instance_id: str) -> str:
    return engine.instances.get(instance_id).state


# -- references -------------------------------------------------------------------------------------------------
def test_a_message_ref_prefixed_with_the_target_namespace_names_the_message(engine: Engine, deploy) -> None:
    content = BPMN_HEADER.replace('targetNamespace="http://stageflow.test"',
                                  'targetNamespace="http://stageflow.test" xmlns:tns="http://stageflow.test"')
    content += """<bpmn:message id="newInvoice" name="newInvoiceMessage"/>
      <bpmn:process id="p" isExecutable="true">
        <bpmn:startEvent id="s"/>
        <bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition messageRef="tns:newInvoice"/></bpmn:intermediateCatchEvent>
        <bpmn:userTask id="book"/><bpmn:endEvent id="e"/>
        """ + chain("s", "wait", "book", "e") + "</bpmn:process></bpmn:definitions>"
    deploy(content.encode())
    i = engine.instances.start("p")
    engine.messages.correlate("newInvoiceMessage", instance_id=i.id)
    assert open_tasks(engine, i.id) == ["book"]


def test_a_prefix_bound_to_another_namespace_names_nothing(engine: Engine, deploy) -> None:
    content = BPMN_HEADER.replace('targetNamespace="http://stageflow.test"',
                                  'targetNamespace="http://stageflow.test" xmlns:other="http://elsewhere.test"')
    content += """<bpmn:message id="newInvoice" name="newInvoiceMessage"/>
      <bpmn:process id="p" isExecutable="true">
        <bpmn:startEvent id="s"/>
        <bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition messageRef="other:newInvoice"/></bpmn:intermediateCatchEvent>
        <bpmn:endEvent id="e"/>""" + chain("s", "wait", "e") + "</bpmn:process></bpmn:definitions>"
    with pytest.raises(DefinitionError) as err:
        deploy(content.encode())
    assert err.value.element_id == "wait" and "messageRef 'other:newInvoice' names no message" in err.value.reason


def test_an_error_ref_that_names_no_error_element_is_the_error_code(engine: Engine, deploy) -> None:
    # BoundaryErrorEventTest.testCatchErrorOnEmbeddedSubprocess: no <error> element, errorRef="myError" on both.
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="sub">
          <bpmn:startEvent id="ss"/><bpmn:userTask id="work"/>
          <bpmn:endEvent id="fail"><bpmn:errorEventDefinition errorRef="myError"/></bpmn:endEvent>
          """ + chain("ss", "work", "fail") + """
        </bpmn:subProcess>
        <bpmn:boundaryEvent id="caught" attachedToRef="sub"><bpmn:errorEventDefinition errorRef="myError"/></bpmn:boundaryEvent>
        <bpmn:boundaryEvent id="other" attachedToRef="sub"><bpmn:errorEventDefinition errorRef="otherError"/></bpmn:boundaryEvent>
        <bpmn:userTask id="after_error"/><bpmn:userTask id="after_other"/><bpmn:endEvent id="e"/>
        <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "sub", "e") + chain("caught", "after_error", "e1") + chain("other", "after_other", "e2")))
    i = engine.instances.start("p")
    complete(engine, i.id, "work")
    assert open_tasks(engine, i.id) == ["after_error"]


def test_a_message_throw_event_naming_no_message_passes_through(engine: Engine, deploy) -> None:
    # ExclusiveThrowEventTest: Camunda runs a message throw event without Java code as a none event.
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:intermediateThrowEvent id="throw"><bpmn:messageEventDefinition messageRef="testMessage1"/></bpmn:intermediateThrowEvent>
        <bpmn:exclusiveGateway id="ok" default="f_no"/><bpmn:userTask id="yes"/><bpmn:endEvent id="e"/>"""
        + chain("s", "throw", "ok") + flow("ok", "yes", "${approved && amount > 10}") + flow("ok", "e", flow_id="f_no")
        + chain("yes", "e")))
    assert open_tasks(engine, engine.instances.start("p", variables={"approved": True, "amount": 20}).id) == ["yes"]
    assert state(engine, engine.instances.start("p", variables={"approved": False, "amount": 20}).id) == "COMPLETED"


# -- implicit end -----------------------------------------------------------------------------------------------
def test_an_element_with_no_outgoing_flow_ends_its_path(engine: Engine, deploy) -> None:
    # ParallelGatewayTest.testCompletingJoin: one branch simply stops after its task.
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>
        <bpmn:userTask id="a"/><bpmn:userTask id="b"/><bpmn:endEvent id="e"/>
        """ + chain("s", "fork") + flow("fork", "a") + flow("fork", "b") + chain("b", "e")))
    i = engine.instances.start("p")
    complete(engine, i.id, "a")
    assert state(engine, i.id) == "ACTIVE" and open_tasks(engine, i.id) == ["b"]
    complete(engine, i.id, "b")
    assert state(engine, i.id) == "COMPLETED"
    assert [h.element_id for h in engine.instances.history(i.id) if h.element_id.startswith("sf_")] == []


def test_a_subprocess_without_an_end_event_completes_after_its_last_task(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="sub"><bpmn:startEvent id="ss"/><bpmn:userTask id="inner"/>""" + chain("ss", "inner")
        + """</bpmn:subProcess>
        <bpmn:userTask id="after"/>""" + chain("s", "sub", "after")))
    i = engine.instances.start("p")
    complete(engine, i.id, "inner")
    assert open_tasks(engine, i.id) == ["after"]
    complete(engine, i.id, "after")
    assert state(engine, i.id) == "COMPLETED"


# -- service and send tasks -------------------------------------------------------------------------------------
@pytest.mark.parametrize("tag, kind", [("serviceTask", "shell"), ("sendTask", "shell"), ("serviceTask", "mule")])
def test_a_camunda_connector_type_is_refused_rather_than_waiting_for_ever(engine: Engine, deploy, tag: str,
                                                                          kind: str) -> None:
    # ShellTaskTest: Camunda's shell task runs a command on its host; nothing here would run it. (Mail tasks run:
    # tests/engine/test_camunda_dialect_more.py.)
    content = bpmn(f'<bpmn:startEvent id="s"/><bpmn:{tag} id="send" camunda:type="{kind}"/><bpmn:endEvent id="e"/>'
                   + chain("s", "send", "e"))
    with pytest.raises(DefinitionError) as err:
        deploy(content)
    assert err.value.element_id == "send" and err.value.line == 4
    assert f'camunda:type="{kind}" is not supported' in err.value.reason
    assert 'camunda:type="external"' in err.value.reason and "camunda:topic" in err.value.reason
    assert engine.definitions.list() == []


def test_a_service_task_without_implementation_is_refused(engine: Engine, deploy) -> None:
    content = bpmn('<bpmn:startEvent id="s"/><bpmn:sendTask id="send"/><bpmn:endEvent id="e"/>'
                   + chain("s", "send", "e"))
    with pytest.raises(DefinitionError) as err:
        deploy(content)
    assert err.value.element_id == "send" and "needs an implementation" in err.value.reason


# -- multi-instance built-in variables ---------------------------------------------------------------------------
def test_multi_instance_variables_drive_the_completion_condition_and_assignees(engine: Engine, deploy) -> None:
    # MultiInstanceTest.testParallelUserTasksCompletionCondition (with the assignees of testParallelUserTasks).
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="review" camunda:assignee="kermit_${loopCounter}">
          <bpmn:multiInstanceLoopCharacteristics isSequential="false">
            <bpmn:loopCardinality>4</bpmn:loopCardinality>
            <bpmn:completionCondition>${nrOfCompletedInstances / nrOfInstances &gt;= 0.5}</bpmn:completionCondition>
          </bpmn:multiInstanceLoopCharacteristics>
        </bpmn:userTask>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "review", "after", "e")))
    i = engine.instances.start("p")
    tasks = engine.tasks.list(instance_id=i.id)
    assert sorted(t.assignee for t in tasks) == ["kermit_0", "kermit_1", "kermit_2", "kermit_3"]
    engine.tasks.complete(tasks[0].id, {})
    assert len(engine.tasks.list(instance_id=i.id)) == 3
    engine.tasks.complete(tasks[1].id, {})
    assert open_tasks(engine, i.id) == ["after"]  # 2 of 4 done: the other two are cancelled
    assert not {"loopCounter", "nrOfInstances", "nrOfCompletedInstances"} & set(engine.instances.variables(i.id))


def test_a_script_in_a_sequential_multi_instance_subprocess_sees_the_counters(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="round">
          <bpmn:multiInstanceLoopCharacteristics isSequential="true"><bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
          <bpmn:startEvent id="rs"/>
          <bpmn:scriptTask id="note"><bpmn:script>seen = (seen or []) + [(loopCounter, nrOfInstances, nrOfActiveInstances, nrOfCompletedInstances)]</bpmn:script></bpmn:scriptTask>
          <bpmn:endEvent id="re"/>""" + chain("rs", "note", "re") + """
        </bpmn:subProcess>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "round", "after", "e")))
    i = engine.instances.start("p", variables={"seen": None})
    assert open_tasks(engine, i.id) == ["after"]
    variables = engine.instances.variables(i.id)
    assert variables["seen"] == [[0, 3, 1, 0], [1, 3, 1, 1], [2, 3, 1, 2]]
    assert "loopCounter" not in variables


# -- errors at run time ------------------------------------------------------------------------------------------
def test_a_missing_multi_instance_collection_is_an_error_naming_instance_and_element(engine: Engine,
                                                                                     deploy) -> None:
    # MultiInstanceTest.testNestedMultiInstanceTasks started without its collection: SpiffWorkflow raised a bare
    # TypeError ("'NoneType' object is not iterable") naming nothing.
    from engine.errors import ScriptError

    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="first"/>
        <bpmn:userTask id="sign">
          <bpmn:multiInstanceLoopCharacteristics camunda:collection="signers" camunda:elementVariable="signer"/>
        </bpmn:userTask><bpmn:endEvent id="e"/>""" + chain("s", "first", "sign", "e")))
    i = engine.instances.start("p")
    with pytest.raises(ScriptError) as err:
        complete(engine, i.id, "first")
    assert err.value.instance_id == i.id and err.value.element_id == "sign"
    assert "multi-instance collection 'signers' is not set" in err.value.reason
    assert open_tasks(engine, i.id) == ["first"]  # nothing of the failed step was kept


def test_an_element_with_the_id_of_an_engine_internal_runs_under_its_own_id(engine: Engine, deploy) -> None:
    # ParallelGatewayTest.testNestedForkJoin names its start event "Start": SpiffWorkflow's own start task's name.
    deploy(bpmn('<bpmn:startEvent id="Start"/><bpmn:userTask id="End"/><bpmn:endEvent id="Root"/>'
                + chain("Start", "End", "Root")))
    i = engine.instances.start("p")
    assert open_tasks(engine, i.id) == ["End"]
    complete(engine, i.id, "End")
    assert state(engine, i.id) == "COMPLETED"
    assert [h.element_id for h in engine.instances.history(i.id) if h.element_type != "process"] == [
        "Start", "End", "Root"]


# -- uncontrolled flow ---------------------------------------------------------------------------------------------
def test_a_task_with_two_outgoing_flows_takes_both(engine: Engine, deploy) -> None:
    # SequenceFlowTest.testTakeAllOutgoingFlowsFromNonScopeTask: no gateway, both paths run.
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/><bpmn:userTask id="a"/><bpmn:userTask id="b"/>
        <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>""" + chain("s", "work", "a", "e1") + chain("work", "b", "e2")))
    i = engine.instances.start("p")
    complete(engine, i.id, "work")
    assert open_tasks(engine, i.id) == ["a", "b"]
    complete(engine, i.id, "a")
    complete(engine, i.id, "b")
    assert state(engine, i.id) == "COMPLETED"
    assert not [h for h in engine.instances.history(i.id) if h.element_id.startswith("sf_")]


def test_conditions_on_flows_leaving_a_task_choose_the_paths(engine: Engine, deploy) -> None:
    # ConditionalSequenceFlowTest / DefaultSequenceFlowTest.testDefaultSequenceFlowOnTask.
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:scriptTask id="check" default="f_other"><bpmn:script>checked = True</bpmn:script></bpmn:scriptTask>
        <bpmn:userTask id="big"/><bpmn:userTask id="small"/><bpmn:userTask id="other"/><bpmn:userTask id="always"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "check") + flow("check", "big", "${amount > 100}")
        + flow("check", "small", "${amount < 10}") + flow("check", "other", flow_id="f_other")
        + flow("check", "always") + chain("big", "e") + chain("small", "e") + chain("other", "e")
        + chain("always", "e")))
    assert open_tasks(engine, engine.instances.start("p", variables={"amount": 500}).id) == ["always", "big"]
    assert open_tasks(engine, engine.instances.start("p", variables={"amount": 50}).id) == ["always"]


def test_conditions_on_flows_leaving_a_task_that_all_fail_are_an_error_naming_it(engine: Engine, deploy) -> None:
    from engine.errors import ScriptError

    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="big"/><bpmn:endEvent id="e"/>""" + flow("s", "big", "${amount > 100}")
        + chain("big", "e")))
    with pytest.raises(ScriptError) as err:
        engine.instances.start("p", variables={"amount": 5})
    assert err.value.element_id == "s"
    assert err.value.reason == ("No conditional sequence flow leaving the Flow Node 's' could be selected for "
                                "continuing the process: no condition holds and there is no default flow")  # Camunda's


def test_a_gateway_flow_without_a_condition_counts_as_true(engine: Engine, deploy) -> None:
    # InclusiveGatewayTest.testNoIdOnSequenceFlow / testJoinAfterCall: Camunda takes a conditionless flow.
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:inclusiveGateway id="fork"/>
        <bpmn:userTask id="a"/><bpmn:userTask id="b"/><bpmn:endEvent id="e"/>""" + chain("s", "fork")
        + flow("fork", "a", "${pick == 'a'}") + flow("fork", "b") + chain("a", "e") + chain("b", "e")))
    assert open_tasks(engine, engine.instances.start("p", variables={"pick": "a"}).id) == ["a", "b"]
    assert open_tasks(engine, engine.instances.start("p", variables={"pick": "x"}).id) == ["b"]


def test_an_error_in_one_instance_of_a_multi_instance_subprocess_interrupts_them_all(engine: Engine, deploy) -> None:
    # BoundaryErrorEventTest.testCatchErrorThrownByMultiInstanceSubProcessSetsErrorCodeVariable: SpiffWorkflow went
    # on stepping the instances the boundary event had removed ("A task with id ... was not found").
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="check">
          <bpmn:multiInstanceLoopCharacteristics isSequential="false"><bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
          <bpmn:startEvent id="cs"/><bpmn:exclusiveGateway id="bad" default="f_fine"/>
          <bpmn:endEvent id="fail"><bpmn:errorEventDefinition errorRef="broken"/></bpmn:endEvent>
          <bpmn:userTask id="inspect"/><bpmn:endEvent id="ce"/>
          """ + chain("cs", "bad") + flow("bad", "fail", "${loopCounter == 1}") + flow("bad", "inspect", flow_id="f_fine")
        + chain("inspect", "ce") + """
        </bpmn:subProcess>
        <bpmn:boundaryEvent id="caught" attachedToRef="check"><bpmn:errorEventDefinition errorRef="broken"/></bpmn:boundaryEvent>
        <bpmn:userTask id="repair"/><bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "check", "e") + chain("caught", "repair", "e2")))
    i = engine.instances.start("p")
    assert open_tasks(engine, i.id) == ["repair"]
    complete(engine, i.id, "repair")
    assert state(engine, i.id) == "COMPLETED"


# -- conditional events ----------------------------------------------------------------------------------------
def conditional(tag: str, attributes: str, condition: str) -> str:
    """A catching event of `tag` with a conditional event definition."""
    return (f'<bpmn:{tag} {attributes}><bpmn:conditionalEventDefinition><bpmn:condition>{condition}'
            f'</bpmn:condition></bpmn:conditionalEventDefinition></bpmn:{tag}>')


def test_a_conditional_event_on_a_variable_not_set_yet_waits_for_it(engine: Engine, deploy) -> None:
    # IntermediateConditionalEventTest.testVariableValue: Camunda evaluates with tryEvaluate (a missing variable
    # is false); setting the variable fires the event.
    deploy(bpmn('<bpmn:startEvent id="s"/>' + conditional("intermediateCatchEvent", 'id="ready"', "${variable == 1}")
                + '<bpmn:userTask id="go"/><bpmn:endEvent id="e"/>' + chain("s", "ready", "go", "e")))
    i = engine.instances.start("p")
    assert state(engine, i.id) == "ACTIVE" and open_tasks(engine, i.id) == []
    engine.instances.set_variables(i.id, {"variable": 2})
    assert open_tasks(engine, i.id) == []
    engine.instances.set_variables(i.id, {"variable": 1})
    assert open_tasks(engine, i.id) == ["go"]


def test_an_interrupting_conditional_boundary_event_fires_when_its_variable_is_set(engine: Engine, deploy) -> None:
    # BoundaryConditionalEventTest.testVariableCondition.
    deploy(bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="work"/>'
                + conditional("boundaryEvent", 'id="cancelled" attachedToRef="work"', "${cancel == true}")
                + '<bpmn:userTask id="clean_up"/><bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>'
                + chain("s", "work", "e") + chain("cancelled", "clean_up", "e2")))
    i = engine.instances.start("p")
    assert open_tasks(engine, i.id) == ["work"]
    engine.instances.set_variables(i.id, {"cancel": True})
    assert open_tasks(engine, i.id) == ["clean_up"]


def test_a_multi_instance_over_a_loop_data_input_ref_runs_once_per_item(engine: Engine, deploy) -> None:
    # MultiInstanceTest.testParallelUserTasksBasedOnCollection: BPMN's loopDataInputRef and inputDataItem.
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="review" camunda:assignee="${assignee}">
          <bpmn:multiInstanceLoopCharacteristics isSequential="false">
            <bpmn:loopDataInputRef>assigneeList</bpmn:loopDataInputRef>
            <bpmn:inputDataItem name="assignee"/>
            <bpmn:completionCondition>${nrOfCompletedInstances/nrOfInstances &gt;= 0.6 }</bpmn:completionCondition>
          </bpmn:multiInstanceLoopCharacteristics>
        </bpmn:userTask><bpmn:endEvent id="e"/>""" + chain("s", "review", "e")))
    i = engine.instances.start("p", variables={"assigneeList": ["kermit", "gonzo", "fozzie"]})
    tasks = sorted(engine.tasks.list(instance_id=i.id), key=lambda t: t.assignee or "")
    assert [t.assignee for t in tasks] == ["fozzie", "gonzo", "kermit"]
    engine.tasks.complete(tasks[0].id, {})
    assert state(engine, i.id) == "ACTIVE"
    engine.tasks.complete(tasks[1].id, {})
    assert state(engine, i.id) == "COMPLETED"


def test_a_join_of_branches_from_two_forks_waits_for_all_of_them(engine: Engine, deploy) -> None:
    # ParallelGatewayTest.testUnstructuredConcurrencyTwoForks: pruning the finished part of the task tree dropped
    # the join's earlier arrivals, and the join then waited for ever.
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork1"/><bpmn:parallelGateway id="fork2"/>
        <bpmn:userTask id="t1"/><bpmn:userTask id="t2"/><bpmn:userTask id="t3"/><bpmn:userTask id="t4"/>
        <bpmn:parallelGateway id="join"/><bpmn:userTask id="after"/><bpmn:endEvent id="e"/>"""
        + chain("s", "fork1") + flow("fork1", "t1") + flow("fork1", "t2") + flow("fork1", "fork2")
        + flow("fork2", "t3") + flow("fork2", "t4") + "".join(flow(t, "join") for t in ("t1", "t2", "t3", "t4"))
        + chain("join", "after", "e")))
    i = engine.instances.start("p")
    for task in ("t1", "t2", "t3"):
        complete(engine, i.id, task)
        assert open_tasks(engine, i.id) != ["after"]
    complete(engine, i.id, "t4")
    assert open_tasks(engine, i.id) == ["after"]


def nested_sla(interrupting: bool) -> bytes:
    flag = "true" if interrupting else "false"
    return bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="case">
          <bpmn:startEvent id="cs"/><bpmn:userTask id="work"/><bpmn:endEvent id="ce"/>""" + chain("cs", "work", "ce")
        + f"""
          <bpmn:subProcess id="sla" triggeredByEvent="true">
            <bpmn:startEvent id="late" isInterrupting="{flag}"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>
            <bpmn:userTask id="escalate"/><bpmn:endEvent id="le"/>""" + chain("late", "escalate", "le") + """
          </bpmn:subProcess>
        </bpmn:subProcess>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "case", "after", "e"))


def test_a_subprocess_ends_when_its_work_ends_before_its_event_subprocess_timer(engine: Engine, deploy) -> None:
    # SignalEventTest.testThrownSignalInEventSubprocessInSubprocess: the waiting timer kept the subprocess open.
    deploy(nested_sla(interrupting=False))
    i = engine.instances.start("p")
    complete(engine, i.id, "work")
    assert open_tasks(engine, i.id) == ["after"]
    assert engine.jobs.list(instance_id=i.id) == []


def test_an_interrupting_event_subprocess_timer_in_a_subprocess_replaces_its_work(engine: Engine, deploy,
                                                                                 clock) -> None:
    deploy(nested_sla(interrupting=True))
    i = engine.instances.start("p")
    clock.advance(hours=1, seconds=1)
    assert engine.jobs.execute_due() == 1
    assert open_tasks(engine, i.id) == ["escalate"]
    complete(engine, i.id, "escalate")
    assert open_tasks(engine, i.id) == ["after"]


# -- the Activiti namespace ----------------------------------------------------------------------------------------
def activiti(body: str) -> bytes:
    return bpmn(body).replace(b'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"',
                              b'xmlns:camunda="http://activiti.org/bpmn"')


def test_the_activiti_namespace_reads_as_camundas(engine: Engine, deploy) -> None:
    # ErrorEventSubProcessTest.testThrowErrorInLoop declares xmlns:camunda="http://activiti.org/bpmn": its
    # camunda:class went unseen and the service task "ran".
    deploy(activiti('<bpmn:startEvent id="s"/><bpmn:userTask id="review" camunda:assignee="mary"/>'
                    '<bpmn:endEvent id="e"/>' + chain("s", "review", "e")))
    [task] = engine.tasks.list(instance_id=engine.instances.start("p").id)
    assert task.assignee == "mary"
    with pytest.raises(DefinitionError) as err:
        deploy(activiti('<bpmn:startEvent id="s"/><bpmn:serviceTask id="call" camunda:class="x.Y"/>'
                        '<bpmn:endEvent id="e"/>' + chain("s", "call", "e")), "other.bpmn")
    assert err.value.element_id == "call" and "camunda:class (Java code)" in err.value.reason


# -- receive tasks -------------------------------------------------------------------------------------------------
def test_a_receive_task_without_a_message_waits_until_it_is_triggered(engine: Engine, deploy) -> None:
    # ReceiveTaskTest.testWaitStateBehavior: Camunda waits there until runtimeService.signal; SpiffWorkflow
    # passed straight through. Here the trigger is a message named after the task, correlated to the instance.
    deploy(bpmn('<bpmn:startEvent id="s"/><bpmn:receiveTask id="waitState"/><bpmn:userTask id="after"/>'
                '<bpmn:endEvent id="e"/>' + chain("s", "waitState", "after", "e")))
    i = engine.instances.start("p")
    other = engine.instances.start("p")
    assert state(engine, i.id) == "ACTIVE" and open_tasks(engine, i.id) == []
    assert engine.instances.state(i.id).subscriptions == [
        {"eventType": "message", "eventName": "waitState", "activityId": "waitState"}]
    engine.messages.correlate("waitState", instance_id=i.id)
    assert open_tasks(engine, i.id) == ["after"]
    assert open_tasks(engine, other.id) == []  # only the instance it was correlated to moves


# -- cron timer cycles ---------------------------------------------------------------------------------------------
def test_a_cron_cycle_on_a_boundary_timer_fires_on_the_days_it_names(engine: Engine, deploy, clock) -> None:
    # IntermediateTimerEventTest.testTimeCycle and BoundaryTimerEventTest: Camunda takes Quartz cron cycles.
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:userTask id="work"/>
        <bpmn:boundaryEvent id="nag" attachedToRef="work" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>0 0 9 ? * MON-FRI</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:userTask id="reminder"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
        """ + chain("s", "work", "e1") + chain("nag", "reminder", "e2")))
    assert clock.now().strftime("%a %H:%M") == "Mon 09:00"
    i = engine.instances.start("p")
    dues = []
    for _ in range(5):
        [job] = engine.jobs.list(instance_id=i.id)
        dues.append(job["dueDate"][:16])
        clock.set(datetime.fromisoformat(job["dueDate"]) + timedelta(seconds=1))
        assert engine.jobs.execute_due() == 1
    assert dues == ["2026-01-06T09:00", "2026-01-07T09:00", "2026-01-08T09:00", "2026-01-09T09:00",
                    "2026-01-12T09:00"]  # Friday's firing is followed by Monday's, not Saturday's
    assert open_tasks(engine, i.id) == ["reminder"] * 5 + ["work"]


def test_a_cron_cycle_on_a_timer_start_event_starts_an_instance_each_time(engine: Engine, deploy, clock) -> None:
    deploy(bpmn('<bpmn:startEvent id="tick"><bpmn:timerEventDefinition><bpmn:timeCycle>0 0/5 * * * ?'
                '</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent><bpmn:userTask id="check"/>'
                '<bpmn:endEvent id="e"/>' + chain("tick", "check", "e")))
    [job] = engine.jobs.list()
    assert job["jobType"] == "timer-start" and job["dueDate"][:16] == "2026-01-05T09:05"
    clock.advance(minutes=5, seconds=1)
    assert engine.jobs.execute_due() == 1
    assert len(engine.instances.list(definition_key="p")) == 1
    [job] = engine.jobs.list()  # the instance keeps no timer of its own start event
    assert job["jobType"] == "timer-start" and job["dueDate"][:16] == "2026-01-05T09:10"


def test_a_cycle_on_an_intermediate_timer_fires_once(engine: Engine, deploy, clock) -> None:
    # IntermediateTimerEventTest.testTimeCycle: the token moves on at the first firing; SpiffWorkflow fired the
    # event again every five minutes, each time sending another token down the flow.
    deploy(bpmn('<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="timer"><bpmn:timerEventDefinition>'
                '<bpmn:timeCycle>0 0/5 * * * ?</bpmn:timeCycle></bpmn:timerEventDefinition>'
                '</bpmn:intermediateCatchEvent><bpmn:userTask id="task"/><bpmn:endEvent id="e"/>'
                + chain("s", "timer", "task", "e")))
    i = engine.instances.start("p")
    [job] = engine.jobs.list(instance_id=i.id)
    assert job["dueDate"][:16] == "2026-01-05T09:05"
    clock.advance(minutes=5, seconds=1)
    assert engine.jobs.execute_due() == 1
    assert open_tasks(engine, i.id) == ["task"] and engine.jobs.list(instance_id=i.id) == []
    clock.advance(minutes=5)
    assert engine.jobs.execute_due() == 0
    complete(engine, i.id, "task")
    assert state(engine, i.id) == "COMPLETED"


@pytest.mark.parametrize("cycle", ["0 0 9 L * ?", "0 61 * * * ?"])
def test_a_cron_cycle_stageflow_cannot_run_is_refused_naming_the_event(engine: Engine, deploy, cycle: str) -> None:
    with pytest.raises(DefinitionError) as err:
        deploy(bpmn('<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
                    f'<bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition>'
                    '</bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>' + chain("s", "wait", "e")))
    assert err.value.element_id == "wait" and f"cron expression '{cycle}'" in err.value.reason


# -- camunda:inputOutput -------------------------------------------------------------------------------------------
def io_task(parameters: str, task: str = "userTask") -> bytes:
    return bpmn(f'<bpmn:startEvent id="s"/><bpmn:{task} id="review" camunda:assignee="${{reviewer}}">'
                f'<bpmn:extensionElements><camunda:inputOutput>{parameters}</camunda:inputOutput>'
                f'</bpmn:extensionElements></bpmn:{task}><bpmn:userTask id="after"/><bpmn:endEvent id="e"/>'
                + chain("s", "review", "after", "e"))


def test_input_parameters_are_the_tasks_own_variables(engine: Engine, deploy) -> None:
    # InputOutputTest.testInputElValue, testInputListElValues, testInputMapElValues: Stageflow used to ignore them.
    deploy(io_task('<camunda:inputParameter name="reviewer">${owner}</camunda:inputParameter>'
                   '<camunda:inputParameter name="amount">${amount * 2}</camunda:inputParameter>'
                   '<camunda:inputParameter name="tags"><camunda:list><camunda:value>a</camunda:value>'
                   '<camunda:value>${owner}</camunda:value></camunda:list></camunda:inputParameter>'
                   '<camunda:inputParameter name="limits"><camunda:map><camunda:entry key="max">${amount}'
                   '</camunda:entry></camunda:map></camunda:inputParameter>'
                   '<camunda:outputParameter name="doubled">${amount}</camunda:outputParameter>'))
    i = engine.instances.start("p", variables={"owner": "mary", "amount": 5})
    [task] = engine.tasks.list(instance_id=i.id)
    assert task.assignee == "mary"  # the input parameter, read by the task's own assignee expression
    complete(engine, i.id, "review", note="ok")
    assert engine.instances.variables(i.id) == {"owner": "mary", "amount": 5, "note": "ok", "doubled": 10}


def test_an_input_parameter_hides_the_outer_variable_only_inside_the_task(engine: Engine, deploy) -> None:
    deploy(io_task('<camunda:inputParameter name="reviewer">john</camunda:inputParameter>'))
    i = engine.instances.start("p", variables={"reviewer": "mary"})
    assert [t.assignee for t in engine.tasks.list(instance_id=i.id)] == ["john"]
    complete(engine, i.id, "review")
    assert engine.instances.variables(i.id) == {"reviewer": "mary"}


def test_a_process_variable_written_while_an_input_parameter_hides_it_is_kept(engine: Engine, deploy) -> None:
    """A client sets (or deletes) the instance's variable while the task's input parameter of that name is open:
    the write is to the process variable, which the task gives back when it completes (Camunda keeps input
    parameters in the activity's own scope). The client's value was lost: the task gave back the old one."""
    deploy(io_task('<camunda:inputParameter name="reviewer">john</camunda:inputParameter>'))
    i = engine.instances.start("p", variables={"reviewer": "mary", "note": "first"})
    engine.instances.set_variables(i.id, {"reviewer": "sam", "note": "second"})
    [task] = engine.tasks.list(instance_id=i.id)
    assert task.assignee == "john" and engine.tasks.variables(task.id)["reviewer"] == "john"  # still the local
    assert engine.instances.variables(i.id)["reviewer"] == "sam"  # the instance's own, which the local hides
    complete(engine, i.id, "review")
    assert engine.instances.variables(i.id) == {"reviewer": "sam", "note": "second"}

    j = engine.instances.start("p", variables={"reviewer": "mary"})
    engine.instances.set_variables(j.id, {}, remove=["reviewer"])
    assert engine.tasks.variables(engine.tasks.list(instance_id=j.id)[0].id)["reviewer"] == "john"
    complete(engine, j.id, "review")
    assert "reviewer" not in engine.instances.variables(j.id)


@pytest.mark.parametrize(("body", "problem"), [
    ('<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g"><bpmn:extensionElements><camunda:inputOutput>'
     '<camunda:inputParameter name="x">1</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements>'
     '</bpmn:exclusiveGateway><bpmn:endEvent id="e"/>' + chain("s", "g", "e"),
     "camunda:inputOutput is not supported on an exclusiveGateway"),
    ('<bpmn:startEvent id="s"/><bpmn:userTask id="mi"><bpmn:extensionElements><camunda:inputOutput>'
     '<camunda:outputParameter name="x">${loopCounter}</camunda:outputParameter></camunda:inputOutput>'
     '</bpmn:extensionElements><bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>2'
     '</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask><bpmn:endEvent id="e"/>'
     + chain("s", "mi", "e"),
     "camunda:outputParameter is not allowed on a multi-instance activity"),
    ('<bpmn:startEvent id="s"/><bpmn:userTask id="t"><bpmn:extensionElements><camunda:inputOutput>'
     '<camunda:inputParameter name="x"><camunda:script scriptFormat="groovy">1</camunda:script>'
     '</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements></bpmn:userTask>'
     '<bpmn:endEvent id="e"/>' + chain("s", "t", "e"),
     "a script as a parameter value (groovy script format) is not supported"),
])
def test_input_output_mappings_camunda_refuses_are_refused(engine: Engine, deploy, body: str, problem: str) -> None:
    # InputOutputTest.testMIOutputMappingDisallowed: Camunda refuses the deployment too.
    with pytest.raises(DefinitionError) as err:
        deploy(bpmn(body))
    assert problem in err.value.reason and err.value.element_id in ("g", "mi", "t")


def test_input_and_output_parameters_of_an_embedded_subprocess(engine: Engine, deploy) -> None:
    # InputOutputTest.testSubprocessIoSupport: the input is a local inside the subprocess, the output comes out.
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:subProcess id="sub">
          <bpmn:extensionElements><camunda:inputOutput>
            <camunda:inputParameter name="innerVar">${processVar}</camunda:inputParameter>
            <camunda:outputParameter name="outerVar">${innerVar}</camunda:outputParameter>
          </camunda:inputOutput></bpmn:extensionElements>
          <bpmn:startEvent id="ss"/><bpmn:userTask id="inside" camunda:assignee="${innerVar}"/><bpmn:endEvent id="se"/>
          """ + chain("ss", "inside", "se") + """
        </bpmn:subProcess>
        <bpmn:userTask id="after"/><bpmn:endEvent id="e"/>""" + chain("s", "sub", "after", "e")))
    i = engine.instances.start("p", variables={"processVar": "value"})
    assert [t.assignee for t in engine.tasks.list(instance_id=i.id)] == ["value"]
    complete(engine, i.id, "inside")
    assert open_tasks(engine, i.id) == ["after"]
    assert engine.instances.variables(i.id) == {"processVar": "value", "outerVar": "value"}


def test_a_timer_date_expression_giving_a_duration_means_that_long_from_now(engine: Engine, deploy, clock) -> None:
    # BoundaryTimerEventTest.testRecalculateUnchangedExpressionOnTimerCurrentDateBased: Camunda's due date
    # calendar reads `PT1H` in a timeDate as one hour from now.
    deploy(bpmn('<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
                '<bpmn:timeDate>${duedate}</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
                '<bpmn:userTask id="after"/><bpmn:endEvent id="e"/>' + chain("s", "wait", "after", "e")))
    i = engine.instances.start("p", variables={"duedate": "PT1H"})
    [job] = engine.jobs.list(instance_id=i.id)
    assert job["dueDate"][:16] == "2026-01-05T10:00"
    clock.advance(hours=1, seconds=1)
    assert engine.jobs.execute_due() == 1
    assert open_tasks(engine, i.id) == ["after"]


# -- link events ---------------------------------------------------------------------------------------------------
LINK = ('<bpmn:intermediateThrowEvent id="{id}"><bpmn:linkEventDefinition name="{name}"/></bpmn:intermediateThrowEvent>')
CATCH = ('<bpmn:intermediateCatchEvent id="{id}"><bpmn:linkEventDefinition name="{name}"/></bpmn:intermediateCatchEvent>')


def test_a_link_throw_event_goes_on_at_the_catch_event_of_its_name(engine: Engine, deploy) -> None:
    # LinkEventTest.testValidEventLink and testEventLinkMultipleSources: SpiffWorkflow lost the token.
    deploy(bpmn('<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="x" default="f_a"/><bpmn:userTask id="a"/>'
                '<bpmn:userTask id="b"/>' + LINK.format(id="to_pack_a", name="pack") + LINK.format(id="to_pack_b",
                name="pack") + CATCH.format(id="pack_here", name="pack") + '<bpmn:userTask id="pack"/>'
                '<bpmn:endEvent id="e"/>' + chain("s", "x") + flow("x", "a", flow_id="f_a")
                + flow("x", "b", "${express}") + chain("a", "to_pack_a") + chain("b", "to_pack_b")
                + chain("pack_here", "pack", "e")))
    for express, first in ((False, "a"), (True, "b")):
        i = engine.instances.start("p", variables={"express": express})
        complete(engine, i.id, first)
        assert open_tasks(engine, i.id) == ["pack"]
        complete(engine, i.id, "pack")
        assert state(engine, i.id) == "COMPLETED"


@pytest.mark.parametrize(("events", "problem"), [
    (LINK.format(id="go", name="x") + CATCH.format(id="c1", name="x") + CATCH.format(id="c2", name="x"),
     "two link catch events are named 'x'"),
    (LINK.format(id="go", name="x") + CATCH.format(id="c1", name="y"), "has no link catch event of that name"),
])
def test_link_events_without_exactly_one_target_are_refused(engine: Engine, deploy, events: str, problem: str) -> None:
    # LinkEventTest.testInvalidEventLinkMultipleTargets: Camunda refuses it too.
    with pytest.raises(DefinitionError) as err:
        deploy(bpmn('<bpmn:startEvent id="s"/>' + events + '<bpmn:endEvent id="e"/>' + chain("s", "go")
                    + chain("c1", "e")))
    assert problem in err.value.reason


CAMUNDA = Path(__file__).resolve().parents[2].parent / "shared" / "bpmn" / "camunda7-engine" / "usertask"


@pytest.mark.parametrize("model, key, assignee, users, groups", [
    ("UserTaskTest.testSimpleProcess.bpmn20.xml", "financialReport", None, [], ["accountancy"]),
    ("TaskAssigneeTest.testTaskAssignee.bpmn20.xml", "taskAssigneeExampleProcess", "kermit", [], []),
    ("TaskCandidateTest.testMixedCandidateUserAndGroup.bpmn20.xml", "mixedCandidateUserAndGroupExample", None,
     ["kermit"], ["sales"]),
])
def test_bpmn_human_performer_and_potential_owner_give_the_people_camunda_gives(
        engine: Engine, deploy, model: str, key: str, assignee: str | None, users: list[str],
        groups: list[str]) -> None:
    """Camunda's own user task models: `humanPerformer` is the assignee, `potentialOwner`'s `user(...)` and
    `group(...)` (a bare name: a group) the candidates."""
    deploy((CAMUNDA / model).read_bytes(), model)
    instance = engine.instances.start(key)
    [task] = engine.tasks.list(instance_id=instance.id)
    assert (task.assignee, task.candidate_users, task.candidate_groups) == (assignee, users, groups)
    offered = users + groups
    if offered:  # and the inbox offers it to them
        person = users[0] if users else "someone"
        found = engine.tasks.list(candidate_user=person) if users else engine.tasks.list(candidate_groups=groups)
        assert [t.id for t in found] == [task.id]


def test_potential_owner_adds_to_camunda_candidates_and_takes_expressions(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:userTask id="t" camunda:candidateUsers="mary" camunda:candidateGroups="${team}">
          <bpmn:potentialOwner><bpmn:resourceAssignmentExpression>
            <bpmn:formalExpression>user(${boss}), group(ops)</bpmn:formalExpression>
          </bpmn:resourceAssignmentExpression></bpmn:potentialOwner>
        </bpmn:userTask>
        <bpmn:endEvent id="e"/>""" + chain("s", "t", "e"), process_id="owners"))
    instance = engine.instances.start("owners", variables={"boss": "sam", "team": "sales"})
    [task] = engine.tasks.list(instance_id=instance.id)
    assert (task.candidate_users, task.candidate_groups) == (["mary", "sam"], ["sales", "ops"])


def test_a_human_performer_without_an_expression_is_refused_naming_the_task(deploy) -> None:
    with pytest.raises(DefinitionError, match="humanPerformer") as err:
        deploy(bpmn("""
            <bpmn:startEvent id="s"/>
            <bpmn:userTask id="review"><bpmn:humanPerformer/></bpmn:userTask>
            <bpmn:endEvent id="e"/>""" + chain("s", "review", "e"), process_id="p"))
    assert "review" in str(err.value)


@pytest.mark.parametrize(("script", "result"), [
    ("x + 1", 6),  # the value of the last expression
    ("y = x * 10\ny - 8", 42),
    ("total = x + 2", 7),  # an assignment to one name: the value assigned
    ("if x > 1:\n    big = True", None),  # anything else: null, as Camunda's script that returns nothing
])
def test_a_scripts_result_variable_takes_its_result(engine: Engine, deploy, script: str, result: object) -> None:
    """`camunda:resultVariable` on a script task (Camunda sets it to what the script returns)."""
    deploy(bpmn(f"""<bpmn:startEvent id="s"/>
        <bpmn:scriptTask id="calc" scriptFormat="python" camunda:resultVariable="r"><bpmn:script>{script}</bpmn:script>
        </bpmn:scriptTask><bpmn:userTask id="check"/><bpmn:endEvent id="e"/>""" + chain("s", "calc", "check", "e")))
    instance = engine.instances.start("p", variables={"x": 5})
    assert engine.instances.variables(instance.id)["r"] == result


def test_a_script_with_a_result_variable_names_its_failing_line_as_written(engine: Engine, deploy) -> None:
    from engine.errors import ScriptError

    deploy(bpmn("""<bpmn:startEvent id="s"/>
        <bpmn:scriptTask id="calc" scriptFormat="python" camunda:resultVariable="r"><bpmn:script>a = 1
b = a / zero
b + 1</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="e"/>""" + chain("s", "calc", "e")))
    with pytest.raises(ScriptError) as err:
        engine.instances.start("p", variables={"zero": 0})
    assert (err.value.element_id, err.value.line) == ("calc", 2)
    with pytest.raises(DefinitionError) as refused:
        deploy(bpmn("""<bpmn:startEvent id="s"/>
            <bpmn:scriptTask id="calc" scriptFormat="python" camunda:resultVariable="my-result">
            <bpmn:script>1</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="e"/>""" + chain("s", "calc", "e")))
    assert refused.value.element_id == "calc" and "my-result" in refused.value.reason
