"""The Spark pipeline (`peergraph pipeline`, local[2]) against `peergraph import` of the same
files: the same works, field for field, the same ids and identifiers, the same outcome for
every record and the same reported problems. The whole-corpus check is
benchmarks/scale/equality.py."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from peergraph.ingest.formats import expand_paths
from peergraph.ingest.loader import import_file
from peergraph.pipeline.compare import (
    agreement,
    differences,
    parquet_clusters,
    parquet_profiles,
    parquet_tables,
    store_clusters,
    store_profiles,
    store_tables,
    unexplained,
)
from peergraph.pipeline.embeddings import vector
from peergraph.pipeline.load import load_output
from peergraph.pipeline.run import run_pipeline
from peergraph.profiles.services import rebuild
from peergraph.search.embeddings import load_encoder
from peergraph.search.semantic import embed_pending
from tests.stores import store_engine

pytestmark = [pytest.mark.slow, pytest.mark.once]


def truncated_gzip(path: Path, source: Path) -> Path:
    """A gzip file cut in the middle: the rest is unreadable, the start is kept."""
    data = gzip.compress(source.read_bytes())
    path.write_bytes(data[: len(data) // 2])
    return path


def test_pipeline_equals_import(spark, test_data, shared_data, tmp_path):
    sample = [
        test_data / "openalex.jsonl",
        test_data / "sample.csl.json",
        test_data / "sample.bib",
        test_data / "arxiv.jsonl",
        test_data / "arxiv_atom.xml",
        test_data / "bad_items.csl.json",
        test_data / "bad_utf8.jsonl",
        truncated_gzip(
            tmp_path / "cut.jsonl.gz",
            shared_data / "arxiv-samples" / "arxiv-metadata-oai-snapshot.first200.json",
        ),
        shared_data / "openalex-api-samples" / "works.jsonl.gz",
        shared_data / "openalex-api-samples" / "snapshot_sample",
        shared_data / "arxiv-samples" / "arxiv-metadata-oai-snapshot.first200.json",
        shared_data / "arxiv-samples" / "api-atom",
        shared_data / "and-common-names" / "works.csl.json.gz",
        test_data / "sample.bib",  # again, under another import: every record merges
    ]
    targets = expand_paths(sample)
    engine = store_engine(tmp_path / "store")
    for target in targets:
        import_file(engine, target, force=True)
    summary = run_pipeline(spark, targets, tmp_path / "out")

    store, pipeline = store_tables(engine), parquet_tables(spark, tmp_path / "out")
    assert differences(store, pipeline) == {}
    # author records: the pipeline's clusters against a full rebuild's records
    rebuild(engine, full=True)
    agreed = agreement(
        store_clusters(engine), parquet_clusters(spark, tmp_path / "out"), limit=10_000
    )
    assert agreed.authorships > 20_000 and agreed.only_store == agreed.only_pipeline == 0
    assert agreed.b_cubed.f1 >= 0.999, agreed.differing
    # profile figures: equal but for the records the two clusterings disagree on
    found = differences(
        store_profiles(engine), parquet_profiles(spark, tmp_path / "out"), limit=100_000
    )
    assert unexplained(found, agreed) == {}
    # stage 6: the output loaded into an empty store is the imported and rebuilt store
    loaded = store_engine(tmp_path / "loaded")
    loaded_summary = load_output(loaded, spark, tmp_path / "out")
    assert loaded_summary.works == summary.works
    assert differences(store_tables(engine), store_tables(loaded)) == {}
    again = agreement(store_clusters(engine), store_clusters(loaded), limit=10_000)
    assert again.b_cubed.f1 == agreed.b_cubed.f1 and again.only_store == again.only_pipeline == 0
    assert unexplained(differences(store_profiles(engine), store_profiles(loaded)), again) == {}
    # merged into the imported store, which read the same files: it keeps every id
    before = store_clusters(engine)
    merged = load_output(engine, spark, tmp_path / "out").merged
    assert merged is not None and (merged.new_imports, merged.new_works) == (0, 0)
    assert (merged.new_records, merged.retired_records) == (0, 0)
    assert store_clusters(engine) == before
    assert len(store["works"]) == summary.works > 6000
    assert len(store["work_records"]) > len(store["works"])  # some records merged
    reasons = {reason for _, _, _, reason, _ in store["issues"]}
    assert {"invalid-json", "missing-title", "invalid-utf8", "unreadable"} <= reasons
    assert summary.files[-1].created == 0 and summary.files[-1].merged == 4


def test_the_pipelines_vectors_are_the_embed_jobs(spark, test_data, shared_data, tmp_path):
    targets = expand_paths(
        [
            test_data / "openalex.jsonl",
            test_data / "sample.bib",
            shared_data / "openalex-api-samples" / "works.jsonl.gz",
        ]
    )
    engine = store_engine(tmp_path / "store")
    for target in targets:
        import_file(engine, target, force=True)
    encoder = load_encoder()
    embed_pending(engine, encoder)
    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT work_id, vector FROM work_embeddings")).all())
    summary = run_pipeline(spark, targets, tmp_path / "out", authors=False, embed=encoder.name)
    rows = spark.read.parquet(str(tmp_path / "out" / "work_embeddings")).collect()
    ours = {r.work_id: vector(r.vector) for r in rows}
    assert {r.model for r in rows} == {encoder.name}
    assert set(ours) == set(stored) and len(ours) == summary.works > 500
    cosines = [float(ours[w] @ vector(stored[w])) for w in ours]
    assert min(cosines) >= 0.999, sorted(cosines)[:5]


def test_a_new_run_replaces_the_output_whole(spark, test_data, tmp_path):
    out = tmp_path / "out"
    run_pipeline(spark, expand_paths([test_data / "sample.bib"]), out, authors=False)
    first = {p.name for p in (out / "works").iterdir()}
    summary = run_pipeline(spark, expand_paths([test_data / "sample.csl.json"]), out, authors=False)
    assert summary.works == 4
    assert spark.read.parquet(str(out / "works")).count() == 4
    assert {p.name for p in (out / "works").iterdir()} != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing half-written left


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peergraph", "pipeline", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_cli_refuses_a_missing_source_and_a_foreign_output_folder(test_data, tmp_path):
    missing = cli(str(tmp_path / "nothere.bib"), "--out", str(tmp_path / "out"))
    assert missing.returncode == 2
    assert "nothere.bib: no such file or directory" in missing.stderr
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    refused = cli(str(test_data / "sample.bib"), "--out", str(foreign))
    assert refused.returncode == 2 and "not replaced" in refused.stderr
    assert (foreign / "notes.txt").read_text() == "keep me"
