"""Normalisation of identifiers, titles and free text shared by every parser."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_ARXIV_PREFIX = re.compile(r"^(?:arxiv:|https?://(?:www\.)?arxiv\.org/(?:abs|pdf)/)", re.I)
_ARXIV_NEW = re.compile(r"^(\d{4}\.\d{4,5})(?:v\d+)?(?:\.pdf)?$")
_ARXIV_OLD = re.compile(r"^([a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$")
_OPENALEX = re.compile(r"^([WAISTCPFwaistcpf])(\d+)$")
_ORCID = re.compile(r"(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dXx])")
_ROR = re.compile(r"^0[a-z0-9]{6}\d{2}$")
_WS = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def clean_text(value: object) -> str | None:
    """Collapse whitespace and drop control characters (NUL and the like: PostgreSQL
    refuses them in text, browsers show them as boxes); None for anything that is not a
    non-empty string."""
    if not isinstance(value, str):
        return None
    if not value.isprintable():  # a C-speed scan; most values skip the substitution
        value = _CONTROL.sub("", value)
    text = _WS.sub(" ", value).strip()
    return text or None


def normalize_doi(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    doi = _DOI_PREFIX.sub("", value.strip()).strip().lower()
    return doi if _DOI.match(doi) else None


def normalize_arxiv(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = _ARXIV_PREFIX.sub("", value.strip())
    if match := _ARXIV_NEW.match(text):
        return match.group(1)
    if match := _ARXIV_OLD.match(text):
        return match.group(1)
    return None


def normalize_openalex_id(value: object, prefix: str | None = None) -> str | None:
    """``https://openalex.org/W2741809807`` → ``W2741809807`` (None if not an OpenAlex id)."""
    if not isinstance(value, str) or not value:
        return None
    tail = value.rstrip("/").rsplit("/", 1)[-1]
    match = _OPENALEX.match(tail)
    if not match:
        return None
    letter = match.group(1).upper()
    if prefix is not None and letter != prefix:
        return None
    return letter + match.group(2)


def normalize_orcid(value: object) -> str | None:
    """Return the canonical ``0000-0002-1825-0097`` form, or None when the checksum fails."""
    if not isinstance(value, str):
        return None
    match = _ORCID.search(value)
    if not match:
        return None
    digits = "".join(match.groups()).upper()
    # ISO 7064 mod 11-2, as ORCID specifies for its last character
    total = 0
    for char in digits[:-1]:
        total = (total + int(char)) * 2
    check = (12 - total % 11) % 11
    expected = "X" if check == 10 else str(check)
    if digits[-1] != expected:
        return None
    return "-".join(digits[i : i + 4] for i in range(0, 16, 4))


def normalize_ror(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    tail = value.rstrip("/").rsplit("/", 1)[-1].lower()
    return tail if _ROR.match(tail) else None


def normalize_pmid(value: object) -> str | None:
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        return None
    tail = value.rstrip("/").rsplit("/", 1)[-1]
    return tail if tail.isdigit() else None


def fold(text: str) -> str:
    """Lower-case ASCII-ish folding: accents dropped, ß→ss, ligatures split."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def title_key(title: str) -> str:
    """Normalised title for duplicate detection: folded, punctuation and spacing removed."""
    return _NON_ALNUM.sub(" ", fold(title)).strip()


def name_key(name: str | None) -> str:
    return _NON_ALNUM.sub("", fold(name)) if name else ""


def dedupe_key(title: str, year: int | None, first_family: str | None) -> str:
    return f"{title_key(title)}|{year if year is not None else ''}|{name_key(first_family)}"


def domain_from_url(url: object) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    host = urlsplit(url if "//" in url else f"//{url}").hostname
    if not host:
        return None
    return host.removeprefix("www.")


def parse_year(value: object) -> int | None:
    """Accept ints and strings like "2021" or "2021-07-01"; reject absurd years."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        year = value
    elif isinstance(value, str):
        match = re.match(r"\s*(\d{4})", value)
        if not match:
            return None
        year = int(match.group(1))
    else:
        return None
    return year if 1000 <= year <= 2100 else None


def iso_date(year: object, month: object = None, day: object = None) -> str | None:
    """Build a (possibly partial) ISO date from parts, dropping invalid parts."""
    y = parse_year(year)
    if y is None:
        return None
    try:
        m = int(month) if month not in (None, "") else None  # type: ignore[call-overload]
        d = int(day) if day not in (None, "") else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(y)
    if m is None or not 1 <= m <= 12:
        return str(y)
    if d is None or not 1 <= d <= 31:
        return f"{y:04d}-{m:02d}"
    return f"{y:04d}-{m:02d}-{d:02d}"
