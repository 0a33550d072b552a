"""An incremental rebuild equals a full rebuild of the same data.

Two stores get the same history: 90 % of the common-names works, a full rebuild and a
claim; then the other 10 %. One store rebuilds incrementally, the other in full, and the
two must hold the same records, ids, links, redirects, collaborations and profiles.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from peergraph.authors import ownership
from peergraph.authors.models import AuthorRecord
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from tests.stores import store_engine

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

COMPARED = {
    "author_records": "SELECT id, display_name, sort_name, block_key, orcid, works_count,"
    " first_year, last_year, round(CAST(confidence AS numeric), 4)"
    " FROM author_records ORDER BY id",
    "authorship_links": "SELECT authorship_id, record_id, method,"
    " round(CAST(confidence AS numeric), 4) FROM authorship_links ORDER BY authorship_id",
    "record_redirects": "SELECT old_id, new_id, reason FROM record_redirects ORDER BY old_id",
    "collaborations": "SELECT record_id, coauthor_id, joint_works, strength"
    " FROM collaborations ORDER BY record_id, coauthor_id",
    "profiles": "SELECT record_id, verification_level, trust_score,"
    " close_collaborators_count, affiliations FROM profiles ORDER BY record_id",
    "record_claims": "SELECT id, record_id, claimant, status FROM record_claims ORDER BY id",
    "authorship_names": "SELECT * FROM authorship_names ORDER BY authorship_id",
}


def store(path: Path) -> Engine:
    return store_engine(path)


def dump(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {name: [tuple(r) for r in conn.execute(text(q))] for name, q in COMPARED.items()}


def test_incremental_rebuild_equals_a_full_rebuild(shared_data, tmp_path):
    with gzip.open(shared_data / "and-common-names" / "works.csl.json.gz") as source:
        works = json.load(source)
    first = tmp_path / "first.csl.json"
    later = tmp_path / "later.csl.json"
    first.write_text(json.dumps([w for i, w in enumerate(works) if i % 10]))
    later.write_text(json.dumps([w for i, w in enumerate(works) if not i % 10]))
    stores = [store(tmp_path / "incremental"), store(tmp_path / "full")]
    for engine in stores:
        import_file(engine, ImportTarget(first, "csl-json"))
        assert rebuild(engine).mode == "full"  # nothing to start from
        with engine.begin() as conn:  # someone claims the biggest "Wang" record
            biggest = conn.execute(
                select(AuthorRecord.id)
                .where(AuthorRecord.block_key.like("wang%"))
                .order_by(AuthorRecord.works_count.desc(), AuthorRecord.id)
                .limit(1)
            ).scalar_one()
            ownership.claim_record(conn, biggest, "account:1")
        import_file(engine, ImportTarget(later, "csl-json"))

    incremental = rebuild(stores[0])
    full = rebuild(stores[1], full=True)
    assert (incremental.mode, full.mode) == ("incremental", "full")
    assert 0 < incremental.blocks < full.blocks  # only the blocks that changed
    assert sum(incremental.reasons.values()) == incremental.blocks  # each block has a reason
    assert incremental.authorships < full.authorships
    a, b = dump(stores[0]), dump(stores[1])
    for name in COMPARED:
        assert a[name] == b[name], name
    assert a["authorship_links"] and a["record_claims"][0][1] == biggest

    again = rebuild(stores[0])  # nothing changed since: nothing to do
    assert (again.mode, again.blocks, again.authorships) == ("incremental", 0, 0)
    assert dump(stores[0]) == a
    for engine in stores:
        engine.dispose()


def test_a_scoped_load_gives_the_blocks_the_features_of_a_full_load(shared_data, tmp_path):
    """What an incremental run loads for some blocks (their works, and the family's
    papers their co-authors sign) gives those blocks' pairs exactly the features a full
    load gives them."""
    import numpy as np
    from sqlalchemy import Column, Integer, MetaData, Table, insert

    from peergraph.authors import changes, disambiguation
    from peergraph.authors.features import block_context, pair_features
    from peergraph.authors.services import load_corpus

    engine = store(tmp_path / "store")
    import_file(
        engine, ImportTarget(shared_data / "and-common-names" / "works.csl.json.gz", "csl-json")
    )
    rebuild(engine)
    with engine.begin() as conn:
        everything = load_corpus(conn).corpus
        chosen = {"wang_y", "zhang_j", "li_x"}
        scope = Table(
            "scope", MetaData(), Column("id", Integer, primary_key=True), prefixes=["TEMPORARY"]
        )
        scope.create(conn)
        works = changes.load_scope(conn, chosen)
        conn.execute(insert(scope), [{"id": w} for w in sorted(works)])
        part = load_corpus(conn, scope).corpus
    assert len(part) < len(everything)

    def features(corpus):
        blocks = disambiguation.blocks_of(corpus, chosen)
        context = block_context(corpus, blocks)
        out = {}
        for rows in blocks:
            a, b = disambiguation.candidate_pairs(corpus, rows)
            x = pair_features(corpus, context, rows[a], rows[b])
            ids = corpus.authorship_ids
            pairs = zip(ids[rows[a]].tolist(), ids[rows[b]].tolist(), strict=True)
            out.update(zip(pairs, x, strict=True))
        return out

    full, scoped = features(everything), features(part)
    assert full.keys() == scoped.keys() and len(full) > 10_000
    from peergraph.authors.features import FEATURES

    for pair, x in full.items():
        differ = [FEATURES[k] for k in np.flatnonzero(~((x == scoped[pair]) | np.isnan(x)))]
        assert np.array_equal(x, scoped[pair], equal_nan=True), (pair, differ)
    engine.dispose()
