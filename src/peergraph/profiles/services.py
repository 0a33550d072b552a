"""Computing profile facts for every author record (``peergraph rebuild``).

Topics, close collaborators, affiliation, description and the trust snapshot are
computed in bulk after disambiguation and stored, so a profile page is a few indexed
reads. The rules and their reasons are in docs/profiles.md and docs/trust.md.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    delete,
    func,
    insert,
    select,
    text,
)

from peergraph.authors import changes, disambiguation, ownership, prior
from peergraph.authors.model import PairModel, packaged
from peergraph.authors.models import AuthorRecord, AuthorshipLink, Rebuild
from peergraph.authors.order import packaged as name_order
from peergraph.authors.services import LoadedCorpus, Written, load_corpus, name_rows, write_records
from peergraph.db import generation
from peergraph.db.base import utcnow
from peergraph.profiles import figures, trust
from peergraph.profiles.models import (
    CLOSE_STRENGTH,
    Collaboration,
    Profile,
    RecordTopic,
    TrustEvidence,
)
from peergraph.profiles.topics import infer_topics
from peergraph.search.text import text_index
from peergraph.works.models import Topic, WorkTopic

OWNED_SOURCES = ("imported works", "author disambiguation", "claims", "moderation")
CHUNK = 20_000
# An incremental rebuild becomes a full one when more than this share of the works
# changed since the last rebuild: 500 new works (0.4 %) already re-cluster about 60 % of
# the authorships, and 50,000 (35 %) every block, after planning that costs a minute
# more on PostgreSQL (docs/disambiguation.md §7).
FULL_SHARE = 0.20

topics_t: Table = Topic.__table__  # type: ignore[assignment]
work_topics_t: Table = WorkTopic.__table__  # type: ignore[assignment]
record_topics_t: Table = RecordTopic.__table__  # type: ignore[assignment]
collaborations_t: Table = Collaboration.__table__  # type: ignore[assignment]
trust_t: Table = TrustEvidence.__table__  # type: ignore[assignment]
profiles_t: Table = Profile.__table__  # type: ignore[assignment]
records_t: Table = AuthorRecord.__table__  # type: ignore[assignment]
links_t: Table = AuthorshipLink.__table__  # type: ignore[assignment]
rebuilds_t: Table = Rebuild.__table__  # type: ignore[assignment]

Progress = Callable[[str], None]


@dataclass
class RebuildReport:
    mode: str  # full | incremental
    authorships: int  # authorships clustered
    records: int  # records in the store afterwards
    new_records: int
    retired_records: int
    inferred_topics: int  # topics inferred (full rebuilds only)
    blocks: int  # name blocks clustered
    profiles: int  # profiles recomputed
    seconds: float
    reasons: dict[str, int] = field(default_factory=dict)  # blocks chosen, by rule


def rebuild(
    engine: Engine,
    *,
    full: bool = False,
    use_upstream_ids: bool = True,
    progress: Progress | None = None,
    steps: Callable[[int, int], None] | None = None,
) -> RebuildReport:
    """Disambiguate, then recompute profiles. Idempotent; ids stay stable.

    Incremental when a previous rebuild with the same model exists and ``full`` is not
    asked for: only the name blocks that changed are re-clustered (authors/changes.py)
    and only the profiles they touch recomputed. Either way the records and profiles are
    written in one transaction, so pages never see half of a rebuild."""
    say = progress or (lambda _m: None)
    model = packaged()
    fingerprint = model_fingerprint(model) + ("" if use_upstream_ids else ":no-upstream-ids")
    with engine.connect() as conn:
        last = changes.last_rebuild(conn)
    run = Run(engine, model, fingerprint, use_upstream_ids, say, steps)
    if not full and last is not None and last.model == fingerprint:
        report = run.incremental(last)
    else:
        report = run.full()
    # the new works now have their records and topics: tell their followers (feeds/)
    from peergraph.feeds import matching

    matching.update(engine, utcnow())
    return report


@dataclass
class Run:
    engine: Engine
    model: PairModel
    fingerprint: str
    use_upstream_ids: bool
    say: Progress
    steps: Callable[[int, int], None] | None
    started_at: datetime = field(default_factory=utcnow)
    clock: float = field(default_factory=time.perf_counter)

    def full(self) -> RebuildReport:
        say = self.say
        with self.engine.connect() as conn:
            covered = _covered_import(conn)
            say("loading authorships")
            loaded = load_corpus(conn)
            claims = ownership.verified_claims(conn)
        result = self._cluster(loaded, claims, None)
        loaded.release()
        say("inferring topics from titles and abstracts")
        titles = [t.split(". ", 1)[0] for t in loaded.texts]
        inferred = infer_topics(loaded.text_matrix(), titles)
        loaded.texts = titles = []
        with self.engine.begin() as conn:
            say("writing author records")
            written = write_records(conn, loaded, result, claims)
            changes.write_all_names(conn, name_rows(loaded))
            _write_inferred_topics(conn, loaded, inferred)
            say("aggregating topics, collaborators, affiliations and trust")
            _write_record_topics(conn, None)
            _write_collaborations(conn, None)
            profiles = _write_profiles(conn, None)
            return self._finish(conn, "full", covered, written, profiles, len(inferred.labels))

    def incremental(self, last: Any) -> RebuildReport:
        say = self.say
        with self.engine.connect() as conn:
            changed = len(changes.changed_works(conn, last))
            total = conn.execute(text("SELECT count(*) FROM works")).scalar() or 0
        if changed > FULL_SHARE * total:
            say(f"{changed:,} of {total:,} works changed: a full rebuild is quicker")
            return self.full()
        with self.engine.begin() as conn:
            covered = _covered_import(conn)
            say("finding the name blocks that changed")
            plan = changes.plan(conn, last, self.model)
            if not plan.blocks:
                written = Written(0, 0, 0, 0, set())
                return self._finish(conn, "incremental", covered, written, 0, 0, blocks=0)
            scope = _scope(conn, "work_scope", changes.load_scope(conn, plan.blocks))
            changed = len(plan.changed_works)
            say(f"loading {len(plan.blocks):,} name blocks ({changed:,} works changed)")
            loaded = load_corpus(conn, scope)
            claims = ownership.verified_claims(conn)
            result = self._cluster(loaded, claims, plan.blocks)
            say("writing author records")
            written = write_records(conn, loaded, result, claims, changed=plan.changed_works)
            say("aggregating topics, collaborators, affiliations and trust")
            touched = _scope(conn, "record_scope", written.touched)
            _write_record_topics(conn, touched)
            neighbours = _write_collaborations(conn, touched)
            profiles = _write_profiles(
                conn, _scope(conn, "profile_scope", written.touched | neighbours)
            )
            for table in ("work_scope", "record_scope", "profile_scope"):
                conn.execute(text(f"DROP TABLE {table}"))
            report = self._finish(
                conn, "incremental", covered, written, profiles, 0, blocks=len(plan.blocks)
            )
            report.reasons = plan.reasons
            return report

    def _cluster(
        self, loaded: LoadedCorpus, claims: list[ownership.Claim], blocks: set[str] | None
    ) -> disambiguation.Result:
        self.say(f"clustering {len(loaded.raw_names):,} authorships")
        return disambiguation.cluster(
            loaded.corpus,
            model=self.model,
            use_upstream_ids=self.use_upstream_ids,
            only_blocks=blocks,
            constraints=ownership.constraints_for(loaded.corpus.authorship_ids, claims),
            progress=self.steps,
        )

    def _finish(
        self,
        conn: Connection,
        mode: str,
        covered: int | None,
        written: Written,
        profiles: int,
        topics: int,
        *,
        blocks: int | None = None,
    ) -> RebuildReport:
        text_index(conn).names_changed(conn)
        records = int(conn.execute(select(func.count()).select_from(records_t)).scalar_one())
        if blocks is None:
            blocks = int(
                conn.execute(select(func.count(func.distinct(records_t.c.block_key)))).scalar_one()
            )
        if mode == "full" or written.touched or profiles:
            generation.advance(conn, "records")  # other processes drop what they memoised
        conn.execute(
            insert(rebuilds_t).values(
                mode=mode,
                model=self.fingerprint,
                last_import_id=covered,
                started_at=self.started_at,
                finished_at=utcnow(),
                blocks=blocks,
                authorships=written.authorships,
                records_touched=len(written.touched),
            )
        )
        return RebuildReport(
            mode,
            written.authorships,
            records,
            written.new_records,
            written.retired,
            topics,
            blocks,
            profiles,
            time.perf_counter() - self.clock,
        )


def _covered_import(conn: Connection) -> int | None:
    """The newest import whose works this rebuild sees whole: below the oldest one still
    running, if any."""
    running = conn.execute(text("SELECT min(id) FROM imports WHERE finished_at IS NULL")).scalar()
    if running is not None:
        return int(running) - 1
    newest = conn.execute(text("SELECT max(id) FROM imports")).scalar()
    return None if newest is None else int(newest)


def _scope(conn: Connection, name: str, ids: set[int]) -> Table:
    """A temporary table of ids for the queries of one rebuild to join."""
    table = Table(name, MetaData(), Column("id", Integer, primary_key=True), prefixes=["TEMPORARY"])
    table.create(conn)
    ordered = sorted(ids)
    for start in range(0, len(ordered), CHUNK):
        conn.execute(insert(table), [{"id": i} for i in ordered[start : start + CHUNK]])
    return table


def _insert_chunks(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[start : start + CHUNK])


def _write_inferred_topics(conn: Connection, loaded: LoadedCorpus, inferred: Any) -> None:
    old = select(topics_t.c.id).where(topics_t.c.taxonomy == "inferred").scalar_subquery()
    conn.execute(delete(work_topics_t).where(work_topics_t.c.topic_id.in_(old)))
    conn.execute(delete(topics_t).where(topics_t.c.taxonomy == "inferred"))
    if not inferred.labels:
        return
    ids = (
        conn.execute(
            insert(topics_t).returning(topics_t.c.id, sort_by_parameter_order=True),
            [
                {
                    "taxonomy": "inferred",
                    "external_id": f"k{i}",
                    "name": label,
                    "description": f"inferred from titles and abstracts; {size:,} works",
                }
                for i, (label, size) in enumerate(zip(inferred.labels, inferred.sizes, strict=True))
            ],
        )
        .scalars()
        .all()
    )
    rows = [
        {
            "work_id": int(work_id),
            "topic_id": ids[int(cluster)],
            "score": round(float(score), 4),
            "is_primary": False,
        }
        for work_id, cluster, score in zip(
            loaded.work_ids, inferred.assignment, inferred.score, strict=True
        )
    ]
    _insert_chunks(conn, work_topics_t, rows)


def _only(scope: Table | None, column: str) -> str:
    """A join restricting a query to the records in ``scope`` (nothing for all)."""
    return "" if scope is None else f" JOIN {scope.name} scope ON scope.id = {column}"


def _write_record_topics(conn: Connection, scope: Table | None) -> None:
    if scope is None:
        conn.execute(delete(record_topics_t))
    else:
        conn.execute(
            delete(record_topics_t).where(record_topics_t.c.record_id.in_(select(scope.c.id)))
        )
    links: dict[int, list[figures.TopicLink]] = defaultdict(list)
    query = text(
        "SELECT l.record_id, a.work_id, wt.topic_id, wt.score, t.taxonomy, t.name,"
        " t.external_id FROM authorship_links l JOIN authorships a ON a.id = l.authorship_id"
        " JOIN work_topics wt ON wt.work_id = a.work_id JOIN topics t ON t.id = wt.topic_id"
        + _only(scope, "l.record_id")
        + " WHERE t.taxonomy IN ('openalex', 'arxiv', 'inferred')"
    )
    for record_id, *link in conn.execute(query):
        links[record_id].append(figures.TopicLink(*link))
    rows = [
        {
            "record_id": record_id,
            "topic_id": figure.topic,
            "weight": figure.weight,
            "works_count": figure.works_count,
        }
        for record_id, record_links in links.items()
        for figure in figures.record_topics(record_links)
    ]
    _insert_chunks(conn, record_topics_t, rows)


def _write_collaborations(conn: Connection, scope: Table | None) -> set[int]:
    """Collaborations of every record, or of those in ``scope`` (both directions).
    Returns the records whose collaborators changed: the scope and their co-authors,
    before and after (their close-collaborator counts need recomputing)."""
    neighbours: set[int] = set()
    wanted: set[int] = set()
    if scope is None:
        conn.execute(delete(collaborations_t))
        works = ""
    else:
        in_scope = select(scope.c.id)
        neighbours.update(
            conn.execute(
                select(collaborations_t.c.coauthor_id).where(
                    collaborations_t.c.record_id.in_(in_scope)
                )
            ).scalars()
        )
        conn.execute(
            delete(collaborations_t).where(
                collaborations_t.c.record_id.in_(in_scope)
                | collaborations_t.c.coauthor_id.in_(in_scope)
            )
        )
        works = (
            " WHERE a.work_id IN (SELECT a2.work_id FROM authorship_links l2"
            " JOIN authorships a2 ON a2.id = l2.authorship_id" + _only(scope, "l2.record_id") + ")"
        )
        wanted = set(conn.execute(in_scope).scalars())
    by_work: dict[int, list[int]] = defaultdict(list)
    for work_id, record_id in conn.execute(
        text(
            "SELECT a.work_id, l.record_id FROM authorship_links l"
            " JOIN authorships a ON a.id = l.authorship_id" + works
        )
    ):
        by_work[work_id].append(record_id)
    shares: dict[tuple[int, int], list[float]] = defaultdict(list)
    for records in by_work.values():
        for a, b, share in figures.collaboration_shares(records):
            shares[(a, b)].append(share)
    rows = []
    for (a, b), pair_shares in shares.items():
        if scope is not None:
            if a not in wanted and b not in wanted:
                continue
            neighbours.update((a, b))
        count, value = len(pair_shares), figures.strength(pair_shares)
        rows.append({"record_id": a, "coauthor_id": b, "joint_works": count, "strength": value})
        rows.append({"record_id": b, "coauthor_id": a, "joint_works": count, "strength": value})
    _insert_chunks(conn, collaborations_t, rows)
    return neighbours


def _write_profiles(conn: Connection, scope: Table | None) -> int:
    """The profile snapshot and imported trust items of every record, or of those in
    ``scope``. Returns how many profiles were written."""
    now = utcnow()
    chosen = select(
        records_t.c.id,
        records_t.c.orcid,
        records_t.c.upstream_author_ids,
        records_t.c.confidence,
        records_t.c.works_count,
    )
    if scope is not None:
        chosen = chosen.where(records_t.c.id.in_(select(scope.c.id)))
    records = conn.execute(chosen).all()
    pid_works: dict[int, int] = dict(
        conn.execute(
            text(
                "SELECT l.record_id, count(DISTINCT a.work_id) FROM authorship_links l"
                " JOIN authorships a ON a.id = l.authorship_id"
                " JOIN work_identifiers wi ON wi.work_id = a.work_id"
                + _only(scope, "l.record_id")
                + " WHERE wi.scheme IN ('doi', 'arxiv', 'pmid') GROUP BY l.record_id"
            )
        ).all()
    )
    close: dict[int, int] = dict(
        conn.execute(
            text(
                "SELECT record_id, count(*) FROM collaborations c"
                + _only(scope, "c.record_id")
                + " WHERE strength >= :s GROUP BY record_id"
            ),
            {"s": CLOSE_STRENGTH},
        ).all()
    )
    top_topics: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for record_id, weight, name, taxonomy, external_id in conn.execute(
        text(
            "SELECT rt.record_id, rt.weight, t.name, t.taxonomy, t.external_id"
            " FROM record_topics rt JOIN topics t ON t.id = rt.topic_id"
            + _only(scope, "rt.record_id")
        )
    ):
        top_topics[record_id].append(figures.topic_order(weight, name, taxonomy, external_id))
    affiliations = _latest_affiliations(conn, scope)
    claim_facts = _claim_facts(conn, scope)

    owned = trust_t.c.source.in_(OWNED_SOURCES)
    if scope is None:
        conn.execute(delete(trust_t).where(owned))
        conn.execute(delete(profiles_t))
    else:
        conn.execute(delete(trust_t).where(owned, trust_t.c.record_id.in_(select(scope.c.id))))
        conn.execute(delete(profiles_t).where(profiles_t.c.record_id.in_(select(scope.c.id))))
    manual: dict[int, list[trust.LedgerItem]] = defaultdict(list)
    ledger = select(
        trust_t.c.record_id,
        trust_t.c.component,
        trust_t.c.source,
        trust_t.c.method,
        trust_t.c.points,
        trust_t.c.detail,
    )
    if scope is not None:
        ledger = ledger.where(trust_t.c.record_id.in_(select(scope.c.id)))
    for record_id, component, source, method, points, detail in conn.execute(ledger):
        manual[record_id].append(trust.LedgerItem(component, source, method, points, detail))
    evidence_rows: list[dict[str, Any]] = []
    profile_rows: list[dict[str, Any]] = []
    for record_id, orcid, upstream, confidence, works in records:
        ranked = sorted(top_topics.get(record_id, []))
        facts = figures.RecordFacts(
            orcid=orcid,
            upstream_ids=upstream or [],
            confidence=float(confidence),
            works=works,
            works_with_pid=int(pid_works.get(record_id, 0)),
            top_topics=[name for _weight, name, *_ in ranked],
            topics_count=len(ranked),
            close_collaborators=int(close.get(record_id, 0)),
            affiliations=affiliations.get(record_id),
        )
        items, figures_ = figures.snapshot(facts, claim_facts.get(record_id), manual[record_id])
        evidence_rows.extend(
            {
                "record_id": record_id,
                "component": i.component,
                "source": i.source,
                "method": i.method,
                "observed_at": now,
                "points": i.points,
                "detail": i.detail,
            }
            for i in items
        )
        profile_rows.append({"record_id": record_id, **figures_, "computed_at": now})
    _insert_chunks(conn, trust_t, evidence_rows)
    _insert_chunks(conn, profiles_t, profile_rows)
    return len(profile_rows)


def _claim_facts(conn: Connection, scope: Table | None) -> dict[int, trust.ClaimFacts]:
    """Each record's claim facts for its trust ledger: the claim that holds it, disputes
    moderators upheld, its owner's strikes, and its verified close collaborators."""
    held: dict[int, tuple[int, str | None, str | None, str, int | None]] = {}
    for record_id, claim_id, level, method, status, account_id in conn.execute(
        text(
            "SELECT c.record_id, c.id, c.level, c.method, c.status, c.account_id"
            " FROM record_claims c"
            + _only(scope, "c.record_id")
            + " WHERE c.status IN ('approved', 'disputed')"
        )
    ):
        held[record_id] = (claim_id, level, method, status, account_id)
    upheld: dict[int, int] = dict(
        conn.execute(
            text(
                "SELECT c.record_id, count(*) FROM claim_disputes d"
                " JOIN record_claims c ON c.id = d.claim_id"
                + _only(scope, "c.record_id")
                + " WHERE d.status = 'upheld' GROUP BY c.record_id"
            )
        ).all()
    )
    strikes: dict[int, int] = dict(
        conn.execute(
            text(
                "SELECT account_id, count(*) FROM record_claims"
                " WHERE status = 'rejected' AND decided_by IS NOT NULL"
                " AND account_id IS NOT NULL GROUP BY account_id"
            )
        ).all()
    )
    verified_collaborators: dict[int, int] = dict(
        conn.execute(
            text(
                "SELECT col.record_id, count(*) FROM collaborations col"
                + _only(scope, "col.record_id")
                + " JOIN record_claims c ON c.record_id = col.coauthor_id"
                " AND c.status IN ('approved', 'disputed') AND c.level IN ('L2', 'L3')"
                " WHERE col.strength >= :s GROUP BY col.record_id"
            ),
            {"s": CLOSE_STRENGTH},
        ).all()
    )
    facts: dict[int, trust.ClaimFacts] = {}
    for record_id in set(held) | set(upheld) | set(verified_collaborators):
        claim_id, level, method, status, account_id = held.get(
            record_id, (None, None, None, "", None)
        )
        facts[record_id] = trust.ClaimFacts(
            claim_id=claim_id,
            level=level,
            method=method,
            disputed=status == "disputed",
            upheld_disputes=int(upheld.get(record_id, 0)),
            owner_strikes=int(strikes.get(account_id, 0)) if account_id else 0,
            verified_collaborators=int(verified_collaborators.get(record_id, 0)),
        )
    return facts


