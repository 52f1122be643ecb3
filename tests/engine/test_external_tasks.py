"""External tasks as a Camunda worker drives them: fetch and lock, complete, fail, BPMN error, extend, unlock."""

from __future__ import annotations

import pytest

from engine.api import Engine
from engine.errors import BadRequest, ScriptError
from engine.external_tasks import TopicRequest
from tests.helpers import bpmn, chain

CHARGE = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:serviceTask id="charge" name="Charge card" camunda:type="external" camunda:topic="payments"/>
    <bpmn:boundaryEvent id="declined" attachedToRef="charge">
      <bpmn:errorEventDefinition errorRef="card_declined" camunda:errorCodeVariable="code" camunda:errorMessageVariable="why"/>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="call_customer"/><bpmn:userTask id="ship"/>
    <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
    """ + chain("s", "charge", "ship", "e1") + chain("declined", "call_customer", "e2"),
    extra='<bpmn:error id="card_declined" name="Card declined" errorCode="DECLINED"/>')


def topic(name: str = "payments", ms: int = 60_000, **kw) -> TopicRequest:  # type: ignore[no-untyped-def]
    return TopicRequest(topic_name=name, lock_duration_ms=ms, **kw)


def open_tasks(engine: Engine, instance_id: str) -> list[str]:
    return [t.task_definition_key for t in engine.tasks.list(instance_id=instance_id)]


@pytest.fixture
def charging(engine: Engine, deploy):  # type: ignore[no-untyped-def]
    deploy(CHARGE)
    return engine.instances.start("p", business_key="order-7", variables={"amount": 120, "card": "4242"})


def test_a_fetched_task_is_locked_for_its_worker_until_the_lock_expires(engine: Engine, charging, clock) -> None:
    [task] = engine.external_tasks.fetch_and_lock("w1", 10, [topic(ms=30_000, variables=["amount"])])
    assert (task["topicName"], task["activityId"], task["businessKey"]) == ("payments", "charge", "order-7")
    assert task["variables"] == {"amount": {"value": 120, "type": "Integer", "valueInfo": {}}}
    assert task["workerId"] == "w1"
    assert engine.external_tasks.fetch_and_lock("w2", 10, [topic()]) == []
    clock.advance(seconds=30)
    [again] = engine.external_tasks.fetch_and_lock("w2", 10, [topic()])
    assert again["id"] == task["id"] and again["workerId"] == "w2"
    with pytest.raises(BadRequest, match="locked by worker 'w2'"):
        engine.external_tasks.complete(task["id"], "w1")


def test_completing_sets_the_variables_and_moves_the_instance_on(engine: Engine, charging) -> None:
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [topic()])
    engine.external_tasks.complete(task["id"], "w1", {"receipt": "R-1"})
    assert engine.instances.variables(charging.id)["receipt"] == "R-1"
    assert open_tasks(engine, charging.id) == ["ship"]
    assert engine.external_tasks.list(instance_id=charging.id) == []


def test_a_failure_with_retries_comes_back_after_the_timeout_and_none_left_is_an_incident(
        engine: Engine, charging, clock) -> None:
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [topic()])
    engine.external_tasks.failure(task["id"], "w1", "gateway timeout", retries=1, retry_timeout_ms=60_000)
    assert engine.external_tasks.fetch_and_lock("w1", 1, [topic()]) == []
    clock.advance(minutes=1)
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [topic()])
    assert (task["retries"], task["errorMessage"]) == (1, "gateway timeout")
    engine.external_tasks.failure(task["id"], "w1", "gateway down", error_details="503 from psp", retries=0)
    clock.advance(hours=1)
    assert engine.external_tasks.fetch_and_lock("w1", 1, [topic()]) == []
    [incident] = engine.jobs.incidents(instance_id=charging.id)
    assert (incident["activityId"], incident["incidentMessage"]) == ("charge", "gateway down")
    engine.external_tasks.set_retries(task["id"], 2)  # fixed: try again
    assert engine.jobs.incidents(instance_id=charging.id) == []
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [topic()])
    engine.external_tasks.complete(task["id"], "w1")
    assert open_tasks(engine, charging.id) == ["ship"]


def test_a_bpmn_error_is_caught_by_the_boundary_event_with_code_and_message(engine: Engine, charging) -> None:
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [topic()])
    engine.external_tasks.bpmn_error(task["id"], "w1", "DECLINED", "insufficient funds", {"attempts": 1})
    assert open_tasks(engine, charging.id) == ["call_customer"]
    values = engine.instances.variables(charging.id)
    assert (values["code"], values["why"], values["attempts"]) == ("DECLINED", "insufficient funds", 1)
    assert engine.external_tasks.list(instance_id=charging.id) == []


def test_a_bpmn_error_nothing_catches_ends_that_path_as_camunda_does(engine: Engine, charging) -> None:
    """Camunda's default for a BPMN error nothing catches: the execution ends as at a none end event (it was
    refused, and the task stayed locked for a worker that would only report the same error again)."""
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [topic()])
    engine.external_tasks.bpmn_error(task["id"], "w1", "FRAUD", "stolen card", {"flagged": True})
    instance = engine.instances.get(charging.id)
    assert instance.state == "COMPLETED"  # its one path ended: the boundary event went with the task
    assert engine.external_tasks.list(instance_id=charging.id) == [] and open_tasks(engine, charging.id) == []
    assert engine.instances.variables(charging.id)["flagged"] is True
    events = [(h.element_id, h.event) for h in engine.instances.history(charging.id)]
    assert ("charge", "completed") in events and ("declined", "completed") not in events
    assert ("ship", "completed") not in events


def test_an_uncaught_bpmn_error_ends_only_its_own_path(engine: Engine, deploy) -> None:
    deploy(bpmn("""
        <bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/>
        <bpmn:subProcess id="checks">
          <bpmn:startEvent id="cs"/>
          <bpmn:serviceTask id="check" camunda:type="external" camunda:topic="checks">
            <bpmn:extensionElements><camunda:inputOutput>
              <camunda:inputParameter name="scratch">1</camunda:inputParameter>
            </camunda:inputOutput></bpmn:extensionElements>
          </bpmn:serviceTask>
          <bpmn:userTask id="after_check"/><bpmn:endEvent id="ce"/>
          """ + chain("cs", "check", "after_check", "ce") + """
        </bpmn:subProcess>
        <bpmn:userTask id="pack"/><bpmn:parallelGateway id="join"/><bpmn:userTask id="ship"/><bpmn:endEvent id="e"/>
        """ + chain("s", "fork", "checks", "join", "ship", "e") + chain("fork", "pack", "join"), "parallel"))
    instance = engine.instances.start("parallel", variables={})
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [topic("checks")])
    engine.external_tasks.bpmn_error(task["id"], "w1", "NOT_HANDLED")
    # the subprocess's only path ended there: the subprocess is done and the flow waits at the join for "pack"
    assert open_tasks(engine, instance.id) == ["pack"]
    assert "scratch" not in engine.instances.variables(instance.id)  # the input parameter went with the task
    [pack] = engine.tasks.list(instance_id=instance.id)
    engine.tasks.complete(pack.id, {})
    assert open_tasks(engine, instance.id) == ["ship"]


def test_extend_lock_and_unlock(engine: Engine, charging, clock) -> None:
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [topic(ms=10_000)])
    clock.advance(seconds=9)
    engine.external_tasks.extend_lock(task["id"], "w1", 60_000)
    clock.advance(seconds=30)
    assert engine.external_tasks.fetch_and_lock("w2", 1, [topic()]) == []
    with pytest.raises(BadRequest, match="locked by worker 'w1'"):
        engine.external_tasks.extend_lock(task["id"], "w2", 60_000)
    engine.external_tasks.unlock(task["id"])
    assert [t["id"] for t in engine.external_tasks.fetch_and_lock("w2", 1, [topic()])] == [task["id"]]


def test_fetch_respects_max_tasks_topics_and_business_key(engine: Engine, deploy) -> None:
    deploy(CHARGE)
    ids = [engine.instances.start("p", business_key=f"order-{n}").id for n in range(3)]
    assert engine.external_tasks.fetch_and_lock("w1", 5, [topic("other")]) == []
    [one] = engine.external_tasks.fetch_and_lock("w1", 5, [topic(business_key="order-1")])
    assert one["processInstanceId"] == ids[1]
    assert len(engine.external_tasks.fetch_and_lock("w2", 1, [topic()])) == 1
    assert engine.external_tasks.count(topic="payments", locked=False) == 1
    with pytest.raises(BadRequest, match="lockDuration"):
        engine.external_tasks.fetch_and_lock("w3", 1, [topic(ms=0)])


def test_local_variables_of_a_completion_feed_output_parameters_and_do_not_stay(engine: Engine, deploy) -> None:
    """Camunda's `localVariables` on complete: set in the external task's scope only (its output mappings read them)."""
    deploy(bpmn("""<bpmn:startEvent id="s"/>
        <bpmn:serviceTask id="score" camunda:type="external" camunda:topic="scoring">
          <bpmn:extensionElements><camunda:inputOutput>
            <camunda:outputParameter name="riskLevel">${raw > 50 ? 'high' : 'low'}</camunda:outputParameter>
          </camunda:inputOutput></bpmn:extensionElements>
        </bpmn:serviceTask><bpmn:userTask id="review"/><bpmn:endEvent id="e"/>""" + chain("s", "score", "review", "e"),
        process_id="scored"))
    instance = engine.instances.start("scored", variables={"applicant": "Ann"})
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [topic("scoring")])
    engine.external_tasks.complete(task["id"], "w1", {"scoredBy": "w1"}, local_variables={"raw": 72})
    assert engine.instances.variables(instance.id) == {"applicant": "Ann", "scoredBy": "w1", "riskLevel": "high"}
    assert open_tasks(engine, instance.id) == ["review"]


def test_a_topic_with_process_variables_or_tenants_fetches_only_the_matching_tasks(engine: Engine, deploy) -> None:
    deploy(CHARGE)
    north = engine.instances.start("p", variables={"region": "north", "amount": 1})
    engine.instances.start("p", variables={"region": "south", "amount": 1})
    assert engine.external_tasks.fetch_and_lock("w1", 5, [topic(tenant_ids=["t1"])]) == []  # no task has a tenant
    [task] = engine.external_tasks.fetch_and_lock("w1", 5, [topic(process_variables={"region": "north"})])
    assert task["processInstanceId"] == north.id
    assert engine.external_tasks.fetch_and_lock("w1", 5, [topic(process_variables={"region": "north"})]) == []


def test_a_topic_written_as_an_expression_is_its_value_when_the_task_is_created(engine: Engine, deploy) -> None:
    """Camunda's ExternalTaskParseTest.testParseExternalTaskWithExpressionTopic: `camunda:topic="${topicName}"`."""
    deploy(bpmn("""
        <bpmn:startEvent id="s"/>
        <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="${topicName}"/>
        <bpmn:endEvent id="e"/>""" + chain("s", "work", "e"), process_id="dyn"))
    instance = engine.instances.start("dyn", variables={"topicName": "dynTopic"})
    assert engine.external_tasks.fetch_and_lock("w1", 5, [topic("${topicName}")]) == []
    [task] = engine.external_tasks.fetch_and_lock("w1", 5, [topic("dynTopic")])
    assert (task["topicName"], task["processInstanceId"]) == ("dynTopic", instance.id)
    with pytest.raises(ScriptError, match="camunda:topic"):  # no such variable: the start is refused, naming it
        engine.instances.start("dyn")


