"""Format detection (from content, not file names) and the one entry point to every parser."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peergraph.ingest import arxiv, bibtex, csl, openalex
from peergraph.ingest.jsonstream import (
    JsonItem,
    decode_checked,
    digest_of,
    iter_api_results,
    iter_json_array,
    iter_json_lines,
    load_small_json,
    open_binary,
    read_head,
)
from peergraph.ingest.records import (
    FormatError,
    ImportLimits,
    Parsed,
    RecentDigests,
    Record,
    RecordError,
    Repeat,
)

FORMATS = {
    "openalex-jsonl": "OpenAlex entities, one JSON object per line (snapshot parts, .gz or plain)",
    "openalex-api": 'OpenAlex API list response {"meta": ..., "results": [...]}',
    "openalex-json": "a single OpenAlex entity as the API returns it",
    "csl-json": "CSL-JSON array (Zotero, Mendeley, Pandoc, Crossref exports)",
    "arxiv-jsonl": "arXiv metadata snapshot (Kaggle arxiv-metadata-oai-snapshot.json)",
    "arxiv-atom": "arXiv API Atom feed",
    "bibtex": "BibTeX (.bib)",
}
_BIBTEX_ENTRY = re.compile(rb"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)
SNAPSHOT_ENTITIES = ("institutions", "sources", "topics", "concepts", "authors", "works")
SNAPSHOT_SKIPPED = (
    "publishers",
    "funders",
    "merged_ids",
    "keywords",
    "domains",
    "fields",
    "subfields",
)


@dataclass(frozen=True)
class ImportTarget:
    path: Path
    format: str


def detect_format(path: Path) -> str:
    """Name the format of ``path`` from its first 64 KiB, or raise FormatError."""
    try:
        head = read_head(path)
    except OSError as exc:
        raise FormatError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        raise FormatError(f"{path}: the file is empty")
    if text.startswith(b"<"):
        if b"http://www.w3.org/2005/Atom" in head and b"arxiv" in head.lower():
            return "arxiv-atom"
        raise FormatError(f"{path}: XML, but not an arXiv Atom feed")
    if text.startswith(b"["):
        return _detect_array(path, text)
    if text.startswith(b"{"):
        obj = _first_object(text)
        if isinstance(obj, dict):
            if "meta" in obj and "results" in obj:
                return "openalex-api"
            if _looks_arxiv(obj):
                return "arxiv-jsonl"
            if _looks_openalex(obj):
                return "openalex-jsonl"
            if _looks_csl(obj):
                raise FormatError(f"{path}: CSL-JSON items must be in a JSON array")
            raise FormatError(f"{path}: JSON lines, but neither OpenAlex nor arXiv records")
        if re.match(rb'\{\s*"meta"\s*:', text) or b'"results"' in text[:200]:
            return "openalex-api"
        if re.search(rb'"id"\s*:\s*"https://openalex\.org/', text[:2000]):
            return "openalex-json"
        raise FormatError(f"{path}: JSON, but not a format peergraph knows")
    if _BIBTEX_ENTRY.search(head):
        return "bibtex"
    raise FormatError(f"{path}: unknown format (expected OpenAlex, CSL-JSON, arXiv or BibTeX)")


def _first_object(text: bytes) -> object:
    """The first of the head's lines that decodes to a JSON object within the depth limit
    (a hostile or broken first line must not decide, or crash, the detection)."""
    limits = ImportLimits()
    for line in text.split(b"\n")[:50]:
        try:
            item = decode_checked(line.decode("utf-8"), 1, limits)
        except UnicodeDecodeError:
            continue
        if item.error is None and isinstance(item.value, dict):
            return item.value
    return None


def _detect_array(path: Path, text: bytes) -> str:
    window = text[:65536]
    if b"openalex.org/" in window and b'"authorships"' in window:
        return "openalex-api"  # a saved list of works: streamed like the results array
    if re.search(rb'"(issued|container-title|author)"\s*:', window) or re.search(
        rb'"type"\s*:\s*"(paper-conference|article-journal|article|chapter|book)"', window
    ):
        return "csl-json"
    if b"openalex.org/" in window:
        return "openalex-api"
    raise FormatError(f"{path}: a JSON array, but neither CSL-JSON nor OpenAlex records")


def _looks_arxiv(obj: dict[str, object]) -> bool:
    return "authors_parsed" in obj or ("categories" in obj and "versions" in obj)


def _looks_openalex(obj: dict[str, object]) -> bool:
    return isinstance(obj.get("id"), str) and "openalex.org/" in str(obj["id"])


def _looks_csl(obj: dict[str, object]) -> bool:
    return "issued" in obj or "container-title" in obj


def expand_paths(paths: list[Path], forced_format: str | None = None) -> list[ImportTarget]:
    """Files stay files; an OpenAlex snapshot folder becomes its part files in entity
    order; any other folder becomes the files in it whose format can be recognised."""
    targets: list[ImportTarget] = []
    for path in paths:
        if not path.exists():
            raise FormatError(f"{path}: no such file or directory")
        if path.is_dir():
            targets.extend(_folder_targets(path, forced_format))
            continue
        targets.append(ImportTarget(path, forced_format or detect_format(path)))
    return targets


def _folder_targets(root: Path, forced_format: str | None) -> list[ImportTarget]:
    parts = _snapshot_parts(root)
    if parts:
        return parts
    targets = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        try:
            targets.append(ImportTarget(path, forced_format or detect_format(path)))
        except FormatError:
            continue  # READMEs, indexes and the like: not publication metadata
    if not targets:
        raise FormatError(f"{root}: a folder with no file in a format peergraph knows")
    return targets


def _snapshot_parts(root: Path) -> list[ImportTarget]:
    entity_dirs = [root / e for e in SNAPSHOT_ENTITIES if (root / e).is_dir()]
    if not entity_dirs and list(root.glob("updated_date=*")):
        entity_dirs = [root]  # the user pointed at one entity folder, e.g. snapshot/works
    parts: list[ImportTarget] = []
    for entity_dir in entity_dirs:
        for part in sorted(entity_dir.glob("updated_date=*/part_*")):
            if part.is_file():
                parts.append(ImportTarget(part, "openalex-jsonl"))
    return parts


def iter_parsed(
    path: Path,
    fmt: str,
    limits: ImportLimits | None = None,
    seen: RecentDigests | None = None,
) -> Iterator[Parsed]:
    """Parse ``path`` as ``fmt``; yields one :class:`Parsed` per record, in file order.

    With ``seen``, a record whose source text is identical to one read before (by
    digest) is not parsed again: it comes as :class:`Repeat`."""
    if fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    try:
        opened = open_binary(path)
    except OSError as exc:
        raise FormatError(f"{path.name}: cannot open: {exc.strerror}") from exc
    number = 0
    try:
        records = _dispatch(opened.stream, fmt, limits or ImportLimits(), seen or RecentDigests(0))
        for line, item, digest in records:
            if item is None:
                continue
            number += 1
            if isinstance(item, RecordError) and item.line is None:
                item.line = line
            yield Parsed(number, line, item, opened.offset, digest)
    except (OSError, EOFError) as exc:  # truncated or corrupt gzip, I/O errors
        number += 1
        yield Parsed(
            number,
            None,
            RecordError("unreadable", f"cannot read past this point: {exc}", None, fatal=True),
            opened.offset,
        )
    finally:
        opened.close()


Dispatched = Iterator[tuple[int | None, Record | RecordError | Repeat | None, bytes | None]]


def _dispatch(stream, fmt: str, limits: ImportLimits, seen: RecentDigests) -> Dispatched:
    if fmt == "csl-json":
        items = iter_json_array(stream, limits)
        yield from _json_records(items, csl.parse_csl_item, seen)
    elif fmt == "openalex-jsonl":
        items = iter_json_lines(stream, limits, seen)
        yield from _json_records(items, openalex.parse_openalex_record, seen)
    elif fmt == "openalex-api":
        items = iter_api_results(stream, limits=limits)
        yield from _json_records(items, openalex.parse_openalex_record, seen)
    elif fmt == "openalex-json":
        items = iter([load_small_json(stream, limits)])
        yield from _json_records(items, openalex.parse_openalex_record, seen)
    elif fmt == "arxiv-jsonl":
        items = iter_json_lines(stream, limits, seen)
        yield from _json_records(items, arxiv.parse_kaggle_record, seen)
    elif fmt == "arxiv-atom":
        for _number, record in arxiv.iter_atom(stream, limits):
            line = record.line if isinstance(record, RecordError) else None
            yield line, record, None
    elif fmt == "bibtex":
        parser = bibtex.BibtexParser()
        for entry in bibtex.iter_entries(stream, limits):
            if entry.body is None:
                yield entry.line, parser.parse(entry), None
                continue
            digest = digest_of(f"{entry.entry_type}{{{entry.body}".encode("utf-8", "replace"))
            if digest in seen:
                yield entry.line, Repeat(), digest
                continue
            record = guarded(parser.parse, entry)
            if record is not None and not isinstance(record, RecordError):
                seen.add(digest)
            yield entry.line, record, digest


def guarded(parse: Callable[[Any], Any], value: Any) -> Any:
    """``parse(value)``, with any exception turned into a report on this one record: a
    parser bug or a record nobody foresaw must never cost the rest of the file."""
    try:
        return parse(value)
    except Exception as exc:
        return RecordError("parser-error", f"{type(exc).__name__}: {exc}"[:500])


def _json_records(items: Iterator[JsonItem], parse, seen: RecentDigests) -> Dispatched:
    for item in items:
        if item.error:
            error = RecordError(item.error, item.message or "", item.line, item.fatal)
            yield item.line, error, None
        elif item.digest is not None and item.digest in seen:
            yield item.line, Repeat(), item.digest
        else:
            record = guarded(parse, item.value)
            if not isinstance(record, RecordError):
                seen.add(item.digest)
            yield item.line, record, item.digest
