"""Focused conversations: the rules (docs/conversations.md).

* **Who may invite.** A logged-in account with a verified e-mail address and an approved
  claim on a record invites the owner of another claimed record who is open to
  collaborate. The invitation is about one thing: one of the recipient's works, one of
  the sender's works, or a topic of either record.
* **Consent first.** The recipient accepts, declines (with an optional canned reason) or
  ignores it. Until it is accepted nobody writes more; one pending invitation per pair,
  and none for ``DECLINED_PAUSE`` after a decline.
* **Safety.** Blocking closes every conversation between the two accounts and stops
  invitations both ways. A report copies the message to the moderators' queue. Limits
  are rows in shared storage (accounts/ratelimit.py): invitations per day by the sender's
  trust band (``INVITATIONS_PER_DAY``), messages per hour, reports per day. A suspended
  account's pending invitations vanish and its conversations close.
* **Privacy.** Only the two participants read a conversation; moderators read the
  reported messages and the messages just before them (``REPORT_CONTEXT``), nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from peergraph.accounts import ratelimit
from peergraph.accounts.models import Account, AccountSession
from peergraph.authors.models import AuthorRecord, AuthorshipLink, RecordClaim
from peergraph.authors.ownership import HOLDING
from peergraph.claims.owner import record_settings
from peergraph.claims.services import Actor, audit
from peergraph.conversations.models import (
    AccountBlock,
    Conversation,
    ConversationMember,
    Message,
    Report,
)
from peergraph.profiles.models import Profile, RecordTopic
from peergraph.profiles.trust import band
from peergraph.works.models import Authorship, Topic, Work

MAX_INVITATION = 1_000
MAX_MESSAGE = 5_000
MAX_NOTE = 1_000
DECLINED_PAUSE = timedelta(days=30)
REPORT_CONTEXT = 5  # messages before a reported one that moderators see with it
# invitations per account per day, by the trust band of the sender's record: a new,
# unverified-looking identity can start few conversations (docs/conversations.md)
INVITATIONS_PER_DAY = {"Trusted": 20, "Established": 15, "Developing": 10, "Emerging": 5}
DECLINE_REASONS = {
    "not-now": "Not the right time for me",
    "not-my-area": "Not my area of work",
    "too-busy": "Too many commitments at the moment",
}
REPORT_REASONS = {
    "spam": "Spam or advertising",
    "harassment": "Harassment or abuse",
    "impersonation": "Impersonation",
    "other": "Something else",
}
ANCHOR_WORDS = {"their-work": "your work", "my-work": "my work", "topic": "the topic"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class ConversationError(ValueError):
    """Something that cannot be done; the message is for the person who asked (400)."""


class NotAllowed(ConversationError):
    """The account may not do this (403)."""


class TooMany(ConversationError):
    """A rate limit is used up (429); ``retry_after`` seconds until the next is allowed."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(ConversationError):
    """No such conversation, or not one this account takes part in (404: a stranger
    learns nothing about whether it exists)."""


def clean_body(raw: str, limit: int, what: str) -> str:
    """Control and direction-changing characters removed, spaces tidied, lines kept."""
    text = _CONTROL.sub("", raw.replace("\r\n", "\n"))
    text = "\n".join(" ".join(line.split()) for line in text.split("\n")).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    if not text:
        raise ConversationError(f"Write {what} first.")
    if len(text) > limit:
        raise ConversationError(f"The {what} is {len(text):,} characters long; at most {limit:,}.")
    return text


# ---- who may invite whom ---------------------------------------------------------------------


def owned_records(session: Session, account: Account | None) -> list[int]:
    """The records the account's approved claims hold, oldest claim first."""
    if account is None:
        return []
    return list(
        session.scalars(
            select(RecordClaim.record_id)
            .where(RecordClaim.account_id == account.id, RecordClaim.status.in_(HOLDING))
            .order_by(RecordClaim.id)
        )
    )


def record_owner(session: Session, record_id: int) -> Account | None:
    account_id = session.scalar(
        select(RecordClaim.account_id).where(
            RecordClaim.record_id == record_id, RecordClaim.status.in_(HOLDING)
        )
    )
    return session.get(Account, account_id) if account_id else None


