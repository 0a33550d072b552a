"""Claim, dispute, follow and moderate: the pages and forms (rules in claims/)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from peergraph.accounts.models import Account
from peergraph.accounts.ratelimit import RateLimited
from peergraph.authors.models import AuthorRecord, RecordClaim
from peergraph.claims import follows, owner
from peergraph.claims import services as claims
from peergraph.conversations import services as conversations
from peergraph.db.base import utcnow
from peergraph.jobs import queue
from peergraph.links import safe_link
from peergraph.profiles.models import Profile
from peergraph.web.accounts import commit_and_send, context, render
from peergraph.web.auth import require_account, require_csrf
from peergraph.web.deps import MAX_ID, RecordId, TopicId, get_session, record_or_redirect

router = APIRouter(include_in_schema=False)
Me = Depends(require_account)
ClaimId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
Csrf = [Depends(require_csrf)]


def actor(request: Request, session: Session, me: Account) -> claims.Actor:
    return claims.Actor(account=session.get_one(Account, me.id), ctx=context(request))


def _record(session: Session, record_id: int, suffix: str) -> AuthorRecord | Response:
    return record_or_redirect(session, record_id, "/researchers", suffix)


def evidence_links(raw: str) -> list[str]:
    """The evidence links a form gave, one per line; only http(s) links (the URL policy)."""
    out = []
    for line in raw.splitlines():
        link = safe_link(line.strip())
        if link:
            out.append(link)
    return out


# ---- claiming ------------------------------------------------------------------------------


def claim_page_values(session: Session, record: AuthorRecord, account: Account) -> dict[str, Any]:
    domains = claims.record_domains(session, record.id)
    return {
        "record": record,
        "owner_claim": claims.holding_claim(session, record.id),
        "orcids": sorted(claims.record_orcids(session, record.id)),
        "domains": domains,
        "email_match": claims.email_domain_match(account.email, domains),
        "account": account,
    }


@router.get("/researchers/{record_id}/claim", response_class=HTMLResponse)
def claim_page(
    request: Request, record_id: RecordId, session: Session = Depends(get_session), me: Account = Me
) -> Response:
    found = _record(session, record_id, "/claim")
    if isinstance(found, Response):
        return found
    return render(request, "claim.html", claim_page_values(session, found, me))


@router.post("/researchers/{record_id}/claim", dependencies=Csrf)
def claim_record(
    request: Request,
    record_id: RecordId,
    method: str = Form(..., max_length=16),
    statement: str = Form("", max_length=claims.MAX_STATEMENT),
    links: str = Form("", max_length=5_000),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    try:
        claim = claims.submit_claim(
            session,
            actor(request, session, me),
            record_id,
            method,
            statement=statement,
            links=evidence_links(links),
        )
    except (claims.ClaimError, RateLimited) as exc:
        # a refused or limited claim keeps its audit entry, and every attempt counts for
        # the limits
        session.commit()
        record = session.get(AuthorRecord, record_id)
        if record is None:
            raise HTTPException(404, str(exc)) from exc
        values = {**claim_page_values(session, record, me), "error": str(exc)}
        values.update(statement=statement, links=links, method=method)
        status = 429 if isinstance(exc, RateLimited) else 400
        return render(request, "claim.html", values, status_code=status)
    commit_and_send(request, session)
    if claim.status == "approved":
        return RedirectResponse(f"/researchers/{record_id}?claimed=1", status_code=303)
    return render(
        request,
        "notice.html",
        {
            "title": "Claim sent for review",
            "message": "A moderator will look at your evidence and tell you by mail. "
            "Until then the record shows as unclaimed; you can withdraw the claim from "
            "your account page.",
        },
    )


@router.post("/claims/{claim_id}/withdraw", dependencies=Csrf)
def withdraw_claim(
    request: Request, claim_id: ClaimId, session: Session = Depends(get_session), me: Account = Me
) -> Response:
    try:
        claims.withdraw(session, actor(request, session, me), claim_id)
    except claims.ClaimError as exc:
        raise HTTPException(404, str(exc)) from exc
    session.commit()
    return RedirectResponse("/account?done=withdrawn", status_code=303)


@router.get("/researchers/{record_id}/dispute", response_class=HTMLResponse)
def dispute_page(
    request: Request, record_id: RecordId, session: Session = Depends(get_session), me: Account = Me
) -> Response:
    found = _record(session, record_id, "/dispute")
    if isinstance(found, Response):
        return found
    owner = claims.holding_claim(session, found.id)
    return render(request, "dispute.html", {"record": found, "owner_claim": owner})


@router.post("/researchers/{record_id}/dispute", dependencies=Csrf)
def dispute_claim(
    request: Request,
    record_id: RecordId,
    statement: str = Form("", max_length=claims.MAX_STATEMENT),
    links: str = Form("", max_length=5_000),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    try:
        claims.dispute(
            session, actor(request, session, me), record_id, statement, evidence_links(links)
        )
    except (claims.ClaimError, RateLimited) as exc:
        session.commit() if isinstance(exc, claims.ClaimError) else session.rollback()
        record = session.get(AuthorRecord, record_id)
        if record is None:
            raise HTTPException(404, str(exc)) from exc
        owner = claims.holding_claim(session, record_id)
        values = {"record": record, "owner_claim": owner, "error": str(exc)}
        values.update(statement=statement, links=links)
        return render(request, "dispute.html", values, status_code=400)
    commit_and_send(request, session)
    return RedirectResponse(f"/researchers/{record_id}", status_code=303)


@router.get("/researchers/{record_id}/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, record_id: RecordId, session: Session = Depends(get_session), me: Account = Me
) -> Response:
    """The record's audit trail: for its owner and for moderators."""
    found = _record(session, record_id, "/audit")
    if isinstance(found, Response):
        return found
    owner = claims.owner_of(session, found.id)
    if me.role not in ("moderator", "admin") and (owner is None or owner.id != me.id):
        raise HTTPException(403, "Only the record's owner and moderators can read its audit log.")
    return render(
        request, "audit.html", {"record": found, "entries": claims.audit_trail(session, found.id)}
    )


