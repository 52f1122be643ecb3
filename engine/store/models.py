"""The database schema: SQLAlchemy 2 typed models.

Instance state lives in `ProcessInstance.runtime` (SpiffWorkflow's runtime, without the spec). Everything else an
operator or a client queries is a projection written in the same transaction: human tasks, jobs (timers), external
tasks, event subscriptions (messages, signals), variables and history. Schema changes go through Alembic
(`engine/store/migrations`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import text
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every database (SQLite stores naive text; it comes back aware)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict: JSON, list: JSON}


ID = String(64)


class Deployment(Base):
    __tablename__ = "deployment"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str | None] = mapped_column(String(255))
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    deployed_at: Mapped[datetime]


class Resource(Base):
    """A file of a deployment, byte for byte as uploaded."""

    __tablename__ = "resource"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)


class ProcessDefinition(Base):
    """One version of one executable process (key = the BPMN process id)."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_process_definition_key_version"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(255))
    version_tag: Mapped[str | None] = mapped_column(String(255))
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"), index=True)
    resource_name: Mapped[str] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64))
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    startable: Mapped[bool] = mapped_column(Boolean, default=True)
    has_start_form: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[dict] = mapped_column(JSON, default=dict)


class DecisionDefinition(Base):
    """One version of one DMN decision (key = the decision id)."""

    __tablename__ = "decision_definition"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_decision_definition_key_version"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(255))
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"), index=True)
    resource_name: Mapped[str] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64))


class DecisionInstance(Base):
    """One evaluation of one DMN decision, kept as history (Camunda's historic decision instance): by a business
    rule task of an instance, or on its own through the API (no instance). A decision that required others is the
    root of their evaluations (`root_id`). `inputs` and `outputs` hold the typed values with their columns."""

    __tablename__ = "decision_instance"
    __table_args__ = (Index("ix_decision_instance_definition", "decision_key", "evaluated_at"),
                      Index("ix_decision_instance_evaluated", "evaluated_at"))

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)  # order
    id: Mapped[str] = mapped_column(ID, unique=True)
    decision_definition_id: Mapped[str | None] = mapped_column(String(64))
    decision_key: Mapped[str] = mapped_column(String(255))
    decision_name: Mapped[str | None] = mapped_column(String(255))
    root_id: Mapped[str | None] = mapped_column(String(64), index=True)
    instance_id: Mapped[str | None] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), index=True
    )
    process_definition_id: Mapped[str | None] = mapped_column(String(64))
    process_definition_key: Mapped[str | None] = mapped_column(String(255))
    element_id: Mapped[str | None] = mapped_column(String(255))
    task_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(255))
    evaluated_at: Mapped[datetime]
    inputs: Mapped[list] = mapped_column(JSON, default=list)
    outputs: Mapped[list] = mapped_column(JSON, default=list)
    collect_result: Mapped[dict | None] = mapped_column(JSON)


class ProcessInstance(Base):
    """A process instance; `runtime` is the serialized SpiffWorkflow state, `version` guards every write."""

    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_instance_key_business_key", "definition_key", "business_key"),
        # the running and suspended instances by state (queries by those states say `ended_at IS NULL` too): an
        # instance enters it at its start and leaves it at its end; an index of every state grew with every
        # instance ever run, and took three pages a run to write (0019)
        Index("ix_instance_unfinished", "state", "started_at", postgresql_where=text("ended_at IS NULL"),
              sqlite_where=text("ended_at IS NULL")),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    definition_id: Mapped[str] = mapped_column(ForeignKey("process_definition.id"), index=True)
    definition_key: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32))  # ACTIVE, SUSPENDED, COMPLETED, CANCELED, FAILED
    version: Mapped[int] = mapped_column(Integer, default=1)
    serializer_version: Mapped[str] = mapped_column(String(16))
    runtime: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    start_user: Mapped[str | None] = mapped_column(String(255))
    delete_reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    # the versions of the processes it calls, when not those its definition was deployed with (key -> definition id)
    bindings: Mapped[dict | None] = mapped_column(JSON)