def blocked_between(session: Session, a: int, b: int) -> bool:
    return (
        session.scalar(
            select(AccountBlock.id).where(
                or_(
                    and_(AccountBlock.blocker_id == a, AccountBlock.blocked_id == b),
                    and_(AccountBlock.blocker_id == b, AccountBlock.blocked_id == a),
                )
            )
        )
        is not None
    )


@dataclass(frozen=True)
class Invitability:
    """Whether ``account`` may invite the owner of a record, and if not, why (in words
    the profile page shows beside the disabled button)."""

    allowed: bool
    why: str
    owner: Account | None = None
    sender_record: int | None = None


UNCLAIMED = Invitability(False, "Claim this author entity first to unlock direct invitations.")


def may_invite(session: Session, account: Account | None, record_id: int) -> Invitability:
    owner = record_owner(session, record_id)
    if owner is None:
        return UNCLAIMED
    chosen = record_settings(session, record_id)
    if chosen is None or not chosen.open_to_collaborate:
        return Invitability(
            False, "The owner of this record is not open to collaboration requests."
        )
    if owner.status != "active":
        return Invitability(False, "This record's owner cannot take invitations at the moment.")
    if account is None:
        return Invitability(
            False, "Log in, with a claimed record of your own, to invite its owner."
        )
    if account.id == owner.id:
        return Invitability(False, "This is your own record.")
    mine = owned_records(session, account)
    if not mine:
        return Invitability(
            False,
            "Claim your own author record first: invitations come from one researcher to another.",
        )
    if account.email_verified_at is None:
        return Invitability(False, "Verify your e-mail address first.")
    if blocked_between(session, account.id, owner.id):
        return Invitability(False, "You cannot invite this researcher.")
    return Invitability(True, "The owner is open to collaborate.", owner, mine[0])


def invitation_limit(session: Session, record_ids: list[int]) -> tuple[int, str]:
    """Invitations per day for an account holding these records: by the best trust band
    among them."""
    score = session.scalar(
        select(func.max(Profile.trust_score)).where(Profile.record_id.in_(record_ids))
    )
    name = band(int(score or 0))
    return INVITATIONS_PER_DAY[name], name


@dataclass(frozen=True)
class Anchor:
    kind: str
    id: int
    label: str


def anchor_choices(
    session: Session, sender_record: int | None, record_id: int, limit: int = 60
) -> dict[str, list[Anchor]]:
    """What an invitation may be about: the recipient's works, the sender's works (newest
    first) and the two records' topics."""

    def works(rec: int | None, kind: str) -> list[Anchor]:
        if rec is None:
            return []
        rows = session.execute(
            select(Work.id, Work.title)
            .join(Authorship, Authorship.work_id == Work.id)
            .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
            .where(AuthorshipLink.record_id == rec)
            .order_by(Work.year.desc().nulls_last(), Work.id.desc())
            .limit(limit)
        )
        return [Anchor(kind, wid, title or f"Work {wid}") for wid, title in rows]

    recs = [r for r in (record_id, sender_record) if r is not None]
    topics = session.execute(
        select(Topic.id, Topic.name)
        .join(RecordTopic, RecordTopic.topic_id == Topic.id)
        .where(RecordTopic.record_id.in_(recs))
        .group_by(Topic.id, Topic.name)
        .order_by(func.sum(RecordTopic.works_count).desc(), Topic.id)
        .limit(limit)
    )
    return {
        "their-work": works(record_id, "their-work"),
        "my-work": works(sender_record, "my-work"),
        "topic": [Anchor("topic", tid, name) for tid, name in topics],
    }


