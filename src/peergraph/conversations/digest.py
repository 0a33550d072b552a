"""Conversation mail as a digest: one message per period at most, listing what arrived
since the last one, as each recipient chose on their account page ("daily", "weekly" or
"never"). Nothing is mailed twice: each participant's ``notified_id`` marks the newest
message a digest told them about, moved in the same transaction that queues the mail.
Messages a participant already read on the site are not mailed.

The worker runs :func:`send_digests` between jobs (jobs/worker.py); ``peergraph mail
digest`` runs it once (cron, or by hand).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from peergraph.accounts import mail
from peergraph.accounts.models import Account
from peergraph.authors.models import AuthorRecord
from peergraph.conversations.models import Conversation, ConversationMember, Message
from peergraph.conversations.services import unread, visible

CHOICES = {"daily": "Daily", "weekly": "Weekly", "never": "Never"}
PERIOD = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
MAX_ITEMS = 20  # per digest; the rest are counted, and waiting on the site
EXCERPT = 300


def due(session: Session, now: datetime) -> list[Account]:
    """Accounts that want digests, whose period has passed, with something new."""
    fresh = (
        select(ConversationMember.account_id)
        .join(Message, Message.conversation_id == ConversationMember.conversation_id)
        .join(Conversation, Conversation.id == ConversationMember.conversation_id)
        .where(
            Message.id > ConversationMember.notified_id,
            unread(),
            visible(),
            ConversationMember.left_at.is_(None),
        )
        .distinct()
    )
    out = []
    for account in session.scalars(
        select(Account).where(
            Account.id.in_(fresh),
            Account.digest.in_(tuple(PERIOD)),
            Account.status == "active",
            Account.email_verified_at.is_not(None),
        )
    ):
        last = account.last_digest_at
        if last is None or last <= now - PERIOD[account.digest]:
            out.append(account)
    return out


def compose(session: Session, account: Account, base_url: str) -> tuple[str, str, int] | None:
    """(subject, body, items) of the account's digest, and every participant row of it
    marked as told; None when there is nothing new."""
    rows = session.execute(
        select(Message, ConversationMember, Conversation)
        .join(ConversationMember, ConversationMember.conversation_id == Message.conversation_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            ConversationMember.account_id == account.id,
            ConversationMember.left_at.is_(None),
            Message.id > ConversationMember.notified_id,
            unread(),
            visible(),
        )
        .order_by(Message.id)
    ).all()
    if not rows:
        return None
    by_conversation: dict[int, list[Message]] = defaultdict(list)
    members: dict[int, ConversationMember] = {}
    conversations: dict[int, Conversation] = {}
    for message, member, conversation in rows:
        by_conversation[conversation.id].append(message)
        members[conversation.id] = member
        conversations[conversation.id] = conversation
    invitations = sum(1 for m, _, _ in rows if m.kind == "invitation")
    others = len(rows) - invitations
    parts = []
    if invitations:
        parts.append(f"{invitations} invitation{'s' if invitations != 1 else ''}")
    if others:
        parts.append(f"{others} new message{'s' if others != 1 else ''}")
    subject = f"peergraph: {' and '.join(parts)}"
    lines = [
        f"Since your last digest, in your peergraph conversations ({base_url}/conversations):",
        "",
    ]
    shown = 0
    for cid, messages in by_conversation.items():
        conversation = conversations[cid]
        mine = members[cid].role == "starter"
        other_record = conversation.recipient_record_id if mine else conversation.starter_record_id
        name = (
            session.scalar(select(AuthorRecord.display_name).where(AuthorRecord.id == other_record))
            or f"Researcher {other_record}"
        )
        lines.append(f"* {name}, about \u201c{conversation.anchor_label}\u201d")
        lines.append(f"  {base_url}/conversations/{cid}")
        for message in messages:
            if shown >= MAX_ITEMS:
                break
            shown += 1
            text = " ".join(message.body.split())
            text = text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "\u2026"
            label = {"invitation": "Invitation", "event": "Update"}.get(message.kind, "Message")
            lines.append(f"  - {label}: {text}")
        lines.append("")
        members[cid].notified_id = max(members[cid].notified_id, messages[-1].id)
    if len(rows) > shown:
        lines.append(f"And {len(rows) - shown} more on the site.")
    lines += [
        "",
        f"You get this {account.digest}; change it on {base_url}/account.",
    ]
    return subject, "\n".join(lines) + "\n", len(rows)


def send_digests(engine: Engine, base_url: str, now: datetime) -> int:
    """Queue one digest for each account that is due; returns how many were queued
    (delivery is accounts/mail.py's ``deliver_pending``)."""
    with Session(engine) as session:
        ids = [a.id for a in due(session, now)]
    return mail.queue_digests(
        engine,
        ids,
        Account.last_digest_at,
        lambda account: PERIOD.get(account.digest),
        lambda session, account: compose(session, account, base_url),
        now,
    )
