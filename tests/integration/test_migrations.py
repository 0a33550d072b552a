"""Alembic migrations and the models agree (the `alembic check` guard)."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from peergraph.db.base import Base, load_all_models
from peergraph.db.engine import current_revision, include_object, migrate


def test_models_match_migrations(engine):
    load_all_models()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_migrate_is_idempotent_and_sets_pragmas(engine):
    head = current_revision(engine)
    migrate(engine)
    assert current_revision(engine) == head
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
