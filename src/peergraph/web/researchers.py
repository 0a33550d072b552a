"""Researcher pages: the profile, its trust explanation, and the browsable list."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from peergraph.accounts.models import Account
from peergraph.authors.models import RecordClaim
from peergraph.claims import follows
from peergraph.claims.services import may_confirm
from peergraph.conversations import services as conversations
from peergraph.profiles import queries as profiles
from peergraph.profiles import trust
from peergraph.profiles.models import CLOSE_STRENGTH
from peergraph.search.similar import similar_researchers
from peergraph.web.api import WorkPageNumber, WorkSort
from peergraph.web.auth import current_account
from peergraph.web.charts import works_per_year_svg
from peergraph.web.deps import OptionalId, RecordId, get_session, shown_record
from peergraph.web.security import json_for_script
from peergraph.works.models import Institution, Topic

router = APIRouter(include_in_schema=False)


def person_json_ld(view: profiles.ProfileView, base_url: str) -> str:
    record, profile = view.record, view.profile
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "Person",
        "name": record.display_name,
        "url": f"{base_url}researchers/{record.id}",
    }
    if view.public_variants:
        data["alternateName"] = view.public_variants[:10]
    if profile and profile.description:
        data["description"] = profile.description
    if record.orcid:
        data["identifier"] = f"https://orcid.org/{record.orcid}"
        data["sameAs"] = [f"https://orcid.org/{record.orcid}"]
    if profile and profile.affiliations:
        data["affiliation"] = [
            {"@type": "Organization", "name": a["name"]}
            | ({"sameAs": f"https://ror.org/{a['ror']}"} if a.get("ror") else {})
            for a in profile.affiliations
        ]
    if view.topics:
        data["knowsAbout"] = [t.name for t, _ in view.topics[:5]]
    return json_for_script(data)


@router.get("/researchers/{record_id}", response_class=HTMLResponse)
def profile_page(
    request: Request,
    record_id: RecordId,
    page: int = WorkPageNumber,
    sort: str = WorkSort,
    session: Session = Depends(get_session),
) -> Response:
    found = shown_record(request, session, record_id, "/researchers")
    if isinstance(found, Response):
        return found
    view = profiles.profile_view(session, found, page=page, sort=sort)
    if page > view.works.pages:
        raise HTTPException(404, f"There is no page {page}; the last page is {view.works.pages}.")
    return request.app.state.templates.TemplateResponse(
        request,
        "researcher.html",
        {
            "view": view,
            "record": view.record,
            "profile": view.profile,
            "chart": works_per_year_svg(view.works_per_year),
            "json_ld": person_json_ld(view, str(request.base_url)),
            "close_threshold": CLOSE_STRENGTH,
            "evidence_sentence": profiles.evidence_sentence,
            "similar": similar_researchers(session, request.app.state.semantic, view.record.id),
            "semantic_ready": request.app.state.semantic.loaded > 0,
            **viewer_state(session, current_account(request), view),
        },
    )


def viewer_state(
    session: Session, account: Account | None, view: profiles.ProfileView
) -> dict[str, object]:
    """What the page shows this visitor: follow or unfollow, own the record or not, a
    claim of theirs waiting for review."""
    invite = (  # an unclaimed record needs no look-up
        conversations.may_invite(session, account, view.record.id)
        if view.claim is not None
        else conversations.UNCLAIMED
    )
    if account is None:
        return {
            "following": False,
            "is_owner": False,
            "my_pending": None,
            "confirm_as": None,
            "invite": invite,
        }
    pending = session.scalars(
        select(RecordClaim).where(
            RecordClaim.record_id == view.record.id,
            RecordClaim.account_id == account.id,
            RecordClaim.status == "pending",
        )
    ).first()
    is_owner = view.claim is not None and view.claim.account_id == account.id
    return {
        "following": follows.is_following(session, account, view.record.id),
        "is_owner": is_owner,
        "my_pending": pending,
        "invite": invite,
        # a moderator, or an administrator of the record's institutions, may confirm (L3)
        "confirm_as": (
            may_confirm(session, account, view.claim) if view.claim and not is_owner else None
        ),
    }


@router.get("/researchers/{record_id}/trust", response_class=HTMLResponse)
def trust_page(
    request: Request, record_id: RecordId, session: Session = Depends(get_session)
) -> Response:
    found = shown_record(request, session, record_id, "/researchers", "/trust")
    if isinstance(found, Response):
        return found
    view = profiles.profile_view(session, found, page=1)
    return request.app.state.templates.TemplateResponse(
        request,
        "trust.html",
        {
            "view": view,
            "record": view.record,
            "caps": trust.CAPS,
            "component_names": trust.COMPONENT_NAMES,
            "bands": trust.BANDS,
            "close_threshold": CLOSE_STRENGTH,
        },
    )


@router.get("/researchers", response_class=HTMLResponse)
def researchers_page(
    request: Request,
    q: str | None = Query(None, max_length=100, description="family-name prefix"),
    topic: OptionalId = None,
    institution: OptionalId = None,
    page: int = Query(1, ge=1, le=100_000),
    session: Session = Depends(get_session),
) -> Response:
    listing = profiles.list_records(
        session, prefix=q, topic_id=topic, institution_id=institution, page=page
    )
    if listing.total and page > listing.pages:
        raise HTTPException(404, f"There is no page {page}; the last page is {listing.pages}.")
    topic_row = session.get(Topic, topic) if topic else None
    return request.app.state.templates.TemplateResponse(
        request,
        "researchers.html",
        {
            "listing": listing,
            "q": q or "",
            "topic": topic_row,
            "following_topic": topic_row is not None
            and follows.follows_topic(session, current_account(request), topic_row),
            "institution": session.get(Institution, institution) if institution else None,
        },
    )
