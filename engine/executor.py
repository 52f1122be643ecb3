"""The one path that changes an instance, and the projections written with it.

Every change (start, complete a task, deliver a message or signal, fire a timer, cancel) goes through
`Executor.change`: lock the instance row, load its runtime, apply the change, run until every token waits, then
save the runtime and its projections (human tasks, external tasks, timers, subscriptions, variables, history) in
the same transaction, guarded by the instance's version number.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections import namedtuple
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, case, select, update
from sqlalchemy.orm import Session

from .clock import Clock, using_clock
from .decision_history import evaluation_rows
from .dialect import ElementInfo
from .errors import BadRequest, Conflict, DuplicateBusinessKey, NotFound, ScriptError, StageflowError, Suspended
from .expressions import execution_globals, expression_failure, is_expression, text_to_python
from .ids import new_id
from .placeholders import fill
from .runcache import Kept, RunCache, Waits
from .sandbox import ScriptFailure, ScriptSandbox
from .spiff import SERIALIZER_VERSION, CompiledProcess, Run, WaitingTask, timers_held
from .spiff.runtime import check_variables_serializable
from .spiff.scripting import HELPERS
from .store import Database
from .store import models as m
from .store.database import after_commit
from .store.fastpath import FastStatement, fast_insert
from .variables import changed_values, project_variable, too_many_items, transient_now

log = logging.getLogger("stageflow.instances")
T = TypeVar("T")

ACTIVE, SUSPENDED, COMPLETED, CANCELED = "ACTIVE", "SUSPENDED", "COMPLETED", "CANCELED"
KEY_LIMIT = 255  # business keys: the instance table's column, on every database


class StaleInstance(Conflict):
    """Another change to the instance committed first (its version moved): trying again may succeed."""


@dataclass
class InstanceRow:
    """The columns of a `process_instance` row, as a plain object (no ORM bookkeeping on the hot path)."""

    id: str
    definition_id: str
    definition_key: str
    business_key: str | None
    state: str
    version: int
    serializer_version: str
    runtime: str | None
    started_at: datetime
    ended_at: datetime | None
    start_user: str | None
    delete_reason: str | None
    error: str | None
    bindings: dict[str, str] | None = None  # see `Definitions.bound`


@dataclass
class Loaded:
    """An instance row with its running workflow, inside a writing transaction."""

    row: InstanceRow
    run: Run
    before: Waits  # what the run held and waited for when it was last saved
    saved: dict[str, Any] | None = None  # the variables the last `save` wrote (read once, for the caller's answer)

    def variables(self) -> dict[str, Any]:
        """The instance's variables as saved (a copy), or as the run holds them when not saved since the load."""
        return dict(self.saved) if self.saved is not None else self.run.variables()