class Variable(Base):
    """A process variable of an instance (its top scope), projected for queries and correlation."""

    __tablename__ = "variable"
    __table_args__ = (Index("ix_variable_name_text", "name", "text_value"),)

    instance_id: Mapped[str] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))  # Camunda type: String, Boolean, Long, Double, Date, Json, Null
    text_value: Mapped[str | None] = mapped_column(String(4000))
    number_value: Mapped[float | None] = mapped_column(Float)
    value: Mapped[str] = mapped_column(Text)  # the JSON encoding, as stored in the runtime
    created_at: Mapped[datetime | None]  # first set (Camunda's historic createTime); null: set before 0011


class HumanTask(Base):
    """A user task waiting for (or done by) a person; `ended_at` is set when it is completed or cancelled."""

    __tablename__ = "human_task"
    __table_args__ = (
        # the inbox: open (unclaimed) tasks newest first, read in index order until a page is full, from partial
        # indexes of the open tasks (a composite index on ended_at, assignee, created_at served SQLite alone, as
        # PostgreSQL does not read its `IS NULL` columns as fixing the order; dropped in migration 0009)
        Index("ix_task_open_unassigned_created", "created_at",
              postgresql_where=text("ended_at IS NULL AND assignee IS NULL"),
              sqlite_where=text("ended_at IS NULL AND assignee IS NULL")),
        Index("ix_task_open_created", "created_at", postgresql_where=text("ended_at IS NULL"),
              sqlite_where=text("ended_at IS NULL")),
        # "My tasks": an index of the assigned open tasks only, so that SQLite's statistics are about them (0005)
        Index("ix_task_open_assigned", "assignee", "created_at",
              postgresql_where=text("ended_at IS NULL AND assignee IS NOT NULL"),
              sqlite_where=text("ended_at IS NULL AND assignee IS NOT NULL")),
        Index("ix_task_instance", "instance_id"),
        # the few tasks with variables of their own, for `/variable-instance` across instances (0018): a task
        # created without any is not in it, so the hot path writes no page of it
        Index("ix_task_with_local_variables", "id", postgresql_where=text("local_variables IS NOT NULL"),
              sqlite_where=text("local_variables IS NOT NULL")),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    definition_id: Mapped[str] = mapped_column(String(64))
    definition_key: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255))
    element_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(String(255))
    owner: Mapped[str | None] = mapped_column(String(255))  # who delegated it (Camunda's owner)
    delegation_state: Mapped[str | None] = mapped_column(String(16))  # None, PENDING, RESOLVED (as Camunda's)
    candidate_users: Mapped[list] = mapped_column(JSON, default=list)
    candidate_groups: Mapped[list] = mapped_column(JSON, default=list)
    due: Mapped[datetime | None]
    follow_up: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(Integer, default=50)
    form: Mapped[list] = mapped_column(JSON, default=list)
    form_key: Mapped[str | None] = mapped_column(Text)  # camunda:formKey (an embedded or external form's address)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))  # completed, cancelled
    completed_by: Mapped[str | None] = mapped_column(String(255))
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    # Camunda's task-local variables (typed, by name): the task's own, never the instance's; an open task's are
    # read through it, an ended task's are its last values (history). None is SQL NULL: no variables
    local_variables: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))


