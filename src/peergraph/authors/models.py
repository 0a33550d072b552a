"""Author records (people) and the links that put each authorship on one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from peergraph.db.base import Base, utcnow


class AuthorRecord(Base):
    """A public author record: the authorships believed to be one person."""

    __tablename__ = "author_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(300))
    name_variants: Mapped[list[str]] = mapped_column(JSON)
    sort_name: Mapped[str] = mapped_column(String(300), index=True)  # folded "family given"
    block_key: Mapped[str] = mapped_column(String(200), index=True)
    orcid: Mapped[str | None] = mapped_column(String(19), index=True)
    upstream_author_ids: Mapped[list[str] | None] = mapped_column(JSON)
    works_count: Mapped[int] = mapped_column(Integer, index=True)
    first_year: Mapped[int | None] = mapped_column(Integer)
    last_year: Mapped[int | None] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuthorshipLink(Base):
    """Which record an authorship belongs to, how sure we are, and why."""

    __tablename__ = "authorship_links"

    authorship_id: Mapped[int] = mapped_column(
        ForeignKey("authorships.id", ondelete="CASCADE"), primary_key=True
    )
    record_id: Mapped[int] = mapped_column(
        ForeignKey("author_records.id", ondelete="CASCADE"), index=True
    )
    confidence: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(16))  # orcid | upstream-id | model | only-one
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class RecordRedirect(Base):
    """A retired record id (merged into or split across others) and where it went."""

    __tablename__ = "record_redirects"

    old_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    new_id: Mapped[int] = mapped_column(Integer, index=True)
    reason: Mapped[str] = mapped_column(String(16))  # merged | split
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
