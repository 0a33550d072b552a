"""arXiv metadata: the Kaggle OAI snapshot (JSON Lines) and arXiv API Atom feeds."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import IO, Any, cast

from peergraph.ingest.common import check_work, wrong_type
from peergraph.ingest.latex import latex_to_unicode
from peergraph.ingest.names import display_name, order_guessed, parse_name
from peergraph.ingest.normalize import clean_text, normalize_arxiv, normalize_doi, parse_year
from peergraph.ingest.records import (
    AuthorshipRecord,
    ImportLimits,
    RecordError,
    TopicRecord,
    WorkRecord,
    WorkTopicLink,
)

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"


@cache
def category_names() -> dict[str, str]:
    path = Path(__file__).with_name("arxiv_categories.tsv")
    pairs = (line.split("\t", 1) for line in path.read_text("utf-8").splitlines() if "\t" in line)
    return {code: name for code, name in pairs}


def category_topic(code: str) -> TopicRecord:
    """arXiv category → topic; readable name from arXiv's taxonomy, code kept as the id."""
    names = category_names()
    archive = code.split(".", 1)[0]
    name = names.get(code) or names.get(archive) or code
    field = names.get(archive) if "." in code else None
    if archive in ("cs", "math", "stat", "econ", "eess", "q-bio", "q-fin", "nlin", "physics"):
        field = {
            "cs": "Computer Science",
            "math": "Mathematics",
            "stat": "Statistics",
            "econ": "Economics",
            "eess": "Electrical Engineering and Systems Science",
            "q-bio": "Quantitative Biology",
            "q-fin": "Quantitative Finance",
            "nlin": "Nonlinear Sciences",
            "physics": "Physics",
        }[archive]
    return TopicRecord(taxonomy="arxiv", external_id=code, name=name, field=field or "Physics")


def _topics(codes: list[str]) -> list[WorkTopicLink]:
    seen: list[str] = []
    for code in codes:
        if code and code not in seen:
            seen.append(code)
    return [WorkTopicLink(category_topic(c), None, i == 0) for i, c in enumerate(seen)]


def parse_kaggle_record(obj: Any) -> WorkRecord | RecordError:
    """One line of ``arxiv-metadata-oai-snapshot.json``."""
    if not isinstance(obj, dict):
        return wrong_type("record", "an object", obj)
    arxiv_id = normalize_arxiv(str(obj.get("id", "")))
    if arxiv_id is None:
        return RecordError("missing-id", f"no valid arXiv id: {str(obj.get('id'))[:40]!r}")
    title = obj.get("title")
    if title is not None and not isinstance(title, str):
        return wrong_type("title", "a string", title)
    parsed = obj.get("authors_parsed")
    authorships: list[AuthorshipRecord] = []
    if isinstance(parsed, list):
        for entry in parsed:
            if (
                not isinstance(entry, list)
                or not entry
                or not all(isinstance(x, str) for x in entry)
            ):
                return wrong_type("authors_parsed[]", "a list of strings", entry)
            family = clean_text(latex_to_unicode(entry[0]))
            given = clean_text(latex_to_unicode(entry[1])) if len(entry) > 1 else None
            suffix = clean_text(entry[2]) if len(entry) > 2 else None
            if not family and not given:
                continue
            raw = display_name(given, family) + (f" {suffix}" if suffix else "")
            authorships.append(AuthorshipRecord(raw_name=raw, given=given, family=family))
    elif isinstance(obj.get("authors"), str):
        for name in _split_author_string(latex_to_unicode(obj["authors"])):
            given, family = parse_name(name)
            authorships.append(
                AuthorshipRecord(
                    raw_name=name, given=given, family=family, order_guessed=order_guessed(name)
                )
            )
    date = None
    versions = obj.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        date = _rfc2822_date(versions[0].get("created"))
    identifiers = {"arxiv": arxiv_id}
    doi_field = obj.get("doi")
    if isinstance(doi_field, str):
        for candidate in doi_field.split():
            if doi := normalize_doi(candidate):
                identifiers["doi"] = doi
                break
    categories = obj.get("categories")
    codes = categories.split() if isinstance(categories, str) else []
    record = WorkRecord(
        title=clean_text(latex_to_unicode(title or "")) or "",
        record_key=arxiv_id,
        abstract=clean_text(obj.get("abstract")),
        year=parse_year(date) if date else None,
        publication_date=date,
        type="preprint",
        url=f"https://arxiv.org/abs/{arxiv_id}",
        identifiers=identifiers,
        authorships=authorships,
        topics=_topics(codes),
    )
    return check_work(record)


