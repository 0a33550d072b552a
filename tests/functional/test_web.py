"""Pages and the JSON API through the ASGI app (real store, no mocks)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.web.app import create_app


@pytest.fixture
def client(settings, engine):
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def loaded(engine, test_data):
    for name, fmt in (("openalex.jsonl", "openalex-jsonl"), ("sample.csl.json", "csl-json")):
        import_file(engine, ImportTarget(test_data / name, fmt))


def test_empty_instance_explains_how_to_import(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "No data imported yet" in page.text
    assert "peergraph import" in page.text
    empty = client.get("/api/works").json()
    assert (empty["items"], empty["total"], empty["pages"]) == ([], 0, 1)


def test_home_lists_works_with_counts(client, loaded):
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="en">' in html and "<h1>" in html
    assert "Attention Is All You Need" in html
    assert "Ashish Vaswani, Noam Shazeer" in html
    assert "NeurIPS" in html and "2017" in html
    assert "<dt>Works</dt><dd>6</dd>" in html
    # each listed work links to its page, which shows its parts
    work_id = client.get("/api/works", params={"per_page": 100}).json()["items"]
    vaswani = next(w for w in work_id if w["title"] == "Attention Is All You Need")
    assert f'href="/works/{vaswani["id"]}"' in html
    work_page = client.get(f"/works/{vaswani['id']}")
    assert work_page.status_code == 200
    assert "https://doi.org/10.5555/3295222.3295349" in work_page.text
    assert "sample.csl.json" in work_page.text  # provenance


def test_home_source_line_follows_imports(client, engine, test_data):
    """The "From …" line is remembered per process, and a new import shows at once."""
    import_file(engine, ImportTarget(test_data / "openalex.jsonl", "openalex-jsonl"))
    first = client.get("/").text
    assert "From openalex-jsonl" in first and "csl-json" not in first
    import_file(engine, ImportTarget(test_data / "sample.csl.json", "csl-json"))
    second = client.get("/").text
    assert "From csl-json (4 works), openalex-jsonl" in second and "in 2 imports" in second


def test_home_paging(client, loaded, settings):
    assert client.get("/", params={"page": 1}).status_code == 200
    missing = client.get("/", params={"page": 99})
    assert missing.status_code == 404 and "last page" in missing.text
    bad = client.get("/", params={"page": "abc"})
    assert bad.status_code == 400


def test_api_works_and_one_work(client, loaded):
    listing = client.get("/api/works", params={"per_page": 2})
    assert listing.status_code == 200
    body = listing.json()
    assert body["total"] == 6 and body["pages"] == 3 and len(body["items"]) == 2
    assert set(body["items"][0]) == {"id", "title", "year", "type", "venue", "authors"}
    all_items = client.get("/api/works", params={"per_page": 100}).json()["items"]
    deep = next(w for w in all_items if w["title"] == "Deep learning for deep learning")
    detail = client.get(f"/api/works/{deep['id']}").json()
    assert detail["abstract"] == "deep learning about deep learning"
    assert detail["identifiers"] == {"doi": "10.1000/xyz.1", "openalex": "W100", "pmid": "123456"}
    assert detail["authorships"][0]["orcid"] == "0000-0002-1825-0097"
    assert detail["authorships"][0]["institutions"][0]["ror"] == "03yrm5c26"
    assert detail["topics"][0] == {
        "name": "Neural Networks and Applications",
        "taxonomy": "openalex",
        "external_id": "T10320",
        "field": "Computer Science",
        "score": 0.99,
        "is_primary": True,
    }


def test_api_errors_are_consistent_json(client, loaded):
    missing = client.get("/api/works/999999")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"status": 404, "code": "not_found", "message": "no work with id 999999"}
    }
    for params in ({"page": 0}, {"per_page": 1000}, {"page": "x"}):
        response = client.get("/api/works", params=params)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_parameter"
    assert client.get("/api/works/abc").status_code == 422
    assert client.get("/works/999999").status_code == 404


def test_openapi_documents_the_api(client):
    spec = client.get("/api/openapi.json").json()
    paths = {"/api/works", "/api/works/{work_id}", "/api/stats", "/api/imports"}
    assert paths <= set(spec["paths"])
    assert "ErrorResponse" in spec["components"]["schemas"]


def test_api_stats_and_imports(client, loaded):
    stats = client.get("/api/stats").json()
    assert stats["tables"]["works"] == 6
    imports = client.get("/api/imports").json()
    assert [i["format"] for i in imports] == ["csl-json", "openalex-jsonl"]
    assert imports[0]["skipped_by_reason"] == {"wrong-type": 2, "missing-title": 1}
