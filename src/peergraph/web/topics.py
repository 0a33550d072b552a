"""Topic pages and their JSON: the topic's works, researchers and related topics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from peergraph.claims import follows
from peergraph.profiles import topic_page
from peergraph.web.api import ERRORS, Paged, WorkSummary, page_fields
from peergraph.web.auth import current_account
from peergraph.web.deps import TopicId, get_session
from peergraph.works.models import Topic
from peergraph.works.services import work_summary

pages = APIRouter(include_in_schema=False)
router = APIRouter(prefix="/api", tags=["topics"])
Sort = Query("newest", pattern="^(newest|oldest|cited)$", description="newest, oldest or cited")
PageNumber = Query(1, ge=1, le=100_000)


def get_topic(session: Session, topic_id: int) -> Topic:
    topic = session.get(Topic, topic_id)
    if topic is None:
        raise HTTPException(404, f"There is no topic with id {topic_id}.")
    return topic


def topic_view(session: Session, topic_id: int, page: int, sort: str) -> topic_page.TopicView:
    view = topic_page.topic_view(session, get_topic(session, topic_id), page=page, sort=sort)
    if page > view.works.pages:
        raise HTTPException(404, f"There is no page {page}; the last page is {view.works.pages}.")
    return view


@pages.get("/topics/{topic_id}", response_class=HTMLResponse)
def topic_html(
    request: Request,
    topic_id: TopicId,
    page: int = PageNumber,
    sort: str = Sort,
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


class TopicWork(WorkSummary):
    authors: list[str] = Field(description="the first few authors, given name first")
    authors_total: int = Field(description="how many authors the work has")
    cited_by_count: int | None


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
    items: list[TopicWork] = Field(description="the topic's works, one page, in `sort` order")


@router.get(
    "/topics/{topic_id}",
    response_model=TopicOut,
    responses=ERRORS,
    summary="A topic: its works (paged, sorted), top researchers and related topics",
)
def topic_json(
    request: Request,
    topic_id: TopicId,
    page: int = PageNumber,
    sort: str = Sort,
    session: Session = Depends(get_session),
) -> Any:
    view = topic_view(session, topic_id, page, sort)
    topic = view.topic
    return {
        "id": topic.id,
        "name": topic.name,
        "taxonomy": topic.taxonomy,
        "source": topic_page.topic_source(topic.taxonomy),
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
        "items": [
            work_summary(w, authors=view.bylines.get(w.id, ([], 0))[0])
            | {
                "authors_total": view.bylines.get(w.id, ([], 0))[1],
                "cited_by_count": w.cited_by_count,
            }
            for w in view.works.items
        ],
        **page_fields(view.works),
    }
