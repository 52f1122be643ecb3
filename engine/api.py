"""The engine's public face: one object with a service per concern, as Camunda's engine has.

    engine = Engine(Settings.from_env())
    engine.definitions.deploy_files(["processes/deal.bpmn"])
    instance = engine.instances.start("deal", business_key="D-1", variables={"amount": 1200})
    task = engine.tasks.list(instance_id=instance.id)[0]
    engine.tasks.complete(task.id, {"approved": True}, user="mary")

`web/` and the CLI call only this. Each public method is one database transaction, opened and committed here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .clock import Clock, clock_from_name
from .config import Settings
from .decision_history import DecisionHistory
from .decisions import Decisions
from .definitions import Definitions
from .executor import Executor, after_transaction
from .external_tasks import ExternalTasks
from .handlers import BuiltinHandlers
from .history import History
from .identity import Identity
from .instances import Instances
from .jobs import Jobs
from .mailer import Mailer
from .messages import Messages
from .sandbox import ScriptSandbox
from .store import Database
from .tasks import Tasks
from .variable_instances import VariableInstances


class Engine:
    """Stageflow: definitions, instances, tasks, messages and jobs over one database."""

    def __init__(self, settings: Settings | None = None, *, clock: Clock | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.clock = clock or clock_from_name(self.settings.clock)
        self.db = Database(self.settings.database_url, echo=self.settings.sql_echo)
        self.sandbox = ScriptSandbox(time_limit=self.settings.script_time_limit)
        self.definitions = Definitions(self.db, self.clock, self.sandbox,
                                       max_bytes=self.settings.max_definition_bytes)
        self.executor = Executor(self.db, self.clock, self.sandbox, self.definitions,
                                 unique_business_key=self.settings.unique_business_key)
        self.decisions = Decisions(self)
        self.decision_history = DecisionHistory(self)
        self.executor.resolve_decision = self.decisions.bound
        self.instances = Instances(self)
        self.variable_instances = VariableInstances(self)
        self.tasks = Tasks(self)
        self.messages = Messages(self)
        self.jobs = Jobs(self)
        self.history = History(self)
        self.external_tasks = ExternalTasks(self)
        self.identity = Identity(self)
        self.handlers = BuiltinHandlers(self)
        self.mailer = Mailer(self)
        self.executor.broadcast = lambda name, payload: self.messages.signal(name, variables=payload)

    def transaction(self) -> _Transaction:
        """One writing transaction; work queued for after it (incident records) runs whatever the outcome."""
        return _Transaction(self.db)

    def upgrade(self) -> str | None:
        """Create or upgrade the database schema."""
        return self.db.upgrade()

    def close(self) -> None:
        self.db.dispose()


class _Transaction:
    """`Engine.transaction`: a writing transaction inside an `after_transaction` block (a class, not a generator:
    entered in every change)."""

    __slots__ = ("_after", "_db", "_hooks", "_write")

    def __init__(self, db: Database) -> None:
        self._db = db

    def __enter__(self) -> Session:
        self._after = after_transaction()
        self._hooks = self._after.__enter__()
        try:
            self._write = self._db.write()
            return self._write.__enter__()
        except BaseException:
            self._after.__exit__(None, None, None)
            raise

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        try:
            self._write.__exit__(kind, error, tb)  # commits, or rolls back and raises
            if error is None:
                self._hooks.committed = True
        finally:
            self._after.__exit__(None, None, None)  # its work runs whatever the outcome
