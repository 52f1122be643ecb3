"""Cancelled or not in the activity history, as Camunda 7 records it (`HistoricActivityInstanceStateTest`).

An activity an interrupting boundary event takes away is cancelled, also when an error end event inside it ended
its scope (SpiffWorkflow runs the scope to that end event and completes it). Each token arriving at a parallel or
inclusive join is an activity instance of the join that completes (SpiffWorkflow cancels the earlier arrivals'
tasks)."""

from __future__ import annotations

from engine.api import Engine
from tests.helpers import bpmn, chain, flow

ERROR = '<bpmn:error id="err" name="Broken" errorCode="BROKEN"/>'

BOUNDARY_ERROR = bpmn("""
    <bpmn:startEvent id="start"/>
    <bpmn:subProcess id="subprocess">
      <bpmn:startEvent id="subprocessStart"/>
      <bpmn:parallelGateway id="gtw"/>
      <bpmn:userTask id="userTask"/>
      <bpmn:userTask id="trigger"/>
      <bpmn:endEvent id="errorSubprocessEnd"><bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent>
      """ + chain("subprocessStart", "gtw", "userTask") + flow("gtw", "trigger")
                     + flow("trigger", "errorSubprocessEnd") + """
    </bpmn:subProcess>
    <bpmn:boundaryEvent id="subprocessBoundary" attachedToRef="subprocess">
      <bpmn:errorEventDefinition errorRef="err"/></bpmn:boundaryEvent>
    <bpmn:endEvent id="endAfterBoundary"/>
    <bpmn:userTask id="afterSubprocess"/>
    """ + chain("start", "subprocess", "afterSubprocess") + flow("subprocessBoundary", "endAfterBoundary"),
                      process_id="process", extra=ERROR)

CALLED = bpmn("""
    <bpmn:startEvent id="calledStart"/>
    <bpmn:endEvent id="calledErrorEnd"><bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent>
    """ + flow("calledStart", "calledErrorEnd"), process_id="called", extra=ERROR)

CALLER = bpmn("""
    <bpmn:startEvent id="start"/>
    <bpmn:callActivity id="callActivity" calledElement="called"/>
    <bpmn:boundaryEvent id="callBoundary" attachedToRef="callActivity"><bpmn:errorEventDefinition errorRef="err"/>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="afterCall"/>
    <bpmn:userTask id="handleError"/>
    """ + chain("start", "callActivity", "afterCall") + flow("callBoundary", "handleError"),
              process_id="caller", extra=ERROR)


def _canceled(engine: Engine, instance_id: str) -> dict[str, bool]:
    return {a["activityId"]: a["canceled"] for a in engine.history.activities(instance_id)}


def test_an_error_end_event_caught_on_its_subprocess_cancels_the_subprocess_and_itself(engine: Engine,
                                                                                        deploy) -> None:
    deploy(BOUNDARY_ERROR, "boundary_error.bpmn")
    instance = engine.instances.start("process")
    [trigger] = [t for t in engine.tasks.list(instance_id=instance.id) if t.task_definition_key == "trigger"]
    engine.tasks.complete(trigger.id, {})

    assert engine.instances.get(instance.id).state == "COMPLETED"
    canceled = _canceled(engine, instance.id)
    assert "afterSubprocess" not in canceled  # the subprocess's own outgoing flow was not taken
    assert {name: canceled[name] for name in ("subprocess", "errorSubprocessEnd", "userTask")} == {
        "subprocess": True, "errorSubprocessEnd": True, "userTask": True}
    assert {name: canceled[name] for name in ("start", "subprocessStart", "gtw", "trigger", "subprocessBoundary",
                                              "endAfterBoundary")} == dict.fromkeys(
        ("start", "subprocessStart", "gtw", "trigger", "subprocessBoundary", "endAfterBoundary"), False)


def test_an_error_from_a_called_process_caught_on_the_call_activity_cancels_the_call_activity(engine: Engine,
                                                                                             deploy) -> None:
    deploy(CALLED, "called.bpmn")
    deploy(CALLER, "caller.bpmn")
    instance = engine.instances.start("caller")

    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["handleError"]
    canceled = _canceled(engine, instance.id)
    assert canceled["callActivity"] is True
    assert canceled["callBoundary"] is False and canceled["start"] is False


def test_a_subprocess_that_ends_normally_is_completed_not_cancelled(engine: Engine, deploy) -> None:
    deploy(BOUNDARY_ERROR.replace(b'<bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent>', b"</bpmn:endEvent>",
                                  1), "plain_end.bpmn")
    instance = engine.instances.start("process")
    for key in ("trigger", "userTask"):
        [task] = [t for t in engine.tasks.list(instance_id=instance.id) if t.task_definition_key == key]
        engine.tasks.complete(task.id, {})

    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["afterSubprocess"]
    canceled = _canceled(engine, instance.id)
    assert canceled["subprocess"] is False and canceled["errorSubprocessEnd"] is False


def _join(kind: str) -> bytes:
    return bpmn(f"""
    <bpmn:startEvent id="start"/>
    <bpmn:{kind} id="fork"/>
    <bpmn:userTask id="task1"/>
    <bpmn:userTask id="task2"/>
    <bpmn:{kind} id="parallelJoin"/>
    <bpmn:endEvent id="end"/>
    """ + chain("start", "fork", "task1", "parallelJoin", "end") + chain("fork", "task2", "parallelJoin"),
                process_id="process")


def test_each_token_arriving_at_a_join_is_a_completed_activity_instance(engine: Engine, deploy) -> None:
    for kind in ("parallelGateway", "inclusiveGateway"):
        deploy(_join(kind), f"{kind}.bpmn")
        instance = engine.instances.start("process")
        for key in ("task1", "task2"):
            [task] = [t for t in engine.tasks.list(instance_id=instance.id) if t.task_definition_key == key]
            engine.tasks.complete(task.id, {})

        assert engine.instances.get(instance.id).state == "COMPLETED"
        joins = [a for a in engine.history.activities(instance.id) if a["activityId"] == "parallelJoin"]
        assert [(a["canceled"], a["endTime"] is not None) for a in joins] == [(False, True), (False, True)], kind