def test_a_worker_fetches_a_called_process_task_with_that_process_variables(engine: Engine, deploy) -> None:
    # it got the caller's variables (own="caller's"), which the called process never had
    deploy(bpmn('<bpmn:startEvent id="cs"/><bpmn:serviceTask id="charge" camunda:type="external" '
                'camunda:topic="payments"/><bpmn:endEvent id="ce"/>' + chain("cs", "charge", "ce"), "callee"),
           "callee.bpmn")
    deploy(bpmn("""<bpmn:startEvent id="s"/><bpmn:callActivity id="call" calledElement="callee">
        <bpmn:extensionElements><camunda:in source="given" target="given"/></bpmn:extensionElements>
        </bpmn:callActivity><bpmn:endEvent id="e"/>""" + chain("s", "call", "e"), "caller"))
    engine.instances.start("caller", variables={"given": 1, "own": "caller's"})
    [task] = engine.external_tasks.fetch_and_lock("w1", 10, [topic()])
    assert {name: v["value"] for name, v in task["variables"].items()} == {"given": 1}
    # a worker's BPMN error is checked as its completion is: no whole number beyond a Long
    with pytest.raises(BadRequest) as err:
        engine.external_tasks.bpmn_error(task["id"], "w1", "X", variables={"n": 2 ** 63})
    assert "variable 'n'" in err.value.message and "beyond a Long's range" in err.value.message


