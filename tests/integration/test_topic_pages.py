"""Topic and institution pages and their JSON: works in compact rows (sorted, paged),
the researchers with the most works there, related topics, the graph slice."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from peergraph.ingest.formats import expand_paths
from peergraph.ingest.loader import import_file
from peergraph.profiles.models import RecordTopic
from peergraph.profiles.queries import WORKS_PER_PAGE
from peergraph.profiles.services import rebuild
from peergraph.profiles.topic_page import ACTIVE_RESEARCHERS, ACTIVE_WINDOW, _related_by_researchers
from peergraph.settings import Settings
from peergraph.web.app import create_app
from peergraph.works.models import (
    Authorship,
    AuthorshipInstitution,
    Institution,
    Topic,
    Work,
    WorkTopic,
)
from tests.stores import store_engine

MAX_TOPIC_QUERIES = 11  # the related topics' fallback adds one


@pytest.fixture(scope="module")
def folder(shared_data, tmp_path_factory) -> Path:
    """The OpenAlex sample (1,430 works with OpenAlex topics and cited-by counts, and
    inferred topics from the rebuild), imported once for the module."""
    folder = tmp_path_factory.mktemp("openalex-topics")
    engine = store_engine(folder)
    for target in expand_paths([shared_data / "openalex-api-samples" / "works.jsonl.gz"]):
        import_file(engine, target)
    rebuild(engine)
    engine.dispose()
    return folder


@pytest.fixture
def client(folder):
    store = Settings.for_data_dir(folder)  # TestClient sends "Host: testserver"
    settings = dataclasses.replace(store, allowed_hosts=("testserver", *store.allowed_hosts))
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


@pytest.fixture
def store(client):
    return client.app.state.engine


def topics_by_size(engine) -> list[tuple[int, int]]:
    """(topic id, works) of every topic, most works first."""
    with Session(engine) as session:
        rows = session.execute(
            select(WorkTopic.topic_id, func.count())
            .group_by(WorkTopic.topic_id)
            .order_by(func.count().desc(), WorkTopic.topic_id)
        ).all()
    return [(int(t), int(n)) for t, n in rows]


def test_topic_page_lists_its_works_researchers_and_related_topics(client, store):
    topic_id, works = topics_by_size(store)[0]
    with Session(store) as session:
        topic = session.get_one(Topic, topic_id)
        years = dict(
            session.execute(
                select(Work.id, Work.year).join(WorkTopic).where(WorkTopic.topic_id == topic_id)
            ).all()
        )
        holders = session.scalar(
            select(func.count()).select_from(RecordTopic).where(RecordTopic.topic_id == topic_id)
        )
    page = client.get(f"/topics/{topic_id}")
    assert page.status_code == 200
    html = page.text
    assert f"<h1>{topic.name}</h1>" in html
    assert "inferred from titles and abstracts" in html or "OpenAlex" in html or "arXiv" in html
    rows = re.findall(r'<a class="title" href="/works/(\d+)">', html)
    assert len(rows) == min(works, WORKS_PER_PAGE)
    shown = {int(i) for i in rows}
    assert shown <= set(years)  # the topic's own works, the newest first
    first_page = [years[i] or 0 for i in shown]
    rest = [y or 0 for i, y in years.items() if i not in shown]
    assert not rest or min(first_page) >= max(rest)
    assert html.count('<a href="/researchers/') >= min(holders or 0, 1)
    assert f'data-node="topic:{topic_id}"' in html  # the graph slice
    assert 'action="/search"' in html  # the header's search box
    api = client.get(f"/api/topics/{topic_id}").json()
    assert api["name"] == topic.name and api["total"] == works
    assert [str(w["id"]) for w in api["items"]] == rows
    assert api["researchers_total"] == holders
    for related in api["related"]:
        assert related["id"] != topic_id and related["shared"] >= 1
        assert related["by"] in {"works", "researchers"}
        assert f'href="/topics/{related["id"]}"' in html


def test_topic_works_sort_newest_oldest_and_most_cited(client, store):
    topic_id = next(t for t, n in topics_by_size(store) if n >= WORKS_PER_PAGE)
    by_sort = {}
    for sort in ("newest", "oldest", "cited"):
        items = client.get(f"/api/topics/{topic_id}", params={"sort": sort}).json()["items"]
        by_sort[sort] = items
    newest = [w["year"] for w in by_sort["newest"] if w["year"] is not None]
    oldest = [w["year"] for w in by_sort["oldest"] if w["year"] is not None]
    cited = [w["cited_by_count"] for w in by_sort["cited"] if w["cited_by_count"] is not None]
    assert newest == sorted(newest, reverse=True)
    assert oldest == sorted(oldest)
    assert cited == sorted(cited, reverse=True)
    page = client.get(f"/topics/{topic_id}?sort=cited").text
    assert '<strong aria-current="true">most cited</strong>' in page


def test_a_cited_topic_says_whose_counts(client, store):
    with Session(store) as session:
        topic_id = session.scalar(
            select(WorkTopic.topic_id)
            .join(Work, Work.id == WorkTopic.work_id)
            .where(Work.cited_by_count.is_not(None))
            .limit(1)
        )
    assert topic_id is not None  # the OpenAlex sample has counts
    html = client.get(f"/topics/{topic_id}").text
    assert "OpenAlex's counts" in html and "cited by " in html


def test_topic_pages_page_and_refuse_what_is_not_there(client, store):
    topic_id, works = topics_by_size(store)[0]
    last = -(-works // WORKS_PER_PAGE)
    assert client.get(f"/topics/{topic_id}?page={last}").status_code == 200
    assert client.get(f"/topics/{topic_id}?page={last + 1}").status_code == 404
    assert client.get("/topics/999999").status_code == 404
    assert client.get("/api/topics/999999").json()["error"]["status"] == 404
    assert client.get(f"/topics/{topic_id}?sort=random").status_code == 400  # a page: 400
    assert client.get(f"/api/topics/{topic_id}?sort=random").status_code == 422  # JSON: 422
    assert client.get("/topics/0").status_code == 400


def test_topic_page_query_count_is_bounded(client, store):
    sizes = topics_by_size(store)
    (big, _), (small, _) = sizes[0], sizes[-1]
    statements: list[str] = []
    event.listen(
        client.app.state.engine,
        "before_cursor_execute",
        lambda *args: (
            statements.append(args[2])
            if "work_embeddings" not in args[2] and "FROM generations" not in args[2]
            else None
        ),
    )
    client.get(f"/topics/{big}")
    count_big = len(statements)
    statements.clear()
    client.get(f"/topics/{small}")
    assert count_big <= MAX_TOPIC_QUERIES
    assert len(statements) <= MAX_TOPIC_QUERIES  # not one query per work or researcher


def test_profiles_search_and_graph_link_to_topic_pages(client, store):
    with Session(store) as session:
        record_id, topic_id = session.execute(
            select(RecordTopic.record_id, RecordTopic.topic_id).limit(1)
        ).one()
    profile = client.get(f"/researchers/{record_id}").text
    assert f'href="/topics/{topic_id}"' in profile
    assert "/researchers?topic=" not in profile


def test_related_topics_fall_back_on_shared_researchers(store):
    """An inferred topic is the only inferred topic of its works, so on data with no
    source topics nothing co-occurs on a work: its related topics then come from the
    researchers who work on both (among its most active), each shared by two or more."""
    with Session(store) as session:
        topic_id = session.scalar(
            select(RecordTopic.topic_id)
            .join(Topic, Topic.id == RecordTopic.topic_id)
            .where(Topic.taxonomy == "inferred")
            .group_by(RecordTopic.topic_id)
            .order_by(func.count().desc())
        )
        assert topic_id is not None
        related = _related_by_researchers(session, topic_id, 10)
        holders = set(
            session.scalars(
                select(RecordTopic.record_id)
                .where(RecordTopic.topic_id == topic_id)
                .order_by(RecordTopic.works_count.desc(), RecordTopic.record_id)
                .limit(ACTIVE_RESEARCHERS)  # its most active researchers
            )
        )
        assert related, "the largest inferred topic shares researchers with some topic"
        for rel in related:
            assert rel.topic.id != topic_id and rel.by == "researchers"
            both = holders & set(
                session.scalars(
                    select(RecordTopic.record_id).where(RecordTopic.topic_id == rel.topic.id)
                )
            )
            assert rel.shared == len(both) >= 2
            assert "researchers most active on this topic" in rel.reason
        counts = [rel.shared for rel in related]
        assert counts == sorted(counts, reverse=True)


def test_home_lists_the_topics_of_the_newest_works(client, store):
    """Active topics: of the newest works (ACTIVE_WINDOW), the topics most of them carry,
    OpenAlex's before inferred ones, each linked to its page with its count."""
    with Session(store) as session:
        newest = (
            select(Work.id)
            .where(Work.year.is_not(None))
            .order_by(Work.year.desc(), Work.id.desc())
            .limit(ACTIVE_WINDOW)
            .subquery()
        )
        counts = dict(
            session.execute(
                select(WorkTopic.topic_id, func.count())
                .join(newest, newest.c.id == WorkTopic.work_id)
                .join(Topic, Topic.id == WorkTopic.topic_id)
                .where(Topic.taxonomy != "inferred")
                .group_by(WorkTopic.topic_id)
            ).all()
        )
    html = client.get("/").text
    section = html.split('id="active-h"')[1].split("</section>")[0]
    shown = [
        (int(t), int(n))
        for t, n in re.findall(
            r'href="/topics/(\d+)">[^<]*</a> <span class="muted small">(\d+)', section
        )
    ]
    assert len(shown) == min(8, len(counts))
    assert all(counts[t] == n for t, n in shown)  # the count is the newest works carrying it
    assert [n for _, n in shown] == sorted((n for _, n in shown), reverse=True)
    assert min(n for _, n in shown) >= sorted(counts.values(), reverse=True)[len(shown) - 1]


