"""Stage 6: a pipeline output loaded into an empty store (PostgreSQL in the PostgreSQL
run of the suite, SQLite otherwise) equals that store filled by `peergraph import` and
`peergraph rebuild --full`; a store that holds data is refused and left as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

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

    # a store with data is refused, untouched
    with loaded.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM works")).scalar()
    with pytest.raises(LoadRefused, match="already holds imports"):
        load_output(loaded, spark, tmp_path / "out")
    with loaded.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM works")).scalar() == before


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
