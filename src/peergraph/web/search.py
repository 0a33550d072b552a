"""The search page and the search API."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from peergraph.db import generation
from peergraph.jobs.worker import embedding_status
from peergraph.profiles.queries import get_record
from peergraph.search import services as search
from peergraph.search import similar
from peergraph.search.semantic import coverage as semantic_coverage
from peergraph.web.api import ERRORS, Paged, page_fields
from peergraph.web.deps import MAX_YEAR, RecordId, WorkId, get_session
from peergraph.works.services import author_name, work_summary

router = APIRouter()


class WorkHitOut(BaseModel):
    id: int
    title: str
    year: int | None
    type: str | None
    venue: str | None
    authors: list[str] = Field(description="the first ten")
    authors_count: int
    score: float = Field(
        description="keyword: BM25; semantic: cosine; hybrid: sum of the two z-scores"
    )
    snippet: str


class ResearcherHitOut(BaseModel):
    id: int
    name: str
    works_count: int
    by_name: bool = Field(description="every word of the query matches the name")
    matching_works: int = Field(description="their works among the query's top 200")
    reason: str
    url: str


class TopicHitOut(BaseModel):
    id: int
    name: str
    taxonomy: str
    matching_works: int = Field(description="works with this topic among the query's top 100")
    reason: str
    researchers_url: str
    url: str = Field(description="the topic's page")


class SearchOut(Paged):
    query: str
    mode: str
    note: str | None
    filters: dict[str, str]
    semantic_index_works: int
    researchers: list[ResearcherHitOut] = Field(description="first page only")
    topics: list[TopicHitOut] = Field(description="first page only")
    items: list[WorkHitOut]


def current_indexes(state: Any, session: Session) -> dict[str, Any]:
    """The server's search indexes, the in-memory ones only when they match the stored
    data or lag it by less than search/lag.py allows: one read of the data generations
    for all of them, on the request's own connection and in its transaction."""
    current = generation.read(session.connection())
    return {
        "semantic": state.semantic,
        "lexical": state.lexical.fresh(current),
        "facts": state.facts.fresh(current),
    }


def _filters(
    year_from: int | None, year_to: int | None, venue: str, type_: str, has_abstract: str
) -> search.Filters:
    flag = has_abstract.strip().lower()
    if flag not in ("", "true", "false", "yes", "no", "1", "0"):
        raise search.SearchError(f"has_abstract must be true or false, not {has_abstract!r}.")
    return search.Filters(
        year_from=year_from,
        year_to=year_to,
        venue=venue.strip() or None,
        type=type_.strip() or None,
        has_abstract=None if not flag else flag in ("true", "yes", "1"),
    )


def result_json(result: search.SearchResult) -> dict[str, Any]:
    return {
        "query": result.query,
        "mode": result.mode,
        "note": result.note,
        "filters": result.filters.params(),
        "semantic_index_works": result.embedded,
        "researchers": [
            {
                "id": h.record.id,
                "name": h.record.display_name,
                "works_count": h.record.works_count,
                "by_name": h.by_name,
                "matching_works": h.matching_works,
                "reason": h.reason,
                "url": f"/researchers/{h.record.id}",
            }
            for h in result.researchers
        ],
        "topics": [
            {
                "id": h.topic.id,
                "name": h.topic.name,
                "taxonomy": h.topic.taxonomy,
                "matching_works": h.matching_works,
                "reason": h.reason,
                "researchers_url": f"/researchers?topic={h.topic.id}",
                "url": f"/topics/{h.topic.id}",
            }
            for h in result.topics
        ],
        "items": [search.hit_json(h) for h in result.hits],
        **page_fields(result),
    }


@router.get(
    "/api/search",
    response_model=SearchOut,
    responses={400: ERRORS[422], **ERRORS},
    tags=["search"],
    summary="Search works, researchers and topics: hybrid (default), keyword or semantic",
    description=(
        "Works ranked by BM25 (keyword), by cosine of text embeddings (semantic) or by both"
        " fused (hybrid), after the filters; researchers (name matches first, then by how"
        " well their body of work matches) and topics on the first page. A parameter outside"
        " this schema is a 422; a valid one the data cannot answer (a venue nothing matches,"
        " a query of stop words only) a 400 that says what to change; a page past the last"
        " is 404."
    ),
)
def api_search(
    request: Request,
    q: str = Query(..., min_length=1, max_length=1000, description="the query"),
    mode: Literal["hybrid", "keyword", "semantic"] = Query("hybrid"),
    year_from: int | None = Query(
        None, ge=-MAX_YEAR, le=MAX_YEAR, description="earliest publication year"
    ),
    year_to: int | None = Query(
        None, ge=-MAX_YEAR, le=MAX_YEAR, description="latest publication year"
    ),
    venue: str = Query("", description="part of a venue's name, e.g. NeurIPS"),
    type: str = Query("", description="work type, e.g. article, paper-conference"),
    has_abstract: bool | None = Query(
        None, description="true: only works with an abstract; false: only works without"
    ),
    page: int = Query(1, ge=1, le=100_000),
    per_page: int = Query(20, ge=1, le=100),
    session: Session = Depends(get_session),
) -> Any:
    flag = "" if has_abstract is None else str(has_abstract).lower()
    try:
        filters = _filters(year_from, year_to, venue, type, flag)
        result = search.search_works(
            session,
            q,
            mode=mode,
            page=page,
            per_page=per_page,
            filters=filters,
            **current_indexes(request.app.state, session),
        )
    except search.SearchError as exc:
        raise HTTPException(400, str(exc)) from exc
    if result.total and page > result.pages:
        raise HTTPException(404, f"page {page} is past the last page ({result.pages})")
    return result_json(result)


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(
    request: Request,
    q: str = Query("", max_length=100_000),
    mode: str = Query("hybrid", max_length=20),
    year_from: str = Query("", max_length=20),
    year_to: str = Query("", max_length=20),
    venue: str = Query("", max_length=1000),
    type: str = Query("", max_length=100),
    has_abstract: str = Query("", max_length=20),
    page: int = Query(1, ge=1, le=100_000),
    session: Session = Depends(get_session),
) -> HTMLResponse:
    result, problem = None, None
    state = request.app.state
    filters = search.Filters()
    try:
        years = [int(y) if y.strip() else None for y in (year_from, year_to)]
        if any(y is not None and abs(y) > MAX_YEAR for y in years):
            raise ValueError("out of range")
    except ValueError:
        problem, years = "Years are written as numbers, e.g. 2019.", [None, None]
    try:
        filters = _filters(years[0], years[1], venue, type, has_abstract)
    except search.SearchError as exc:
        problem = str(exc)
    if q.strip() and problem is None:
        try:
            result = search.search_works(
                session,
                q,
                mode=mode,
                page=page,
                filters=filters,
                **current_indexes(state, session),
            )
        except search.SearchError as exc:
            problem = str(exc)
        if result is not None and result.total and page > result.pages:
            problem, result = f"There is no page {page}; the last page is {result.pages}.", None
    link = {"q": q[:1000], "mode": mode, **filters.params()}
    return state.templates.TemplateResponse(
        request,
        "search.html",
        {
            "q": q[:1000],
            "mode": mode,
            "form": {
                "year_from": year_from[:20],
                "year_to": year_to[:20],
                "venue": venue[:200],
                "type": type[:100],
                "has_abstract": has_abstract[:20],
            },
            "types": search.work_types(session),
            "link": link,
            "result": result,
            "problem": problem,
            "status": index_status(state),
        },
        status_code=200,
    )