def largest_institution(engine) -> int:
    with Session(engine) as session:
        return int(
            session.scalar(
                select(AuthorshipInstitution.institution_id)
                .group_by(AuthorshipInstitution.institution_id)
                .order_by(func.count().desc(), AuthorshipInstitution.institution_id)
            )
        )


def test_institution_page_lists_its_works_researchers_and_topics(client, store):
    institution_id = largest_institution(store)
    with Session(store) as session:
        institution = session.get(Institution, institution_id)
        assert institution is not None
        works = set(
            session.scalars(
                select(Authorship.work_id)
                .join(AuthorshipInstitution, AuthorshipInstitution.authorship_id == Authorship.id)
                .where(AuthorshipInstitution.institution_id == institution_id)
            )
        )
    page = client.get(f"/institutions/{institution_id}")
    assert page.status_code == 200
    html = page.text
    assert f"<h1>{institution.name}</h1>" in html
    assert f'data-node="institution:{institution_id}"' in html  # the graph slice
    api = client.get(f"/api/institutions/{institution_id}").json()
    assert api["total"] == len(works)
    assert {item["id"] for item in api["items"]} <= works
    assert len(api["items"]) == min(len(works), WORKS_PER_PAGE)
    years = [item["year"] or 0 for item in api["items"]]
    assert years == sorted(years, reverse=True)  # newest first
    counts = [r["works_here"] for r in api["researchers"]]
    assert counts == sorted(counts, reverse=True) and api["researchers_total"] >= len(counts)
    for researcher in api["researchers"]:
        assert f'href="/researchers/{researcher["id"]}"' in html
    for topic in api["topics"]:
        assert f'href="/topics/{topic["id"]}"' in html and topic["works_here"] >= 1
    cited = client.get(f"/api/institutions/{institution_id}", params={"sort": "cited"}).json()
    counted = [item["cited_by_count"] or 0 for item in cited["items"]]
    assert counted == sorted(counted, reverse=True)
    assert client.get("/institutions/999999").status_code == 404
    assert client.get(f"/institutions/{institution_id}?page=999").status_code == 404
    assert client.get(f"/api/institutions/{institution_id}?sort=random").status_code == 422


def test_institution_links_pass_the_url_policy(client, store):
    """An institution's homepage comes from data: a hostile one is shown as no link."""
    institution_id = largest_institution(store)
    with Session(store) as session:
        institution = session.get(Institution, institution_id)
        assert institution is not None
        kept = institution.homepage_url
        institution.homepage_url = "javascript:alert(document.cookie)"
        session.commit()
    try:
        html = client.get(f"/institutions/{institution_id}").text
        assert "javascript:" not in html
        assert client.get(f"/api/institutions/{institution_id}").json()["homepage"] is None
    finally:
        with Session(store) as session:
            institution = session.get(Institution, institution_id)
            assert institution is not None
            institution.homepage_url = kept
            session.commit()


def test_profiles_and_the_graph_link_to_institution_pages(client, store):
    html = client.get(f"/api/graph/slice?node=institution:{largest_institution(store)}").text
    assert f"/institutions/{largest_institution(store)}" in html
