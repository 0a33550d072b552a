"""Request ids, JSON log lines and Prometheus metrics (web/observe.py)."""

from __future__ import annotations

import json
import logging

from fastapi.testclient import TestClient

from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.jobs import queue
from peergraph.logs import JsonFormatter
from peergraph.web.app import create_app


def test_request_ids_and_one_json_line_per_request(settings, engine, test_data, caplog):
    import_file(engine, ImportTarget(test_data / "sample.csl.json", "csl-json"))
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.INFO):
        mine = client.get("/api/works", headers={"X-Request-ID": "abc-123"})
        assert mine.headers["x-request-id"] == "abc-123"
        hostile = client.get("/api/works", headers={"X-Request-ID": "<script>" + "x" * 100})
        fresh = hostile.headers["x-request-id"]
        assert fresh != "<script>" and len(fresh) == 32 and fresh.isalnum()
    lines = [r for r in caplog.records if r.name == "peergraph.requests"]
    assert [r.route for r in lines] == ["/api/works", "/api/works"]
    assert lines[0].status == 200 and lines[0].ms >= 0
    # the JSON formatter, as `serve` uses it, inside a request's context
    from peergraph.logs import request_id

    token = request_id.set("abc-123")
    try:
        line = json.loads(JsonFormatter().format(lines[0]))
    finally:
        request_id.reset(token)
    assert line["msg"] == "request" and line["request_id"] == "abc-123"
    assert line["route"] == "/api/works" and line["status"] == 200 and line["level"] == "info"


def test_secrets_in_paths_are_never_logged(settings, engine, caplog):
    secret = "s3cr3t-atom-token-0123456789"
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.INFO):
        assert client.get(f"/searches/{secret}.atom").status_code == 404
        client.get("/verify-email?token=" + secret)
    lines = [r for r in caplog.records if r.name == "peergraph.requests"]
    assert [r.path for r in lines] == ["/searches/{token}.atom", "/verify-email"]
    ours = [r for r in caplog.records if r.name.startswith("peergraph")]
    assert not [r for r in ours if secret in str(vars(r))]


def test_metrics_count_routes_generations_and_jobs(settings, engine, test_data):
    import_file(engine, ImportTarget(test_data / "sample.csl.json", "csl-json"))
    queue.enqueue(engine, "rebuild")
    with TestClient(create_app(settings)) as client:
        client.get("/api/works")
        client.get("/api/works/999999")
        page = client.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    text = page.text
    assert (
        'peergraph_http_request_duration_seconds_count{method="GET",route="/api/works",'
        'status="200"} 1.0' in text
    )
    assert 'route="/api/works/{work_id}",status="404"' in text  # the template, not the id
    assert 'peergraph_data_generation{kind="works"} 1.0' in text
    assert 'peergraph_jobs{state="queued"} 1.0' in text
    assert 'peergraph_index_works{index="keyword"} 0.0' in text


def test_an_unexpected_error_is_logged_and_answered_in_the_error_shape(settings, caplog):
    app = create_app(settings)

    @app.get("/api/boom")
    @app.get("/boom")
    def boom() -> None:  # a route of this test's own, failing the way a bug would
        raise RuntimeError("kaput")

    with TestClient(app, base_url="http://localhost") as client:
        caplog.set_level(logging.ERROR)
        api = client.get("/api/boom", headers={"X-Request-ID": "trace-500"})
        assert api.status_code == 500
        assert api.json()["error"]["code"] == "internal"
        assert "trace-500" in api.json()["error"]["message"]
        assert api.headers["x-request-id"] == "trace-500"
        assert api.headers["x-served-by"] and "content-security-policy" in api.headers
        page = client.get("/boom")
        assert page.status_code == 500 and "<h1>Something went wrong</h1>" in page.text
    failed = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert len(failed) == 2 and "kaput" in str(failed[0].exc_info[1])


def test_every_pooled_connection_busy_is_a_quick_503(settings, engine, test_data):
    """A saturated store (every pooled connection held past the pool's timeout) answers
    503 with Retry-After, like a store that is down, never a 500 or a hang."""
    from sqlalchemy import create_engine

    from peergraph.db import session_factory

    import_file(engine, ImportTarget(test_data / "sample.csl.json", "csl-json"))
    app = create_app(settings)
    small = create_engine(settings.database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    with TestClient(app, base_url="http://localhost") as client:
        app.state.sessionmaker = session_factory(small)
        with small.connect():  # the only connection, busy
            api = client.get("/api/works")
            page = client.get("/researchers")
        assert api.status_code == page.status_code == 503
        assert api.json()["error"]["code"] == "unavailable" and api.headers["retry-after"]
        assert client.get("/api/works").status_code == 200  # free again
    small.dispose()
