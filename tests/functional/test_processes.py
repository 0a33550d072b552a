"""Several processes share one store: what one process imports and rebuilds, a running
server shows within seconds and without a restart (data generations,
db/generation.py; docs/architecture.md)."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import text

from peergraph.db import create_db_engine, migrate
from peergraph.db.generation import current
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.settings import Settings
from tests.servers import answer, start_server


def get(url: str) -> dict:
    """The JSON body, of an error status too (/readyz answers 503 with its reasons)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


def children(parent: int) -> set[int]:
    """The live processes whose parent is ``parent`` (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while listed
        if int(fields[1]) == parent and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def new_work(path):
    """A CSL-JSON file with one work no test file has: "quokka" finds only it."""
    work = {
        "id": "quokka",
        "type": "article-journal",
        "title": "Quokka lattices for zygomorphic inference",
        "author": [{"given": "Xiaoqing", "family": "Quan"}],
        "issued": {"date-parts": [[2024]]},
    }
    path.write_text(json.dumps([work]), encoding="utf-8")
    return path


def wait_for(check, seconds: float) -> float:
    """Seconds until ``check()`` held; fails after ``seconds``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.2)
    return time.monotonic() - started


def test_a_running_server_shows_another_process_import_and_rebuild(tmp_path, test_data):
    engine = create_db_engine(Settings.for_data_dir(tmp_path))
    migrate(engine)
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    rebuild(engine)
    process, url = start_server(tmp_path, "--no-embed")
    try:
        status = f"{url}/api/search/status"
        # the server's in-memory keyword index is built: the stale case is the real one
        wait_for(lambda: get(status)["keyword_in_memory_works"], 30)
        assert get(f"{url}/healthz")["status"] == "ok"
        # ready once the search facts are mapped too, a moment after the BM25 index
        wait_for(lambda: get(f"{url}/readyz")["ready"], 30)
        search = f"{url}/api/search?mode=keyword&q=quokka"
        assert get(search)["total"] == 0
        before = current(engine)

        new = new_work(tmp_path / "new.csl.json")
        import_file(engine, ImportTarget(new, "csl-json"))  # this process, not the server
        rebuild(engine)
        after = current(engine)
        assert after["works"] > before["works"] and after["records"] > before["records"]

        wait_for(lambda: get(search)["total"] == 1, 30)  # how soon: benchmarks/postgres.py
        people = f"{url}/api/search?mode=keyword&q=xiaoqing%20quan"
        wait_for(lambda: any("Quan" in r["name"] for r in get(people)["researchers"]), 30)
        with engine.connect() as conn:
            works = conn.execute(text("SELECT count(*) FROM works")).scalar_one()
        # and the background job rebuilds its in-memory index from the new generation
        wait_for(lambda: get(status)["keyword_in_memory_works"] == works, 30)
        assert get(search)["total"] == 1
        wait_for(lambda: get(f"{url}/readyz")["ready"], 30)
        ready = get(f"{url}/readyz")
        assert ready["ready"] and ready["generations"] == current(engine), ready
        assert ready["keyword_index_generation"] == after["works"]
    finally:
        process.terminate()
        process.wait(timeout=10)
        engine.dispose()


def test_readyz_says_what_is_missing(settings):
    from alembic import command
    from fastapi.testclient import TestClient

    from peergraph.db.engine import alembic_config
    from peergraph.web.app import create_app

    engine = create_db_engine(settings)
    migrate(engine)
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["problems"] == []
        command.downgrade(alembic_config(engine), "-1")
        stale = client.get("/readyz")
        assert stale.status_code == 503
        assert "schema at revision" in stale.json()["problems"][0]
    engine.dispose()


