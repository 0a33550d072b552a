"""The profile figures of author records, as functions of plain rows.

`peergraph rebuild` (profiles/services.py) reads the rows from the store and the Spark
pipeline (pipeline/profiles.py) from its own tables; both call these functions, so each
rule has one implementation. The rules and their reasons: docs/profiles.md, docs/trust.md.

Every ordering here is total (ties broken by names and keys, never by the order rows
arrive in), so two databases, or a database and a cluster, give the same figures.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from peergraph.profiles import trust

MAX_AUTHORS_FOR_COLLABORATION = 100
TOP_TOPICS = 10
INFERRED_WEIGHT_WITH_SOURCE_TOPICS = 0.3
SOURCE_TAXONOMIES = ("openalex", "arxiv")
TOPIC_TAXONOMIES = (*SOURCE_TAXONOMIES, "inferred")
PID_SCHEMES = ("doi", "arxiv", "pmid")  # the identifiers the footprint item counts
DESCRIPTION_TOPICS = 3
AFFILIATIONS = 3  # institutions of the latest year shown
RAW_AFFILIATIONS = 2  # affiliation strings shown when no institution is known

K = TypeVar("K", int, str)  # a record: store id, or the pipeline's cluster id


def collaboration_shares(records: list[K]) -> list[tuple[K, K, float]]:
    """The pairs of distinct records among one work's authors (``a < b``) and the share
    of the work each pair gets: 1/(n−1) for n authors (Newman 2001: a paper's weight
    spread over its co-authors); none for a work of one author or of more than
    ``MAX_AUTHORS_FOR_COLLABORATION``."""
    n = len(records)
    if n < 2 or n > MAX_AUTHORS_FOR_COLLABORATION:
        return []
    unique = sorted(set(records))
    share = 1.0 / (n - 1)
    return [(a, b, share) for i, a in enumerate(unique) for b in unique[i + 1 :]]


def strength(shares: Iterable[float]) -> float:
    """A pair's collaboration strength: the sum of its works' shares, to 4 decimals.
    ``math.fsum`` is exact, so the figure does not depend on the order works come in."""
    return round(math.fsum(shares), 4)


@dataclass(frozen=True, slots=True)
class TopicLink:
    """A topic of one of a record's works, once per authorship of the record on it."""

    work: int
    topic: Hashable  # the store's topic id, or the pipeline's "taxonomy:external id"
    score: float | None
    taxonomy: str
    name: str
    external_id: str


def topic_order(weight: float, name: str, taxonomy: str, external_id: str) -> tuple[Any, ...]:
    """Heaviest first; ties by name, taxonomy and id."""
    return (-round(weight, 4), name, taxonomy, external_id)


@dataclass(frozen=True, slots=True)
class RecordTopicFigure:
    topic: Hashable
    name: str
    weight: float  # rounded to 4 decimals
    works_count: int


def record_topics(links: Iterable[TopicLink]) -> list[RecordTopicFigure]:
    """A record's top topics: the source-given topics of its works weighted by their
    scores (1 when none), and its works' inferred topics weighted 1, or 0.3 on works that
    also have source topics. At most ``TOP_TOPICS``."""
    links = list(links)
    has_source = {link.work for link in links if link.taxonomy in SOURCE_TAXONOMIES}
    weights: dict[Hashable, float] = defaultdict(float)
    counts: Counter[Hashable] = Counter()
    about: dict[Hashable, TopicLink] = {}
    for link in links:
        inferred = link.taxonomy == "inferred"
        weight = 1.0 if link.score is None or inferred else float(link.score)
        if inferred and link.work in has_source:
            weight *= INFERRED_WEIGHT_WITH_SOURCE_TOPICS
        weights[link.topic] += weight
        counts[link.topic] += 1
        about.setdefault(link.topic, link)
    ranked = sorted(
        weights,
        key=lambda t: topic_order(
            weights[t], about[t].name, about[t].taxonomy, about[t].external_id
        ),
    )
    return [
        RecordTopicFigure(t, about[t].name, round(weights[t], 4), counts[t])
        for t in ranked[:TOP_TOPICS]
    ]