def _anchor(
    session: Session, kind: str, anchor_id: int, sender_record: int, record_id: int
) -> Anchor:
    if kind in ("their-work", "my-work"):
        rec = record_id if kind == "their-work" else sender_record
        title = session.scalar(
            select(Work.title)
            .join(Authorship, Authorship.work_id == Work.id)
            .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
            .where(Work.id == anchor_id, AuthorshipLink.record_id == rec)
            .limit(1)
        )
        if title is None:
            whose = "the recipient's" if kind == "their-work" else "your"
            raise ConversationError(f"Work {anchor_id} is not one of {whose} works.")
        return Anchor(kind, anchor_id, title[:500])
    if kind == "topic":
        name = session.scalar(
            select(Topic.name)
            .join(RecordTopic, RecordTopic.topic_id == Topic.id)
            .where(Topic.id == anchor_id, RecordTopic.record_id.in_((sender_record, record_id)))
            .limit(1)
        )
        if name is None:
            raise ConversationError(f"Topic {anchor_id} is not a topic of either record.")
        return Anchor(kind, anchor_id, name[:500])
    raise ConversationError("Choose what the conversation is about: a work or a topic.")


# ---- invitations -----------------------------------------------------------------------------


def _between(account_a: int, account_b: int) -> Any:
    return or_(
        and_(Conversation.starter_id == account_a, Conversation.recipient_id == account_b),
        and_(Conversation.starter_id == account_b, Conversation.recipient_id == account_a),
    )


def invite(
    session: Session, actor: Actor, record_id: int, anchor_kind: str, anchor_id: int, body: str
) -> Conversation:
    """Send an invitation to the owner of ``record_id``."""
    me = actor.account
    if session.get(AuthorRecord, record_id) is None:
        raise NotFound(f"There is no researcher record {record_id}.")
    can = may_invite(session, me, record_id)
    if not can.allowed or can.owner is None or can.sender_record is None:
        raise NotAllowed(can.why)
    text = clean_body(body, MAX_INVITATION, "a short message")
    anchor = _anchor(session, anchor_kind, anchor_id, can.sender_record, record_id)
    owner = can.owner
    pending = session.scalar(
        select(Conversation.id).where(
            _between(me.id, owner.id), Conversation.status.in_(("invited", "accepted"))
        )
    )
    if pending is not None:
        raise ConversationError(
            "You already have an open invitation or conversation with this researcher: "
            f"continue it at /conversations/{pending}."
        )
    declined = session.scalar(
        select(func.max(Conversation.responded_at)).where(
            Conversation.starter_id == me.id,
            Conversation.recipient_id == owner.id,
            Conversation.status == "declined",
        )
    )
    if declined is not None and declined > actor.now - DECLINED_PAUSE:
        raise ConversationError(
            "This researcher declined your last invitation; you can invite them again "
            f"{DECLINED_PAUSE.days} days after that."
        )
    limit, band_name = invitation_limit(session, owned_records(session, me))
    key = actor.key("invite-account", str(me.id))
    try:
        ratelimit.check(session, "invite-account", key, actor.now, limit=limit)
    except ratelimit.RateLimited as exc:
        audit(
            session,
            me,
            "invitation.limited",
            actor.now,
            record_id=record_id,
            claim_id=None,
            detail={"limit": limit, "band": band_name},
        )
        raise TooMany(
            f"{exc} ({band_name} accounts may send {limit} a day.)", exc.retry_after
        ) from exc
    ratelimit.hit(session, "invite-account", key, actor.now)
    conversation = Conversation(
        starter_id=me.id,
        recipient_id=owner.id,
        starter_record_id=can.sender_record,
        recipient_record_id=record_id,
        anchor_kind=anchor.kind,
        anchor_id=anchor.id,
        anchor_label=anchor.label,
        status="invited",
        created_at=actor.now,
    )
    session.add(conversation)
    session.flush()
    message = Message(
        conversation_id=conversation.id,
        author_id=me.id,
        kind="invitation",
        body=text,
        created_at=actor.now,
    )
    session.add(message)
    session.flush()
    session.add_all(
        [
            ConversationMember(
                conversation_id=conversation.id,
                account_id=me.id,
                role="starter",
                last_read_id=message.id,
                notified_id=message.id,
            ),
            ConversationMember(
                conversation_id=conversation.id,
                account_id=owner.id,
                role="recipient",
                last_read_id=0,
                notified_id=0,
            ),
        ]
    )
    session.flush()
    return conversation


