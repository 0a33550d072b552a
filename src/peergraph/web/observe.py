"""Observability: request ids, structured JSON logs and Prometheus metrics.

- Every request gets an id: the caller's ``X-Request-ID`` when it is a plain token (at
  most 64 letters, digits, ``-``, ``_`` or ``.``), a fresh one otherwise. The response
  carries it back, and every log line written while the request runs includes it.
  ``X-Served-By`` names the answering process id (several processes share one port).
- ``JsonFormatter`` (peergraph/logs.py) writes one JSON object per log line (time,
  level, logger, message, request id, and any ``extra`` fields); ``serve`` and ``worker``
  log that way. Each request logs one ``request`` line with method, route, status and
  milliseconds.
- ``GET /metrics``: Prometheus text format (prometheus-client). Latency histograms per
  route template (``/researchers/{record_id}``, never the raw path, so the label set
  stays bounded), and at scrape time the data generations, the in-memory index sizes and
  the job queue (jobs per state, the running job's progress). Counted per process: with
  several web processes, scrape each (docs/architecture.md).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from peergraph.logs import request_id
from peergraph.web.errors import error_body

_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")
log = logging.getLogger("peergraph.requests")


class Metrics:
    """One app's metrics, in a registry of its own (several apps in one test process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "peergraph_http_request_duration_seconds",
            "Time to answer a request, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10),
        )
        self.generation = Gauge(
            "peergraph_data_generation",
            "The stored data generation per kind (db/generation.py).",
            ["kind"],
            registry=self.registry,
        )
        self.index_works = Gauge(
            "peergraph_index_works",
            "Works in this process's in-memory indexes.",
            ["index"],
            registry=self.registry,
        )
        self.index_generation = Gauge(
            "peergraph_keyword_index_generation",
            "Works generation of this process's in-memory BM25 index (-1: none yet).",
            registry=self.registry,
        )
        self.jobs = Gauge(
            "peergraph_jobs", "Jobs in the queue by state.", ["state"], registry=self.registry
        )
        self.job_progress = Gauge(
            "peergraph_running_job_progress",
            "Done / total of each running job (0..1).",
            ["job", "kind"],
            registry=self.registry,
        )


class RequestContext:
    """ASGI middleware: the request id, the request log line, the latency histogram."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.served_by = str(os.getpid()).encode()  # which of several processes answered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _TOKEN.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        served_by = self.served_by
        began = time.perf_counter()
        status = 500

        started = False

        async def sending(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", rid.encode()),
                    (b"x-served-by", served_by),
                ]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            # logged with the request id, answered in the API's error shape (or a plain
            # page), with the same headers as any reply. A database that is restarting or
            # gone is a 503 at once, never a hang; the pool's pre-ping reconnects when it
            # is back, without restarting peergraph. So is a request that waited
            # POOL_TIMEOUT seconds for a connection: the store is saturated.
            down = (isinstance(exc, DBAPIError) and _unreachable(exc)) or isinstance(
                exc, PoolTimeout
            )
            status = 503 if down else 500
            if down:
                log.warning("store unavailable: %s", exc.__class__.__name__)
            else:
                log.exception("unhandled error", extra={"path": _loggable(scope)})
            if started:
                raise
            await _server_error(scope, sending, rid, unavailable=down)
        finally:
            seconds = time.perf_counter() - began
            route = scope.get("route")
            template = getattr(route, "path", None) or "other"  # static files, 404s
            self.metrics.latency.labels(scope["method"], template, str(status)).observe(seconds)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": _loggable(scope),
                    "route": template,
                    "status": status,
                    "ms": round(seconds * 1000, 1),
                },
            )
            request_id.reset(token)


def _loggable(scope: Scope) -> str:
    """The path as the log shows it: a route whose path holds a secret (a saved search's
    Atom address, ``{token}``) is logged by its template, never with the secret."""
    template = getattr(scope.get("route"), "path", None) or ""
    return template if "{token}" in template else str(scope["path"])


def _unreachable(exc: DBAPIError) -> bool:
    """The database did not answer (down, restarting, connection lost; SQLite: busy past
    its timeout), as opposed to a statement that failed."""
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    if isinstance(exc.orig, sqlite3.Error):
        return "locked" in str(exc.orig) or "busy" in str(exc.orig)
    return isinstance(exc, OperationalError)


async def _server_error(scope: Scope, send: Send, rid: str, *, unavailable: bool = False) -> None:
    status = 503 if unavailable else 500
    if unavailable:
        message = (
            "The database is not answering at the moment; try again in a few seconds "
            f"(request id {rid})."
        )
        title = "Back in a moment"
    else:
        message = f"Something went wrong on our side; it is logged under request id {rid}."
        title = "Something went wrong"
    if scope["path"].startswith("/api/"):
        code = "unavailable" if unavailable else "internal"
        body = json.dumps(error_body(status, message, code)).encode()
        kind = b"application/json"
    else:
        body = (
            '<!doctype html><html lang="en"><meta charset="utf-8"><title>Error · peergraph'
            f"</title><h1>{title}</h1><p>{message}</p>"
            '<p><a href="/">Home</a></p></html>'
        ).encode()
        kind = b"text/html; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    if unavailable:
        headers.append((b"retry-after", b"5"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics of this process",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(request: Request) -> Response:
    from sqlalchemy import func, select

    from peergraph.db.generation import current
    from peergraph.jobs.queue import jobs_t

    state = request.app.state
    collected: Metrics = state.metrics
    for kind, value in current(state.engine).items():
        collected.generation.labels(kind).set(value)
    lexical = state.lexical.index
    collected.index_works.labels("keyword").set(lexical.loaded if lexical is not None else 0)
    collected.index_generation.set(lexical.stamp.generation if lexical is not None else -1)
    collected.index_works.labels("semantic").set(state.semantic.loaded)
    with state.engine.connect() as conn:
        counts = dict(
            conn.execute(select(jobs_t.c.state, func.count()).group_by(jobs_t.c.state)).all()
        )
        running = conn.execute(
            select(jobs_t.c.id, jobs_t.c.kind, jobs_t.c.done, jobs_t.c.total).where(
                jobs_t.c.state == "running"
            )
        ).all()
    for job_state in ("queued", "running", "done", "failed"):
        collected.jobs.labels(job_state).set(counts.get(job_state, 0))
    collected.job_progress.clear()
    for job_id, kind, done, total in running:
        collected.job_progress.labels(str(job_id), kind).set(done / total if total else 0.0)
    return Response(generate_latest(collected.registry), media_type=CONTENT_TYPE_LATEST)
