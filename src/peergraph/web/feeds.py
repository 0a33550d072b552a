"""The dashboard (collaborator suggestions), the feed page, saved searches and alerts,
the Atom feeds, and their JSON API (rules in suggestions/ and feeds/)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from peergraph.accounts.models import Account
from peergraph.conversations import services as conversations
from peergraph.db.base import utcnow
from peergraph.feeds import services as feeds
from peergraph.feeds.models import MODES
from peergraph.profiles.queries import bylines, get_record, record_work_ids
from peergraph.search.embeddings import EncoderUnavailable
from peergraph.suggestions import services as suggestions
from peergraph.web.accounts import context, render
from peergraph.web.api import ErrorResponse
from peergraph.web.auth import api_me, require_account, require_csrf
from peergraph.web.deps import MAX_ID, OptionalId, RecordId, get_session, record_or_redirect

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["feeds"])
Me = Depends(require_account)
Csrf = [Depends(require_csrf)]
SearchId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="a saved search id")]
KIND_WORDS = {"researcher": "People", "topic": "Topics", "search": "Saved searches"}
ATOM_TYPE = "application/atom+xml; charset=utf-8"


# ---- the dashboard -----------------------------------------------------------------------------


def _suggestion_values(
    request: Request, session: Session, me: Account, record: int | None, open_only: bool
) -> dict[str, Any]:
    owned = conversations.owned_records(session, me)
    records = [r for r in (get_record(session, i) for i in owned) if r is not None]
    chosen = next((r for r in records if r.id == record), records[0] if records else None)
    found = (
        suggestions.suggest(
            session, request.app.state.semantic, chosen.id, utcnow(), open_only=open_only
        )
        if chosen
        else []
    )
    return {"records": records, "chosen": chosen, "suggestions": found, "open_only": open_only}


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request,
    record: OptionalId = None,
    open: bool = Query(False, description="only researchers open to collaborate"),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    values = _suggestion_values(request, session, me, record, open)
    values["feed"] = feeds.feed(session, me)
    return render(request, "dashboard.html", values)


# ---- the feed and saved searches -----------------------------------------------------------


def _feed_values(session: Session, me: Account, kind: str | None, page: int) -> dict[str, Any]:
    found = feeds.feed(session, me, kind=kind, page=page)
    return {
        "feed": found,
        "kind": kind,
        "kinds": KIND_WORDS,
        "bylines": bylines(session, [w.id for _, w in found.items]),
        "searches": feeds.searches(session, me),
        "modes": MODES,
        "budget": feeds.BUDGET,
        "alert_choices": feeds.ALERT_CHOICES,
    }


@router.get("/feed", response_class=HTMLResponse)
def feed_page(
    request: Request,
    kind: str | None = Query(None, pattern="^(researcher|topic|search)$"),
    page: int = Query(1, ge=1, le=100_000),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    return render(request, "feed.html", _feed_values(session, me, kind, page))


@router.post("/searches", dependencies=Csrf)
def save_search(
    request: Request,
    q: str = Form("", max_length=2000),
    mode: str = Form("keyword", max_length=16),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    try:
        encoder = request.app.state.semantic.encoder if mode == "semantic" else None
    except EncoderUnavailable:
        encoder = None
    try:
        saved = feeds.save_search(session, me, q, mode, utcnow(), encoder=encoder)
    except feeds.FeedError as exc:
        values = _feed_values(session, me, None, 1)
        values.update(error=str(exc), query=q, mode=mode)
        return render(request, "feed.html", values, status_code=400)
    session.commit()
    return RedirectResponse(f"/feed?saved={saved.id}#searches", status_code=303)


class NoSuchSearch(HTTPException):
    def __init__(self) -> None:
        super().__init__(404, "No such saved search.")


@router.post("/searches/{search_id}/alerts", dependencies=Csrf)
def search_alerts(
    search_id: SearchId,
    on: bool = Form(False),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    try:
        feeds.set_alerts(session, me, search_id, on)
    except LookupError as exc:
        raise NoSuchSearch() from exc
    session.commit()
    return RedirectResponse("/feed#searches", status_code=303)


@router.post("/searches/{search_id}/delete", dependencies=Csrf)
def delete_search(
    search_id: SearchId, session: Session = Depends(get_session), me: Account = Me
) -> Response:
    try:
        feeds.delete_search(session, me, search_id)
    except LookupError as exc:
        raise NoSuchSearch() from exc
    session.commit()
    return RedirectResponse("/feed#searches", status_code=303)


@router.post("/account/alerts", dependencies=Csrf)
def account_alerts(
    request: Request,
    alerts: str = Form("weekly", max_length=16),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    if alerts not in feeds.ALERT_CHOICES:
        values = _feed_values(session, me, None, 1)
        values["alerts_error"] = f"Choose one of: {', '.join(feeds.ALERT_CHOICES)}."
        return render(request, "feed.html", values, status_code=400)
    account = session.get(Account, me.id)
    if account is not None:
        account.alerts = alerts
        if alerts == "never":
            feeds.stop_alerts(session, account)
    session.commit()
    return RedirectResponse("/feed#alerts", status_code=303)


# ---- Atom -------------------------------------------------------------------------------------


@router.get("/searches/{token}.atom")
def search_atom(
    request: Request,
    token: Annotated[str, PathParam(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")],
    session: Session = Depends(get_session),
) -> Response:
    """A saved search's matches as Atom; the address is the secret (no account needed)."""
    saved = feeds.by_token(session, token)
    if saved is None:
        raise HTTPException(404, "No such feed.")
    base = context(request).base_url
    mode = "hybrid" if saved.mode == "semantic" else "keyword"
    body = feeds.atom(
        f"peergraph: new works for “{saved.query}”",
        f"{base}/searches/{token}.atom",
        f"{base}/search?{urlencode({'q': saved.query, 'mode': mode})}",
        feeds.search_entries(session, saved),
        base,
        saved.created_at,
    )
    return Response(body, media_type=ATOM_TYPE)


