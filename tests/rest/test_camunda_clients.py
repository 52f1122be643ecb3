"""The public Camunda client libraries, unchanged, against Stageflow's REST API over real HTTP.

`pycamunda` (deploy, start, list, claim and complete tasks, correlate a message, read variables and the activity
tree) and `camunda-external-task-client-python3` (a worker that fetches, completes, fails and raises a BPMN
error). Neither library knows it is not talking to Camunda 7.
"""

from __future__ import annotations

import io

import pycamunda.deployment
import pycamunda.message
import pycamunda.processdef
import pycamunda.processinst
import pycamunda.task
import pycamunda.variable
import pytest
from camunda.external_task.external_task import ExternalTask
from camunda.external_task.external_task_worker import ExternalTaskWorker
from requests.auth import HTTPBasicAuth

from engine.api import Engine
from tests.helpers import bpmn, chain
from tests.rest.conftest import PASSWORD

ORDER = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="review" name="Review order" camunda:candidateGroups="sales"/>
    <bpmn:receiveTask id="paid" messageRef="m_paid"/>
    <bpmn:endEvent id="e"/>
    """ + chain("s", "review", "paid", "e"), process_id="order", extra='<bpmn:message id="m_paid" name="payment-received"/>')

CHARGE = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:serviceTask id="charge" camunda:type="external" camunda:topic="charge-card"/>
    <bpmn:boundaryEvent id="declined" attachedToRef="charge">
      <bpmn:errorEventDefinition errorRef="err_declined" camunda:errorMessageVariable="reason"/>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="ship"/><bpmn:userTask id="call_customer"/>
    <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
    """ + chain("s", "charge", "ship", "e1") + chain("declined", "call_customer", "e2"),
    process_id="card_payment", extra='<bpmn:error id="err_declined" name="Declined" errorCode="CARD_DECLINED"/>')


def _auth(request, user: str):  # type: ignore[no-untyped-def]
    request.auth = HTTPBasicAuth(user, PASSWORD)
    return request


def test_pycamunda_deploys_starts_works_tasks_and_correlates(server: str) -> None:
    create = _auth(pycamunda.deployment.Create(server, name="orders"), "admin")
    resource = io.BytesIO(ORDER)
    resource.name = "order.bpmn"
    create.add_resource(resource)
    deployment = create()
    [definition] = deployment.deployed_process_definitions.values()
    assert (definition.key, definition.version) == ("order", 1)

    start = _auth(pycamunda.processdef.StartInstance(server, key="order", business_key="ORD-1"), "mary")
    start.add_variable(name="amount", value=1200, type_="Integer")
    instance = start()
    assert instance.business_key == "ORD-1" and not instance.suspended

    [task] = _auth(pycamunda.task.GetList(server, candidate_group="sales"), "mary")()
    assert (task.task_definition_key, task.name) == ("review", "Review order")
    _auth(pycamunda.task.Claim(server, id_=task.id_, user_id="mary"), "mary")()
    assert _auth(pycamunda.task.Get(server, id_=task.id_), "mary")().assignee == "mary"
    complete = _auth(pycamunda.task.Complete(server, id_=task.id_), "mary")
    complete.add_variable(name="approved", value=True, type_="Boolean")
    complete()

    values = _auth(pycamunda.processinst.VariablesGetList(server, process_instance_id=instance.id_), "admin")()
    assert (values["amount"].value, values["approved"].value) == (1200, True)
    tree = _auth(pycamunda.processinst.GetActivityInstance(server, id_=instance.id_), "admin")()
    assert [child.activity_id for child in tree.child_activity_instances] == ["paid"]

    correlate = _auth(pycamunda.message.CorrelateSingle(server, message_name="payment-received",
                                                        business_key="ORD-1", result_enabled=True), "admin")
    correlate.add_process_variable(name="paidAt", value="2026-01-05T10:00:00.000+0000", type_="Date")
    [result] = correlate()
    assert result.result_type.value == "Execution"
    # the payment ended the instance: like Camunda, the runtime API no longer knows it
    assert _auth(pycamunda.processinst.GetList(server, business_key="ORD-1"), "admin")() == ()
    with pytest.raises(pycamunda.NotFound):
        _auth(pycamunda.processinst.Get(server, id_=instance.id_), "admin")()


def test_the_external_task_client_completes_fails_and_raises_bpmn_errors(server: str, engine: Engine,
                                                                        clock) -> None:
    engine.definitions.deploy([("charge.bpmn", CHARGE)])
    ok = engine.instances.start("card_payment", variables={"amount": 50})
    bad = engine.instances.start("card_payment", variables={"amount": 9999})
    flaky = engine.instances.start("card_payment", variables={"amount": -1})
    config = {"auth_basic": {"username": "admin", "password": PASSWORD}, "maxTasks": 10, "lockDuration": 10000,
              "asyncResponseTimeout": 0, "retries": 1, "retryTimeout": 1000, "sleepSeconds": 0}
    seen: list[int] = []

    def handle(task: ExternalTask):  # type: ignore[no-untyped-def]
        amount = task.get_variable("amount")
        seen.append(amount)
        if amount < 0:
            return task.failure("bad amount", f"amount was {amount}", max_retries=1, retry_timeout=1000)
        if amount > 1000:
            return task.bpmn_error("CARD_DECLINED", "limit exceeded")
        return task.complete({"receipt": f"R-{amount}"})

    worker = ExternalTaskWorker(worker_id="card-worker", base_url=server, config=config)
    worker.fetch_and_execute("charge-card", handle)
    assert sorted(seen) == [-1, 50, 9999]

    assert [t.task_definition_key for t in engine.tasks.list(instance_id=ok.id)] == ["ship"]
    assert engine.instances.variables(ok.id)["receipt"] == "R-50"
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=bad.id)] == ["call_customer"]
    assert engine.instances.variables(bad.id)["reason"] == "limit exceeded"
    [failed] = engine.external_tasks.list(instance_id=flaky.id)
    assert (failed["errorMessage"], failed["errorDetails"]) == ("bad amount", "amount was -1")
