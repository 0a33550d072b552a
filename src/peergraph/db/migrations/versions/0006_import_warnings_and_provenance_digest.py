"""Import warnings (records kept with a problem reported) and provenance digests.

``import_issues.skipped`` tells a skipped record (the default, as before) from a warning
on a record that was imported all the same (an unsafe URL dropped, junk text before a
BibTeX entry). ``provenance.record_digest`` identifies a record's source text; the
unique index over (import, entity, digest) means identical records repeated in one file
add one provenance row, not one per copy.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_issues") as batch:
        batch.add_column(
            sa.Column("skipped", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("provenance") as batch:
        batch.add_column(sa.Column("record_digest", sa.LargeBinary(16), nullable=True))
    op.create_index(
        "uq_provenance_repeat",
        "provenance",
        ["import_id", "entity_type", "entity_id", "record_digest"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_provenance_repeat", "provenance")
    with op.batch_alter_table("provenance") as batch:
        batch.drop_column("record_digest")
    with op.batch_alter_table("import_issues") as batch:
        batch.drop_column("skipped")
