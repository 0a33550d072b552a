"""Similar works and researchers from the semantic index (docs/search.md).

Similar works: the nearest works to a work's vector by cosine. Similar researchers: the
researcher's centroid (normalised mean of their works' vectors) finds the nearest
``NEIGHBOURS`` works by others; each other researcher scores the mean cosine of their best
three of those works (one lucky paper is not a body of similar work). Co-authors are left
out — the profile already lists them as collaborators; this list is for people one may not
know yet. The reason shown is the topics the two share.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from peergraph.authors.models import AuthorRecord, AuthorshipLink
from peergraph.profiles.models import Collaboration, RecordTopic
from peergraph.search.semantic import SemanticIndex
from peergraph.works.models import Authorship, Topic, Work, WorkTopic

NEIGHBOURS = 300
BEST_OF = 3
MAX_SHARED = 3


@dataclass
class SimilarWork:
    work: Work
    score: float
    shared_topics: list[str]

    @property
    def reason(self) -> str:
        shared = f"; shared topics: {', '.join(self.shared_topics)}" if self.shared_topics else ""
        return f"cosine {self.score:.2f} between the two texts{shared}"


@dataclass
class SimilarResearcher:
    record: AuthorRecord
    score: float
    close_works: int  # their works among the neighbours
    shared_topics: list[str]

    @property
    def reason(self) -> str:
        many = "s" if self.close_works != 1 else ""
        near = f"{self.close_works} of their works are among the {NEIGHBOURS} nearest{many and ''}"
        if self.shared_topics:
            return f"shared topics: {', '.join(self.shared_topics)}; {near}"
        return near


def similar_works(
    session: Session, index: SemanticIndex, work_id: int, *, limit: int = 5
) -> list[SimilarWork]:
    vector = index.centroid([work_id])
    if vector is None:
        return []
    hits = index.nearest(vector, limit, exclude=[work_id])
    ids = [i for i, _ in hits]
    works = {
        w.id: w
        for w in session.scalars(
            select(Work)
            .where(Work.id.in_(ids))
            .options(selectinload(Work.source), selectinload(Work.authorships))
        )
    }
    topics: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for wid, topic_id, name in session.execute(
        select(WorkTopic.work_id, Topic.id, Topic.name)
        .join(Topic, Topic.id == WorkTopic.topic_id)
        .where(WorkTopic.work_id.in_([work_id, *ids]))
        .order_by(WorkTopic.work_id, WorkTopic.score.desc())
    ):
        topics[wid].append((topic_id, name))
    own = {t for t, _ in topics[work_id]}
    return [
        SimilarWork(works[i], score, [name for t, name in topics[i] if t in own][:MAX_SHARED])
        for i, score in hits
        if i in works
    ]


def record_work_ids(session: Session, record_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Authorship.work_id)
            .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
            .where(AuthorshipLink.record_id == record_id)
        )
    )


def similar_researchers(
    session: Session, index: SemanticIndex, record_id: int, *, limit: int = 5
) -> list[SimilarResearcher]:
    own_works = record_work_ids(session, record_id)
    vector = index.centroid(own_works)
    if vector is None:
        return []
    hits = index.nearest(vector, NEIGHBOURS, exclude=own_works)
    cosine = dict(hits)
    coauthors = set(
        session.scalars(
            select(Collaboration.coauthor_id).where(Collaboration.record_id == record_id)
        )
    )
    scores: dict[int, list[float]] = defaultdict(list)
    for other, work_id in session.execute(
        select(AuthorshipLink.record_id, Authorship.work_id)
        .join(Authorship, Authorship.id == AuthorshipLink.authorship_id)
        .where(Authorship.work_id.in_(list(cosine)))
    ):
        if other != record_id and other not in coauthors:
            scores[other].append(cosine[work_id])
    ranked = sorted(
        scores,
        key=lambda r: (-sum(sorted(scores[r], reverse=True)[:BEST_OF]) / BEST_OF, r),
    )[:limit]
    if not ranked:
        return []
    records = {
        r.id: r for r in session.scalars(select(AuthorRecord).where(AuthorRecord.id.in_(ranked)))
    }
    topic_rows = session.execute(
        select(RecordTopic.record_id, Topic.id, Topic.name)
        .join(Topic, Topic.id == RecordTopic.topic_id)
        .where(RecordTopic.record_id.in_([record_id, *ranked]))
        .order_by(RecordTopic.record_id, RecordTopic.weight.desc())
    ).all()
    topics: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for rid, topic_id, name in topic_rows:
        topics[rid].append((topic_id, name))
    own = [t for t, _ in topics[record_id]]
    results = []
    for r in ranked:
        if r not in records:
            continue
        theirs = {t for t, _ in topics[r]}
        names = dict(topics[r])
        shared = [names[t] for t in own if t in theirs][:MAX_SHARED]
        best = sorted(scores[r], reverse=True)[:BEST_OF]
        results.append(SimilarResearcher(records[r], sum(best) / BEST_OF, len(scores[r]), shared))
    return results
