"""Checks every parser applies to a record before handing it to the loader."""

from __future__ import annotations

import re

from peergraph.ingest.records import RecordError, WorkRecord
from peergraph.links import safe_link

MAX_TITLE_CHARS = 2_000
MAX_ABSTRACT_CHARS = 100_000
MAX_AUTHORS = 5_000  # real papers reach a few thousand (particle physics collaborations)
MAX_NAME_CHARS = 300
MAX_SHORT_FIELD = 64

WORK_TYPES = {
    # CSL
    "paper-conference": "conference-paper",
    "article-journal": "article",
    "article": "preprint",
    "chapter": "book-chapter",
    "book": "book",
    "thesis": "dissertation",
    "report": "report",
    "dataset": "dataset",
    "manuscript": "preprint",
    "review": "review",
    # OpenAlex / Crossref
    "journal-article": "article",
    "proceedings-article": "conference-paper",
    "posted-content": "preprint",
    "book-chapter": "book-chapter",
    "preprint": "preprint",
    "dissertation": "dissertation",
    "conference-paper": "conference-paper",
    # BibTeX
    "inproceedings": "conference-paper",
    "conference": "conference-paper",
    "incollection": "book-chapter",
    "inbook": "book-chapter",
    "phdthesis": "dissertation",
    "mastersthesis": "dissertation",
    "techreport": "report",
    "unpublished": "preprint",
}


def normalize_type(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    key = value.strip().lower()
    return WORK_TYPES.get(key, key[:40])


# Inline markup that publishers leave in titles and abstracts (JATS, MathML, HTML).
_MARKUP = re.compile(
    r"</?(?:scp|i|b|em|strong|sup|sub|u|sc|tt|p|br|italic|bold|mml:[a-z]+|jats:[a-z]+|"
    r"inline-formula|title|sec)(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")


def strip_markup(text: str) -> str:
    if "<" not in text:
        return text
    return _SPACES.sub(" ", _MARKUP.sub("", text)).strip()


def check_work(record: WorkRecord) -> WorkRecord | RecordError:
    """Reject records with no usable title or absurd sizes; trim over-long short fields."""
    record.title = strip_markup(record.title)
    if record.abstract:
        record.abstract = strip_markup(record.abstract) or None
    if not record.title:
        return RecordError("missing-title", "record has no title")
    if len(record.title) > MAX_TITLE_CHARS:
        return RecordError("absurd-size", f"title is {len(record.title):,} characters long")
    if record.abstract and len(record.abstract) > MAX_ABSTRACT_CHARS:
        return RecordError("absurd-size", f"abstract is {len(record.abstract):,} characters long")
    if len(record.authorships) > MAX_AUTHORS:
        return RecordError("absurd-size", f"{len(record.authorships):,} authors")
    for authorship in record.authorships:
        if len(authorship.raw_name) > MAX_NAME_CHARS:
            return RecordError("absurd-size", "an author name is longer than 300 characters")
    if record.url is not None:
        link = safe_link(record.url)
        if link is None:
            shown = record.url[:200].encode("unicode_escape").decode("ascii")
            record.warnings.append(("unsafe-url", f"URL dropped by the URL policy: {shown}"))
        record.url = link
    for attr in ("volume", "issue", "pages"):
        value = getattr(record, attr)
        if value is not None and len(value) > MAX_SHORT_FIELD:
            setattr(record, attr, None)
    if record.source is not None and len(record.source.name) > 500:
        record.source = None
    return record


def wrong_type(field: str, expected: str, value: object) -> RecordError:
    return RecordError("wrong-type", f"'{field}' must be {expected}, got {type(value).__name__}")