class Executor:
    """Loads, changes and saves instances; see the module docstring."""

    def __init__(self, db: Database, clock: Clock, sandbox: ScriptSandbox, definitions: Any,
                 unique_business_key: bool = False) -> None:
        self.db = db
        self.clock = clock
        self.sandbox = sandbox
        self.definitions = definitions
        self.unique_business_key = unique_business_key
        self.broadcast: Callable[[str, dict[str, Any]], Any] | None = None
        # binds a business rule task's decisionRef when it runs (engine.decisions.Decisions.bound)
        self.resolve_decision: Callable[[str, str, str | None], Any] | None = None
        self.runs = RunCache()  # the live workflows of the instances this process changed last

    # -- start ----------------------------------------------------------------------------------------------
    def start(self, session: Session, definition: m.ProcessDefinition, *, business_key: str | None,
              variables: dict[str, Any], user: str | None = None, unique: bool | None = None,
              trigger: tuple[str, str] | None = None) -> Loaded:
        """Create an instance of `definition` and run it to its first wait; the caller's transaction saves.

        `trigger` (`("message", name)`, `("signal", name)` or `("timer", start event id)`) starts it at that
        message, signal or timer start event, with `variables` as the event's payload.
        """
        if definition.suspended:
            raise Suspended(f"process definition '{definition.id}' is suspended")
        check_variables_serializable(variables)
        if business_key is not None and len(business_key) > KEY_LIMIT:
            raise BadRequest(f"'businessKey' is too long ({len(business_key)} characters): at most {KEY_LIMIT}")
        if business_key is not None and (self.unique_business_key if unique is None else unique):
            self._check_unique(session, definition.key, business_key)
        compiled, bindings = self.definitions.bound(session, definition.id)
        now = self.clock.now()
        instance_id = new_id()
        row = InstanceRow(id=instance_id, definition_id=definition.id, definition_key=definition.key,
                                business_key=business_key, state=ACTIVE, version=0,
                                serializer_version=SERIALIZER_VERSION, runtime=None, started_at=now,
                                ended_at=None, start_user=user, delete_reason=None, error=None, bindings=bindings)
        start_data = dict(variables)
        initiator = _initiator(compiled)
        if initiator and user:
            start_data.setdefault(initiator, user)
        run = Run.start(compiled, self.sandbox, variables=start_data, business_key=business_key, trigger=trigger)
        run.engine.resolve_decision = self.resolve_decision
        run.engine.instance_id, run.engine.definition_id = row.id, row.definition_id
        loaded = Loaded(row, run, Waits())

        def begin() -> None:
            run.advance()
            if trigger is not None:
                kind, name = trigger
                if kind == "timer":
                    run.start_by_timer(name)
                    return
                deliver = run.deliver_message if kind == "message" else run.deliver_signal
                if not deliver(name, variables):
                    raise Conflict(f"process '{definition.key}' does not start with {kind} '{name}'")

        with using_clock(self.clock), timers_held():  # a timer due already fires after the commit, as a job
            self._guard(loaded, begin, instance_id=None, definition=definition)
        self.save(session, loaded, user=user, started=dict(
            instance_id=instance_id, element_id=definition.key, element_type="process", element_name=definition.name,
            event="started", task_id=None, user_id=user, at=now,
            details={"businessKey": business_key} if business_key else None))
        log.info("started instance %s of %s (business key %s)", instance_id, definition.id, business_key)
        return loaded

    def _check_unique(self, session: Session, key: str, business_key: str) -> None:
        self.db.serialize(session, f"{key}\x00{business_key}")
        existing = session.scalars(select(m.ProcessInstance.id).where(
            m.ProcessInstance.definition_key == key, m.ProcessInstance.business_key == business_key,
            m.ProcessInstance.ended_at.is_(None))).first()
        if existing:
            raise DuplicateBusinessKey(f"process '{key}' already has a running instance {existing} with "
                                       f"business key '{business_key}'")

    # -- change ---------------------------------------------------------------------------------------------
    def load(self, session: Session, instance_id: str, *, for_change: bool = True) -> Loaded:
        """Lock and load an instance for a change (`for_change=False`: read it, with no lock).

        A change takes the live workflow this process kept from its last change of the instance when the locked
        row is still at the version kept (see `runcache`); otherwise it reads the runtime and loads it.
        """
        kept_version = -1
        if for_change:
            query = _LOAD_FAST if self.db.is_sqlite else _LOAD_LOCKED
            kept_version = self.runs.version(instance_id)
            found = query.first(session, {"instance_id": instance_id, "kept": kept_version})
        else:
            found = _LOAD_FAST.first(session, {"instance_id": instance_id, "kept": -1})
        if found is None:
            raise NotFound(f"process instance '{instance_id}' not found")
        return self._loaded(session, instance_id, found._asdict(), kept_version)

    def task_and_load(self, session: Session, task_id: str) -> tuple[Any, Loaded | None]:
        """(the state of human task `task_id`, its instance loaded for a change, or None when the task has ended);
        (None, None) when there is no such task. On SQLite in one statement (the write transaction is the lock);
        on PostgreSQL the task is read again once its instance is locked."""
        if not self.db.is_sqlite:
            row = TASK_STATE.first(session, {"task_id": task_id})
            if row is None or row.ended_at is not None:
                return row, None
            loaded = self.load(session, row.instance_id)
            return TASK_STATE.first(session, {"task_id": task_id}), loaded
        found = _TASK_AND_INSTANCE.first(session, {"task_id": task_id})
        if found is None:
            return None, None
        values = found._asdict()
        row = _TaskState(*(values.pop(f"task_{name}") for name in _TASK_STATE_FIELDS))
        if row.ended_at is not None:
            return row, None
        instance_id = values["id"]
        kept_version = self.runs.version(instance_id)
        values["runtime"] = None  # as `_LOAD` leaves it; `_loaded` reads it when no run is kept at the row's version
        if not values["ended"] and values["serializer_version"] != SERIALIZER_VERSION:  # to migrate: load it
            values["runtime"] = _RUNTIME.first(session, {"instance_id": instance_id}).runtime
        return row, self._loaded(session, instance_id, values, kept_version)

    def _loaded(self, session: Session, instance_id: str, values: dict[str, Any], kept_version: int) -> Loaded:
        if values.pop("ended"):
            raise Conflict(f"process instance '{instance_id}' has ended ({values['state'].lower()})")
        row = InstanceRow(**values)  # a plain copy: writes go through explicit statements
        compiled = self.definitions.compiled(session, row.definition_id, row.bindings)
        if row.runtime is None:  # at the version kept: the database did not send the runtime
            kept = self.runs.take(instance_id, row.version)
            if kept is not None:
                kept.run.engine.business_key = row.business_key
                kept.run.engine.instance_id, kept.run.engine.definition_id = row.id, row.definition_id
                return Loaded(row=row, run=kept.run, before=kept.waits)
            row.runtime = _RUNTIME.first(session, {"instance_id": instance_id}).runtime  # taken meanwhile
        elif kept_version != -1:
            # Kept at another version: stale. Drop it now, for the database may reach that version again with other
            # content (it lost its latest commits: restored from a backup, a failover to a standby that lagged).
            self.runs.discard(instance_id)
        with using_clock(self.clock):
            run = Run.load(compiled, self.sandbox, row.runtime, business_key=row.business_key,
                           version=row.serializer_version)
            run.engine.resolve_decision = self.resolve_decision
            run.engine.instance_id, run.engine.definition_id = row.id, row.definition_id
            before = _waits(run.variables(), *run.waiting_tasks(), *run.waiting_events())
        return Loaded(row=row, run=run, before=before)

    def change(self, session: Session, instance_id: str, action: Callable[[Run], T], *,
               user: str | None = None, allow_suspended: bool = False,
               record_incident: bool = True) -> tuple[T, Loaded]:
        """Load, apply `action`, save: the one path that changes an instance.

        `record_incident=False` leaves a failure to the caller (a job counts its retries first).
        """
        loaded = self.load(session, instance_id)
        if loaded.row.state == SUSPENDED and not allow_suspended:
            raise Suspended(f"process instance '{instance_id}' is suspended")
        result = self.apply(loaded, action, record_incident=record_incident)
        self.save(session, loaded, user=user)
        return result, loaded

    def apply(self, loaded: Loaded, action: Callable[[Run], T], *, record_incident: bool = True) -> T:
        """Apply `action` to a loaded instance on the engine's clock; a failing script becomes an incident."""
        with using_clock(self.clock), timers_held():  # a timer due already fires after the commit, as a job
            return self._guard(loaded, lambda: action(loaded.run), instance_id=loaded.row.id,
                               record=record_incident)

    def _guard(self, loaded: Loaded, fn: Callable[[], T], *, instance_id: str | None,
               definition: m.ProcessDefinition | None = None, record: bool = True) -> T:
        try:
            return fn()
        except ScriptError as err:
            err.instance_id = instance_id
            definition_id = definition.id if definition else loaded.row.definition_id
            if record and instance_id is not None:  # a failed start is only the caller's error: no instance
                self._record_incident(instance_id, definition_id, err)
            log.warning("%s of %s, element %s: %s", f"instance {instance_id}" if instance_id else "start",
                        definition_id, err.element_id, err.reason)
            raise ScriptError(err.reason, element_id=err.element_id, instance_id=instance_id, line=err.line)

    def _record_incident(self, instance_id: str | None, definition_id: str, err: ScriptError) -> None:
        """Write the failure in its own transaction: the change itself is rolled back."""
        message = err.reason + (f" (line {err.line})" if err.line else "")
        now = self.clock.now()

        def write() -> None:
            with self.db.write() as session:
                same = session.scalars(select(m.Incident).where(
                    m.Incident.instance_id == instance_id, m.Incident.element_id == err.element_id,
                    m.Incident.incident_type == "failedScript", m.Incident.message == message,
                    m.Incident.resolved_at.is_(None))).first()
                if same is not None:  # the same failure again (a second try): one incident, at its latest time
                    same.created_at = now
                    return
                session.add(m.Incident(id=new_id(), incident_type="failedScript", instance_id=instance_id,
                                       definition_id=definition_id, element_id=err.element_id, message=message,
                                       created_at=now))

        hooks = _after_transaction.get()
        if hooks is None:
            write()
        else:
            hooks.always.append(write)

    def timer_due(self, loaded: Loaded, task_id: str) -> datetime | None:
        """When the instance's timer `task_id` is due by its runtime (None: nothing waits on it any more)."""
        with using_clock(self.clock):
            timers, _ = loaded.run.waiting_events()
        return next((t.due_at for t in timers if t.task_id == task_id), None)

    # -- save -----------------------------------------------------------------------------------------------
    def save(self, session: Session, loaded: Loaded, *, user: str | None = None,
             started: dict[str, Any] | None = None) -> None:
        """Write the runtime and every projection, checking the version read at load.

        New rows are collected and inserted in one statement per table (SQLAlchemy Core, no unit of work):
        the save of a small step costs a handful of statements whatever the instance's history.
        """
        run, row = loaded.run, loaded.row
        now = self.clock.now()
        transient = transient_now()
        if transient:
            self._forget_transient(loaded, transient)
        with using_clock(self.clock):
            steps = run.steps(now)
            completed = {task_id for task_id in loaded.before.users
                         if (task := run.task(task_id)) is not None and task.state == _COMPLETED}
            run.prune()  # drops finished tasks: read their outcome above
            users, externals = run.waiting_tasks()
            timers, events = run.waiting_events()
            variables = loaded.saved = run.variables()
        ended = run.completed
        rows = _Rows()
        if started:
            rows.add(m.HistoryEvent, started)
        self._history(rows, row, steps, user)
        self._human_tasks(session, rows, loaded, users, completed, now, user)
        before = loaded.before
        if externals or before.externals:  # (most steps have none of these three, before or after)
            self._external_tasks(session, rows, loaded, externals, now)
        if timers or before.timers:
            self._timers(session, rows, loaded, timers, now)
        if events or before.events:
            self._subscriptions(session, rows, loaded, events, now)
        self._variables(session, rows, row.id, before.variables, variables, now)
        state = row.state
        if ended:
            state = COMPLETED if state != CANCELED else CANCELED
            rows.add(m.HistoryEvent, dict(instance_id=row.id, element_id=row.definition_key, element_type="process",
                                          element_name=None, event="completed" if state == COMPLETED else "cancelled",
                                          task_id=None, user_id=None, at=now, details=None))
            log.info("instance %s of %s ended: %s", row.id, row.definition_id, state)
        self._queue_thrown(run)
        self._mails(rows, row, run.take_mails(), now)
        evaluations = run.take_decisions()
        if evaluations:
            for values in evaluation_rows(session, evaluations, instance_id=row.id, definition_id=row.definition_id,
                                          definition_key=row.definition_key, at=now, user=user):
                rows.add(m.DecisionInstance, values)
        runtime, reusable = (None, False) if ended else run.dump_for_save()
        if row.version == 0:
            row.version, row.runtime, row.state = 1, runtime, state
            row.ended_at = now if ended else None
            _INSERT[m.ProcessInstance].execute(session, _columns(row))
        else:
            touched = _SAVE.execute(session, {"b_id": row.id, "b_version": row.version, "runtime": runtime,
                                              "serializer_version": SERIALIZER_VERSION,
                                              "version": row.version + 1, "state": state,
                                              "ended_at": now if ended else None})
            if touched != 1:
                raise StaleInstance(f"process instance '{row.id}' was changed by someone else; try again")
            row.version += 1
            row.state, row.runtime = state, runtime
            row.ended_at = now if ended else None
        rows.flush(session)
        if runtime is not None and reusable:
            run.rebase()
            kept = Kept(row.version, run, len(runtime), _waits(variables, users, externals, timers, events))
            instance_id = row.id
            after_commit(session, lambda: self.runs.put(instance_id, kept))

    @staticmethod
    def _forget_transient(loaded: Loaded, names: frozenset[str]) -> None:
        """Transient variables are not saved; one may not take the name of a stored one (Camunda)."""
        stored = sorted(names & loaded.before.variables.keys())
        if stored:
            raise BadRequest(f"Cannot set transient variable with name {stored[0]} to non-transient variable and "
                             "vice versa.")
        loaded.run.forget(names)

    def _queue_thrown(self, run: Run) -> None:
        """Signals the run threw that nothing inside caught: broadcast them once this transaction commits."""
        hooks = _after_transaction.get()
        for kind, name, payload in run.thrown_events():
            if kind == "signal" and self.broadcast is not None and hooks is not None:
                hooks.on_commit.append(lambda name=name, payload=payload: self.broadcast(name, payload))

    def _mails(self, rows: _Rows, row: InstanceRow, letters: list[dict[str, Any]], now: datetime) -> None:
        """The letters of the run's mail tasks, into the outbox with this step (the mailer sends them)."""
        for letter in letters:
            rows.add(m.OutboxMessage, dict(
                id=new_id(), instance_id=row.id, definition_key=row.definition_key,
                business_key=row.business_key, element_id=letter["element_id"], topic="mail",
                recipient=letter["to"], subject=letter["subject"][:500],
                body=letter["text"] if letter["text"] is not None else letter["html"] or "", created_at=now,
                sent_at=None, error=None, attempts=0, next_attempt_at=None, sender=letter["sender"],
                cc=letter["cc"], bcc=letter["bcc"], html=letter["html"]))

    def _history(self, rows: _Rows, row: InstanceRow, steps: list, user: str | None) -> None:
        for s in steps:
            rows.add(m.HistoryEvent, dict(
                instance_id=row.id, element_id=s.element_id, element_type=s.element_type,
                element_name=s.element_name, event=s.event, task_id=s.task_id,
                user_id=user if s.event == "completed" and s.element_type in ("userTask", "manualTask") else None,
                at=s.at, details=_step_details(s)))

    def _human_tasks(self, session: Session, rows: _Rows, loaded: Loaded, users: list[WaitingTask],
                     completed: set[str], now: datetime, user: str | None) -> None:
        current = {t.task_id for t in users}
        for task_id in loaded.before.users - current:
            done = task_id in completed
            _END_TASK.execute(session, {"b_id": task_id, "ended_at": now,
                                        "outcome": "completed" if done else "cancelled",
                                        "completed_by": user if done else None})
        row = loaded.row
        for task in users:
            if task.task_id in loaded.before.users:
                continue
            attrs = self._task_attributes(task, row, now)
            rows.add(m.HumanTask, dict(
                id=task.task_id, instance_id=row.id, definition_id=row.definition_id,
                definition_key=row.definition_key, business_key=row.business_key, element_id=task.element_id,
                created_at=now, ended_at=None, outcome=None, completed_by=None,
                suspended=row.state == SUSPENDED, local_variables=None, **attrs))
            for user_id in attrs["candidate_users"]:
                rows.add(m.IdentityLink, dict(task_id=task.task_id, user_id=user_id, group_id=None))
            for group_id in attrs["candidate_groups"]:
                rows.add(m.IdentityLink, dict(task_id=task.task_id, user_id=None, group_id=group_id))

    def _evaluator(self, task: WaitingTask, row: InstanceRow) -> Callable[[str | None, str], Any]:
        """Evaluates an attribute's expression (`value(source, what)`, None for none) with the task's variables, its
        multi-instance variables and the business key; a failure is a `ScriptError` that names the attribute.
        The variables are gathered at the first expression: most tasks have none."""
        context: dict[str, Any] | None = None

        def value(src: str | None, what: str) -> Any:
            nonlocal context
            if src is None:
                return None
            if context is None:
                context = {**HELPERS, "_sf_business_key": row.business_key,
                           **execution_globals(row.id, row.definition_id, task.element_id, task.name),
                           **task.builtins, **task.data}
            try:
                with using_clock(self.clock):  # `now()`, `dateTime()`
                    return self.sandbox.evaluate(src, context)
            except ScriptFailure as err:  # in the diagram's words, as a gateway's condition says it
                raise ScriptError(f"{what}: {expression_failure(src, err.message)}", element_id=task.element_id,
                                  instance_id=row.id if row.version else None)  # (a failed start made none)

        return value

    def _task_attributes(self, task: WaitingTask, row: InstanceRow, now: datetime) -> dict[str, Any]:
        info = task.info or ElementInfo(element_id=task.element_id, tag="userTask")
        value = self._evaluator(task, row)

        def text(template: str | None, what: str) -> str | None:
            """A name or documentation as Camunda shows it: its `${...}` expressions evaluated."""
            if template is None or not is_expression(template):
                return template
            try:
                source = _template_source(template, task.element_id)
            except StageflowError as err:
                raise ScriptError(f"{what}: {err.message}", element_id=task.element_id, instance_id=row.id)
            return value(source, what)

        assignee = value(info.assignee, "assignee")
        users = _names(value(info.candidate_users, "candidateUsers"))
        groups = _names(value(info.candidate_groups, "candidateGroups"))
        if not assignee and not users and not groups and info.lane:
            groups = [info.lane]
        priority = value(info.priority, "priority")
        try:
            priority = int(priority) if priority not in (None, "") else 50
        except (TypeError, ValueError):
            raise ScriptError(f"priority '{priority}' is not a whole number", element_id=task.element_id,
                              instance_id=row.id)
        form = []
        for fld in info.form:
            body = fld.to_json()
            if fld.default is not None:
                body["defaultValue"] = value(_template_source(fld.default, task.element_id),
                                             f"default of form field '{fld.id}'")
            form.append(body)
        return {
            "assignee": str(assignee) if assignee else None,
            "owner": None,
            "delegation_state": None,
            "candidate_users": users,
            "candidate_groups": groups,
            "due": _moment(value(info.due_date, "dueDate"), now, "dueDate", task.element_id),
            "follow_up": _moment(value(info.follow_up_date, "followUpDate"), now, "followUpDate", task.element_id),
            "priority": priority,
            "form": json.loads(json.dumps(form, default=str)) if form else form,
            # Stageflow's own `{variable}` placeholders are filled after Camunda's `${...}` expressions
            "description": fill(text(info.documentation, "documentation"), task.data) if info.documentation else None,
            # none without a name, as Camunda's (the inbox shows the id); what an expression made of it fits the column
            "name": (text(task.name, "name") or "")[:255] or None,
            "form_key": _text_or_none(text(info.form_key, "formKey")),
        }

    def _external_tasks(self, session: Session, rows: _Rows, loaded: Loaded, externals: list[WaitingTask],
                        now: datetime) -> None:
        current = {t.task_id for t in externals}
        gone = loaded.before.externals - current
        if gone:
            session.execute(m.ExternalTask.__table__.delete().where(m.ExternalTask.id.in_(gone)))
        row = loaded.row
        for task in externals:
            if task.task_id in loaded.before.externals:
                continue
            info = task.info
            priority = 0
            if info is not None and info.task_priority:
                try:
                    priority = int(self.sandbox.evaluate(info.task_priority, {**HELPERS, **task.data}))
                except (ScriptFailure, TypeError, ValueError):
                    priority = 0
            rows.add(m.ExternalTask, dict(
                id=task.task_id, instance_id=row.id, definition_id=row.definition_id,
                definition_key=row.definition_key, business_key=row.business_key, element_id=task.element_id,
                topic=self._topic(info, task, row) if info else task.element_id, priority=priority, retries=None,
                worker_id=None, lock_expires_at=None, error_message=None, error_details=None,
                created_at=now, suspended=row.state == SUSPENDED))

    def _topic(self, info: ElementInfo, task: WaitingTask, row: InstanceRow) -> str:
        """An external task's topic: `camunda:topic` as written, or the value of its expression (`${topicName}`)."""
        if info.topic_source is None:
            return info.external_topic or task.element_id
        topic = self._evaluator(task, row)(info.topic_source, "camunda:topic")
        if topic is None or str(topic) == "":
            raise ScriptError(f"camunda:topic '{info.external_topic}' gives no topic name", element_id=task.element_id,
                              instance_id=row.id)
        return str(topic)

    def _timers(self, session: Session, rows: _Rows, loaded: Loaded, timers: list, now: datetime) -> None:
        current = {t.task_id: t for t in timers}
        gone = set(loaded.before.timers) - set(current)
        if gone:
            session.execute(m.Job.__table__.delete().where(m.Job.task_id.in_(gone),
                                                           m.Job.instance_id == loaded.row.id))
        for timer in timers:
            if timer.task_id in loaded.before.timers:
                if loaded.before.timers[timer.task_id] != timer.due_at:
                    session.execute(update(m.Job).where(m.Job.task_id == timer.task_id,
                                                        m.Job.instance_id == loaded.row.id)
                                    .values(due_at=timer.due_at).execution_options(synchronize_session=False))
                continue
            rows.add(m.Job, dict(id=new_id(), job_type="async" if timer.kind == "async" else "timer",
                                 instance_id=loaded.row.id,
                                 definition_id=loaded.row.definition_id, element_id=timer.element_id,
                                 task_id=timer.task_id, due_at=timer.due_at, timer_kind=timer.kind, repeat=None,
                                 retries=3, lock_owner=None, lock_expires_at=None, exception=None,
                                 failed_element_id=None, created_at=now,
                                 suspended=loaded.row.state == SUSPENDED))

    def _subscriptions(self, session: Session, rows: _Rows, loaded: Loaded, events: list, now: datetime) -> None:
        current = {(e.task_id, e.event_type, e.name): e for e in events}
        gone = loaded.before.events - set(current)
        for task_id, event_type, name in gone:
            session.execute(m.EventSubscription.__table__.delete().where(
                m.EventSubscription.instance_id == loaded.row.id, m.EventSubscription.element_id.isnot(None),
                m.EventSubscription.id == _subscription_id(loaded.row.id, task_id, event_type, name)))
        for key, event in current.items():
            if key in loaded.before.events:
                continue
            rows.add(m.EventSubscription, dict(
                id=_subscription_id(loaded.row.id, *key), event_type=event.event_type, name=event.name,
                instance_id=loaded.row.id, definition_id=loaded.row.definition_id, element_id=event.element_id,
                business_key=loaded.row.business_key, created_at=now))

    def _variables(self, session: Session, rows: _Rows, instance_id: str, before: dict[str, Any],
                   after: dict[str, Any], now: datetime) -> None:
        removed = [name for name in before if name not in after]
        if removed:
            session.execute(m.Variable.__table__.delete().where(m.Variable.instance_id == instance_id,
                                                                m.Variable.name.in_(removed)))
        for name, value in changed_values(before, after).items():
            too_large = too_many_items(value)
            if too_large:  # (a script's own are refused naming it; this is one it changed in place)
                raise BadRequest(f"variable '{name}' {too_large}")
            columns = project_variable(value)
            if name in before:
                session.execute(update(m.Variable).where(m.Variable.instance_id == instance_id,
                                                         m.Variable.name == name)
                                .values(**columns).execution_options(synchronize_session=False))
            else:
                rows.add(m.Variable, dict(instance_id=instance_id, name=name, created_at=now, **columns))



