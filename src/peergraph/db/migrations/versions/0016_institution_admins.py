"""Institution admins: accounts that may confirm (L3) claims on records of their
institution (claims/models.py ``InstitutionAdmin``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 07:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "institution_admins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["institution_id"], ["institutions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "institution_id"),
    )
    with op.batch_alter_table("institution_admins") as batch:
        batch.create_index("ix_institution_admins_account_id", ["account_id"])
        batch.create_index("ix_institution_admins_institution_id", ["institution_id"])


def downgrade() -> None:
    op.drop_table("institution_admins")
