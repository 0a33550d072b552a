"""The disk fills during an import, on a real (tmpfs) filesystem too small for it: one
clear line, the store stays usable, and once space is freed the rerun completes and the
store equals an uninterrupted import's.

Mounting needs root (CI runs as root); elsewhere the test is skipped with the reason, and
tests/functional/test_cli_errors.py covers the same path with a file-size limit."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import pytest

from peergraph.db import create_db_engine, migrate
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.settings import Settings
from tests.stores import import_contents

RECORDS = 8_000
MB = 1024 * 1024

pytestmark = pytest.mark.sqlite_only  # the embedded store's own file system


def mount(point: Path, size: int, *options: str) -> bool:
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", ",".join([*options, f"size={size}"]), "tmpfs", point],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )


def peergraph(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peergraph", "--data-dir", str(store), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture
def small_filesystem():  # type: ignore[no-untyped-def]
    point = Path(tempfile.mkdtemp(prefix="peergraph-full-disk."))
    if os.geteuid() != 0 or not mount(point, 1 * MB):
        point.rmdir()
        pytest.skip("mounting a tmpfs needs root (and CAP_SYS_ADMIN)")
    subprocess.run(["umount", point], check=True)
    yield point
    subprocess.run(["umount", "--lazy", point], check=False)
    point.rmdir()


def test_a_full_filesystem_stops_the_import_cleanly_and_a_rerun_completes(
    small_filesystem, shared_data, tmp_path
):
    with gzip.open(shared_data / "acl-anthology-2019" / "works.csl.json.gz", "rt") as handle:
        records = json.load(handle)[:RECORDS]
    data = tmp_path / "acl.json"
    data.write_text(json.dumps(records), encoding="utf-8")

    reference = create_db_engine(Settings.for_data_dir(tmp_path / "reference"))
    migrate(reference)
    empty = (tmp_path / "reference" / "peergraph.sqlite3").stat().st_size
    import_file(reference, ImportTarget(data, "csl-json"))
    needed = sum(f.stat().st_size for f in (tmp_path / "reference").iterdir())

    # room for the empty store and about half of what the import writes
    store = small_filesystem / "store"
    assert mount(small_filesystem, empty + needed // 2)
    assert peergraph(store, "migrate").returncode == 0

    full = peergraph(store, "import", "--quiet", str(data))
    assert full.returncode == 1
    lines = full.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in full.stderr, full.stderr
    assert "full" in lines[0] and "free some space" in lines[0], lines[0]
    assert "run the same command again" in lines[0]

    # usable while still full: reads answer, the store is sound, and the run is on record
    # as unfinished with its last committed record (marking it failed is a write too,
    # which a full disk may refuse: the rerun resumes either way)
    stats = peergraph(store, "stats")
    assert stats.returncode == 0, stats.stderr
    with closing(sqlite3.connect(store / "peergraph.sqlite3")) as db:
        status, checkpoint = db.execute("SELECT status, checkpoint FROM imports").fetchone()
        assert db.execute("PRAGMA quick_check").fetchone() == ("ok",)
    assert status in ("failed", "running") and 0 < checkpoint < RECORDS

    assert mount(small_filesystem, 4 * needed, "remount")  # space freed
    again = peergraph(store, "import", "--quiet", str(data))
    assert again.returncode == 0, again.stderr
    assert f"resumed after record {checkpoint:,}" in again.stderr
    engine = create_db_engine(Settings.for_data_dir(store))
    assert import_contents(engine) == import_contents(reference)
    engine.dispose()
    reference.dispose()