class IndexStatusOut(BaseModel):
    works: int
    semantic_index_works: int
    semantic_job: str | None = Field(
        description="starting | embedding | idle | off | unavailable | failed; null: no job"
    )
    semantic_job_message: str | None
    works_per_second: float | None
    keyword_in_memory_works: int | None = Field(
        description="works in the in-memory BM25 index; null while FTS5 answers alone"
    )


@router.get(
    "/api/search/status",
    response_model=IndexStatusOut,
    tags=["search"],
    summary="How complete the search indexes are (semantic coverage, background job)",
)
def api_index_status(request: Request) -> Any:
    status = index_status(request.app.state)
    job = status["job"] or {}
    lexical = request.app.state.lexical.index
    return {
        "works": status["coverage"].total,
        "semantic_index_works": status["coverage"].embedded,
        "semantic_job": job.get("state"),
        "semantic_job_message": job.get("message"),
        "works_per_second": job.get("rate"),
        "keyword_in_memory_works": lexical.loaded if lexical is not None else None,
    }


def index_status(state: Any) -> dict[str, Any]:
    """The semantic index's coverage and where the newest embedding job stands (jobs run
    in a worker; the queue is what every process sees)."""
    return {"coverage": semantic_coverage(state.engine), "job": embedding_status(state.engine)}


class SimilarWorkOut(WorkHitOut):
    shared_topics: list[str]
    reason: str


class SimilarWorksOut(BaseModel):
    work_id: int
    semantic_index_works: int
    items: list[SimilarWorkOut]


class SimilarResearcherOut(BaseModel):
    id: int
    name: str
    works_count: int
    score: float = Field(description="mean cosine of their best three works to this profile")
    close_works: int
    shared_topics: list[str]
    reason: str
    url: str


class SimilarResearchersOut(BaseModel):
    record_id: int
    semantic_index_works: int
    items: list[SimilarResearcherOut]


@router.get(
    "/api/works/{work_id}/similar",
    response_model=SimilarWorksOut,
    responses=ERRORS,
    tags=["search"],
    summary="Works with similar text (cosine of embeddings), with shared topics as the reason",
)
def api_similar_works(
    request: Request,
    work_id: WorkId,
    limit: int = Query(5, ge=1, le=50),
    session: Session = Depends(get_session),
) -> Any:
    index = request.app.state.semantic
    items = similar.similar_works(session, index, work_id, limit=limit)
    if items is None:
        raise HTTPException(404, f"no work with id {work_id}")
    return {
        "work_id": work_id,
        "semantic_index_works": index.loaded,
        "items": [
            work_summary(h.work, authors=[author_name(a) for a in h.work.authorships[:10]])
            | {
                "authors_count": len(h.work.authorships),
                "score": round(h.score, 4),
                "snippet": "",
                "shared_topics": h.shared_topics,
                "reason": h.reason,
            }
            for h in items
        ],
    }


@router.get(
    "/api/researchers/{record_id}/similar",
    response_model=SimilarResearchersOut,
    responses=ERRORS,
    tags=["search"],
    summary="Researchers with similar work (not co-authors), with shared topics as the reason",
)
def api_similar_researchers(
    request: Request,
    record_id: RecordId,
    limit: int = Query(5, ge=1, le=50),
    session: Session = Depends(get_session),
) -> Any:
    if get_record(session, record_id) is None:
        raise HTTPException(404, f"no researcher with id {record_id}")
    index = request.app.state.semantic
    items = similar.similar_researchers(session, index, record_id, limit=limit)
    return {
        "record_id": record_id,
        "semantic_index_works": index.loaded,
        "items": [
            {
                "id": h.record.id,
                "name": h.record.display_name,
                "works_count": h.record.works_count,
                "score": round(h.score, 4),
                "close_works": h.close_works,
                "shared_topics": h.shared_topics,
                "reason": h.reason,
                "url": f"/researchers/{h.record.id}",
            }
            for h in items
        ],
    }