class AfterTransaction:
    """Work queued during a transaction: `always` runs whatever the outcome (incident records), `on_commit` only
    once the transaction committed (signals an instance threw, delivered in their own transactions)."""

    def __init__(self) -> None:
        self.always: list[Callable[[], None]] = []
        self.on_commit: list[Callable[[], None]] = []
        self.committed = False


_after_transaction: ContextVar[AfterTransaction | None] = ContextVar("stageflow_after", default=None)


class after_transaction:  # noqa: N801 - used as a function: `with after_transaction() as hooks:`
    """Collect work for after the enclosing transaction and run it at the end of the block. (A class, not a
    generator: entered in every change.)"""

    __slots__ = ("_hooks", "_token")

    def __enter__(self) -> AfterTransaction:
        self._hooks = hooks = AfterTransaction()
        self._token = _after_transaction.set(hooks)
        return hooks

    def __exit__(self, *exc: Any) -> None:
        _after_transaction.reset(self._token)
        hooks = self._hooks
        for job in hooks.always:
            try:
                job()
            except Exception:  # noqa: BLE001 - an incident record must never hide the original error
                log.exception("could not record an incident")
        if hooks.committed:
            for job in hooks.on_commit:
                job()


_COMPLETED = 64  # SpiffWorkflow's TaskState.COMPLETED


