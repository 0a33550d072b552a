"""Sign in with ORCID (OpenID Connect; the flow is accounts/oidc.py, docs/accounts.md).

* ``GET /login/orcid`` sends the browser to the provider; ``GET /login/orcid/callback``
  is where it comes back.
* Logged in already: the proven iD is linked to the account (it then backs ORCID claims).
* Not logged in: the account linked to the iD is logged in; an iD with no account gets a
  form for an e-mail address (``POST /login/orcid/signup``), which creates one.
* ``POST /account/orcid/unlink`` forgets the iD.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from peergraph.accounts import oidc, services
from peergraph.accounts.models import Account
from peergraph.accounts.ratelimit import RateLimited
from peergraph.db.base import utcnow
from peergraph.web.accounts import (
    Me,
    Problems,
    account_problem,
    commit_and_send,
    context,
    field,
    problem,
    render,
)
from peergraph.web.auth import (
    cookie_header,
    require_csrf,
    set_session_cookie,
    signing,
)
from peergraph.web.deps import get_session
from peergraph.web.security import safe_redirect_path

router = APIRouter(include_in_schema=False)

PENDING_COOKIE = "pg_oidc"
PROVEN_COOKIE = "pg_orcid"  # a proven iD with no account yet, while its owner signs up
CALLBACK = "/login/orcid/callback"


def _provider(request: Request) -> oidc.Provider | None:
    return oidc.provider(request.app.state.settings)


def _not_configured(request: Request) -> HTMLResponse:
    return render(
        request,
        "notice.html",
        {
            "title": "Sign in with ORCID is not set up here",
            "message": "This peergraph server has no ORCID client configured "
            "(PEERGRAPH_OIDC_CLIENT_ID). Log in with your e-mail address instead.",
        },
        404,
    )


def _failed(request: Request, message: str, status: int = 400) -> HTMLResponse:
    response = render(
        request, "notice.html", {"title": "ORCID sign-in did not work", "message": message}, status
    )
    _drop(request, response, PENDING_COOKIE)
    return response


def _set(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    secure = request.app.state.secure_cookies
    response.raw_headers.append(
        (b"set-cookie", cookie_header(name, value, max_age=max_age, secure=secure))
    )


def _drop(request: Request, response: Response, name: str) -> None:
    _set(request, response, name, "", 0)


def _proven(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing(request).key, salt="orcid-proven")


def _proven_orcid(request: Request) -> str | None:
    value = request.cookies.get(PROVEN_COOKIE)
    if not value or len(value) > 500:
        return None
    try:
        orcid = _proven(request).loads(value, max_age=oidc.PENDING_LIFETIME)
    except BadSignature:
        return None
    return orcid if isinstance(orcid, str) else None


@router.get("/login/orcid")
def start(request: Request, next: str | None = None) -> Response:
    p = _provider(request)
    if p is None:
        return _not_configured(request)
    redirect_uri = context(request).base_url + CALLBACK
    try:
        url, pending = oidc.begin(p, signing(request), redirect_uri, safe_redirect_path(next))
    except oidc.SignInFailed as exc:
        return _failed(request, str(exc), 502)
    response = RedirectResponse(url, status_code=303)
    _set(
        request,
        response,
        PENDING_COOKIE,
        oidc.dump_pending(signing(request), pending),
        oidc.PENDING_LIFETIME,
    )
    return response


@router.get(CALLBACK)
def callback(request: Request, session: Session = Depends(get_session)) -> Response:
    p = _provider(request)
    if p is None:
        return _not_configured(request)
    sign = signing(request)
    pending = oidc.load_pending(sign, request.cookies.get(PENDING_COOKIE))
    params = {key: value[:2000] for key, value in request.query_params.items()}
    redirect_uri = context(request).base_url + CALLBACK
    try:
        identity = oidc.finish(p, sign, redirect_uri, pending, params)
    except oidc.SignInFailed as exc:
        return _failed(request, str(exc))
    target = pending.next if pending else None
    if request.state.account is not None:  # linking the iD to the logged-in account
        account = session.get_one(Account, request.state.account.id)
        try:
            services.link_orcid(session, account, identity.orcid)
        except services.AccountError as exc:
            session.rollback()
            return _failed(request, str(exc), 409)
        session.commit()
        linked = RedirectResponse(target or "/account?done=orcid", status_code=303)
        _drop(request, linked, PENDING_COOKIE)
        return linked
    try:
        known = services.orcid_sign_in(session, identity.orcid)
    except services.AccountError as exc:
        return _failed(request, str(exc), 403)
    if known is None:  # a new person: ask for an address
        form = render(
            request, "orcid_signup.html", {"orcid": identity.orcid, "name": identity.name}
        )
        _drop(request, form, PENDING_COOKIE)
        _set(
            request,
            form,
            PROVEN_COOKIE,
            _proven(request).dumps(identity.orcid),
            oidc.PENDING_LIFETIME,
        )
        return form
    if request.state.session_token:
        services.end_session(session, request.state.session_token)
    token = services.start_session(session, known, utcnow())
    session.commit()
    response = RedirectResponse(target or "/account", status_code=303)
    _drop(request, response, PENDING_COOKIE)
    set_session_cookie(request, response, token)
    return response


@router.post("/login/orcid/signup", dependencies=[Depends(require_csrf)])
def signup(
    request: Request, email: str = field(), session: Session = Depends(get_session)
) -> Response:
    if _provider(request) is None:
        return _not_configured(request)
    orcid = _proven_orcid(request)
    if orcid is None:
        return _failed(
            request, "This ORCID sign-in has expired. Sign in with ORCID again to continue."
        )
    try:
        services.sign_up_with_orcid(session, context(request), email, orcid)
    except (*Problems, RateLimited) as exc:
        session.rollback()
        return problem(request, "orcid_signup.html", exc, {"orcid": orcid, "email": email})
    commit_and_send(request, session)
    response = render(
        request,
        "notice.html",
        {
            "title": "Check your mail",
            "message": f"We sent a link to {email.strip().lower()}. Open it to verify the "
            "address; then sign in with ORCID again.",
            "mail_folder": request.app.state.settings.smtp_host is None,
        },
    )
    _drop(request, response, PROVEN_COOKIE)
    return response


@router.post("/account/orcid/unlink", dependencies=[Depends(require_csrf)])
def unlink(request: Request, session: Session = Depends(get_session), me: Account = Me) -> Response:
    account = session.get_one(Account, me.id)  # to change it
    try:
        services.unlink_orcid(session, account)
    except services.AccountError as exc:
        return account_problem(request, session, exc)
    session.commit()
    return RedirectResponse("/account?done=orcid-unlinked", status_code=303)
