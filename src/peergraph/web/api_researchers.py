"""JSON API for researcher records: the same facts as the pages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from peergraph.profiles import queries as profiles
from peergraph.web.api import ERRORS, Paged, WorkPageNumber, WorkSort, WorkSummary, page_fields
from peergraph.web.deps import OptionalId, RecordId, get_session, shown_record
from peergraph.works.services import work_summary

router = APIRouter(prefix="/api", tags=["researchers"])


class Affiliation(BaseModel):
    id: int | None = None  # institution id, for /researchers?institution=
    name: str
    ror: str | None = None
    country_code: str | None = None
    year: int | None = None


class LedgerItemOut(BaseModel):
    component: str
    source: str
    method: str
    date: str
    points: float
    detail: str


class TrustOut(BaseModel):
    score: int
    band: str
    verification_level: str
    components: dict[str, float]
    ledger: list[LedgerItemOut]


class Counts(BaseModel):
    works: int
    followers: int
    topics: int
    close_collaborators: int


class RecordTopicOut(BaseModel):
    id: int
    name: str
    taxonomy: str
    works: int
    weight: float


class CollaboratorOut(BaseModel):
    id: int
    display_name: str
    joint_works: int
    strength: float


class ResearcherOut(BaseModel):
    id: int
    display_name: str
    name_variants: list[str] = Field(
        description="other names the works carry; empty once the owner chose a display name"
    )
    description: str | None
    bio: str | None = Field(description="the owner's bio, plain text (escape it to show it)")
    links: dict[str, str] = Field(description="the owner's links: homepage, orcid, github, scholar")
    open_to_collaborate: bool
    role: str
    affiliations: list[Affiliation]
    orcid: str | None
    upstream_author_ids: list[str]
    claimed: bool
    claim_state: str = Field(description='"Unclaimed author", "Claimed" or "Claim disputed"')
    trust: TrustOut
    counts: Counts
    topics: list[RecordTopicOut]
    close_collaborators: list[CollaboratorOut]
    first_year: int | None
    last_year: int | None
    works_per_year: dict[int, int]


class ResearcherWork(WorkSummary):
    link_method: str
    link_confidence: float
    why: str


class ResearcherWorksPage(Paged):
    items: list[ResearcherWork]


class ResearcherSummary(BaseModel):
    id: int
    display_name: str
    works_count: int
    first_year: int | None
    last_year: int | None


class ResearcherPage(Paged):
    items: list[ResearcherSummary]


REDIRECT: dict[int | str, dict[str, Any]] = {
    301: {"description": "The record was merged or split; Location has its new id"}
}


@router.get(
    "/researchers/{record_id}",
    response_model=ResearcherOut,
    responses={**ERRORS, **REDIRECT},
    summary="A researcher record: identity, trust snapshot, counts, topics, collaborators",
)
def get_researcher(
    request: Request, record_id: RecordId, session: Session = Depends(get_session)
) -> Any:
    found = shown_record(request, session, record_id, "/api/researchers")
    if isinstance(found, Response):
        return found
    return profiles.profile_json(profiles.profile_view(session, found))


@router.get(
    "/researchers/{record_id}/works",
    response_model=ResearcherWorksPage,
    responses={**ERRORS, **REDIRECT},
    summary="A researcher's works, with why each is on the record",
)
def get_researcher_works(
    request: Request,
    record_id: RecordId,
    page: int = WorkPageNumber,
    sort: str = WorkSort,
    session: Session = Depends(get_session),
) -> Any:
    found = shown_record(request, session, record_id, "/api/researchers", "/works")
    if isinstance(found, Response):
        return found
    works = profiles.record_works(session, found, page=page, sort=sort)
    if page > works.pages:
        raise HTTPException(404, f"page {page} is past the last page ({works.pages})")
    return {
        "items": [
            work_summary(work)
            | {
                "link_method": link.method,
                "link_confidence": round(link.confidence, 4),
                "why": profiles.evidence_sentence(link),
            }
            for work, link, _position in works.items
        ],
        **page_fields(works),
    }


@router.get(
    "/researchers", response_model=ResearcherPage, responses=ERRORS, summary="Browse researchers"
)
def list_researchers(
    q: str | None = Query(None, max_length=100, description="family-name prefix"),
    topic: OptionalId = None,
    institution: OptionalId = None,
    page: int = Query(1, ge=1, le=100_000),
    per_page: int = Query(50, ge=1, le=100),
    session: Session = Depends(get_session),
) -> Any:
    listing = profiles.list_records(
        session, prefix=q, topic_id=topic, institution_id=institution, page=page, per_page=per_page
    )
    if listing.total and page > listing.pages:
        raise HTTPException(404, f"page {page} is past the last page ({listing.pages})")
    return {
        "items": [
            {
                "id": r.id,
                "display_name": r.display_name,
                "works_count": r.works_count,
                "first_year": r.first_year,
                "last_year": r.last_year,
            }
            for r in listing.items
        ],
        **page_fields(listing),
    }
