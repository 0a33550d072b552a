"""Authorships remember whether the importer guessed which word is the family name (a
name printed as one string, authors/order.py).

Stored authorships are marked where that can be told after the fact: the work was first
imported from OpenAlex or an arXiv Atom page (both print names as one string) and the
printed name has several words and no comma. The next rebuild is a full one anyway (the
name-order table is part of the rebuild's fingerprint).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 09:47:26.795353
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("authorships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("order_guessed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(
        sa.text(
            "UPDATE authorships SET order_guessed = TRUE"
            " WHERE raw_name NOT LIKE '%,%' AND raw_name LIKE '% %' AND work_id IN ("
            "  SELECT f.entity_id FROM ("
            "   SELECT entity_id, min(import_id) AS first_id FROM provenance"
            "   WHERE entity_type = 'work' GROUP BY entity_id"
            "  ) f JOIN imports i ON i.id = f.first_id"
            "  WHERE i.format IN ('openalex-jsonl', 'arxiv-atom'))"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("authorships", schema=None) as batch_op:
        batch_op.drop_column("order_guessed")
