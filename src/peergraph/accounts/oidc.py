"""Sign in with ORCID: the OpenID Connect authorization-code flow, through authlib.

ORCID's public issuer (``https://orcid.org``) is the default; any OpenID Connect issuer
can be configured (``PEERGRAPH_OIDC_ISSUER``, with ``PEERGRAPH_OIDC_ORCID_CLAIM`` naming
the ID-token claim that holds the ORCID iD; ORCID itself puts it in ``sub``).

The flow, as the specification asks of a confidential client:

1. :func:`begin` builds the authorization URL with a ``state``, a ``nonce`` and a PKCE
   challenge (S256). All three are HMACs of one random token that travels in a signed,
   ten-minute browser cookie, so nothing about a half-finished sign-in lives in a
   process's memory and any server process can finish it.
2. :func:`finish` checks that the provider sent our ``state`` back, exchanges the code
   at the token endpoint (with the PKCE verifier), and verifies the ID token: its
   signature against the issuer's published keys, then ``iss``, ``aud``, ``exp``,
   ``iat`` and ``nonce``. Only then is the ORCID iD believed, and only when its checksum
   holds.

The issuer's discovery document and keys are fetched over HTTP and kept for an hour
(a cache of the provider's public metadata, not state that a page depends on).
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2 import OAuth2Error
from authlib.oidc.core import CodeIDToken
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from peergraph.accounts.secrets import Signing, new_token
from peergraph.ingest.normalize import normalize_orcid
from peergraph.settings import Settings

PENDING_LIFETIME = 600  # seconds a browser has to come back from the provider
HTTP_TIMEOUT = 10.0
METADATA_TTL = 3600.0
CLOCK_LEEWAY = 120  # seconds of clock difference tolerated on exp/iat


class SignInFailed(Exception):
    """The sign-in did not prove an ORCID iD; the message says why, for the user."""


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str
    client_secret: str | None
    orcid_claim: str


@dataclass(frozen=True)
class Pending:
    """A sign-in on its way through the provider: what the browser's cookie holds."""

    token: str
    next: str | None  # where to go afterwards (a local path)

    def secret(self, signing: Signing, purpose: str) -> str:
        return signing.digest("oidc", purpose, self.token)


@dataclass(frozen=True)
class Identity:
    """What a verified ID token says."""

    orcid: str
    name: str | None


def provider(settings: Settings) -> Provider | None:
    """The configured issuer, or None when sign-in with ORCID is off (no client id)."""
    if not settings.oidc_client_id:
        return None
    return Provider(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        orcid_claim=settings.oidc_orcid_claim,
    )


# ---- the pending cookie --------------------------------------------------------------------


def _serializer(signing: Signing) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing.key, salt="oidc-pending")


def dump_pending(signing: Signing, pending: Pending) -> str:
    return _serializer(signing).dumps({"t": pending.token, "n": pending.next})


def load_pending(signing: Signing, value: str | None) -> Pending | None:
    """The pending sign-in of this browser, or None when missing, forged or too old."""
    if not value or len(value) > 4000:
        return None
    try:
        data = _serializer(signing).loads(value, max_age=PENDING_LIFETIME)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        return None
    target = data.get("n")
    return Pending(token=data["t"], next=target if isinstance(target, str) else None)


# ---- the provider's metadata ---------------------------------------------------------------

_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT, follow_redirects=False)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SignInFailed(f"The sign-in provider could not be reached ({url}): {exc}") from exc
    if not isinstance(data, dict):
        raise SignInFailed(f"The sign-in provider sent something unexpected from {url}.")
    return data


def metadata(issuer: str, *, refresh: bool = False) -> dict[str, Any]:
    """The issuer's discovery document, with its key set under ``"keys"``."""
    with _cache_lock:
        cached = _cache.get(issuer)
    if cached and not refresh and time.monotonic() - cached[0] < METADATA_TTL:
        return cached[1]
    document = _get_json(f"{issuer}/.well-known/openid-configuration")
    if str(document.get("issuer", "")).rstrip("/") != issuer:
        raise SignInFailed(
            f"The provider at {issuer} names itself {document.get('issuer')!r}: refused."
        )
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(key), str):
            raise SignInFailed(f"The provider at {issuer} publishes no {key}.")
    document = {**document, "keys": _get_json(document["jwks_uri"])}
    with _cache_lock:
        _cache[issuer] = (time.monotonic(), document)
    return document


