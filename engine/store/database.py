"""Connections, transactions and schema upgrades for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import weakref
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from ..errors import BadRequest, Conflict, Unavailable

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
_UPGRADE_LOCK_ID = 74_210_917  # PostgreSQL advisory lock held while migrating
_AFTER_COMMIT = "stageflow_after_commit"
_RAW = "stageflow_dbapi"  # session.info: (dialect, DBAPI connection) of its transaction (see fastpath.dbapi)


def normalize_url(url: str) -> str:
    """Use psycopg 3 for `postgresql://` URLs, as the project pins it; `BadRequest` naming the URL (its password
    hidden) when it is not one SQLAlchemy can open."""
    try:
        parsed = make_url(url)
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        parsed.get_dialect().import_dbapi()  # an unknown database or driver fails here, not at the first query
    except (ArgumentError, NoSuchModuleError, ImportError) as err:
        shown = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)
        raise BadRequest(f"invalid database URL '{shown}': {err} (Stageflow runs on sqlite:///FILE.db or "
                         "postgresql://USER:PASSWORD@HOST:PORT/DATABASE)") from None
    return parsed.render_as_string(hide_password=False)


class Database:
    """One database: a SQLAlchemy engine, sessions for reading and for writing, and the schema version.

    On SQLite a writing transaction starts with `BEGIN IMMEDIATE`, so two writers queue on the file lock
    instead of failing half-way with "database is locked"; readers run beside them (WAL mode).
    On PostgreSQL writers lock the rows they change (`SELECT ... FOR UPDATE`).

    On SQLite each thread keeps one connection open and runs its transactions on the driver: `BEGIN` and
    `COMMIT` straight on the connection, the session joining that transaction only when ORM or Core work uses
    it. SQLAlchemy's pool checkout, connection and session transaction would cost several times a whole small
    transaction (measured: about 80 µs against 7 µs for an empty one). A transaction opened inside another one
    of the same thread gets a pooled connection, as before.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = create_engine(
                self.url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False}
            )
            _configure_sqlite(self.engine)
            # the connections threads keep: their own engine, so that they never hold the pool's connections
            self._kept_engine: Engine | None = create_engine(
                self.url, echo=echo, poolclass=NullPool, connect_args={"timeout": 30, "check_same_thread": False})
            _configure_sqlite(self._kept_engine)
        else:
            self._kept_engine = None
            self.engine = create_engine(
                self.url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20
            )
        self._writer = self.engine.execution_options(stageflow_write=True) if self.is_sqlite else self.engine
        self._checkpoints = _Checkpointer(self._kept_engine) if self._kept_engine is not None else None
        # A read on PostgreSQL sees the database at one moment (REPEATABLE READ: one snapshot for the whole
        # transaction). At the default READ COMMITTED each statement sees the latest commit, and an instance's
        # state, read in several statements, could show half of a change that committed between two of them (a
        # task completed and its next wait in neither list). SQLite's read transactions are snapshots already.
        readers = self.engine if self.is_sqlite else self.engine.execution_options(isolation_level="REPEATABLE READ")
        self._read_sessions = sessionmaker(readers, expire_on_commit=False, autoflush=False)
        self._write_sessions = sessionmaker(self._writer, expire_on_commit=False, autoflush=False)
        self._schema_checked = False
        self._local = threading.local()
        self._kept: weakref.WeakSet[_Kept] = weakref.WeakSet()

    def write(self) -> AbstractContextManager[Session]:
        """A session in one writing transaction, committed at the end of the block, rolled back on error.

        Work registered with `after_commit` runs once the transaction has committed (never after a rollback).
        """
        self.ensure_schema()
        kept = self._kept_connection()
        if kept is not None:
            return _KeptTransaction(self, kept, "BEGIN IMMEDIATE")
        return self._pooled_write()

    @contextmanager
    def _pooled_write(self) -> Iterator[Session]:
        try:
            with self._write_sessions() as session:
                with session.begin():
                    yield session
                if self._checkpoints is not None:
                    self._checkpoints.committed()
                for job in session.info.get(_AFTER_COMMIT, ()):
                    job()
        except OperationalError as err:
            raise _unavailable(err)

    def read(self) -> AbstractContextManager[Session]:
        """A session for reading."""
        self.ensure_schema()
        kept = self._kept_connection()
        if kept is not None:
            return _KeptTransaction(self, kept, "BEGIN")
        return self._pooled_read()

    @contextmanager
    def _pooled_read(self) -> Iterator[Session]:
        try:
            with self._read_sessions() as session, session.begin():
                yield session
        except OperationalError as err:
            raise _unavailable(err)

    def serialize(self, session: Session, name: str) -> None:
        """Hold the lock `name` until `session`'s writing transaction ends, so that writers of one name run one after
        another, each seeing what the last one committed: an advisory lock on PostgreSQL; on SQLite the writing
        transaction (`BEGIN IMMEDIATE`) already excludes every other writer."""
        if not self.is_sqlite:
            session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": zlib.crc32(name.encode())})

    def _kept_connection(self) -> _Kept | None:
        """This thread's kept connection when it is free (SQLite only), opened on first use."""
        if self._kept_engine is None:
            return None
        kept: _Kept | None = getattr(self._local, "kept", None)
        if (kept is None or kept.pid != os.getpid() or kept.closing or kept.conn.invalidated
                or kept.conn.closed):
            conn = self._kept_engine.connect()
            kept = self._local.kept = _Kept(conn)
            self._kept.add(kept)
        return None if kept.busy else kept

    def ensure_schema(self) -> None:
        """Create or upgrade the schema once per process, on first use."""
        if not self._schema_checked:
            self.upgrade()

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            # read here rather than by Alembic, whose import takes longer than a command's work (see below)
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def head_revision(self) -> str | None:
        """The newest migration's revision, read from the files' names (`0019_unfinished_instances_index.py` is
        revision `0019`, one line of history; a test holds this to Alembic's own reading): Alembic's script
        directory imports every migration and, with Alembic itself, took a third of a command's start."""
        numbers = [path.name[:4] for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")]
        return max(numbers, default=None)

    def upgrade(self, to: str | None = None) -> str | None:
        """Bring the schema to the newest migration (or to the revision `to`: a database as an older Stageflow
        left it, for a migration's tests); returns the revision it is at."""
        head = self.head_revision()
        target = to or head
        try:
            if self.current_revision() != target:
                # Two processes starting on a new database: the first migrates, the second waits for the
                # lock (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL), then finds nothing to do.
                from alembic import command
                from alembic.runtime.migration import MigrationContext

                with self._writer.begin() as conn:
                    if not self.is_sqlite:
                        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _UPGRADE_LOCK_ID})
                    if MigrationContext.configure(conn).get_current_revision() != target:
                        cfg = self._alembic_config()
                        cfg.attributes["connection"] = conn
                        command.upgrade(cfg, target)
        except OperationalError as err:
            raise _unavailable(err)
        self._schema_checked = target == head
        return target

    def analyze(self) -> None:
        """Refresh the query planner's statistics. SQLite keeps none until asked, and without them it picks poor
        plans for some inbox lists (seen: 729 ms where 1.6 ms was possible with 100,000 open tasks); PostgreSQL's
        autovacuum does this by itself, so there it only runs when called."""
        try:
            with self._writer.begin() as conn:
                conn.execute(text("ANALYZE"))
        except OperationalError as err:
            raise _unavailable(err)

    def dispose(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.stop()
        for kept in list(self._kept):
            # A connection in use by another thread is closed by that thread when its transaction ends: closing it
            # under a running statement frees what SQLite is working on (seen: a crash of the process, a
            # MemoryError at the next COMMIT).
            with kept.guard:
                kept.closing = True
                if not kept.busy:
                    kept.conn.close()
        self._kept = weakref.WeakSet()
        self._local = threading.local()
        self.engine.dispose()

    def _alembic_config(self) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg


class _KeptTransaction:
    """A transaction on a thread's kept SQLite connection (see `Database`): `BEGIN` on entering, `COMMIT` on
    leaving (the session's commit when ORM or Core work joined it), a rollback on an error; then the work queued
    with `after_commit`. A class rather than a generator: two or three are entered in every step."""

    __slots__ = ("_begin", "_db", "_kept")

    def __init__(self, db: Database, kept: _Kept, begin: str) -> None:
        self._db, self._kept, self._begin = db, kept, begin

    def __enter__(self) -> Session:
        kept = self._kept
        with kept.guard:  # `dispose` reads `busy` under the same lock
            kept.busy = True
        session = kept.session
        session.info.clear()
        session.info[_RAW] = (kept.conn.dialect, kept.raw)
        try:
            _driver(kept.raw.execute, self._begin)
        except BaseException as err:
            self._release()
            if isinstance(err, OperationalError):
                raise _unavailable(err)
            raise
        return session

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        kept = self._kept
        session, raw = kept.session, kept.raw
        try:
            try:
                if error is not None:
                    raise error
                if session.in_transaction() or session.new or session.dirty or session.deleted:
                    session.commit()  # ORM or Core work joined the transaction: the session commits it
                else:
                    _driver(raw.commit, "COMMIT")
                if self._begin == "BEGIN IMMEDIATE" and self._db._checkpoints is not None:
                    self._db._checkpoints.committed()
            except BaseException:
                if session.in_transaction():
                    session.rollback()
                if raw.in_transaction:
                    raw.rollback()
                raise
        except OperationalError as err:
            raise _unavailable(err)
        finally:
            jobs = self._release()
        for job in jobs:  # a job may run a transaction of its own on this connection (and session) again
            job()

    def _release(self) -> Any:
        """Free the connection for the thread's next transaction; returns the work queued for after the commit."""
        kept = self._kept
        session = kept.session
        if session.in_transaction() or session.identity_map or session.new:  # else there is nothing to release
            session.close()
        jobs = session.info.pop(_AFTER_COMMIT, ())
        with kept.guard:
            kept.busy = False
            if kept.closing:  # `dispose` ran meanwhile and left this connection to its thread
                kept.conn.close()
        return jobs


class _Kept:
    """A thread's open connection (SQLite), and whether a transaction of that thread uses it now."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.raw: Any = conn.connection.dbapi_connection
        # one session for all the connection's transactions, closed after those that used it for ORM work:
        # creating a session per transaction cost more than a read transaction itself
        self.session = Session(bind=conn, expire_on_commit=False, autoflush=False)
        self.busy = False
        self.closing = False  # `Database.dispose` ran: closed now, or by its thread when the transaction ends
        self.guard = threading.Lock()
        self.pid = os.getpid()  # a forked process opens its own


class _Checkpointer:
    """Copies the WAL into the database file from a thread of its own (SQLite), so that no request waits for it.

    SQLite's automatic checkpoint runs inside the commit that crosses its threshold: that commit copies the whole WAL
    (megabytes) and waits for the disk, about 20-35 ms where a commit otherwise takes 70 µs, and those commits were
    more than half of all commit time (measured: 57%). Here writers only count their commits; every
    `NUDGE_EVERY` commits, and every `IDLE_SECONDS` in any case (for what other processes wrote), the thread runs a
    PASSIVE checkpoint when the WAL holds more than `THRESHOLD_BYTES`. A passive checkpoint takes no lock that
    writers or readers wait for. What a commit guarantees is unchanged; SQLite's own automatic checkpoint stays on
    (see `_configure_sqlite`) and finds little left to copy.
    """

    NUDGE_EVERY = 32
    IDLE_SECONDS = 5.0
    THRESHOLD_BYTES = 4 * 1024 * 1024  # about 1,000 pages, SQLite's own default threshold

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._wal = f"{engine.url.database}-wal" if engine.url.database not in (None, "", ":memory:") else None
        self._commits = 0
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def committed(self) -> None:
        """A writing transaction committed (cheap: a counter, and a nudge to the thread now and then)."""
        self._commits += 1
        if self._commits % self.NUDGE_EVERY == 0 and self._wal is not None:
            if self._thread is None or self._pid != os.getpid():
                self._start()
            self._wake.set()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="stageflow-wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = None
        try:
            while not self._stopped:
                self._wake.wait(self.IDLE_SECONDS)
                self._wake.clear()
                if self._stopped:
                    break
                try:
                    if os.path.getsize(self._wal) < self.THRESHOLD_BYTES:  # type: ignore[arg-type]
                        continue
                    if conn is None:
                        conn = self._engine.raw_connection()
                    conn.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except (OSError, sqlite3.Error) as err:  # no WAL yet, or a busy checkpointer elsewhere
                    log.debug("WAL checkpoint skipped: %s", err)
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)


def _driver(call: Callable[[str], Any] | Callable[[], Any], statement: str) -> None:
    """`BEGIN` or `COMMIT` on the driver; its error as SQLAlchemy's (`OperationalError` for a locked database)."""
    try:
        call(statement) if statement.startswith("BEGIN") else call()  # type: ignore[call-arg]
    except sqlite3.Error as err:
        raise DBAPIError.instance(statement, None, err, sqlite3.Error) from err


def after_commit(session: Session, job: Callable[[], None]) -> None:
    """Run `job` once the writing transaction of `session` (from `Database.write`) has committed."""
    session.info.setdefault(_AFTER_COMMIT, []).append(job)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL: a commit appends to the WAL without waiting for the disk; the WAL is synced
        # at checkpoints. A killed process (kill -9, a crash of Stageflow) loses nothing that committed; a power
        # loss or an OS crash may lose the transactions committed since the last checkpoint, but never corrupts
        # the database. synchronous=FULL would wait for the disk at every commit (about 3 ms on the development
        # machine, more than a whole step of an instance costs otherwise).
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Checkpoints copy the WAL into the database file and wait for the disk twice. Most of that copying runs
        # on a thread of its own (`_Checkpointer`, from 4 MB of WAL). SQLite's automatic checkpoint stays on at
        # 4,000 pages: by then the thread has copied most frames, so the commit that runs it copies the few left,
        # and the WAL can start over (a passive checkpoint alone never lets it while writes go on). What a commit
        # guarantees is unchanged. A larger page cache (16 MB instead of 2 MB) keeps a big inbox's indexes in memory.
        cursor.execute("PRAGMA wal_autocheckpoint=4000")
        cursor.execute("PRAGMA cache_size=-16000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        # straight on the driver: SQLAlchemy's statement machinery would cost more than the BEGIN itself
        raw = conn.connection.dbapi_connection
        if raw.in_transaction:  # a kept connection's transaction, begun on the driver: the session joins it
            return
        statement = "BEGIN IMMEDIATE" if conn.get_execution_options().get("stageflow_write") else "BEGIN"
        try:
            raw.execute(statement)
        except sqlite3.Error as err:
            raise DBAPIError.instance(statement, None, err, sqlite3.Error) from err


_RETRYABLE_STATES = {"40P01": "a deadlock", "40001": "a serialization failure"}


def _unavailable(err: DBAPIError) -> Exception:
    if getattr(err.orig, "sqlstate", None) in _RETRYABLE_STATES:  # PostgreSQL ended it to let the other one on
        return Conflict("another request changed the same rows at the same moment and the database stopped this "
                        f"one ({_RETRYABLE_STATES[err.orig.sqlstate]}); nothing of it was saved: try again")
    message = str(err.orig) if err.orig is not None else str(err)
    if "locked" in message or "could not connect" in message or "connection" in message.lower():
        return Unavailable(f"database unavailable: {message.strip()}")
    return err
