"""Who is told about which new work: the incremental matching after each import
(docs/feeds.md).

Three passes, each reading the works past its own cursor (``feed_cursors``):

- ``follows``: new works linked to a followed researcher, or in a followed topic. It runs at
  the end of a rebuild (profiles/services.py), when the new authorships have their records
  and the new works their topics, and reads only up to the first work whose authorships
  are not linked yet — an import that lands during the rebuild waits for the next one;
- ``keyword``: a saved keyword search matches a work that holds every one of its terms
  (the search index's stems) in its title or abstract;
- ``semantic``: a saved semantic search matches a work whose vector is within the
  query's ``threshold`` (by its number of terms) in cosine. It runs after a rebuild and
  after each embedding job, and reads only up to the first work without a vector.

The first pass ever starts at the newest work: a feed tells what arrives after it exists,
not the back catalogue. Items are inserted with "ignore on conflict" on (account, work):
nobody is told twice, whatever reruns. Nobody is told about their own works.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, Table, func, select

from peergraph.accounts.models import Account
from peergraph.authors.models import AuthorRecord, AuthorshipLink, RecordClaim
from peergraph.authors.ownership import HOLDING
from peergraph.claims.models import Follow
from peergraph.db.engine import insert_ignore
from peergraph.feeds.models import FeedCursor, FeedItem, SavedSearch
from peergraph.search.keyword import query_terms
from peergraph.search.lexical import Tokenizer
from peergraph.search.models import WorkEmbedding
from peergraph.search.services import query_stems
from peergraph.works.models import Authorship, Topic, Work, WorkTopic

log = logging.getLogger(__name__)

# the cosine of a semantic match, by the saved query's number of terms: a short query never
# reaches the cosines a whole sentence does (docs/feeds.md: cross-validated on SciFact)
THRESHOLDS = ((3, 0.5), (5, 0.55), (None, 0.6))
PASSES = ("follows", "keyword", "semantic")
CHUNK = 2000  # works read at a time
cursors_t: Table = FeedCursor.__table__  # type: ignore[assignment]
items_t: Table = FeedItem.__table__  # type: ignore[assignment]


@dataclass
class Match:
    account_id: int
    work_id: int
    kind: str
    source_id: int
    label: str
    why: str
    score: float
    search_id: int | None = None


@dataclass
class Report:
    told: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PASSES, 0))
    read: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PASSES, 0))


def threshold(query: str) -> float:
    """The cosine a new work needs to match a saved semantic search of ``query``."""
    terms = len(query_terms(query))
    return next(t for most, t in THRESHOLDS if most is None or terms <= most)


def update(engine: Engine, now: datetime, passes: tuple[str, ...] = PASSES) -> Report:
    """Run the passes; each commits its items and its cursor together."""
    report = Report()
    for name in passes:
        with engine.begin() as conn:
            newest = conn.scalar(select(func.max(Work.id))) or 0
            start = conn.scalar(select(FeedCursor.work_id).where(FeedCursor.name == name))
            if start is None:
                _move(conn, name, newest, now, new=True)
                continue
            end = _ready(conn, name, start, newest)
            if end <= start:
                continue
            matches = PASS_FUNCTIONS[name](conn, start, end)
            report.read[name] = end - start
            report.told[name] = _tell(conn, matches, now)
            _move(conn, name, end, now, new=False)
    if any(report.told.values()):
        log.info("feeds: told %s", report.told)
    return report


def _move(conn: Connection, name: str, work_id: int, now: datetime, *, new: bool) -> None:
    table = cursors_t
    if new:
        conn.execute(insert_ignore(conn, table).values(name=name, work_id=work_id, updated_at=now))
    else:
        conn.execute(
            table.update().where(table.c.name == name).values(work_id=work_id, updated_at=now)
        )


def _ready(conn: Connection, name: str, start: int, newest: int) -> int:
    """The last work id the pass may read now (see the module's docstring)."""
    if name == "follows":
        waiting = conn.scalar(
            select(func.min(Authorship.work_id))
            .outerjoin(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
            .where(Authorship.work_id > start, AuthorshipLink.authorship_id.is_(None))
        )
        return newest if waiting is None else waiting - 1
    if name == "semantic":
        model = conn.scalar(select(SavedSearch.model).where(SavedSearch.mode == "semantic"))
        if model is None:
            return newest  # no semantic search: nothing waits for vectors
        waiting = conn.scalar(
            select(func.min(Work.id))
            .outerjoin(
                WorkEmbedding, (WorkEmbedding.work_id == Work.id) & (WorkEmbedding.model == model)
            )
            .where(Work.id > start, WorkEmbedding.work_id.is_(None))
        )
        return newest if waiting is None else waiting - 1
    return newest


def _owners(conn: Connection, account_ids: set[int]) -> dict[int, set[int]]:
    """Each account's claimed records (nobody is told about their own work)."""
    owned: dict[int, set[int]] = defaultdict(set)
    if account_ids:
        for account_id, record_id in conn.execute(
            select(RecordClaim.account_id, RecordClaim.record_id).where(
                RecordClaim.account_id.in_(account_ids), RecordClaim.status.in_(HOLDING)
            )
        ):
            owned[int(account_id or 0)].add(record_id)
    return owned


def _records_of(conn: Connection, work_ids: list[int]) -> dict[int, set[int]]:
    records: dict[int, set[int]] = defaultdict(set)
    for start in range(0, len(work_ids), 500):
        for record_id, work_id in conn.execute(
            select(AuthorshipLink.record_id, Authorship.work_id)
            .join(Authorship, Authorship.id == AuthorshipLink.authorship_id)
            .where(Authorship.work_id.in_(work_ids[start : start + 500]))
        ):
            records[work_id].add(record_id)
    return records


def _tell(conn: Connection, matches: list[Match], now: datetime) -> int:
    if not matches:
        return 0
    accounts = {m.account_id for m in matches}
    owned = _owners(conn, accounts)
    authors = _records_of(conn, sorted({m.work_id for m in matches}))
    wants = {
        a: s == "weekly"
        for a, s in conn.execute(
            select(Account.id, Account.alerts).where(
                Account.id.in_(accounts), Account.status == "active"
            )
        )
    }
    alerting = {
        s for (s,) in conn.execute(select(SavedSearch.id).where(SavedSearch.alerts.is_(True)))
    }
    best: dict[tuple[int, int], Match] = {}
    for m in sorted(matches, key=lambda m: -m.score):
        if m.account_id not in wants or owned.get(m.account_id, set()) & authors.get(
            m.work_id, set()
        ):
            continue
        best.setdefault((m.account_id, m.work_id), m)
    rows: list[dict[str, Any]] = []
    for m in best.values():
        alert = wants[m.account_id] and (m.search_id is None or m.search_id in alerting)
        rows.append(
            {
                "account_id": m.account_id,
                "work_id": m.work_id,
                "kind": m.kind,
                "source_id": m.source_id,
                "search_id": m.search_id,
                "label": m.label[:500],
                "why": m.why,
                "score": round(m.score, 4),
                "alert": "pending" if alert else "none",
                "created_at": now,
            }
        )
    told = 0
    table = items_t
    for start in range(0, len(rows), 500):
        result = conn.execute(insert_ignore(conn, table), rows[start : start + 500])
        told += max(result.rowcount or 0, 0)
    return told


def _follows(conn: Connection, start: int, end: int) -> list[Match]:
    matches = []
    for account_id, record_id, name, work_id in conn.execute(
        select(Follow.account_id, AuthorRecord.id, AuthorRecord.display_name, Authorship.work_id)
        .join(AuthorRecord, AuthorRecord.id == Follow.record_id)
        .join(AuthorshipLink, AuthorshipLink.record_id == Follow.record_id)
        .join(Authorship, Authorship.id == AuthorshipLink.authorship_id)
        .where(Authorship.work_id > start, Authorship.work_id <= end)
    ):
        matches.append(
            Match(
                account_id,
                work_id,
                "researcher",
                record_id,
                name,
                f"New work by {name}, whom you follow",
                2.0,
            )
        )
    keys: dict[str, list[int]] = defaultdict(list)
    for account_id, key in conn.execute(
        select(Follow.account_id, Follow.topic_key).where(Follow.topic_key.is_not(None))
    ):
        keys[str(key)].append(account_id)
    if keys:
        topics = {
            f"{t.taxonomy}:{t.external_id}": t
            for t in conn.execute(select(Topic.id, Topic.taxonomy, Topic.external_id, Topic.name))
            if f"{t.taxonomy}:{t.external_id}" in keys
        }
        by_id = {t.id: (key, t.name) for key, t in topics.items()}
        for work_id, topic_id, score in conn.execute(
            select(WorkTopic.work_id, WorkTopic.topic_id, WorkTopic.score).where(
                WorkTopic.work_id > start,
                WorkTopic.work_id <= end,
                WorkTopic.topic_id.in_(list(by_id)),
            )
        ):
            key, name = by_id[topic_id]
            for account_id in keys[key]:
                matches.append(
                    Match(
                        account_id,
                        work_id,
                        "topic",
                        topic_id,
                        name,
                        f"In {name}, a topic you follow",
                        1.0 + min(float(score or 0.5), 1.0) / 2,
                    )
                )
    return matches


def _works(conn: Connection, start: int, end: int) -> list[tuple[int, str, str | None]]:
    return list(
        conn.execute(
            select(Work.id, Work.title, Work.abstract)
            .where(Work.id > start, Work.id <= end)
            .order_by(Work.id)
        )
    )


def _keyword(conn: Connection, start: int, end: int) -> list[Match]:
    searches = list(
        conn.execute(
            select(SavedSearch.id, SavedSearch.account_id, SavedSearch.query).where(
                SavedSearch.mode == "keyword"
            )
        )
    )
    # a work holds every stem of a search, so it holds its first: look only at the
    # searches whose first stem the work has (no work × search product)
    keyed: dict[str, list[tuple[Any, set[str]]]] = defaultdict(list)
    for saved in searches:
        stems = query_stems(saved.query)
        if stems:
            keyed[min(stems)].append((saved, stems))
    if not keyed:
        return []
    tokenizer = Tokenizer()
    matches = []
    for lo in range(start, end, CHUNK):
        for work_id, title, abstract in _works(conn, lo, min(lo + CHUNK, end)):
            in_title = set(tokenizer(title))
            anywhere = in_title | set(tokenizer(abstract or ""))
            wanted = [pair for stem in anywhere & keyed.keys() for pair in keyed[stem]]
            for search, stems in wanted:
                if stems <= anywhere:
                    share = len(stems & in_title) / len(stems)
                    where = (
                        "all in the title"
                        if share == 1
                        else ("in the title and abstract" if share else "in the abstract")
                    )
                    matches.append(
                        Match(
                            search.account_id,
                            work_id,
                            "search",
                            search.id,
                            search.query,
                            f"Every term of your saved search “{search.query}” appears, {where}",
                            0.5 + share / 2,
                            search.id,
                        )
                    )
    return matches


def _semantic(conn: Connection, start: int, end: int) -> list[Match]:
    searches = list(
        conn.execute(
            select(
                SavedSearch.id,
                SavedSearch.account_id,
                SavedSearch.query,
                SavedSearch.model,
                SavedSearch.vector,
            ).where(SavedSearch.mode == "semantic", SavedSearch.vector.is_not(None))
        )
    )
    matches: list[Match] = []
    for model in {s.model for s in searches}:
        group = [s for s in searches if s.model == model]
        queries = np.vstack([np.frombuffer(s.vector, dtype=np.float32) for s in group])
        rows = conn.execute(
            select(WorkEmbedding.work_id, WorkEmbedding.vector).where(
                WorkEmbedding.model == model,
                WorkEmbedding.work_id > start,
                WorkEmbedding.work_id <= end,
            )
        ).all()
        if not rows:
            continue
        ids = [r[0] for r in rows]
        matrix = np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
        sims = queries @ matrix.T
        needed = np.array([[threshold(s.query)] for s in group], dtype=np.float32)
        for i, j in zip(*np.nonzero(sims >= needed), strict=True):
            s, cos = group[int(i)], float(sims[i, j])
            matches.append(
                Match(
                    s.account_id,
                    ids[int(j)],
                    "search",
                    s.id,
                    s.query,
                    f"Close in meaning to your saved search “{s.query}” (cosine {cos:.2f};"
                    f" it needs {float(needed[int(i)][0]):.2f})",
                    cos,
                    s.id,
                )
            )
    return matches


PASS_FUNCTIONS = {"follows": _follows, "keyword": _keyword, "semantic": _semantic}
