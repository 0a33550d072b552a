"""The topic page: a topic's works (compact rows, sorted, paged), the researchers who
work on it most, and the topics its works also carry; and the home page's active topics.

Every function issues a fixed number of queries whatever the topic's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from peergraph.authors.models import AuthorRecord
from peergraph.profiles.models import RecordTopic
from peergraph.profiles.queries import bylines, hidden_records, works_citations, works_page
from peergraph.works.models import Topic, Work, WorkTopic
from peergraph.works.services import Citations, Page

SHOWN_RESEARCHERS = 12
SHOWN_RELATED = 10


@dataclass
class RelatedTopic:
    topic: Topic
    shared: int  # works that carry both topics, or researchers who have both
    by: str = "works"  # "works" or "researchers"

    @property
    def reason(self) -> str:
        if self.by == "researchers":
            return f"{self.shared:,} of the researchers most active on this topic also work on it"
        return f"{self.shared:,} of this topic's works also carry it"


@dataclass
class TopicView:
    topic: Topic
    works: Page  # of Work, WORKS_PER_PAGE at a time
    sort: str
    researchers: list[tuple[AuthorRecord, RecordTopic]]
    researchers_total: int
    related: list[RelatedTopic]
    citations: Citations
    bylines: dict[int, tuple[list[str], int]] = field(default_factory=dict)


def _work_ids(topic_id: int) -> Select[int]:
    """The ids of the topic's works (a subquery)."""
    return select(WorkTopic.work_id).where(WorkTopic.topic_id == topic_id)


def topic_works(session: Session, topic_id: int, *, page: int = 1, sort: str = "newest") -> Page:
    """The topic's works, newest, oldest or most cited first."""
    return works_page(session, _work_ids(topic_id), page=page, sort=sort)


def topic_researchers(
    session: Session, topic_id: int, limit: int = SHOWN_RESEARCHERS
) -> tuple[list[tuple[AuthorRecord, RecordTopic]], int]:
    """The researchers with the most works on the topic (never those their owners hid),
    and how many researchers have it among their topics."""
    shown = (RecordTopic.topic_id == topic_id, RecordTopic.record_id.not_in(hidden_records()))
    total = session.scalar(select(func.count()).select_from(RecordTopic).where(*shown)) or 0
    rows = session.execute(
        select(AuthorRecord, RecordTopic)
        .join(RecordTopic, RecordTopic.record_id == AuthorRecord.id)
        .where(*shown)
        .order_by(RecordTopic.works_count.desc(), RecordTopic.weight.desc(), AuthorRecord.id)
        .limit(limit)
    ).all()
    return [(record, link) for record, link in rows], int(total)


def related_topics(
    session: Session, topic_id: int, limit: int = SHOWN_RELATED
) -> list[RelatedTopic]:
    """The topics this topic's works carry most often besides it (co-occurrence on works);
    where works carry too few (each work has one inferred topic, and the ML and ACL data
    have no others), the topics its researchers work on most besides it."""
    related = _related_by_works(session, topic_id, limit)
    if len(related) < limit:
        seen = {r.topic.id for r in related}
        related += [
            r for r in _related_by_researchers(session, topic_id, limit) if r.topic.id not in seen
        ][: limit - len(related)]
    return related


def _related_by_works(session: Session, topic_id: int, limit: int) -> list[RelatedTopic]:
    mine, other = aliased(WorkTopic), aliased(WorkTopic)
    shared = func.count().label("shared")
    rows = session.execute(
        select(Topic, shared)
        .select_from(mine)
        .join(other, (other.work_id == mine.work_id) & (other.topic_id != mine.topic_id))
        .join(Topic, Topic.id == other.topic_id)
        .where(mine.topic_id == topic_id)
        .group_by(Topic.id)
        .order_by(shared.desc(), Topic.id)
        .limit(limit)
    ).all()
    return [RelatedTopic(topic, int(n)) for topic, n in rows]


MIN_SHARED_RESEARCHERS = 2  # one researcher's two interests do not relate two topics
ACTIVE_RESEARCHERS = 300  # the community a topic is compared by: its most active researchers


def _related_by_researchers(session: Session, topic_id: int, limit: int) -> list[RelatedTopic]:
    """The topics that the topic's most active researchers (most works on it, up to
    ``ACTIVE_RESEARCHERS``) also have, by how many of them have each: a bounded sample,
    so a topic of 3,000 researchers costs what one of 300 does."""
    active = (
        select(RecordTopic.record_id)
        .where(RecordTopic.topic_id == topic_id)
        .order_by(RecordTopic.works_count.desc(), RecordTopic.record_id)
        .limit(ACTIVE_RESEARCHERS)
        .subquery()
    )
    shared = func.count().label("shared")
    rows = session.execute(
        select(Topic, shared)
        .select_from(RecordTopic)
        .join(active, active.c.record_id == RecordTopic.record_id)
        .join(Topic, Topic.id == RecordTopic.topic_id)
        .where(RecordTopic.topic_id != topic_id)
        .group_by(Topic.id)
        .having(shared >= MIN_SHARED_RESEARCHERS)
        .order_by(shared.desc(), Topic.id)
        .limit(limit)
    ).all()
    return [RelatedTopic(topic, int(n), "researchers") for topic, n in rows]


def topic_view(
    session: Session, topic_id: int, *, page: int = 1, sort: str = "newest"
) -> TopicView | None:
    """Everything the topic page shows; None when there is no such topic."""
    topic = session.get(Topic, topic_id)
    if topic is None:
        return None
    works = topic_works(session, topic.id, page=page, sort=sort)
    researchers, researchers_total = topic_researchers(session, topic.id)
    return TopicView(
        topic=topic,
        works=works,
        sort=sort,
        researchers=researchers,
        researchers_total=researchers_total,
        related=related_topics(session, topic.id),
        citations=works_citations(session, _work_ids(topic.id), works.total),
        bylines=bylines(session, [work.id for work in works.items]),
    )


ACTIVE_WINDOW = 2_000  # the newest works that say which topics are active
SHOWN_ACTIVE = 8


@dataclass
class ActiveTopic:
    topic: Topic
    recent: int  # of the newest ACTIVE_WINDOW works, how many carry it


def active_topics(session: Session, limit: int = SHOWN_ACTIVE) -> list[ActiveTopic]:
    """The topics the newest works carry most (the home page's entry points): of the
    ``ACTIVE_WINDOW`` newest works, by how many carry each. Inferred topics only when
    the newest works have no other (OpenAlex topics name fields more precisely)."""
    newest = (
        select(Work.id)
        .where(Work.year.is_not(None))
        .order_by(Work.year.desc(), Work.id.desc())
        .limit(ACTIVE_WINDOW)
        .subquery()
    )
    recent = func.count().label("recent")
    rows = session.execute(
        select(Topic, recent)
        .join(WorkTopic, WorkTopic.topic_id == Topic.id)
        .join(newest, newest.c.id == WorkTopic.work_id)
        .group_by(Topic.id)
        .order_by(recent.desc(), Topic.id)
        .limit(limit * 3)
    ).all()
    found = [ActiveTopic(topic, int(n)) for topic, n in rows]
    named = [a for a in found if a.topic.taxonomy != "inferred"]
    return (named if len(named) >= limit else found)[:limit]
