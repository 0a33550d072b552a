"""Focused conversations: the invitation form, the inbox, a conversation, the live
event stream, reports for moderators, and the JSON API (rules in conversations/).

Live updates work across server processes: ``GET /conversations/events`` is a
server-sent event stream that polls the database (the newest message id among the
account's conversations) every ``POLL_SECONDS``; nothing lives in one process's memory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from peergraph.accounts.models import Account
from peergraph.accounts.ratelimit import RateLimited
from peergraph.authors.models import AuthorRecord
from peergraph.conversations import services as conversations
from peergraph.conversations.models import Conversation, Message
from peergraph.web.accounts import context, render
from peergraph.web.api import ErrorResponse
from peergraph.web.auth import api_me, require_account, require_csrf
from peergraph.web.claims import actor
from peergraph.web.deps import MAX_ID, OptionalId, RecordId, get_session, record_or_redirect

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["conversations"])
Me = Depends(require_account)
Csrf = [Depends(require_csrf)]
ConversationId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="a conversation id")]
MessageId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="a message id")]
ReportId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="a report id")]
POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0


def _status(exc: Exception) -> int:
    if isinstance(exc, RateLimited | conversations.TooMany):
        return 429
    if isinstance(exc, conversations.NotFound):
        return 404
    if isinstance(exc, conversations.NotAllowed):
        return 403
    return 400


def unread_for(request: Request) -> int:
    """The logged-in visitor's unread conversation messages (the header shows them)."""
    account = getattr(request.state, "account", None)
    if account is None:
        return 0
    with request.app.state.sessionmaker() as session:
        return conversations.unread_total(session, account)


# ---- inviting --------------------------------------------------------------------------------


def _invite_values(session: Session, record_id: int, me: Account) -> dict[str, Any]:
    can = conversations.may_invite(session, me, record_id)
    limit, band = conversations.invitation_limit(session, conversations.owned_records(session, me))
    return {
        "can": can,
        "choices": conversations.anchor_choices(session, can.sender_record, record_id),
        "limit": limit,
        "band": band,
        "max_length": conversations.MAX_INVITATION,
    }


