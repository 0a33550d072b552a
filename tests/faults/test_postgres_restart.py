"""PostgreSQL restarts under a running peergraph: while it is down every request fails
fast with 503 (never hangs) and /readyz says why; once it is back, requests succeed
again without restarting peergraph (the pool's pre-ping replaces dropped connections).

Needs PostgreSQL 15 (scripts/postgres install); CI has it. The test runs its own
throw-away cluster, since it stops and starts it."""

from __future__ import annotations

import json
import subprocess
import tempfile
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


def postgres(*args: str) -> str:
    run = subprocess.run(
        [str(REPO / "scripts" / "postgres"), *args], capture_output=True, text=True, check=True
    )
    return run.stdout.strip()


def test_a_postgres_restart_is_fast_503s_then_recovery_without_a_restart(tmp_path, test_data):
    # not under tmp_path: the cluster runs as the postgres account, which must reach it
    cluster = Path(tempfile.mkdtemp(prefix="peergraph-pg-restart.", dir="/tmp"))
    url = postgres("start", str(cluster))
    server = None
    try:
        env = {"PEERGRAPH_DATABASE_URL": url}
        settings = Settings.from_env(env, data_dir=tmp_path / "store")
        engine = create_db_engine(settings)
        migrate(engine)
        import_file(engine, ImportTarget(test_data / "sample.csl.json", "csl-json"))
        engine.dispose()
        server, base = start_server(tmp_path / "store", "--no-embed", "--no-worker", env=env)
        assert get(base + "/api/works")[0] == 200

        postgres("down", str(cluster))
        while_down = [get(base + "/api/works") for _ in range(5)]
        assert {status for status, _, _ in while_down} == {503}
        assert max(seconds for _, _, seconds in while_down) < 6  # fails fast, never hangs
        assert while_down[0][1]["error"]["code"] == "unavailable"
        status, ready, _ = get(base + "/readyz")
        assert status == 503 and any("unreachable" in p for p in ready["problems"])

        postgres("up", str(cluster))
        deadline = time.monotonic() + 15
        while (status := get(base + "/api/works")[0]) != 200:
            assert time.monotonic() < deadline, f"still {status} 15 s after the restart"
            time.sleep(0.5)
        assert get(base + "/readyz")[0] == 200
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        postgres("stop", str(cluster))
