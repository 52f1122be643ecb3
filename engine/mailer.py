"""E-mail delivery of the outbox: customer notifications sent through an SMTP server, when one is configured.

A notification is written to the outbox in the transaction that completes its service task, so it exists exactly
once. Delivery comes after, from the scheduler's tick: a sender claims a few unsent rows in one short transaction
(it sets their `next_attempt_at` past the claim's end, so another sender on the same database leaves them alone),
sends each, and records the outcome. A failed send is retried with a growing wait, up to `MAX_ATTEMPTS`, then
stays unsent with its error (the instance page shows it). Delivery is at least once: a sender killed between the
SMTP server's acceptance and the database's record sends that message again once the claim expires, with the same
`Message-ID`, by which mail systems drop the copy.

Only recipients that are e-mail addresses are mailed (a manager's notification names a user, who reads it in the
inbox). A mail task (`camunda:type="mail"`, engine/spiff/parser.py `MailTaskSpec`) writes its letter here too, with
its own sender, copies, blind copies and HTML body when it has them.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from .store import models as m

if TYPE_CHECKING:
    from .api import Engine

log = logging.getLogger("stageflow.mailer")

MAX_ATTEMPTS = 5
CLAIM = timedelta(minutes=5)  # longer than any send takes (the SMTP timeout is 10 s per command)


def retry_wait(attempts: int) -> timedelta:
    """The wait before the next try after `attempts` failed ones: 1, 5, 25, 125 minutes."""
    return timedelta(minutes=5 ** (attempts - 1))


@dataclass(frozen=True)
class _Letter:
    id: str
    instance_id: str
    element_id: str
    recipient: str
    subject: str
    body: str
    created_at: datetime
    attempts: int
    sender: str | None = None  # a mail task's own `from`, `cc`, `bcc` and HTML body
    cc: str | None = None
    bcc: str | None = None
    html: str | None = None


class Mailer:
    """Sends the outbox's unsent notifications to e-mail recipients through the configured SMTP server."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.settings = engine.settings

    @property
    def configured(self) -> bool:
        return bool(self.settings.smtp_host)

    def deliver(self, limit: int = 20) -> int:
        """Send up to `limit` due notifications; returns how many the SMTP server accepted."""
        if not self.configured:
            return 0
        letters = self._claim(limit)
        if not letters:
            return 0
        sent = 0
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as err:
            for letter in letters:
                self._record(letter, f"cannot reach the SMTP server {self.settings.smtp_host}: {err}")
            return 0
        try:
            for letter in letters:
                try:
                    smtp.send_message(self._message(letter))
                except (OSError, smtplib.SMTPException) as err:
                    self._record(letter, str(err) or type(err).__name__)
                else:
                    self._record(letter, None)
                    sent += 1
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
        return sent

    def _claim(self, limit: int) -> list[_Letter]:
        now = self.engine.clock.now()
        with self.engine.db.write() as session:
            rows = session.scalars(
                select(m.OutboxMessage)
                .where(m.OutboxMessage.sent_at.is_(None), m.OutboxMessage.attempts < MAX_ATTEMPTS,
                       m.OutboxMessage.recipient.like("%@%"),
                       or_(m.OutboxMessage.next_attempt_at.is_(None), m.OutboxMessage.next_attempt_at <= now))
                .order_by(m.OutboxMessage.seq).limit(limit).with_for_update(skip_locked=True)).all()
            for row in rows:
                row.next_attempt_at = now + CLAIM
            return [_Letter(r.id, r.instance_id, r.element_id, r.recipient or "", r.subject, r.body, r.created_at,
                            r.attempts, r.sender, r.cc, r.bcc, r.html) for r in rows]

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.smtp_security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            if s.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if s.smtp_user:
            smtp.login(s.smtp_user, s.smtp_password or "")
        return smtp

    def _message(self, letter: _Letter) -> EmailMessage:
        message = EmailMessage()
        message["From"] = letter.sender or self.settings.smtp_from
        message["To"] = letter.recipient
        if letter.cc:
            message["Cc"] = letter.cc
        if letter.bcc:
            message["Bcc"] = letter.bcc  # smtplib mails these addresses and drops the header
        message["Subject"] = letter.subject
        message["Date"] = format_datetime(letter.created_at)
        message["Message-ID"] = f"<{letter.id}@stageflow>"  # the same on a resend: receivers drop the copy
        if letter.html is None:
            message.set_content(letter.body)
        elif letter.body and letter.body != letter.html:  # a mail task with both: text, and HTML as its alternative
            message.set_content(letter.body)
            message.add_alternative(letter.html, subtype="html")
        else:
            message.set_content(letter.html, subtype="html")
        return message

    def _record(self, letter: _Letter, error: str | None) -> None:
        now = self.engine.clock.now()
        attempts = letter.attempts + 1
        with self.engine.db.write() as session:
            row = session.scalars(select(m.OutboxMessage).where(m.OutboxMessage.id == letter.id)).one_or_none()
            if row is None:  # its instance was deleted meanwhile
                return
            row.attempts = attempts
            row.error = error
            if error is None:
                row.sent_at = now
                row.next_attempt_at = None
                log.info("mailed %s: %s (instance %s, element %s)", letter.recipient, letter.subject,
                         letter.instance_id, letter.element_id)
                return
            row.next_attempt_at = now + retry_wait(attempts) if attempts < MAX_ATTEMPTS else None
        if attempts < MAX_ATTEMPTS:
            log.warning("mail to %s failed (attempt %d of %d, next in %s; instance %s, element %s): %s",
                        letter.recipient, attempts, MAX_ATTEMPTS, retry_wait(attempts), letter.instance_id,
                        letter.element_id, error)
        else:
            log.error("mail to %s failed %d times, giving up (instance %s, element %s): %s", letter.recipient,
                      attempts, letter.instance_id, letter.element_id, error)
