"""Build (once) a store holding the whole shared corpus, for the benchmarks."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
DEFAULT_STORE = REPO / "benchmarks" / "results" / "store"


def shared_files() -> list[Path]:
    oa = SHARED / "openalex-api-samples"
    return [
        *(oa / f"{e}.jsonl.gz" for e in ("institutions", "sources", "topics", "authors", "works")),
        oa / "snapshot_sample",
        SHARED / "mlanthology-ml-venues" / "works.csl.json.gz",
        SHARED / "acl-anthology-2019" / "works.csl.json.gz",
        SHARED / "arxiv-samples" / "arxiv-metadata-oai-snapshot.first200.json",
        SHARED / "arxiv-samples" / "api-atom",
    ]


def ensure_imported(store: Path):  # type: ignore[no-untyped-def]
    """Import the shared corpus into ``store`` (files already imported are skipped)."""
    from peergraph.db import create_db_engine, migrate
    from peergraph.ingest.formats import expand_paths
    from peergraph.ingest.loader import import_file
    from peergraph.settings import Settings

    if not SHARED.exists():
        sys.exit(f"{SHARED} not found: the benchmarks need the shared data sets")
    engine = create_db_engine(Settings.for_data_dir(store))
    migrate(engine)
    for target in expand_paths(shared_files()):
        import_file(engine, target)
    return engine


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def served(
    store: Path, *args: str, workers: int = 1, log: Path | None = None
) -> Iterator[tuple[subprocess.Popen, str]]:
    """A real ``peergraph serve --no-embed`` (plus ``args``) with ``workers`` processes on a
    free loopback port, yielded once every process answers /readyz (its in-memory keyword
    index is at the stored generation); stopped afterwards. Its output goes to ``log``."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = ["serve", "--no-embed", "--workers", str(workers), "--port", str(port), *args]
    output = log.open("ab") if log is not None else subprocess.DEVNULL
    server = subprocess.Popen(
        [sys.executable, "-m", "peergraph", *command],
        env=dict(os.environ, PEERGRAPH_DATA_DIR=str(store)),
        stdout=output,
        stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        ready: set[int] = set()  # the pids that answered ready
        while len(ready) < workers and time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError, ValueError),
                urllib.request.urlopen(base + "/readyz", timeout=5) as response,
            ):
                ready.add(json.load(response)["pid"])
            time.sleep(0.2)
        if len(ready) < workers:
            raise RuntimeError(f"only {len(ready)} of {workers} processes became ready")
        yield server, base
    finally:
        server.terminate()
        server.wait(timeout=30)
        if log is not None:
            output.close()  # type: ignore[union-attr]
