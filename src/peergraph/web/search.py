"""The search page and the search API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from peergraph.search import services as search
from peergraph.search.semantic import coverage as semantic_coverage
from peergraph.web.api import ERRORS, Paged, page_fields
from peergraph.web.deps import get_session

router = APIRouter()


class WorkHitOut(BaseModel):
    id: int
    title: str
    year: int | None
    type: str | None
    venue: str | None
    authors: list[str]
    score: float
    snippet: str


class SearchOut(Paged):
    query: str
    mode: str
    note: str | None
    semantic_index_works: int
    items: list[WorkHitOut]


@router.get(
    "/api/search",
    response_model=SearchOut,
    responses={400: ERRORS[422], **ERRORS},
    tags=["search"],
    summary="Search works: hybrid (default), keyword (BM25) or semantic (embeddings)",
)
def api_search(
    request: Request,
    q: str = Query("", description="the query"),
    mode: str = Query("hybrid", description="hybrid | keyword | semantic"),
    page: int = Query(1, ge=1),
    per_page: int = Query(20, ge=1, le=100),
    session: Session = Depends(get_session),
) -> Any:
    try:
        result = search.search_works(
            session, q, mode=mode, page=page, per_page=per_page, semantic=request.app.state.semantic
        )
    except search.SearchError as exc:
        raise HTTPException(400, str(exc)) from exc
    if result.total and page > result.pages:
        raise HTTPException(404, f"page {page} is past the last page ({result.pages})")
    return {
        "query": result.query,
        "mode": result.mode,
        "note": result.note,
        "semantic_index_works": result.embedded,
        "items": [search.hit_json(h) for h in result.hits],
        **page_fields(result),
    }


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(
    request: Request,
    q: str = Query("", max_length=100_000),
    mode: str = Query("hybrid", max_length=20),
    page: int = Query(1, ge=1, le=100_000),
    session: Session = Depends(get_session),
) -> HTMLResponse:
    result, problem = None, None
    coverage = semantic_coverage(request.app.state.engine)
    if q.strip():
        try:
            result = search.search_works(
                session, q, mode=mode, page=page, semantic=request.app.state.semantic
            )
        except search.SearchError as exc:
            problem = str(exc)
        if result is not None and result.total and page > result.pages:
            problem, result = f"There is no page {page}; the last page is {result.pages}.", None
    return request.app.state.templates.TemplateResponse(
        request,
        "search.html",
        {"q": q[:1000], "mode": mode, "result": result, "problem": problem, "coverage": coverage},
        status_code=200,
    )
