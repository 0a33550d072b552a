"""What every response and every page must hold to, whatever the data says.

* :class:`SecurityHeaders` — one ASGI middleware that puts the Content-Security-Policy
  and the other security headers on every response, errors and static files included.
* :func:`safe_redirect_path` — the one check for every ``next``/``return_to`` target:
  only a path on this site.
* :func:`json_for_script` — JSON that can sit inside ``<script type="application/ld+json">``
  whatever the strings in it contain.

The rules, and why, are in docs/security.md.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script or style anywhere: pages load /static files only. JSON-LD blocks are
# data, not script, and CSP does not apply to them.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# Swagger UI (the /api/docs page) sets style attributes on the elements it renders; its
# scripts still come from our own static files only.
DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate CSP 2
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
DOCS_PATH = "/api/docs"


class SecurityHeaders:
    """Adds the security headers to every HTTP response (pure ASGI, so streaming
    responses, static files and error pages get them too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = (
            DOCS_CONTENT_SECURITY_POLICY if scope["path"] == DOCS_PATH else CONTENT_SECURITY_POLICY
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"content-security-policy"
                ]
                headers.append((b"content-security-policy", policy.encode()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_UNSAFE_RAW = re.compile(r"[\x00-\x20\x7f\\]")
_UNSAFE_DECODED = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_redirect_path(target: str | None) -> str | None:
    """``target`` when it is a path on this site (``/researchers/7?page=2``), else None.

    Browsers forgive a lot: they drop tabs and newlines (``/%09/evil.example`` becomes
    ``//evil.example``), read a backslash as a slash (``/\\evil.example``), and follow
    ``//host`` to another site. So the target must start with exactly one ``/``, contain
    no whitespace, control character or backslash, raw or percent-encoded, and parse with
    no scheme and no host.
    """
    if not target or len(target) > 2_000:
        return None
    for text, unsafe in ((target, _UNSAFE_RAW), (unquote(target), _UNSAFE_DECODED)):
        if not text.startswith("/") or text.startswith("//") or unsafe.search(text):
            return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


_SCRIPT_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def json_for_script(data: Any) -> str:
    """JSON for a ``<script>`` data block: ``<``, ``>``, ``&`` and the line and paragraph
    separators are ``\\u`` escapes, so no string in ``data`` can close the element, open a
    comment (``<!--<script>`` would swallow the rest of the page) or break a parser."""
    return json.dumps(data, ensure_ascii=False).translate(_SCRIPT_ESCAPES)
