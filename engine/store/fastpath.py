"""Statements of the engine's hot path, run on the driver's cursor.

A SQLAlchemy statement is compiled once per dialect, with its bind processors (UTC datetimes, JSON, booleans) and,
for a SELECT, its result processors, and then executed straight on the DBAPI cursor of the session's connection,
inside the session's transaction. SQLAlchemy's per-statement machinery (connection lookup, cache key, result
object) costs several times more than SQLite itself; a step of an instance runs a handful of statements, so this is
where throughput is won. Everything else in the engine uses SQLAlchemy as usual.
"""

from __future__ import annotations

import keyword
import threading
from collections import namedtuple
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import exc
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

from .database import _RAW
from .models import UTCDateTime


def dbapi(session: Session) -> tuple[Any, Any]:
    """(dialect, DBAPI connection) of the session's transaction, looked up once per session.

    The first call begins the session's transaction (`BEGIN IMMEDIATE` on SQLite), as any statement would.
    """
    found = session.info.get(_RAW)
    if found is None:
        conn = session.connection()
        found = session.info[_RAW] = (conn.dialect, conn.connection.dbapi_connection)
    return found


class _Compiled:
    def __init__(self, sql: str, names: Sequence[str] | None, processors: dict[str, Callable[[Any], Any]],
                 fixed: dict[str, Any]):
        self.sql = sql
        self.names = names  # positional parameter order (qmark), or None for named parameters
        self.processors = processors
        self.fixed = fixed  # parameters the statement itself gives (a LIMIT, a literal compared with)
        self.row: Any = None  # SELECT: the row class and result processors, set at the first result
        self.results: list[tuple[int, Callable[[Any], Any]]] = []
        # positional: the values picked in one C call, then the few that have a processor converted
        self.pick = itemgetter(*names) if names else None
        self.single = names is not None and len(names) == 1
        self.converted = [(i, processors[name]) for i, name in enumerate(names or ()) if name in processors]

    def params(self, values: dict[str, Any]) -> Any:
        if self.fixed:
            values = {**self.fixed, **values}
        pick = self.pick
        if pick is not None:
            out = [pick(values)] if self.single else list(pick(values))
            for i, proc in self.converted:
                value = out[i]
                if value is not None:
                    out[i] = proc(value)
            return out
        procs = self.processors
        return {name: (procs[name](value) if name in procs and value is not None else value)
                for name, value in values.items()}