@dataclass(frozen=True, slots=True)
class InstitutionLink:
    """An institution named on one of a record's authorships."""

    year: int  # of the work; 0 when undated
    work: int
    institution: Hashable  # store id, or the pipeline's institution key
    name: str
    ror: str | None
    country_code: str | None


def latest_affiliations(
    institutions: Iterable[InstitutionLink],
    raw: Iterable[tuple[int, int, int, list[str] | None]],
) -> list[dict[str, Any]] | None:
    """The institutions named on the record's most recent works that name any (at most
    ``AFFILIATIONS``, newest work first); else the affiliation strings of its most recent
    authorship that has some. ``raw``: (year or 0, work, authorship, strings) rows."""
    ordered = sorted(
        institutions, key=lambda i: (-i.year, -i.work, i.name, i.ror or "", str(i.institution))
    )
    if ordered:
        year = ordered[0].year
        chosen: dict[Hashable, dict[str, Any]] = {}
        for link in ordered:
            if link.year != year:
                break
            chosen.setdefault(
                link.institution,
                {
                    "id": link.institution,
                    "name": link.name,
                    "ror": link.ror,
                    "country_code": link.country_code,
                    "year": year or None,
                },
            )
        return list(chosen.values())[:AFFILIATIONS]
    for year, _work, _authorship, strings in sorted(raw, key=lambda r: (-r[0], -r[1], r[2])):
        if strings:
            return [
                {"name": s, "ror": None, "country_code": None, "year": year or None}
                for s in strings[:RAW_AFFILIATIONS]
            ]
    return None


def describe(topics: list[str]) -> str | None:
    """One plain sentence from the top topics: "Works on a, b and c"."""
    names = []
    for topic in topics:  # a label's first phrase names it: "Reinforcement learning · offline"
        short = topic.split(" · ")[0].strip()
        short = short if short.isupper() else short[:1].lower() + short[1:]
        if short and short not in names:
            names.append(short)
    if not names:
        return None
    if len(names) == 1:
        return f"Works on {names[0]}"
    return f"Works on {', '.join(names[:-1])} and {names[-1]}"


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """What a record's profile snapshot is computed from (besides owned state)."""

    orcid: str | None
    upstream_ids: list[str]
    confidence: float  # the record's mean link confidence, as stored (2 decimals)
    works: int
    works_with_pid: int
    top_topics: list[str]  # topic names, heaviest first (``record_topics``)
    topics_count: int
    close_collaborators: int
    affiliations: list[dict[str, Any]] | None


def snapshot(
    facts: RecordFacts,
    claim: trust.ClaimFacts | None = None,
    manual: list[trust.LedgerItem] | None = None,
) -> tuple[list[trust.LedgerItem], dict[str, Any]]:
    """The trust items a rebuild stores for a record (imported and claim evidence) and
    its profile snapshot's figures. ``manual``: the items it keeps (moderators')."""
    claim = claim or trust.ClaimFacts()
    items = trust.imported_evidence(
        orcid=facts.orcid,
        upstream_ids=facts.upstream_ids,
        mean_confidence=facts.confidence,
        works_with_pid=facts.works_with_pid,
        works=facts.works,
    )
    items += trust.claim_evidence(claim)
    score, _ = trust.score_ledger(items + (manual or []))
    stored = [i for i in items if i.points or i.component == "identity"]
    return stored, {
        "description": describe(facts.top_topics[:DESCRIPTION_TOPICS]),
        "affiliations": facts.affiliations,
        "verification_level": trust.verification_level(
            facts.orcid, facts.upstream_ids, claim.level
        ),
        "trust_score": score,
        "topics_count": facts.topics_count,
        "close_collaborators_count": facts.close_collaborators,
    }
