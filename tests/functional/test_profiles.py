"""The researcher pages, their JSON, and the CLI commands, on a rebuilt store."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from peergraph.authors.models import AuthorRecord
from peergraph.cli.main import app as cli
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.web.app import create_app
from peergraph.works.models import Authorship
from tests.stores import prepare_store

MAX_PROFILE_QUERIES = 16  # one per part of the page (bylines and citations are one each)


@pytest.fixture
def store(settings, engine, test_data):
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    import_file(engine, ImportTarget(test_data / "openalex.jsonl", "openalex-jsonl"))
    rebuild(engine)
    return engine


@pytest.fixture
def client(settings, store):
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def record_id(engine, name: str) -> int:
    with Session(engine) as session:
        return session.scalars(
            select(AuthorRecord.id)
            .where(AuthorRecord.display_name == name)
            .order_by(AuthorRecord.works_count.desc())
        ).first()


def test_profile_page_reads_like_the_layout(client, store):
    radford = record_id(store, "Alec Radford")
    page = client.get(f"/researchers/{radford}")
    assert page.status_code == 200
    html = page.text
    order = [
        "<h1>Alec Radford</h1>",
        "<span>Researcher</span>",
        "Affiliation not imported",
        "Trust ",
        "Verification L0",
        "Unclaimed author",
        "Close collaborators",
        ">Follow<",
        "Claiming links this public author record to a researcher profile",
        "Log in to claim",
        "Open a focused conversation",
        "Research graph slice",
        "Open full explorer",
        "Published work",
    ]
    positions = [html.find(part) for part in order]
    assert all(p >= 0 for p in positions), [
        o for o, p in zip(order, positions, strict=True) if p < 0
    ]
    assert positions == sorted(positions)
    assert re.search(r"Trust \d+ · (Emerging|Developing|Established|Trusted)", html)
    assert f'href="/researchers/{radford}/trust#score"' in html  # every figure explains itself
    assert "Learning Transferable Visual Models" in html and "Robust Speech Recognition" in html
    assert "Bayesian Learning for Neural Networks" not in html  # Radford M. Neal's
    assert "<svg" in html and "Works per year" in html
    assert "<details><summary>Abstract</summary>" in html
    assert "https://doi.org/10.48550/arxiv.2103.00020" in html
    assert "<summary>Why here?</summary>" in html  # the evidence, behind a disclosure
    assert "Alec Radford, Jong Wook Kim" in html  # bylines, given name first
    ld = json.loads(
        re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    )
    assert ld["@type"] == "Person" and ld["name"] == "Alec Radford"
    assert client.get(f"/researchers/{radford}", params={"sort": "oldest"}).status_code == 200
    assert client.get(f"/researchers/{radford}", params={"sort": "sideways"}).status_code == 400
    assert client.get("/researchers/999999").status_code == 404


def test_profile_page_query_count_is_bounded(client, store, settings):
    radford = record_id(store, "Alec Radford")
    statements: list[str] = []
    engine = client.app.state.engine
    # the semantic index's own reload check (a look at the data generations every
    # 2 s at most, and the reload itself) is not per-page work
    event.listen(
        engine,
        "before_cursor_execute",
        lambda *args: (
            statements.append(args[2])
            if "work_embeddings" not in args[2] and "FROM generations" not in args[2]
            else None
        ),
    )
    client.get(f"/researchers/{radford}")
    count_small = len(statements)
    statements.clear()
    client.get(f"/researchers/{record_id(store, 'Radford M. Neal')}")
    assert count_small <= MAX_PROFILE_QUERIES
    assert len(statements) == count_small  # no N+1: the same count whatever the record


def test_trust_page_lists_every_item(client, store):
    radford = record_id(store, "Alec Radford")
    page = client.get(f"/researchers/{radford}/trust")
    assert page.status_code == 200
    assert "Evidence ledger" in page.text and "Record integrity" in page.text
    assert "1 / (number of authors − 1)" in page.text
    assert "Jong Wook Kim" in page.text


def test_work_page_links_authors_with_why(client, store):
    api = client.get("/api/works", params={"per_page": 100}).json()["items"]
    clip = next(w for w in api if w["title"].startswith("Learning Transferable"))
    page = client.get(f"/works/{clip['id']}")
    radford = record_id(store, "Alec Radford")
    assert f'<a href="/researchers/{radford}">Alec Radford</a>' in page.text
    assert page.text.count("Why these authors?") == 1  # one disclosure for the whole list
    detail = client.get(f"/api/works/{clip['id']}").json()
    line = page.text.split('<ol class="author-line">')[1].split("</ol>")[0]
    assert line.count("<li>") == len(detail["authorships"]) >= 2  # all of them, on one line
    first = detail["authorships"][0]
    assert first["record_id"] == radford and first["record_name"] == "Alec Radford"
    assert first["link_method"] == "model" and "confidence" in first["why"]


def test_researchers_list_and_filters(client, store):
    page = client.get("/researchers")
    assert page.status_code == 200 and "Alec Radford" in page.text
    filtered = client.get("/researchers", params={"q": "radf"})
    assert "Alec Radford" in filtered.text and "Radford M. Neal" not in filtered.text
    api = client.get("/api/researchers", params={"q": "neal"}).json()
    assert [r["display_name"] for r in api["items"]] == ["Radford M. Neal"]
    institution = client.get("/api/researchers", params={"institution": 1}).json()
    assert [r["display_name"] for r in institution["items"]] == ["A. Lovelace"]
    lovelace = institution["items"][0]["id"]
    profile = client.get(f"/researchers/{lovelace}")
    assert '<a href="/institutions/1">University of Examples</a>' in profile.text
    assert client.get(f"/api/researchers/{lovelace}").json()["affiliations"][0]["id"] == 1


def test_researcher_api(client, store):
    radford = record_id(store, "Alec Radford")
    data = client.get(f"/api/researchers/{radford}").json()
    assert data["display_name"] == "Alec Radford" and data["claimed"] is False
    assert data["counts"]["works"] == 4 and data["counts"]["followers"] == 0
    assert data["trust"]["verification_level"] == "L0"
    assert data["trust"]["score"] == round(sum(i["points"] for i in data["trust"]["ledger"]))
    assert {c["display_name"] for c in data["close_collaborators"]} == {
        "Jong Wook Kim",
        "Ilya Sutskever",
        "Luke Metz",
        "Soumith Chintala",
    }
    works = client.get(f"/api/researchers/{radford}/works", params={"sort": "oldest"}).json()
    assert [w["year"] for w in works["items"]] == [2016, 2016, 2021, 2023]
    assert all(w["why"] for w in works["items"])
    assert client.get("/api/researchers/999999").json()["error"]["code"] == "not_found"
    spec = client.get("/api/openapi.json").json()
    assert "/api/researchers/{record_id}" in spec["paths"]


def test_retired_ids_redirect_with_301(client, store):
    with Session(store) as session:
        for orcid, authorship in zip(
            ["0000-0002-1825-0097", "0000-0002-1694-233X"],
            session.scalars(
                select(Authorship).where(Authorship.family == "Doe").order_by(Authorship.id)
            ),
            strict=True,
        ):
            session.execute(
                update(Authorship).where(Authorship.id == authorship.id).values(orcid=orcid)
            )
        session.commit()
    rebuild(store, full=True)  # the store was edited by hand, not through an import
    with Session(store) as session:
        ids = sorted(
            session.scalars(select(AuthorRecord.id).where(AuthorRecord.display_name == "Jane Doe"))
        )
        session.execute(
            update(Authorship).where(Authorship.family == "Doe").values(orcid="0000-0002-1825-0097")
        )
        session.commit()
    rebuild(store, full=True)
    old, new = ids[1], ids[0]
    page = client.get(f"/researchers/{old}")
    assert page.status_code == 301 and page.headers["location"] == f"/researchers/{new}"
    api = client.get(f"/api/researchers/{old}/works")
    assert api.status_code == 301 and api.headers["location"] == f"/api/researchers/{new}/works"


def test_cli_rebuild_profile_and_eval(tmp_path, test_data):
    runner = CliRunner()
    data = ["--data-dir", str(prepare_store(tmp_path / "store"))]
    assert (
        runner.invoke(cli, [*data, "import", "-q", str(test_data / "profiles.csl.json")]).exit_code
        == 0
    )
    result = runner.invoke(cli, [*data, "rebuild"])
    assert result.exit_code == 0 and "full rebuild: 23 authorships" in result.output
    assert "up to date" in runner.invoke(cli, [*data, "rebuild", "--if-stale"]).output
    again = runner.invoke(cli, [*data, "rebuild"])
    assert again.exit_code == 0 and "incremental rebuild: 0 authorships" in again.output
    shown = runner.invoke(cli, [*data, "profile", "Alec Radford"])
    assert shown.exit_code == 0
    assert "Trust" in shown.stdout and "Robust Speech Recognition" in shown.stdout
    assert runner.invoke(cli, [*data, "profile", "Nobody Here"]).exit_code == 1

    gold = tmp_path / "gold.tsv"
    gold.write_text(
        "record_id\tauthor_index\tperson_id\n"
        "radford2016dcgan\t0\talec\nsalimans2016gans\t4\talec\nradford2021clip\t0\talec\n"
        "neal1996bayesian\t0\tneal\nneal1998annealed\t0\tneal\n"
    )
    evaluated = runner.invoke(
        cli, ["eval", "disambiguation", str(test_data / "profiles.csl.json"), "--gold", str(gold)]
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "B³        precision 1.0000  recall 1.0000  F1 1.0000" in evaluated.stdout
    bad = tmp_path / "bad.tsv"
    bad.write_text("record\tindex\n")
    failed = runner.invoke(
        cli, ["eval", "disambiguation", str(test_data / "profiles.csl.json"), "--gold", str(bad)]
    )
    assert failed.exit_code == 1 and "missing columns" in failed.output
