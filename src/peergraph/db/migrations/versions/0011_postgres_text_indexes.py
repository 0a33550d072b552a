"""PostgreSQL's text indexes: a stored tsvector of each work with a GIN index, and GIN
over an expression of record names.

The SQLite store has FTS5 tables for the same purpose (0003, 0005). On PostgreSQL
``works.search_document`` is a generated column (no model declares it: search/text.py
alone reads it), so PostgreSQL keeps it current on every write; it is stored because
ranking reads it for every matching work, and computing it from the abstract each time
took a second per query on SciFact's 5k works. Record names are short, so their index is
on the expression. The expressions are search/text.py's, copied here because a migration
must not change when that module does.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORK_DOCUMENT = (
    "(setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')"
    " || setweight(to_tsvector('english'::regconfig, coalesce(abstract, '')), 'D'))"
)
RECORD_NAME = "to_tsvector('simple'::regconfig, display_name)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"ALTER TABLE works ADD COLUMN search_document tsvector"
        f" GENERATED ALWAYS AS ({WORK_DOCUMENT}) STORED"
    )
    op.execute("CREATE INDEX ix_works_text ON works USING gin (search_document)")
    op.execute(
        f"CREATE INDEX ix_author_records_name_text ON author_records USING gin ({RECORD_NAME})"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_author_records_name_text")
    op.execute("DROP INDEX IF EXISTS ix_works_text")
    op.execute("ALTER TABLE works DROP COLUMN IF EXISTS search_document")
