"""Shared fixtures: paths to test data, a fresh store per test, and a network guard."""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import pytest

from peergraph.db import create_db_engine, migrate
from peergraph.settings import Settings
from tests.stores import POSTGRES, prepare_store

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = REPO / "tests" / "data"
SHARED_DATA = Path(os.environ.get("PEERGRAPH_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_data_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or bool(
        os.environ.get("PEERGRAPH_REQUIRE_SHARED_DATA")
    )


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may talk to loopback only; anything else is a bug in the test or the code."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and host not in ("127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"network access attempted in a test: {address!r}")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _store_database(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """On PostgreSQL runs: the test's tmp_path is a store folder with a database of its
    own (blank with ``@pytest.mark.blank_store``), and every database the test made is
    dropped after it. A SQLite file left under tmp_path means a test quietly used
    SQLite instead: that fails the test, except under tmp_path/sqlite, where tests keep
    the SQLite stores they mean to have (copying between databases)."""
    if POSTGRES is None:
        yield
        return
    tmp_path: Path = request.getfixturevalue("tmp_path")
    before = len(POSTGRES.created)  # a module's shared store is older, and stays
    prepare_store(tmp_path, blank=request.node.get_closest_marker("blank_store") is not None)
    try:
        yield
        stray = sorted(
            str(path.relative_to(tmp_path))
            for path in tmp_path.rglob("peergraph.sqlite3")
            if path.relative_to(tmp_path).parts[0] != "sqlite"
        )
        assert not stray, f"the test used SQLite on a PostgreSQL run: {stray}"
    finally:
        POSTGRES.drop_created(since=before)


@pytest.fixture
def test_data() -> Path:
    return TEST_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data sets; required in CI, skipped with a reason elsewhere."""
    if not (SHARED_DATA / "README.md").exists():
        message = (
            f"shared data sets not found at {SHARED_DATA} "
            "(set PEERGRAPH_SHARED_DATA to their folder)"
        )
        if shared_data_required():
            pytest.fail(message + "; they are required when CI=true")
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Starlette's TestClient sends "Host: testserver"
    store = Settings.for_data_dir(prepare_store(tmp_path / "store"))
    return dataclasses.replace(store, allowed_hosts=("testserver", *store.allowed_hosts))


@pytest.fixture
def mailbox():  # type: ignore[no-untyped-def]
    """A real SMTP server on loopback that keeps what it receives (tests/mail.py)."""
    from tests.mail import Mailbox

    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture
def engine(settings: Settings):  # type: ignore[no-untyped-def]
    engine = create_db_engine(settings)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def ml_import(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The 93k-paper ML corpus imported once, into a SQLite store: (its folder, the import
    summary). Importing it takes over a minute; tests that change the store copy the
    folder first (tests/stores.py, ``copied_store``)."""
    from peergraph.ingest.formats import expand_paths
    from peergraph.ingest.loader import import_file

    folder = tmp_path_factory.mktemp("ml-import")
    engine = create_db_engine(Settings.for_data_dir(folder))
    migrate(engine)
    path = shared_data / "mlanthology-ml-venues" / "works.csl.json.gz"
    (summary,) = [import_file(engine, t) for t in expand_paths([path])]
    engine.dispose()
    return folder, summary
