"""Institution pages and their JSON: the works with an author there, its researchers and
the topics of its works."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from peergraph.links import safe_link
from peergraph.profiles import institution_page
from peergraph.web.api import (
    ERRORS,
    ListedWork,
    Paged,
    WorkPageNumber,
    WorkSort,
    listed_works,
    page_fields,
)
from peergraph.web.deps import InstitutionId, get_session
from peergraph.works.services import identifier_url, topic_source

pages = APIRouter(include_in_schema=False)
router = APIRouter(prefix="/api", tags=["institutions"])


def institution_view(
    session: Session, institution_id: int, page: int, sort: str
) -> institution_page.InstitutionView:
    view = institution_page.institution_view(session, institution_id, page=page, sort=sort)
    if view is None:
        raise HTTPException(404, f"There is no institution with id {institution_id}.")
    if page > view.works.pages:
        raise HTTPException(404, f"There is no page {page}; the last page is {view.works.pages}.")
    return view


@pages.get("/institutions/{institution_id}", response_class=HTMLResponse)
def institution_html(
    request: Request,
    institution_id: InstitutionId,
    page: int = WorkPageNumber,
    sort: str = WorkSort,
    session: Session = Depends(get_session),
) -> Response:
    view = institution_view(session, institution_id, page, sort)
    return request.app.state.templates.TemplateResponse(
        request, "institution.html", {"view": view, "institution": view.institution}
    )


class InstitutionResearcher(BaseModel):
    id: int
    display_name: str
    works_here: int = Field(description="their works with this institution on the authorship")
    works_count: int


class InstitutionTopic(BaseModel):
    id: int
    name: str
    taxonomy: str
    source: str
    works_here: int = Field(description="the institution's works that carry the topic")


class InstitutionOut(Paged):
    id: int
    name: str
    type: str | None
    country_code: str | None
    ror: str | None = Field(description="the ROR id, as https://ror.org/… when it is valid")
    homepage: str | None = Field(description="the homepage, when it passes the URL policy")
    researchers_total: int
    researchers: list[InstitutionResearcher]
    topics: list[InstitutionTopic]
    items: list[ListedWork] = Field(description="its works, one page, in `sort` order")


@router.get(
    "/institutions/{institution_id}",
    response_model=InstitutionOut,
    responses=ERRORS,
    summary="An institution: its works (paged, sorted), researchers and topics",
)
def institution_json(
    request: Request,
    institution_id: InstitutionId,
    page: int = WorkPageNumber,
    sort: str = WorkSort,
    session: Session = Depends(get_session),
) -> Any:
    view = institution_view(session, institution_id, page, sort)
    inst = view.institution
    return {
        "id": inst.id,
        "name": inst.name,
        "type": inst.type,
        "country_code": inst.country_code,
        "ror": identifier_url("ror", inst.ror) if inst.ror else None,
        "homepage": safe_link(inst.homepage_url),
        "researchers_total": view.researchers_total,
        "researchers": [
            {
                "id": r.id,
                "display_name": r.display_name,
                "works_here": n,
                "works_count": r.works_count,
            }
            for r, n in view.researchers
        ],
        "topics": [
            {
                "id": t.id,
                "name": t.name,
                "taxonomy": t.taxonomy,
                "source": topic_source(t.taxonomy),
                "works_here": n,
            }
            for t, n in view.topics
        ],
        "items": listed_works(view.works.items, view.bylines),
        **page_fields(view.works),
    }
