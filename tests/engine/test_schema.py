"""The Alembic migrations and the SQLAlchemy models describe one schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.api import Engine
from engine.store import models as m


def test_the_migrated_database_has_exactly_the_tables_and_indexes_the_models_declare(engine: Engine) -> None:
    with engine.db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), m.Base.metadata)
    assert differences == []
