"""Liveness and readiness for process managers and load balancers.

- ``GET /healthz``: 200 whenever the process answers (liveness).
- ``GET /readyz``: 200 when the store is reachable, its schema is this version's, and
  the in-memory keyword index (when this process keeps one) is at the stored works
  generation; 503 with the reasons otherwise. A freshly started server is not ready
  until its BM25 index is built; after another process imports, it is not ready until
  the rebuild (searches are still right meanwhile: FTS5 answers them).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError

from peergraph.db.engine import current_revision, head_revision
from peergraph.db.generation import current

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str = Field(description='"ok"')
    pid: int = Field(description="the answering process (several serve one port)")


class ReadyOut(BaseModel):
    ready: bool
    pid: int = Field(description="the answering process")
    problems: list[str] = Field(description="why not ready; empty when ready")
    schema_revision: str | None
    generations: dict[str, int] = Field(
        description="the stored data generations: works, records, vectors"
    )
    keyword_index_generation: int | None = Field(
        description="works generation of this process's in-memory BM25 index; null: none"
    )


@router.get("/healthz", response_model=HealthOut, summary="Liveness: the process answers")
def healthz() -> Any:
    return {"status": "ok", "pid": os.getpid()}


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "not ready, with the reasons"}},
    summary="Readiness: store reachable, schema current, in-memory indexes current",
)
def readyz(request: Request) -> Any:
    state = request.app.state
    problems: list[str] = []
    revision: str | None = None
    generations: dict[str, int] = {}
    try:
        revision = current_revision(state.engine)
        if revision != head_revision():
            problems.append(f"schema at revision {revision}, not {head_revision()}")
        else:
            generations = current(state.engine)
    except DBAPIError as exc:
        problems.append(f"store unreachable: {type(exc.orig).__name__}")
    index = state.lexical.index
    if state.index_job is not None and generations:
        if index is None:
            problems.append("keyword index in memory: still building")
        elif state.lexical.fresh(generations) is None:
            problems.append("keyword index in memory: behind the stored works, rebuilding")
        if state.facts.fresh(generations) is None:
            problems.append("search facts: being mapped or built at the stored generations")
    body = {
        "ready": not problems,
        "pid": os.getpid(),
        "problems": problems,
        "schema_revision": revision,
        "generations": generations,
        "keyword_index_generation": index.stamp.generation if index is not None else None,
    }
    return JSONResponse(body, status_code=200 if not problems else 503)
