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

from peergraph.authors.models import AuthorRecord
from peergraph.profiles.models import Collaboration, RecordTopic
from peergraph.profiles.queries import hidden_records, record_work_ids, records_of_works
from peergraph.search.semantic import SemanticIndex
from peergraph.works.models import Topic, Work, WorkTopic

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
) -> list[SimilarWork] | None:
    """Nearest works by cosine, best first; None when there is no such work."""
    if session.get(Work, work_id) is None:  # identity map: no query on the work page
        return None
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


def similar_researchers(
    session: Session, index: SemanticIndex, record_id: int, *, limit: int = 5
) -> list[SimilarResearcher]:
    ranked = index.memo(
        ("similar-researchers", record_id, limit),
        lambda: _nearest_researchers(session, index, record_id, limit),
    )
    if not ranked:
        return []
    ids = [r for r, _, _ in ranked]
    shown = select(AuthorRecord).where(
        AuthorRecord.id.in_(ids), AuthorRecord.id.not_in(hidden_records())
    )
    records = {r.id: r for r in session.scalars(shown)}
    topics: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for rid, topic_id, name in session.execute(
        select(RecordTopic.record_id, Topic.id, Topic.name)
        .join(Topic, Topic.id == RecordTopic.topic_id)
        .where(RecordTopic.record_id.in_([record_id, *ids]))
        .order_by(RecordTopic.record_id, RecordTopic.weight.desc())
    ):
        topics[rid].append((topic_id, name))
    own = [t for t, _ in topics[record_id]]
    results = []
    for r, score, close_works in ranked:
        if r not in records:
            continue
        names = dict(topics[r])
        shared = [names[t] for t in own if t in names][:MAX_SHARED]
        results.append(SimilarResearcher(records[r], score, close_works, shared))
    return results


def _nearest_researchers(
    session: Session, index: SemanticIndex, record_id: int, limit: int
) -> list[tuple[int, float, int]]:
    """(record id, mean cosine of their best three, works among the neighbours), best first."""
    own_works = record_work_ids(session, record_id)
    vector = index.centroid(own_works)
    if vector is None:
        return []
    cosine = dict(index.nearest(vector, NEIGHBOURS, exclude=own_works))
    coauthors = set(
        session.scalars(
            select(Collaboration.coauthor_id).where(Collaboration.record_id == record_id)
        )
    )
    scores: dict[int, list[float]] = defaultdict(list)
    for other, work_id in records_of_works(session, list(cosine)):
        if other != record_id and other not in coauthors:
            scores[other].append(cosine[work_id])
    best = {r: sum(sorted(s, reverse=True)[:BEST_OF]) / BEST_OF for r, s in scores.items()}
    ranked = sorted(best, key=lambda r: (-best[r], r))[:limit]
    return [(r, best[r], len(scores[r])) for r in ranked]
