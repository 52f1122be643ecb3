"""Built-in workers for a few external-task topics, run inside the engine's scheduler.

A process asks for work the Camunda way, with a service task of `camunda:type="external"`; for these topics the
engine itself is the worker (an outside worker on the same topic would compete for the tasks, as any two workers
do):

- `notify-customer`, `notify-manager`: record a notification in the outbox (`OutboxMessage`) that the instance page
  shows, and that `mailer.Mailer` sends by e-mail when an SMTP server is configured. The subject is the task's
  name, the body its documentation with `{variable}` placeholders filled in; the recipient is the `customerEmail`
  variable for customers (a variable of the task's own scope first: an input parameter can address another
  person) and `manager` for managers. A customer notice with no e-mail address, or with a placeholder the
  instance has not set, is not recorded: its task fails, naming what is missing.
- `start-process`: start the latest version of the process named by the `processKey` variable (or the task's
  documentation), with the caller's business key and variables, and set `startedInstanceId`.
- `register-client`: find the client by the `customerEmail` variable in the client register, or register them;
  sets `clientId`, `purchases` and `monthsSinceLastPurchase` (for the `client_category` decision).
- `record-purchase`: count a purchase of the `clientId` client (purchases + 1, last purchase now).

A handler that fails is reported as a failure with the retries counted down (three tries, a minute apart), then
an incident, like any external worker's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import BadRequest, StageflowError
from .external_tasks import TopicRequest
from .ids import new_id
from .placeholders import fill, gaps
from .store import models as m
from .variables import from_typed_map
from .views import iso

if TYPE_CHECKING:
    from .api import Engine

log = logging.getLogger("stageflow.handlers")

WORKER_ID = "stageflow-builtin"
LOCK_MS = 5 * 60 * 1000
TRIES = 3
RETRY_MS = 60 * 1000

# what a handler returns: the variables to complete the task with, and its own effect to write in that transaction
Outcome = tuple[dict[str, Any], Callable[[Session], None] | None]


class BuiltinHandlers:
    """The engine's own workers for `notify-customer`, `notify-manager` and `start-process`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.handlers: dict[str, Callable[[dict[str, Any], dict[str, Any]], Outcome]] = {
            "notify-customer": lambda task, values: self._notify(task, values, "customer"),
            "notify-manager": lambda task, values: self._notify(task, values, "manager"),
            "start-process": self._start_process,
            "register-client": self._register_client,
            "record-purchase": self._record_purchase,
        }

    def run(self, limit: int = 50) -> int:
        """Work up to `limit` waiting tasks of the built-in topics; returns how many were completed."""
        eng = self.engine
        topics = [TopicRequest(topic, LOCK_MS) for topic in self.handlers]
        done = 0
        for task in eng.external_tasks.fetch_and_lock(WORKER_ID, limit, topics):
            try:
                values = from_typed_map(task["variables"])  # typed as fetched: a Date stays a date, not its text
                output, also = self.handlers[task["topicName"]](task, values)
                eng.external_tasks.complete(task["id"], WORKER_ID, output, also=also)
                done += 1
            except StageflowError as err:
                retries = (task["retries"] if task["retries"] is not None else TRIES) - 1
                log.warning("built-in worker %s failed on task %s of instance %s at element %s: %s",
                            task["topicName"], task["id"], task["processInstanceId"], task["activityId"],
                            err.message)
                eng.external_tasks.failure(task["id"], WORKER_ID, err.message, retries=max(retries, 0),
                                           retry_timeout_ms=RETRY_MS)
        return done

    def _element(self, task: dict[str, Any]) -> tuple[str, str]:
        """(name, documentation) of the task's element."""
        with self.engine.db.read() as session:
            compiled = self.engine.definitions.for_instance(session, task["processDefinitionId"],
                                                            task.get("processInstanceId"))
        info = compiled.element_by_id(task["activityId"])
        name = (info.name if info is not None else None) or task["activityId"]
        return name, (info.documentation if info is not None else None) or ""

    def _notify(self, task: dict[str, Any], values: dict[str, Any], audience: str) -> Outcome:
        name, documentation = self._element(task)
        # the customer's e-mail address (never the customer's name); the manager, or who holds the instance's open task
        recipient = values.get("customerEmail") if audience == "customer" \
            else values.get("manager") or self._task_holder(task["processInstanceId"])
        if audience == "customer":  # a customer never gets "Dear {contact}" or "your card None": the notice waits
            _check_address(fill(name, values), recipient)
            missing = gaps(name + "\n" + documentation, values)
            if missing:
                raise BadRequest(f"the customer notice '{name}' needs {', '.join(missing)}, which the instance has not "
                                 f"set or left empty: set {'it' if len(missing) == 1 else 'them'} and retry")
        subject = fill(name, values)
        body = fill(documentation or name, values)
        now = self.engine.clock.now()

        def record(session: Session) -> None:  # written with the completion: one notification per completion
            session.add(m.OutboxMessage(id=new_id(), instance_id=task["processInstanceId"],
                                        definition_key=task["processDefinitionKey"],
                                        business_key=task["businessKey"], element_id=task["activityId"],
                                        topic=task["topicName"], recipient=str(recipient) if recipient else None,
                                        subject=subject[:500], body=body, created_at=now, sent_at=None,
                                        error=None))
            log.info("notified %s %s: %s (instance %s, element %s)", audience, recipient or "(nobody)", subject,
                     task["processInstanceId"], task["activityId"])
        return {}, record

    def _task_holder(self, instance_id: str) -> str | None:
        """Who holds an open task of the instance (a deal with no manager is worked by whoever claimed its stage)."""
        with self.engine.db.read() as session:
            return session.scalars(select(m.HumanTask.assignee).where(
                m.HumanTask.instance_id == instance_id, m.HumanTask.ended_at.is_(None),
                m.HumanTask.assignee.is_not(None)).order_by(m.HumanTask.created_at).limit(1)).first()

    def _start_process(self, task: dict[str, Any], values: dict[str, Any]) -> Outcome:
        _, documentation = self._element(task)
        key = values.get("processKey") or documentation.strip()
        if not key:
            raise BadRequest("start-process needs a processKey variable or the process key in the documentation")
        started = self.engine.instances.start(str(key), business_key=task["businessKey"], variables=values)
        log.info("instance %s at element %s started process %s as instance %s", task["processInstanceId"],
                 task["activityId"], key, started.id)
        return {"startedInstanceId": started.id}, None

    def _register_client(self, task: dict[str, Any], values: dict[str, Any]) -> Outcome:
        email = str(values.get("customerEmail") or "").strip().lower()
        if not email:
            raise BadRequest("register-client needs a customerEmail variable")
        now = self.engine.clock.now()
        with self.engine.db.write() as session:
            client = session.scalars(select(m.Client).where(m.Client.email == email)).first()
            if client is None:
                client = m.Client(id=new_id(), email=email, name=values.get("customer"),
                                  region=values.get("region"), purchases=0, last_purchase_at=None, created_at=now)
                session.add(client)
                log.info("registered client %s (%s) for instance %s", client.id, email, task["processInstanceId"])
            last = client.last_purchase_at
            months = 0 if last is None else _whole_months(last, now)
            return {"clientId": client.id, "purchases": client.purchases, "monthsSinceLastPurchase": months}, None

    def _record_purchase(self, task: dict[str, Any], values: dict[str, Any]) -> Outcome:
        client_id = values.get("clientId")
        if not client_id:
            raise BadRequest("record-purchase needs a clientId variable")
        now = self.engine.clock.now()

        def record(session: Session) -> None:  # counted with the completion: once per order
            client = session.get(m.Client, client_id)
            if client is None:
                raise BadRequest(f"client '{client_id}' is not in the client register")
            client.purchases += 1
            client.last_purchase_at = now
        return {"purchases": int(values.get("purchases") or 0) + 1, "monthsSinceLastPurchase": 0}, record

    def client(self, email: str) -> dict[str, Any] | None:
        """The register's entry of a client, by e-mail."""
        with self.engine.db.read() as session:
            row = session.scalars(select(m.Client).where(m.Client.email == email.strip().lower())).first()
            if row is None:
                return None
            return {"id": row.id, "email": row.email, "name": row.name, "region": row.region,
                    "purchases": row.purchases, "lastPurchase": iso(row.last_purchase_at)}

    def outbox(self, instance_id: str) -> list[dict[str, Any]]:
        """The notifications an instance sent, oldest first."""
        with self.engine.db.read() as session:
            rows = session.scalars(select(m.OutboxMessage).where(m.OutboxMessage.instance_id == instance_id)
                                   .order_by(m.OutboxMessage.seq)).all()
            return [{"id": r.id, "activityId": r.element_id, "topic": r.topic, "recipient": r.recipient,
                     "subject": r.subject, "body": r.body, "time": iso(r.created_at), "sentAt": iso(r.sent_at),
                     "attempts": r.attempts, "error": r.error} for r in rows]


def _check_address(notice: str, address: Any) -> None:
    """Refuse a customer notice that would go nowhere (the mailer sends only to an address with an `@`): recorded
    with no recipient, the instance would go on as if the customer had been told (a proposal waiting for an answer
    that was never sent)."""
    if address is None or (isinstance(address, str) and not address.strip()):
        raise BadRequest(f"the customer notice '{notice}' has no e-mail address: set customerEmail and retry")
    if not isinstance(address, str) or "@" not in address:
        raise BadRequest(f"the customer notice '{notice}' cannot go to customerEmail {address!r}, which is not an "
                         f"e-mail address: correct it and retry")


def _whole_months(since: datetime, until: datetime) -> int:
    """Calendar months from `since` to `until`, whole ones only (5 March to 4 March a year later: 11): a year is 12,
    where 30-day months made 380 days 12 and a year 12 only from day 360 on. Both are aware (the register's
    column comes back in UTC, the clock's moments have their zone)."""
    gap = relativedelta(until, since)
    return max(0, gap.years * 12 + gap.months)
