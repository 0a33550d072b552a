"""The institution page: the works with an author at the institution (compact rows,
sorted, paged), the researchers with the most works there, and the topics of its works.

Every function issues a fixed number of queries whatever the institution's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from peergraph.authors.models import AuthorRecord, AuthorshipLink
from peergraph.profiles.queries import bylines, hidden_records, works_citations, works_page
from peergraph.works.models import (
    Authorship,
    AuthorshipInstitution,
    Institution,
    Topic,
    WorkTopic,
)
from peergraph.works.services import Citations, Page

SHOWN_RESEARCHERS = 12
SHOWN_TOPICS = 10


@dataclass
class InstitutionView:
    institution: Institution
    works: Page  # of Work, WORKS_PER_PAGE at a time
    sort: str
    researchers: list[tuple[AuthorRecord, int]]  # (record, its works at the institution)
    researchers_total: int
    topics: list[tuple[Topic, int]]  # (topic, the institution's works that carry it)
    citations: Citations
    bylines: dict[int, tuple[list[str], int]] = field(default_factory=dict)


def _work_ids(institution_id: int) -> Select[int]:
    """The ids of the works with an author at the institution (a subquery)."""
    return (
        select(Authorship.work_id)
        .join(AuthorshipInstitution, AuthorshipInstitution.authorship_id == Authorship.id)
        .where(AuthorshipInstitution.institution_id == institution_id)
        .distinct()
    )


def institution_works(
    session: Session, institution_id: int, *, page: int = 1, sort: str = "newest"
) -> Page:
    """The institution's works, newest, oldest or most cited first."""
    return works_page(session, _work_ids(institution_id), page=page, sort=sort)


def institution_researchers(
    session: Session, institution_id: int, limit: int = SHOWN_RESEARCHERS
) -> tuple[list[tuple[AuthorRecord, int]], int]:
    """The researchers with the most works at the institution (never those their owners
    hid), and how many researchers have any."""
    here = func.count(func.distinct(Authorship.work_id)).label("here")
    per_record = (
        select(AuthorshipLink.record_id, here)
        .join(Authorship, Authorship.id == AuthorshipLink.authorship_id)
        .join(AuthorshipInstitution, AuthorshipInstitution.authorship_id == Authorship.id)
        .where(
            AuthorshipInstitution.institution_id == institution_id,
            AuthorshipLink.record_id.not_in(hidden_records()),
        )
        .group_by(AuthorshipLink.record_id)
        .subquery()
    )
    total = session.scalar(select(func.count()).select_from(per_record)) or 0
    rows = session.execute(
        select(AuthorRecord, per_record.c.here)
        .join(per_record, per_record.c.record_id == AuthorRecord.id)
        .order_by(per_record.c.here.desc(), AuthorRecord.works_count.desc(), AuthorRecord.id)
        .limit(limit)
    ).all()
    return [(record, int(n)) for record, n in rows], int(total)


def institution_topics(
    session: Session, institution_id: int, limit: int = SHOWN_TOPICS
) -> list[tuple[Topic, int]]:
    """The topics its works carry most, with how many of its works carry each."""
    count = func.count().label("n")
    rows = session.execute(
        select(Topic, count)
        .join(WorkTopic, WorkTopic.topic_id == Topic.id)
        .where(WorkTopic.work_id.in_(_work_ids(institution_id)))
        .group_by(Topic.id)
        .order_by(count.desc(), Topic.id)
        .limit(limit)
    ).all()
    return [(topic, int(n)) for topic, n in rows]


def institution_view(
    session: Session, institution_id: int, *, page: int = 1, sort: str = "newest"
) -> InstitutionView | None:
    """Everything the institution page shows; None when there is no such institution."""
    institution = session.get(Institution, institution_id)
    if institution is None:
        return None
    works = institution_works(session, institution.id, page=page, sort=sort)
    researchers, researchers_total = institution_researchers(session, institution.id)
    return InstitutionView(
        institution=institution,
        works=works,
        sort=sort,
        researchers=researchers,
        researchers_total=researchers_total,
        topics=institution_topics(session, institution.id),
        citations=works_citations(session, _work_ids(institution.id), works.total),
        bylines=bylines(session, [work.id for work in works.items]),
    )
