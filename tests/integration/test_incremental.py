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
from peergraph.db import create_db_engine, migrate
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.settings import Settings

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

COMPARED = {
    "author_records": "SELECT id, display_name, sort_name, block_key, orcid, works_count,"
    " first_year, last_year, round(confidence, 4) FROM author_records ORDER BY id",
    "authorship_links": "SELECT authorship_id, record_id, method, round(confidence, 4)"
    " FROM authorship_links ORDER BY authorship_id",
    "record_redirects": "SELECT old_id, new_id, reason FROM record_redirects ORDER BY old_id",
    "collaborations": "SELECT record_id, coauthor_id, joint_works, strength"
    " FROM collaborations ORDER BY record_id, coauthor_id",
    "profiles": "SELECT record_id, verification_level, trust_score,"
    " close_collaborators_count, affiliations FROM profiles ORDER BY record_id",
    "record_claims": "SELECT id, record_id, claimant, status FROM record_claims ORDER BY id",
    "authorship_names": "SELECT * FROM authorship_names ORDER BY authorship_id",
}


def store(path: Path) -> Engine:
    engine = create_db_engine(Settings.for_data_dir(path))
    migrate(engine)
    return engine


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