def _client(p: Provider, document: dict[str, Any], redirect_uri: str) -> OAuth2Client:
    methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
    return OAuth2Client(
        client_id=p.client_id,
        client_secret=p.client_secret,
        token_endpoint_auth_method=method,
        scope="openid",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT,
    )


# ---- the flow ------------------------------------------------------------------------------


def begin(
    p: Provider, signing: Signing, redirect_uri: str, next_path: str | None
) -> tuple[str, Pending]:
    """The provider's authorization URL, and the pending sign-in for the browser's cookie."""
    document = metadata(p.issuer)
    pending = Pending(token=new_token(), next=next_path)
    with _client(p, document, redirect_uri) as client:
        url, _state = client.create_authorization_url(
            document["authorization_endpoint"],
            state=pending.secret(signing, "state"),
            nonce=pending.secret(signing, "nonce"),
            code_verifier=pending.secret(signing, "pkce"),
        )
    return url, pending


def finish(
    p: Provider,
    signing: Signing,
    redirect_uri: str,
    pending: Pending | None,
    params: dict[str, str],
) -> Identity:
    """Check the provider's answer (the callback's query) and return the proven identity."""
    if pending is None:
        raise SignInFailed(
            "This sign-in has expired or was started in another browser. Please start again."
        )
    if params.get("error"):
        reason = params.get("error_description") or params["error"]
        raise SignInFailed(f"The sign-in was not completed: {reason[:200]}")
    state = params.get("state", "")
    if not hmac.compare_digest(state.encode(), pending.secret(signing, "state").encode()):
        raise SignInFailed("This sign-in answer does not belong to this browser. Start again.")
    code = params.get("code")
    if not code:
        raise SignInFailed("The provider sent no authorization code.")
    document = metadata(p.issuer)
    try:
        with _client(p, document, redirect_uri) as client:
            token = client.fetch_token(
                document["token_endpoint"],
                code=code,
                code_verifier=pending.secret(signing, "pkce"),
            )
    except (OAuthError, OAuth2Error, httpx.HTTPError, ValueError) as exc:
        raise SignInFailed(f"The provider refused the authorization code: {exc}") from exc
    claims = _verified_claims(p, document, token, pending.secret(signing, "nonce"))
    orcid = normalize_orcid(claims.get(p.orcid_claim))
    if orcid is None:
        raise SignInFailed(
            f"The provider's answer holds no valid ORCID iD (claim {p.orcid_claim!r})."
        )
    name = claims.get("name")
    if not isinstance(name, str):
        parts = [claims.get("given_name"), claims.get("family_name")]
        name = " ".join(part for part in parts if isinstance(part, str)) or None
    return Identity(orcid=orcid, name=name[:200] if name else None)


def _verified_claims(
    p: Provider, document: dict[str, Any], token: dict[str, Any], nonce: str
) -> CodeIDToken:
    raw = token.get("id_token")
    if not isinstance(raw, str):
        raise SignInFailed("The provider sent no ID token.")
    algorithms = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    registry = JWSRegistry(algorithms=[a for a in algorithms if a != "none"])
    try:
        try:
            decoded = jwt.decode(raw, KeySet.import_key_set(document["keys"]), registry=registry)
        except JoseError:  # the provider may have rotated its keys since we fetched them
            keys = metadata(p.issuer, refresh=True)["keys"]
            decoded = jwt.decode(raw, KeySet.import_key_set(keys), registry=registry)
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {"iss": {"essential": True, "value": p.issuer}},
            {"nonce": nonce, "client_id": p.client_id, "access_token": token.get("access_token")},
        )
        claims.validate(leeway=CLOCK_LEEWAY)
    except (JoseError, ValueError, KeyError) as exc:
        raise SignInFailed(f"The provider's ID token did not verify: {exc}") from exc
    return claims