@router.get("/researchers/{record_id}/works.atom")
def researcher_atom(
    request: Request, record_id: RecordId, session: Session = Depends(get_session)
) -> Response:
    """A researcher's newest works as Atom."""
    found = record_or_redirect(session, record_id, "/researchers", "/works.atom")
    if isinstance(found, Response):
        return found
    base = context(request).base_url
    body = feeds.atom(
        f"peergraph: new works by {found.display_name}",
        f"{base}/researchers/{found.id}/works.atom",
        f"{base}/researchers/{found.id}",
        feeds.record_entries(session, record_work_ids(session, found.id)),
        base,
        found.updated_at,
    )
    return Response(body, media_type=ATOM_TYPE)


# ---- JSON ---------------------------------------------------------------------------------------


class FeedItemOut(BaseModel):
    work_id: int
    title: str
    year: int | None
    kind: str
    label: str
    why: str
    score: float
    created_at: str


class FeedOut(BaseModel):
    items: list[FeedItemOut]
    page: int
    pages: int
    total: int


class SavedSearchOut(BaseModel):
    id: int
    query: str
    mode: str  # keyword | semantic
    alerts: bool
    matches: int
    atom_url: str  # private: whoever has it reads the matches
    created_at: str


class ReasonOut(BaseModel):
    label: str
    contribution: float


class SuggestionOut(BaseModel):
    record_id: int
    display_name: str
    score: float
    open_to_collaborate: bool
    reasons: list[ReasonOut]
    shared_topics: list[str]
    complementary_topics: list[str]
    coauthors_in_common: list[str]
    similar_works: list[int] | None


ApiErrors: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "not logged in"},
    422: {"model": ErrorResponse, "description": "invalid parameters"},
}


@api_router.get("/feed", response_model=FeedOut, responses=ApiErrors)
def api_feed(
    kind: str | None = Query(None, pattern="^(researcher|topic|search)$"),
    page: int = Query(1, ge=1, le=100_000),
    session: Session = Depends(get_session),
    me: Account = Depends(api_me),
) -> FeedOut:
    """The account's feed, newest first: new works by followed researchers and in followed
    topics, and matches of saved searches, each with why it is there."""
    found = feeds.feed(session, me, kind=kind, page=page)
    return FeedOut(
        items=[
            FeedItemOut(
                work_id=w.id,
                title=w.title,
                year=w.year,
                kind=i.kind,
                label=i.label,
                why=i.why,
                score=i.score,
                created_at=i.created_at.isoformat() + "Z",
            )
            for i, w in found.items
        ],
        page=found.page,
        pages=found.pages,
        total=found.total,
    )


@api_router.get("/searches", response_model=list[SavedSearchOut], responses=ApiErrors)
def api_searches(
    request: Request, session: Session = Depends(get_session), me: Account = Depends(api_me)
) -> list[SavedSearchOut]:
    """The account's saved searches (made on /feed or the search page), newest first,
    with how many feed items each produced and its private Atom feed's address."""
    base = context(request).base_url
    return [
        SavedSearchOut(
            id=saved.id,
            query=saved.query,
            mode=saved.mode,
            alerts=saved.alerts,
            matches=count,
            atom_url=f"{base}/searches/{saved.token}.atom",
            created_at=saved.created_at.isoformat() + "Z",
        )
        for saved, count in feeds.searches(session, me)
    ]


@api_router.get("/suggestions", response_model=list[SuggestionOut], responses=ApiErrors)
def api_suggestions(
    request: Request,
    record: OptionalId = None,
    open: bool = Query(False, description="only researchers open to collaborate"),
    session: Session = Depends(get_session),
    me: Account = Depends(api_me),
) -> list[SuggestionOut]:
    """Collaborator suggestions for one of the account's claimed records (the first one
    by default), best first, with the reasons (docs/suggestions.md)."""
    values = _suggestion_values(request, session, me, record, open)
    return [
        SuggestionOut(
            record_id=s.record.id,
            display_name=s.record.display_name,
            score=round(s.score, 4),
            open_to_collaborate=s.open,
            reasons=[
                ReasonOut(label=r.label, contribution=round(r.contribution, 4)) for r in s.reasons
            ],
            shared_topics=[t.name for t in s.shared_topics],
            complementary_topics=[t.name for t in s.complementary],
            coauthors_in_common=[r.display_name for r in s.common],
            similar_works=[s.pair[0].id, s.pair[1].id] if s.pair else None,
        )
        for s in values["suggestions"]
    ]
