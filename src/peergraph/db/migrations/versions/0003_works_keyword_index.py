"""Keyword index over works: SQLite FTS5 (Porter stemmer, BM25).

New works are indexed in bulk by the import loader, in each batch's transaction (one
INSERT … SELECT per batch is about three times cheaper than a per-row trigger); updates
and deletes are kept in sync by triggers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKENIZER = "porter unicode61 remove_diacritics 2"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL gets its own full-text index when it is supported
    op.execute(
        "CREATE VIRTUAL TABLE works_fts USING fts5(title, abstract, content='works',"
        f" content_rowid='id', tokenize='{TOKENIZER}')"
    )
    op.execute(
        "CREATE TRIGGER works_fts_delete AFTER DELETE ON works BEGIN"
        " INSERT INTO works_fts(works_fts, rowid, title, abstract)"
        " VALUES ('delete', old.id, old.title, old.abstract); END"
    )
    op.execute(
        "CREATE TRIGGER works_fts_update AFTER UPDATE OF title, abstract ON works BEGIN"
        " INSERT INTO works_fts(works_fts, rowid, title, abstract)"
        " VALUES ('delete', old.id, old.title, old.abstract);"
        " INSERT INTO works_fts(rowid, title, abstract) VALUES (new.id, new.title, new.abstract);"
        " END"
    )
    op.execute("INSERT INTO works_fts(works_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("works_fts_delete", "works_fts_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS works_fts")