class FastStatement:
    """A statement compiled once per dialect and run on the raw cursor."""

    def __init__(self, statement: ClauseElement, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _compile(self, dialect: Any) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            with self._lock:
                compiled = self.statement.compile(dialect=dialect, column_keys=self.column_keys)
                names = list(compiled.positiontup) if compiled.positiontup else None
                fixed = {name: param.value for param, name in compiled.bind_names.items()
                         if not param.required and param.callable is None}
                found = _Compiled(compiled.string, names, _processors(compiled, dialect), fixed)
                if compiled._result_columns:
                    found.row = [(c.keyname, c.type) for c in compiled._result_columns]
                self._compiled[dialect.name] = found
        return found

    def execute(self, session: Session, values: dict[str, Any]) -> int:
        """Run with one set of values; returns the number of rows it touched."""
        dialect, conn = dbapi(session)
        compiled = self._compile(dialect)
        params = compiled.params(values)
        cursor = conn.cursor()
        try:
            cursor.execute(compiled.sql, params)
            return cursor.rowcount
        except dialect.loaded_dbapi.Error as err:
            raise _wrapped(session, dialect, err, compiled.sql, params) from err
        finally:
            cursor.close()

    def execute_many(self, session: Session, rows: list[dict[str, Any]]) -> None:
        """Run once per row, in one driver call."""
        if not rows:
            return
        dialect, conn = dbapi(session)
        compiled = self._compile(dialect)
        params = [compiled.params(r) for r in rows]
        cursor = conn.cursor()
        try:
            cursor.executemany(compiled.sql, params)
        except dialect.loaded_dbapi.Error as err:
            raise _wrapped(session, dialect, err, compiled.sql, params) from err
        finally:
            cursor.close()

    def all(self, session: Session, values: dict[str, Any]) -> list[Any]:
        """The rows of a SELECT, as named tuples of processed values (aware datetimes, parsed JSON)."""
        dialect, conn = dbapi(session)
        compiled = self._compile(dialect)
        return _fetch(session, dialect, conn, compiled, compiled.params(values))

    def first(self, session: Session, values: dict[str, Any]) -> Any:
        """The first row of a SELECT (see `all`), or None."""
        rows = self.all(session, values)
        return rows[0] if rows else None


def _processors(compiled: Any, dialect: Any) -> dict[str, Callable[[Any], Any]]:
    """The statement's bind processors; on SQLite an aware datetime column's is one function instead of
    SQLAlchemy's two (to naive UTC, then to text), with the same text."""
    processors = dict(compiled._bind_processors)
    if dialect.name == "sqlite":
        for param, name in compiled.bind_names.items():
            if name in processors and isinstance(param.type, UTCDateTime):
                processors[name] = _sqlite_utc_text
    return processors


_LAST_TEXT: tuple[Any, str] = (None, "")  # the moment written last, and its text: a save writes one moment many times


def _sqlite_utc_text(value: datetime) -> str:
    global _LAST_TEXT
    last = _LAST_TEXT  # one tuple, read and replaced whole: safe between threads
    if last[0] is value:
        return last[1]
    zone = value.tzinfo
    moment = value
    if zone is not None:
        moment = (value if zone is UTC else value.astimezone(UTC)).replace(tzinfo=None)
    text = moment.isoformat(" ", "microseconds")
    _LAST_TEXT = (value, text)
    return text


def _wrapped(session: Session, dialect: Any, err: Exception, sql: str, params: Any) -> Exception:
    """The driver's error as SQLAlchemy would have raised it (`OperationalError`, `IntegrityError`, ...); a lost
    connection is invalidated, so that the pool does not hand it out again."""
    conn = session.connection()
    lost = dialect.is_disconnect(err, conn.connection.dbapi_connection, None)
    if lost:
        conn.invalidate(err)
    return exc.DBAPIError.instance(sql, params, err, dialect.loaded_dbapi.Error, connection_invalidated=lost,
                                   dialect=dialect)


def _fetch(session: Session, dialect: Any, conn: Any, compiled: _Compiled, params: Any) -> list[Any]:
    """Run a compiled SELECT on the raw cursor; its rows as named tuples of processed values."""
    cursor = conn.cursor()
    try:
        cursor.execute(compiled.sql, params)
        rows = cursor.fetchall()
        if compiled.row.__class__ is list:  # the first result: learn the row's shape and processors
            _result_shape(compiled, dialect, cursor.description)
    except dialect.loaded_dbapi.Error as err:
        raise _wrapped(session, dialect, err, compiled.sql, params) from err
    finally:
        cursor.close()
    make, results = compiled.row, compiled.results
    if not results:
        return [make._make(r) for r in rows]
    out = []
    for r in rows:
        values = list(r)
        for i, proc in results:
            if values[i] is not None:
                values[i] = proc(values[i])
        out.append(make._make(values))
    return out


def _result_shape(compiled: _Compiled, dialect: Any, description: Any) -> None:
    columns = compiled.row
    results = []
    for i, (_, type_) in enumerate(columns):
        proc = type_._cached_result_processor(dialect, description[i][1])
        if proc is not None:
            results.append((i, proc))
    compiled.results = results
    compiled.row = namedtuple("Row", [name for name, _ in columns])  # noqa: PYI024


def fast_insert(table: Any) -> FastStatement:
    """An INSERT of every column of `table` (rows must give every column, None for defaults)."""
    keys = [c.key for c in table.columns if c is not table.autoincrement_column]
    return FastStatement(table.insert(), keys)


_SHAPES: dict[Any, Any] = {}  # (dialect, statement cache key) -> compiled statement and row shape
_SHAPES_MAX = 512


def fetch_all(session: Session, statement: Any) -> list[Any]:
    """The rows of a SELECT built per call (a list query with filters), run on the raw cursor.

    The SQL is compiled once per shape of statement (SQLAlchemy's cache key, as its own cache does), and the
    rows come back as named tuples of processed values. Statements this cannot run as they are (an expanding
    `IN`, columns without a plain name) go through the session as usual.
    """
    key = statement._generate_cache_key()
    if key is None:
        return list(session.execute(statement).all())
    dialect, conn = dbapi(session)
    shape = _SHAPES.get((dialect.name, key.key))
    if shape is None:
        shape = _shape_of(statement, dialect, key)
        if len(_SHAPES) >= _SHAPES_MAX:
            _SHAPES.clear()
        _SHAPES[(dialect.name, key.key)] = shape
    if shape is False:
        return list(session.execute(statement).all())
    compiled, found = shape
    given = compiled.construct_params(extracted_parameters=key.bindparams, escape_names=False)
    procs = found.processors
    if found.names is not None:
        params: Any = [procs[n](given[n]) if n in procs and given[n] is not None else given[n] for n in found.names]
    else:
        escaped = compiled.escaped_bind_names
        params = {escaped.get(n, n): (procs[n](v) if n in procs and v is not None else v) for n, v in given.items()}
    return _fetch(session, dialect, conn, found, params)


def _shape_of(statement: Any, dialect: Any, key: Any) -> Any:
    compiled = statement.compile(dialect=dialect, cache_key=key)
    columns = compiled._result_columns
    names = [c.keyname for c in columns]
    if (compiled.post_compile_params or compiled.literal_execute_params or not columns
            or len(set(names)) != len(names)
            or not all(n.isidentifier() and not n.startswith("_") and not keyword.iskeyword(n) for n in names)):
        return False
    found = _Compiled(compiled.string, list(compiled.positiontup) if compiled.positiontup else None,
                      dict(compiled._bind_processors), {})
    found.row = [(c.keyname, c.type) for c in columns]
    return compiled, found