def lock_instance_of(session: Session, model: Any, row_id: str) -> None:
    """Lock the instance that the row `row_id` of `model` (a human or an external task) belongs to (PostgreSQL,
    `FOR UPDATE`), before the row itself is locked. A step locks its instance, then changes its tasks; whatever
    locks a task first and then writes what refers to the instance (a history row) must take the same order, or
    the two wait for each other: a deadlock, seen between a claim and a completion of one task."""
    owner = select(model.instance_id).where(model.id == row_id).scalar_subquery()
    session.execute(select(m.ProcessInstance.id).where(m.ProcessInstance.id == owner)
                    .with_for_update(of=m.ProcessInstance))


def _waits(variables: dict[str, Any], users: list, externals: list, timers: list, events: list) -> Waits:  # type: ignore[type-arg]
    """What a run holds and waits for, as the projections compare it between a load and a save."""
    return Waits(variables, {t.task_id for t in users}, {t.task_id for t in externals},
                 {t.task_id: t.due_at for t in timers}, {(e.task_id, e.event_type, e.name) for e in events})

# The statements of the hot path, built once: constructing SQLAlchemy statements costs more than running them.
_INSTANCE = m.ProcessInstance.__table__
# The runtime (often the largest column) comes back only when the row is not at the version this process keeps
# (in the current format: a row an upgrade marked for migration is loaded).
_LOAD = select(*[c for c in _INSTANCE.c if c.key != "runtime"],
               case((and_(_INSTANCE.c.version == bindparam("kept"),
                          _INSTANCE.c.serializer_version == SERIALIZER_VERSION), None),
                    else_=_INSTANCE.c.runtime).label("runtime"),
               _INSTANCE.c.runtime.is_(None).label("ended")).where(_INSTANCE.c.id == bindparam("instance_id"))
