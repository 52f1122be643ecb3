"""Camunda's historic decision instances over REST (`/history/decision-instance`): every decision a business rule
task evaluates, and every evaluation through the decision service, with its inputs, matched rules and outputs."""

from __future__ import annotations

from tests.helpers import bpmn, chain
from tests.rest.conftest import Client
from tests.rest.test_decisions import REQUIRED, deploy

ORDER = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:businessRuleTask id="decide" name="Who approves" camunda:decisionRef="approval"
        camunda:resultVariable="approvers" camunda:mapDecisionResult="collectEntries"/>
    <bpmn:userTask id="approve" name="Approve"/>
    <bpmn:endEvent id="e"/>
    """ + chain("s", "decide", "approve", "e"), process_id="priced_order")

TOTAL = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="fees" name="Fees"
             namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="fees" name="Fees">
    <decisionTable id="fees_table" hitPolicy="COLLECT" aggregation="SUM">
      <input id="in_express" label="Express?"><inputExpression id="in_express_e" typeRef="boolean"><text>express</text></inputExpression></input>
      <output id="out_fee" label="Fee" name="fee" typeRef="integer"/>
      <rule id="base"><inputEntry id="base_in"><text>-</text></inputEntry><outputEntry id="base_out"><text>5</text></outputEntry></rule>
      <rule id="fast"><inputEntry id="fast_in"><text>true</text></inputEntry><outputEntry id="fast_out"><text>12</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""


def test_a_business_rule_task_keeps_each_decision_it_evaluated(admin: Client, mary: Client) -> None:
    deploy(admin, ("pricing.dmn", REQUIRED), ("order.bpmn", ORDER))
    started = admin.post("/process-definition/key/priced_order/start",
                         json={"variables": {"amount": {"value": 1200, "type": "Integer"}}})
    assert started.status_code == 200, started.text
    instance = started.json()["id"]
    found = admin.get("/history/decision-instance", params={
        "processInstanceId": instance, "includeInputs": "true", "includeOutputs": "true"}).json()
    assert [d["decisionDefinitionKey"] for d in found] == ["discount", "approval"]  # required first
    discount, approval = found
    assert approval["decisionDefinitionId"] == admin.get("/decision-definition/key/approval").json()["id"]
    assert (approval["rootDecisionInstanceId"], discount["rootDecisionInstanceId"]) == (None, approval["id"])
    assert (approval["activityId"], approval["processDefinitionKey"], approval["decisionDefinitionName"]) == (
        "decide", "priced_order", "Approval")
    [step] = admin.get("/history/activity-instance", params={"processInstanceId": instance,
                                                             "activityId": "decide"}).json()
    assert approval["activityInstanceId"] == discount["activityInstanceId"] == step["id"]
    assert [(i["clauseId"], i["type"], i["value"]) for i in discount["inputs"]] == [("in_amount", "Integer", 1200)]
    assert [(o["clauseId"], o["ruleId"], o["ruleOrder"], o["variableName"], o["value"])
            for o in discount["outputs"]] == [("out_discount", "big", 1, "discount", 10)]
    assert [(o["ruleId"], o["ruleOrder"], o["value"]) for o in approval["outputs"]] == [
        ("head", 1, "head of sales"), ("finance", 2, "finance")]
    assert approval["collectResultValue"] is None and approval["evaluationTime"] == discount["evaluationTime"]
    # the instance's variable is what the task mapped from the result
    assert admin.get(f"/process-instance/{instance}/variables/approvers").json()["value"] == \
        '["head of sales","finance"]'

    roots = admin.get("/history/decision-instance", params={"rootDecisionInstancesOnly": "true"}).json()
    assert [d["id"] for d in roots] == [approval["id"]]
    assert roots[0]["inputs"] is None and roots[0]["outputs"] is None  # only when asked for
    assert admin.get("/history/decision-instance/count", params={"decisionDefinitionKeyIn": "approval,discount",
                                                                 "activityIdIn": "decide"}).json() == {"count": 2}
    assert admin.get("/history/decision-instance/count", params={
        "rootDecisionInstanceId": approval["id"]}).json() == {"count": 1}
    one = admin.get(f"/history/decision-instance/{discount['id']}", params={"includeInputs": "true"}).json()
    assert one["inputs"] == discount["inputs"] and one["outputs"] is None
    assert admin.get("/history/decision-instance/nope").status_code == 404
    # mary may not read this instance (she is not a candidate of its task): she sees none of it
    assert mary.get("/history/decision-instance/count").json() == {"count": 0}
    assert mary.get(f"/history/decision-instance/{approval['id']}").status_code == 404


def test_evaluations_through_the_decision_service_are_kept_with_who_asked(admin: Client, mary: Client) -> None:
    deploy(admin, ("fees.dmn", TOTAL))
    for express in (True, False):
        answer = mary.post("/decision-definition/key/fees/evaluate",
                           json={"variables": {"express": {"value": express, "type": "Boolean"}}})
        assert answer.status_code == 200, answer.text
    assert answer.json() == [{"fee": {"value": 5, "type": "Integer", "valueInfo": {}}}]
    failed = mary.post("/decision-definition/key/fees/evaluate", json={"variables": {"express": {
        "value": "soon", "type": "String"}}})
    assert failed.status_code == 400  # not kept: nothing was decided
    listed = mary.get("/history/decision-instance", params={"includeInputs": "true", "includeOutputs": "true",
                                                            "sortBy": "evaluationTime", "sortOrder": "asc"}).json()
    assert [(d["userId"], d["processInstanceId"], d["collectResultValue"]) for d in listed] == [
        ("mary", None, 17), ("mary", None, 5)]
    express = listed[0]
    assert [(i["clauseName"], i["value"]) for i in express["inputs"]] == [("Express?", True)]
    assert [(o["clauseName"], o["ruleId"], o["value"]) for o in express["outputs"]] == [
        ("Fee", "base", 5), ("Fee", "fast", 12)]
    assert admin.get("/history/decision-instance/count", params={"userId": "mary"}).json() == {"count": 2}
    assert admin.get("/history/decision-instance/count", params={
        "evaluatedAfter": "2999-01-01T00:00:00.000+0000"}).json() == {"count": 0}
    assert admin.get("/history/decision-instance/count", params={
        "evaluatedBefore": "2999-01-01T00:00:00.000+0000", "decisionDefinitionKey": "fees",
        "decisionDefinitionKeyIn": "fees,other"}).json() == {"count": 2}
    assert admin.get("/history/decision-instance/count", params={
        "decisionDefinitionKey": "fees", "decisionDefinitionKeyIn": "other"}).json() == {"count": 0}
    refused = admin.get("/history/decision-instance", params={"caseInstanceId": "x"})
    assert refused.status_code == 400 and "caseInstanceId" in refused.json()["message"]
