"""Data generations: one counter per kind of data (works, records, vectors) that every
import, rebuild and embedding run advances in its own transaction, so each process can
tell when what it keeps in memory is out of date (db/generation.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:13:47.139359
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "generations",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_generations")),
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    op.bulk_insert(
        table,
        [{"kind": kind, "value": 0, "changed_at": now} for kind in ("works", "records", "vectors")],
    )


def downgrade() -> None:
    op.drop_table("generations")
