"""Hostile data through the whole app: imported as a careless source would send it, then
requested as an attacker would. Each test here failed before the fix it guards."""

from __future__ import annotations

import gzip
import json
import re
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from peergraph.db import create_db_engine, migrate
from peergraph.ingest.formats import ImportTarget, detect_format
from peergraph.ingest.loader import import_file
from peergraph.ingest.models import ImportIssue, ImportRun, Provenance
from peergraph.profiles.services import rebuild
from peergraph.settings import Settings
from peergraph.web.app import create_app
from peergraph.works.models import Work
from tests.stores import prepare_store

HOSTILE = ("hostile.csl.json", "hostile.bib", "hostile.openalex.jsonl")
HREF = re.compile(r'href="([^"]*)"', re.IGNORECASE)


@pytest.fixture
def hostile_store(engine, test_data):
    # the hostile records among ordinary ones (topic inference needs some data)
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    for name in HOSTILE:
        path = test_data / "hostile" / name
        import_file(engine, ImportTarget(path, detect_format(path)))
    rebuild(engine)
    return engine


@pytest.fixture
def client(settings, engine):
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def work_id(engine, title_start: str) -> int:
    with Session(engine) as session:
        return session.scalar(select(Work.id).where(Work.title.startswith(title_start)))


def assert_links_safe(html: str) -> None:
    for href in HREF.findall(html):
        value = href.replace("&amp;", "&").strip().lower()
        assert value.startswith(("/", "https://", "http://", "#", "?")), href
        assert not value.startswith("//"), href


def test_unsafe_urls_are_dropped_at_import_and_reported(hostile_store):
    with Session(hostile_store) as session:
        urls = dict(session.execute(select(Work.title, Work.url)).all())
        warnings = session.scalars(
            select(ImportIssue.message).where(ImportIssue.reason == "unsafe-url")
        ).all()
    assert urls["A data URL"] is None
    assert urls["Case and whitespace tricks"] is None
    assert urls["BibTeX with a javascript link"] is None
    assert urls["A well-behaved paper"] == "https://example.org/paper?id=1&x=%3C2%3E"
    assert len(warnings) == 6  # three CSL, two BibTeX, one OpenAlex; each record kept
    assert all("URL dropped by the URL policy" in w for w in warnings)


def test_stored_unsafe_urls_never_become_links(client, hostile_store):
    """Rows written before the policy existed are caught where pages render."""
    with Session(hostile_store) as session, session.begin():
        for work in session.scalars(select(Work)):
            work.url = "  JaVaScRiPt:alert('stored')"
    for title in ("Links that run code", "A well-behaved paper", "OpenAlex"):
        page = client.get(f"/works/{work_id(hostile_store, title)}")
        assert page.status_code == 200
        assert "alert(&#39;stored&#39;)" in page.text  # shown, as text
        assert_links_safe(page.text)


def test_every_page_with_hostile_data_escapes_it(client, hostile_store):
    pages = ["/", "/researchers", "/search?q=hostile&mode=keyword"]
    pages += [f"/works/{work_id(hostile_store, t)}" for t in ("Links", "OpenAlex", "BibTeX")]
    records = client.get("/api/researchers", params={"q": "Hostile"}).json()["items"]
    assert records
    pages += [f"/researchers/{r['id']}" for r in records]
    pages += [f"/researchers/{r['id']}/trust" for r in records]
    for url in pages:
        page = client.get(url)
        assert page.status_code == 200, url
        assert "<script>alert" not in page.text, url
        assert "<img src=x" not in page.text, url
        assert "<!--<script>" not in page.text, url
        assert_links_safe(page.text)


def test_json_ld_survives_a_comment_opener_in_a_name(client, hostile_store):
    records = client.get("/api/researchers", params={"q": "Hostile"}).json()["items"]
    page = client.get(f"/researchers/{records[0]['id']}").text
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert block is not None
    assert "<" not in block.group(1) and ">" not in block.group(1)
    assert json.loads(block.group(1))["name"].startswith("Mallory <!--<script>")
    # the page is whole after the block: the footer and the works list are there
    assert page.rstrip().endswith("</html>") and 'id="works-h"' in page


def test_bibtex_junk_before_an_entry_is_reported_and_the_entry_kept(hostile_store):
    with Session(hostile_store) as session:
        issue = session.scalars(
            select(ImportIssue).where(ImportIssue.reason == "text-before-entry")
        ).one()
        titles = set(session.scalars(select(Work.title)))
    assert "An entry after junk on its line" in titles
    assert issue.line == 8 and not issue.skipped
    assert "some junk before the entry" in issue.message


