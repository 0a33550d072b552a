"""What people do with records besides claiming them: disputes, moderators' decisions in
the audit log, owners' settings, follows.

Rows that hang on a record (disputes through their claim, owner settings, follows of a
record) are people's, not the rebuild's: they move with the record's authorships when
records merge or split (authors/ownership.py ``OWNED``), and the audit log is never
updated or deleted, only appended to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from peergraph.db.base import Base, utcnow


class ClaimDispute(Base):
    """Another account contests an approved claim, with evidence; a moderator decides."""

    __tablename__ = "claim_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("record_claims.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # open | upheld | dismissed
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)


class AuditEntry(Base):
    """One change of state: who (an account, or None for the system), when, what, about
    which record and claim, with the evidence. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_record_id_id", "record_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    actor_role: Mapped[str] = mapped_column(String(16))  # member | moderator | admin | system
    action: Mapped[str] = mapped_column(String(40))  # e.g. claim.approved, dispute.opened
    record_id: Mapped[int | None] = mapped_column()  # no foreign key: records are retired
    claim_id: Mapped[int | None] = mapped_column(index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class RecordSettings(Base):
    """What a record's owner chose: display name, bio, links, open to collaborate,
    hidden from listings. Moves with the record through merges and splits."""

    __tablename__ = "record_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # not unique: when two records of one owner merge, both rows move to the survivor,
    # and the newest one counts (claims/owner.py ``record_settings``)
    record_id: Mapped[int] = mapped_column(ForeignKey("author_records.id"), index=True)
    display_name: Mapped[str | None] = mapped_column(String(300))
    bio: Mapped[str | None] = mapped_column(Text)
    links: Mapped[dict[str, str] | None] = mapped_column(JSON)  # homepage, orcid, github, scholar
    open_to_collaborate: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Follow(Base):
    """An account follows a record, or a topic (by taxonomy and external id, which
    survive a rebuild's re-fitted topics as well as they can)."""

    __tablename__ = "follows"
    __table_args__ = (
        UniqueConstraint("account_id", "record_id"),
        UniqueConstraint("account_id", "topic_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("author_records.id"), index=True)
    topic_key: Mapped[str | None] = mapped_column(String(200), index=True)  # taxonomy:id
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class InstitutionAdmin(Base):
    """An account that speaks for an institution: it may confirm (L3) approved claims on
    records whose recent works carry that institution (claims/services.py
    ``confirm_claim``). Granted by an operator (``peergraph admin grant-institution``)."""

    __tablename__ = "institution_admins"
    __table_args__ = (UniqueConstraint("account_id", "institution_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