def _member(
    session: Session, account: Account, conversation_id: int
) -> tuple[Conversation, ConversationMember]:
    row = session.execute(
        select(Conversation, ConversationMember)
        .join(ConversationMember, ConversationMember.conversation_id == Conversation.id)
        .where(Conversation.id == conversation_id, ConversationMember.account_id == account.id)
    ).first()
    if row is None or (row[0].status == "withdrawn" and row[1].role == "recipient"):
        raise NotFound(f"There is no conversation {conversation_id} of yours.")
    return row[0], row[1]


def _event(
    session: Session, conversation: Conversation, author: Account | None, text: str, now: datetime
) -> Message:
    message = Message(
        conversation_id=conversation.id,
        author_id=author.id if author else None,
        kind="event",
        body=text,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message


def _seen(member: ConversationMember, message: Message) -> None:
    member.last_read_id = max(member.last_read_id, message.id)
    member.notified_id = max(member.notified_id, message.id)


def accept(session: Session, actor: Actor, conversation_id: int) -> Conversation:
    conversation, member = _member(session, actor.account, conversation_id)
    if member.role != "recipient":
        raise NotAllowed("Only the researcher who was invited can accept.")
    if conversation.status != "invited":
        raise ConversationError(f"This invitation is {conversation.status} already.")
    if conversation.starter_id is None or blocked_between(
        session, actor.account.id, conversation.starter_id
    ):
        raise ConversationError("This invitation can no longer be accepted.")
    conversation.status, conversation.responded_at = "accepted", actor.now
    _seen(
        member, _event(session, conversation, actor.account, "accepted the invitation", actor.now)
    )
    return conversation


def decline(session: Session, actor: Actor, conversation_id: int, reason: str) -> Conversation:
    conversation, member = _member(session, actor.account, conversation_id)
    if member.role != "recipient":
        raise NotAllowed("Only the researcher who was invited can decline.")
    if conversation.status != "invited":
        raise ConversationError(f"This invitation is {conversation.status} already.")
    if reason and reason not in DECLINE_REASONS:
        raise ConversationError("Choose one of the reasons offered, or none.")
    conversation.status, conversation.responded_at = "declined", actor.now
    conversation.reason = reason or None
    words = f"declined: {DECLINE_REASONS[reason]}" if reason else "declined the invitation"
    _seen(member, _event(session, conversation, actor.account, words, actor.now))
    return conversation


def send(session: Session, actor: Actor, conversation_id: int, body: str) -> Message:
    conversation, member = _member(session, actor.account, conversation_id)
    if conversation.status != "accepted":
        raise ConversationError(
            "Messages can be written once the invitation is accepted, and not after the "
            f"conversation ended (it is {conversation.status})."
        )
    if member.left_at is not None:
        raise ConversationError("You left this conversation.")
    text = clean_body(body, MAX_MESSAGE, "a message")
    key = actor.key("message-account", str(actor.account.id))
    ratelimit.check(session, "message-account", key, actor.now)
    ratelimit.hit(session, "message-account", key, actor.now)
    message = Message(
        conversation_id=conversation.id,
        author_id=actor.account.id,
        kind="message",
        body=text,
        created_at=actor.now,
    )
    session.add(message)
    session.flush()
    _seen(member, message)
    member.archived_at = None
    return message


def mark_read(session: Session, account: Account, conversation_id: int) -> None:
    _conversation, member = _member(session, account, conversation_id)
    newest = session.scalar(
        select(func.max(Message.id)).where(Message.conversation_id == conversation_id)
    )
    member.last_read_id = max(member.last_read_id, newest or 0)


def archive(
    session: Session, account: Account, conversation_id: int, *, on: bool, now: datetime
) -> None:
    _conversation, member = _member(session, account, conversation_id)
    member.archived_at = now if on else None


def leave(session: Session, actor: Actor, conversation_id: int) -> None:
    """Leave: the conversation ends for both (the other side sees that you left)."""
    conversation, member = _member(session, actor.account, conversation_id)
    if member.left_at is not None:
        return
    member.left_at = actor.now
    if conversation.status == "invited" and member.role == "starter":
        conversation.status, conversation.reason = "withdrawn", "withdrawn"
    elif conversation.status in ("invited", "accepted"):
        conversation.status, conversation.reason = "closed", "left"
    conversation.closed_at = actor.now
    _seen(member, _event(session, conversation, actor.account, "left the conversation", actor.now))


def block(session: Session, actor: Actor, conversation_id: int) -> AccountBlock:
    """Block the other participant: no invitations either way, every conversation
    between the two closed."""
    conversation, member = _member(session, actor.account, conversation_id)
    other = conversation.recipient_id if member.role == "starter" else conversation.starter_id
    if other is None:
        raise ConversationError("The other account no longer exists.")
    return block_account(session, actor, other)


def block_account(session: Session, actor: Actor, other: int) -> AccountBlock:
    me = actor.account
    if other == me.id:
        raise ConversationError("You cannot block yourself.")
    found = session.scalars(
        select(AccountBlock).where(
            AccountBlock.blocker_id == me.id, AccountBlock.blocked_id == other
        )
    ).first()
    if found is None:
        found = AccountBlock(blocker_id=me.id, blocked_id=other, created_at=actor.now)
        session.add(found)
    for conversation in session.scalars(
        select(Conversation).where(
            _between(me.id, other), Conversation.status.in_(("invited", "accepted"))
        )
    ):
        conversation.status, conversation.reason, conversation.closed_at = (
            "closed",
            "blocked",
            actor.now,
        )
        _event(session, conversation, None, "The conversation is closed.", actor.now)
    audit(
        session,
        me,
        "account.blocked",
        actor.now,
        record_id=None,
        claim_id=None,
        detail={"blocked": other},
    )
    session.flush()
    return found


def unblock(session: Session, account: Account, block_id: int) -> None:
    session.execute(
        delete(AccountBlock).where(
            AccountBlock.id == block_id, AccountBlock.blocker_id == account.id
        )
    )


def blocks_of(session: Session, account: Account) -> list[tuple[AccountBlock, list[AuthorRecord]]]:
    """Whom the account blocked, each with the records it owns (accounts have no public
    name; their records do)."""
    out = []
    for row in session.scalars(
        select(AccountBlock)
        .where(AccountBlock.blocker_id == account.id)
        .order_by(AccountBlock.id.desc())
    ):
        other = session.get(Account, row.blocked_id)
        ids = owned_records(session, other)
        records = (
            list(session.scalars(select(AuthorRecord).where(AuthorRecord.id.in_(ids))))
            if ids
            else []
        )
        out.append((row, records))
    return out


# ---- reports and moderation ------------------------------------------------------------------


def report(
    session: Session, actor: Actor, conversation_id: int, message_id: int, reason: str, note: str
) -> Report:
    conversation, _member_row = _member(session, actor.account, conversation_id)
    message = session.get(Message, message_id)
    if message is None or message.conversation_id != conversation.id:
        raise NotFound(f"There is no message {message_id} in this conversation.")
    if message.author_id == actor.account.id or message.kind == "event":
        raise ConversationError("Report a message the other participant wrote.")
    if reason not in REPORT_REASONS:
        raise ConversationError("Choose why you report it.")
    note = clean_body(note, MAX_NOTE, "a note") if note.strip() else ""
    key = actor.key("report-account", str(actor.account.id))
    ratelimit.check(session, "report-account", key, actor.now)
    ratelimit.hit(session, "report-account", key, actor.now)
    row = Report(
        reporter_id=actor.account.id,
        reported_id=message.author_id,
        conversation_id=conversation.id,
        message_id=message.id,
        excerpt=message.body,
        reason=reason,
        note=note or None,
        status="open",
        created_at=actor.now,
    )
    session.add(row)
    session.flush()
    audit(
        session,
        actor.account,
        "message.reported",
        actor.now,
        record_id=None,
        claim_id=None,
        detail={"report": row.id, "reason": reason},
    )
    return row


@dataclass
class ReportView:
    report: Report
    context: list[Message]  # the reported message last
    reported_records: list[AuthorRecord]
    reported_status: str | None
    invitations_today: int


def open_reports(session: Session, now: datetime) -> list[ReportView]:
    out = []
    for row in session.scalars(select(Report).where(Report.status == "open").order_by(Report.id)):
        context = list(
            session.scalars(
                select(Message)
                .where(Message.conversation_id == row.conversation_id, Message.id <= row.message_id)
                .order_by(Message.id.desc())
                .limit(REPORT_CONTEXT + 1)
            )
        )[::-1]
        other = session.get(Account, row.reported_id) if row.reported_id else None
        ids = owned_records(session, other)
        sent = 0
        if other is not None:
            sent = int(
                session.scalar(
                    select(func.count()).where(
                        Conversation.starter_id == other.id,
                        Conversation.created_at > now - timedelta(days=1),
                    )
                )
                or 0
            )
        out.append(
            ReportView(
                row,
                context,
                list(session.scalars(select(AuthorRecord).where(AuthorRecord.id.in_(ids))))
                if ids
                else [],
                other.status if other else None,
                sent,
            )
        )
    return out


def _moderator(actor: Actor) -> Account:
    if actor.account.role not in ("moderator", "admin"):
        raise NotAllowed("Only moderators can do this.")
    return actor.account


def decide_report(session: Session, actor: Actor, report_id: int, decision: str) -> Report:
    """``dismiss`` the report, or ``suspend`` the reported account."""
    moderator = _moderator(actor)
    row = session.get(Report, report_id)
    if row is None:
        raise NotFound(f"There is no report {report_id}.")
    if row.status != "open":
        raise ConversationError(f"Report {report_id} is decided already.")
    if decision not in ("dismiss", "suspend"):
        raise ConversationError("Dismiss the report or suspend the account.")
    if decision == "suspend":
        if row.reported_id is None:
            raise ConversationError("The reported account no longer exists.")
        suspend(session, actor, row.reported_id, f"report #{row.id}")
    row.status = "dismissed" if decision == "dismiss" else "actioned"
    row.decided_by, row.decided_at = moderator.id, actor.now
    audit(
        session,
        moderator,
        f"report.{row.status}",
        actor.now,
        record_id=None,
        claim_id=None,
        detail={"report": row.id},
    )
    return row


def suspend(session: Session, actor: Actor, account_id: int, why: str) -> int:
    """Suspend an account: it is logged out and cannot log in, its pending invitations
    vanish from the recipients' inboxes, and its conversations close. Returns how many
    invitations were withdrawn."""
    moderator = _moderator(actor)
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"There is no account {account_id}.")
    if account.role in ("moderator", "admin"):
        raise NotAllowed("Moderators and admins are suspended by an operator, on the command line.")
    account.status = "suspended"
    session.execute(delete(AccountSession).where(AccountSession.account_id == account.id))
    withdrawn = 0
    for conversation in session.scalars(
        select(Conversation).where(
            or_(Conversation.starter_id == account.id, Conversation.recipient_id == account.id),
            Conversation.status.in_(("invited", "accepted")),
        )
    ):
        if conversation.status == "invited" and conversation.starter_id == account.id:
            conversation.status, conversation.reason = "withdrawn", "suspended"
            withdrawn += 1
        else:
            conversation.status, conversation.reason = "closed", "suspended"
            _event(session, conversation, None, "The conversation is closed.", actor.now)
        conversation.closed_at = actor.now
    audit(
        session,
        moderator,
        "account.suspended",
        actor.now,
        record_id=None,
        claim_id=None,
        detail={"account": account.id, "why": why, "invitations_withdrawn": withdrawn},
    )
    session.flush()
    return withdrawn


