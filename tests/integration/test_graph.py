"""Graph slices from a real store: ranking and caps, long author lists, determinism, the
cache across imports and rebuilds, GraphML and GEXF read back by networkx, and clear
4xx answers to bad requests (graph/, docs/graph.md)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import networkx as nx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from peergraph.authors.models import AuthorRecord
from peergraph.graph.slices import build_slice
from peergraph.graph.store import FIRST_AUTHORS, LAST_AUTHORS, GraphStore
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.web.app import create_app
from peergraph.works.models import Work

CONSORTIUM = 40  # authors on one made-up consortium paper


def consortium_paper(folder: Path) -> Path:
    authors = [
        {"given": f"Member{n:02d}", "family": f"Consortium{n:02d}"} for n in range(CONSORTIUM)
    ]
    authors[3] = {"given": "Alec", "family": "Radford"}
    path = folder / "consortium.csl.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": "big",
                    "type": "article-journal",
                    "title": "A very large collaboration on contrastive learning",
                    "author": authors,
                    "issued": {"date-parts": [[2024]]},
                    "container-title": "Journal of Examples",
                }
            ]
        )
    )
    return path


@pytest.fixture
def store(settings, engine, test_data):  # type: ignore[no-untyped-def]
    import_file(engine, ImportTarget(test_data / "openalex.jsonl", "openalex-jsonl"))
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    rebuild(engine)
    return settings


def record_id(engine, name: str) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return session.scalars(
            select(AuthorRecord.id).where(AuthorRecord.display_name == name)
        ).one()


def test_a_slice_is_ranked_capped_and_explains_every_node(store, engine):
    radford = record_id(engine, "Alec Radford")
    with Session(engine) as session:
        piece = build_slice(GraphStore(session), ("researcher", radford), depth=1, limit=6)
        assert piece is not None
        assert len(piece.nodes) == 6 and piece.nodes[0].key == ("researcher", radford)
        kinds = {n.type for n in piece.nodes[1:]}
        assert {"researcher", "work", "topic"} <= kinds  # the edge types take turns
        assert all(n.why for n in piece.nodes)
        assert any(n.why.startswith("co-author of Alec Radford") for n in piece.nodes)
        weights = [n.weight for n in piece.nodes[1:]]
        assert weights == sorted(weights, reverse=True)
        keys = {n.key for n in piece.nodes}
        assert all(e.source in keys and e.target in keys for e in piece.edges)

        wide = build_slice(GraphStore(session), ("researcher", radford), depth=2, limit=40)
        assert wide is not None and len(wide.nodes) > len(piece.nodes)
        second = [n for n in wide.nodes if n.depth == 2]
        assert second and all(n.why.startswith("via ") for n in second)
        assert max(n.weight for n in second) <= 0.5  # a hop away counts half at most

        people = build_slice(
            GraphStore(session), ("researcher", radford), depth=2, types=("researcher",)
        )
        assert people is not None and {n.type for n in people.nodes} == {"researcher"}
        assert {e.type for e in people.edges} == {"co-authored"}


def test_the_same_data_gives_the_same_slice(store, engine):
    radford = record_id(engine, "Alec Radford")
    with Session(engine) as session:
        first = build_slice(GraphStore(session), ("researcher", radford), depth=2)
    with Session(engine) as session:
        again = build_slice(GraphStore(session), ("researcher", radford), depth=2)
    assert first is not None and again is not None
    assert json.dumps(first.as_json()) == json.dumps(again.as_json())


def test_a_long_author_list_is_capped_not_a_clique(store, engine, tmp_path):
    import_file(engine, ImportTarget(consortium_paper(tmp_path), "csl-json"))
    rebuild(engine)
    with Session(engine) as session:
        big = session.scalars(select(Work.id).where(Work.title.like("A very large%"))).one()
        piece = build_slice(GraphStore(session), ("work", big), limit=200)
        assert piece is not None
        authors = [n for n in piece.nodes if n.type == "researcher"]
        assert len(authors) == FIRST_AUTHORS + LAST_AUTHORS
        assert any(n.why.endswith(f"(author 4 of {CONSORTIUM})") for n in authors)
        co = [e for e in piece.edges if e.type == "co-authored"]
        assert len(co) < len(authors) * (len(authors) - 1) // 2  # no clique
        authored = [e for e in piece.edges if e.type == "authored"]
        assert authored and all(e.weight == pytest.approx(1 / (CONSORTIUM - 1)) for e in authored)
        fourth = next(n for n in authors if n.why.endswith(f"(author 4 of {CONSORTIUM})"))
        own = build_slice(GraphStore(session), fourth.key, limit=200)
        assert own is not None
        works = {n.key: n.weight for n in own.nodes if n.type == "work"}
        assert works[("work", big)] == min(works.values())  # below any smaller paper


def test_slices_never_outlive_an_import_or_a_rebuild(store, engine, tmp_path):
    app = create_app(store)
    radford = record_id(engine, "Alec Radford")
    with TestClient(app) as client:
        params = {"node": f"researcher:{radford}", "limit": 200}
        before = client.get("/api/graph/slice", params=params).json()
        assert client.get("/api/graph/slice", params=params).json() == before
        assert app.state.slices.hits == 1
        paper = tmp_path / "gpt2.csl.json"
        paper.write_text(
            json.dumps(
                [
                    {
                        "id": "gpt2",
                        "type": "article-journal",
                        "title": "Language Models are Unsupervised Multitask Learners",
                        "author": [
                            {"given": "Alec", "family": "Radford"},
                            {"given": "Jong Wook", "family": "Kim"},
                            {"given": "Ilya", "family": "Sutskever"},
                        ],
                        "issued": {"date-parts": [[2019]]},
                    }
                ]
            )
        )
        import_file(engine, ImportTarget(paper, "csl-json"))
        client.get("/api/graph/slice", params=params)  # the import alone is a new key
        assert app.state.slices.misses == 2
        rebuild(engine)
        after = client.get("/api/graph/slice", params=params).json()
        labels = {n["label"] for n in after["nodes"]}
        assert "Language Models are Unsupervised Multitask Learners" in labels
        assert app.state.slices.misses == 3
        # another process's app (its own cache) agrees at once
        with TestClient(create_app(store)) as other:
            assert other.get("/api/graph/slice", params=params).json() == after


def test_graphml_and_gexf_read_back_in_networkx(store, engine):
    radford = record_id(engine, "Alec Radford")
    with TestClient(create_app(store)) as client:
        params = {"node": f"researcher:{radford}", "depth": 2}
        piece = client.get("/api/graph/slice", params=params).json()
        graphml = client.get("/api/graph/slice", params={**params, "format": "graphml"})
        assert graphml.headers["content-type"].startswith("application/graphml+xml")
        assert "attachment" in graphml.headers["content-disposition"]
        gexf = client.get("/api/graph/slice", params={**params, "format": "gexf"})
    ids = {n["id"] for n in piece["nodes"]}
    read = nx.read_graphml(io.BytesIO(graphml.content))
    assert set(read.nodes) == ids and read.number_of_edges() == len(piece["edges"])
    seed = read.nodes[f"researcher:{radford}"]
    assert seed["label"] == "Alec Radford" and seed["type"] == "researcher"
    kinds = sorted(d["type"] for _, _, d in read.edges(data=True))
    assert kinds == sorted(e["type"] for e in piece["edges"])
    other = nx.read_gexf(io.BytesIO(gexf.content))
    assert set(other.nodes) == ids and other.number_of_edges() == len(piece["edges"])
    assert other.nodes[f"researcher:{radford}"]["label"] == "Alec Radford"


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"node": "researcher:999999"}, 404, "no researcher 999999"),
        ({"node": "researcher:abc"}, 422, ""),
        ({"node": "person:1"}, 422, ""),
        ({"node": "researcher:1", "depth": 9}, 422, ""),
        ({"node": "researcher:1", "limit": 100000}, 422, ""),
        ({"node": "researcher:1", "types": "work,planet"}, 422, "unknown node type 'planet'"),
        ({"node": "researcher:1", "format": "svg"}, 422, ""),
    ],
)
def test_bad_requests_get_a_clear_4xx(store, params, status, words):
    with TestClient(create_app(store)) as client:
        answer = client.get("/api/graph/slice", params=params)
    assert answer.status_code == status
    assert words in answer.json()["error"]["message"]


def test_the_command_line_writes_a_slice_and_lists_an_ambiguous_name(store, engine, tmp_path):
    from typer.testing import CliRunner

    from peergraph.cli.main import app as cli

    runner = CliRunner()
    base = ["--data-dir", str(store.data_dir), "graph"]
    done = runner.invoke(cli, [*base, "Alec Radford", "--depth", "2", "--format", "graphml"])
    assert done.exit_code == 0, done.output
    read = nx.read_graphml(io.BytesIO(done.stdout.encode()))
    radford = record_id(engine, "Alec Radford")
    assert f"researcher:{radford}" in read.nodes and read.number_of_nodes() > 5
    as_json = runner.invoke(cli, [*base, f"researcher:{radford}", "--types", "researcher"])
    assert as_json.exit_code == 0
    assert {n["type"] for n in json.loads(as_json.stdout)["nodes"]} == {"researcher"}

    import_file(engine, ImportTarget(consortium_paper(tmp_path), "csl-json"))
    rebuild(engine)  # now two records are called Alec Radford
    ambiguous = runner.invoke(cli, [*base, "Alec Radford"])
    assert ambiguous.exit_code == 2 and "fits 2 nodes" in ambiguous.stderr
    assert ambiguous.stderr.count("researcher:") == 2 and ambiguous.stdout == ""
    missing = runner.invoke(cli, [*base, "Nobody At All"])
    assert missing.exit_code == 1 and "no researcher, work, topic" in missing.stderr
    bad = runner.invoke(cli, [*base, "researcher:1", "--types", "planet"])
    assert bad.exit_code == 2 and "unknown node type 'planet'" in bad.stderr
    deep = runner.invoke(cli, [*base, "researcher:1", "--depth", "9"])
    assert deep.exit_code == 2


def test_similar_edges_come_from_the_semantic_index(store, engine):
    from peergraph.search.embeddings import load_encoder
    from peergraph.search.semantic import SemanticIndex, embed_pending

    radford = record_id(engine, "Alec Radford")
    with Session(engine) as session:
        plain = build_slice(GraphStore(session, SemanticIndex(engine)), ("researcher", radford))
        assert plain is not None and "similar" not in {e.type for e in plain.edges}
    embed_pending(engine, load_encoder())
    index = SemanticIndex(engine)
    with Session(engine) as session:
        work = session.scalars(select(Work.id).order_by(Work.id)).first()
        piece = build_slice(GraphStore(session, index), ("work", work), limit=200)
        assert piece is not None
        similar = [n for n in piece.nodes if n.why.startswith("similar to")]
        assert similar and all(n.type == "work" for n in similar)
        assert {e.type for e in piece.edges} >= {"similar"}
        again = build_slice(GraphStore(session, index), ("work", work), limit=200)
        assert again is not None and again.as_json() == piece.as_json()
