"""Fixtures: a fresh engine on a real database (SQLite file and PostgreSQL) with a virtual clock per test."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from engine.api import Engine
from engine.clock import VirtualClock
from engine.config import Settings
from engine.store import Base, Database
from tests.helpers import TEST_PG_URL

PG_ADMIN_URL = TEST_PG_URL
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

def _pg_available() -> bool:
    try:
        eng = create_engine(PG_ADMIN_URL)
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (much faster than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A PostgreSQL schema for this test session (one per xdist worker), migrated once."""
    if not _pg_available():
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not available")
    schema = f"sf_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = pg_url(schema)
    db = Database(url)
    db.upgrade()
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def pg_url(schema: str) -> str:
    return f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"


def _truncate_pg(url: str) -> None:
    eng = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with eng.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        target = tmp_path / "stageflow.db"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("pg_schema")
    _truncate_pg(url)
    return url


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def engine(database_url: str, clock: VirtualClock) -> Iterator[Engine]:
    eng = Engine(Settings(database_url=database_url, script_time_limit=2.0), clock=clock)
    yield eng
    eng.close()


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path, clock: VirtualClock) -> Iterator[Engine]:
    """An engine on SQLite only, for tests about SQLite or that need no second database."""
    target = tmp_path / "only.db"
    shutil.copy(sqlite_template, target)
    eng = Engine(Settings(database_url=f"sqlite:///{target}", script_time_limit=2.0), clock=clock)
    yield eng
    eng.close()


class Deployer:
    """Deploys inline BPMN from tests."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, content: bytes, name: str = "process.bpmn", *more: tuple[str, bytes]):  # type: ignore[no-untyped-def]
        return self.engine.definitions.deploy([(name, content), *more])


@pytest.fixture
def deploy(engine: Engine) -> Deployer:
    return Deployer(engine)


CHROMIUM = os.environ.get("STAGEFLOW_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's headless chromium through Playwright, one per test process (a second sync Playwright in the same
    process cannot start), shared by the inbox's and the diagrams' browser tests."""
    if not os.path.exists(CHROMIUM):
        message = f"browser tests need Debian's chromium at {CHROMIUM} (make test installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()
