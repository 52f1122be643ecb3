"""An order placed, confirmed, paid, assembled, delivered and closed over HTTP, as a shop and its staff would."""

from __future__ import annotations

from pathlib import Path

from engine.api import Engine
from tests.processes.helpers import settle
from tests.rest.conftest import Client

PROCESSES = Path(__file__).resolve().parents[2] / "processes"



def test_an_order_runs_to_its_end_over_http(engine: Engine, admin: Client, mary: Client, clock) -> None:
    files = {name: (name, (PROCESSES / name).read_bytes())
             for name in ("order.bpmn", "order_rules.dmn", "deal_rules.dmn")}
    assert admin.post("/deployment/create", files=files, data={"deployment-name": "orders"}).status_code == 200
    placed = admin.post("/process-definition/key/order/start", headers={"Idempotency-Key": "shop-cart-881"}, json={
        "businessKey": "SHOP-881", "variables": {
            "customer": {"value": "Bo Berg", "type": "String"}, "customerEmail": {"value": "bo@berg.test"},
            "items": {"value": "1 x chair"}, "amount": {"value": 300, "type": "Long"},
            "region": {"value": "north"}, "paymentMethod": {"value": "card"}}})
    assert placed.status_code == 200, placed.text
    instance = placed.json()["id"]
    settle(engine)
    [call] = mary.get("/task", params={"assignee": "mary"}).json()  # north: mary's order
    assert call["taskDefinitionKey"] == "call_client"
    assert mary.post(f"/task/{call['id']}/complete",
                     json={"variables": {"callOutcome": {"value": "confirmed"}}}).status_code == 204
    settle(engine)
    assert admin.post("/message", json={"messageName": "payment-received", "businessKey": "SHOP-881"}
                      ).status_code == 204
    settle(engine)
    [assemble] = admin.get("/task", params={"processInstanceId": instance}).json()
    assert admin.post(f"/task/{assemble['id']}/complete", json={}).status_code == 204
    settle(engine)
    assert admin.post("/message", json={"messageName": "order-delivered", "businessKey": "SHOP-881"}
                      ).status_code == 204
    settle(engine)
    clock.advance(days=3)
    engine.jobs.execute_due()
    settle(engine)
    assert admin.get(f"/history/process-instance/{instance}").json()["state"] == "COMPLETED"
    assert len(engine.handlers.outbox(instance)) == 6
