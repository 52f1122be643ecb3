"""Statements of the engine's hot path, run on the driver's cursor.

A SQLAlchemy statement is compiled once per dialect, with its bind processors (UTC datetimes, JSON, booleans),
and then executed straight on the DBAPI cursor of the session's connection, inside the session's transaction.
SQLAlchemy's per-statement machinery costs several times more than SQLite itself; the hot path of a step (insert
the new rows, update the instance) runs a handful of statements, so this is where throughput is won. Everything
else in the engine uses SQLAlchemy as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement


class _Compiled:
    def __init__(self, sql: str, names: Sequence[str] | None, processors: dict[str, Callable[[Any], Any]]):
        self.sql = sql
        self.names = names  # positional parameter order (qmark), or None for named parameters
        self.processors = processors

    def params(self, values: dict[str, Any]) -> Any:
        procs = self.processors
        if self.names is not None:
            out = []
            for name in self.names:
                value = values[name]
                proc = procs.get(name)
                out.append(proc(value) if proc is not None and value is not None else value)
            return out
        return {name: (procs[name](value) if name in procs and value is not None else value)
                for name, value in values.items()}


class FastStatement:
    """An INSERT/UPDATE/DELETE compiled once per dialect and run on the raw cursor."""

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
                found = _Compiled(compiled.string, names, dict(compiled._bind_processors))
                self._compiled[dialect.name] = found
        return found

    def execute(self, session: Session, values: dict[str, Any]) -> int:
        """Run with one set of values; returns the number of rows it touched."""
        conn = session.connection()
        compiled = self._compile(conn.dialect)
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(compiled.sql, compiled.params(values))
            return cursor.rowcount
        finally:
            cursor.close()

    def execute_many(self, session: Session, rows: list[dict[str, Any]]) -> None:
        """Run once per row, in one driver call."""
        if not rows:
            return
        conn = session.connection()
        compiled = self._compile(conn.dialect)
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.executemany(compiled.sql, [compiled.params(r) for r in rows])
        finally:
            cursor.close()


def fast_insert(table: Any) -> FastStatement:
    """An INSERT of every column of `table` (rows must give every column, None for defaults)."""
    keys = [c.key for c in table.columns if c is not table.autoincrement_column]
    return FastStatement(table.insert(), keys)
