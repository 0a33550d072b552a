"""Feeds and alerts through the app: a second import batch tells each follower and each
saved search what arrived, once; the weekly alert digest keeps its budget and mails
nothing twice; Atom feeds for a researcher and a saved search (docs/feeds.md)."""

from __future__ import annotations

import json
from datetime import timedelta
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from peergraph.accounts.models import OutgoingMail
from peergraph.db.base import utcnow
from peergraph.feeds import matching
from peergraph.feeds import services as feeds
from peergraph.feeds.models import FeedItem, SavedSearch
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.works.models import Topic, Work

from .test_conversations import app, login, make_account, own, post, record, store  # noqa: F401

ATOM = "{http://www.w3.org/2005/Atom}"

SECOND_BATCH = [
    {
        "id": "radford-2024",
        "type": "paper-conference",
        "title": "Scaling Speech Recognition with Weak Supervision",
        "author": [{"given": "Alec", "family": "Radford"}, {"given": "Ada", "family": "Lovelace"}],
        "issued": {"date-parts": [[2024]]},
        "abstract": "We scale weakly supervised speech recognition to a million hours.",
    },
    {
        "id": "doe-2024",
        "type": "article-journal",
        "title": "Graph Kernels for Proteins <script>alert(1)</script>",
        "author": [{"given": "Jane", "family": "Doe"}, {"given": "Nils", "family": "Bohr"}],
        "issued": {"date-parts": [[2024]]},
        "abstract": "Kernels on graphs compare protein structures.",
    },
    {
        "id": "other-2024",
        "type": "article-journal",
        "title": "Graph Kernels Revisited",
        "author": [{"given": "Grace", "family": "Hopper"}],
        "issued": {"date-parts": [[2024]]},
        "abstract": "A survey of kernels between graphs.",
    },
]


def told(engine, account_id: int) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """{work title: (kind, why)} of the account's feed."""
    with Session(engine) as session:
        return {
            title: (kind, why)
            for title, kind, why in session.execute(
                select(Work.title, FeedItem.kind, FeedItem.why)
                .join(Work, Work.id == FeedItem.work_id)
                .where(FeedItem.account_id == account_id)
            )
        }


NEW_PREPRINT = {  # in arXiv's cs.CV, a topic followed in the test
    "id": "2401.99999",
    "authors": "Grace Hopper",
    "title": "Vision transformers for galaxy images",
    "categories": "cs.CV",
    "abstract": "We classify galaxy images with vision transformers.",
    "versions": [{"version": "v1", "created": "Mon, 1 Jan 2024 10:00:00 GMT"}],
    "authors_parsed": [["Hopper", "Grace", ""]],
}