CHECKED = CHARGE.replace(
    b'camunda:topic="payments"/>',
    b'camunda:topic="payments"><bpmn:extensionElements>'
    b'<camunda:errorEventDefinition id="by_outcome" errorRef="card_declined" expression="${outcome == \'DECLINED\'}"/>'
    b'<camunda:errorEventDefinition id="by_details" errorRef="card_declined" '
    b'expression="${externalTask.getErrorDetails() != null &amp;&amp; '
    b'externalTask.getErrorDetails().contains(\'insufficient funds\')}"/>'
    b'</bpmn:extensionElements></bpmn:serviceTask>')


def test_an_error_event_definition_turns_a_completion_into_its_bpmn_error(engine: Engine, deploy) -> None:
    """Camunda 7.16+'s `camunda:errorEventDefinition` on an external task (it was ignored): when the worker
    completes, the variables are set, then the first expression that holds throws its error instead."""
    deploy(CHECKED)
    paid = engine.instances.start("p", variables={"outcome": None})
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [topic()])
    engine.external_tasks.complete(task["id"], "w1", {"outcome": "PAID"})
    assert open_tasks(engine, paid.id) == ["ship"]

    declined = engine.instances.start("p", variables={"outcome": None})
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [topic()])
    engine.external_tasks.complete(task["id"], "w1", {"outcome": "DECLINED"})
    assert open_tasks(engine, declined.id) == ["call_customer"]
    values = engine.instances.variables(declined.id)
    assert (values["outcome"], values["code"], values["why"]) == ("DECLINED", "DECLINED", None)
    assert engine.external_tasks.list(instance_id=declined.id) == []


