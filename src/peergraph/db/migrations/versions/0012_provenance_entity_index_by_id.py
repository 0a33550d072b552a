"""A work's source records in id order straight from the index, on PostgreSQL too.

``ix_provenance_entity`` gains ``id`` as its last column. SQLite's indexes end in the
rowid anyway, so there a work page's "first ten sources" was already one index range;
PostgreSQL fetched every source of the work and sorted them (1.3 s for a work merged from
a million records, tests/functional/test_hostile.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_provenance_entity", table_name="provenance")
    op.create_index("ix_provenance_entity", "provenance", ["entity_type", "entity_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_provenance_entity", table_name="provenance")
    op.create_index("ix_provenance_entity", "provenance", ["entity_type", "entity_id"])
