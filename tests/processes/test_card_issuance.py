"""Loyalty card issuance (`processes/card_issuance.bpmn`): every path on a virtual clock, through the engine API,
with the card production done by `examples/card_production_worker.py` over HTTP in one test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import InvalidVariables, MismatchingCorrelation
from engine.external_tasks import TopicRequest
from tests.processes.helpers import open_task, settle, work
from tests.rest.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
APPLICATION = {"client": "Eva Moss", "customerEmail": "eva@moss.test", "channel": "store", "spend12m": 2500,
               "tenureMonths": 10}


@pytest.fixture
def card(engine: Engine):  # type: ignore[no-untyped-def]
    engine.definitions.deploy_files([PROCESSES / "card_issuance.bpmn", PROCESSES / "card_rules.dmn"])

    def start(business_key: str = "C-1", **overrides):  # type: ignore[no-untyped-def]
        instance = engine.instances.start("card_issuance", business_key=business_key,
                                          variables={**APPLICATION, **overrides}, validate_form=True)
        settle(engine)
        return instance
    return start


def print_cards(engine: Engine, fail: bool = False) -> None:
    """A card production worker (in-process here): prints each card, or reports a jam with no retry left."""
    for task in engine.external_tasks.fetch_and_lock("printer", 10, [TopicRequest("card-production", 60_000)]):
        if fail:
            engine.external_tasks.failure(task["id"], "printer", "printer jammed", retries=0)
        else:
            engine.external_tasks.complete(task["id"], "printer", {"cardNumber": f"4100-{task['businessKey']}"})
    settle(engine)


def told(engine: Engine, instance_id: str) -> list[str]:
    return [n["subject"] for n in engine.handlers.outbox(instance_id)]


def issue(engine: Engine, instance_id: str) -> None:
    work(engine, instance_id, "verify_application", verdict="approve")
    print_cards(engine)
    work(engine, instance_id, "hand_over", handover="store")


def test_a_silver_card_is_verified_produced_handed_over_and_activated(engine: Engine, card) -> None:
    instance = card()
    assert engine.instances.variables(instance.id)["cardType"] == "silver"
    issue(engine, instance.id)
    engine.messages.correlate("card-activated", business_key="C-1")
    assert engine.instances.variables(instance.id)["cardStatus"] == "active"
    assert told(engine, instance.id) == ["Your card is ready"]
    assert engine.handlers.outbox(instance.id)[0]["body"] == "Dear Eva Moss, your silver card 4100-C-1 is ready."


def test_gold_needs_a_loyalty_head_and_a_refusal_offers_silver(engine: Engine, card) -> None:
    gold = card("C-2", spend12m=8000, tenureMonths=30)
    [approval] = engine.tasks.list(instance_id=gold.id)
    assert (approval.task_definition_key, approval.candidate_groups) == ("approve_gold", ["loyalty-heads"])
    work(engine, gold.id, "approve_gold", goldApproved=False)
    assert engine.instances.variables(gold.id)["cardType"] == "silver"
    [offer] = engine.handlers.outbox(gold.id)  # the client asked for gold: told before the silver card comes
    assert (offer["recipient"], offer["subject"]) == ("eva@moss.test", "Your card application")
    assert offer["body"].startswith("Dear Eva Moss, we cannot offer you a gold card at this time. We offer you a silver")
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=gold.id)] == ["verify_application"]
    approved = card("C-3", spend12m=8000, tenureMonths=30)
    work(engine, approved.id, "approve_gold", goldApproved=True)
    assert engine.instances.variables(approved.id)["cardType"] == "gold"
    assert engine.instances.variables(card("C-4", spend12m=10, tenureMonths=1).id)["cardType"] == "standard"


def test_a_rejected_application_tells_the_client_why(engine: Engine, card) -> None:
    instance = card()
    work(engine, instance.id, "verify_application", verdict="reject", rejectReason="the address is incomplete")
    assert engine.instances.get(instance.id).state == "COMPLETED"
    [note] = engine.handlers.outbox(instance.id)
    assert note["body"] == "Dear Eva Moss, we cannot issue your card: the address is incomplete."


def test_a_rejection_without_a_reason_is_not_sent_broken_to_the_client(engine: Engine, card, clock) -> None:
    """The reason field comes filled with a general reason; emptied, the notice waits with an error naming the
    variable (it went out as "we cannot issue your card: {rejectReason}.") until someone sets it and retries."""
    form = {f["id"]: f for f in open_task(engine, card("C-7").id, "verify_application").form}
    assert form["rejectReason"]["defaultValue"] == "your application did not meet our criteria"

    instance = card()
    work(engine, instance.id, "verify_application", verdict="reject", rejectReason="")
    assert engine.handlers.outbox(instance.id) == []
    [waiting] = engine.external_tasks.list(instance_id=instance.id)
    assert "needs rejectReason" in waiting["errorMessage"] and waiting["activityId"] == "notify_rejected"
    engine.instances.set_variables(instance.id, {"rejectReason": "the address is incomplete"})
    clock.advance(minutes=2)  # the worker's retry is due
    settle(engine)
    [note] = engine.handlers.outbox(instance.id)
    assert note["body"] == "Dear Eva Moss, we cannot issue your card: the address is incomplete."


def test_an_unused_card_is_reminded_at_30_days_and_blocked_at_60(engine: Engine, card, clock) -> None:
    instance = card()
    issue(engine, instance.id)
    clock.advance(days=30)
    engine.jobs.execute_due()
    settle(engine)
    assert told(engine, instance.id) == ["Your card is ready", "Activate your card"]
    clock.advance(days=30)
    engine.jobs.execute_due()
    settle(engine)
    assert engine.instances.get(instance.id).state == "COMPLETED"
    values = engine.instances.variables(instance.id)
    assert (values["cardStatus"], values["blockReason"]) == ("blocked", "not activated in 60 days")
    assert told(engine, instance.id)[-1] == "Your card is blocked"


def test_activated_after_the_reminder_then_lost_and_blocked(engine: Engine, card, clock) -> None:
    instance = card()
    issue(engine, instance.id)
    clock.advance(days=31)
    engine.jobs.execute_due()
    settle(engine)
    engine.messages.correlate("card-activated", business_key="C-1")
    assert engine.instances.variables(instance.id)["cardStatus"] == "active"
    engine.messages.correlate("block-card", business_key="C-1")
    settle(engine)
    assert engine.instances.variables(instance.id)["blockReason"] == "lost or stolen"
    assert engine.instances.get(instance.id).state == "COMPLETED"


def test_a_card_lost_before_activation_or_during_a_change_of_owner_is_blocked(engine: Engine, card, clock) -> None:
    """A card stolen in the post is blocked before the thief can activate it; so is one reported lost while a new
    owner is being verified: whatever the card waits for is cancelled, and the client is told."""
    in_post = card("C-1")
    issue(engine, in_post.id)  # handed over (sent), not activated yet
    engine.messages.correlate("block-card", business_key="C-1")
    settle(engine)
    assert engine.instances.get(in_post.id).state == "COMPLETED"
    assert engine.jobs.list(instance_id=in_post.id) == []  # the 30-day reminder is gone with the wait
    values = engine.instances.variables(in_post.id)
    assert (values["cardStatus"], values["blockReason"]) == ("blocked", "lost or stolen")
    blocked = engine.handlers.outbox(in_post.id)[-1]
    assert blocked["subject"] == "Your card is blocked"
    assert blocked["body"] == "Dear Eva Moss, your card 4100-C-1 is blocked: lost or stolen."
    with pytest.raises(MismatchingCorrelation, match="card-activated"):  # nothing waits for the activation now
        engine.messages.correlate("card-activated", business_key="C-1")

    changing = card("C-2")
    issue(engine, changing.id)
    engine.messages.correlate("card-activated", business_key="C-2")
    engine.messages.correlate("change-owner", business_key="C-2", variables={"newOwner": "Tom Moss"})
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=changing.id)] == ["verify_new_owner"]
    engine.messages.correlate("block-card", business_key="C-2")
    settle(engine)
    assert engine.tasks.list(instance_id=changing.id) == []
    assert engine.instances.get(changing.id).state == "COMPLETED"
    assert engine.instances.variables(changing.id)["client"] == "Eva Moss"  # the change never went through


def test_a_change_of_owner_is_verified_and_recorded(engine: Engine, card) -> None:
    instance = card()
    issue(engine, instance.id)
    engine.messages.correlate("card-activated", business_key="C-1")
    engine.messages.correlate("change-owner", business_key="C-1", variables={"newOwner": "Tom Moss"})
    work(engine, instance.id, "verify_new_owner", ownerChangeApproved=False)  # refused: nothing changes
    assert engine.instances.variables(instance.id)["client"] == "Eva Moss"
    engine.messages.correlate("change-owner", business_key="C-1", variables={"newOwner": "Tom Moss"})
    work(engine, instance.id, "verify_new_owner", ownerChangeApproved=True, newOwnerEmail="tom@moss.test")
    values = engine.instances.variables(instance.id)
    assert (values["client"], values["previousOwner"]) == ("Tom Moss", "Eva Moss")
    moved = engine.handlers.outbox(instance.id)[-1]  # the previous owner hears of it (a change they did not ask for)
    assert (moved["subject"], moved["recipient"]) == ("Your card has a new owner", "eva@moss.test")
    assert moved["body"] == ("Dear Eva Moss, your card 4100-C-1 now belongs to its new owner, as asked. If you did "
                             "not ask for this, tell us at once.")
    assert [n["subject"] for n in engine.handlers.outbox(instance.id)].count("Your card has a new owner") == 1
    assert engine.instances.get(instance.id).state == "ACTIVE"  # still active, waiting for what comes next
    # the card's notices go to its new owner (the block notice went to the previous owner's address)
    engine.messages.correlate("block-card", business_key="C-1")
    settle(engine)
    blocked = engine.handlers.outbox(instance.id)[-1]
    assert (blocked["subject"], blocked["recipient"]) == ("Your card is blocked", "tom@moss.test")


def test_a_change_of_owner_without_the_new_owner_is_refused_by_its_form(engine: Engine, card) -> None:
    # approving it failed in the script with "NameError: name 'newOwner' is not defined"
    instance = card()
    issue(engine, instance.id)
    engine.messages.correlate("card-activated", business_key="C-1")
    engine.messages.correlate("change-owner", business_key="C-1")
    with pytest.raises(InvalidVariables, match="newOwner"):
        work(engine, instance.id, "verify_new_owner", ownerChangeApproved=True)
    work(engine, instance.id, "verify_new_owner", ownerChangeApproved=True, newOwner="Tom Moss")
    assert engine.instances.variables(instance.id)["client"] == "Tom Moss"
    assert engine.jobs.incidents(instance_id=instance.id) == []


def test_a_start_without_what_the_form_defaults_is_rated_as_the_form_would(engine: Engine, card) -> None:
    # a start that left out tenureMonths failed in the rules: "cannot resolve identifier 'tenureMonths'"
    engine.definitions.deploy_files([PROCESSES / "card_issuance.bpmn", PROCESSES / "card_rules.dmn"])
    instance = engine.instances.start("card_issuance", business_key="C-9", variables={
        "client": "Dan", "customerEmail": "dan@x.test"})
    values = engine.instances.variables(instance.id)
    assert (values["spend12m"], values["tenureMonths"]) == (0, 0) and values["cardType"]


def test_a_production_failure_with_no_retry_left_is_an_incident(engine: Engine, card) -> None:
    instance = card()
    work(engine, instance.id, "verify_application", verdict="approve")
    print_cards(engine, fail=True)
    [incident] = engine.jobs.incidents(instance_id=instance.id)
    assert (incident["incidentType"], incident["activityId"]) == ("failedExternalTask", "produce_card")


def test_the_example_production_worker_prints_the_card_over_http(engine: Engine, card, server: str) -> None:
    instance = card()
    work(engine, instance.id, "verify_application", verdict="approve")
    env = {**os.environ, "STAGEFLOW_URL": server, "STAGEFLOW_USER": "admin", "STAGEFLOW_PASSWORD": PASSWORD}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "card_production_worker.py"), "--once"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert engine.instances.variables(instance.id)["cardNumber"].startswith("4100")
    settle(engine)
    assert told(engine, instance.id) == ["Your card is ready"]
