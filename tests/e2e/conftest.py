"""A real server on loopback and Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import shared_data_required
from tests.servers import start_server

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    return os.environ.get("PEERGRAPH_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        message = "headless Chromium not installed (apt-get install chromium)"
        if shared_data_required():
            pytest.fail(message + "; .ci/run installs it")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path: Path, test_data: Path) -> Iterator[str]:
    from peergraph.db import create_db_engine, migrate
    from peergraph.ingest.formats import ImportTarget
    from peergraph.ingest.loader import import_file
    from peergraph.settings import Settings

    engine = create_db_engine(Settings.for_data_dir(tmp_path))
    migrate(engine)
    for name, fmt in (("sample.csl.json", "csl-json"), ("openalex.jsonl", "openalex-jsonl")):
        import_file(engine, ImportTarget(test_data / name, fmt))
    engine.dispose()
    process, url = start_server(tmp_path)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def empty_server(tmp_path: Path) -> Iterator[str]:
    process, url = start_server(tmp_path / "empty")
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def profile_store(tmp_path: Path, test_data: Path) -> dict[str, int]:
    """A store in ``tmp_path`` with the profile test data imported and rebuilt; the
    record ids by display name."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from peergraph.authors.models import AuthorRecord
    from peergraph.db import create_db_engine, migrate
    from peergraph.ingest.formats import ImportTarget
    from peergraph.ingest.loader import import_file
    from peergraph.profiles.services import rebuild
    from peergraph.settings import Settings

    engine = create_db_engine(Settings.for_data_dir(tmp_path))
    migrate(engine)
    import_file(engine, ImportTarget(test_data / "openalex.jsonl", "openalex-jsonl"))
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    rebuild(engine)
    with Session(engine) as session:
        ids = {r.display_name: r.id for r in session.scalars(select(AuthorRecord))}
    engine.dispose()
    return ids