def test_an_error_event_definition_turns_a_failure_into_its_bpmn_error(engine: Engine, deploy) -> None:
    """On a failure the expression sees the task's new error details (`externalTask.getErrorDetails()`): a match
    throws the error, no retry and no incident; another failure is a failure."""
    deploy(CHECKED)
    instance = engine.instances.start("p", variables={"outcome": None})
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [topic()])
    engine.external_tasks.failure(task["id"], "w1", "gateway timeout", retries=0)  # no details: no match
    assert [i["incidentType"] for i in engine.jobs.incidents(instance_id=instance.id)] == ["failedExternalTask"]
    engine.external_tasks.set_retries(task["id"], 1)
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [topic()])
    engine.external_tasks.failure(task["id"], "w1", "card refused", error_details="bank: insufficient funds",
                                  retries=0)
    assert open_tasks(engine, instance.id) == ["call_customer"]
    assert engine.instances.variables(instance.id)["why"] == "card refused"
    assert engine.jobs.incidents(instance_id=instance.id) == []  # the first one was resolved by the retry


@pytest.mark.parametrize("extension, problem", [
    ('<camunda:errorEventDefinition id="x" errorRef="nothing" expression="${true}"/>',
     "errorRef 'nothing' names no bpmn:error"),
    ('<camunda:errorEventDefinition id="x" errorRef="card_declined"/>', "needs an expression"),
    ('<camunda:errorEventDefinition id="x" errorRef="card_declined" expression="${a = 1}"/>', "assignment"),
])
def test_a_bad_error_event_definition_is_refused_naming_it(engine: Engine, extension: str, problem: str) -> None:
    from engine.errors import DefinitionError

    body = CHARGE.replace(b'camunda:topic="payments"/>', b'camunda:topic="payments"><bpmn:extensionElements>'
                          + extension.encode() + b'</bpmn:extensionElements></bpmn:serviceTask>')
    with pytest.raises(DefinitionError, match=problem) as err:
        engine.definitions.deploy([("p.bpmn", body)])
    assert err.value.element_id == "charge"  # the task it belongs to


def test_an_error_event_definition_that_fails_fails_a_completion_and_is_skipped_on_a_failure(engine: Engine,
                                                                                             deploy) -> None:
    """As Camunda's ExternalTaskEntity: an expression that cannot be evaluated fails the completion (the task
    stays locked to its worker) and is skipped when a failure is reported (the failure is recorded)."""
    deploy(CHARGE.replace(b'camunda:topic="payments"/>', b'camunda:topic="payments"><bpmn:extensionElements>'
                          b'<camunda:errorEventDefinition id="x" errorRef="card_declined" expression="'
                          b'${externalTask.getErrorDetails().contains(\'funds\')}"/></bpmn:extensionElements>'
                          b'</bpmn:serviceTask>'))
    instance = engine.instances.start("p")
    [task] = engine.external_tasks.fetch_and_lock("w1", 1, [topic()])
    with pytest.raises(ScriptError, match="cannot call contains\\(\\) on null"):
        engine.external_tasks.complete(task["id"], "w1", {"receipt": "R-1"})
    assert open_tasks(engine, instance.id) == [] and "receipt" not in engine.instances.variables(instance.id)
    engine.external_tasks.failure(task["id"], "w1", "gateway timeout", retries=2)
    [waiting] = engine.external_tasks.list(instance_id=instance.id)
    assert (waiting["retries"], waiting["errorMessage"]) == (2, "gateway timeout")


def test_an_error_event_definition_on_a_task_that_is_not_external_is_refused(engine: Engine) -> None:
    from engine.errors import DefinitionError

    body = bpmn('<bpmn:startEvent id="s"/><bpmn:userTask id="u"><bpmn:extensionElements>'
                '<camunda:errorEventDefinition id="x" errorRef="err" expression="${true}"/></bpmn:extensionElements>'
                '</bpmn:userTask><bpmn:endEvent id="e"/>' + chain("s", "u", "e"),
                extra='<bpmn:error id="err" errorCode="E"/>')
    with pytest.raises(DefinitionError, match="read only on an external task"):
        engine.definitions.deploy([("p.bpmn", body)])
