"""The Alembic migrations and the SQLAlchemy models describe one schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine as SAEngine

from engine.api import Engine
from engine.clock import VirtualClock
from engine.config import Settings
from engine.errors import NotFound
from engine.store import models as m
from tests.conftest import PG_ADMIN_URL, pg_url
from tests.helpers import bpmn, chain


def test_the_migrated_database_has_exactly_the_tables_and_indexes_the_models_declare(engine: Engine) -> None:
    with engine.db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), m.Base.metadata)
    assert differences == []


def test_the_schema_revisions_read_without_alembic_agree_with_alembic(empty_database: str) -> None:
    """A command reads the newest revision from the migration files' names and the database's from its
    `alembic_version` table, without importing Alembic: both as Alembic reads them."""
    from alembic.script import ScriptDirectory

    engine = Engine(Settings(database_url=empty_database), clock=VirtualClock())
    try:
        db = engine.db
        assert db.head_revision() == ScriptDirectory.from_config(db._alembic_config()).get_current_head()
        assert db.current_revision() is None  # no schema yet
        assert db.upgrade("0018") == "0018"
        with db.engine.connect() as conn:
            assert db.current_revision() == MigrationContext.configure(conn).get_current_revision() == "0018"
        engine.upgrade()
        assert db.current_revision() == db.head_revision()
    finally:
        engine.close()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database without any schema: a SQLite file, then a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'older.db'}"
        return
    request.getfixturevalue("pg_schema")  # PostgreSQL is there (or the test skips, or fails in CI)
    schema = f"sf_older_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield pg_url(schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


WAITS_THEN_DOUBLES = bpmn("""<bpmn:startEvent id="s"/><bpmn:userTask id="review" name="Review"/>
    <bpmn:scriptTask id="double"><bpmn:script>y = x * 2</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="e"/>"""
                          + chain("s", "review", "double", "e"))


def test_an_instance_started_before_migration_0019_goes_on_after_it(empty_database: str) -> None:
    """0019 moved the state index to the unfinished instances: what was stored before is found by state after."""
    engine = Engine(Settings(database_url=empty_database), clock=VirtualClock())
    try:
        assert engine.db.upgrade("0018") == "0018"
        engine.definitions.deploy([("p.bpmn", WAITS_THEN_DOUBLES)])
        waiting = engine.instances.start("p", business_key="A-1", variables={"x": 21, "customer": "Ann"})
        done = engine.instances.start("p", variables={"x": 1, "customer": "Bob"})
        [task] = engine.tasks.list(instance_id=done.id)
        engine.tasks.complete(task.id, {})

        assert engine.upgrade() == engine.db.head_revision() == engine.db.current_revision()
        assert engine.instances.variables(waiting.id) == {"x": 21, "customer": "Ann"}
        assert engine.instances.variables(done.id) == {"x": 1, "customer": "Bob", "y": 2}
        assert [i.id for i in engine.instances.list(state="ACTIVE")] == [waiting.id]
        assert [i.id for i in engine.instances.list(state="COMPLETED")] == [done.id]
        assert [i.id for i in engine.instances.list(variable_equals={"customer": "Ann"})] == [waiting.id]
        [task] = engine.tasks.list(instance_id=waiting.id)
        engine.tasks.complete(task.id, {"note": "ok"})
        assert engine.instances.variables(waiting.id) == {"x": 21, "customer": "Ann", "note": "ok", "y": 42}
        assert engine.instances.list(state="ACTIVE") == []
        assert {i.id for i in engine.instances.list(state="COMPLETED")} == {waiting.id, done.id}
    finally:
        engine.close()


def _plans(engine: Engine, act: Callable[[], object], table: str) -> list[str]:
    """SQLite's plans of the SELECTs from `table` that `act` ran."""
    statements: list[tuple[str, object]] = []

    def seen(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and f"FROM {table}" in statement:
            statements.append((statement, parameters))

    event.listen(SAEngine, "before_cursor_execute", seen)
    try:
        act()
    finally:
        event.remove(SAEngine, "before_cursor_execute", seen)
    assert statements, f"no SELECT from {table} was run"
    return [_plan(engine, sql, params) for sql, params in statements]


def _plan(engine: Engine, sql: str, params: object) -> str:
    """SQLite's plan of one statement, its steps joined by ' / '."""
    with engine.db.read() as session:
        raw = session.connection().connection.dbapi_connection
        return " / ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall())


def test_correlation_and_state_queries_read_only_the_instances_they_need(sqlite_engine: Engine) -> None:
    """A message looks up the instance of each subscription it finds (it listed every running instance of the
    database at each correlation); a list of the running instances reads the index of the unfinished ones."""
    engine = sqlite_engine
    engine.definitions.deploy([("m.bpmn", bpmn(
        """<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition
        messageRef="go"/></bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>""" + chain("s", "wait", "e"),
        extra='<bpmn:message id="go" name="go"/>'))])
    instance = engine.instances.start("p", business_key="B-1")
    [correlation] = _plans(engine, lambda: engine.messages.correlate("go", business_key="B-1"),
                           "event_subscription")
    assert "LIST SUBQUERY" not in correlation and "SCAN process_instance" not in correlation, correlation
    assert "SEARCH process_instance USING INDEX sqlite_autoindex_process_instance_1 (id=?)" in correlation
    assert engine.instances.get(instance.id).state == "COMPLETED"
    for state in ("ACTIVE", "SUSPENDED"):
        [listing] = _plans(engine, lambda state=state: engine.instances.list(state=state), "process_instance")
        assert "USING INDEX ix_instance_unfinished (state=?)" in listing, listing


def test_a_start_by_key_finds_the_latest_version_by_index_whatever_the_versions(sqlite_engine: Engine) -> None:
    """Resolving a process key reads the last entry of its versions in the (key, version) index; it read and
    sorted every version of the key at each start. A definition id still comes before a key."""
    from engine.definitions import _RESOLVE

    engine = sqlite_engine
    for n in range(3):
        engine.definitions.deploy([("p.bpmn", bpmn(
            f'<bpmn:startEvent id="s{n}"/><bpmn:userTask id="t"/><bpmn:endEvent id="e"/>' + chain(f"s{n}", "t", "e")))])
    oldest, _, latest = sorted(engine.definitions.list(key="p"), key=lambda d: d.version)
    assert (oldest.version, latest.version) == (1, 3)
    compiled = _RESOLVE._compile(engine.db.engine.dialect)
    plan = _plan(engine, compiled.sql, compiled.params({"ref": "p"}))
    assert "TEMP B-TREE" not in plan and "MULTI-INDEX OR" not in plan, plan
    assert "USING INDEX sqlite_autoindex_process_definition_2 (key=?)" in plan, plan
    assert engine.instances.start("p").definition_id == latest.id
    assert engine.instances.start(oldest.id).definition_id == oldest.id
    with pytest.raises(NotFound):
        engine.instances.start("nothing-of-that-name")


def test_sqlite_connections_read_and_write_with_the_settings_the_engine_chose(sqlite_engine: Engine) -> None:
    """WAL without waiting for the disk at each commit, foreign keys enforced, a wait for a busy database."""
    for session_of in (sqlite_engine.db.read, sqlite_engine.db.write):
        with session_of() as session:
            connection = session.connection()
            settings = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                        for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}
        assert settings == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 30000}
