"""Covering indexes for topic pages: a topic's works (topic_id, work_id) and its most
active researchers (topic_id, works_count, record_id), each replacing the index on
topic_id alone (its prefix). The largest topic page's queries went from 27 to 17 ms on
the full shared corpus (benchmarks/profile_page.py).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 18:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_work_topics_topic_id_work_id", "work_topics", ["topic_id", "work_id"])
    op.drop_index("ix_work_topics_topic_id", table_name="work_topics")
    op.create_index(
        "ix_record_topics_topic_id_works_count_record_id",
        "record_topics",
        ["topic_id", "works_count", "record_id"],
    )
    op.drop_index("ix_record_topics_topic_id", table_name="record_topics")


def downgrade() -> None:
    op.create_index("ix_record_topics_topic_id", "record_topics", ["topic_id"])
    op.drop_index("ix_record_topics_topic_id_works_count_record_id", table_name="record_topics")
    op.create_index("ix_work_topics_topic_id", "work_topics", ["topic_id"])
    op.drop_index("ix_work_topics_topic_id_work_id", table_name="work_topics")
