"""The order lifecycle (`processes/order.bpmn`): every path on a virtual clock, through the engine API.

The customer is told at every step (the `notify-customer` outbox); the client register finds or registers the
customer and counts delivered orders; `client_category` and `order_manager` pick the responsible manager.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import BadRequest, InvalidVariables
from engine.store import models as m
from tests.processes.helpers import open_task, settle, work

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
ORDER = {"customer": "Ann Lee", "customerEmail": "Ann@Example.test", "items": "2 x desk lamp", "amount": 1200,
         "region": "south", "paymentMethod": "card"}


@pytest.fixture
def order(engine: Engine):  # type: ignore[no-untyped-def]
    engine.definitions.deploy_files([PROCESSES / "order.bpmn", PROCESSES / "order_rules.dmn",
                                     PROCESSES / "deal_rules.dmn"])

    def start(business_key: str = "O-1", **overrides):  # type: ignore[no-untyped-def]
        instance = engine.instances.start("order", business_key=business_key, variables={**ORDER, **overrides},
                                          validate_form=True)
        settle(engine)
        return instance
    return start


def told(engine: Engine, instance_id: str) -> list[str]:
    return [n["subject"] for n in engine.handlers.outbox(instance_id) if n["topic"] == "notify-customer"]


def send(engine: Engine, message: str, business_key: str = "O-1") -> None:
    engine.messages.correlate(message, business_key=business_key)
    settle(engine)


def test_an_order_from_placing_to_feedback_tells_the_customer_every_step(engine: Engine, order, clock) -> None:
    instance = order()
    call = open_task(engine, instance.id, "call_client")
    assert call.assignee == "john"  # south, a new client: the order_manager table picks john
    assert engine.handlers.client("ann@example.test")["purchases"] == 0  # registered
    work(engine, instance.id, "call_client", callOutcome="confirmed")
    send(engine, "payment-received")
    assemble = open_task(engine, instance.id, "assemble_order")
    assert assemble.candidate_groups == ["warehouse"] and assemble.due == clock.now() + timedelta(days=1)
    work(engine, instance.id, "assemble_order")
    send(engine, "order-delivered")
    assert engine.handlers.client("ann@example.test")["purchases"] == 1
    clock.advance(days=3)
    engine.jobs.execute_due()
    settle(engine)
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert told(engine, instance.id) == ["Your order is received", "Your order is confirmed", "Your payment is received",
                                         "Your order is on its way", "Your order is delivered",
                                         "How was your order?"]
    [first] = engine.handlers.outbox(instance.id)[:1]
    assert (first["recipient"], first["body"]) == ("Ann@Example.test",
                                                   "Dear Ann Lee, we have received your order: 2 x desk lamp.")


def test_a_missed_call_reminds_the_manager_and_not_ready_calls_again_in_7_days(engine: Engine, order,
                                                                              clock) -> None:
    instance = order()
    clock.advance(hours=2)
    engine.jobs.execute_due()
    settle(engine)
    [reminder] = [n for n in engine.handlers.outbox(instance.id) if n["topic"] == "notify-manager"]
    assert (reminder["recipient"], reminder["subject"]) == ("john", "Reminder: call Ann Lee")
    work(engine, instance.id, "call_client", callOutcome="later")
    assert engine.tasks.list(instance_id=instance.id) == []
    clock.advance(days=7)
    engine.jobs.execute_due()
    assert open_task(engine, instance.id, "call_client").assignee == "john"


def test_no_payment_within_3_days_cancels_the_order(engine: Engine, order, clock) -> None:
    instance = order()
    work(engine, instance.id, "call_client", callOutcome="confirmed")
    clock.advance(days=3)
    engine.jobs.execute_due()
    settle(engine)
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert told(engine, instance.id)[-1] == "Your order is cancelled"
    assert engine.handlers.outbox(instance.id)[-1]["body"].endswith("not paid within 3 days.")
    assert engine.handlers.client("ann@example.test")["purchases"] == 0


def test_the_customer_cancels_before_shipping(engine: Engine, order) -> None:
    instance = order()
    work(engine, instance.id, "call_client", callOutcome="confirmed")
    send(engine, "payment-received")
    send(engine, "order-cancelled")  # while the warehouse assembles it
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.tasks.list(instance_id=instance.id) == []
    assert told(engine, instance.id)[-1] == "Your order is cancelled"
    assert engine.handlers.outbox(instance.id)[-1]["body"].endswith("cancelled by the customer.")


def test_a_cancellation_while_the_call_is_due_ends_the_preparation_and_none_comes_after_shipping(
        engine: Engine, order, clock) -> None:
    instance = order()
    assert "order-cancelled" in [s["eventName"] for s in engine.instances.state(instance.id).subscriptions]
    send(engine, "order-cancelled")  # the event subprocess inside the preparation interrupts it
    assert engine.tasks.list(instance_id=instance.id) == []
    clock.advance(hours=3)
    engine.jobs.execute_due()
    settle(engine)
    assert [n for n in engine.handlers.outbox(instance.id) if n["topic"] == "notify-manager"] == []  # no reminder
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert told(engine, instance.id) == ["Your order is received", "Your order is cancelled"]

    shipped = order("O-2")
    work(engine, shipped.id, "call_client", callOutcome="confirmed")
    send(engine, "payment-received", "O-2")
    work(engine, shipped.id, "assemble_order")
    with pytest.raises(BadRequest, match="no process instance waits for message 'order-cancelled'"):
        engine.messages.correlate("order-cancelled", business_key="O-2")
    assert told(engine, shipped.id)[-1] == "Your order is on its way"


def test_cancelled_on_the_call(engine: Engine, order) -> None:
    instance = order()
    work(engine, instance.id, "call_client", callOutcome="cancelled")
    assert engine.instances.get(instance.id).state == "COMPLETED"
    assert engine.handlers.outbox(instance.id)[-1]["body"].endswith("cancelled on the call.")


def test_no_delivery_in_10_days_asks_the_warehouse_to_check_with_the_carrier(engine: Engine, order,
                                                                             clock) -> None:
    instance = order()
    work(engine, instance.id, "call_client", callOutcome="confirmed")
    send(engine, "payment-received")
    work(engine, instance.id, "assemble_order")
    clock.advance(days=10)
    engine.jobs.execute_due()
    work(engine, instance.id, "check_with_carrier")
    send(engine, "order-delivered")
    assert told(engine, instance.id)[-1] == "Your order is delivered"


def test_a_short_payment_goes_to_the_manager_before_the_order_goes_on(engine: Engine, order) -> None:
    """payment-received with `paid` below the amount (it was thanked for in full and the order assembled): the
    manager settles the difference first; a payment in full goes straight on."""
    instance = order()  # amount 1200, manager john
    work(engine, instance.id, "call_client", callOutcome="confirmed")
    engine.messages.correlate("payment-received", business_key="O-1", variables={"paid": 100})
    settle(engine)
    check = open_task(engine, instance.id, "check_payment")
    assert (check.name, check.assignee) == ("Settle a short payment", "john")
    assert check.description.startswith("Ann Lee paid 100 of the 1200 due")
    assert "Your payment is received" not in told(engine, instance.id)
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=instance.id)] == ["check_payment"]
    work(engine, instance.id, "check_payment")
    assert told(engine, instance.id)[-1] == "Your payment is received"
    assert open_task(engine, instance.id, "assemble_order")

    in_full = order("O-2")
    work(engine, in_full.id, "call_client", callOutcome="confirmed")
    engine.messages.correlate("payment-received", business_key="O-2", variables={"paid": 1200})
    settle(engine)
    assert open_task(engine, in_full.id, "assemble_order")


def test_large_orders_and_regular_clients_get_their_managers(engine: Engine, order, clock) -> None:
    big = order("O-2", customerEmail="cfo@big.test", amount=60000)
    assert open_task(engine, big.id, "call_client").assignee == "sam"
    with engine.db.write() as session:  # a client with three purchases, the last a month ago
        session.add(m.Client(id=str(uuid.uuid4()), email="loyal@shop.test", name="Loyal", region="south",
                             purchases=3, last_purchase_at=clock.now() - timedelta(days=30), created_at=clock.now()))
    loyal = order("O-3", customerEmail="loyal@shop.test")
    assert engine.instances.variables(loyal.id)["clientCategory"] == "regular"
    assert open_task(engine, loyal.id, "call_client").assignee == "mary"
    with engine.db.write() as session:  # a year and two weeks since the last purchase: lapsed (it read 12 months
        # of 30 days and 'regular' until day 390)
        session.add(m.Client(id=str(uuid.uuid4()), email="gone@shop.test", name="Gone", region="south",
                             purchases=3, last_purchase_at=clock.now() - timedelta(days=380), created_at=clock.now()))
    gone = order("O-4", customerEmail="gone@shop.test")
    values = engine.instances.variables(gone.id)
    assert (values["monthsSinceLastPurchase"], values["clientCategory"]) == (12, "lapsed")


def test_an_order_started_without_what_its_form_defaults_takes_the_defaults(engine: Engine, order) -> None:
    # a start over HTTP applies no form: without `region` the manager's rules failed ("cannot resolve identifier")
    order("O-0")  # deploys
    instance = engine.instances.start("order", business_key="O-7", variables={
        "customer": "Bo", "customerEmail": "bo@x.test", "items": "a lamp", "amount": 100})
    settle(engine)
    values = engine.instances.variables(instance.id)
    assert (values["region"], values["paymentMethod"]) == ("north", "card")
    assert open_task(engine, instance.id, "call_client").assignee is not None
    assert engine.jobs.incidents(instance_id=instance.id) == []


@pytest.mark.parametrize("given", [{}, {"customerEmail": None}, {"customerEmail": "  "}])
def test_an_order_without_an_e_mail_address_asks_the_sales_team_for_one(engine: Engine, order, given) -> None:
    order("O-0")  # deploys
    variables = {"customer": "Bo", "items": "a lamp", "amount": 100, **given}
    instance = engine.instances.start("order", business_key="O-8", variables=variables)
    settle(engine)
    ask = open_task(engine, instance.id, "ask_email")
    assert ask.candidate_groups == ["sales"] and told(engine, instance.id) == []
    with pytest.raises(InvalidVariables, match="customerEmail"):  # the form requires it
        engine.tasks.complete(ask.id, {})
    work(engine, instance.id, "ask_email", customerEmail="bo@x.test")
    assert told(engine, instance.id) == ["Your order is received"]
    assert engine.handlers.outbox(instance.id)[0]["recipient"] == "bo@x.test"
    assert engine.handlers.client("bo@x.test")["name"] == "Bo"
    assert open_task(engine, instance.id, "call_client").assignee is not None
    assert engine.jobs.incidents(instance_id=instance.id) == []


def test_an_order_with_an_e_mail_address_goes_straight_to_the_customer(engine: Engine, order) -> None:
    instance = order()
    passed = [h.element_id for h in engine.instances.history(instance.id) if h.event == "completed"]
    assert "email_known" in passed and "ask_email" not in passed