def _deep_line(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def test_deep_nesting_costs_one_record_not_the_batch(engine, tmp_path, test_data):
    good = (test_data / "openalex.jsonl").read_text().splitlines()
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join([good[0], _deep_line(1000), *good[1:]]) + "\n")
    summary = import_file(engine, ImportTarget(path, "openalex-jsonl"))
    assert summary.status == "completed"
    # the test file's own four bad lines, and the deep one
    assert summary.skipped_by_reason == {
        "too-deep": 1,
        "invalid-json": 1,
        "missing-title": 1,
        "unsupported-entity": 1,
        "wrong-type": 1,
    }
    other = create_db_engine(Settings.for_data_dir(prepare_store(tmp_path / "baseline")))
    migrate(other)
    baseline = import_file(other, ImportTarget(test_data / "openalex.jsonl", "openalex-jsonl"))
    assert (summary.imported, summary.merged) == (baseline.imported, baseline.merged)
    with Session(engine) as session:
        issue = session.scalars(select(ImportIssue).where(ImportIssue.reason == "too-deep")).one()
    assert issue.line == 2


def test_deep_nesting_first_line_does_not_break_detection(tmp_path, test_data):
    good = (test_data / "openalex.jsonl").read_text()
    path = tmp_path / "deep-first.jsonl"
    path.write_text(_deep_line(1000) + "\n" + good)
    assert detect_format(path) == "openalex-jsonl"


def test_deep_csl_element_costs_one_record(engine, tmp_path, test_data):
    items = json.loads((test_data / "sample.csl.json").read_text())
    text = json.dumps(items)
    path = tmp_path / "deep.csl.json"
    path.write_text("[" + _deep_line(1000) + ", " + text[1:])
    summary = import_file(engine, ImportTarget(path, "csl-json"))
    assert summary.status == "completed"
    assert summary.skipped_by_reason.get("too-deep") == 1


def test_a_record_that_breaks_the_writer_costs_only_itself(engine, tmp_path, test_data):
    """A record the database refuses (here through a trigger, as a CHECK constraint or a
    server-side rule would) rolls its batch back; the batch is written record by record,
    and only that record is lost, reported as write-error."""
    items = json.loads((test_data / "sample.csl.json").read_text())
    poison = {"title": "Poison pill", "type": "article", "issued": {"date-parts": [[2020]]}}
    path = tmp_path / "mixed.csl.json"
    path.write_text(json.dumps([*items[:3], poison, *items[3:]]))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                " RAISE EXCEPTION 'refused by the store'; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER poison BEFORE INSERT ON works FOR EACH ROW"
                " WHEN (NEW.title = 'Poison pill') EXECUTE FUNCTION poison()"
            )
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER poison BEFORE INSERT ON works WHEN NEW.title = 'Poison pill' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the store'); END"
            )
    summary = import_file(engine, ImportTarget(path, "csl-json"))
    assert summary.status == "completed"
    assert summary.imported == 4
    assert summary.skipped_by_reason == {"wrong-type": 2, "missing-title": 1, "write-error": 1}
    with Session(engine) as session:
        issue = session.scalars(
            select(ImportIssue).where(ImportIssue.reason == "write-error")
        ).one()
        assert issue.record_number == 4 and "refused by the store" in issue.message
        titles = set(session.scalars(select(Work.title)))
    assert "Poison pill" not in titles and len(titles) == 4


def test_huge_counts_in_a_record_do_not_overflow_the_store(engine, tmp_path):
    author = {
        "id": "https://openalex.org/A77",
        "display_name": "Ada Huge",
        "works_count": 2**70,
    }
    path = tmp_path / "authors.jsonl"
    path.write_text(json.dumps(author) + "\n")
    summary = import_file(engine, ImportTarget(path, "openalex-jsonl"))
    assert (summary.status, summary.imported) == ("completed", 1)


def test_identical_repeats_add_no_provenance(engine, tmp_path, test_data):
    line = (test_data / "openalex.jsonl").read_text().splitlines()[0]
    path = tmp_path / "repeated.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        for _ in range(5000):
            handle.write(line + "\n")
    summary = import_file(engine, ImportTarget(path, "openalex-jsonl"), batch_size=700)
    assert (summary.records_read, summary.imported, summary.merged) == (5000, 1, 4999)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Provenance)) == 1


@pytest.mark.slow
@pytest.mark.once  # a million identical lines: the importer's repeat check, not the database
def test_work_page_of_a_record_imported_a_million_times(client, engine, tmp_path, test_data):
    line = (test_data / "openalex.jsonl").read_text().splitlines()[0]
    path = tmp_path / "million.jsonl.gz"
    with gzip.open(path, "wt", compresslevel=1) as handle:
        handle.write((line + "\n") * 1_000_000)
    summary = import_file(engine, ImportTarget(path, "openalex-jsonl"))
    assert summary.records_read == 1_000_000 and summary.imported == 1
    the_work = work_id(engine, "Deep learning for deep learning")
    client.get(f"/works/{the_work}")  # warm up templates
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        page = client.get(f"/works/{the_work}")
        timings.append(time.perf_counter() - started)
    assert page.status_code == 200
    assert sorted(timings)[2] < 0.1, timings
    assert len(page.content) < 60_000


