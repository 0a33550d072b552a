"""PostgreSQL restarts under load on a running peergraph (two web processes, eight
clients requesting without pause): while it is down every request fails fast with 503
(never hangs) and /readyz says why; once it is back, requests succeed again within
seconds without restarting peergraph (the pool's pre-ping replaces dropped connections).

Needs PostgreSQL 15 (scripts/postgres install); CI has it. The test runs its own
throw-away cluster, since it stops and starts it."""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from peergraph.db import create_db_engine, migrate
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.settings import Settings
from tests.servers import start_server

REPO = Path(__file__).resolve().parents[2]
PGBIN = Path("/usr/lib/postgresql/15/bin")

pytestmark = [
    pytest.mark.skipif(not (PGBIN / "initdb").exists(), reason="PostgreSQL 15 is not installed"),
    pytest.mark.once,
]


def get(url: str, timeout: float = 10) -> tuple[int, dict, float]:
    """Status, JSON body and seconds taken, for an error status too."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read()), time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), time.monotonic() - started


def status_of(url: str, timeout: float = 10) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def postgres(*args: str) -> str:
    run = subprocess.run(
        [str(REPO / "scripts" / "postgres"), *args], capture_output=True, text=True, check=True
    )
    return run.stdout.strip()


ROUTES = ("/api/works", "/works/1", "/api/search?q=learning&mode=keyword", "/researchers")


class Client(threading.Thread):
    """Requests the routes in turn, without pause, until told to stop: (started, status,
    seconds) for each, seconds since ``origin``; a request that got no answer is status
    0."""

    def __init__(self, base: str, origin: float, halt: threading.Event) -> None:
        super().__init__(daemon=True)
        self.base, self.origin, self.halt = base, origin, halt
        self.log: list[tuple[float, int, float]] = []

    def run(self) -> None:
        turn = 0
        while not self.halt.is_set():
            started = time.monotonic()
            try:
                status = status_of(self.base + ROUTES[turn % len(ROUTES)])
            except OSError:
                status = 0  # no answer: refused, reset or timed out
            self.log.append((started - self.origin, status, time.monotonic() - started))
            turn += 1


def test_a_postgres_restart_under_load_is_fast_503s_then_recovery(tmp_path, test_data):
    # not under tmp_path: the cluster runs as the postgres account, which must reach it
    cluster = Path(tempfile.mkdtemp(prefix="peergraph-pg-restart.", dir="/tmp"))
    url = postgres("start", str(cluster))
    server = None
    halt = threading.Event()
    try:
        env = {"PEERGRAPH_DATABASE_URL": url}
        settings = Settings.from_env(env, data_dir=tmp_path / "store")
        engine = create_db_engine(settings)
        migrate(engine)
        import_file(engine, ImportTarget(test_data / "sample.csl.json", "csl-json"))
        engine.dispose()
        server, base = start_server(
            tmp_path / "store", "--no-embed", "--no-worker", "--workers", "2", env=env
        )
        deadline = time.monotonic() + 30
        while get(base + "/readyz")[0] != 200:
            assert time.monotonic() < deadline, "not ready in 30 s"
            time.sleep(0.2)
        assert {status_of(base + route) for route in ROUTES} == {200}

        origin = time.monotonic()
        clients = [Client(base, origin, halt) for _ in range(8)]
        for client in clients:
            client.start()
        time.sleep(3)  # load on a healthy store
        down = time.monotonic() - origin
        postgres("down", str(cluster))
        time.sleep(2)
        status, ready, _ = get(base + "/readyz")
        assert status == 503 and any("unreachable" in p for p in ready["problems"])
        time.sleep(3)
        up = time.monotonic() - origin
        postgres("up", str(cluster))
        time.sleep(12)
        halt.set()
        for client in clients:
            client.join(timeout=15)
        log = sorted(entry for client in clients for entry in client.log)

        statuses = {status for _, status, _ in log}
        assert statuses <= {200, 503}, f"statuses {statuses} (0: no answer)"
        assert max(seconds for _, _, seconds in log) < 6  # fails fast, never hangs
        before = [status for started, status, _ in log if started < down - 0.5]
        assert before and set(before) == {200}
        assert 503 in {status for started, status, _ in log if down + 0.5 < started < up}
        # recovery without a restart: no 503 from a few seconds after PostgreSQL is back
        failing = [started for started, status, _ in log if status == 503]
        recovered_after = max(failing) - up
        assert recovered_after < 5, f"503s until {recovered_after:.1f} s after the restart"
        after = [status for started, status, _ in log if started > up + 5]
        assert len(after) > 20 and set(after) == {200}
        assert get(base + "/readyz")[0] == 200
        print(  # the figures in docs/operations.md (pytest -s shows them)
            f"\n{len(log):,} requests, {sum(s == 503 for _, s, _ in log):,} answered 503, "
            f"slowest {max(t for _, _, t in log):.2f} s, last 503 {recovered_after:.1f} s "
            "after PostgreSQL was back"
        )
    finally:
        halt.set()
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        postgres("stop", str(cluster))
