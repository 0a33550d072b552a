"""BibTeX (.bib): a streaming entry reader and a field/name parser.

Entries are read one at a time (line by line, brace-balanced), so file size does not
matter; an entry whose braces never balance is cut at the next line that starts a new
entry (``@type{``) and reported. ``@string`` macros, ``#`` concatenation and the month
macros are honoured; LaTeX accents become Unicode.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from peergraph.ingest.common import check_work, normalize_type
from peergraph.ingest.latex import latex_to_unicode
from peergraph.ingest.names import order_guessed, parse_name
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
    ImportLimits,
    RecordError,
    SourceRecord,
    WorkRecord,
)

DEFAULT_LIMITS = ImportLimits()

_PIECE = 1 << 16
_INVALID = "\x00invalid-utf8"
_ENTRY_START = re.compile(r"^\s*@\s*([A-Za-z]+)\s*([{(])")
_ENTRY_ANYWHERE = re.compile(r"@\s*([A-Za-z]+)\s*([{(])")
_MONTHS = {
    m: str(i)
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_FIELD_NAME = re.compile(r"\s*([A-Za-z][\w\-:.+/]*)\s*=\s*")


@dataclass(slots=True)
class RawEntry:
    line: int
    entry_type: str
    body: str | None  # None when the entry is broken
    error: str | None = None
    junk: str | None = None  # non-blank text before the "@" on the entry's first line


class BibtexSyntaxError(ValueError):
    pass


def iter_entries(stream: IO[bytes], limits: ImportLimits = DEFAULT_LIMITS) -> Iterator[RawEntry]:
    """Yield raw entries with the line each starts on.

    Lines are read in pieces of at most 64 KiB, so a gigabyte on one line costs one piece
    of memory; an entry larger than ``limits.max_record_bytes`` is reported and skipped
    to its closing brace. As in BibTeX itself, an entry may start anywhere on a line;
    text before its "@" on that line is kept in ``junk`` so the importer can report it.
    """
    max_chars = limits.max_record_bytes
    decoder = codecs.getincrementaldecoder("utf-8")()
    current: list[str] = []
    start_line, entry_type, open_char, junk = 0, "", "{", None
    depth = size = line_no = 0
    skipping = False  # inside an oversized entry, looking for its end
    at_line_start = True
    while raw := stream.readline(_PIECE):
        starts_line = at_line_start
        line_no += starts_line
        at_line_start = raw.endswith(b"\n")
        try:
            text, invalid = decoder.decode(raw), False
        except UnicodeDecodeError:
            decoder.reset()
            text, invalid = raw.decode("utf-8", errors="replace"), True
        if current or skipping:
            match = _ENTRY_START.match(text) if starts_line else None
            if match and depth > 0:
                if current:
                    yield RawEntry(
                        start_line, entry_type, None, "unbalanced braces: entry never closed", junk
                    )
                current, depth, size, skipping = [], 0, 0, False
            else:
                depth += _depth_change(text, open_char)
                if skipping:
                    skipping = depth > 0
                    continue
                current.append(_INVALID if invalid else text)
                size += len(text)
                if size > max_chars:
                    message = f"entry larger than {max_chars:,} bytes"
                    yield RawEntry(start_line, entry_type, None, message, junk)
                    current, size, skipping = [], 0, depth > 0
                    continue
                if depth <= 0:
                    yield _finish(start_line, entry_type, current, junk)
                    current, depth, size = [], 0, 0
                continue
        match = _ENTRY_ANYWHERE.search(text)
        if not match:
            continue  # text between entries is a comment in BibTeX
        junk = text[: match.start()].strip()[:200] or None
        entry_type = match.group(1).lower()
        start_line = line_no
        open_char = match.group(2)
        rest = text[match.end() :]
        current = [_INVALID if invalid else rest]
        size = len(rest)
        depth = 1 + _depth_change(rest, open_char)
        if depth <= 0:
            yield _finish(start_line, entry_type, current, junk)
            current, depth = [], 0
    if current:
        yield RawEntry(start_line, entry_type, None, "end of file inside the entry", junk)


def _depth_change(text: str, open_char: str = "{") -> int:
    if open_char == "(":
        return text.count("(") - text.count(")") + 0
    return text.count("{") - text.count("\\{") - (text.count("}") - text.count("\\}"))


def _finish(line: int, entry_type: str, parts: list[str], junk: str | None) -> RawEntry:
    if _INVALID in parts:
        return RawEntry(line, entry_type, None, "entry contains invalid UTF-8", junk)
    body = "".join(parts).rstrip()
    if body.endswith(("}", ")")):
        body = body[:-1]  # the entry's own closing delimiter
    return RawEntry(line, entry_type, body, None, junk)


class BibtexParser:
    """Turns raw entries into work records, keeping @string macros across entries."""

    def __init__(self) -> None:
        self.macros: dict[str, str] = dict(_MONTHS)

    def parse(self, entry: RawEntry) -> WorkRecord | RecordError | None:
        if entry.body is None:
            return RecordError("invalid-bibtex", entry.error or "broken entry", entry.line)
        if entry.entry_type in ("comment", "preamble"):
            return None
        try:
            if entry.entry_type == "string":
                fields = _parse_fields(entry.body, self.macros)
                self.macros.update({k: v for k, v in fields.items()})
                return None
            key, _, rest = entry.body.partition(",")
            fields = _parse_fields(rest, self.macros)
        except BibtexSyntaxError as exc:
            return RecordError("invalid-bibtex", str(exc), entry.line)
        record = _to_work(key.strip(), entry.entry_type, fields)
        if entry.junk and isinstance(record, WorkRecord):
            record.warnings.append(
                ("text-before-entry", f"text before the entry was ignored: {entry.junk!r}")
            )
        return record


def _parse_fields(text: str, macros: dict[str, str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    pos = 0
    n = len(text)
    while pos < n:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n:
            break
        match = _FIELD_NAME.match(text, pos)
        if not match:
            snippet = text[pos : pos + 30].strip()
            raise BibtexSyntaxError(f"expected 'field = value' near {snippet!r}")
        name = match.group(1).lower()
        pos = match.end()
        pieces = []
        while True:
            value, pos = _parse_value(text, pos, macros)
            pieces.append(value)
            while pos < n and text[pos] in " \t\r\n":
                pos += 1
            if pos < n and text[pos] == "#":
                pos += 1
                while pos < n and text[pos] in " \t\r\n":
                    pos += 1
                continue
            break
        fields[name] = "".join(pieces)
    return fields


def _parse_value(text: str, pos: int, macros: dict[str, str]) -> tuple[str, int]:
    n = len(text)
    if pos >= n:
        raise BibtexSyntaxError("missing value")
    char = text[pos]
    if char == "{":
        depth = 0
        for index in range(pos, n):
            c = text[index]
            if c == "{" and text[index - 1] != "\\":
                depth += 1
            elif c == "}" and text[index - 1] != "\\":
                depth -= 1
                if depth == 0:
                    return text[pos + 1 : index], index + 1
        raise BibtexSyntaxError("unbalanced braces in a value")
    if char == '"':
        depth = 0
        for index in range(pos + 1, n):
            c = text[index]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif c == '"' and depth == 0 and text[index - 1] != "\\":
                return text[pos + 1 : index], index + 1
        raise BibtexSyntaxError("unterminated quoted value")
    match = re.compile(r"[\w\-:.+/]+").match(text, pos)
    if not match:
        raise BibtexSyntaxError(f"unexpected {char!r} where a value should be")
    word = match.group()
    if word.isdigit():
        return word, match.end()
    return macros.get(word.lower(), word), match.end()


def split_authors(value: str) -> list[str]:
    """Split on ' and ' outside braces ({Barnes and Noble} stays one corporate name)."""
    names, depth, start = [], 0, 0
    for match in re.finditer(r"[{}]|\s+and\s+", value, re.IGNORECASE):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        elif depth == 0:
            names.append(value[start : match.start()])
            start = match.end()
    names.append(value[start:])
    return [n.strip() for n in names if n.strip()]


def parse_bibtex_name(raw: str) -> AuthorshipRecord | None:
    stripped = raw.strip()
    if stripped.lower() == "others":
        return None
    if stripped.startswith("{") and stripped.endswith("}") and stripped.count("{") == 1:
        name = clean_text(latex_to_unicode(stripped))  # {World Health Organization}
        return AuthorshipRecord(raw_name=name, family=name) if name else None
    text = clean_text(latex_to_unicode(stripped))
    if not text:
        return None
    given, family = parse_name(text)
    printed = " ".join(p for p in (given, family) if p) if "," in text else text
    return AuthorshipRecord(
        raw_name=printed, given=given, family=family, order_guessed=order_guessed(text)
    )


def _to_work(key: str, entry_type: str, fields: dict[str, str]) -> WorkRecord | RecordError:
    def text(name: str) -> str | None:
        value = fields.get(name)
        return clean_text(latex_to_unicode(value)) if value is not None else None

    authorships = [
        a for a in (parse_bibtex_name(n) for n in split_authors(fields.get("author", ""))) if a
    ]
    year = parse_year(fields.get("year", "").strip())
    month = _MONTHS.get(fields.get("month", "").strip().lower()[:3], fields.get("month"))
    identifiers: dict[str, str] = {}
    if doi := normalize_doi(fields.get("doi")):
        identifiers["doi"] = doi
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "").lower()
    eprint = fields.get("eprint", "").strip()
    if prefix in ("arxiv", "") and (arxiv := normalize_arxiv(eprint)):
        identifiers["arxiv"] = arxiv
    if pmid := normalize_pmid((fields.get("pmid") or "").strip()):
        identifiers["pmid"] = pmid
    venue = text("journal") or text("booktitle") or text("journaltitle")
    pages = text("pages")
    record_type = normalize_type(entry_type)
    if record_type == "misc" and "arxiv" in identifiers:
        record_type = "preprint"
    record = WorkRecord(
        title=text("title") or "",
        record_key=key[:300] or None,
        abstract=text("abstract"),
        year=year,
        publication_date=iso_date(
            year, month if isinstance(month, str) and month.strip().isdigit() else None
        ),
        type=record_type,
        language=(text("language") or "")[:16] or None,
        source=SourceRecord(name=venue, publisher=text("publisher")) if venue else None,
        volume=text("volume"),
        issue=text("number"),
        pages=pages.replace("–", "-") if pages else None,
        url=text("url"),
        identifiers=identifiers,
        authorships=authorships,
    )
    return check_work(record)