@pytest.mark.slow
def test_work_page_with_a_million_source_records_stays_bounded(client, engine, test_data):
    """A million *different* records merged into one work (here written directly: importing
    them would take minutes) still give a fast, bounded page, with a count and paging."""
    import_file(engine, ImportTarget(test_data / "openalex.jsonl", "openalex-jsonl"))
    the_work = work_id(engine, "Deep learning for deep learning")
    with engine.begin() as conn:
        run_id = conn.scalar(select(func.max(ImportRun.id)))
        rows = (
            {
                "import_id": run_id,
                "record_number": 1000 + n,
                "line": 1000 + n,
                "record_key": f"copy-{n}",
                "entity_type": "work",
                "entity_id": the_work,
                "action": "merged",
            }
            for n in range(1_000_000)
        )
        batch: list[dict] = []
        for row in rows:
            batch.append(row)
            if len(batch) == 50_000:
                conn.execute(insert(Provenance), batch)
                batch = []
    client.get(f"/works/{the_work}")
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        page = client.get(f"/works/{the_work}")
        timings.append(time.perf_counter() - started)
    assert sorted(timings)[2] < 0.1, timings
    assert len(page.content) < 60_000
    assert "10 of 10,000+ source records shown" in page.text
    assert f'href="/works/{the_work}/sources"' in page.text
    last = client.get(f"/works/{the_work}/sources", params={"page": 20001})
    assert last.status_code == 200 and "copy-999999" in last.text
    assert "1,000,001 source records" in last.text
    api = client.get(f"/api/works/{the_work}").json()
    assert (api["sources_count"], api["sources_count_is_lower_bound"]) == (10_000, True)
    assert len(api["sources"]) == 10
    every = client.get(f"/api/works/{the_work}/sources", params={"per_page": 5}).json()
    assert every["total"] == 1_000_001 and len(every["items"]) == 5


def test_import_paths_are_public_as_file_names_only(client, engine, test_data):
    import_file(engine, ImportTarget(test_data / "openalex.jsonl", "openalex-jsonl"))
    folder = str(test_data)
    listing = client.get("/api/imports").json()
    assert listing[0]["path"] == "openalex.jsonl"
    the_work = work_id(engine, "Deep learning for deep learning")
    for url in (f"/works/{the_work}", f"/api/works/{the_work}"):
        body = client.get(url).text
        assert "openalex.jsonl" in body and folder not in body


HUGE = [str(2**63), str(2**64), str(-(2**63) - 1), "9" * 40]


@pytest.mark.parametrize("value", HUGE)
def test_huge_integers_are_404_or_422_never_500(client, hostile_store, value):
    paths = [
        f"/api/works/{value}",
        f"/api/works/{value}/similar",
        f"/api/works/{value}/sources",
        f"/api/researchers/{value}",
        f"/api/researchers/{value}/works",
        f"/api/researchers/{value}/similar",
        f"/api/researchers?topic={value}",
        f"/api/researchers?institution={value}",
        f"/api/topics/{value}",
        f"/api/institutions/{value}",
        f"/api/search?q=x&year_from={value}",
        f"/api/search?q=x&year_to={value}",
        f"/api/search?q=x&page={value}",
        f"/works/{value}",
        f"/works/{value}/sources",
        f"/researchers/{value}",
        f"/researchers/{value}/trust",
        f"/researchers?topic={value}",
        f"/researchers?institution={value}",
        f"/topics/{value}",
        f"/institutions/{value}",
        f"/?page={value}",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code in (400, 404, 422), (path, response.status_code)
        if path.startswith("/api/"):
            assert response.json()["error"]["status"] == response.status_code
    # the search page keeps its form and says what is wrong
    page = client.get("/search", params={"q": "x", "year_from": value})
    assert (page.status_code, "Years are written as numbers" in page.text) in (
        (200, True),
        (400, False),  # longer than the field allows
    )


@pytest.mark.parametrize(
    "target",
    [
        "/\\evil.example/",
        "/%09/evil.example/",
        "//evil.example",
        "/\t/evil.example",
        "https://evil.example",
        "/%5C%5Cevil.example",
        "javascript:alert(1)",
    ],
)
def test_login_next_never_leaves_the_site(client, target):
    page = client.get("/login", params={"next": target})
    assert page.status_code == 200
    assert "evil.example" not in page.text and "javascript:" not in page.text


def test_login_next_on_the_site_is_kept(client):
    page = client.get("/login", params={"next": "/researchers/7?page=2"})
    assert 'name="next" value="/researchers/7?page=2"' in page.text


def test_forged_host_header_cannot_steer_a_redirect(client):
    forged = client.get("/researchers/", headers={"host": "evil.example"})
    assert forged.status_code == 400
    assert "evil.example" not in forged.headers.get("location", "")
    fine = client.get("/researchers/")
    assert fine.status_code in (307, 308) and "evil" not in fine.headers["location"]


@pytest.mark.parametrize(
    "path", ["/", "/api/works", "/api/docs", "/static/style.css", "/nope", "/api/nope"]
)
def test_security_headers_on_every_response(client, path):
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
    assert "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_api_docs_load_nothing_from_elsewhere(client):
    page = client.get("/api/docs").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "<script>" not in page  # no inline script: the CSP would block it
    for source in sources:
        assert client.get(source).status_code == 200, source
