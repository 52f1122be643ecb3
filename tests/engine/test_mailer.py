"""Customer notifications mailed through a real SMTP server (aiosmtpd on a local port), on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

from engine.api import Engine
from engine.clock import VirtualClock
from engine.mailer import MAX_ATTEMPTS
from engine.scheduler import TimerScheduler
from engine.views import iso
from tests.helpers import bpmn, chain

NOTIFYING = bpmn("""
<bpmn:startEvent id="s"/>
<bpmn:serviceTask id="tell_received" name="Order {orderNo} received" camunda:type="external"
                  camunda:topic="notify-customer">
  <bpmn:documentation>Dear {customer}, we have your order {orderNo}.</bpmn:documentation>
</bpmn:serviceTask>
<bpmn:serviceTask id="tell_manager" name="New order {orderNo}" camunda:type="external"
                  camunda:topic="notify-manager"/>
<bpmn:endEvent id="e"/>
""" + chain("s", "tell_received", "tell_manager", "e"), "notifying")


class Inbox:
    """An SMTP server's mailbox: accepts mail, or refuses recipients while `refusing` is set."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []
        self.refusing = False
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def] # noqa: N802
        if self.refusing:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def] # noqa: N802
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    def messages(self):  # type: ignore[no-untyped-def]
        return [message_from_bytes(content) for _, content in self.received]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def mailing(engine: Engine, clock: VirtualClock, smtp) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """An engine on the test's database that mails through the test's SMTP server."""
    _, port = smtp
    eng = Engine(replace(engine.settings, smtp_host="127.0.0.1", smtp_port=port, smtp_from="Shop <shop@example.test>"),
                 clock=clock)
    yield eng
    eng.close()


def order(engine: Engine, number: str = "O-7", email: str = "ann@example.test") -> str:
    engine.definitions.deploy([("notifying.bpmn", NOTIFYING)])
    instance = engine.instances.start("notifying", business_key=number,
                                      variables={"orderNo": number, "customer": "Ann Lee", "customerEmail": email,
                                                 "manager": "john"})
    while engine.handlers.run():
        pass
    return instance.id


def test_a_customer_notification_is_mailed_once_and_the_outbox_shows_it_sent(mailing: Engine, smtp, clock) -> None:
    inbox, _ = smtp
    instance_id = order(mailing)
    assert mailing.mailer.deliver() == 1
    assert mailing.mailer.deliver() == 0  # nothing left: the manager's notification names a user, not an address
    [(to, _)] = inbox.received
    [mail] = inbox.messages()
    assert to == ["ann@example.test"]
    assert (mail["From"], mail["To"], mail["Subject"]) == ("Shop <shop@example.test>", "ann@example.test",
                                                           "Order O-7 received")
    assert mail.get_payload().strip() == "Dear Ann Lee, we have your order O-7."
    customer, manager = mailing.handlers.outbox(instance_id)
    assert mail["Message-ID"] == f"<{customer['id']}@stageflow>"
    assert customer["sentAt"] == iso(clock.now())
    assert (customer["attempts"], customer["error"]) == (1, None)
    assert (manager["recipient"], manager["sentAt"], manager["attempts"]) == ("john", None, 0)


def test_without_an_smtp_server_configured_nothing_is_mailed(engine: Engine, smtp) -> None:
    inbox, _ = smtp
    instance_id = order(engine)
    assert engine.mailer.deliver() == 0
    assert inbox.received == []
    assert [n["sentAt"] for n in engine.handlers.outbox(instance_id)] == [None, None]


def test_a_refused_mail_is_retried_later_and_given_up_after_the_last_attempt(mailing: Engine, smtp,
                                                                            clock: VirtualClock) -> None:
    inbox, _ = smtp
    instance_id = order(mailing)
    inbox.refusing = True
    assert mailing.mailer.deliver() == 0
    [customer, _] = mailing.handlers.outbox(instance_id)
    assert customer["attempts"] == 1 and "mailbox unavailable" in customer["error"]
    assert mailing.mailer.deliver() == 0 and mailing.handlers.outbox(instance_id)[0]["attempts"] == 1  # waits
    clock.advance(minutes=1)
    inbox.refusing = False
    assert mailing.mailer.deliver() == 1
    customer = mailing.handlers.outbox(instance_id)[0]
    assert (customer["attempts"], customer["error"]) == (2, None) and customer["sentAt"]
    assert len(inbox.received) == 1

    second = order(mailing, "O-8", "bob@example.test")
    inbox.refusing = True
    for _ in range(MAX_ATTEMPTS + 2):
        mailing.mailer.deliver()
        clock.advance(hours=3)
    customer = mailing.handlers.outbox(second)[0]
    assert customer["attempts"] == MAX_ATTEMPTS and customer["sentAt"] is None
    assert "mailbox unavailable" in customer["error"]


def test_an_unreachable_smtp_server_counts_an_attempt_and_loses_nothing(engine: Engine, clock: VirtualClock) -> None:
    down = Engine(replace(engine.settings, smtp_host="127.0.0.1", smtp_port=free_port()), clock=clock)
    try:
        instance_id = order(down)
        assert down.mailer.deliver() == 0
        [customer, _] = down.handlers.outbox(instance_id)
        assert customer["attempts"] == 1 and "cannot reach the SMTP server 127.0.0.1" in customer["error"]
        assert customer["sentAt"] is None
    finally:
        down.close()


def test_two_senders_at_once_mail_each_notification_once(mailing: Engine, engine: Engine, smtp,
                                                         clock: VirtualClock) -> None:
    inbox, port = smtp
    for number in range(12):
        order(mailing, f"O-{number}", f"c{number}@example.test")
    other = Engine(replace(engine.settings, smtp_host="127.0.0.1", smtp_port=port), clock=clock)
    try:
        barrier = threading.Barrier(2)
        sent: list[int] = []

        def send(eng: Engine) -> None:
            barrier.wait()
            while (count := eng.mailer.deliver(limit=3)):
                sent.append(count)

        threads = [threading.Thread(target=send, args=(e,)) for e in (mailing, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        other.close()
    recipients = sorted(to[0] for to, _ in inbox.received)
    assert recipients == sorted(f"c{n}@example.test" for n in range(12))
    assert sum(sent) == 12
    clock.advance(timedelta(hours=1))
    assert mailing.mailer.deliver() == 0


def test_the_scheduler_tick_works_the_notification_and_mails_it(mailing: Engine, smtp) -> None:
    inbox, _ = smtp
    mailing.definitions.deploy([("notifying.bpmn", NOTIFYING)])
    mailing.instances.start("notifying", variables={"orderNo": "O-9", "customer": "Bo", "customerEmail": "bo@x.test",
                                                    "manager": "john"})
    TimerScheduler(mailing).tick()
    assert [m["Subject"] for m in inbox.messages()] == ["Order O-9 received"]
