"""The store: SQLAlchemy engine, declarative base and Alembic migrations."""

from peergraph.db.base import Base
from peergraph.db.engine import (
    SchemaOutOfDate,
    create_db_engine,
    ensure_schema,
    migrate,
    session_factory,
)

__all__ = [
    "Base",
    "SchemaOutOfDate",
    "create_db_engine",
    "ensure_schema",
    "migrate",
    "session_factory",
]