def test_two_web_processes_serve_what_the_queue_imported(tmp_path, test_data):
    """`serve --workers 2`; an import and a rebuild queued from another process run in
    the server's own worker process (a child of the parent, not a web process); both web
    processes then find the new work in search and show its page. Requests go several at
    a time, so that both processes answer.

    How soon (the issue's 5 s) is measured in benchmarks/postgres.py, not timed here."""
    from peergraph.jobs import queue

    engine = create_db_engine(Settings.for_data_dir(tmp_path))
    migrate(engine)
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    rebuild(engine)
    process, url = start_server(tmp_path, "--no-embed", "--workers", "2")
    try:
        pids: set[int] = set()
        wait_for(lambda: pids.add(get(f"{url}/healthz")["pid"]) or len(pids) == 2, 30)
        search = f"{url}/api/search?mode=keyword&q=quokka"
        assert get(search)["total"] == 0
        new = new_work(tmp_path / "new.csl.json")
        jobs = [
            queue.enqueue(engine, "import", {"paths": [str(new)]}),
            queue.enqueue(engine, "rebuild"),
        ]
        wait_for(lambda: all(queue.get(engine, j).state == "done" for j in jobs), 60)
        ran_by = {int(queue.get(engine, j).worker.rsplit(":", 1)[1]) for j in jobs}
        assert len(ran_by) == 1 and not ran_by & pids
        (worker_pid,) = ran_by
        stat = Path(f"/proc/{worker_pid}/stat").read_text().rsplit(")", 1)[1].split()
        assert int(stat[1]) == process.pid  # a child of the parent
        assert int(stat[16]) == os.getpriority(os.PRIO_PROCESS, 0) + 10  # nice: jobs yield
        with engine.connect() as conn:
            work_id = conn.execute(
                text("SELECT id FROM works WHERE title LIKE 'Quokka%'")
            ).scalar_one()
        found: set[int] = set()
        shown: set[int] = set()

        def both_serve_it() -> bool:
            with ThreadPoolExecutor(4) as pool:
                for pid, status, body in pool.map(answer, [search] * 4):
                    if status == 200 and [w["id"] for w in json.loads(body)["items"]] == [work_id]:
                        found.add(pid)
                for pid, status, body in pool.map(answer, [f"{url}/works/{work_id}"] * 4):
                    if status == 200 and b"Quokka lattices" in body:
                        shown.add(pid)
            return found == shown == pids

        wait_for(both_serve_it, 30)

        # the worker process killed: the parent starts another, which runs the next job
        os.kill(worker_pid, signal.SIGKILL)
        again = queue.enqueue(engine, "rebuild")
        wait_for(lambda: queue.get(engine, again).state == "done", 60)
        new_worker = int(queue.get(engine, again).worker.rsplit(":", 1)[1])
        assert new_worker not in pids | {worker_pid}
        wait_for(lambda: get(f"{url}/healthz")["pid"] in pids, 5)  # the web processes stay
    finally:
        process.terminate()
        process.wait(timeout=20)
        engine.dispose()


def test_the_parent_restarts_a_dead_web_process_and_stops_them_all(tmp_path):
    """`serve --workers 2` forks its web processes (web/supervisor.py): one killed is
    replaced, and SIGTERM to the parent ends every one of them."""

    engine = create_db_engine(Settings.for_data_dir(tmp_path))
    migrate(engine)
    engine.dispose()
    process, url = start_server(tmp_path, "--no-embed", "--no-worker", "--workers", "2")
    try:
        # the web processes are the parent's children (which of them answers a request
        # is the kernel's choice, so the test finds them in /proc, and asks /healthz
        # that whoever answers is one of them)
        wait_for(lambda: len(children(process.pid)) == 2, 30)
        pids = children(process.pid)
        assert get(f"{url}/healthz")["pid"] in pids  # the parent only watches
        for pid in pids:  # OpenBLAS read how long to spin when it loaded: the shortest
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert b"OPENBLAS_THREAD_TIMEOUT=4" in environ
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(children(process.pid) - pids) == 1, 30)  # one in its place
        everyone = children(process.pid)
        assert victim not in everyone and len(everyone) == 2
        for _ in range(10):  # and whoever answers is one of the two
            assert get(f"{url}/healthz")["pid"] in everyone
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
    for pid in everyone:
        wait_for(lambda pid=pid: not os.path.exists(f"/proc/{pid}"), 10)
