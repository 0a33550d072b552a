"""Search beyond works: filters, researchers and topics, similar works and researchers,
the background embedding job and index repair."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from peergraph.cli.main import app as cli
from peergraph.db import generation
from peergraph.ingest.formats import ImportTarget, expand_paths
from peergraph.ingest.loader import import_file
from peergraph.jobs import queue
from peergraph.jobs.worker import SKIPPED, Worker
from peergraph.profiles.services import rebuild
from peergraph.search.background import SearchIndexJob
from peergraph.search.embeddings import load_encoder
from peergraph.search.facts import FactsHolder, SearchFacts
from peergraph.search.files import IndexFolder
from peergraph.search.lexical import LexicalHolder
from peergraph.search.repair import check_and_repair
from peergraph.search.semantic import coverage, embed_pending
from peergraph.search.services import search_works
from peergraph.web.app import create_app


@pytest.fixture
def store(engine, test_data):
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    rebuild(engine)
    return engine


@pytest.fixture
def client(settings, store):
    embed_pending(store, load_encoder())
    with TestClient(create_app(settings)) as client:
        yield client


def records(client, name):
    found = client.get("/api/researchers", params={"q": name}).json()["items"]
    return {r["display_name"]: r["id"] for r in found}


def test_filters_narrow_both_engines(client):
    for mode in ("keyword", "semantic", "hybrid"):
        everything = client.get("/api/search", params={"q": "learning", "mode": mode}).json()
        old = client.get(
            "/api/search", params={"q": "learning", "mode": mode, "year_to": 2000}
        ).json()
        years = {w["year"] for w in old["items"]}
        assert years and years <= {1996, 1998}, (mode, years)
        assert old["total"] < everything["total"]
        assert old["filters"] == {"year_to": "2000"}
        ranged = client.get(
            "/api/search",
            params={"q": "learning", "mode": mode, "year_from": 2016, "year_to": 2016},
        ).json()
        assert {w["year"] for w in ranged["items"]} == {2016}
    venue = client.get("/api/search", params={"q": "learning", "venue": "icml"}).json()
    assert venue["items"] and {w["venue"] for w in venue["items"]} == {"ICML"}
    typed = client.get("/api/search", params={"q": "learning", "type": "conference-paper"})
    assert typed.status_code == 200 and typed.json()["total"] >= 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"year_from": 2020, "year_to": 2010}, "is after"),
        ({"year_from": 99}, "between"),
        ({"type": "poem"}, "Unknown type 'poem'; choose one of conference-paper"),
        ({"venue": "Journal of Nothing"}, "No venue matches"),
        ({"has_abstract": "maybe"}, "true or false"),
    ],
)
def test_bad_filters_are_400s_and_friendly_on_the_page(client, params, message):
    response = client.get("/api/search", params={"q": "learning", **params})
    if "has_abstract" in params:  # a boolean in the API's schema: 422 names the parameter
        assert response.status_code == 422
        assert "has_abstract" in response.json()["error"]["message"]
    else:
        assert response.status_code == 400 and message in response.json()["error"]["message"]
    page = client.get("/search", params={"q": "learning", **params})
    assert page.status_code == 200 and message.split(";")[0] in page.text.replace("&#39;", "'")
    assert client.get("/search", params={"q": "gan", "year_from": "soon"}).status_code == 200


def test_name_query_finds_people_first_and_topics_link_to_researchers(client):
    body = client.get("/api/search", params={"q": "radford"}).json()
    people = body["researchers"]
    assert people and people[0]["name"] == "Alec Radford" and people[0]["by_name"]
    assert any(p["name"].startswith("Radford") and "Neal" in p["name"] for p in people)
    meaning = client.get("/api/search", params={"q": "Markov chain Monte Carlo sampling"}).json()
    assert meaning["researchers"][0]["name"] == "Radford M. Neal"
    assert not meaning["researchers"][0]["by_name"]
    assert "matching work" in meaning["researchers"][0]["reason"]
    assert all(t["researchers_url"].startswith("/researchers?topic=") for t in meaning["topics"])
    second = client.get("/api/search", params={"q": "radford", "page": 2, "per_page": 1}).json()
    assert second["researchers"] == []  # people and topics on the first page only
    page = client.get("/search", params={"q": "radford"})
    assert "Researchers" in page.text and "Why this? name matches" in page.text


def test_similar_works_and_researchers(client):
    works = client.get("/api/search", params={"q": "DCGAN convolutional generative"}).json()
    dcgan = next(w for w in works["items"] if w["title"].startswith("Unsupervised Representation"))
    similar = client.get(f"/api/works/{dcgan['id']}/similar").json()
    assert similar["items"] and all(w["id"] != dcgan["id"] for w in similar["items"])
    assert similar["items"][0]["title"] == "Improved Techniques for Training GANs"
    page = client.get(f"/works/{dcgan['id']}")
    assert "Similar works" in page.text and "Improved Techniques for Training GANs" in page.text
    neal = records(client, "Neal")["Radford M. Neal"]
    people = client.get(f"/api/researchers/{neal}/similar").json()["items"]
    names = [p["name"] for p in people]
    assert "Geoffrey Hinton" not in names  # a co-author: listed as a collaborator instead
    assert names and "Radford M. Neal" not in names
    profile = client.get(f"/researchers/{neal}")
    assert "Researchers with similar work" in profile.text
    assert client.get("/api/works/999999/similar").status_code == 404
    assert client.get("/api/researchers/999999/similar").status_code == 404


def test_similar_sections_explain_an_empty_index(settings, store):
    with TestClient(create_app(settings)) as client:
        work = client.get("/api/works").json()["items"][0]
        page = client.get(f"/works/{work['id']}")
        assert "Similar works appear once the semantic index is built" in page.text
        assert client.get(f"/api/works/{work['id']}/similar").json()["items"] == []


def people_and_topics(result):
    return (
        [(h.work.id, h.authors, h.authors_count) for h in result.hits],
        [
            (r.record.id, r.by_name, r.matching_works, r.example, r.score)
            for r in result.researchers
        ],
        [(t.topic.id, t.by_name, t.matching_works, round(t.score, 9)) for t in result.topics],
    )


@pytest.mark.parametrize(
    "query",
    ["learning", "markov chain monte carlo", "Radford", "BAYESIAN LEARNING", "kernels", "gans"],
)
def test_search_facts_answer_as_the_database_does(store, query):
    """Researchers, topics and author counts from the mapped search facts are the ones the
    database gives (search/facts.py)."""
    facts = SearchFacts.load(store)  # no folder: built in this process
    assert facts is not None
    with Session(store) as session:
        asked = search_works(session, query, mode="keyword")
        mapped = search_works(session, query, mode="keyword", facts=facts)
    assert people_and_topics(mapped) == people_and_topics(asked)
    assert asked.researchers or asked.topics  # the comparison compares something


def test_search_facts_go_stale_with_an_import_and_a_rebuild(store, test_data, tmp_path):
    holder = FactsHolder(store, IndexFolder(tmp_path))
    assert holder.refresh() and holder.fresh(generation.current(store)) is not None
    assert not holder.refresh()  # mapped at the stored generations already
    facts = holder.facts
    assert facts.author_counts([facts.work_ids[0].item(), 999_999])[999_999] == 0
    (target,) = expand_paths([test_data / "arxiv.jsonl"])
    import_file(store, target)
    assert holder.fresh(generation.current(store)) is facts  # lagging, answers (search/lag.py)
    assert not holder.refresh()  # the data just changed: not rebuilt yet
    holder.lag.quiet = 0.0  # ... until they have been still long enough
    assert holder.refresh() and len(holder.facts.work_ids) == 9
    rebuild(store)
    assert holder.fresh(generation.current(store)) is holder.facts  # lagging again
    assert holder.refresh()
    current = generation.current(store)
    label = f"facts-records{current['records']}-works{current['works']}"
    assert [p.name for p in (tmp_path / "index").glob("facts-*")] == [label]  # old ones go


def test_embedding_is_a_worker_job_queued_at_start_and_after_each_import(store, test_data):
    """The web process's background job queues embedding and maps the keyword index; a
    worker embeds, and queues the embedding again after each import it runs."""
    lexical = LexicalHolder(store)
    job = SearchIndexJob(store, lexical=lexical)
    job.start()
    try:
        deadline = time.monotonic() + 60
        while queue.latest(store, "embed") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert queue.latest(store, "embed").state == "queued"
        assert not coverage(store).complete  # a web process does not embed
        assert Worker(store).run(once=True) == 1
        assert coverage(store).complete
        assert queue.latest(store, "embed").message == "embedded 8 works"
        queue.enqueue(store, "import", {"paths": [str(test_data / "arxiv.jsonl")]})
        assert Worker(store).run(once=True) == 2  # the import, then the embedding it queued
        assert coverage(store).complete and coverage(store).total == 9
        while (lexical.index is None or lexical.index.loaded < 9) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert lexical.index is not None and lexical.index.loaded == 9  # rebuilt after import
        assert Worker(store, embed=False).run(once=True) == 0  # nothing else was queued
    finally:
        job.stop()
    assert not job.is_alive()


def test_served_app_runs_the_job_and_reports_it(settings, store):
    with TestClient(create_app(settings, background=True, worker=True)) as client:
        deadline = time.monotonic() + 60
        while not coverage(store).complete and time.monotonic() < deadline:
            time.sleep(0.2)
        page = client.get("/search")  # the job may still be writing the index files
        assert "Semantic index: 100 % of 8 works." in page.text
        while client.get("/api/search/status").json()["semantic_job"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert client.get("/api/search/status").json()["semantic_index_works"] == 8
        assert client.app.state.lexical.index.loaded == 8  # type: ignore[attr-defined]
        assert client.app.state.facts.fresh(generation.current(store))  # type: ignore[attr-defined]
        body = client.get("/api/search", params={"q": "markov", "mode": "keyword"}).json()
        assert body["total"] == 2 and "<mark>" in body["items"][0]["snippet"]
        job = client.app.state.index_job  # type: ignore[attr-defined]
    assert not job.is_alive()  # stopped with the app


def test_search_page_tells_where_the_embedding_job_stands(settings, store):
    with TestClient(create_app(settings)) as client:
        assert "(run <code>peergraph embed</code> to finish it)" in client.get("/search").text
        job = queue.ensure(store, "embed")
        assert queue.ensure(store, "embed") == job  # asked twice, queued once
        assert "embedding is queued for a worker" in client.get("/search").text
        taken = queue.claim(store, "test:1")
        assert taken is not None and taken.id == job
        queue.beat(store, job, "test:1", done=3, total=8, unit="works")
        assert client.get("/api/search/status").json()["semantic_job"] == "embedding"
        assert "embedding in the background" in client.get("/search").text
        queue.finish(store, job, "test:1", "done", f"{SKIPPED}search by meaning is off: no model")
        assert "search by meaning is off: no model" in client.get("/search").text


def test_missing_or_damaged_indexes_are_repaired(settings, store):
    assert check_and_repair(store).ok
    sqlite = store.dialect.name == "sqlite"
    with store.begin() as conn:
        if sqlite:
            conn.execute(text("DROP TABLE works_fts"))
            # deleting a row with the wrong text corrupts an external-content FTS5 index
            conn.execute(
                text(
                    "INSERT INTO records_fts(records_fts, rowid, display_name)"
                    " VALUES ('delete', 1, 'nobody at all')"
                )
            )
        else:  # what a failed CREATE INDEX CONCURRENTLY leaves: an invalid index
            conn.execute(text("DROP INDEX ix_works_text"))
            conn.execute(
                text(
                    "UPDATE pg_index SET indisvalid = false"
                    " WHERE indexrelid = 'ix_author_records_name_text'::regclass"
                )
            )
    works_index, names_index = (
        ("works_fts", "records_fts") if sqlite else ("ix_works_text", "ix_author_records_name_text")
    )
    if sqlite:  # without FTS5 a keyword search cannot run; PostgreSQL scans instead
        with TestClient(create_app(settings)) as client:
            broken = client.get("/api/search", params={"q": "gan", "mode": "keyword"})
            assert broken.status_code == 400
            assert "peergraph reindex" in broken.json()["error"]["message"]
    runner = CliRunner()
    data = ["--data-dir", str(settings.data_dir)]
    checked = runner.invoke(cli, [*data, "reindex", "--check"])
    assert checked.exit_code == 1 and f"{works_index} is missing" in checked.output
    assert f"{names_index} is {'damaged' if sqlite else 'invalid'}" in checked.output
    fixed = runner.invoke(cli, [*data, "reindex"])
    assert fixed.exit_code == 0 and f"{works_index} rebuilt" in fixed.output
    assert f"{names_index} rebuilt" in fixed.output
    again = runner.invoke(cli, [*data, "reindex"])
    assert "search indexes are healthy" in again.output
    with TestClient(create_app(settings)) as client:
        body = client.get("/api/search", params={"q": "gan", "mode": "keyword"}).json()
        assert body["items"][0]["title"] == "Improved Techniques for Training GANs"
        assert client.get("/api/search", params={"q": "radford"}).json()["researchers"]


def test_damaged_vectors_are_skipped_then_dropped(store):
    from peergraph.search.semantic import SemanticIndex

    embed_pending(store, load_encoder())
    with store.begin() as conn:
        conn.execute(
            text("UPDATE work_embeddings SET vector = :v WHERE work_id = 1"), {"v": b"\0\0"}
        )
    index = SemanticIndex(store)
    assert index.size() == 7 and index.damaged == 1
    health = check_and_repair(store)
    assert any("wrong length" in p for p in health.problems)
    assert embed_pending(store, load_encoder()) == 1 and coverage(store).complete


def test_cli_search_with_filters_and_people(tmp_path, test_data):
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    runner.invoke(cli, [*data, "import", "-q", str(test_data / "profiles.csl.json")])
    runner.invoke(cli, [*data, "rebuild"])
    found = runner.invoke(cli, [*data, "search", "radford", "--mode", "keyword"])
    assert (
        found.exit_code == 0 and "Researchers:" in found.stdout and "Alec Radford" in found.stdout
    )
    old = runner.invoke(
        cli, [*data, "search", "learning", "--mode", "keyword", "--year-to", "2000"]
    )
    assert old.exit_code == 0 and "(…–2000)" in old.stdout and "Bayesian Learning" in old.stdout
    bad = runner.invoke(cli, [*data, "search", "learning", "--type", "poem"])
    assert bad.exit_code == 2 and "Unknown type" in bad.output
