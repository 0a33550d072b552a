"""Storage models for import runs, their reported problems, and row provenance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from peergraph.db.base import Base, utcnow


class ImportRun(Base):
    """One file imported (or being imported). ``checkpoint`` is the number of records whose
    effects are committed, so an interrupted run resumes exactly where it stopped."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    file_size: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # running | completed | failed
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    records_read: Mapped[int] = mapped_column(Integer, default=0)
    records_imported: Mapped[int] = mapped_column(Integer, default=0)
    records_merged: Mapped[int] = mapped_column(Integer, default=0)
    records_skipped: Mapped[int] = mapped_column(Integer, default=0)
    checkpoint: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)


class ImportIssue(Base):
    """A record that was skipped (or a file-level problem), with where and why; with
    ``skipped`` false, a warning about a record that was imported all the same."""

    __tablename__ = "import_issues"
    __table_args__ = (Index("ix_import_issues_import_reason", "import_id", "reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    record_number: Mapped[int | None] = mapped_column(Integer)
    line: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    skipped: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Provenance(Base):
    """Which import, file record and line an entity row came from: one row per record,
    except that identical records (same ``record_digest``) of one import share a row."""

    __tablename__ = "provenance"
    __table_args__ = (
        UniqueConstraint("import_id", "record_number"),
        Index(
            "uq_provenance_repeat",
            "import_id",
            "entity_type",
            "entity_id",
            "record_digest",
            unique=True,
        ),
        # id last: a work's sources, oldest first, are one index range on PostgreSQL too
        # (SQLite's indexes end in the rowid anyway)
        Index("ix_provenance_entity", "entity_type", "entity_id", "id"),
        Index("ix_provenance_record_key", "record_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    record_number: Mapped[int] = mapped_column(Integer)
    line: Mapped[int | None] = mapped_column(Integer)
    record_key: Mapped[str | None] = mapped_column(String(300))
    entity_type: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(8))  # created | merged | updated
    record_digest: Mapped[bytes | None] = mapped_column(LargeBinary(16))