@pytest.fixture
def second_batch(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "second.csl.json"
    path.write_text(json.dumps(SECOND_BATCH))
    return ImportTarget(path, "csl-json")


@pytest.fixture
def second_preprints(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "second.arxiv.jsonl"
    path.write_text(json.dumps(NEW_PREPRINT) + "\n")
    return ImportTarget(path, "arxiv-jsonl")


def test_a_second_import_tells_each_follower_once(  # type: ignore[no-untyped-def]
    app,  # noqa: F811
    engine,
    test_data,
    second_batch,
    second_preprints,
    mailbox,
):
    radford, doe = record(engine, "Alec Radford"), record(engine, "Jane Doe")
    fan, searcher, author, topical, idle = (
        make_account(engine, f"{n}@example.org")
        for n in ("fan", "searcher", "author", "topical", "idle")
    )
    own(engine, author, doe)
    import_file(engine, ImportTarget(test_data / "arxiv.jsonl", "arxiv-jsonl"))
    rebuild(engine)  # the first batch's preprints bring arXiv's categories as topics
    with Session(engine) as session:  # followed by "topical"
        topic_id = session.scalars(
            select(Topic.id).where(Topic.taxonomy == "arxiv", Topic.external_id == "cs.CV")
        ).one()
    fan_client = login(app, "fan@example.org")
    assert post(fan_client, f"/researchers/{radford}/follow").status_code == 303
    # the fan also saved a search that the followed researcher's new work matches: told once
    assert post(fan_client, "/searches", q="speech recognition", mode="keyword").status_code == 303
    searcher_client = login(app, "searcher@example.org")
    saved = post(searcher_client, "/searches", q="graph kernels", mode="keyword")
    assert saved.status_code == 303
    assert post(searcher_client, "/searches", q="  ", mode="keyword").status_code == 400
    author_client = login(app, "author@example.org")
    assert post(author_client, "/searches", q="graph kernels", mode="keyword").status_code == 303
    assert post(login(app, "topical@example.org"), f"/topics/{topic_id}/follow").status_code == 303
    assert all(not told(engine, a) for a in (fan, searcher, author, topical, idle))

    import_file(engine, second_batch)
    import_file(engine, second_preprints)
    rebuild(engine)

    fan_told = told(engine, fan)
    assert list(fan_told) == ["Scaling Speech Recognition with Weak Supervision"]
    kind, why = fan_told["Scaling Speech Recognition with Weak Supervision"]
    assert kind == "researcher" and "Alec Radford" in why  # the best reason of the two
    searcher_told = told(engine, searcher)
    assert set(searcher_told) == {
        "Graph Kernels for Proteins <script>alert(1)</script>",
        "Graph Kernels Revisited",
    }
    assert all(k == "search" and "graph kernels" in w for k, w in searcher_told.values())
    # Jane Doe's owner is not told about her own new paper, only the other one
    assert list(told(engine, author)) == ["Graph Kernels Revisited"]
    assert not told(engine, idle)
    topical_told = told(engine, topical)
    assert list(topical_told) == ["Vision transformers for galaxy images"]
    kind, why = topical_told["Vision transformers for galaxy images"]
    assert kind == "topic" and why.endswith("a topic you follow")

    # nobody is told twice: another rebuild, the same batch again, another pass
    before = {a: told(engine, a) for a in (fan, searcher, author, topical)}
    import_file(engine, second_batch, force=True)
    import_file(engine, second_preprints, force=True)
    rebuild(engine)
    matching.update(engine, utcnow())
    assert {a: told(engine, a) for a in (fan, searcher, author, topical)} == before

    page = searcher_client.get("/feed")
    assert page.status_code == 200
    assert "Graph Kernels Revisited" in page.text
    assert "<script>alert(1)</script>" not in page.text  # escaped
    assert "Every term of your saved search" in page.text
    api = searcher_client.get("/api/feed").json()
    assert api["total"] == 2 and {i["kind"] for i in api["items"]} == {"search"}
    (listed,) = searcher_client.get("/api/searches").json()
    assert listed["query"] == "graph kernels" and listed["matches"] == 2
    assert listed["atom_url"].endswith(".atom")

    # the weekly digest: one mail each, best first, nothing mailed twice
    now = utcnow()
    assert feeds.send_alerts(engine, "http://testserver", now) == 4  # all but "idle"
    assert feeds.send_alerts(engine, "http://testserver", now + timedelta(days=8)) == 0
    with Session(engine) as session:
        outbox = {m.recipient: m for m in session.scalars(select(OutgoingMail))}
    assert "Scaling Speech Recognition" in outbox["fan@example.org"].body
    assert "Why: New work by Alec Radford" in outbox["fan@example.org"].body
    assert "idle@example.org" not in outbox


def test_the_weekly_budget_mails_the_best_and_keeps_the_rest_on_the_feed(app, engine):  # noqa: F811
    reader = make_account(engine, "reader@example.org")
    now = utcnow()
    with Session(engine) as session:
        works = list(session.scalars(select(Work.id).order_by(Work.id)))
        assert len(works) >= 8
        for rank, work_id in enumerate(works):
            session.add(
                FeedItem(
                    account_id=reader,
                    work_id=work_id,
                    kind="search",
                    source_id=1,
                    label="q",
                    why=f"match {rank}",
                    score=rank / 10,
                    alert="pending",
                    created_at=now,
                )
            )
        session.commit()
    budget = len(works) - 3
    original, feeds.BUDGET = feeds.BUDGET, budget
    try:
        assert feeds.send_alerts(engine, "http://testserver", now) == 1
    finally:
        feeds.BUDGET = original
    with Session(engine) as session:
        body = session.scalars(select(OutgoingMail.body)).one()
        states = dict(
            session.execute(
                select(FeedItem.why, FeedItem.alert).where(FeedItem.account_id == reader)
            ).all()
        )
    assert body.count("Why: match") == budget
    assert f"Why: match {len(works) - 1}" in body and "Why: match 0" not in body  # best first
    assert "And 3 more on your feed" in body
    assert sorted(states.values()).count("over") == 3
    assert feeds.send_alerts(engine, "http://testserver", now + timedelta(days=8)) == 0


def test_atom_feeds_for_a_researcher_and_a_saved_search(app, engine, second_batch):  # noqa: F811
    radford = record(engine, "Alec Radford")
    make_account(engine, "atom@example.org")
    client = login(app, "atom@example.org")
    assert post(client, "/searches", q="graph kernels", mode="keyword").status_code == 303
    import_file(engine, second_batch)
    rebuild(engine)
    with Session(engine) as session:
        token = session.scalars(select(SavedSearch.token)).one()

    anonymous = type(client)(app)
    feed = anonymous.get(f"/researchers/{radford}/works.atom")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    titles = [e.findtext(f"{ATOM}title") for e in root.iter(f"{ATOM}entry")]
    assert titles[0] == "Scaling Speech Recognition with Weak Supervision"  # newest first
    assert len(titles) == 5
    assert (
        root.find(f"{ATOM}link[@rel='self']")
        .get("href")
        .endswith(f"/researchers/{radford}/works.atom")
    )

    found = anonymous.get(f"/searches/{token}.atom")
    assert found.status_code == 200
    entries = list(ET.fromstring(found.content).iter(f"{ATOM}entry"))
    assert {e.findtext(f"{ATOM}title") for e in entries} == {
        "Graph Kernels for Proteins <script>alert(1)</script>",  # text, escaped in the XML
        "Graph Kernels Revisited",
    }
    assert all("graph kernels" in (e.findtext(f"{ATOM}summary") or "") for e in entries)
    assert b"<script>" not in found.content
    assert anonymous.get("/searches/not-a-real-token-at-all.atom").status_code == 404


def test_a_semantic_saved_search_matches_by_meaning(app, engine, second_batch):  # noqa: F811
    pytest.importorskip("onnxruntime")
    from peergraph.search.embeddings import load_encoder
    from peergraph.search.semantic import embed_pending

    encoder = load_encoder(threads=1)
    embed_pending(engine, encoder)
    make_account(engine, "meaning@example.org")
    client = login(app, "meaning@example.org")
    saved = post(
        client, "/searches", q="speech recognition trained on weak supervision", mode="semantic"
    )
    assert saved.status_code == 303
    import_file(engine, second_batch)
    rebuild(engine)  # the keyword and follow passes; the new works have no vectors yet
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(FeedItem)) == 0
    embed_pending(engine, encoder)
    matching.update(engine, utcnow(), ("semantic",))
    with Session(engine) as session:
        items = list(
            session.execute(
                select(Work.title, FeedItem.why).join(Work, Work.id == FeedItem.work_id)
            )
        )
    assert [t for t, _ in items] == ["Scaling Speech Recognition with Weak Supervision"]
    assert "Close in meaning" in items[0][1] and "cosine" in items[0][1]