# ---- what the owner changes ------------------------------------------------------------------


def _edit_values(record: AuthorRecord, settings: Any) -> dict[str, Any]:
    form = {
        "display_name": (settings.display_name if settings else None) or "",
        "bio": (settings.bio if settings else None) or "",
        "links": {
            kind: url.removeprefix("https://orcid.org/") if kind == "orcid" else url
            for kind, url in ((settings.links if settings else None) or {}).items()
        },
        "open_to_collaborate": bool(settings and settings.open_to_collaborate),
        "hidden": bool(settings and settings.hidden),
    }
    limits = {"name": owner.MAX_DISPLAY_NAME, "bio": owner.MAX_BIO}
    return {"record": record, "form": form, "limits": limits}


@router.get("/researchers/{record_id}/edit", response_class=HTMLResponse)
def edit_page(
    request: Request, record_id: RecordId, session: Session = Depends(get_session), me: Account = Me
) -> Response:
    found = _record(session, record_id, "/edit")
    if isinstance(found, Response):
        return found
    try:
        owner.owned_claim(session, actor(request, session, me), found.id)
    except owner.NotOwner as exc:
        raise HTTPException(403, str(exc)) from exc
    values = _edit_values(found, owner.record_settings(session, found.id))
    return render(request, "record_edit.html", values)


