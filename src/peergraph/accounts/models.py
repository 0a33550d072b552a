"""What an account is, and what it holds: sessions, one-time links, API tokens.

Secrets are never stored: sessions, links and API tokens keep the SHA-256 of the token
the browser or client holds (``token_hash``), so a copy of the database logs no one in.
Passwords are argon2id hashes (accounts/passwords.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from peergraph.db.base import Base, utcnow

ROLES = ("member", "moderator", "admin")


class Account(Base):
    """A person who logs in. ``email`` is stored lower-cased and is unique."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # None: ORCID sign-in only
    role: Mapped[str] = mapped_column(String(16), default="member")  # ROLES
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | suspended
    orcid: Mapped[str | None] = mapped_column(String(19), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    # conversation mail: "daily" or "weekly" digest, or "never" (conversations/digest.py)
    digest: Mapped[str] = mapped_column(String(8), default="daily", server_default="daily")
    last_digest_at: Mapped[datetime | None] = mapped_column(DateTime)
    # feed alerts: a "weekly" digest of at most feeds.alerts.BUDGET items, or "never"
    alerts: Mapped[str] = mapped_column(String(8), default="weekly", server_default="weekly")
    last_alert_at: Mapped[datetime | None] = mapped_column(DateTime)


class AccountSession(Base):
    """A logged-in browser: the cookie holds the token, the row its hash."""

    __tablename__ = "account_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class AccountLink(Base):
    """A one-time link sent by mail: verify an e-mail address, reset a password, or
    confirm a new address (``new_email``). Used once (``used_at``), or expired."""

    __tablename__ = "account_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))  # verify | reset | change-email
    new_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class ApiToken(Base):
    """A personal API token: shown once, stored as a hash, revocable."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(
        String(16)
    )  # the token's first characters, to tell them apart
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class RateEvent(Base):
    """One counted attempt (a failed log-in, a sign-up…) for the rate limits that every
    server process shares (accounts/ratelimit.py). ``key`` is a hash of the e-mail
    address or IP address, never the address itself."""

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_rule_key_at", "rule", "key", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class OutgoingMail(Base):
    """A message to send. Written in the same transaction as the change it reports, then
    delivered (accounts/mail.py); one that fails stays pending for the next attempt."""

    __tablename__ = "outgoing_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # | sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
