"""CSL-JSON (Citation Style Language) — as exported by Zotero, Mendeley, Pandoc, Crossref."""

from __future__ import annotations

from typing import Any

from peergraph.ingest.common import check_work, normalize_type, wrong_type
from peergraph.ingest.names import display_name, order_guessed, parse_name
from peergraph.ingest.normalize import (
    clean_text,
    iso_date,
    normalize_arxiv,
    normalize_doi,
    normalize_pmid,
    parse_year,
)
from peergraph.ingest.records import (
    AuthorshipRecord,
    RecordError,
    SourceRecord,
    WorkRecord,
)


def parse_csl_item(item: Any) -> WorkRecord | RecordError:
    if not isinstance(item, dict):
        return wrong_type("item", "an object", item)
    title = item.get("title")
    if title is not None and not isinstance(title, str):
        return wrong_type("title", "a string", title)
    authors = item.get("author", [])
    if not isinstance(authors, list):
        return wrong_type("author", "a list", authors)
    authorships = []
    for person in authors:
        if not isinstance(person, dict):
            return wrong_type("author[]", "an object", person)
        authorship = _csl_name(person)
        if authorship is not None:
            authorships.append(authorship)
    year, date = _csl_issued(item.get("issued"))
    identifiers: dict[str, str] = {}
    if doi := normalize_doi(item.get("DOI")):
        identifiers["doi"] = doi
    if pmid := normalize_pmid(item.get("PMID")):
        identifiers["pmid"] = pmid
    if pmcid := clean_text(item.get("PMCID")):
        identifiers["pmcid"] = pmcid.upper()
    url = clean_text(item.get("URL"))
    if arxiv := normalize_arxiv(item.get("arxiv")) or normalize_arxiv(url or ""):
        identifiers["arxiv"] = arxiv
    venue = clean_text(item.get("container-title"))
    venue_short = clean_text(item.get("container-title-short"))
    source = None
    if venue or venue_short:
        source = SourceRecord(
            name=venue or venue_short or "",
            short_name=venue_short,
            issn_l=_first_issn(item.get("ISSN")),
            publisher=clean_text(item.get("publisher")),
        )
    key = item.get("id")
    record = WorkRecord(
        title=clean_text(title) or "",
        record_key=str(key)[:300] if isinstance(key, (str, int)) else None,
        abstract=clean_text(item.get("abstract")),
        year=year,
        publication_date=date,
        type=normalize_type(item.get("type")),
        language=(clean_text(item.get("language")) or "")[:16] or None,
        source=source,
        volume=_short(item.get("volume")),
        issue=_short(item.get("issue")),
        pages=_short(item.get("page")),
        url=url,
        identifiers=identifiers,
        authorships=authorships,
    )
    return check_work(record)


def _short(value: object) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return clean_text(value)


def _first_issn(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    text = clean_text(value)
    return text[:9] if text else None


MAX_AFFILIATIONS = 20
MAX_AFFILIATION_CHARS = 500


def _csl_name(person: dict[str, Any]) -> AuthorshipRecord | None:
    affiliations = _affiliations(person.get("affiliation"))
    literal = clean_text(person.get("literal"))
    if literal:
        given, family = parse_name(literal)
        return AuthorshipRecord(
            raw_name=literal,
            given=given,
            family=family,
            raw_affiliations=affiliations,
            order_guessed=order_guessed(literal),
        )
    given = clean_text(person.get("given"))
    family = clean_text(person.get("family"))
    particle = clean_text(person.get("non-dropping-particle")) or clean_text(
        person.get("dropping-particle")
    )
    if particle and family:
        family = f"{particle} {family}"
    if not given and not family:
        return None
    suffix = clean_text(person.get("suffix"))
    raw = display_name(given, family) + (f" {suffix}" if suffix else "")
    return AuthorshipRecord(raw_name=raw, given=given, family=family, raw_affiliations=affiliations)


def _affiliations(value: object) -> list[str]:
    """CSL-JSON affiliations: [{"name": …}] (citeproc-js, Zotero) or plain strings."""
    if not isinstance(value, list):
        return []
    names = []
    for entry in value[:MAX_AFFILIATIONS]:
        name = entry.get("name") if isinstance(entry, dict) else entry
        text = clean_text(name) if isinstance(name, str) else None
        if text:
            names.append(text[:MAX_AFFILIATION_CHARS])
    return names


def _csl_issued(issued: object) -> tuple[int | None, str | None]:
    """CSL dates come as {"date-parts": [[2021, 7, 1]]}, {"raw": "2021-07"} or {"literal": …}."""
    if isinstance(issued, dict):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            first = parts[0]
            date = iso_date(*([*list(first[:3]), None, None])[:3])
            return parse_year(first[0]), date
        for key in ("raw", "literal"):
            raw = issued.get(key)
            if isinstance(raw, str):
                year = parse_year(raw)
                return year, _raw_date(raw) if year else None
    elif isinstance(issued, (str, int)):
        year = parse_year(issued)
        return year, str(year) if year else None
    return None, None


def _raw_date(raw: str) -> str | None:
    parts = raw.strip().replace("/", "-").split("-")
    return iso_date(*([*parts, None, None])[:3])
