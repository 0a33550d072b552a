"""A worker killed in the middle of an import: the next worker takes the job over and the
store ends exactly as after an uninterrupted run."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import text

from peergraph.db import create_db_engine, migrate
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.jobs import queue
from peergraph.settings import Settings
from tests.stores import import_contents, prepare_store

RECORDS = 10_000  # five batches of the loader's 2,000


def worker(data_dir, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "peergraph", "--data-dir", str(data_dir), "worker", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_killed_workers_import_is_resumed_by_the_next_worker(shared_data, tmp_path):
    with gzip.open(shared_data / "acl-anthology-2019" / "works.csl.json.gz") as source:
        works = json.load(source)[:RECORDS]
    data = tmp_path / "acl-slice.csl.json"
    data.write_text(json.dumps(works), encoding="utf-8")

    reference = create_db_engine(Settings.for_data_dir(prepare_store(tmp_path / "reference")))
    migrate(reference)
    import_file(reference, ImportTarget(data, "csl-json"))

    store = prepare_store(tmp_path / "store")
    engine = create_db_engine(Settings.for_data_dir(store))
    migrate(engine)
    job = queue.enqueue(engine, "import", {"paths": [str(data)]})
    first = worker(store, "--no-embed")  # the import alone; embedding is another job
    try:
        deadline = time.monotonic() + 120
        while True:  # until the first batch is committed, then kill it hard
            with engine.connect() as conn:
                checkpoint = conn.execute(text("SELECT max(checkpoint) FROM imports")).scalar()
            if checkpoint:
                break
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    killed = queue.get(engine, job)
    assert killed.state == "running" and killed.attempts == 1
    assert 0 < checkpoint < RECORDS

    second = worker(store, "--once", "--stale-after", "1", "--no-embed")
    assert second.wait(timeout=300) == 0
    resumed = queue.get(engine, job)
    assert resumed.state == "done" and resumed.attempts == 2, resumed.message
    assert import_contents(engine) == import_contents(reference)
    engine.dispose()
    reference.dispose()
