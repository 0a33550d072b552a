"""The job queue and the worker (jobs/): state, progress, exclusive claims, take-over."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

from sqlalchemy import func, select, update

from peergraph.authors.models import AuthorRecord
from peergraph.db import create_db_engine
from peergraph.db.base import utcnow
from peergraph.db.generation import current
from peergraph.jobs import queue
from peergraph.jobs.worker import Worker
from peergraph.search.files import IndexFolder
from peergraph.search.lexical import LexicalIndex
from peergraph.works.models import Work


def test_a_worker_runs_queued_imports_and_rebuilds_in_order(engine, test_data, tmp_path):
    first = queue.enqueue(engine, "import", {"paths": [str(test_data / "profiles.csl.json")]})
    second = queue.enqueue(engine, "rebuild", {"full": False})
    folder = IndexFolder(tmp_path / "files")
    # the import queues the embedding of its works, which runs after the rebuild
    assert Worker(engine, name="w1", index_folder=folder).run(once=True) == 3
    imported, rebuilt = queue.get(engine, first), queue.get(engine, second)
    assert (imported.state, rebuilt.state) == ("done", "done")
    embedded = queue.latest(engine, "embed")
    assert embedded.id > second and embedded.state == "done"
    assert embedded.message.startswith("embedded ")
    # the worker wrote the index files the web processes map: at the stored generations
    now = current(engine)
    lexical = json.loads((folder.current(LexicalIndex.KIND) / "meta.json").read_text())
    assert lexical["generations"] == {"works": now["works"]}
    vectors = json.loads((folder.current("vectors-minilm-q8") / "meta.json").read_text())
    assert vectors["generations"] == {"vectors": now["vectors"], "works": now["works"]}
    assert imported.message.startswith("1 file(s): imported ")
    assert (imported.done, imported.total, imported.unit) == (1, 1, "files")
    assert rebuilt.message.startswith("full rebuild: ")
    assert imported.worker == "w1" and imported.attempts == 1 and imported.finished_at
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Work)).scalar_one() > 0
        assert conn.execute(select(func.count()).select_from(AuthorRecord)).scalar_one() > 0


def test_a_job_that_fails_says_why_and_the_worker_goes_on(engine, test_data, tmp_path):
    bad = queue.enqueue(engine, "import", {"paths": [str(tmp_path / "missing.json")]})
    good = queue.enqueue(engine, "import", {"paths": [str(test_data / "sample.csl.json")]})
    assert Worker(engine, embed=False).run(once=True) == 2
    failed = queue.get(engine, bad)
    assert failed.state == "failed" and "missing.json" in failed.message
    assert queue.get(engine, good).state == "done"


def test_two_workers_take_each_job_once_and_one_at_a_time(settings):
    engine = create_db_engine(settings)
    from peergraph.db import migrate

    migrate(engine)
    ids = [queue.enqueue(engine, "rebuild") for _ in range(40)]
    taken: dict[str, list[int]] = {"a": [], "b": []}
    running: list[int] = []  # jobs held at this moment, across both workers
    overlaps: list[tuple[int, ...]] = []
    idle = threading.Event()

    def take(name: str) -> None:
        own = create_db_engine(settings)  # a connection pool of its own, like a process
        while not idle.is_set():
            job = queue.claim(own, name)
            if job is None:
                if queue.get(own, ids[-1]).state == "done":
                    idle.set()
                continue
            running.append(job.id)
            if len(running) > 1:
                overlaps.append(tuple(running))
            taken[name].append(job.id)
            time.sleep(0.01)  # the job's work: the other worker tries to claim meanwhile
            running.remove(job.id)
            queue.finish(own, job.id, name, "done", None)
        own.dispose()

    threads = [threading.Thread(target=take, args=(name,)) for name in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not overlaps  # never two jobs running at once
    assert not set(taken["a"]) & set(taken["b"])
    assert sorted(taken["a"] + taken["b"]) == ids
    assert all(queue.get(engine, i).attempts == 1 for i in ids)
    engine.dispose()


def test_a_queued_rebuild_waits_for_the_running_import(engine):
    imported = queue.enqueue(engine, "import", {"paths": []})
    rebuild = queue.enqueue(engine, "rebuild")
    assert queue.claim(engine, "w1").id == imported
    assert queue.claim(engine, "w2") is None  # the import is running: the rebuild waits
    queue.finish(engine, imported, "w1", "done", None)
    assert queue.claim(engine, "w2").id == rebuild


def test_a_silent_workers_job_is_taken_over(engine):
    job = queue.enqueue(engine, "rebuild")
    assert queue.claim(engine, "killed").id == job
    assert queue.claim(engine, "other") is None  # running, and its worker is alive
    with engine.begin() as conn:
        conn.execute(update(queue.jobs_t).values(heartbeat_at=utcnow() - timedelta(seconds=120)))
    taken = queue.claim(engine, "other", stale_after=60)
    assert taken is not None and taken.id == job and taken.attempts == 2
    assert not queue.beat(engine, job, "killed")  # the old worker learns it lost the job
    assert queue.beat(engine, job, "other", done=1, total=2, unit="rows")


def test_two_embedding_runs_at_once_keep_one_vector_per_work(settings, test_data):
    from peergraph.db import migrate
    from peergraph.ingest.formats import ImportTarget
    from peergraph.ingest.loader import import_file
    from peergraph.search.embeddings import load_encoder
    from peergraph.search.semantic import coverage, embed_pending

    engine = create_db_engine(settings)
    migrate(engine)
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    encoder = load_encoder()
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def embed() -> None:
        own = create_db_engine(settings)
        start.wait()
        try:
            embed_pending(own, encoder)
        except BaseException as exc:
            errors.append(exc)
        own.dispose()

    threads = [threading.Thread(target=embed) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    done = coverage(engine)
    assert done.complete and done.embedded == done.total
    engine.dispose()
