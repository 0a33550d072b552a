"""Feeds and alerts: saved searches, feed items, matching cursors; each account's alert
setting (feeds/models.py).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("alerts", sa.String(length=8), nullable=False, server_default="weekly")
        )
        batch.add_column(sa.Column("last_alert_at", sa.DateTime(), nullable=True))
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("query", sa.String(length=500), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        sa.Column("alerts", sa.Boolean(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_saved_searches_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_searches")),
        sa.UniqueConstraint("token"),
    )
    op.create_index(
        op.f("ix_saved_searches_account_id"), "saved_searches", ["account_id"], unique=False
    )
    op.create_table(
        "feed_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("search_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=500), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("alert", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_feed_items_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["work_id"], ["works.id"], name=op.f("fk_feed_items_work_id_works"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["search_id"],
            ["saved_searches.id"],
            name=op.f("fk_feed_items_search_id_saved_searches"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_items")),
        sa.UniqueConstraint("account_id", "work_id"),
    )
    op.create_index("ix_feed_items_account_id_id", "feed_items", ["account_id", "id"])
    op.create_index("ix_feed_items_search_id", "feed_items", ["search_id"])
    op.create_index(op.f("ix_feed_items_work_id"), "feed_items", ["work_id"], unique=False)
    op.create_table(
        "feed_cursors",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_feed_cursors")),
    )


def downgrade() -> None:
    op.drop_table("feed_cursors")
    op.drop_index(op.f("ix_feed_items_work_id"), table_name="feed_items")
    op.drop_index("ix_feed_items_search_id", table_name="feed_items")
    op.drop_index("ix_feed_items_account_id_id", table_name="feed_items")
    op.drop_table("feed_items")
    op.drop_index(op.f("ix_saved_searches_account_id"), table_name="saved_searches")
    op.drop_table("saved_searches")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("last_alert_at")
        batch.drop_column("alerts")
