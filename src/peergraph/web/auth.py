"""Who is asking: the session cookie, API tokens, and CSRF tokens for every form.

* :class:`AccountContext` (ASGI middleware) reads the signed session cookie and puts the
  account on ``request.state`` (one indexed look-up, only when the cookie is there), and
  gives every browser without one a signed ``pg_csrf`` cookie for anonymous forms.
* Forms carry ``csrf_token``: an HMAC of the session's id when logged in, of the
  ``pg_csrf`` cookie otherwise; :func:`require_csrf` checks it on every state-changing
  route. Another site can make a browser send our cookies, but cannot read a page to
  learn the token.
* The JSON API also takes ``Authorization: Bearer pgt_…`` (personal API tokens); a
  request with a token needs no CSRF token, since browsers never add one on their own.

Cookies are HttpOnly and SameSite=Lax, Secure when the public base URL is https; the
session cookie gets a new token at every log-in (no session fixation). docs/accounts.md.
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from peergraph.accounts import services
from peergraph.accounts.models import Account
from peergraph.accounts.secrets import Signing, new_token
from peergraph.db.base import utcnow

SESSION_COOKIE = "pg_session"
CSRF_COOKIE = "pg_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
CSRF_LIFETIME = 60 * 60 * 24 * 30
_NO_CSRF_COOKIE = ("/api/", "/static/", "/healthz", "/readyz", "/metrics")


class LoginRequired(Exception):
    """Raised by routes that need an account; pages redirect to /login, the API says 401."""


def _cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header is no cookies, not a 500
                return {}
    return {key: morsel.value for key, morsel in jar.items()}


def cookie_header(name: str, value: str, *, max_age: int, secure: bool, path: str = "/") -> bytes:
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


class AccountContext:
    def __init__(
        self, app: ASGIApp, *, sessions: sessionmaker[Session], signing: Signing, secure: bool
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.signing = signing
        self.secure = secure

    def _lookup(self, token: str) -> tuple[Account, int] | None:
        with self.sessions() as session:
            return services.session_account(session, token, utcnow())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        token = self.signing.unsign(cookies.get(SESSION_COOKIE), "session")
        found = await run_in_threadpool(self._lookup, token) if token else None
        state["account"], state["session_id"] = found if found else (None, None)
        state["session_token"] = token if found else None
        seed = self.signing.unsign(cookies.get(CSRF_COOKIE), "csrf")
        extra: list[tuple[bytes, bytes]] = []
        if seed is None and not scope["path"].startswith(_NO_CSRF_COOKIE):
            seed = new_token()
            value = self.signing.sign(seed, "csrf")
            extra.append(
                (
                    b"set-cookie",
                    cookie_header(CSRF_COOKIE, value, max_age=CSRF_LIFETIME, secure=self.secure),
                )
            )
        if SESSION_COOKIE in cookies and found is None:  # expired or forged: forget it
            extra.append(
                (b"set-cookie", cookie_header(SESSION_COOKIE, "", max_age=0, secure=self.secure))
            )
        state["csrf_seed"] = seed

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cookies if extra else send)


def current_account(request: Request) -> Account | None:
    return getattr(request.state, "account", None)


def require_account(request: Request) -> Account:
    account = current_account(request)
    if account is None:
        raise LoginRequired()
    return account


def require_role(request: Request, *roles: str) -> Account:
    account = require_account(request)
    if account.role not in roles:
        raise HTTPException(403, "Your account may not do this.")
    return account


def signing(request: Request) -> Signing:
    return request.app.state.signing


def csrf_token(request: Request) -> str:
    """The token this browser's forms must carry."""
    sign = signing(request)
    session_id = getattr(request.state, "session_id", None)
    if session_id is not None:
        return sign.digest("csrf", "session", str(session_id))
    return sign.digest("csrf", "anonymous", getattr(request.state, "csrf_seed", None) or "")


async def require_csrf(request: Request) -> None:
    """A dependency of every state-changing route that a browser can reach."""
    if getattr(request.state, "api_token", False):
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    expected = csrf_token(request)
    unbound = request.state.session_id is None and not getattr(request.state, "csrf_seed", None)
    if unbound or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(
            403,
            "This form has expired or did not come from this site. Reload the page and try again.",
        )


def api_account(request: Request) -> Account | None:
    """The account behind an API request: a Bearer token, else the session cookie.
    A token that is not valid is a 401, not an anonymous request."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        account = None
        if scheme.lower() == "bearer":
            with request.app.state.sessionmaker() as session:
                account = services.api_token_account(session, value.strip(), utcnow())
                session.commit()
        if account is None:
            raise HTTPException(401, "The API token is not valid (revoked, or mistyped).")
        request.state.api_token = True
        return account
    return current_account(request)


def api_me(request: Request) -> Account:
    """``api_account``, required: 401 for an anonymous request."""
    account = api_account(request)
    if account is None:
        raise HTTPException(401, "Log in, or send a personal API token.")
    return account


def login_redirect(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(target, safe='')}"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """Log the browser in: a new session cookie, and a new anonymous CSRF seed."""
    secure = request.app.state.secure_cookies
    sign = signing(request)
    response.raw_headers.append(
        (
            b"set-cookie",
            cookie_header(
                SESSION_COOKIE,
                sign.sign(token, "session"),
                max_age=int(services.SESSION_LIFETIME.total_seconds()),
                secure=secure,
            ),
        )
    )
    response.raw_headers.append(
        (
            b"set-cookie",
            cookie_header(
                CSRF_COOKIE, sign.sign(new_token(), "csrf"), max_age=CSRF_LIFETIME, secure=secure
            ),
        )
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    secure = request.app.state.secure_cookies
    response.raw_headers.append(
        (b"set-cookie", cookie_header(SESSION_COOKIE, "", max_age=0, secure=secure))
    )
