"""Alembic migrations and the models agree (the `alembic check` guard)."""

import pytest
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


def test_migrate_is_idempotent(engine):
    head = current_revision(engine)
    migrate(engine)
    assert current_revision(engine) == head


@pytest.mark.sqlite_only
def test_sqlite_pragmas(engine):
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_0008_marks_names_that_openalex_printed_as_one_string(settings, test_data):
    """Stored authorships learn afterwards whether their name order was guessed: those of
    works first imported from OpenAlex with several words and no comma."""
    from pathlib import Path

    from alembic import command
    from sqlalchemy import inspect, text

    from peergraph.db import create_db_engine
    from peergraph.db.engine import alembic_config
    from peergraph.ingest.formats import ImportTarget
    from peergraph.ingest.loader import import_file

    engine = create_db_engine(settings)
    migrate(engine)
    openalex = Path(test_data) / "openalex.jsonl"
    import_file(engine, ImportTarget(openalex, "openalex-jsonl"))
    with engine.begin() as conn:
        expected = (
            conn.execute(text("SELECT id FROM authorships WHERE order_guessed ORDER BY id"))
            .scalars()
            .all()
        )
    command.downgrade(alembic_config(engine), "0007")
    columns = [column["name"] for column in inspect(engine).get_columns("authorships")]
    assert "order_guessed" not in columns
    migrate(engine)
    with engine.connect() as conn:
        marked = (
            conn.execute(text("SELECT id FROM authorships WHERE order_guessed ORDER BY id"))
            .scalars()
            .all()
        )
    assert expected and marked == expected
    engine.dispose()


def test_the_written_head_revision_is_the_scripts_head():
    from peergraph.db.engine import HEAD_REVISION, scripts_head_revision

    assert scripts_head_revision() == HEAD_REVISION, "a new migration: update HEAD_REVISION"