class IdentityLink(Base):
    """A candidate user or group of an active human task; indexed for inbox queries."""

    __tablename__ = "identity_link"
    __table_args__ = (
        Index("ix_identity_group", "group_id"),
        Index("ix_identity_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(String(255))
    group_id: Mapped[str | None] = mapped_column(String(255))


class EventSubscription(Base):
    """An instance waiting for a message or signal (or a message start event of a definition)."""

    __tablename__ = "event_subscription"
    __table_args__ = (Index("ix_subscription_type_name", "event_type", "name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(16))  # message, signal
    name: Mapped[str] = mapped_column(String(255))
    instance_id: Mapped[str | None] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), index=True
    )
    definition_id: Mapped[str | None] = mapped_column(String(64), index=True)
    element_id: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]


class Job(Base):
    """Something due later or in the background: a timer, an async continuation, a retry."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_due", "due_at", "retries"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    job_type: Mapped[str] = mapped_column(String(32))  # timer, timer-start, async
    instance_id: Mapped[str | None] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), index=True
    )
    definition_id: Mapped[str | None] = mapped_column(String(64))
    element_id: Mapped[str] = mapped_column(String(255))
    task_id: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime | None]
    timer_kind: Mapped[str | None] = mapped_column(String(16))  # date, duration, cycle
    repeat: Mapped[str | None] = mapped_column(String(255))
    retries: Mapped[int] = mapped_column(Integer, default=3)
    lock_owner: Mapped[str | None] = mapped_column(String(255))
    lock_expires_at: Mapped[datetime | None]
    exception: Mapped[str | None] = mapped_column(Text)
    # where the last try failed (Camunda's failedActivityId): a timer's next step, a continuation's element
    failed_element_id: Mapped[str | None] = mapped_column(String(255))
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class ExternalTask(Base):
    """A service task of `camunda:type="external"` waiting for a worker of its topic."""

    __tablename__ = "external_task"
    __table_args__ = (Index("ix_external_topic", "topic", "lock_expires_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    definition_id: Mapped[str] = mapped_column(String(64))
    definition_key: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255))
    element_id: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int | None] = mapped_column(Integer)
    worker_id: Mapped[str | None] = mapped_column(String(255))
    lock_expires_at: Mapped[datetime | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[str | None] = mapped_column(Text)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class Incident(Base):
    """A failure that needs a person: a script that raised, a job out of retries."""

    __tablename__ = "incident"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    incident_type: Mapped[str] = mapped_column(String(64))  # failedJob, failedExternalTask, failedScript
    instance_id: Mapped[str | None] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), index=True
    )
    definition_id: Mapped[str | None] = mapped_column(String(64))
    element_id: Mapped[str | None] = mapped_column(String(255))
    job_id: Mapped[str | None] = mapped_column(String(64))
    failed_element_id: Mapped[str | None] = mapped_column(String(255))  # None: `element_id` (see Job)
    message: Mapped[str | None] = mapped_column(Text)  # None: a worker's failure with no errorMessage
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class HistoryEvent(Base):
    """One step of an instance: an element started, completed or cancelled, by whom and when."""

    __tablename__ = "history_event"
    __table_args__ = (Index("ix_history_instance", "instance_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    element_id: Mapped[str] = mapped_column(String(255))
    element_type: Mapped[str] = mapped_column(String(64))
    element_name: Mapped[str | None] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(String(32))  # started, completed, cancelled, message, signal, error
    task_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime]
    details: Mapped[dict | None] = mapped_column(JSON)


class UserAccount(Base):
    """A person or a client that signs in: the inbox, the REST API (HTTP Basic) and API tokens."""

    __tablename__ = "user_account"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # since the last success
    locked_until: Mapped[datetime | None]  # no sign-in before this time (after several wrong passwords)


class GroupMembership(Base):
    """A user's membership of a group (`admins` may see and do everything)."""

    __tablename__ = "group_membership"

    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)


class UserSession(Base):
    """A signed-in session of the inbox: its cookie names it (only its SHA-256 is stored); signing out deletes it,
    so the cookie no longer signs anyone in, wherever it was copied to."""

    __tablename__ = "user_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)


class ApiToken(Base):
    """A bearer token for the REST API; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class TaskComment(Base):
    """A comment on a task, kept after the task ends."""

    __tablename__ = "task_comment"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64), index=True)
    instance_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class IdempotentStart(Base):
    """The instance a start request with an `Idempotency-Key` created, so that a repeated request returns it."""

    __tablename__ = "idempotent_start"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class OutboxMessage(Base):
    """A notification a process sent (a customer told their order shipped, a manager reminded of a deadline)."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_instance", "instance_id", "seq"),
                      Index("ix_outbox_unsent", "sent_at", "next_attempt_at"))

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)  # send order
    id: Mapped[str] = mapped_column(ID, unique=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    definition_key: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255))
    element_id: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255))
    recipient: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]  # delivered by e-mail (stays empty when no SMTP server is configured)
    error: Mapped[str | None] = mapped_column(Text)  # the last delivery failure
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]  # not before then: a retry's wait, or another sender's claim
    sender: Mapped[str | None] = mapped_column(String(255))  # a mail task's `from` (else the configured sender)
    cc: Mapped[str | None] = mapped_column(Text)  # a mail task's copies, comma-separated
    bcc: Mapped[str | None] = mapped_column(Text)  # a mail task's blind copies, comma-separated
    html: Mapped[str | None] = mapped_column(Text)  # a mail task's HTML body (sent beside or instead of the text)


class Client(Base):
    """A customer in the client register: found by e-mail, or registered by an order."""

    __tablename__ = "client"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    region: Mapped[str | None] = mapped_column(String(64))
    purchases: Mapped[int] = mapped_column(Integer, default=0)
    last_purchase_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
