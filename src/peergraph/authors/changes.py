"""What changed since the last rebuild, as the name blocks an incremental rebuild must
re-cluster.

A block's clustering depends only on its own authorships, their works, their co-authors
on those works, how often those co-authors sign papers of the same family name together
(features.scoped_hops), and a few store-wide name counts that enter the model as log₂
bins (authors/features.py). So after an import, a block must be re-clustered when:

1. it gains, loses or changes an authorship: every authorship of a work that an import
   since the last rebuild created or enriched (its provenance says so), or that has no
   record yet;
2. a name count that its pairs read moves across a threshold where the model splits
   on it (``crossed``): the counts enter as log₂ bins, and the trees only ask "bin ≤
   t?" for a few t, so most changes of a count cannot change a score. The first name,
   family name, distinct first names of the family and distinct families of the first
   name reach every pair of the block that carries them; a full name only the blocks
   holding it; a co-author's count (any change of its bin) only blocks where two
   authorships share that co-author;
3. one of its papers has a co-author who signs a changed work next to an authorship of
   the same family name (that family's co-author co-occurrence moved);
4. people changed what they own: a claim or a "not mine" since the last rebuild;
5. a claimant's verified claims hold authorships in it and in a block already chosen
   (one claimant's group is clustered whole).

``load_scope`` then names the works to load: the chosen blocks' own, plus every paper of
their families signed by one of their co-authors, so the co-occurrence counts are whole.

Everything else keeps its records as they are, and the result equals a full rebuild of
the same data (tests/integration/test_incremental.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    Row,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    select,
    text,
)

from peergraph.authors.features import NameCounts, coauthor_key, count_bin
from peergraph.authors.model import PairModel
from peergraph.authors.models import (
    AuthorshipCorrection,
    AuthorshipLink,
    AuthorshipName,
    ClaimedAuthorship,
    Rebuild,
    RecordClaim,
)
from peergraph.authors.names import family_scope, first_name
from peergraph.authors.ownership import HOLDING
from peergraph.authors.services import in_chunks, name_keys, store_counts
from peergraph.ingest.models import Provenance
from peergraph.works.models import Authorship

names_t: Table = AuthorshipName.__table__  # type: ignore[assignment]
rebuilds_t: Table = Rebuild.__table__  # type: ignore[assignment]
links_t: Table = AuthorshipLink.__table__  # type: ignore[assignment]
claims_t: Table = RecordClaim.__table__  # type: ignore[assignment]
claimed_t: Table = ClaimedAuthorship.__table__  # type: ignore[assignment]
corrections_t: Table = AuthorshipCorrection.__table__  # type: ignore[assignment]
CHUNK = 5_000


@dataclass
class Plan:
    """The blocks to re-cluster, and why (counts for the report)."""

    blocks: set[str] = field(default_factory=set)
    changed_works: set[int] = field(default_factory=set)  # created or enriched, or unlinked
    reasons: dict[str, int] = field(default_factory=dict)


def last_rebuild(conn: Connection) -> Row[Any] | None:
    return conn.execute(select(rebuilds_t).order_by(rebuilds_t.c.id.desc()).limit(1)).first()


def _distinct(conn: Connection, wanted: Any, column: Any, values: set[Any]) -> set[Any]:
    """Distinct ``wanted`` of the ``authorship_names`` rows whose ``column`` is in
    ``values``."""
    out: set[Any] = set()
    for chunk in in_chunks(values):
        out.update(conn.execute(select(wanted).where(column.in_(chunk)).distinct()).scalars())
    return out


def _blocks_where(conn: Connection, column: Any, values: set[Any]) -> set[str]:
    return _distinct(conn, names_t.c.block_key, column, values)


# which pair feature reads each kind of name count (features.pair_features)
FEATURE_OF = {
    "first": "first_count",
    "family": "family_count",
    "full": "full_count",
    "family_firsts": "family_firsts",
    "first_families": "first_families",
}


def _bins(counts: NameCounts) -> dict[tuple[str, Any], float]:
    """Every count the features use, as its log₂ bin, keyed by (kind, name)."""
    out: dict[tuple[str, Any], float] = {}
    for kind, counter in (
        ("first", counts.first),
        ("family", counts.family),
        ("full", counts.full),
        ("family_firsts", counts.family_firsts),
        ("first_families", counts.first_families),
        ("coauthor", counts.coauthor),
    ):
        for name, value in counter.items():
            out[(kind, name)] = float(count_bin(np.array([value]))[0])
    return out


def crossed(kind: str, before: float, after: float, model: PairModel) -> bool:
    """Can a count's move from bin ``before`` to ``after`` change a score?

    A pair reads a name's count as max(bin of one side, bin of the other), so the pair's
    value moves across a split threshold t only where the name's own bin does: if no
    t lies between ``before`` and ``after``, every tree takes the same branch for every
    pair. Co-author counts enter a sum (``coauthor_rare``), so any change counts."""
    if before == after:
        return False
    if kind not in FEATURE_OF:
        return True
    low, high = sorted((before, after))
    thresholds = model.splits(FEATURE_OF[kind])
    return bool(((thresholds >= low) & (thresholds < high)).any())


def changed_works(conn: Connection, since: Row[Any]) -> set[int]:
    """Works that an import since the rebuild ``since`` created or enriched (their
    provenance says so), and works with an authorship that has no record yet."""
    provenance: Table = Provenance.__table__  # type: ignore[assignment]
    works = set(
        conn.execute(
            select(provenance.c.entity_id)
            .where(provenance.c.entity_type == "work")
            .where(provenance.c.import_id > (since.last_import_id or 0))
            .distinct()
        ).scalars()
    )
    unlinked = (
        select(Authorship.work_id)
        .outerjoin(links_t, links_t.c.authorship_id == Authorship.id)
        .where(links_t.c.authorship_id.is_(None))
        .distinct()
    )
    works.update(conn.execute(unlinked).scalars())
    return works


def plan(conn: Connection, since: Row[Any], model: PairModel) -> Plan:
    """Bring ``authorship_names`` up to date and name the blocks to re-cluster.

    Runs inside the rebuild's transaction: the name keys it writes commit with the
    records they produce, or not at all."""
    result = Plan()
    works = result.changed_works = changed_works(conn, since)

    # the changed authorships' name keys, before and after
    old: dict[int, tuple[str, str, str, str]] = {}
    new: dict[int, tuple[str, str, str, str]] = {}
    work_of: dict[int, int] = {}
    old_work: dict[int, int] = {}
    for chunk in in_chunks(works):
        for a_id, old_work_id, block, first, family, key in conn.execute(
            select(
                names_t.c.authorship_id,
                names_t.c.work_id,
                names_t.c.block_key,
                names_t.c.first_name,
                names_t.c.family_key,
                names_t.c.coauthor_key,
            ).where(names_t.c.work_id.in_(chunk))
        ):
            old[a_id] = (block, first, family, key)
            old_work[a_id] = old_work_id
        for a_id, work_id, raw, given, family_name, guessed in conn.execute(
            select(
                Authorship.id,
                Authorship.work_id,
                Authorship.raw_name,
                Authorship.given,
                Authorship.family,
                Authorship.order_guessed,
            ).where(Authorship.work_id.in_(chunk))
        ):
            tokens, family, block, _native = name_keys(raw, given, family_name, guessed)
            new[a_id] = (block, first_name(tokens), family, coauthor_key(tokens, family, block))
            work_of[a_id] = work_id
    result.blocks = {v[0] for v in old.values()} | {v[0] for v in new.values()}
    result.reasons["changed authorships"] = len(result.blocks)

    def counts() -> NameCounts:
        given = [(v[1],) if v[1] else () for v in (*old.values(), *new.values())]
        families = [v[2] for v in (*old.values(), *new.values())]
        keys = [v[3] for v in (*old.values(), *new.values())]
        return store_counts(conn, given, families, keys)

    before = _bins(counts())
    gone = [a for a in old if old[a] != new.get(a)]
    for chunk in in_chunks(gone):
        conn.execute(delete(names_t).where(names_t.c.authorship_id.in_(chunk)))
    rows = [
        {
            "authorship_id": a,
            "work_id": work_of[a],
            "block_key": v[0],
            "family_scope": family_scope(v[0]),
            "first_name": v[1],
            "family_key": v[2],
            "coauthor_key": v[3],
        }
        for a, v in new.items()
        if old.get(a) != v
    ]
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(names_t), rows[start : start + CHUNK])
    after = _bins(counts())
    moved = {
        k
        for k in before.keys() | after.keys()
        if crossed(k[0], before.get(k, 0.0), after.get(k, 0.0), model)
    }

    by_kind: dict[str, set[Any]] = {}
    for kind, name in moved:
        by_kind.setdefault(kind, set()).add(name)
    binned = _crossing_blocks(conn, by_kind)
    for kind, blocks in binned.items():
        result.reasons[f"name counts crossing a split of the model: {kind}"] = len(
            blocks - result.blocks
        )
        result.blocks |= blocks

    # what people changed: claims and "not mine" since the last rebuild
    touched_claims = set(
        conn.execute(
            select(claims_t.c.id).where(claims_t.c.updated_at >= since.started_at)
        ).scalars()
    ) | set(
        conn.execute(
            select(corrections_t.c.claim_id).where(corrections_t.c.created_at >= since.started_at)
        ).scalars()
    )
    owned = _blocks_listed(conn, claimed_t, touched_claims) | _blocks_listed(
        conn, corrections_t, touched_claims
    )
    result.reasons["claims and corrections"] = len(owned - result.blocks)
    result.blocks |= owned
    replaced = [(old_work[a], family_scope(old[a][0]), old[a][3]) for a in gone]
    hops = _hop_blocks(conn, works, replaced)
    result.reasons["co-authors' co-authors changed"] = len(hops - result.blocks)
    result.blocks |= hops
    grown = _claim_closure(conn, result.blocks)
    result.reasons["claim groups kept whole"] = len(grown)
    result.blocks |= grown
    return result


def _crossing_blocks(conn: Connection, by_kind: dict[str, set[Any]]) -> dict[str, set[str]]:
    """Per kind of count, the blocks whose pairs read a count that crossed a split of the
    model. A name's own counts enter every pair of an authorship that carries it; a full
    name only those of its blocks that hold it; a co-author key's count only the pairs
    that share that co-author (``coauthor_rare``), so only blocks where two authorships
    sign with it."""
    out: dict[str, set[str]] = {}
    out["first names"] = _blocks_where(
        conn,
        names_t.c.first_name,
        by_kind.get("first", set()) | by_kind.get("first_families", set()),
    )
    out["family names"] = _blocks_where(
        conn,
        names_t.c.family_key,
        by_kind.get("family", set()) | by_kind.get("family_firsts", set()),
    )
    full: dict[str, set[str]] = {}
    for first, family in by_kind.get("full", set()):
        full.setdefault(family, set()).add(first)
    out["full names"] = set()
    for chunk in in_chunks(full):
        for block, first, family in conn.execute(
            select(names_t.c.block_key, names_t.c.first_name, names_t.c.family_key)
            .where(names_t.c.family_key.in_(chunk))
            .distinct()
        ):
            if first in full[family]:
                out["full names"].add(block)
    out["shared co-authors"] = _sharing(conn, by_kind.get("coauthor", set()))
    return out


def _coauthors_by_family(
    conn: Connection, works: set[int], extra: Iterable[tuple[int, str, str]] = ()
) -> dict[str, set[str]]:
    """For the authorships on ``works``: family scope → the name keys of their co-authors.
    ``extra``: (work, family scope, co-author key) rows that are gone now but counted."""
    on_work: dict[int, list[tuple[int, str, str]]] = {}
    for chunk in in_chunks(works):
        for a_id, work_id, scope, key in conn.execute(
            select(
                names_t.c.authorship_id,
                names_t.c.work_id,
                names_t.c.family_scope,
                names_t.c.coauthor_key,
            ).where(names_t.c.work_id.in_(chunk))
        ):
            on_work.setdefault(work_id, []).append((a_id, scope, key))
    for i, (work_id, scope, key) in enumerate(extra):
        on_work.setdefault(work_id, []).append((-1 - i, scope, key))
    out: dict[str, set[str]] = {}
    for members in on_work.values():
        for a_id, scope, _key in members:
            out.setdefault(scope, set()).update(k for b, _s, k in members if b != a_id)
    return out


@contextmanager
def _keys(
    conn: Connection, name: str, columns: tuple[str, ...], rows: Iterable[Any]
) -> Iterator[Table]:
    """A temporary table of distinct ``rows`` (text, every column part of the key) for one
    set-based join, dropped after it. One join against it replaces thousands of queries
    with ``IN`` lists: after a big import the chunked queries took more than 13 minutes
    on PostgreSQL."""
    table = Table(
        name,
        MetaData(),
        *(Column(c, Text, primary_key=True) for c in columns),
        prefixes=["TEMPORARY"],
    )
    table.create(conn)
    try:
        listed = [dict(zip(columns, row, strict=True)) for row in sorted(set(rows))]
        for start in range(0, len(listed), 4 * CHUNK):
            conn.execute(insert(table), listed[start : start + 4 * CHUNK])
        if conn.dialect.name == "postgresql":  # temporary tables get no automatic statistics
            conn.execute(text(f"ANALYZE {name}"))
        yield table
    finally:
        table.drop(conn)


def _cosigners(keys: Table, *also: Any) -> tuple[Any, Any]:
    """``keys`` joined to the authorships carrying one of its co-author keys (``other``),
    and to every other authorship on their papers (``names_t``), which must meet
    ``also``. Returns the join and ``other``."""
    other = names_t.alias("other")
    joined = keys.join(other, other.c.coauthor_key == keys.c.coauthor_key).join(
        names_t,
        and_(
            names_t.c.work_id == other.c.work_id,
            names_t.c.authorship_id != other.c.authorship_id,
            *also,
        ),
    )
    return joined, other


def _sharing(conn: Connection, coauthors: set[str]) -> set[str]:
    """Blocks where two authorships sign a paper with one of the ``coauthors`` name keys."""
    with _keys(conn, "crossed_keys", ("coauthor_key",), ((k,) for k in coauthors)) as keys:
        joined, other = _cosigners(keys)
        return set(
            conn.execute(
                select(names_t.c.block_key)
                .select_from(joined)
                .group_by(names_t.c.block_key, other.c.coauthor_key)
                .having(func.count(names_t.c.authorship_id.distinct()) > 1)
            ).scalars()
        )


def _signing_with(conn: Connection, keys_of: dict[str, set[str]], column: Any) -> set[Any]:
    """``column`` of the authorships of a family on a work that an authorship with one of
    that family's ``keys_of`` also signs."""
    pairs = ((family, key) for family, keys in keys_of.items() for key in keys)
    with _keys(conn, "signing_keys", ("family_scope", "coauthor_key"), pairs) as keys:
        joined, _other = _cosigners(keys, names_t.c.family_scope == keys.c.family_scope)
        return set(conn.execute(select(column).select_from(joined).distinct()).scalars())


