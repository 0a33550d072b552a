"""The store: SQLAlchemy engine, declarative base and Alembic migrations."""

from peergraph.db.base import Base
from peergraph.db.engine import create_db_engine, migrate, session_factory

__all__ = ["Base", "create_db_engine", "migrate", "session_factory"]