_LOAD_FAST = FastStatement(_LOAD)  # reads, and changes on SQLite (its write transaction is the lock)
_TASK = m.HumanTask.__table__
_TASK_STATE_FIELDS = ("instance_id", "ended_at", "outcome", "completed_by", "assignee", "suspended")
_TaskState = namedtuple("_TaskState", _TASK_STATE_FIELDS)  # noqa: PYI024
TASK_STATE = FastStatement(select(*[_TASK.c[name] for name in _TASK_STATE_FIELDS])
                            .where(_TASK.c.id == bindparam("task_id")))
# A task's state and its instance's row but the runtime, in one statement (SQLite): the runtime is read after
# only when the run kept in this process is not at the row's version.
_TASK_AND_INSTANCE = FastStatement(
    select(*[_TASK.c[name].label(f"task_{name}") for name in _TASK_STATE_FIELDS],
           *[c for c in _INSTANCE.c if c.key != "runtime"], _INSTANCE.c.runtime.is_(None).label("ended"))
    .select_from(_TASK.join(_INSTANCE, _TASK.c.instance_id == _INSTANCE.c.id))
    .where(_TASK.c.id == bindparam("task_id")))
_LOAD_LOCKED = FastStatement(_LOAD.with_for_update())
_RUNTIME = FastStatement(select(_INSTANCE.c.runtime).where(_INSTANCE.c.id == bindparam("instance_id")))
_SAVE = FastStatement(
    update(_INSTANCE)
    .where(_INSTANCE.c.id == bindparam("b_id"), _INSTANCE.c.version == bindparam("b_version"))
    .values(runtime=bindparam("runtime"), version=bindparam("version"), state=bindparam("state"),
            ended_at=bindparam("ended_at"), serializer_version=bindparam("serializer_version")))
