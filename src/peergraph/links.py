"""The one URL policy for every link built from imported data.

Imported text is hostile until proven otherwise: a landing page of ``javascript:alert(1)``
or ``data:text/html,…`` would run in a visitor's browser if it became an ``href``. So a
value becomes a link only when :func:`safe_link` accepts it:

* schemes ``http`` and ``https``, with a host name and no user name or password
  (``https://good.example@evil.example/`` reads as one host and goes to another);
* ``doi:10.…/…`` and bare DOIs (``10.1000/xyz``), which become ``https://doi.org/…``;
* nothing else: no ``javascript:``, ``data:``, ``vbscript:``, ``file:``, relative or
  scheme-relative (``//host``) URLs.

Browsers drop tabs and newlines anywhere in a URL and spaces and controls around it, so
``java\\tscript:`` is ``javascript:`` to them; the policy removes the same characters before
it looks at the scheme, and refuses any other control character. What it returns is
normalised: scheme and host lower-case, the host in IDNA (punycode) form, and every
character that is not allowed in a URL percent-encoded, so the string is plain ASCII.

The importers apply it when they store a record (an unsafe URL is dropped and reported
as ``unsafe-url``), and the pages apply it again where they render, so rows stored by an
older version can never become links either. See docs/security.md.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

MAX_URL_CHARS = 2_000
ALLOWED_SCHEMES = ("http", "https")

# What the WHATWG URL parser strips: ASCII tab and newline anywhere, C0 controls and
# space at both ends.
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_EDGES = re.compile(r"^[\x00-\x20]+|[\x00-\x20]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_DOI_SCHEME = re.compile(r"^(?:doi:|info:doi/)\s*", re.IGNORECASE)
_HOST = re.compile(r"^[a-z0-9](?:[a-z0-9\-_]{0,62})(?:\.[a-z0-9\-_]{1,63})*\.?$")
# Characters kept as they are in a path, query or fragment; everything else is encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"


# A URL already in normal form (most imported ones are): lower-case scheme and host, a path,
# only characters that need no encoding. Returned as it is, at a tenth of the full cost;
# tests check that it always equals what the full normalisation returns.
_NORMAL = re.compile(
    r"https?://[a-z0-9][a-z0-9\-_]{0,62}(?:\.[a-z0-9\-_]{1,63})*"
    r"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]+)?"
    r"(?:#[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]+)?"
)


def safe_link(value: object) -> str | None:
    """The normalised ``http(s)`` URL for ``value``, or None when it must not be a link."""
    if not isinstance(value, str):
        return None
    if len(value) <= MAX_URL_CHARS and _NORMAL.fullmatch(value):
        return value
    return normalise_link(value)


def normalise_link(value: str) -> str | None:
    """:func:`safe_link` without the fast path for URLs already in normal form."""
    text = _EDGES.sub("", _TAB_NEWLINE.sub("", value))
    if not text or len(text) > MAX_URL_CHARS or _CONTROL.search(text):
        return None
    doi = _DOI_SCHEME.sub("", text) if _DOI_SCHEME.match(text) else text
    if _DOI.match(doi):
        return doi_link(doi)
    try:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES or not text[len(scheme) + 1 :].startswith("//"):
            return None
        # user info hides the real host; to browsers a backslash is a slash
        if parts.username is not None or parts.password is not None or "\\" in parts.netloc:
            return None
        host = parts.hostname
        port = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return None
    if not host:
        return None
    host = _ascii_host(host)
    if host is None:
        return None
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit(
        (
            scheme,
            netloc,
            quote(parts.path, safe=_PATH_SAFE) or "/",
            quote(parts.query, safe=_QUERY_SAFE),
            quote(parts.fragment, safe=_QUERY_SAFE),
        )
    )


def _ascii_host(host: str) -> str | None:
    host = host.lower()
    if host.startswith("[") or ":" in host:  # IPv6 literal
        return f"[{host.strip('[]')}]" if re.fullmatch(r"\[?[0-9a-f:.]+\]?", host) else None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return host if _HOST.match(host) else None


def doi_link(doi: str) -> str:
    """``https://doi.org/`` + the DOI, percent-encoded where a URL needs it."""
    return "https://doi.org/" + quote(doi, safe="/:;()._-")


def identifier_link(template: str, value: str) -> str | None:
    """A resolver URL (``https://arxiv.org/abs/{}``) for an identifier value, encoded so the
    value can only ever be a path inside the resolver, then checked by :func:`safe_link`."""
    return safe_link(template.format(quote(value, safe="/:;()._-")))