def refresh_profiles(conn: Connection, record_ids: set[int], *, with_collaborators: bool) -> int:
    """Recompute the profiles (trust ledger and snapshot) of ``record_ids`` now, in the
    caller's transaction: a claim, a dispute or a moderator's decision changes them at
    once, not at the next rebuild. ``with_collaborators``: also their close
    collaborators, whose "verified network" item counts this record."""
    ids = set(record_ids)
    if with_collaborators and ids:
        ids |= set(
            conn.execute(
                select(collaborations_t.c.coauthor_id).where(
                    collaborations_t.c.record_id.in_(sorted(ids)),
                    collaborations_t.c.strength >= CLOSE_STRENGTH,
                )
            ).scalars()
        )
    ids &= set(
        conn.execute(select(records_t.c.id).where(records_t.c.id.in_(sorted(ids)))).scalars()
    )
    if not ids:
        return 0
    scope = _scope(conn, "refresh_scope", ids)
    written = _write_profiles(conn, scope)
    conn.execute(text("DROP TABLE refresh_scope"))
    return written


def _latest_affiliations(conn: Connection, scope: Table | None) -> dict[int, list[dict[str, Any]]]:
    """Each record's affiliations (``figures.latest_affiliations``)."""
    institutions: dict[int, list[figures.InstitutionLink]] = defaultdict(list)
    for record_id, *link in conn.execute(
        text(
            "SELECT l.record_id, coalesce(w.year, 0), w.id, i.id, i.name, i.ror, i.country_code"
            " FROM authorship_links l JOIN authorships a ON a.id = l.authorship_id"
            " JOIN works w ON w.id = a.work_id"
            " JOIN authorship_institutions ai ON ai.authorship_id = a.id"
            " JOIN institutions i ON i.id = ai.institution_id" + _only(scope, "l.record_id")
        )
    ):
        institutions[record_id].append(figures.InstitutionLink(*link))
    raw: dict[int, list[tuple[int, int, int, list[str] | None]]] = defaultdict(list)
    for record_id, year, work_id, authorship_id, strings in conn.execute(
        text(
            "SELECT l.record_id, coalesce(w.year, 0), w.id, a.id, a.raw_affiliations"
            " FROM authorship_links l JOIN authorships a ON a.id = l.authorship_id"
            " JOIN works w ON w.id = a.work_id"
            + _only(scope, "l.record_id")
            + " WHERE a.raw_affiliations IS NOT NULL"
        )
    ):
        if record_id not in institutions:
            listed = json.loads(strings) if isinstance(strings, str) else strings
            raw[record_id].append((year, work_id, authorship_id, listed))
    result = {}
    for record_id in set(institutions) | set(raw):
        found = figures.latest_affiliations(institutions.get(record_id, []), raw.get(record_id, []))
        if found is not None:
            result[record_id] = found
    return result


def model_fingerprint(model: PairModel) -> str:
    """What a rebuild's records depend on besides the data: the pair model, the
    name-order table (authors/order.py) and the name-frequency table (authors/prior.py).
    A rebuild with another one is a full one. Short prefixes of the three digests, so
    that with ":no-upstream-ids" it fits the 64 characters of ``rebuilds.model``."""
    return f"{model.digest[:20]}/{name_order().digest[:8]}/{prior.packaged().digest[:8]}"


def is_stale(engine: Engine) -> bool:
    """True when there are imports and the records do not reflect them: an import
    finished after the last profile computation, or no rebuild was made with the model
    this version ships (then the next rebuild is a full one)."""
    with engine.connect() as conn:
        last_import = conn.execute(text("SELECT max(finished_at) FROM imports")).scalar()
        last_profile = conn.execute(text("SELECT max(computed_at) FROM profiles")).scalar()
        last = changes.last_rebuild(conn)
    if last_import is None:
        return False
    if last is None or not last.model.startswith(model_fingerprint(packaged())):
        return True
    return last_profile is None or str(last_import) > str(last_profile)
