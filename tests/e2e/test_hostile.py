"""Hostile records in a real browser: script tags, onerror attributes, javascript: and
data: links in every field, "<!--<script>" in names. Every page that shows them is opened
and every link on it clicked: no dialog may open, no page may be blank, no script may run,
the browser must report no CSP violation, and every response carries the CSP header."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from tests.servers import start_server

HOSTILE = ("hostile.csl.json", "hostile.bib", "hostile.openalex.jsonl")


@pytest.fixture
def hostile_server(tmp_path: Path, test_data: Path) -> Iterator[str]:
    from peergraph.db import create_db_engine, migrate
    from peergraph.ingest.formats import ImportTarget, detect_format
    from peergraph.ingest.loader import import_file
    from peergraph.profiles.services import rebuild
    from peergraph.settings import Settings

    engine = create_db_engine(Settings.for_data_dir(tmp_path))
    migrate(engine)
    paths = [test_data / "profiles.csl.json", *(test_data / "hostile" / n for n in HOSTILE)]
    for path in paths:
        import_file(engine, ImportTarget(path, detect_format(path)))
    rebuild(engine)
    engine.dispose()
    process, url = start_server(tmp_path, "--no-embed")
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_hostile_records_never_run_in_the_browser(browser, hostile_server):
    works = get_json(hostile_server + "/api/works?per_page=100")["items"]
    hostile_works = [w for w in works if any("Hostile" in a for a in w["authors"])]
    people = get_json(hostile_server + "/api/researchers?q=Hostile")["items"]
    assert len(hostile_works) == 7 and people
    pages = ["/", "/researchers?q=Hostile", "/search?q=hostile+script&mode=keyword", "/api/docs"]
    pages += [f"/works/{w['id']}" for w in hostile_works]
    pages += [f"/works/{w['id']}/sources" for w in hostile_works[:1]]
    pages += [f"/researchers/{p['id']}" for p in people]
    pages += [f"/researchers/{p['id']}/trust" for p in people[:1]]

    context = browser.new_context()
    dialogs: list[str] = []
    violations: list[str] = []
    left_site: list[str] = []
    missing_csp: list[str] = []

    def on_response(response) -> None:
        ours = response.url.startswith(hostile_server)
        kind = response.request.resource_type
        has_csp = "content-security-policy" in response.headers
        if ours and kind in ("document", "script", "stylesheet") and not has_csp:
            missing_csp.append(response.url)

    def leave(route) -> None:  # the closed network: record where a link went, go nowhere
        left_site.append(route.request.url)
        route.abort()

    context.route(lambda url: not url.startswith(hostile_server), leave)
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.on("response", on_response)

    clicked: set[str] = set()
    for path in pages:
        page.goto(hostile_server + path)
        assert_whole(page, path)
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        for index, href in enumerate(hrefs):
            target = urljoin(hostile_server + path, href)
            assert urlsplit(target).scheme in ("http", "https"), (path, href)
            if path == "/api/docs" or href.startswith("#") or target in clicked:
                continue  # each distinct link is clicked once (the header's on the first page)
            clicked.add(target)
            page.goto(hostile_server + path)
            link = page.locator("a[href]").nth(index)
            if not link.is_visible():
                link.evaluate("el => el.closest('details') && (el.closest('details').open = true)")
            try:
                link.click(timeout=5_000)
                page.wait_for_load_state()
            except Exception:  # an external link: aborted by the route above
                pass
            # An external link ends on the browser's own error page (the route aborts it),
            # whose URL Chromium may still report as ours for a moment: only our links'
            # pages are checked.
            if target.startswith(hostile_server) and page.url.startswith(hostile_server):
                assert_whole(page, f"{path} → {href}")
    context.close()
    assert len(clicked) > 35  # a floor: the crawl really went through the site (how many
    # distinct links there are depends on how many records the data makes: 39 today)
    assert dialogs == [], dialogs
    assert violations == [], violations
    assert missing_csp == [], missing_csp
    assert all(url.startswith(("http://", "https://")) for url in left_site), left_site


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def assert_whole(page, where: str) -> None:
    """Not blank: a heading, text, and the footer at the end (a swallowed page has none).
    JSON and Atom documents are data, not pages: only their parsing is checked."""
    if "/api/" in page.url:
        return
    if page.url.endswith(".atom"):
        from xml.etree import ElementTree

        body = page.evaluate("document.documentElement.outerHTML")
        assert body, where
        response = urllib.request.urlopen(page.url, timeout=10)
        assert response.headers["content-type"].startswith("application/atom+xml"), where
        ElementTree.fromstring(response.read())  # well-formed, hostile titles escaped
        return
    assert page.locator("h1").count() >= 1, where
    assert len(page.locator("main").inner_text()) > 20, where
    assert page.locator("footer.site").count() == 1, where
