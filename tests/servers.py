"""Real `peergraph serve` processes on loopback, for the tests that need several."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def answer(url: str) -> tuple[int, int, bytes]:
    """(answering process id, status, body) of one GET: every reply names its process
    (X-Served-By), so a test can tell several processes on one port apart."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.headers["X-Served-By"]), response.status, response.read()
    except urllib.error.HTTPError as error:
        return int(error.headers["X-Served-By"]), error.code, error.read()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    """``peergraph serve`` on a free port of 127.0.0.1, once it accepts connections
    (``env``: more environment variables for it, e.g. the SMTP server's)."""
    port = free_port()
    env = dict(os.environ, PEERGRAPH_DATA_DIR=str(data_dir), **(env or {}))
    process = subprocess.Popen(
        [sys.executable, "-m", "peergraph", "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            assert process.poll() is None, "server exited during start-up"
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start in 30 s")