_END_TASK = FastStatement(
    update(_TASK).where(_TASK.c.id == bindparam("b_id"), _TASK.c.ended_at.is_(None))
    .values(ended_at=bindparam("ended_at"), outcome=bindparam("outcome"), completed_by=bindparam("completed_by")))
_INSERT = {model: fast_insert(model.__table__) for model in (
    m.ProcessInstance, m.HumanTask, m.IdentityLink, m.ExternalTask, m.Job, m.EventSubscription, m.Variable,
    m.HistoryEvent, m.OutboxMessage, m.DecisionInstance)}


class _Rows:
    """New rows of one save, inserted table by table in dependency order."""

    ORDER = (m.HumanTask, m.IdentityLink, m.ExternalTask, m.Job, m.EventSubscription, m.Variable, m.HistoryEvent,
             m.OutboxMessage, m.DecisionInstance)

    def __init__(self) -> None:
        self.rows: dict[type, list[dict[str, Any]]] = {}

    def add(self, model: type, row: dict[str, Any]) -> None:
        self.rows.setdefault(model, []).append(row)

    def flush(self, session: Session) -> None:
        for model in self.ORDER:
            batch = self.rows.get(model)
            if batch:
                statement = _INSERT[model]
                if len(batch) == 1:
                    statement.execute(session, batch[0])
                else:
                    statement.execute_many(session, batch)


