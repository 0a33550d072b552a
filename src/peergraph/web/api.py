"""JSON API under /api/. Thin: parse, call a service, shape the response."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from peergraph.ingest import services as ingest
from peergraph.ingest.models import ImportRun, Provenance
from peergraph.profiles import queries as profiles
from peergraph.web.deps import WorkId, get_session
from peergraph.works import services as works
from peergraph.works.services import Page

router = APIRouter(prefix="/api", tags=["api"])


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class WorkSummary(BaseModel):
    id: int
    title: str
    year: int | None
    type: str | None
    venue: str | None
    authors: list[str]


class Paged(BaseModel):
    page: int
    per_page: int
    total: int
    pages: int


def page_fields(page: Page) -> dict[str, int]:
    return {"page": page.page, "per_page": page.per_page, "total": page.total, "pages": page.pages}


# a paged work list's query parameters (topic and institution pages, their JSON)
WorkSort = Query("newest", pattern="^(newest|oldest|cited)$", description="newest, oldest or cited")
WorkPageNumber = Query(1, ge=1, le=100_000)


class ListedWork(WorkSummary):
    """A row of a paged work list: the first few authors and the citation count."""

    authors: list[str] = Field(description="the first few authors, given name first")
    authors_total: int = Field(description="how many authors the work has")
    cited_by_count: int | None


def listed_works(
    items: list[Any], byline_of: dict[int, tuple[list[str], int]]
) -> list[dict[str, Any]]:
    """``ListedWork`` rows of ``items`` (works), with their bylines (profiles.bylines)."""
    out = []
    for work in items:
        names, total = byline_of.get(work.id, ([], 0))
        out.append(
            works.work_summary(work, authors=names)
            | {"authors_total": total, "cited_by_count": work.cited_by_count}
        )
    return out


class WorkPage(Paged):
    items: list[WorkSummary]


class Institution(BaseModel):
    name: str
    ror: str | None
    country_code: str | None


class AuthorshipOut(BaseModel):
    position: int
    raw_name: str
    given: str | None
    family: str | None
    orcid: str | None
    upstream_author_id: str | None
    raw_affiliations: list[str]
    institutions: list[Institution]
    record_id: int | None = None
    record_name: str | None = None
    link_method: str | None = None
    why: str | None = None


class TopicOut(BaseModel):
    name: str
    taxonomy: str
    external_id: str
    field: str | None
    score: float | None
    is_primary: bool


class SourceRecordOut(BaseModel):
    import_id: int
    file: str = Field(description="the imported file's name (never the operator's folders)")
    format: str
    record_number: int
    line: int | None
    record_key: str | None
    action: str = Field(description="created | merged")


class SourceRecordPage(Paged):
    items: list[SourceRecordOut]


class WorkDetail(WorkSummary):
    abstract: str | None
    publication_date: str | None
    language: str | None
    volume: str | None
    issue: str | None
    pages: str | None
    url: str | None
    cited_by_count: int | None = Field(description="works citing it, as a source counted")
    cited_by_source: str | None = Field(description='who counted ("OpenAlex"); null: nobody')
    cited_by_date: str | None = Field(description="when the count was made")
    identifiers: dict[str, str]
    authorships: list[AuthorshipOut]
    topics: list[TopicOut]
    sources_count: int = Field(description="records this work was imported from")
    sources_count_is_lower_bound: bool = Field(
        description="counting stopped at 10,000; /api/works/{id}/sources has the exact total"
    )
    sources: list[SourceRecordOut] = Field(
        description="the first of them; all: /api/works/{id}/sources"
    )


class SourceCount(BaseModel):
    format: str
    files: int
    records: int
    works: int


class Stats(BaseModel):
    tables: dict[str, int]
    sources: list[SourceCount]


class ImportOut(BaseModel):
    id: int
    path: str = Field(description="the file's name (never the operator's folders)")
    format: str
    status: str
    records_read: int
    records_imported: int
    records_merged: int
    records_skipped: int
    skipped_by_reason: dict[str, int]
    warnings_by_reason: dict[str, int] = Field(
        description="records imported with a problem reported, e.g. an unsafe URL dropped"
    )
    message: str | None


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Not found"},
    422: {"model": ErrorResponse, "description": "Invalid parameter"},
}


@router.get("/stats", response_model=Stats, summary="Counts per table and per source format")
def stats(session: Session = Depends(get_session)) -> dict[str, Any]:
    return {"tables": works.count_tables(session), "sources": works.counts_by_source(session)}


@router.get("/works", response_model=WorkPage, responses=ERRORS, summary="Works, newest first")
def list_works(
    page: int = Query(1, ge=1, le=1_000_000, description="1-based page number"),
    per_page: int = Query(25, ge=1, le=works.MAX_PAGE_SIZE),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    result = works.list_works(session, page=page, per_page=per_page)
    if page > result.pages:
        raise HTTPException(404, f"page {page} is past the last page ({result.pages})")
    return {
        "items": [works.work_summary(w) for w in result.items],
        **page_fields(result),
    }


@router.get("/works/{work_id}", response_model=WorkDetail, responses=ERRORS, summary="One work")
def get_work(work_id: WorkId, session: Session = Depends(get_session)) -> dict[str, Any]:
    work = works.get_work(session, work_id)
    if work is None:
        raise HTTPException(404, f"no work with id {work_id}")
    detail = works.work_detail(work, works.work_topics(session, work_id))
    sources = works.work_provenance(session, work_id, count_cap=works.PROVENANCE_COUNT_CAP)
    detail.update(
        sources_count=sources.total,
        sources_count_is_lower_bound=sources.total_capped,
        sources=[source_json(*i) for i in sources.items],
    )
    linked = profiles.work_authors(session, work_id)
    for authorship, out in zip(work.authorships, detail["authorships"], strict=True):
        if authorship.id in linked:
            record, link = linked[authorship.id]
            out.update(
                record_id=record.id,
                record_name=record.display_name,
                link_method=link.method,
                why=profiles.evidence_sentence(link),
            )
    return detail


def source_json(provenance: Provenance, run: ImportRun) -> dict[str, Any]:
    return {
        "import_id": run.id,
        "file": ingest.public_path(run.path),
        "format": run.format,
        "record_number": provenance.record_number,
        "line": provenance.line,
        "record_key": provenance.record_key,
        "action": provenance.action,
    }


@router.get(
    "/works/{work_id}/sources",
    response_model=SourceRecordPage,
    responses=ERRORS,
    summary="Every record a work was imported from, paged",
)
def get_work_sources(
    work_id: WorkId,
    page: int = Query(1, ge=1, le=1_000_000),
    per_page: int = Query(works.PROVENANCE_PER_PAGE, ge=1, le=works.MAX_PAGE_SIZE),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    if works.get_work(session, work_id) is None:
        raise HTTPException(404, f"no work with id {work_id}")
    sources = works.work_provenance(session, work_id, page=page, per_page=per_page)
    if page > sources.pages:
        raise HTTPException(404, f"page {page} is past the last page ({sources.pages})")
    return {"items": [source_json(*i) for i in sources.items], **page_fields(sources)}


@router.get("/imports", response_model=list[ImportOut], summary="Import runs, newest first")
def list_imports(session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    return [
        {
            "id": run.id,
            "path": ingest.public_path(run.path),
            "format": run.format,
            "status": run.status,
            "records_read": run.records_read,
            "records_imported": run.records_imported,
            "records_merged": run.records_merged,
            "records_skipped": run.records_skipped,
            "skipped_by_reason": ingest.issue_reasons(session, run.id),
            "warnings_by_reason": ingest.issue_reasons(session, run.id, skipped=False),
            "message": run.message,
        }
        for run in ingest.list_imports(session)
    ]
