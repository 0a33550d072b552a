"""The search page, the search API and the CLI command."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from peergraph.cli.main import app as cli
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.web.app import create_app


@pytest.fixture
def client(settings, engine, test_data):
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    with TestClient(create_app(settings)) as client:
        yield client


def test_search_api(client):
    body = client.get("/api/search", params={"q": "speech recognition"}).json()
    assert body["total"] >= 1 and body["mode"] == "keyword"
    assert body["items"][0]["title"] == "Robust Speech Recognition via Large-Scale Weak Supervision"
    assert "<mark>" in body["items"][0]["snippet"]
    for params in ({"q": ""}, {"q": "the"}, {"q": "x" * 5_000}, {"q": "gan", "mode": "nope"}):
        response = client.get("/api/search", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "bad_request"
    assert client.get("/api/search", params={"q": "gan", "page": 50}).status_code == 404
    assert client.get("/api/search", params={"q": "gan", "page": 0}).status_code == 422


def test_search_page(client):
    page = client.get("/search", params={"q": "Markov chain"})
    assert page.status_code == 200
    assert "Annealed Importance Sampling" in page.text and "<mark>" in page.text
    empty = client.get("/search")
    assert empty.status_code == 200 and 'role="search"' in empty.text
    friendly = client.get("/search", params={"q": "!!!"})
    assert friendly.status_code == 200 and "no searchable words" in friendly.text
    huge = client.get("/search", params={"q": "y" * 5_000})
    assert huge.status_code == 200 and "limit is 1,000" in huge.text


def test_search_and_eval_commands(tmp_path, test_data, shared_data):
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    runner.invoke(cli, [*data, "import", "-q", str(test_data / "profiles.csl.json")])
    found = runner.invoke(cli, [*data, "search", "generative adversarial"])
    assert found.exit_code == 0 and "Improved Techniques for Training GANs" in found.stdout
    assert runner.invoke(cli, [*data, "search", "the"]).exit_code == 2
    evaluated = runner.invoke(
        cli, ["eval", "beir", str(shared_data / "scifact-beir"), "--mode", "keyword"]
    )
    assert evaluated.exit_code == 0 and "nDCG@10    0.70" in evaluated.stdout
    assert (
        runner.invoke(
            cli, ["eval", "beir", str(shared_data / "scifact-beir"), "--mode", "x"]
        ).exit_code
        == 1
    )
    missing = runner.invoke(cli, ["eval", "beir", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "error:" in missing.output
