"""Incremental pipeline runs (`peergraph pipeline … --since DIR`, pipeline/changes.py):
a run over the previous run's files and an update clusters again only the name blocks
the update changes, and its output equals a full run over the same files. The whole
corpus: benchmarks/scale/incremental.py."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from peergraph.authors.ownership import Claim
from peergraph.ingest.formats import expand_paths
from peergraph.pipeline.changes import SinceRefused
from peergraph.pipeline.embeddings import vector
from peergraph.pipeline.run import run_pipeline
from peergraph.search.embeddings import load_encoder

pytestmark = [pytest.mark.slow, pytest.mark.once]

TABLES = ("author_clusters", "authorship_names", "author_records", "profiles", "collaborations")


def rows(spark, out: Path, table: str) -> list[tuple]:
    return sorted(tuple(r) for r in spark.read.parquet(str(out / table)).collect())


def split_corpus(shared_data: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The common-names works as a base file and an update: the update holds the last
    tenth of the works, and copies of ten base works with an abstract added (they merge
    into, and enrich, works of the base)."""
    with gzip.open(shared_data / "and-common-names" / "works.csl.json.gz", "rt") as handle:
        items = json.load(handle)
    cut = len(items) * 9 // 10
    base, update = items[:cut], items[cut:]
    for item in base[:: cut // 10][:10]:
        update.append({**item, "id": item["id"] + "-again", "abstract": "An enriched copy."})
    (tmp_path / "base.json").write_text(json.dumps(base))
    (tmp_path / "update.json").write_text(json.dumps(update))
    return tmp_path / "base.json", tmp_path / "update.json"


def test_an_incremental_run_equals_a_full_run(spark, test_data, shared_data, tmp_path):
    base, update = split_corpus(shared_data, tmp_path)
    first = expand_paths([test_data / "openalex.jsonl", base])
    both = expand_paths([test_data / "openalex.jsonl", base, update])
    run_pipeline(spark, first, tmp_path / "before")

    # a verified claim since the previous run: two records of one block, to be one
    clusters = spark.read.parquet(str(tmp_path / "before" / "author_clusters"))
    names = spark.read.parquet(str(tmp_path / "before" / "authorship_names"))
    joined = clusters.join(names.withColumnRenamed("id", "authorship_id"), "authorship_id")
    block = (
        joined.groupBy("block")
        .agg({"cluster": "approx_count_distinct"})
        .orderBy("approx_count_distinct(cluster)", ascending=False)
        .first()["block"]
    )
    two = [
        r["authorship_id"]
        for r in joined.where(joined.block == block).dropDuplicates(["cluster"]).limit(2).collect()
    ]
    claims = [Claim(1, 1, "alice", sorted(two), [])]

    incremental = run_pipeline(
        spark, both, tmp_path / "after", claims=claims, since=tmp_path / "before"
    )
    full = run_pipeline(spark, both, tmp_path / "full", claims=claims)

    plan = incremental.plan
    assert plan is not None and full.plan is None
    assert plan.reasons["changed authorships"] > 0
    assert plan.reasons["claims and corrections"] >= 0 and block in plan.blocks
    all_blocks = {
        r[0]
        for r in spark.read.parquet(str(tmp_path / "full" / "authorship_names"))
        .select("block")
        .distinct()
        .collect()
    }
    assert len(plan.blocks) < len(all_blocks)  # the update does not touch every block
    for table in TABLES:
        assert rows(spark, tmp_path / "after", table) == rows(spark, tmp_path / "full", table), (
            table
        )
    # the claim held: its two authorships are one record now
    after = dict(
        (r[0], r[1]) for r in rows(spark, tmp_path / "after", "author_clusters") if r[0] in two
    )
    assert len(set(after.values())) == 1
    run = spark.read.parquet(str(tmp_path / "after" / "run")).first()
    assert run["mode"] == "incremental" and run["blocks"] == len(plan.blocks)

    # and again from the incremental output, in place, with nothing new: nothing to do
    again = run_pipeline(spark, both, tmp_path / "after", claims=claims, since=tmp_path / "after")
    assert again.plan is not None and again.plan.blocks == set()
    for table in TABLES:
        assert rows(spark, tmp_path / "after", table) == rows(spark, tmp_path / "full", table), (
            table
        )


def test_an_incremental_run_encodes_only_new_and_enriched_works(spark, test_data, tmp_path):
    encoder = load_encoder()
    first = expand_paths([test_data / "openalex.jsonl", test_data / "sample.bib"])
    both = [*first, *expand_paths([test_data / "sample.csl.json", test_data / "sample.bib"])]
    run_pipeline(spark, first, tmp_path / "before", embed=encoder.name)
    incremental = run_pipeline(
        spark, both, tmp_path / "after", embed=encoder.name, since=tmp_path / "before"
    )
    full = run_pipeline(spark, both, tmp_path / "full", embed=encoder.name)

    records = spark.read.parquet(str(tmp_path / "after" / "records"))
    changed = {
        r[0] for r in records.where("file > 2 AND work_id IS NOT NULL").select("work_id").collect()
    }
    assert 0 < incremental.embedded == len(changed) < full.embedded == full.works

    def vectors(out: Path) -> dict[int, object]:
        rows = spark.read.parquet(str(out / "work_embeddings")).collect()
        return {r.work_id: vector(r.vector) for r in rows}

    ours, theirs = vectors(tmp_path / "after"), vectors(tmp_path / "full")
    assert set(ours) == set(theirs)
    assert min(float(ours[w] @ theirs[w]) for w in ours) >= 0.99999


def test_an_incremental_run_refuses_other_files(spark, test_data, tmp_path):
    run_pipeline(spark, expand_paths([test_data / "sample.bib"]), tmp_path / "before")
    with pytest.raises(SinceRefused, match="previous run's file 1"):
        run_pipeline(
            spark,
            expand_paths([test_data / "sample.csl.json", test_data / "sample.bib"]),
            tmp_path / "after",
            since=tmp_path / "before",
        )
    assert not (tmp_path / "after").exists()
    with pytest.raises(SinceRefused, match="no such folder"):
        run_pipeline(
            spark, expand_paths([test_data / "sample.bib"]), tmp_path / "x", since=tmp_path / "y"
        )


def test_cli_says_what_an_incremental_run_did(test_data, tmp_path):
    env_cmd = [sys.executable, "-m", "peergraph", "pipeline"]
    done = subprocess.run(
        [*env_cmd, str(test_data / "sample.bib"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    again = subprocess.run(
        [
            *env_cmd,
            str(test_data / "sample.bib"),
            str(test_data / "sample.csl.json"),
            "--out",
            str(tmp_path / "out"),
            "--since",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert again.returncode == 0, again.stderr
    assert "incremental:" in again.stderr and "name blocks clustered again" in again.stderr
