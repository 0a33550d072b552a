"""Collaborator suggestions for a claimed researcher's dashboard (docs/suggestions.md).

The candidates, their evidence and the model are suggestions/scoring.py's; this module
reads them from the store (co-authorships from ``collaborations``, works and vectors from
the semantic index, topic weights from ``record_topics``) and adds what the page shows
beside each suggestion: shared and complementary topics, co-authors in common, and the
closest pair of works, one of each side.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from peergraph.accounts.models import Account
from peergraph.authors.models import AuthorRecord, AuthorshipLink, RecordClaim
from peergraph.authors.ownership import HOLDING
from peergraph.claims.models import RecordSettings
from peergraph.profiles.models import Collaboration, RecordTopic
from peergraph.profiles.queries import hidden_records, records_of_works
from peergraph.search.semantic import SemanticIndex
from peergraph.suggestions import scoring
from peergraph.suggestions.scoring import LABELS, Evidence
from peergraph.works.models import Authorship, Topic, Work

SHOWN_TOPICS = 3
SHOWN_COMMON = 3


@dataclass
class Reason:
    label: str
    contribution: float  # to the model's score, in log-odds


@dataclass
class Suggestion:
    record: AuthorRecord
    score: float
    evidence: Evidence
    reasons: list[Reason]
    shared_topics: list[Topic] = field(default_factory=list)
    complementary: list[Topic] = field(default_factory=list)
    common: list[AuthorRecord] = field(default_factory=list)
    pair: tuple[Work, Work, float] | None = None  # one's work, theirs, cosine
    open: bool = False  # claimed, open to collaborate, its owner active


def open_records(session: Session, record_ids: list[int]) -> set[int]:
    """Those of the records whose active owner chose "open to collaborate"."""
    if not record_ids:
        return set()
    owned = dict(
        session.execute(
            select(RecordClaim.record_id, Account.status)
            .join(Account, Account.id == RecordClaim.account_id)
            .where(RecordClaim.record_id.in_(record_ids), RecordClaim.status.in_(HOLDING))
        ).all()
    )
    newest: dict[int, bool] = {}
    for record_id, is_open in session.execute(
        select(RecordSettings.record_id, RecordSettings.open_to_collaborate)
        .where(RecordSettings.record_id.in_(list(owned)))
        .order_by(RecordSettings.updated_at, RecordSettings.id)
    ):
        newest[record_id] = bool(is_open)  # the newest row wins, as record_settings() reads
    return {r for r, status in owned.items() if status == "active" and newest.get(r)}


def _work_ids(session: Session, record_ids: list[int]) -> dict[int, list[int]]:
    works: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(record_ids), 500):
        chunk = record_ids[start : start + 500]
        for record_id, work_id in session.execute(
            select(AuthorshipLink.record_id, Authorship.work_id)
            .join(Authorship, Authorship.id == AuthorshipLink.authorship_id)
            .where(AuthorshipLink.record_id.in_(chunk))
        ):
            works[record_id].append(work_id)
    return works


def _topics(session: Session, record_ids: list[int]) -> dict[int, dict[int, float]]:
    weights: dict[int, dict[int, float]] = defaultdict(dict)
    for start in range(0, len(record_ids), 500):
        for record_id, topic_id, weight in session.execute(
            select(RecordTopic.record_id, RecordTopic.topic_id, RecordTopic.weight).where(
                RecordTopic.record_id.in_(record_ids[start : start + 500])
            )
        ):
            weights[record_id][topic_id] = weight
    return weights


def candidates(session: Session, index: SemanticIndex, record_id: int) -> list[Evidence]:
    """Every candidate of the two pools with its evidence (scoring.py's rules)."""
    mine = set(
        session.scalars(
            select(Collaboration.coauthor_id).where(Collaboration.record_id == record_id)
        )
    )
    common: dict[int, list[int]] = defaultdict(list)
    degree: dict[int, int] = {}
    ids = sorted(mine)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for z, c in session.execute(
            select(Collaboration.record_id, Collaboration.coauthor_id).where(
                Collaboration.record_id.in_(chunk)
            )
        ):
            degree[z] = degree.get(z, 0) + 1
            if c != record_id and c not in mine:
                common[c].append(z)
    aa = {c: scoring.adamic_adar(zs, degree) for c, zs in common.items()}
    pool = set(sorted(aa, key=lambda c: (-aa[c], c))[: scoring.HOP_POOL])
    works = _work_ids(session, [record_id])
    own = works.get(record_id, [])
    centre = index.centroid(own)
    if centre is not None:
        near = [w for w, _ in index.nearest(centre, scoring.WORK_POOL, exclude=own)]
        pool.update(r for r, _ in records_of_works(session, near))
    pool -= mine
    pool.discard(record_id)
    hidden = set(session.scalars(hidden_records()))
    ids = sorted(pool - hidden)
    records = {
        r.id: r for r in session.scalars(select(AuthorRecord).where(AuthorRecord.id.in_(ids)))
    }
    ids = [r for r in ids if r in records]
    works.update(_work_ids(session, ids))
    topics = _topics(session, [record_id, *ids])
    out = []
    for c in ids:
        other = index.centroid(works.get(c, []))
        cos = float(centre @ other) if centre is not None and other is not None else 0.0
        out.append(
            Evidence(
                c,
                tuple(common.get(c, ())),
                aa.get(c, 0.0),
                cos,
                scoring.cosine(topics.get(record_id, {}), topics.get(c, {})),
                records[c].works_count,
                records[c].last_year,
            )
        )
    return out


def suggest(
    session: Session,
    index: SemanticIndex,
    record_id: int,
    now: datetime,
    *,
    open_only: bool = False,
    limit: int = 10,
) -> list[Suggestion]:
    """The best ``limit`` candidates, best first, with what the page shows of each."""
    model = scoring.packaged()
    pool = index.memo(("suggestions", record_id), lambda: candidates(session, index, record_id))
    if not pool:
        return []
    opened = open_records(session, [e.candidate for e in pool])
    if open_only:
        pool = [e for e in pool if e.candidate in opened]
    scored = []
    for evidence in pool:
        x = evidence.features(now.year)
        scored.append((model.score(x), evidence, model.contributions(x)))
    scored.sort(key=lambda s: (-s[0], s[1].candidate))
    chosen = scored[:limit]
    ids = [e.candidate for _, e, _ in chosen]
    records = {
        r.id: r for r in session.scalars(select(AuthorRecord).where(AuthorRecord.id.in_(ids)))
    }
    topics = _topics(session, [record_id, *ids])
    names = _topic_rows(session, {t for r in [record_id, *ids] for t in topics.get(r, {})})
    common_ids = {z for _, e, _ in chosen for z in e.common[:SHOWN_COMMON]}
    commons = {
        r.id: r
        for r in session.scalars(select(AuthorRecord).where(AuthorRecord.id.in_(common_ids)))
    }
    works = _work_ids(session, [record_id, *ids])
    own = topics.get(record_id, {})
    out = []
    for score, evidence, contributions in chosen:
        c = evidence.candidate
        theirs = topics.get(c, {})
        shared = sorted((t for t in theirs if t in own), key=lambda t: -(own[t] * theirs[t]))
        reasons = [
            Reason(LABELS[name], value)
            for name, value in sorted(
                zip(scoring.FEATURES, contributions, strict=True), key=lambda nv: -nv[1]
            )
            if value > 0
        ]
        out.append(
            Suggestion(
                records[c],
                score,
                evidence,
                reasons,
                [names[t] for t in shared[:SHOWN_TOPICS] if t in names],
                [names[t] for t in scoring.complementary(own, theirs) if t in names],
                [commons[z] for z in evidence.common[:SHOWN_COMMON] if z in commons],
                _closest_pair(session, index, works.get(record_id, []), works.get(c, [])),
                c in opened,
            )
        )
    return out


def _topic_rows(session: Session, topic_ids: set[int]) -> dict[int, Topic]:
    if not topic_ids:
        return {}
    return {t.id: t for t in session.scalars(select(Topic).where(Topic.id.in_(topic_ids)))}


def _closest_pair(
    session: Session, index: SemanticIndex, own: list[int], theirs: list[int]
) -> tuple[Work, Work, float] | None:
    """One's work and theirs with the highest cosine: "similar works side by side"."""
    found = index.closest_pair(own, theirs)
    if found is None:
        return None
    a, b, cos = found
    mine, other = session.get(Work, a), session.get(Work, b)
    if mine is None or other is None:
        return None
    return mine, other, cos
