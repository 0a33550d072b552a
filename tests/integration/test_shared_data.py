"""Importing the real shared data sets: counts, duplicates, idempotence, kill-and-resume."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from peergraph.db import create_db_engine
from peergraph.ingest.formats import expand_paths
from peergraph.ingest.loader import import_file
from peergraph.ingest.normalize import normalize_arxiv, normalize_doi, title_key
from tests.integration.test_loader import DATA_TABLES, snapshot
from tests.stores import copied_store

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def import_all(engine, *paths: Path):
    return [import_file(engine, t) for t in expand_paths(list(paths))]


def merged_records(engine, import_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT record_key, entity_id FROM provenance"
                " WHERE import_id = :i AND action = 'merged'"
            ),
            {"i": import_id},
        )
        return {key: work_id for key, work_id in rows}


def assert_merges_are_duplicates(engine, merges: dict[str, int], raw: dict[str, dict]) -> None:
    """Every merged record shares a DOI, an arXiv id, or title + year with its work."""
    with engine.connect() as conn:
        for key, work_id in merges.items():
            item = raw[key]
            work = conn.execute(
                text("SELECT title, year FROM works WHERE id = :i"), {"i": work_id}
            ).one()
            identifiers = set(
                conn.execute(
                    text("SELECT scheme, value FROM work_identifiers WHERE work_id = :i"),
                    {"i": work_id},
                ).all()
            )
            if ("doi", normalize_doi(item.get("DOI"))) in identifiers:
                continue
            if ("arxiv", normalize_arxiv(item.get("URL"))) in identifiers:
                continue  # the same arXiv preprint listed under two venues
            assert title_key(item["title"]) == title_key(work.title), (
                key,
                item["title"],
                work.title,
            )
            assert item["issued"]["date-parts"][0][0] == work.year, key


def read_csl(path: Path) -> dict[str, dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return {item["id"]: item for item in json.load(handle)}


@pytest.mark.once  # 93k works: the smaller corpora below import on both databases
def test_ml_anthology(ml_import, shared_data, tmp_path):
    path = shared_data / "mlanthology-ml-venues" / "works.csl.json.gz"
    folder, summary = ml_import  # imported once for this and the profile tests
    engine = create_db_engine(copied_store(folder, tmp_path / "store"))
    assert summary.records_read == 93_665 and summary.skipped == 0  # README: 93,665 papers
    merges = merged_records(engine, summary.import_id)
    assert len(merges) == summary.merged
    # documented in docs/importing.md: the file's repeated papers (same title, year and
    # first author, e.g. a NeurIPS paper also listed under another venue key)
    assert summary.merged < 0.005 * summary.records_read
    assert_merges_are_duplicates(engine, merges, read_csl(path))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM works")).scalar() == 93_665 - summary.merged
        authorships = conn.execute(text("SELECT count(*) FROM authorships")).scalar()
    # README: 385,961 authorships; merged duplicates keep one author list
    assert 385_961 - 20 * summary.merged <= authorships <= 385_961
    again = import_all(engine, path)[0]
    assert again.status == "already-imported"
    engine.dispose()


@pytest.mark.once  # the worker-kill test imports 10,000 ACL records on both databases
def test_acl_anthology(engine, shared_data):
    path = shared_data / "acl-anthology-2019" / "works.csl.json.gz"
    (summary,) = import_all(engine, path)
    assert summary.records_read == 50_253 and summary.skipped == 0  # README: 50,253 papers
    assert summary.merged < 0.005 * summary.records_read
    raw = read_csl(path)
    assert_merges_are_duplicates(engine, merged_records(engine, summary.import_id), raw)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM works")).scalar() == 50_253 - summary.merged


@pytest.mark.once  # the OpenAlex test file imports on both databases in test_loader
def test_openalex_samples(engine, shared_data):
    folder = shared_data / "openalex-api-samples"
    with gzip.open(folder / "works.jsonl.gz", "rt") as handle:
        raw = [json.loads(line) for line in handle]
    untitled = sum(1 for w in raw if not (w.get("title") or w.get("display_name")))
    (summary,) = import_all(engine, folder / "works.jsonl.gz")
    assert summary.records_read == 1_430  # README: 1,430 works
    assert summary.skipped_by_reason == {"missing-title": untitled}
    distinct_ids = len({w["id"] for w in raw if w.get("title") or w.get("display_name")})
    assert summary.imported + summary.merged == 1_430 - untitled
    assert summary.imported <= distinct_ids
    entity_files = [
        folder / f"{e}.jsonl.gz" for e in ("institutions", "sources", "topics", "authors")
    ]
    results = import_all(engine, *entity_files, folder / "snapshot_sample")
    assert all(r.ok for r in results)
    with engine.connect() as conn:
        count = lambda sql: conn.execute(text(sql)).scalar()  # noqa: E731
        assert count("SELECT count(*) FROM upstream_authors") >= 306  # README: 306 authors
        assert count("SELECT count(*) FROM institutions WHERE ror IS NOT NULL") > 800
        assert count("SELECT count(*) FROM authorships WHERE orcid IS NOT NULL") > 3000
        assert count("SELECT count(*) FROM work_references WHERE cited_work_id IS NOT NULL") > 0
        assert (
            count(
                "SELECT count(*) FROM work_topics wt JOIN topics t ON t.id = wt.topic_id"
                " WHERE wt.is_primary AND t.taxonomy = 'openalex'"
            )
            > 900
        )
    # recorded API list responses: every one reads; works in them are mostly duplicates
    responses = import_all(engine, folder / "recorded_responses")
    assert len(responses) == 60
    for response in responses:
        with gzip.open(response.path, "rt") as handle:
            document = json.load(handle)
        results = document["results"] if isinstance(document, dict) else document
        if response.status == "already-imported":
            continue  # byte-identical to an earlier response file
        assert response.records_read == len(results), response.path
        if not results:
            assert (
                response.status == "failed" and response.message == "no records found in the file"
            )


def test_arxiv_samples(engine, shared_data):
    folder = shared_data / "arxiv-samples"
    results = import_all(
        engine, folder / "arxiv-metadata-oai-snapshot.first200.json", folder / "api-atom"
    )
    assert [r.records_read for r in results] == [200, 100, 100, 100, 100, 100]
    assert all(r.skipped == 0 for r in results)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM works")).scalar() == 700 - sum(
            r.merged for r in results
        )
        assert conn.execute(
            text("SELECT count(*) FROM work_identifiers WHERE scheme = 'arxiv'")
        ).scalar() == 700 - sum(r.merged for r in results)


def _run_import(data_dir: Path, path: Path) -> subprocess.Popen:
    env = dict(os.environ, PEERGRAPH_DATA_DIR=str(data_dir))
    return subprocess.Popen(
        [sys.executable, "-m", "peergraph", "import", "--quiet", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _checkpoint(db: Path) -> int:
    if not db.exists():
        return 0
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT max(checkpoint) FROM imports")).scalar() or 0
    except Exception:
        return 0  # schema not there yet
    finally:
        engine.dispose()


@pytest.mark.sqlite_only  # the worker kill test (test_worker_kill.py) covers PostgreSQL
def test_kill_and_resume_matches_uninterrupted_import(tmp_path, shared_data):
    """SIGKILL the import twice mid-way, rerun, and compare every table with a clean run."""
    path = shared_data / "acl-anthology-2019" / "works.csl.json.gz"
    clean_dir, killed_dir = tmp_path / "clean", tmp_path / "killed"
    assert _run_import(clean_dir, path).wait(timeout=600) == 0

    db = killed_dir / "peergraph.sqlite3"
    for threshold in (8_000, 30_000):
        process = _run_import(killed_dir, path)
        deadline = time.monotonic() + 300
        while _checkpoint(db) < threshold and process.poll() is None:
            assert time.monotonic() < deadline, "import made no progress"
            time.sleep(0.05)
        assert process.poll() is None, "the import finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert threshold <= _checkpoint(db) < 50_253
    final = _run_import(killed_dir, path)
    assert final.wait(timeout=600) == 0

    clean = create_engine(f"sqlite:///{clean_dir / 'peergraph.sqlite3'}")
    killed = create_engine(f"sqlite:///{db}")
    clean_rows, killed_rows = snapshot(clean), snapshot(killed)
    for table in DATA_TABLES:
        assert clean_rows[table] == killed_rows[table], table
    with clean.connect() as a, killed.connect() as b:
        query = text(
            "SELECT format, status, records_read, records_imported, records_merged,"
            " records_skipped, checkpoint FROM imports"
        )
        assert a.execute(query).all() == b.execute(query).all()
    clean.dispose()
    killed.dispose()
