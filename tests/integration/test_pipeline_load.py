"""Stage 6: a pipeline output loaded into an empty store (PostgreSQL in the PostgreSQL
run of the suite, SQLite otherwise) equals that store filled by `peergraph import` and
`peergraph rebuild --full`; merged into a store with data and owned state, it equals
that store after importing the new file and a full rebuild, ids and moves included; a
run that does not cover the store is refused and the store left as it was."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from peergraph.accounts.models import Account
from peergraph.authors import ownership
from peergraph.claims.models import Follow
from peergraph.ingest.formats import expand_paths
from peergraph.ingest.loader import import_file
from peergraph.pipeline.compare import (
    agreement,
    differences,
    store_clusters,
    store_profiles,
    store_tables,
    unexplained,
)
from peergraph.pipeline.load import LoadRefused, load_output
from peergraph.pipeline.merge import store_claims
from peergraph.pipeline.run import run_pipeline
from peergraph.profiles.services import is_stale, rebuild
from peergraph.search.text import text_index
from tests.stores import store_engine

pytestmark = [pytest.mark.slow]


def test_a_loaded_store_is_the_imported_and_rebuilt_store(spark, test_data, shared_data, tmp_path):
    targets = expand_paths(
        [
            test_data / "openalex.jsonl",
            test_data / "bad_items.csl.json",
            shared_data / "openalex-api-samples" / "works.jsonl.gz",
            shared_data / "arxiv-samples" / "arxiv-metadata-oai-snapshot.first200.json",
            test_data / "sample.bib",
        ]
    )
    imported = store_engine(tmp_path / "imported")
    for target in targets:
        import_file(imported, target, force=True)
    rebuild(imported, full=True)
    run_pipeline(spark, targets, tmp_path / "out")

    loaded = store_engine(tmp_path / "loaded")
    summary = load_output(loaded, spark, tmp_path / "out")
    assert summary.imports == len(targets) and summary.works > 1000
    assert differences(store_tables(imported), store_tables(loaded)) == {}
    agreed = agreement(store_clusters(imported), store_clusters(loaded), limit=10_000)
    assert agreed.only_store == agreed.only_pipeline == 0 and agreed.b_cubed.f1 >= 0.999
    assert unexplained(differences(store_profiles(imported), store_profiles(loaded)), agreed) == {}
    evidence = []  # the links' "why this?": each partner is an authorship of the record
    for engine in (imported, loaded):
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT authorship_id, record_id, evidence FROM authorship_links")
            ).all()
            index = text_index(conn)
        record_of = {a: r for a, r, _ in rows}
        parsed = ((a, json.loads(e) if isinstance(e, str) else e) for a, _, e in rows)
        found = [(a, e) for a, e in parsed if e]  # SQLite returns JSON null as "null"
        partners = [(record_of[a], record_of.get(e["via"])) for a, e in found if "via" in e]
        assert all(mine == theirs for mine, theirs in partners)
        evidence.append((len(found), len(partners)))
    assert evidence[0] == evidence[1] and evidence[1][1] > 1000
    # the keyword index holds every loaded work and record name
    assert index.check(loaded, repair=False).ok
    totals = []
    for engine in (imported, loaded):
        with Session(engine) as session:
            totals.append(index.work_total(session, "neural network", None))
    assert totals[0] == totals[1] > 10
    # the loaded store is current: nothing to rebuild, and a rebuild is incremental
    assert not is_stale(loaded)
    assert rebuild(loaded).mode == "incremental"

    # the same output again is a merge that changes nothing
    before = store_clusters(loaded)
    again = load_output(loaded, spark, tmp_path / "out")
    assert again.merged is not None
    assert (again.merged.new_works, again.merged.updated_works) == (0, 0)
    assert (again.merged.new_records, again.merged.retired_records) == (0, 0)
    assert differences(store_tables(imported), store_tables(loaded)) == {}
    assert store_clusters(loaded) == before


def test_a_folder_that_is_no_pipeline_output_is_refused(spark, tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(LoadRefused, match="not a whole pipeline output"):
        load_output(store_engine(tmp_path / "store"), spark, tmp_path / "out")


def test_the_load_command_refuses_a_missing_folder(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "peergraph", "--data-dir", str(tmp_path), "load", "nothere"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 2 and "nothere: no such folder" in result.stderr


def _halves(shared_data, folder, size: int = 1500) -> list:
    """The first 2 × ``size`` ACL records as two files: the second half's papers are
    largely by the first half's people, so merging them re-clusters records."""
    with gzip.open(shared_data / "acl-anthology-2019" / "works.csl.json.gz", "rt") as f:
        items = json.load(f)[: 2 * size]
    paths = []
    for name, part in (("a", items[:size]), ("b", items[size:])):
        path = folder / f"{name}.csl.json"
        path.write_text(json.dumps(part))
        paths.append(path)
    return expand_paths(paths)


