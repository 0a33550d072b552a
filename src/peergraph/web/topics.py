"""Topic pages and their JSON: the topic's works, researchers and related topics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from peergraph.claims import follows
from peergraph.profiles import topic_page
from peergraph.web.api import (
    ERRORS,
    ListedWork,
    Paged,
    WorkPageNumber,
    WorkSort,
    listed_works,
    page_fields,
)
from peergraph.web.auth import current_account
from peergraph.web.deps import TopicId, get_session
from peergraph.works.services import topic_source

pages = APIRouter(include_in_schema=False)
router = APIRouter(prefix="/api", tags=["topics"])


def topic_view(session: Session, topic_id: int, page: int, sort: str) -> topic_page.TopicView:
    view = topic_page.topic_view(session, topic_id, page=page, sort=sort)
    if view is None:
        raise HTTPException(404, f"There is no topic with id {topic_id}.")
    if page > view.works.pages:
        raise HTTPException(404, f"There is no page {page}; the last page is {view.works.pages}.")
    return view


@pages.get("/topics/{topic_id}", response_class=HTMLResponse)
def topic_html(
    request: Request,
    topic_id: TopicId,
    page: int = WorkPageNumber,
    sort: str = WorkSort,
    session: Session = Depends(get_session),
) -> Response:
    view = topic_view(session, topic_id, page, sort)
    return request.app.state.templates.TemplateResponse(
        request,
        "topic.html",
        {
            "view": view,
            "topic": view.topic,
            "following": follows.follows_topic(session, current_account(request), view.topic),
        },
    )


class TopicResearcher(BaseModel):
    id: int
    display_name: str
    works_on_topic: int
    works_count: int


class RelatedTopicOut(BaseModel):
    id: int
    name: str
    taxonomy: str
    shared: int = Field(description="works that carry both topics, or researchers who have both")
    by: str = Field(description='"works" (co-occurrence on works) or "researchers"')
    reason: str = Field(description="why it is related, in words")


class TopicOut(Paged):
    id: int
    name: str
    taxonomy: str = Field(description="openalex-topic, openalex-concept, arxiv, inferred, …")
    source: str = Field(description="where the topic comes from, in words")
    field: str | None
    subfield: str | None
    domain: str | None
    researchers_total: int
    researchers: list[TopicResearcher]
    related: list[RelatedTopicOut]
    items: list[ListedWork] = Field(description="the topic's works, one page, in `sort` order")


@router.get(
    "/topics/{topic_id}",
    response_model=TopicOut,
    responses=ERRORS,
    summary="A topic: its works (paged, sorted), top researchers and related topics",
)
def topic_json(
    request: Request,
    topic_id: TopicId,
    page: int = WorkPageNumber,
    sort: str = WorkSort,
    session: Session = Depends(get_session),
) -> Any:
    view = topic_view(session, topic_id, page, sort)
    topic = view.topic
    return {
        "id": topic.id,
        "name": topic.name,
        "taxonomy": topic.taxonomy,
        "source": topic_source(topic.taxonomy),
        "field": topic.field,
        "subfield": topic.subfield,
        "domain": topic.domain,
        "researchers_total": view.researchers_total,
        "researchers": [
            {
                "id": r.id,
                "display_name": r.display_name,
                "works_on_topic": link.works_count,
                "works_count": r.works_count,
            }
            for r, link in view.researchers
        ],
        "related": [
            {
                "id": rel.topic.id,
                "name": rel.topic.name,
                "taxonomy": rel.topic.taxonomy,
                "shared": rel.shared,
                "by": rel.by,
                "reason": rel.reason,
            }
            for rel in view.related
        ],
        "items": listed_works(view.works.items, view.bylines),
        **page_fields(view.works),
    }
