"""Researchers and topics in search results, drawn from the works a query ranks highest.

Researchers (docs/search.md): a record whose name matches every word of a short query
comes first ("radford" finds the Radfords, most works first); after them, records ranked
by how well their body of work matches — the DCG-style gain Σ 1 / log2(1 + rank) of their
best ``BEST_OF`` works among the query's top works, so three good matches beat one, a
match near the top beats several far down, and sheer volume of weak matches does not
count; works with more than ``MAX_AUTHORS`` authors are left out of it. Topics:
Σ 1 / (K + rank) over the top works carrying each topic (breadth counts there), topics
whose name contains the query first.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from peergraph.authors.models import AuthorRecord
from peergraph.profiles.queries import records_of_works
from peergraph.search.facts import SearchFacts
from peergraph.search.keyword import query_terms
from peergraph.search.text import name_words, text_index
from peergraph.works.models import Topic, Work, WorkTopic
from peergraph.works.services import author_counts

K = 10  # topic rank damping: the 1st work counts 1/11, the 10th 1/20, the 100th 1/110
LIMIT = 5
BEST_OF = 3
MAX_AUTHORS = 50  # a 3,000-author consortium paper says little about each author
TOPIC_WINDOW = 100


@dataclass
class ResearcherHit:
    record: AuthorRecord
    by_name: bool
    matching_works: int  # of the query's top works
    example: str | None  # title of their best-ranked matching work
    score: float

    @property
    def reason(self) -> str:
        parts = ["name matches"] if self.by_name else []
        if self.matching_works:
            many = "s" if self.matching_works != 1 else ""
            parts.append(f"{self.matching_works} matching work{many}, e.g. “{self.example}”")
        return "; ".join(parts)


@dataclass
class TopicHit:
    topic: Topic
    by_name: bool
    matching_works: int
    score: float

    @property
    def reason(self) -> str:
        parts = ["name matches"] if self.by_name else []
        if self.matching_works:
            parts.append(f"{self.matching_works} of the top {TOPIC_WINDOW} works")
        return "; ".join(parts)


def researcher_hits(
    session: Session,
    query: str,
    top_work_ids: list[int],
    *,
    limit: int = LIMIT,
    sizes: dict[int, int] | None = None,
    facts: SearchFacts | None = None,
) -> list[ResearcherHit]:
    """Researchers by name, then by their works among ``top_work_ids`` (``sizes``: the
    works' author counts, when the caller has them; ``facts``: the works' records without
    asking the database)."""
    words = name_words(query)
    by_name = text_index(session).record_names(session, words, limit) if words else []
    rank = {work_id: n for n, work_id in enumerate(top_work_ids, start=1)}
    ranks: dict[int, list[int]] = defaultdict(list)
    best: dict[int, int] = {}
    if rank:
        if sizes is None or not rank.keys() <= sizes.keys():
            sizes = facts.author_counts(list(rank)) if facts else author_counts(session, list(rank))
        small = [work_id for work_id in rank if sizes[work_id] <= MAX_AUTHORS]
        linked = facts.records_of_works(small) if facts else records_of_works(session, small)
        for record_id, work_id in linked:
            ranks[record_id].append(rank[work_id])
            if record_id not in best or rank[work_id] < rank[best[record_id]]:
                best[record_id] = work_id
    score = {r: sum(1 / math.log2(1 + n) for n in sorted(rs)[:BEST_OF]) for r, rs in ranks.items()}
    count = {r: len(rs) for r, rs in ranks.items()}
    by_work = sorted(score, key=lambda r: (-score[r], r))
    chosen = by_name + [r for r in by_work if r not in by_name]
    chosen = chosen[:limit]
    if not chosen:
        return []
    records = {
        r.id: r for r in session.scalars(select(AuthorRecord).where(AuthorRecord.id.in_(chosen)))
    }
    titles = dict(
        session.execute(
            select(Work.id, Work.title).where(Work.id.in_([best[r] for r in chosen if r in best]))
        ).all()
    )
    return [
        ResearcherHit(
            records[r],
            r in by_name,
            count.get(r, 0),
            titles.get(best.get(r, -1)),
            score.get(r, 0.0),
        )
        for r in chosen
        if r in records
    ]


def topic_hits(
    session: Session,
    query: str,
    top_work_ids: list[int],
    *,
    limit: int = LIMIT,
    facts: SearchFacts | None = None,
) -> list[TopicHit]:
    """Topics by name (a short query), then by their works among ``top_work_ids``."""
    by_name: list[int] = []
    phrase = " ".join(query.split())
    if len(phrase) <= 60 and query_terms(phrase) and facts is not None:
        by_name = facts.topics_named(phrase, limit)
    elif len(phrase) <= 60 and query_terms(phrase):
        by_name = list(
            session.scalars(
                select(Topic.id)
                .where(Topic.name.icontains(phrase, autoescape=True))
                .order_by(Topic.taxonomy, Topic.name)
                .limit(limit)
            )
        )
    rank = {work_id: n for n, work_id in enumerate(top_work_ids[:TOPIC_WINDOW], start=1)}
    score: dict[int, float] = defaultdict(float)
    count: dict[int, int] = defaultdict(int)
    if rank:
        tagged = (
            facts.topics_of_works(list(rank))
            if facts
            else session.execute(
                select(WorkTopic.topic_id, WorkTopic.work_id).where(
                    WorkTopic.work_id.in_(list(rank))
                )
            ).all()
        )
        for topic_id, work_id in tagged:
            score[topic_id] += 1.0 / (K + rank[work_id])
            count[topic_id] += 1
    by_work = [t for t in sorted(score, key=lambda t: (-score[t], t)) if count[t] >= 2]
    chosen = (by_name + [t for t in by_work if t not in by_name])[:limit]
    topics = {t.id: t for t in session.scalars(select(Topic).where(Topic.id.in_(chosen)))}
    return [
        TopicHit(topics[t], t in by_name, count.get(t, 0), score.get(t, 0.0))
        for t in chosen
        if t in topics
    ]
