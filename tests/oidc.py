"""A real OpenID Connect provider on loopback (oidc-provider-mock, from PyPI: Flask and
authlib's server side), for tests that sign in with ORCID through peergraph's client.

The provider shows an authorization form where the person types their subject (``sub``);
it then redirects back with a code, and answers the token exchange with an RS256-signed
ID token, as ORCID's issuer does."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import httpx
from oidc_provider_mock import run_server_in_thread

CLIENT_ID = "APP-PEERGRAPH-TEST"
CLIENT_SECRET = "provider-client-secret-for-tests"


@contextmanager
def provider() -> Iterator[str]:
    """Start the provider; yields its issuer URL (``http://localhost:PORT``)."""
    with run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


def authorize(authorization_url: str, sub: str | None, *, deny: bool = False) -> str:
    """Act as the person at the provider: open the authorization page, and type ``sub``
    (or press Deny). Returns where the provider sends the browser back."""
    page = httpx.get(authorization_url, timeout=10)
    assert page.status_code == 200, page.text
    assert "Authorize" in page.text
    form = {"action": "deny"} if deny else {"sub": sub or ""}
    answer = httpx.post(authorization_url, data=form, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def local(url: str) -> str:
    """The path and query of a URL on the app under test."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def form_action(page: str) -> str | None:
    found = re.search(r'<form method="post" action="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None
