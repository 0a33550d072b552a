"""Server-rendered HTML pages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from peergraph.db import generation
from peergraph.profiles import queries as profiles
from peergraph.profiles.topic_page import ACTIVE_WINDOW, active_topics
from peergraph.search.similar import similar_works
from peergraph.web.deps import WorkId, get_session
from peergraph.works import services as works

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    page: int = Query(1, ge=1, le=1_000_000),
    session: Session = Depends(get_session),
) -> HTMLResponse:
    counts = works.count_tables(session)
    listing = works.list_works(session, page=page, per_page=request.app.state.settings.page_size)
    if counts["works"] and page > listing.pages:
        raise HTTPException(404, f"There is no page {page}; the last page is {listing.pages}.")
    return request.app.state.templates.TemplateResponse(
        request,
        "home.html",
        {
            "counts": counts,
            "researchers": profiles.count_records(session),
            "listing": listing,
            "sources": _counts_by_source(request, session),
            "active_topics": active_topics(session) if page == 1 else [],
            "active_window": ACTIVE_WINDOW,
        },
    )


def _counts_by_source(request: Request, session: Session) -> list[dict[str, Any]]:
    """The home page's "from csl-json (93,665 works), …" line: a scan of every provenance
    row (80 ms on the shared corpus), so remembered per process until an import advances
    the ``works`` generation (one indexed read; db/generation.py)."""
    stamp = generation.read(session.connection())["works"]
    memo = getattr(request.app.state, "source_counts", None)
    if memo is None or memo[0] != stamp:
        memo = request.app.state.source_counts = (stamp, works.counts_by_source(session))
    return memo[1]


@router.get("/works/{work_id}", response_class=HTMLResponse)
def work_page(
    request: Request, work_id: WorkId, session: Session = Depends(get_session)
) -> HTMLResponse:
    work = works.get_work(session, work_id)
    if work is None:
        raise HTTPException(404, f"There is no work with id {work_id}.")
    affiliations, affiliation_numbers = works.numbered_affiliations(work)
    return request.app.state.templates.TemplateResponse(
        request,
        "work.html",
        {
            "work": work,
            "affiliations": affiliations,
            "affiliation_numbers": affiliation_numbers,
            "topics": works.work_topics(session, work_id),
            "provenance": works.work_provenance(
                session, work_id, count_cap=works.PROVENANCE_COUNT_CAP
            ),
            "authors": profiles.work_authors(session, work_id),
            "citing": works.work_references(session, work_id),
            "evidence_sentence": profiles.evidence_sentence,
            "similar": similar_works(session, request.app.state.semantic, work_id) or [],
            "semantic_ready": request.app.state.semantic.loaded > 0,
        },
    )


@router.get("/works/{work_id}/sources", response_class=HTMLResponse)
def work_sources_page(
    request: Request,
    work_id: WorkId,
    page: int = Query(1, ge=1, le=1_000_000),
    session: Session = Depends(get_session),
) -> HTMLResponse:
    """Every record a work came from, paged."""
    work = works.get_work(session, work_id)
    if work is None:
        raise HTTPException(404, f"There is no work with id {work_id}.")
    provenance = works.work_provenance(
        session, work_id, page=page, per_page=works.PROVENANCE_PER_PAGE
    )
    if page > provenance.pages:
        raise HTTPException(404, f"There is no page {page}; the last page is {provenance.pages}.")
    return request.app.state.templates.TemplateResponse(
        request, "work_sources.html", {"work": work, "provenance": provenance}
    )


@router.get("/api/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI for the OpenAPI description, from our own static files (no CDN)."""
    return request.app.state.templates.TemplateResponse(request, "api_docs.html", {})
