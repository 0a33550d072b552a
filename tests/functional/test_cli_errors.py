"""Operator errors from the real command line, in a child process: one line that says what
happened and what to do, no traceback unless --debug; and a failed import resumes."""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys

import pytest


def run(data_dir, *args, fsize: int | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # a file-size limit: the real full-disk error path of SQLite
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(
        [sys.executable, "-m", "peergraph", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit,
        env={**os.environ, "COLUMNS": "200"},
    )


def many_works(path, count: int) -> None:
    with path.open("w") as handle:
        for n in range(count):
            work = {
                "id": f"https://openalex.org/W{n + 1}",
                "title": f"A study of problem number {n} with a fairly long title to fill pages",
                "publication_year": 2000 + n % 20,
                "authorships": [
                    {"author": {"display_name": f"Author {n} Person"}, "raw_author_name": "x"}
                ],
                "abstract_inverted_index": {f"word{k}": [k] for k in range(40)},
            }
            handle.write(json.dumps(work) + "\n")


@pytest.mark.sqlite_only  # the SQLite file hitting a file-size limit
def test_full_disk_is_one_line_and_the_import_resumes(tmp_path):
    data = tmp_path / "works.jsonl"
    many_works(data, 12_000)
    store = tmp_path / "store"
    assert run(store, "db", "upgrade").returncode == 0
    size = (store / "peergraph.sqlite3").stat().st_size
    full = run(store, "import", "--quiet", str(data), fsize=size + 3_000_000)
    assert full.returncode == 1
    lines = full.stderr.strip().splitlines()
    assert len(lines) == 1, full.stderr
    # a file-size limit reads as an I/O error to SQLite, ENOSPC as "disk is full": both
    # get one line that says to free space and run the command again
    assert "free some space" in lines[0] and "run the same command again" in lines[0]
    assert "Traceback" not in full.stderr
    with sqlite3.connect(store / "peergraph.sqlite3") as db:
        status, message, checkpoint = db.execute(
            "SELECT status, message, checkpoint FROM imports"
        ).fetchone()
    assert status == "failed" and "full" in message and 0 < checkpoint < 12_000
    again = run(store, "import", "--quiet", str(data))
    assert again.returncode == 0, again.stderr
    assert f"resumed after record {checkpoint:,}" in again.stderr
    with sqlite3.connect(store / "peergraph.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM works").fetchone() == (12_000,)
        assert db.execute("SELECT count(*), min(status) FROM imports").fetchone() == (
            1,
            "completed",
        )


@pytest.mark.sqlite_only  # a damaged SQLite file
def test_debug_shows_the_traceback(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "peergraph.sqlite3").write_bytes(b"this is not a database" * 100)
    plain = run(store, "stats")
    assert plain.returncode == 1
    assert plain.stderr.strip().count("\n") == 0, plain.stderr
    assert "is damaged or not a peergraph database" in plain.stderr
    debug = run(store, "--debug", "stats")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_a_store_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run(blocker / "store", "stats")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and "a-file" in result.stderr


@pytest.mark.parametrize("variable", ["PEERGRAPH_MAX_RECORD_BYTES", "PEERGRAPH_MAX_JSON_DEPTH"])
def test_bad_limit_settings_are_named(tmp_path, variable):
    result = subprocess.run(
        [sys.executable, "-m", "peergraph", "--data-dir", str(tmp_path), "stats"],
        capture_output=True,
        text=True,
        env={**os.environ, variable: "lots"},
    )
    assert result.returncode == 2 and variable in result.stderr


def test_limits_from_settings_reach_the_importer(tmp_path, test_data):
    command = [sys.executable, "-m", "peergraph", "--data-dir", str(tmp_path), "import"]
    result = subprocess.run(
        [*command, "--quiet", str(test_data / "openalex.jsonl")],
        capture_output=True,
        text=True,
        env={**os.environ, "PEERGRAPH_MAX_JSON_DEPTH": "2"},
    )
    assert "too-deep" in result.stderr
