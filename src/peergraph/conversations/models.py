"""Focused conversations: an invitation about one piece of work, which the recipient
accepts or declines before either side may write freely (docs/conversations.md).

A conversation's rows belong to its two participants. Records and topics are named by
id and by the label they had when the invitation was sent (``anchor_label``), without
foreign keys: a rebuild may retire a record id or re-fit inferred topics, and the
conversation must still read the same. Accounts are foreign keys: a deleted account's
messages stay, as from "a deleted account" (``author_id`` NULL).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from peergraph.db.base import Base, utcnow

STATUSES = ("invited", "accepted", "declined", "closed", "withdrawn")
ANCHORS = ("their-work", "my-work", "topic")


class Conversation(Base):
    """One invitation and, once accepted, the conversation that follows it."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_recipient_status", "recipient_id", "status"),
        Index("ix_conversations_starter_status", "starter_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    starter_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    starter_record_id: Mapped[int] = mapped_column(Integer)  # the sender's claimed record
    recipient_record_id: Mapped[int] = mapped_column(Integer, index=True)
    anchor_kind: Mapped[str] = mapped_column(String(16))  # ANCHORS
    anchor_id: Mapped[int] = mapped_column(Integer)  # a work id or a topic id
    anchor_label: Mapped[str] = mapped_column(String(500))  # title or topic name, as sent
    status: Mapped[str] = mapped_column(String(16), default="invited")  # STATUSES
    reason: Mapped[str | None] = mapped_column(String(40))  # decline / close reason key
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)


class ConversationMember(Base):
    """One participant's view of a conversation: what they have read, and whether they
    archived or left it. ``notified_id`` is the newest message a digest mail told them
    about, so that no message is mailed twice."""

    __tablename__ = "conversation_members"
    __table_args__ = (UniqueConstraint("conversation_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))  # starter | recipient
    last_read_id: Mapped[int] = mapped_column(Integer, default=0)
    notified_id: Mapped[int] = mapped_column(Integer, default=0)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime)
    left_at: Mapped[datetime | None] = mapped_column(DateTime)


class Message(Base):
    """A message, the invitation's own text, or an event both sides see ("accepted",
    "left", "closed") — ``kind`` says which."""

    __tablename__ = "conversation_messages"
    __table_args__ = (
        Index("ix_conversation_messages_conversation_id_id", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # invitation | message | event
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AccountBlock(Base):
    """``blocker_id`` blocked ``blocked_id``: no invitations either way, conversations
    between them closed."""

    __tablename__ = "account_blocks"
    __table_args__ = (UniqueConstraint("blocker_id", "blocked_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    blocker_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    blocked_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Report(Base):
    """A participant reported a message or an invitation; moderators decide. The
    message is copied (``excerpt``), so the report keeps its context whatever happens."""

    __tablename__ = "conversation_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    reported_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int] = mapped_column(
        ForeignKey("conversation_messages.id", ondelete="CASCADE")
    )
    excerpt: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | actioned | dismissed
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