def _step_details(step: Any) -> dict[str, Any] | None:
    """A history row's details: since when the element waited, and the file of a called process's element."""
    if step.since is None and step.source is None:
        return None
    details = {"since": step.since} if step.since else {}
    if step.source is not None:
        details["file"] = step.source
    return details


def _columns(row: InstanceRow) -> dict[str, Any]:
    return dict(row.__dict__)


def _subscription_id(instance_id: str, task_id: str, event_type: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{instance_id}/{task_id}/{event_type}/{name}"))


def _initiator(compiled: CompiledProcess) -> str | None:
    for info in compiled.elements.values():
        if info.tag == "startEvent" and info.initiator:
            return info.initiator
    return None


def _text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _names(value: Any) -> list[str]:
    """Candidate users or groups from an expression's value: a comma-separated text, a list (of such texts or lists:
    a `camunda:` attribute and BPMN's `potentialOwner` together), or one name."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple, set)):
        return [name for v in value for name in _names(v)]
    return [str(value)]


@functools.lru_cache(maxsize=1024)
def _template_source(template: str, element_id: str) -> str:
    """The Python source of a Camunda text (a task's name, documentation, form key or a form field's default),
    translated once."""
    return text_to_python(template, element_id=element_id)


def _moment(value: Any, now: datetime, what: str, element_id: str) -> datetime | None:
    """A due or follow-up date from an expression's value: a datetime, an ISO date-time or an ISO duration."""
    if value is None or value == "":
        return None
    from .spiff.timers import parse_moment

    try:
        return parse_moment(value, now)
    except ValueError as err:
        raise ScriptError(f"{what}: {err}", element_id=element_id)