def _hop_blocks(conn: Connection, works: set[int], gone: list[tuple[int, str, str]]) -> set[str]:
    """Blocks whose co-authors' co-authors changed. They are counted per family
    (features.scoped_hops): a changed work alters the family's co-occurrence of the names
    that sign it, so a block of that family moves when one of its papers has such a
    co-author. ``gone``: (work, family scope, key) of name keys replaced since."""
    return _signing_with(conn, _coauthors_by_family(conn, works, gone), names_t.c.block_key)


def load_scope(conn: Connection, blocks: set[str]) -> set[int]:
    """The works to load for re-clustering ``blocks``: their own, and those that make
    their co-authors' co-author counts whole (every paper of the family signed by one of
    their co-authors)."""
    own = _distinct(conn, names_t.c.work_id, names_t.c.block_key, blocks)
    families = {family_scope(b) for b in blocks}
    needed = {
        family: keys
        for family, keys in _coauthors_by_family(conn, own).items()
        if family in families
    }
    return own | _signing_with(conn, needed, names_t.c.work_id)


def _blocks_listed(conn: Connection, table: Table, claims: set[int]) -> set[str]:
    """Blocks of the authorships that ``table`` (claimed authorships, or corrections)
    lists for ``claims``."""
    out: set[str] = set()
    for chunk in in_chunks(claims):
        out.update(
            conn.execute(
                select(names_t.c.block_key)
                .join(table, table.c.authorship_id == names_t.c.authorship_id)
                .where(table.c.claim_id.in_(chunk))
                .distinct()
            ).scalars()
        )
    return out


