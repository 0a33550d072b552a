"""A worker killed in the middle of a rebuild, and in the middle of an embedding run: the
next worker takes the job over, and the store ends as after an uninterrupted run,
compared table by table (an import killed half-way: tests/functional/test_worker_kill.py).

A rebuild writes its records and profiles in one transaction, so a killed one leaves
nothing behind and the next worker runs it whole; embedding commits a chunk at a time,
so the next worker embeds only what is missing."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
from sqlalchemy import text

from peergraph.db import create_db_engine, migrate
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.jobs import queue
from peergraph.profiles.services import rebuild
from peergraph.settings import Settings
from tests.functional.test_worker_kill import worker
from tests.stores import prepare_store

pytestmark = pytest.mark.slow
WORKS = 6_000  # a rebuild of several seconds: long enough to be killed in the middle
EMBEDDED = 800  # works in the embedding part (about 15 s to encode here)


def records(engine) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    """What a rebuild writes, by content (record ids are compared through what they hold)."""
    queries = {
        "records": "SELECT display_name, block_key, works_count, first_year, last_year"
        " FROM author_records ORDER BY 2, 1, 3, 4, 5",
        "links": "SELECT w.dedupe_key, a.position, r.display_name, r.works_count, l.method"
        " FROM authorship_links l JOIN authorships a ON a.id = l.authorship_id"
        " JOIN works w ON w.id = a.work_id JOIN author_records r ON r.id = l.record_id"
        " ORDER BY 1, 2",
        "profiles": "SELECT r.display_name, r.works_count, p.trust_score, p.verification_level,"
        " p.topics_count, p.close_collaborators_count FROM profiles p"
        " JOIN author_records r ON r.id = p.record_id ORDER BY 1, 2, 3",
        "collaborations": "SELECT a.display_name, b.display_name, c.joint_works,"
        " round(c.strength, 6) FROM collaborations c"
        " JOIN author_records a ON a.id = c.record_id"
        " JOIN author_records b ON b.id = c.coauthor_id ORDER BY 1, 2, 3",
        "topics": "SELECT r.display_name, t.name, rt.works_count FROM record_topics rt"
        " JOIN author_records r ON r.id = rt.record_id JOIN topics t ON t.id = rt.topic_id"
        " ORDER BY 1, 2, 3",
    }
    with engine.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(text(sql))] for name, sql in queries.items()
        }


def vectors(engine) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT w.dedupe_key, e.vector FROM work_embeddings e"
                " JOIN works w ON w.id = e.work_id"
            )
        ).all()
    return {key: np.frombuffer(blob, dtype=np.float32) for key, blob in rows}


def kill_when(process: subprocess.Popen, ready, seconds: float = 180) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    try:
        while not ready():
            assert process.poll() is None, "the worker ended before it could be killed"
            assert time.monotonic() < deadline, "the job never got far enough"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()


def test_a_killed_rebuild_and_a_killed_embedding_run_are_resumed(shared_data, tmp_path):  # type: ignore[no-untyped-def]
    with gzip.open(shared_data / "acl-anthology-2019" / "works.csl.json.gz") as source:
        works = json.load(source)[:WORKS]
    data = tmp_path / "acl-slice.csl.json"
    data.write_text(json.dumps(works), encoding="utf-8")
    reference = create_db_engine(Settings.for_data_dir(prepare_store(tmp_path / "reference")))
    migrate(reference)
    import_file(reference, ImportTarget(data, "csl-json"))
    rebuild(reference)

    store = prepare_store(tmp_path / "store")
    engine = create_db_engine(Settings.for_data_dir(store))
    migrate(engine)
    import_file(engine, ImportTarget(data, "csl-json"))

    # 1. the rebuild: killed once it has run for a second
    job = queue.enqueue(engine, "rebuild", {"full": True})
    first = worker(store, "--no-embed")
    started: list[float] = []

    def a_second_in() -> bool:
        row = queue.get(engine, job)
        if row is not None and row.state == "running" and not started:
            started.append(time.monotonic())
        return bool(started) and time.monotonic() - started[0] > 1.0

    kill_when(first, a_second_in)
    killed = queue.get(engine, job)
    assert killed is not None and killed.state == "running", "the rebuild ended before the kill"
    with engine.connect() as conn:  # nothing of the killed rebuild is visible
        assert conn.execute(text("SELECT count(*) FROM author_records")).scalar() == 0
    second = worker(store, "--once", "--stale-after", "1", "--no-embed")
    assert second.wait(timeout=600) == 0
    resumed = queue.get(engine, job)
    assert resumed is not None and resumed.state == "done" and resumed.attempts == 2
    assert records(engine) == records(reference)

    engine.dispose()
    reference.dispose()

    # 2. embedding, on a store of its own: killed after its first chunk is committed
    from peergraph.search.embeddings import load_encoder
    from peergraph.search.semantic import embed_pending

    small = tmp_path / "small.csl.json"
    small.write_text(json.dumps(works[:EMBEDDED]), encoding="utf-8")
    reference = create_db_engine(Settings.for_data_dir(prepare_store(tmp_path / "ref-embed")))
    migrate(reference)
    import_file(reference, ImportTarget(small, "csl-json"))
    embed_pending(reference, load_encoder())
    store = prepare_store(tmp_path / "embed")
    engine = create_db_engine(Settings.for_data_dir(store))
    migrate(engine)
    import_file(engine, ImportTarget(small, "csl-json"))
    job = queue.enqueue(engine, "embed")
    first = worker(store)

    def some_vectors() -> bool:
        with engine.connect() as conn:
            return bool(conn.execute(text("SELECT count(*) FROM work_embeddings")).scalar())

    kill_when(first, some_vectors)
    with engine.connect() as conn:
        partial = conn.execute(text("SELECT count(*) FROM work_embeddings")).scalar()
    assert 0 < partial < EMBEDDED
    second = worker(store, "--once", "--stale-after", "1")
    assert second.wait(timeout=600) == 0
    done = queue.get(engine, job)
    assert done is not None and done.state == "done" and done.attempts == 2
    ours, theirs = vectors(engine), vectors(reference)
    assert set(ours) == set(theirs)  # every work once: none skipped, none twice
    assert min(float(ours[k] @ theirs[k]) for k in theirs) > 0.9999
    engine.dispose()
    reference.dispose()
