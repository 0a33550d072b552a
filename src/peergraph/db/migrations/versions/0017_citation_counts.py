"""Citation counts on works: "cited by N" as a source counted it (OpenAlex's
cited_by_count), the source's name and the date of the count.

Added in place (ALTER TABLE ADD COLUMN), not by batch mode: copying the works table would
drop it, and many tables point at it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 08:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("works", sa.Column("cited_by_count", sa.Integer(), nullable=True))
    op.add_column("works", sa.Column("cited_by_source", sa.String(length=32), nullable=True))
    op.add_column("works", sa.Column("cited_by_date", sa.String(length=10), nullable=True))


def downgrade() -> None:
    # ALTER TABLE DROP COLUMN in place (SQLite 3.35+), never batch mode: copying the works
    # table would drop it, and with it (ON DELETE CASCADE) every authorship
    for column in ("cited_by_date", "cited_by_source", "cited_by_count"):
        op.drop_column("works", column)
