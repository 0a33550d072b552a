"""Author records (people) and the links that put each authorship on one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
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


# What people own. A rebuild never deletes these: when records merge or split they move
# with the authorships (authors/ownership.py), and each move is logged in record_moves.
# Their foreign keys have no ON DELETE action, so deleting a record that still holds one
# fails loudly instead of dropping it.


class RecordClaim(Base):
    """Someone's claim that a record is them, with the proof they gave.

    States (claims/services.py): pending → approved | rejected | withdrawn; approved →
    disputed (another account contests it) → approved again or rejected; approved →
    withdrawn (the owner releases it). A record has at most one owner: at most one claim
    per record is approved or disputed at a time, which a partial unique index enforces,
    so two accounts claiming at the same moment cannot both win."""

    __tablename__ = "record_claims"
    __table_args__ = (
        Index(
            "uq_record_claims_one_owner",
            "record_id",
            unique=True,
            sqlite_where=text("status IN ('approved', 'disputed')"),
            postgresql_where=text("status IN ('approved', 'disputed')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("author_records.id"), index=True)
    claimant: Mapped[str] = mapped_column(String(200), index=True)  # "account:<id>"
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # CLAIM_STATES
    method: Mapped[str | None] = mapped_column(String(16))  # orcid | email | review
    level: Mapped[str | None] = mapped_column(String(2))  # the verification level it gives
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)  # a moderator's, when decided
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ClaimedAuthorship(Base):
    """An authorship a claim covers: while the claim is verified, these stay one record."""

    __tablename__ = "claimed_authorships"

    claim_id: Mapped[int] = mapped_column(ForeignKey("record_claims.id"), primary_key=True)
    authorship_id: Mapped[int] = mapped_column(
        ForeignKey("authorships.id"), primary_key=True, index=True
    )


class AuthorshipCorrection(Base):
    """A record owner's correction: this authorship is "not mine" (a cannot-link)."""

    __tablename__ = "authorship_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("record_claims.id"), index=True)
    authorship_id: Mapped[int] = mapped_column(ForeignKey("authorships.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # not-mine
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RecordDecision(Base):
    """An operator's or moderator's decision about a record (kept across rebuilds)."""

    __tablename__ = "record_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("author_records.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # e.g. hide | note | trust-adjustment
    detail: Mapped[str] = mapped_column(String(2000))
    decided_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RecordMove(Base):
    """A user-owned row that a rebuild moved from one record to another, and why."""

    __tablename__ = "record_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[int] = mapped_column(Integer)
    from_record: Mapped[int] = mapped_column(Integer, index=True)
    to_record: Mapped[int] = mapped_column(Integer, index=True)
    reason: Mapped[str] = mapped_column(String(16))  # merged | split | claim
    moved_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuthorshipName(Base):
    """The name keys disambiguation derives from an authorship, kept so that an
    incremental rebuild can find a block's authorships and count names store-wide in SQL
    instead of re-reading every authorship."""

    __tablename__ = "authorship_names"

    authorship_id: Mapped[int] = mapped_column(
        ForeignKey("authorships.id", ondelete="CASCADE"), primary_key=True
    )
    # Text, not truncated: the keys must equal what a full load computes, whatever the
    # length (a 300-character name in Han characters romanises to far more)
    work_id: Mapped[int] = mapped_column(Integer, index=True)
    block_key: Mapped[str] = mapped_column(Text, index=True)
    family_scope: Mapped[str] = mapped_column(Text, index=True)  # names.family_scope
    first_name: Mapped[str] = mapped_column(Text, index=True)  # "" for an initial
    family_key: Mapped[str] = mapped_column(Text, index=True)
    coauthor_key: Mapped[str] = mapped_column(Text, index=True)


class Rebuild(Base):
    """One run of ``peergraph rebuild``: what it covered, so the next one knows what
    changed since."""

    __tablename__ = "rebuilds"

    id: Mapped[int] = mapped_column(primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))  # full | incremental
    model: Mapped[str] = mapped_column(String(64))  # the pairwise model's digest
    last_import_id: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime] = mapped_column(DateTime)
    blocks: Mapped[int] = mapped_column(Integer)  # name blocks clustered
    authorships: Mapped[int] = mapped_column(Integer)  # authorships clustered
    records_touched: Mapped[int] = mapped_column(Integer)
