"""Researchers and topics in search results, drawn from the works a query ranks highest.

Researchers (docs/search.md): a record whose name matches every word of a short query
comes first ("radford" finds the Radfords, most works first); after them, records ranked
by how well their body of work matches — the DCG-style gain Σ 1 / log2(1 + rank) of their
best ``BEST_OF`` works among the query's top works, so three good matches beat one, a
match near the top beats several far down, and sheer volume of weak matches does not
count; works with more than ``MAX_AUTHORS`` authors are left out of it. Topics:
Σ 1 / (K + rank) over the top works carrying each topic (breadth counts there), topics
whose name contains the query first. Neither list takes a researcher or a topic on one
weak match (SEVERAL, STRONG_RANK, TOPIC_SEVERAL below).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from peergraph.authors.models import AuthorRecord
from peergraph.profiles.queries import hidden_records, records_of_works
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
# Who may appear at all (docs/search.md): a researcher needs several matching works
# (SEVERAL in the top SEVERAL_WINDOW) or one very strong one (a top-STRONG_RANK work);
# a topic needs TOPIC_SEVERAL of the top TOPIC_WINDOW works, or SEVERAL of the top
# TOPIC_CLOSE. One weak match is a coincidence, not a body of work.
SEVERAL = 2
SEVERAL_WINDOW = 100
STRONG_RANK = 3
TOPIC_SEVERAL = 3
TOPIC_CLOSE = 20


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
    found: dict[int, tuple[float, int, int]] = {}  # record: (score, works, best work)
    if rank:
        if sizes is None or not rank.keys() <= sizes.keys():
            sizes = facts.author_counts(list(rank)) if facts else author_counts(session, list(rank))
        small = [work_id for work_id in rank if sizes[work_id] <= MAX_AUTHORS]
        if facts is not None:
            linked, works = facts.record_pairs(small)
        else:
            pairs = np.array(records_of_works(session, small), dtype=np.int64).reshape(-1, 2)
            linked, works = pairs[:, 0], pairs[:, 1]
        ranks = np.array([rank[w] for w in works.tolist()], dtype=np.int64)
        found = _best_by_work(linked, ranks, set(by_name), limit, top_work_ids)
    chosen = by_name + [r for r in found if r not in by_name]
    chosen = chosen[:limit]
    if not chosen:
        return []
    score = {r: v[0] for r, v in found.items()}
    count = {r: v[1] for r, v in found.items()}
    best = {r: v[2] for r, v in found.items()}
    shown = select(AuthorRecord).where(
        AuthorRecord.id.in_(chosen), AuthorRecord.id.not_in(hidden_records())
    )
    records = {r.id: r for r in session.scalars(shown)}
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


def _best_by_work(
    records: np.ndarray, ranks: np.ndarray, named: set[int], limit: int, top: list[int]
) -> dict[int, tuple[float, int, int]]:
    """Record: (score, works, best work) for the ``limit`` best-scoring records and those
    in ``named``, best first. A record's score is the gain Σ 1 / log2(1 + rank) of its
    BEST_OF best-ranked works among ``top``; ``records`` and ``ranks`` pair each linked
    authorship's record with its work's rank there."""
    if not len(records):
        return {}
    order = np.lexsort((ranks, records))  # by record, then rank: best work first
    records, ranks = records[order], ranks[order]
    first = np.flatnonzero(np.r_[True, records[1:] != records[:-1]])
    sizes = np.diff(np.r_[first, len(records)])
    within = np.arange(len(records)) - np.repeat(first, sizes)
    gains = np.where(within < BEST_OF, 1.0 / np.log2(1.0 + ranks), 0.0)
    scores = np.add.reduceat(gains, first)
    ids = records[first]
    # several matching works, or one very strong one; a name match needs neither
    several = np.add.reduceat((ranks <= SEVERAL_WINDOW).astype(np.int64), first) >= SEVERAL
    eligible = several | (ranks[first] <= STRONG_RANK) | np.isin(ids, list(named))
    scores = np.where(eligible, scores, -1.0)
    ordered = [i for i in np.lexsort((ids, -scores)).tolist() if eligible[i]]
    keep = set(ordered[: limit + len(named)])
    keep |= {int(i) for i in np.flatnonzero(np.isin(ids, list(named)))}
    return {
        int(ids[i]): (float(scores[i]), int(sizes[i]), top[int(ranks[first[i]]) - 1])
        for i in ordered
        if i in keep
    }


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
    close: dict[int, int] = defaultdict(int)  # works in the top TOPIC_CLOSE
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
            close[topic_id] += rank[work_id] <= TOPIC_CLOSE
    by_work = [
        t
        for t in sorted(score, key=lambda t: (-score[t], t))
        if count[t] >= TOPIC_SEVERAL or close[t] >= SEVERAL
    ]
    chosen = (by_name + [t for t in by_work if t not in by_name])[:limit]
    topics = {t.id: t for t in session.scalars(select(Topic).where(Topic.id.in_(chosen)))}
    return [
        TopicHit(topics[t], t in by_name, count.get(t, 0), score.get(t, 0.0))
        for t in chosen
        if t in topics
    ]
