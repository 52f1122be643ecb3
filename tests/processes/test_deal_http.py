"""A deal from a website lead to won, over HTTP as an integrator and a sales manager would drive it."""

from __future__ import annotations

from pathlib import Path

from engine.api import Engine
from tests.rest.conftest import Client

PROCESSES = Path(__file__).resolve().parents[2] / "processes"


def test_a_website_lead_becomes_a_won_deal_over_http(engine: Engine, admin: Client, mary: Client) -> None:
    files = {name: (name, (PROCESSES / name).read_bytes())
             for name in ("deal.bpmn", "deal_rules.dmn", "order.bpmn", "order_rules.dmn")}
    assert admin.post("/deployment/create", files=files, data={"deployment-name": "deal"}).status_code == 200
    lead = {"client": "Globex", "customerEmail": "it@globex.test", "dealType": "upsell", "expectedAmount": 5000,
            "manager": "mary"}
    typed = {k: {"value": v, "type": "Integer" if isinstance(v, int) else "String"} for k, v in lead.items()}
    started = admin.post("/process-definition/key/deal/submit-form", json={"businessKey": "WEB-1",
                                                                           "variables": typed})
    assert started.status_code == 200, started.text
    instance = started.json()["id"]

    def complete(key: str, **values) -> None:  # type: ignore[no-untyped-def]
        [task] = mary.get("/task", params={"assignee": "mary", "taskDefinitionKey": key}).json()
        body = {"variables": {k: {"value": v} for k, v in values.items()}}
        response = mary.post(f"/task/{task['id']}/submit-form", json=body)
        assert response.status_code == 204, response.text

    complete("qualify_lead", qualified=True)
    complete("needs_analysis", needsSummary="more seats")
    complete("prepare_proposal", proposalAmount=4800, discountPercent=12)  # upsell: up to 15% is fine
    engine.handlers.run()
    answer = admin.post("/message", json={"messageName": "proposal-accepted", "businessKey": "WEB-1"})
    assert answer.status_code == 204
    complete("negotiate", outcome="won")
    engine.handlers.run()  # the scheduler's built-in worker starts the order
    history = admin.get(f"/history/process-instance/{instance}").json()
    assert history["state"] == "COMPLETED"
    assert admin.get("/history/task", params={"processInstanceId": instance}).json()[0]["assignee"] == "mary"
    [order] = admin.get("/process-instance", params={"processDefinitionKey": "order", "businessKey": "WEB-1"}).json()
    assert order["businessKey"] == "WEB-1"
    report = admin.get("/report/funnel", params={"processDefinitionKey": "deal"}).json()
    assert (report["won"], report["stages"][0]["stage"], report["stages"][0]["completed"]) == (1, "qualify_lead", 1)
    assert mary.get("/report/funnel").status_code == 403