# ---- reading ---------------------------------------------------------------------------------


def unread() -> Any:
    """SQL: the message is new to the participant row it is joined with — after what that
    participant read, and written by the other side (or an event)."""
    return and_(
        Message.id > ConversationMember.last_read_id,
        or_(Message.author_id.is_(None), Message.author_id != ConversationMember.account_id),
    )


def visible() -> Any:
    """SQL: the participant row's conversation is shown to it (a withdrawn invitation
    vanishes from its recipient)."""
    return ~and_(Conversation.status == "withdrawn", ConversationMember.role == "recipient")


@dataclass
class Summary:
    conversation: Conversation
    member: ConversationMember
    other_record: AuthorRecord | None
    other_record_id: int
    unread: int
    last: Message | None


def inbox(
    session: Session, account: Account, *, archived: bool = False, limit: int = 200
) -> list[Summary]:
    """The account's conversations, newest activity first (withdrawn invitations to it
    left out)."""
    unread_count = (
        select(func.count(Message.id))
        .where(Message.conversation_id == ConversationMember.conversation_id, unread())
        .correlate(ConversationMember)
        .scalar_subquery()
    )
    newest = (
        select(func.max(Message.id))
        .where(Message.conversation_id == Conversation.id)
        .correlate(Conversation)
        .scalar_subquery()
    )
    query = (
        select(Conversation, ConversationMember, unread_count, newest)
        .join(ConversationMember, ConversationMember.conversation_id == Conversation.id)
        .where(
            ConversationMember.account_id == account.id,
            visible(),
            ConversationMember.archived_at.is_not(None)
            if archived
            else ConversationMember.archived_at.is_(None),
        )
        .order_by(newest.desc())
        .limit(limit)
    )
    out = []
    for conversation, member, count, last_id in session.execute(query):
        other_id = (
            conversation.recipient_record_id
            if member.role == "starter"
            else conversation.starter_record_id
        )
        out.append(
            Summary(
                conversation,
                member,
                session.get(AuthorRecord, other_id),
                other_id,
                int(count or 0),
                session.get(Message, last_id) if last_id else None,
            )
        )
    return out


