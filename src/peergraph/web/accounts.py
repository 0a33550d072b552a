"""Account pages: sign up, verify, log in and out, reset, the account page (address,
password, API tokens, delete), and ``GET /api/me``. The rules are in accounts/; this
module turns requests into calls and answers into pages (docs/accounts.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from peergraph.accounts import mail, services
from peergraph.accounts.models import Account
from peergraph.accounts.passwords import PasswordRejected
from peergraph.accounts.ratelimit import RateLimited
from peergraph.claims.services import claims_of, forget_account
from peergraph.conversations import digest
from peergraph.conversations import services as conversations
from peergraph.db.base import utcnow
from peergraph.web.api import ErrorResponse
from peergraph.web.auth import (
    api_account,
    clear_session_cookie,
    require_account,
    require_csrf,
    set_session_cookie,
    signing,
)
from peergraph.web.deps import MAX_ID, get_session
from peergraph.web.security import safe_redirect_path

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["accounts"])
Problems = (services.AccountError, PasswordRejected)


def field() -> Any:
    """A required form field (one object per parameter: FastAPI keys them by name)."""
    return Form(..., max_length=1000)


# the messages a redirect to /account may show (a key, never text from the URL)
DONE = {
    "password": "Your password is changed. Other browsers were logged out.",
    "email-sent": "We sent a confirmation link to the new address. Nothing changes until "
    "it is opened.",
    "email": "Your e-mail address is changed.",
    "revoked": "The token is revoked: requests that use it now get 401.",
    "withdrawn": "Done: the claim is withdrawn (a released record is unclaimed again).",
    "orcid": "Your ORCID iD is linked: it logs you in, and it can back a claim.",
    "orcid-unlinked": "Your ORCID iD is no longer linked to this account.",
    "digest": "Your mail setting for conversations is saved.",
    "unblocked": "Unblocked: that researcher can invite you again.",
}


def context(request: Request) -> services.Context:
    settings = request.app.state.settings
    base = settings.base_url or str(request.base_url).rstrip("/")
    ip = request.client.host if request.client else "unknown"
    return services.Context(signing=signing(request), base_url=base, ip=ip, now=utcnow())


def render(
    request: Request, template: str, values: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request, template, values, status_code=status_code
    )


def problem(
    request: Request, template: str, exc: Exception, values: dict[str, Any]
) -> HTMLResponse:
    """The form again, with what went wrong (429 with Retry-After when rate-limited)."""
    status = 429 if isinstance(exc, RateLimited) else 400
    response = render(request, template, {**values, "error": str(exc)}, status_code=status)
    if isinstance(exc, RateLimited):
        response.headers["retry-after"] = str(exc.retry_after)
    return response


def link_not_valid(request: Request, exc: Exception) -> HTMLResponse:
    """A mailed link that is expired, used or mangled: say so, with a 400."""
    return render(request, "notice.html", {"title": "Link not valid", "message": str(exc)}, 400)


def commit_and_send(request: Request, session: Session) -> None:
    """Commit, then deliver the mail the change queued (a failure stays queued)."""
    session.commit()
    mail.deliver_pending(request.app.state.engine, request.app.state.settings)


# ---- sign-up and verification ------------------------------------------------------------


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request) -> HTMLResponse:
    return render(request, "signup.html", {})


@router.post("/signup", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
def signup(
    request: Request,
    email: str = field(),
    password: str = field(),
    session: Session = Depends(get_session),
) -> HTMLResponse:
    try:
        services.sign_up(session, context(request), email, password)
    except (*Problems, RateLimited) as exc:
        session.rollback()
        return problem(request, "signup.html", exc, {"email": email})
    commit_and_send(request, session)
    return render(
        request,
        "notice.html",
        {
            "title": "Check your mail",
            "message": f"We sent a link to {email.strip().lower()}. Open it to verify the "
            "address and finish signing up.",
            "mail_folder": request.app.state.settings.smtp_host is None,
        },
    )


@router.get("/verify-email", response_class=HTMLResponse)
def verify_email_page(
    request: Request,
    token: str = Query("", max_length=200),
    session: Session = Depends(get_session),
) -> HTMLResponse:
    """The link in the mail shows a button; the POST uses the link (a mail scanner that
    fetches links does not use them up)."""
    try:
        link = services.find_link(session, signing(request), token, "verify", utcnow())
    except services.AccountError as exc:
        return link_not_valid(request, exc)
    account = session.get(Account, link.account_id)
    intro = (
        f"This address will belong to the peergraph account linked to ORCID iD "
        f"{account.orcid}. Verify it only if that iD is yours."
        if account is not None and account.orcid
        else None
    )
    return render(
        request,
        "confirm_link.html",
        {
            "title": "Verify your e-mail address",
            "action": "/verify-email",
            "token": token,
            "button": "Verify my address",
            "intro": intro,
        },
    )


@router.post("/verify-email", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
def verify_email(
    request: Request,
    token: str = Form("", max_length=200),
    session: Session = Depends(get_session),
) -> HTMLResponse:
    try:
        account = services.verify_email(session, context(request), token)
    except services.AccountError as exc:
        session.rollback()
        return link_not_valid(request, exc)
    session.commit()
    return render(
        request,
        "login.html",
        {"notice": f"{account.email} is verified. Log in to continue.", "email": account.email},
    )


# ---- log-in and out ------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = Query(None, max_length=2000)) -> Response:
    target = safe_redirect_path(next)
    if request.state.account is not None:
        return RedirectResponse(target or "/account", status_code=303)
    return render(request, "login.html", {"next": target})


@router.post("/login", dependencies=[Depends(require_csrf)])
def login(
    request: Request,
    email: str = field(),
    password: str = field(),
    next: str = Form("", max_length=2000),
    session: Session = Depends(get_session),
) -> Response:
    target = safe_redirect_path(next)
    values = {"email": email, "next": target}
    try:
        account = services.authenticate(session, context(request), email, password)
    except services.LoginFailed as exc:
        session.commit()  # the failure counts
        return problem(request, "login.html", exc, values)
    except services.NotVerified as exc:
        commit_and_send(request, session)
        return problem(request, "login.html", exc, values)
    except (*Problems, RateLimited) as exc:
        session.rollback()
        return problem(request, "login.html", exc, values)
    if request.state.session_token:  # logged in already: that session ends
        services.end_session(session, request.state.session_token)
    token = services.start_session(session, account, utcnow())
    session.commit()
    response = RedirectResponse(target or "/account", status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request, session: Session = Depends(get_session)) -> Response:
    if request.state.session_token:
        services.end_session(session, request.state.session_token)
        session.commit()
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(request, response)
    return response


# ---- password reset ------------------------------------------------------------------------


@router.get("/reset", response_class=HTMLResponse)
def reset_page(request: Request) -> HTMLResponse:
    return render(request, "reset_request.html", {})


@router.post("/reset", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
def reset_request(
    request: Request, email: str = field(), session: Session = Depends(get_session)
) -> HTMLResponse:
    try:
        services.request_reset(session, context(request), email)
    except (*Problems, RateLimited) as exc:
        session.rollback()
        return problem(request, "reset_request.html", exc, {"email": email})
    commit_and_send(request, session)
    return render(
        request,
        "notice.html",
        {
            "title": "Check your mail",
            "message": "If an account uses that address, we sent it a link to choose a new "
            "password. The link works once, within an hour.",
            "mail_folder": request.app.state.settings.smtp_host is None,
        },
    )


@router.get("/reset/confirm", response_class=HTMLResponse)
def reset_confirm_page(
    request: Request,
    token: str = Query("", max_length=200),
    session: Session = Depends(get_session),
) -> HTMLResponse:
    try:
        services.find_link(session, signing(request), token, "reset", utcnow())
    except services.AccountError as exc:
        return link_not_valid(request, exc)
    return render(request, "reset_confirm.html", {"token": token})


@router.post("/reset/confirm", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
def reset_confirm(
    request: Request,
    token: str = Form("", max_length=200),
    password: str = field(),
    session: Session = Depends(get_session),
) -> HTMLResponse:
    try:
        account = services.reset_password(session, context(request), token, password)
    except PasswordRejected as exc:
        session.rollback()
        return problem(request, "reset_confirm.html", exc, {"token": token})
    except services.AccountError as exc:
        session.rollback()
        return link_not_valid(request, exc)
    session.commit()
    return render(
        request,
        "login.html",
        {"notice": "Your password is changed. Log in with the new one.", "email": account.email},
    )


# ---- the account page ----------------------------------------------------------------------


# a dependency, so that an anonymous request is sent to /login before its form is read
Me = Depends(require_account)


def account_page_values(request: Request, session: Session, account: Account) -> dict[str, Any]:
    return {
        "account": account,
        "tokens": services.api_tokens(session, account),
        "claims": claims_of(session, account),
        "blocks": conversations.blocks_of(session, account),
        "digests": digest.CHOICES,
    }


@router.get("/account", response_class=HTMLResponse)
def account_page(
    request: Request,
    done: str | None = Query(None, max_length=20),
    session: Session = Depends(get_session),
    account: Account = Me,
) -> HTMLResponse:
    values = account_page_values(request, session, account)
    return render(request, "account.html", {**values, "notice": DONE.get(done or "")})


def account_problem(
    request: Request, session: Session, exc: Exception, **values: Any
) -> HTMLResponse:
    session.rollback()
    account = session.get_one(Account, require_account(request).id)
    return problem(
        request, "account.html", exc, {**account_page_values(request, session, account), **values}
    )


@router.post("/account/password", dependencies=[Depends(require_csrf)])
def change_password(
    request: Request,
    current_password: str = field(),
    new_password: str = field(),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    account = session.get_one(Account, me.id)  # to change it
    try:
        services.change_password(
            session, account, current_password, new_password, request.state.session_id
        )
    except Problems as exc:
        return account_problem(request, session, exc)
    session.commit()
    return RedirectResponse("/account?done=password", status_code=303)


@router.post("/account/email", dependencies=[Depends(require_csrf)])
def change_email(
    request: Request,
    new_email: str = field(),
    password: str = field(),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    account = session.get_one(Account, me.id)  # to change it
    try:
        services.request_email_change(session, context(request), account, password, new_email)
    except (*Problems, RateLimited) as exc:
        return account_problem(request, session, exc, new_email=new_email)
    commit_and_send(request, session)
    return RedirectResponse("/account?done=email-sent", status_code=303)


@router.get("/account/email/confirm", response_class=HTMLResponse)
def confirm_email_page(
    request: Request,
    token: str = Query("", max_length=200),
    session: Session = Depends(get_session),
) -> HTMLResponse:
    try:
        link = services.find_link(session, signing(request), token, "change-email", utcnow())
    except services.AccountError as exc:
        return link_not_valid(request, exc)
    return render(
        request,
        "confirm_link.html",
        {
            "title": "Confirm your new address",
            "intro": f"Use {link.new_email} for your peergraph account from now on.",
            "action": "/account/email/confirm",
            "token": token,
            "button": "Use this address",
        },
    )


@router.post(
    "/account/email/confirm", response_class=HTMLResponse, dependencies=[Depends(require_csrf)]
)
def confirm_email(
    request: Request,
    token: str = Form("", max_length=200),
    session: Session = Depends(get_session),
) -> Response:
    try:
        services.confirm_email_change(session, context(request), token)
    except services.AccountError as exc:
        session.rollback()
        return link_not_valid(request, exc)
    session.commit()
    if request.state.account is None:
        return render(
            request, "login.html", {"notice": "Your address is changed. Log in to continue."}
        )
    return RedirectResponse("/account?done=email", status_code=303)


@router.post("/account/tokens", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
def create_token(
    request: Request,
    name: str = Form(..., max_length=100),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> HTMLResponse:
    account = session.get_one(Account, me.id)  # to change it
    try:
        token = services.create_api_token(session, account, name, utcnow())
    except services.AccountError as exc:
        return account_problem(request, session, exc)
    session.commit()
    values = account_page_values(request, session, account)
    response = render(request, "account.html", {**values, "new_token": token})
    response.headers["cache-control"] = "no-store"  # the token is on this page only
    return response


@router.post("/account/tokens/{token_id}/revoke", dependencies=[Depends(require_csrf)])
def revoke_token(
    request: Request,
    token_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    account = session.get_one(Account, me.id)  # to change it
    try:
        services.revoke_api_token(session, account, token_id, utcnow())
    except services.AccountError as exc:
        raise HTTPException(404, str(exc)) from exc
    session.commit()
    return RedirectResponse("/account?done=revoked", status_code=303)


@router.post("/account/delete", dependencies=[Depends(require_csrf)])
def delete_account(
    request: Request,
    password: str = Form("", max_length=1000),
    confirm: str = Form("", max_length=20),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    account = session.get_one(Account, me.id)  # to change it
    if confirm != "delete":
        return account_problem(request, session, services.AccountError('Type "delete" to confirm.'))
    try:
        services.check_password(account, password)
        forget_account(session, account, utcnow())  # its claims are released first
        conversations.forget_account(session, account, utcnow())
        services.delete_account(session, account)
    except services.AccountError as exc:
        return account_problem(request, session, exc)
    session.commit()
    response = render(
        request,
        "notice.html",
        {
            "title": "Account deleted",
            "message": "Your account and its tokens are gone, and its claims are released.",
        },
    )
    clear_session_cookie(request, response)
    return response


@router.post("/account/notifications", dependencies=[Depends(require_csrf)])
def notifications(
    choice: str = Form(..., max_length=10),
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    if choice not in digest.CHOICES:
        raise HTTPException(400, "Choose daily, weekly or never.")
    session.get_one(Account, me.id).digest = choice
    session.commit()
    return RedirectResponse("/account?done=digest", status_code=303)


@router.post("/account/blocks/{block_id}/delete", dependencies=[Depends(require_csrf)])
def unblock(
    block_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
    session: Session = Depends(get_session),
    me: Account = Me,
) -> Response:
    conversations.unblock(session, me, block_id)
    session.commit()
    return RedirectResponse("/account?done=unblocked", status_code=303)


# ---- JSON ------------------------------------------------------------------------------------


class MeOut(BaseModel):
    id: int
    email: str
    role: str
    email_verified: bool
    created_at: str


@api_router.get(
    "/me",
    response_model=MeOut,
    responses={401: {"model": ErrorResponse, "description": "No session and no valid token"}},
    summary="The account making the request",
)
def me(request: Request) -> dict[str, Any]:
    """The account behind the session cookie or the ``Authorization: Bearer`` token
    (a personal API token from /account); 401 when there is none."""
    account = api_account(request)
    if account is None:
        raise HTTPException(
            401, "Log in, or send a personal API token as 'Authorization: Bearer …'."
        )
    return {
        "id": account.id,
        "email": account.email,
        "role": account.role,
        "email_verified": account.email_verified_at is not None,
        "created_at": account.created_at.isoformat(),
    }
