"""Follows: an account follows a researcher record (claimed or not) or a topic.

The follower count is public; the list of followers is the record owner's alone. A
follow never counts toward trust (profiles/trust.py). Follows of a record move with it
when records merge or split (authors/ownership.py); topics are followed by their
taxonomy and external id (``openalex:T10028``), which outlive a rebuild's topic rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from peergraph.accounts.models import Account
from peergraph.authors.models import AuthorRecord
from peergraph.claims.models import Follow
from peergraph.works.models import Topic

MAX_FOLLOWS = 5_000  # per account: far above any person's use, a bound on abuse


class FollowError(ValueError):
    """A follow that cannot be done; the message says why."""


def topic_key(topic: Topic) -> str:
    return f"{topic.taxonomy}:{topic.external_id}"


def _check_room(session: Session, account: Account) -> None:
    count = session.scalar(select(func.count()).where(Follow.account_id == account.id)) or 0
    if count >= MAX_FOLLOWS:
        raise FollowError(f"An account follows at most {MAX_FOLLOWS:,} researchers and topics.")


def _add(session: Session, row: Follow) -> None:
    try:
        with session.begin_nested():  # following twice (two tabs at once) is one follow
            session.add(row)
            session.flush()
    except IntegrityError:
        pass


def follow_record(session: Session, account: Account, record_id: int, now: datetime) -> None:
    if session.get(AuthorRecord, record_id) is None:
        raise FollowError(f"There is no researcher record {record_id}.")
    if is_following(session, account, record_id):
        return
    _check_room(session, account)
    _add(session, Follow(account_id=account.id, record_id=record_id, created_at=now))


def unfollow_record(session: Session, account: Account, record_id: int) -> None:
    session.execute(
        delete(Follow).where(Follow.account_id == account.id, Follow.record_id == record_id)
    )


def follow_topic(session: Session, account: Account, topic_id: int, now: datetime) -> Topic:
    topic = session.get(Topic, topic_id)
    if topic is None:
        raise FollowError(f"There is no topic {topic_id}.")
    key = topic_key(topic)
    if session.scalar(
        select(Follow.id).where(Follow.account_id == account.id, Follow.topic_key == key)
    ):
        return topic
    _check_room(session, account)
    _add(session, Follow(account_id=account.id, topic_key=key, created_at=now))
    return topic


def unfollow_topic(session: Session, account: Account, topic_id: int) -> None:
    topic = session.get(Topic, topic_id)
    if topic is not None:
        session.execute(
            delete(Follow).where(
                Follow.account_id == account.id, Follow.topic_key == topic_key(topic)
            )
        )


def is_following(session: Session, account: Account | None, record_id: int) -> bool:
    if account is None:
        return False
    return (
        session.scalar(
            select(Follow.id).where(Follow.account_id == account.id, Follow.record_id == record_id)
        )
        is not None
    )


def follows_topic(session: Session, account: Account | None, topic: Topic) -> bool:
    if account is None:
        return False
    return (
        session.scalar(
            select(Follow.id).where(
                Follow.account_id == account.id, Follow.topic_key == topic_key(topic)
            )
        )
        is not None
    )


def follower_count(session: Session, record_id: int) -> int:
    return int(session.scalar(select(func.count()).where(Follow.record_id == record_id)) or 0)


def followers(session: Session, record_id: int, limit: int = 500) -> list[tuple[Account, Follow]]:
    """Who follows the record (for its owner's eyes only), newest first."""
    return [
        (account, follow)
        for follow, account in session.execute(
            select(Follow, Account)
            .join(Account, Account.id == Follow.account_id)
            .where(Follow.record_id == record_id)
            .order_by(Follow.id.desc())
            .limit(limit)
        )
    ]


def following(session: Session, account: Account) -> tuple[list[AuthorRecord], list[Topic]]:
    """What the account follows: records (by name) and topics."""
    records = list(
        session.scalars(
            select(AuthorRecord)
            .join(Follow, Follow.record_id == AuthorRecord.id)
            .where(Follow.account_id == account.id)
            .order_by(AuthorRecord.display_name)
        )
    )
    keys = session.scalars(
        select(Follow.topic_key).where(
            Follow.account_id == account.id, Follow.topic_key.is_not(None)
        )
    ).all()
    topics: list[Topic] = []
    for key in keys:
        taxonomy, _, external = (key or "").partition(":")
        topic = session.scalars(
            select(Topic).where(Topic.taxonomy == taxonomy, Topic.external_id == external)
        ).first()
        if topic is not None:
            topics.append(topic)
    return records, sorted(topics, key=lambda t: t.name)