def _claim_closure(conn: Connection, blocks: set[str]) -> set[str]:
    """Blocks of every claimant's verified claims that have an authorship in ``blocks``,
    and so on, until nothing is added: one claimant's group is always clustered whole."""
    per_claim: dict[str, set[str]] = {}
    for claimant, block in conn.execute(
        select(claims_t.c.claimant, names_t.c.block_key)
        .select_from(claimed_t)
        .join(names_t, names_t.c.authorship_id == claimed_t.c.authorship_id)
        .join(claims_t, claims_t.c.id == claimed_t.c.claim_id)
        .where(claims_t.c.status.in_(HOLDING))
        .distinct()
    ):
        per_claim.setdefault(claimant, set()).add(block)
    return grown(per_claim.values(), blocks)


def grown(groups: Iterable[set[str]], blocks: set[str]) -> set[str]:
    """The blocks of every group (one claimant's blocks) that shares a block with
    ``blocks``, and so on, until nothing is added; ``blocks`` themselves left out."""
    listed = list(groups)
    out = set(blocks)
    grew = True
    while grew:
        grew = False
        for group in listed:
            if group & out and not group <= out:
                out |= group
                grew = True
    return out - blocks


def write_all_names(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Replace ``authorship_names`` wholesale (a full rebuild). Its indexes are dropped
    for the insert and built again after it: one sorted build per index instead of half
    a million ordered inserts into six of them."""
    conn.execute(delete(names_t))
    for index in names_t.indexes:
        index.drop(conn)
    for start in range(0, len(rows), 20_000):
        conn.execute(insert(names_t), rows[start : start + 20_000])
    for index in sorted(names_t.indexes, key=lambda ix: str(ix.name)):
        index.create(conn)