def unread_total(session: Session, account: Account) -> int:
    """Unread messages and invitations over the account's conversations."""
    return int(
        session.scalar(
            select(func.count(Message.id))
            .join(ConversationMember, ConversationMember.conversation_id == Message.conversation_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                ConversationMember.account_id == account.id,
                ConversationMember.archived_at.is_(None),
                unread(),
                visible(),
            )
        )
        or 0
    )


def newest_message_id(session: Session, account: Account) -> int:
    """The newest message id in the account's conversations: what a live page polls to
    know that something happened."""
    return int(
        session.scalar(
            select(func.max(Message.id))
            .join(ConversationMember, ConversationMember.conversation_id == Message.conversation_id)
            .where(ConversationMember.account_id == account.id)
        )
        or 0
    )


@dataclass
class Thread:
    conversation: Conversation
    member: ConversationMember
    messages: list[Message]
    names: dict[int, str]  # account id → the name shown (its record's)
    other_record: AuthorRecord | None
    other_record_id: int
    my_record_id: int


def thread(
    session: Session, account: Account, conversation_id: int, *, after: int = 0, limit: int = 500
) -> Thread:
    conversation, member = _member(session, account, conversation_id)
    messages = list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id, Message.id > after)
            .order_by(Message.id.desc())
            .limit(limit)
        )
    )[::-1]
    mine = member.role == "starter"
    other_id = conversation.recipient_record_id if mine else conversation.starter_record_id
    my_id = conversation.starter_record_id if mine else conversation.recipient_record_id
    records = {
        r.id: r
        for r in session.scalars(select(AuthorRecord).where(AuthorRecord.id.in_((other_id, my_id))))
    }
    names = {}
    for account_id, rec in (
        (conversation.starter_id, conversation.starter_record_id),
        (conversation.recipient_id, conversation.recipient_record_id),
    ):
        if account_id is not None:
            names[account_id] = records[rec].display_name if rec in records else f"Researcher {rec}"
    return Thread(conversation, member, messages, names, records.get(other_id), other_id, my_id)


def forget_account(session: Session, account: Account, now: datetime) -> None:
    """Before an account is deleted: its open conversations close (its messages stay, as
    from a deleted account) and its pending invitations vanish."""
    session.execute(
        update(Conversation)
        .where(Conversation.starter_id == account.id, Conversation.status == "invited")
        .values(status="withdrawn", reason="deleted", closed_at=now)
    )
    for conversation in session.scalars(
        select(Conversation).where(
            _between_any(account.id), Conversation.status.in_(("invited", "accepted"))
        )
    ):
        conversation.status, conversation.reason, conversation.closed_at = "closed", "deleted", now
        _event(session, conversation, None, "The conversation is closed.", now)


def _between_any(account_id: int) -> Any:
    return or_(Conversation.starter_id == account_id, Conversation.recipient_id == account_id)
