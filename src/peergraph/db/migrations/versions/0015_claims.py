"""Claims with accounts: who claimed (account_id), how (method), a moderator's reason and
decision; at most one owner per record (a partial unique index over approved and
disputed claims); disputes, the append-only audit log, owners' record settings, and
follows. Claim states are renamed to the product's words: verified → approved,
released → withdrawn.

The new record_claims columns are added in place (ALTER TABLE ADD COLUMN), not by batch
mode: copying the table would drop it, and SQLite refuses to drop a table that
claimed_authorships and authorship_corrections rows point at.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 19:07:04.237944
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["accounts.id"],
            name=op.f("fk_audit_log_actor_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_claim_id"), ["claim_id"], unique=False)
        batch_op.create_index("ix_audit_log_record_id_id", ["record_id", "id"], unique=False)

    op.create_table(
        "follows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("topic_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_follows_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["author_records.id"], name=op.f("fk_follows_record_id_author_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follows")),
        sa.UniqueConstraint(
            "account_id", "record_id", name=op.f("uq_follows_account_id_record_id")
        ),
        sa.UniqueConstraint(
            "account_id", "topic_key", name=op.f("uq_follows_account_id_topic_key")
        ),
    )
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follows_record_id"), ["record_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_follows_topic_key"), ["topic_key"], unique=False)

    op.create_table(
        "record_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=300), nullable=True),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("links", sa.JSON(), nullable=True),
        sa.Column("open_to_collaborate", sa.Boolean(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["author_records.id"],
            name=op.f("fk_record_settings_record_id_author_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_settings")),
    )
    with op.batch_alter_table("record_settings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_settings_record_id"), ["record_id"], unique=False
        )
    op.create_table(
        "claim_disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_claim_disputes_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["record_claims.id"],
            name=op.f("fk_claim_disputes_claim_id_record_claims"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["accounts.id"],
            name=op.f("fk_claim_disputes_decided_by_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_disputes")),
    )
    with op.batch_alter_table("claim_disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_disputes_claim_id"), ["claim_id"], unique=False)

    op.execute("UPDATE record_claims SET status = 'approved' WHERE status = 'verified'")
    op.execute("UPDATE record_claims SET status = 'withdrawn' WHERE status = 'released'")
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, kind, column in (
        ("account_id", "INTEGER", sa.Integer()),
        ("method", "VARCHAR(16)", sa.String(length=16)),
        ("reason", "TEXT", sa.Text()),
        ("decided_by", "INTEGER", sa.Integer()),
    ):
        foreign = name in ("account_id", "decided_by")
        constraint = f"fk_record_claims_{name}_accounts"
        if sqlite:  # a column constraint is the only way SQLite adds a foreign key in place
            references = f" CONSTRAINT {constraint} REFERENCES accounts (id)" if foreign else ""
            op.execute(f"ALTER TABLE record_claims ADD COLUMN {name} {kind}{references}")
            continue
        op.add_column("record_claims", sa.Column(name, column, nullable=True))
        if foreign:
            op.create_foreign_key(constraint, "record_claims", "accounts", [name], ["id"])
    op.create_index("ix_record_claims_account_id", "record_claims", ["account_id"])
    op.create_index(
        "uq_record_claims_one_owner",
        "record_claims",
        ["record_id"],
        unique=True,
        sqlite_where=sa.text("status IN ('approved', 'disputed')"),
        postgresql_where=sa.text("status IN ('approved', 'disputed')"),
    )


def downgrade() -> None:
    op.drop_index("uq_record_claims_one_owner", table_name="record_claims")
    op.drop_index("ix_record_claims_account_id", table_name="record_claims")
    with op.batch_alter_table("record_claims", schema=None) as batch_op:
        for name in ("decided_by", "reason", "method", "account_id"):
            batch_op.drop_column(name)
    op.execute("UPDATE record_claims SET status = 'verified' WHERE status = 'approved'")
    op.execute("UPDATE record_claims SET status = 'released' WHERE status = 'withdrawn'")
    with op.batch_alter_table("claim_disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_disputes_claim_id"))

    op.drop_table("claim_disputes")
    with op.batch_alter_table("record_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_settings_record_id"))
    op.drop_table("record_settings")
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follows_topic_key"))
        batch_op.drop_index(batch_op.f("ix_follows_record_id"))

    op.drop_table("follows")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_record_id_id")
        batch_op.drop_index(batch_op.f("ix_audit_log_claim_id"))

    op.drop_table("audit_log")
