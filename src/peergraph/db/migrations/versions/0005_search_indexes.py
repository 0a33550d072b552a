"""Name index over author records (FTS5) and an index on works.type, for search.

Author records change only when profiles are rebuilt, so ``records_fts`` has no triggers:
``profiles.services.rebuild`` re-fills it (``'rebuild'``, about a second for 180k names).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKENIZER = "unicode61 remove_diacritics 2"


def upgrade() -> None:
    op.create_index("ix_works_type", "works", ["type"])
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE VIRTUAL TABLE records_fts USING fts5(display_name, content='author_records',"
        f" content_rowid='id', tokenize='{TOKENIZER}')"
    )
    op.execute("INSERT INTO records_fts(records_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS records_fts")
    op.drop_index("ix_works_type", "works")
