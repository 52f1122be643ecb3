"""Fixtures of the reliability tests: empty PostgreSQL and SQLite databases that several engines share."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.store import Base


@pytest.fixture
def pg_url(pg_schema: str) -> str:
    """The session's migrated PostgreSQL schema, emptied for this test (fails in CI when PostgreSQL is missing)."""
    eng = create_engine(pg_schema)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with eng.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    eng.dispose()
    return pg_schema


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite file of its own."""
    target = tmp_path / "reliability.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgres"])
def shared_url(request: pytest.FixtureRequest) -> str:
    """An empty database that several `Engine` objects open, as several server processes would."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
