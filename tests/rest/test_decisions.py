"""Camunda's decision service over REST: a deployed DMN decision is listed, read and evaluated on its own, with
typed variables, as Camunda clients call it (`POST /decision-definition/key/{key}/evaluate`)."""

from __future__ import annotations

from pathlib import Path

from tests.rest.conftest import Client

PROCESSES = Path(__file__).resolve().parents[2] / "processes"

# a decision that requires another one (a DRD): the discount first, then whether it needs approval
REQUIRED = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="pricing" name="Pricing"
             namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="discount" name="Discount">
    <decisionTable id="discount_table" hitPolicy="UNIQUE">
      <input id="in_amount"><inputExpression id="in_amount_e" typeRef="number"><text>amount</text></inputExpression></input>
      <output id="out_discount" name="discount" typeRef="integer"/>
      <rule id="big"><inputEntry id="big_in"><text>&gt;= 1000</text></inputEntry><outputEntry id="big_out"><text>10</text></outputEntry></rule>
      <rule id="small"><inputEntry id="small_in"><text>&lt; 1000</text></inputEntry><outputEntry id="small_out"><text>0</text></outputEntry></rule>
    </decisionTable>
  </decision>
  <decision id="approval" name="Approval">
    <informationRequirement id="req"><requiredDecision href="#discount"/></informationRequirement>
    <decisionTable id="approval_table" hitPolicy="COLLECT">
      <input id="in_discount"><inputExpression id="in_discount_e" typeRef="integer"><text>discount</text></inputExpression></input>
      <output id="out_who" name="approver" typeRef="string"/>
      <rule id="head"><inputEntry id="head_in"><text>&gt; 5</text></inputEntry><outputEntry id="head_out"><text>"head of sales"</text></outputEntry></rule>
      <rule id="finance"><inputEntry id="finance_in"><text>&gt; 5</text></inputEntry><outputEntry id="finance_out"><text>"finance"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""


def deploy(admin: Client, *files: tuple[str, bytes]) -> dict:
    answer = admin.post("/deployment/create", data={"deployment-name": "rules"},
                        files=[("data", (name, content)) for name, content in files])
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_decision_is_listed_read_and_evaluated_by_key_and_by_id(admin: Client, mary: Client) -> None:
    deployment = deploy(admin, ("card_rules.dmn", (PROCESSES / "card_rules.dmn").read_bytes()))
    listed = mary.get("/decision-definition", params={"key": "card_type"}).json()
    assert [(d["key"], d["version"], d["name"], d["resource"]) for d in listed] == [
        ("card_type", 1, "Card type", "card_rules.dmn")]
    assert listed[0]["deploymentId"] == deployment["id"]
    assert mary.get("/decision-definition/count").json() == {"count": 1}
    by_key = mary.get("/decision-definition/key/card_type").json()
    assert by_key == mary.get(f"/decision-definition/{by_key['id']}").json()
    xml = mary.get("/decision-definition/key/card_type/xml").json()
    assert xml["id"] == by_key["id"] and 'hitPolicy="FIRST"' in xml["dmnXml"]

    def card(spend: int, tenure: int, path: str = "/decision-definition/key/card_type/evaluate") -> list:
        answer = mary.post(path, json={"variables": {"spend12m": {"value": spend, "type": "Integer"},
                                                     "tenureMonths": {"value": tenure, "type": "Integer"}}})
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert card(6000, 30) == [{"cardType": {"value": "gold", "type": "String", "valueInfo": {}}}]
    assert card(6000, 12) == [{"cardType": {"value": "silver", "type": "String", "valueInfo": {}}}]
    assert card(100, 40, f"/decision-definition/{by_key['id']}/evaluate")[0]["cardType"]["value"] == "silver"
    assert card(100, 2)[0]["cardType"]["value"] == "standard"


def test_a_new_version_is_evaluated_by_key_and_the_old_one_by_its_id(admin: Client, mary: Client) -> None:
    original = (PROCESSES / "card_rules.dmn").read_bytes()
    deploy(admin, ("card_rules.dmn", original))
    first = mary.get("/decision-definition/key/card_type").json()
    deploy(admin, ("card_rules.dmn", original.replace(b'"standard"</text>', b'"basic"</text>')))
    assert mary.get("/decision-definition/key/card_type").json()["version"] == 2
    assert [d["version"] for d in mary.get("/decision-definition", params={"latestVersion": "true"}).json()] == [2]
    body = {"variables": {"spend12m": {"value": 0, "type": "Integer"}, "tenureMonths": {"value": 0, "type": "Integer"}}}
    assert mary.post("/decision-definition/key/card_type/evaluate", json=body).json()[0]["cardType"]["value"] == "basic"
    old = mary.post(f"/decision-definition/{first['id']}/evaluate", json=body).json()
    assert old[0]["cardType"]["value"] == "standard"


def test_required_decisions_are_evaluated_first_and_every_matched_rule_is_returned(admin: Client,
                                                                                    mary: Client) -> None:
    deploy(admin, ("pricing.dmn", REQUIRED))
    answer = mary.post("/decision-definition/key/approval/evaluate",
                       json={"variables": {"amount": {"value": 2500.0, "type": "Double"}}})
    assert answer.status_code == 200, answer.text
    assert [rule["approver"]["value"] for rule in answer.json()] == ["head of sales", "finance"]
    small = mary.post("/decision-definition/key/approval/evaluate",
                      json={"variables": {"amount": {"value": 10, "type": "Integer"}}}).json()
    assert small == []
    assert [d["key"] for d in mary.get("/decision-definition").json()] == ["approval", "discount"]


def test_unknown_decisions_and_bad_input_are_4xx_with_a_message(admin: Client, mary: Client) -> None:
    deploy(admin, ("pricing.dmn", REQUIRED))
    missing = mary.post("/decision-definition/key/nope/evaluate", json={})
    assert missing.status_code == 404
    assert missing.json()["message"] == "no decision definition with key 'nope'"
    assert mary.get("/decision-definition/no-such-id/xml").status_code == 404
    untyped = mary.post("/decision-definition/key/discount/evaluate", json={"variables": {"amount": 5}})
    assert untyped.status_code == 400 and "amount" in untyped.json()["message"]
    # the input is missing: the decision cannot be evaluated, and the answer says which decision and why
    failed = mary.post("/decision-definition/key/discount/evaluate", json={"variables": {}})
    assert failed.status_code == 400, failed.text
    assert "discount" in failed.json()["message"] and "amount" in failed.json()["message"]