def _owned(engine, first, tmp_path) -> None:
    """Import the first file and rebuild; claim the largest record, disown one of its
    authorships, and follow every record from one account; rebuild again."""
    import_file(engine, first, force=True)
    rebuild(engine, full=True)
    with engine.begin() as conn:
        record = conn.execute(
            text("SELECT id FROM author_records ORDER BY works_count DESC, id LIMIT 1")
        ).scalar_one()
        claim = ownership.claim_record(conn, record, "claimant-1")
        last = conn.execute(
            text("SELECT max(authorship_id) FROM authorship_links WHERE record_id = :r"),
            {"r": record},
        ).scalar_one()
        ownership.mark_not_mine(conn, claim, last)
        account = conn.execute(
            insert(Account).values(email="reader@example.org").returning(Account.id)
        ).scalar_one()
        conn.execute(
            insert(Follow),
            [
                {"account_id": account, "record_id": r}
                for (r,) in conn.execute(text("SELECT id FROM author_records"))
            ],
        )
    rebuild(engine)


def _people(engine) -> dict[str, set]:
    """Author records and what people own on them, by id."""
    queries = {
        "links": "SELECT authorship_id, record_id FROM authorship_links",
        "records": "SELECT id, display_name, works_count FROM author_records",
        "claims": "SELECT id, record_id, status FROM record_claims",
        "follows": "SELECT account_id, record_id FROM follows",
        "redirects": "SELECT old_id, new_id, reason FROM record_redirects",
        "moves": "SELECT table_name, row_id, from_record, to_record, reason FROM record_moves",
    }
    with engine.connect() as conn:
        return {name: {tuple(r) for r in conn.execute(text(q))} for name, q in queries.items()}


def test_a_run_merged_into_a_store_is_the_store_imported_and_rebuilt(spark, shared_data, tmp_path):
    first, second = _halves(shared_data, tmp_path)
    merged, rebuilt = store_engine(tmp_path / "merged"), store_engine(tmp_path / "rebuilt")
    for engine in (merged, rebuilt):
        _owned(engine, first, tmp_path)
    import_file(rebuilt, second, force=True)
    rebuild(rebuilt, full=True)

    with merged.connect() as conn:
        claims = store_claims(conn)
    assert len(claims) == 1 and claims[0].not_mine
    run_pipeline(spark, [first, second], tmp_path / "out", claims=claims)
    summary = load_output(merged, spark, tmp_path / "out")
    assert summary.merged is not None and summary.merged.new_imports == 1
    assert summary.merged.new_works > 1000 and summary.merged.kept_records > 1000

    assert differences(store_tables(rebuilt), store_tables(merged)) == {}
    people = _people(rebuilt), _people(merged)
    for name in people[0]:
        assert people[0][name] == people[1][name], name
    # the second file changed records: some retired, and follows moved with them
    assert people[0]["redirects"] and any(m[0] == "follows" for m in people[0]["moves"])
    agreed = agreement(store_clusters(rebuilt), store_clusters(merged), limit=10_000)
    assert agreed.b_cubed.f1 == 1.0
    assert unexplained(differences(store_profiles(rebuilt), store_profiles(merged)), agreed) == {}
    with merged.connect() as conn:
        assert text_index(conn).check(merged, repair=False).ok

    # the same run again: nothing new, every record keeps its id
    again = load_output(merged, spark, tmp_path / "out")
    assert again.merged is not None
    assert (again.merged.new_imports, again.merged.new_works, again.merged.new_records) == (0, 0, 0)
    assert again.merged.retired_records == 0
    assert _people(merged)["links"] == people[1]["links"]


def test_a_run_that_does_not_cover_the_store_is_refused(spark, shared_data, tmp_path):
    first, second = _halves(shared_data, tmp_path, size=300)
    store = store_engine(tmp_path / "store")
    _owned(store, first, tmp_path)
    before = _people(store)

    run_pipeline(spark, [second], tmp_path / "other")  # not the store's file first
    with pytest.raises(LoadRefused, match="is not the store's import"):
        load_output(store, spark, tmp_path / "other")
    run_pipeline(spark, [first, second], tmp_path / "unclaimed")  # without the claims
    with pytest.raises(LoadRefused, match="--owned-from"):
        load_output(store, spark, tmp_path / "unclaimed")
    assert _people(store) == before