def _split_author_string(authors: str) -> list[str]:
    text = authors.replace(" and ", ", ")
    return [part.strip() for part in text.split(",") if part.strip()]


def _rfc2822_date(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError):
        return None


DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def iter_atom(
    stream: IO[bytes], limits: ImportLimits | None = None
) -> Iterator[tuple[int, WorkRecord | RecordError]]:
    """Stream the ``<entry>`` elements of an arXiv API feed (ElementTree's iterparse
    keeps memory flat). A document type declaration stops the feed before the parser
    sees it, as defusedxml's ``forbid_dtd`` would: arXiv's feeds never have one, and
    entities are how XML bombs and external entities get in. An entry larger than the
    record limit stops the feed too: XML cannot be resumed after a skipped part."""
    max_bytes = (limits or ImportLimits()).max_record_bytes
    parser: ET.XMLPullParser = ET.XMLPullParser(events=("end",))
    entries = 0
    since_entry = 0  # bytes fed since the last complete entry
    tail = b""  # the end of the previous chunk: a declaration may straddle two
    try:
        while True:
            chunk = stream.read(1 << 16)
            if DTD.search(tail + chunk):
                message = "the feed declares a DTD or entities (<!DOCTYPE, <!ENTITY): refused"
                yield entries + 1, RecordError("dtd-refused", message, None, True)
                return
            tail = chunk[-16:]
            if chunk:
                parser.feed(chunk)
                since_entry += len(chunk)
            else:
                parser.close()
            for event in parser.read_events():
                element = cast(Any, event)[1]
                if element.tag == f"{ATOM}entry":
                    entries += 1
                    since_entry = 0
                    try:
                        record = parse_atom_entry(element)
                    except Exception as exc:  # one entry nobody foresaw: report it
                        message = f"{type(exc).__name__}: {exc}"[:500]
                        record = RecordError("parser-error", message)
                    yield entries, record
                    element.clear()
            if not chunk:
                return
            if since_entry > max_bytes:
                message = f"an entry larger than {max_bytes:,} bytes; the rest of the feed"
                yield (
                    entries + 1,
                    RecordError("record-too-large", message + " cannot be read", None, True),
                )
                return
    except ET.ParseError as exc:
        line = exc.position[0]
        message = f"{exc}; the rest of the feed cannot be read"
        yield entries + 1, RecordError("invalid-xml", message, line, True)


def parse_atom_entry(entry: ET.Element) -> WorkRecord | RecordError:
    raw_id = (entry.findtext(f"{ATOM}id") or "").strip()
    arxiv_id = normalize_arxiv(raw_id)
    if arxiv_id is None:
        return RecordError("missing-id", f"entry id is not an arXiv id: {raw_id[:60]!r}")
    authorships = []
    for author in entry.findall(f"{ATOM}author"):
        name = clean_text(author.findtext(f"{ATOM}name"))
        if not name:
            continue
        given, family = parse_name(name)
        affiliations = [
            a for a in (clean_text(el.text) for el in author.findall(f"{ARXIV}affiliation")) if a
        ]
        authorships.append(
            AuthorshipRecord(
                raw_name=name,
                given=given,
                family=family,
                raw_affiliations=affiliations,
                order_guessed=order_guessed(name),
            )
        )
    published = (entry.findtext(f"{ATOM}published") or "").strip()[:10] or None
    primary = entry.find(f"{ARXIV}primary_category")
    codes = [primary.get("term", "")] if primary is not None else []
    codes += [c.get("term", "") for c in entry.findall(f"{ATOM}category")]
    identifiers = {"arxiv": arxiv_id}
    if doi := normalize_doi(entry.findtext(f"{ARXIV}doi") or ""):
        identifiers["doi"] = doi
    record = WorkRecord(
        title=clean_text(entry.findtext(f"{ATOM}title")) or "",
        record_key=arxiv_id,
        abstract=clean_text(entry.findtext(f"{ATOM}summary")),
        year=parse_year(published),
        publication_date=published,
        type="preprint",
        url=f"https://arxiv.org/abs/{arxiv_id}",
        identifiers=identifiers,
        authorships=authorships,
        topics=_topics(codes),
    )
    return check_work(record)
