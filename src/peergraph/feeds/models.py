"""Feeds and alerts: saved searches, the items each account's feed holds, and how far
the matching has read the works table (docs/feeds.md).

An item is one work told to one account, once: ``(account_id, work_id)`` is unique, so a
work that matches a followed researcher, a followed topic and a saved search is told once,
by the first reason found, and a rerun of the matching tells nobody twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from peergraph.db.base import Base, utcnow

MODES = ("keyword", "semantic")
KINDS = ("researcher", "topic", "search")
ALERTS = ("pending", "mailed", "over", "none")  # over: past the week's budget, never mailed


class SavedSearch(Base):
    __tablename__ = "saved_searches"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    query: Mapped[str] = mapped_column(String(500))
    mode: Mapped[str] = mapped_column(String(16))  # MODES
    model: Mapped[str | None] = mapped_column(String(64))  # the encoder of ``vector``
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32, L2-normalised
    alerts: Mapped[bool] = mapped_column(Boolean, default=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)  # its Atom feed's address
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FeedItem(Base):
    __tablename__ = "feed_items"
    __table_args__ = (
        UniqueConstraint("account_id", "work_id"),
        Index("ix_feed_items_account_id_id", "account_id", "id"),
        Index("ix_feed_items_search_id", "search_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # KINDS
    source_id: Mapped[int] = mapped_column(Integer)  # record, topic or saved search id
    search_id: Mapped[int | None] = mapped_column(
        ForeignKey("saved_searches.id", ondelete="SET NULL")
    )
    label: Mapped[str] = mapped_column(String(500))  # researcher, topic or query, as matched
    why: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)  # orders an alert digest, best first
    alert: Mapped[str] = mapped_column(String(8), default="none")  # ALERTS
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FeedCursor(Base):
    """The newest work id a matching pass has read (follows, keyword, semantic)."""

    __tablename__ = "feed_cursors"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    work_id: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