@router.get("/researchers/{record_id}/invite", response_class=HTMLResponse)
def invite_page(
    request: Request,
    record_id: RecordId,
    work: OptionalId = None,
    topic: OptionalId = None,
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    found = record_or_redirect(session, record_id, "/researchers", "/invite")
    if isinstance(found, Response):
        return found
    values = _invite_values(session, found.id, me)
    chosen = f"their-work:{work}" if work else f"topic:{topic}" if topic else ""
    status = 200 if values["can"].allowed else 403
    return render(
        request, "invite.html", {"record": found, "chosen": chosen, **values}, status_code=status
    )


@router.post("/researchers/{record_id}/invite", dependencies=Csrf)
def invite(
    request: Request,
    record_id: RecordId,
    about: str = Form("", max_length=40),
    message: str = Form("", max_length=conversations.MAX_INVITATION * 2),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    kind, _, raw_id = about.partition(":")
    try:
        anchor_id = int(raw_id) if raw_id.isdigit() and len(raw_id) < 19 else 0
        conversation = conversations.invite(
            session, actor(request, session, me), record_id, kind, anchor_id, message
        )
    except (conversations.ConversationError, RateLimited) as exc:
        session.commit()  # a refused invitation over the limit stays in the audit log
        if isinstance(exc, conversations.NotFound):
            raise HTTPException(404, str(exc)) from exc
        found = record_or_redirect(session, record_id, "/researchers", "/invite")
        if isinstance(found, Response):
            return found
        values = _invite_values(session, record_id, me)
        response = render(
            request,
            "invite.html",
            {"record": found, "chosen": about, "message": message, "error": str(exc), **values},
            status_code=_status(exc),
        )
        if isinstance(exc, RateLimited | conversations.TooMany):
            response.headers["retry-after"] = str(exc.retry_after)
        return response
    session.commit()
    return RedirectResponse(f"/conversations/{conversation.id}?sent=1", status_code=303)


# ---- the inbox and one conversation ------------------------------------------------------------


@router.get("/conversations", response_class=HTMLResponse)
def inbox_page(
    request: Request,
    view: str = Query("inbox", pattern="^(inbox|archived)$"),
    partial: bool = Query(False, description="only the list, for live updates"),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    items = conversations.inbox(session, me, archived=view == "archived")
    values = {
        "items": items,
        "view": view,
        "unread": conversations.unread_total(session, me),
        "newest": conversations.newest_message_id(session, me),
    }
    return render(request, "_inbox_list.html" if partial else "inbox.html", values)


@router.get("/conversations/events")
async def events(
    request: Request,
    since: int = Query(0, ge=0, le=MAX_ID, description="the newest message id the page has"),
    wait: int = Query(300, ge=0, le=600, description="seconds to stream before closing"),
    me: Account = Me,
) -> StreamingResponse:
    """Server-sent events: ``change`` with the newest message id and the unread count,
    whenever a message, invitation or answer arrives in any of the account's
    conversations. The browser reconnects by itself after ``wait`` seconds."""
    sessions = request.app.state.sessionmaker

    def look() -> tuple[int, int]:
        with sessions() as session:
            return (
                conversations.newest_message_id(session, me),
                conversations.unread_total(session, me),
            )

    async def stream() -> AsyncIterator[str]:
        seen = since
        loop = asyncio.get_running_loop()
        end = loop.time() + wait
        quiet = loop.time()
        yield "retry: 3000\n\n"
        while True:
            newest, unread = await run_in_threadpool(look)
            if newest > seen:
                seen = newest
                quiet = loop.time()
                yield f"event: change\ndata: {json.dumps({'newest': newest, 'unread': unread})}\n\n"
            if loop.time() >= end or await request.is_disconnected():
                return
            if loop.time() - quiet > KEEPALIVE_SECONDS:
                quiet = loop.time()
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


def _thread_values(session: Session, me: Account, conversation_id: int) -> dict[str, Any]:
    thread = conversations.thread(session, me, conversation_id)
    return {
        "thread": thread,
        "me": me,
        "decline_reasons": conversations.DECLINE_REASONS,
        "report_reasons": conversations.REPORT_REASONS,
        "anchor_words": conversations.ANCHOR_WORDS,
        "max_length": conversations.MAX_MESSAGE,
    }


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(
    request: Request,
    conversation_id: ConversationId,
    sent: bool = False,
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    try:
        values = _thread_values(session, me, conversation_id)
        conversations.mark_read(session, me, conversation_id)
    except conversations.ConversationError as exc:
        raise HTTPException(_status(exc), str(exc)) from exc
    session.commit()
    notice = "Invitation sent. You can write more once it is accepted." if sent else None
    return render(request, "conversation.html", {**values, "notice": notice})


@router.post("/conversations/{conversation_id}/read", dependencies=Csrf)
def mark_read(
    conversation_id: ConversationId, session: Session = Depends(get_session), me: Account = Me
) -> dict[str, int]:
    """What the open page shows has been read: its live script says so after adding new
    messages, and gets the header's unread count back."""
    try:
        conversations.mark_read(session, me, conversation_id)
    except conversations.ConversationError as exc:
        raise HTTPException(_status(exc), str(exc)) from exc
    session.commit()
    return {"unread": conversations.unread_total(session, me)}


def _act(
    request: Request, session: Session, me: Account, conversation_id: int, do: Any
) -> Response:
    """Run one action; on success back to the conversation, else the page with why."""
    try:
        do(actor(request, session, me))
    except (conversations.ConversationError, RateLimited) as exc:
        session.rollback()
        if isinstance(exc, conversations.NotFound):
            raise HTTPException(404, str(exc)) from exc
        values = _thread_values(session, me, conversation_id)
        return render(
            request, "conversation.html", {**values, "error": str(exc)}, status_code=_status(exc)
        )
    session.commit()
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)


@router.post("/conversations/{conversation_id}/accept", dependencies=Csrf)
def accept(
    request: Request,
    conversation_id: ConversationId,
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    return _act(
        request,
        session,
        me,
        conversation_id,
        lambda a: conversations.accept(session, a, conversation_id),
    )


@router.post("/conversations/{conversation_id}/decline", dependencies=Csrf)
def decline(
    request: Request,
    conversation_id: ConversationId,
    reason: str = Form("", max_length=40),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    return _act(
        request,
        session,
        me,
        conversation_id,
        lambda a: conversations.decline(session, a, conversation_id, reason),
    )


@router.post("/conversations/{conversation_id}/messages", dependencies=Csrf)
def write(
    request: Request,
    conversation_id: ConversationId,
    body: str = Form("", max_length=conversations.MAX_MESSAGE * 2),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    return _act(
        request,
        session,
        me,
        conversation_id,
        lambda a: conversations.send(session, a, conversation_id, body),
    )


@router.post("/conversations/{conversation_id}/archive", dependencies=Csrf)
def archive(
    request: Request,
    conversation_id: ConversationId,
    on: bool = Form(True),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    try:
        conversations.archive(session, me, conversation_id, on=on, now=context(request).now)
    except conversations.ConversationError as exc:
        raise HTTPException(_status(exc), str(exc)) from exc
    session.commit()
    return RedirectResponse("/conversations" + ("" if on else "?view=archived"), status_code=303)


@router.post("/conversations/{conversation_id}/leave", dependencies=Csrf)
def leave(
    request: Request,
    conversation_id: ConversationId,
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    return _act(
        request,
        session,
        me,
        conversation_id,
        lambda a: conversations.leave(session, a, conversation_id),
    )


@router.post("/conversations/{conversation_id}/block", dependencies=Csrf)
def block(
    request: Request,
    conversation_id: ConversationId,
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    return _act(
        request,
        session,
        me,
        conversation_id,
        lambda a: conversations.block(session, a, conversation_id),
    )


@router.post("/conversations/{conversation_id}/messages/{message_id}/report", dependencies=Csrf)
def report(
    request: Request,
    conversation_id: ConversationId,
    message_id: MessageId,
    reason: str = Form("", max_length=40),
    note: str = Form("", max_length=conversations.MAX_NOTE * 2),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    response = _act(
        request,
        session,
        me,
        conversation_id,
        lambda a: conversations.report(session, a, conversation_id, message_id, reason, note),
    )
    if response.status_code == 303:
        return RedirectResponse(f"/conversations/{conversation_id}?reported=1", status_code=303)
    return response


@router.post("/moderation/reports/{report_id}", dependencies=Csrf)
def decide_report(
    request: Request,
    report_id: ReportId,
    decision: str = Form(..., max_length=16),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    try:
        conversations.decide_report(session, actor(request, session, me), report_id, decision)
    except conversations.ConversationError as exc:
        raise HTTPException(_status(exc), str(exc)) from exc
    session.commit()
    return RedirectResponse("/moderation#reports-h", status_code=303)


# ---- JSON ------------------------------------------------------------------------------------


class MessageOut(BaseModel):
    id: int
    kind: str  # invitation | message | event
    author: str | None  # the name shown for the author (its record's), None for events
    mine: bool
    body: str
    created_at: str


class ConversationOut(BaseModel):
    id: int
    status: str  # invited | accepted | declined | closed | withdrawn
    role: str  # starter | recipient
    about: str  # the anchor's kind: their-work | my-work | topic
    about_id: int
    about_label: str
    with_record_id: int
    with_name: str | None
    unread: int
    messages: list[MessageOut] = []


def _message_out(message: Message, me: Account, names: dict[int, str]) -> MessageOut:
    return MessageOut(
        id=message.id,
        kind=message.kind,
        author=names.get(message.author_id) if message.author_id else None,
        mine=message.author_id == me.id,
        body=message.body,
        created_at=message.created_at.isoformat() + "Z",
    )


def _conversation_out(
    c: Conversation,
    role: str,
    other_id: int,
    other: AuthorRecord | None,
    unread: int,
    messages: list[MessageOut],
) -> ConversationOut:
    return ConversationOut(
        id=c.id,
        status=c.status,
        role=role,
        about=c.anchor_kind,
        about_id=c.anchor_id,
        about_label=c.anchor_label,
        with_record_id=other_id,
        with_name=other.display_name if other else None,
        unread=unread,
        messages=messages,
    )


Problems: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No session and no valid token"},
    404: {"model": ErrorResponse, "description": "Not a conversation of this account"},
}


@api_router.get(
    "/conversations",
    response_model=list[ConversationOut],
    responses={401: Problems[401]},
    summary="The account's conversations, newest activity first",
)
def api_inbox(
    request: Request,
    archived: bool = False,
    session: Session = Depends(get_session),
) -> list[ConversationOut]:
    me = api_me(request)
    return [
        _conversation_out(
            s.conversation, s.member.role, s.other_record_id, s.other_record, s.unread, []
        )
        for s in conversations.inbox(session, me, archived=archived)
    ]


@api_router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    responses=Problems,
    summary="One conversation and its messages (only those after ``after``)",
)
def api_conversation(
    request: Request,
    conversation_id: ConversationId,
    after: int = Query(0, ge=0, le=MAX_ID, description="only messages with a larger id"),
    session: Session = Depends(get_session),
) -> ConversationOut:
    """Reading marks the conversation read, as opening its page does."""
    me = api_me(request)
    try:
        thread = conversations.thread(session, me, conversation_id, after=after)
        conversations.mark_read(session, me, conversation_id)
    except conversations.ConversationError as exc:
        raise HTTPException(_status(exc), str(exc)) from exc
    session.commit()
    messages = [_message_out(m, me, thread.names) for m in thread.messages]
    return _conversation_out(
        thread.conversation,
        thread.member.role,
        thread.other_record_id,
        thread.other_record,
        0,
        messages,
    )
