"""Computed profile facts: topics, collaborations, the trust ledger and the snapshot."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from peergraph.db.base import Base, utcnow


class RecordTopic(Base):
    __tablename__ = "record_topics"
    # a topic's most active researchers, read from the index alone (topic pages)
    __table_args__ = (
        Index(
            "ix_record_topics_topic_id_works_count_record_id",
            "topic_id",
            "works_count",
            "record_id",
        ),
    )

    record_id: Mapped[int] = mapped_column(
        ForeignKey("author_records.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )
    weight: Mapped[float] = mapped_column(Float)
    works_count: Mapped[int] = mapped_column(Integer)


CLOSE_STRENGTH = 0.5  # Σ 1/(n−1) ≥ ½: one three-author paper, two five-author papers, …


class Collaboration(Base):
    """Co-authorship between two records (stored in both directions)."""

    __tablename__ = "collaborations"

    record_id: Mapped[int] = mapped_column(
        ForeignKey("author_records.id", ondelete="CASCADE"), primary_key=True
    )
    coauthor_id: Mapped[int] = mapped_column(
        ForeignKey("author_records.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joint_works: Mapped[int] = mapped_column(Integer)
    strength: Mapped[float] = mapped_column(Float)  # Σ 1/(authors − 1) over joint works


class TrustEvidence(Base):
    """One item of a record's trust ledger: the score is the sum of its points by component."""

    __tablename__ = "trust_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("author_records.id", ondelete="CASCADE"), index=True
    )
    component: Mapped[str] = mapped_column(String(32))  # identity | integrity | footprint | ...
    source: Mapped[str] = mapped_column(String(64))  # e.g. "imported works", "claim #12"
    method: Mapped[str] = mapped_column(String(64))
    observed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    points: Mapped[float] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(Text)


class Profile(Base):
    """The computed snapshot a profile page shows, refreshed by ``peergraph rebuild``."""

    __tablename__ = "profiles"

    record_id: Mapped[int] = mapped_column(
        ForeignKey("author_records.id", ondelete="CASCADE"), primary_key=True
    )
    description: Mapped[str | None] = mapped_column(Text)
    affiliations: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    verification_level: Mapped[str] = mapped_column(String(2))
    trust_score: Mapped[int] = mapped_column(Integer, index=True)
    topics_count: Mapped[int] = mapped_column(Integer)
    close_collaborators_count: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