@router.post("/researchers/{record_id}/edit", dependencies=Csrf)
def edit_record(
    request: Request,
    record_id: RecordId,
    display_name: str = Form("", max_length=1_000),
    bio: str = Form("", max_length=5_000),
    homepage: str = Form("", max_length=2_000),
    orcid: str = Form("", max_length=2_000),
    github: str = Form("", max_length=2_000),
    scholar: str = Form("", max_length=2_000),
    open_to_collaborate: str = Form("", max_length=10),
    hidden: str = Form("", max_length=10),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    edits = owner.Edits(
        display_name=display_name,
        bio=bio,
        links={"homepage": homepage, "orcid": orcid, "github": github, "scholar": scholar},
        open_to_collaborate=bool(open_to_collaborate),
        hidden=bool(hidden),
    )
    try:
        owner.save_settings(session, actor(request, session, me), record_id, edits)
    except owner.NotOwner as exc:
        raise HTTPException(403, str(exc)) from exc
    except claims.ClaimError as exc:
        session.rollback()
        record = session.get_one(AuthorRecord, record_id)
        values = _edit_values(record, None)
        values["form"].update(
            display_name=display_name,
            bio=bio,
            links=edits.links,
            open_to_collaborate=edits.open_to_collaborate,
            hidden=edits.hidden,
        )
        return render(request, "record_edit.html", {**values, "error": str(exc)}, 400)
    session.commit()
    return RedirectResponse(f"/researchers/{record_id}", status_code=303)


@router.post("/researchers/{record_id}/not-mine", dependencies=Csrf)
def not_mine(
    request: Request,
    record_id: RecordId,
    authorship_id: int = Form(..., ge=1, le=MAX_ID),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    """The owner says a work on their record is someone else's; the worker's next
    incremental rebuild moves it off for good (claims/owner.py)."""
    try:
        owner.not_mine(session, actor(request, session, me), record_id, authorship_id)
    except owner.NotOwner as exc:
        raise HTTPException(403, str(exc)) from exc
    except claims.ClaimError as exc:
        raise HTTPException(400, str(exc)) from exc
    session.commit()
    queue.ensure(request.app.state.engine, "rebuild")
    return RedirectResponse(f"/researchers/{record_id}#works-h", status_code=303)


# ---- follows -------------------------------------------------------------------------------


@router.post("/researchers/{record_id}/follow", dependencies=Csrf)
def follow(
    request: Request, record_id: RecordId, session: Session = Depends(get_session), me: Account = Me
) -> Response:
    try:
        follows.follow_record(session, me, record_id, context(request).now)
    except follows.FollowError as exc:
        raise HTTPException(404 if "no researcher" in str(exc) else 400, str(exc)) from exc
    session.commit()
    return RedirectResponse(f"/researchers/{record_id}", status_code=303)


@router.post("/researchers/{record_id}/unfollow", dependencies=Csrf)
def unfollow(
    request: Request, record_id: RecordId, session: Session = Depends(get_session), me: Account = Me
) -> Response:
    follows.unfollow_record(session, me, record_id)
    session.commit()
    return RedirectResponse(f"/researchers/{record_id}", status_code=303)


@router.post("/topics/{topic_id}/follow", dependencies=Csrf)
def follow_topic(
    request: Request, topic_id: TopicId, session: Session = Depends(get_session), me: Account = Me
) -> Response:
    try:
        follows.follow_topic(session, me, topic_id, context(request).now)
    except follows.FollowError as exc:
        raise HTTPException(404 if "no topic" in str(exc) else 400, str(exc)) from exc
    session.commit()
    return RedirectResponse(f"/topics/{topic_id}", status_code=303)


@router.post("/topics/{topic_id}/unfollow", dependencies=Csrf)
def unfollow_topic(
    request: Request, topic_id: TopicId, session: Session = Depends(get_session), me: Account = Me
) -> Response:
    follows.unfollow_topic(session, me, topic_id)
    session.commit()
    return RedirectResponse(f"/topics/{topic_id}", status_code=303)


@router.get("/following", response_class=HTMLResponse)
def following_page(
    request: Request, session: Session = Depends(get_session), me: Account = Me
) -> Response:
    records, topics = follows.following(session, me)
    return render(request, "following.html", {"records": records, "topics": topics})


@router.get("/researchers/{record_id}/followers", response_class=HTMLResponse)
def followers_page(
    request: Request, record_id: RecordId, session: Session = Depends(get_session), me: Account = Me
) -> Response:
    """Who follows the record: its owner's eyes only (the count is public)."""
    found = _record(session, record_id, "/followers")
    if isinstance(found, Response):
        return found
    owner = claims.owner_of(session, found.id)
    if owner is None or owner.id != me.id:
        raise HTTPException(403, "Only the record's owner can see who follows it.")
    return render(
        request,
        "followers.html",
        {"record": found, "followers": follows.followers(session, found.id)},
    )


# ---- moderation ----------------------------------------------------------------------------


def _moderator(me: Account) -> None:
    if me.role not in ("moderator", "admin"):
        raise HTTPException(403, "Only moderators can open the moderation queue.")


@router.get("/moderation", response_class=HTMLResponse)
def moderation_queue(
    request: Request, session: Session = Depends(get_session), me: Account = Me
) -> Response:
    """Pending claims and open disputes, oldest first, with the record's facts."""
    _moderator(me)
    pending, disputes = claims.pending_queue(session)
    items = []
    for claim in pending:
        record = session.get(AuthorRecord, claim.record_id)
        items.append(
            {
                "claim": claim,
                "record": record,
                "claimant": session.get(Account, claim.account_id) if claim.account_id else None,
                "orcids": sorted(claims.record_orcids(session, claim.record_id)),
                "domains": claims.record_domains(session, claim.record_id),
                "profile": session.get(Profile, claim.record_id),
            }
        )
    open_disputes = []
    for row in disputes:
        claim = session.get_one(RecordClaim, row.claim_id)
        open_disputes.append(
            {
                "dispute": row,
                "claim": claim,
                "record": session.get(AuthorRecord, claim.record_id),
                "owner": session.get(Account, claim.account_id) if claim.account_id else None,
                "disputer": session.get(Account, row.account_id) if row.account_id else None,
            }
        )
    reports = conversations.open_reports(session, utcnow())
    return render(
        request,
        "moderation.html",
        {
            "trips": claims.limit_trips(session, utcnow() - timedelta(days=1)),
            "items": items,
            "disputes": open_disputes,
            "reports": reports,
            "report_reasons": conversations.REPORT_REASONS,
        },
    )


def _decision(value: str, yes: str, no: str) -> bool:
    if value not in (yes, no):
        raise HTTPException(400, f"decision must be {yes} or {no}")
    return value == yes


@router.post("/moderation/claims/{claim_id}", dependencies=Csrf)
def decide_claim(
    request: Request,
    claim_id: ClaimId,
    decision: str = Form(..., max_length=16),
    reason: str = Form("", max_length=claims.MAX_STATEMENT),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    _moderator(me)
    approve = _decision(decision, "approve", "reject")
    try:
        claims.decide_claim(session, actor(request, session, me), claim_id, approve, reason)
    except claims.ClaimError as exc:
        raise HTTPException(400, str(exc)) from exc
    commit_and_send(request, session)
    return RedirectResponse("/moderation", status_code=303)


@router.post("/moderation/claims/{claim_id}/confirm", dependencies=Csrf)
def confirm_claim(
    request: Request,
    claim_id: ClaimId,
    evidence: str = Form("", max_length=claims.MAX_STATEMENT),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    try:
        claim = claims.confirm_claim(session, actor(request, session, me), claim_id, evidence)
    except claims.NotAllowed as exc:
        raise HTTPException(403, str(exc)) from exc
    except claims.ClaimError as exc:
        raise HTTPException(400, str(exc)) from exc
    commit_and_send(request, session)
    return RedirectResponse(f"/researchers/{claim.record_id}", status_code=303)


@router.post("/moderation/disputes/{dispute_id}", dependencies=Csrf)
def decide_dispute(
    request: Request,
    dispute_id: ClaimId,
    decision: str = Form(..., max_length=16),
    reason: str = Form("", max_length=claims.MAX_STATEMENT),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    _moderator(me)
    uphold = _decision(decision, "uphold", "dismiss")
    try:
        claims.decide_dispute(session, actor(request, session, me), dispute_id, uphold, reason)
    except claims.ClaimError as exc:
        raise HTTPException(400, str(exc)) from exc
    commit_and_send(request, session)
    return RedirectResponse("/moderation", status_code=303)
