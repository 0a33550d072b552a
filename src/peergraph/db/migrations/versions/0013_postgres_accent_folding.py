"""PostgreSQL's text indexes fold accents, as SQLite's FTS5 does (``remove_diacritics``):
"Jose" finds "José", "resume" finds "résumé".

``peergraph_fold(text)`` is ``unaccent()`` from the unaccent extension (part of the
PostgreSQL server packages, and a trusted extension, so a database owner may create it),
declared IMMUTABLE so that an index and a generated column may use it. Where the
extension cannot be created, the function returns its argument unchanged: search works,
without the folding. The works' stored tsvector and the record-name index are rebuilt
over folded text; search/text.py folds the queries with the same function. The
expressions are search/text.py's, copied here because a migration must not change when
that module does.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLD = (
    "CREATE OR REPLACE FUNCTION peergraph_fold(text) RETURNS text"
    " LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT {body} $$"
)
UNACCENT = "public.unaccent('public.unaccent'::regdictionary, $1)"
WORK_DOCUMENT = (
    "(setweight(to_tsvector('english'::regconfig, peergraph_fold(coalesce(title, ''))), 'A')"
    " || setweight(to_tsvector('english'::regconfig,"
    " peergraph_fold(coalesce(abstract, ''))), 'D'))"
)
RECORD_NAME = "to_tsvector('simple'::regconfig, peergraph_fold(display_name))"
# 0011's
OLD_WORK_DOCUMENT = (
    "(setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')"
    " || setweight(to_tsvector('english'::regconfig, coalesce(abstract, '')), 'D'))"
)
OLD_RECORD_NAME = "to_tsvector('simple'::regconfig, display_name)"


def _text_indexes(document: str, name: str) -> None:
    op.execute("DROP INDEX IF EXISTS ix_author_records_name_text")
    op.execute("DROP INDEX IF EXISTS ix_works_text")
    op.execute("ALTER TABLE works DROP COLUMN IF EXISTS search_document")
    op.execute(
        f"ALTER TABLE works ADD COLUMN search_document tsvector GENERATED ALWAYS AS ({document})"
        " STORED"
    )
    op.execute("CREATE INDEX ix_works_text ON works USING gin (search_document)")
    op.execute(f"CREATE INDEX ix_author_records_name_text ON author_records USING gin ({name})")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(
        "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;"
        " EXCEPTION WHEN OTHERS THEN"
        " RAISE NOTICE 'unaccent is not available (%): no accent folding', SQLERRM;"
        " END $$"
    )
    available = bind.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'"))
    op.execute(FOLD.format(body=UNACCENT if available.scalar() else "$1"))
    _text_indexes(WORK_DOCUMENT, RECORD_NAME)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _text_indexes(OLD_WORK_DOCUMENT, OLD_RECORD_NAME)
    op.execute("DROP FUNCTION IF EXISTS peergraph_fold(text)")
