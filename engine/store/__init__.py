"""Persistence: the schema, connections and Alembic migrations."""

from .database import Database
from .models import Base

__all__ = ["Base", "Database"]
