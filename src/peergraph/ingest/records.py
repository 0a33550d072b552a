"""The normalised records every parser produces and the loader consumes.

Parsers are pure: bytes in, these dataclasses out. A parser yields one item per source
record: a record dataclass when the record is usable, a :class:`RecordError` when it is
not, so the loader can report the bad ones with their position and keep the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

EntityKind = Literal["work", "author", "institution", "source", "topic"]


@dataclass(slots=True)
class InstitutionRecord:
    name: str
    openalex_id: str | None = None  # "I123"
    ror: str | None = None  # "03yrm5c26" (no resolver prefix)
    country_code: str | None = None
    type: str | None = None
    domains: list[str] | None = None
    homepage_url: str | None = None
    full: bool = False  # a full entity record (overwrites) rather than a nested stub (fills gaps)

    kind: EntityKind = "institution"


@dataclass(slots=True)
class SourceRecord:
    name: str
    short_name: str | None = None
    openalex_id: str | None = None  # "S123"
    issn_l: str | None = None
    issns: list[str] | None = None
    type: str | None = None
    publisher: str | None = None
    homepage_url: str | None = None
    full: bool = False

    kind: EntityKind = "source"


@dataclass(slots=True)
class TopicRecord:
    taxonomy: str  # "openalex" | "openalex-concept" | "arxiv" | "keyword" | ...
    external_id: str
    name: str
    subfield: str | None = None
    field: str | None = None
    domain: str | None = None
    level: int | None = None
    description: str | None = None
    full: bool = False

    kind: EntityKind = "topic"


@dataclass(slots=True)
class WorkTopicLink:
    topic: TopicRecord
    score: float | None = None
    is_primary: bool = False


@dataclass(slots=True)
class AuthorshipRecord:
    raw_name: str
    given: str | None = None
    family: str | None = None
    orcid: str | None = None  # "0000-0002-1825-0097"
    upstream_author_id: str | None = None  # e.g. OpenAlex "A5023888391"
    raw_affiliations: list[str] = field(default_factory=list)
    institutions: list[InstitutionRecord] = field(default_factory=list)
    is_corresponding: bool | None = None
    order_guessed: bool = False  # printed as one string: family name guessed (names.py)


@dataclass(slots=True)
class WorkRecord:
    title: str
    record_key: str | None = None  # the record's id in its source (CSL id, BibTeX key, ...)
    abstract: str | None = None
    year: int | None = None
    publication_date: str | None = None  # ISO 8601, possibly partial: "2021", "2021-07"
    type: str | None = None  # normalised: article, preprint, conference-paper, ...
    language: str | None = None
    source: SourceRecord | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    url: str | None = None
    # normalised identifiers by scheme: doi, arxiv, openalex, pmid, pmcid, mag
    identifiers: dict[str, str] = field(default_factory=dict)
    authorships: list[AuthorshipRecord] = field(default_factory=list)
    topics: list[WorkTopicLink] = field(default_factory=list)
    references: list[tuple[str, str]] = field(default_factory=list)  # (scheme, value)
    # how many works cite it, as the source counted on ``counts_date`` (OpenAlex only)
    cited_by_count: int | None = None
    counts_date: str | None = None
    # what was wrong but not fatal (reason, message): reported, the record still imported
    warnings: list[tuple[str, str]] = field(default_factory=list)

    kind: EntityKind = "work"


@dataclass(slots=True)
class AuthorRecord:
    """An upstream author entity (OpenAlex authors file)."""

    openalex_id: str
    display_name: str
    orcid: str | None = None
    name_alternatives: list[str] = field(default_factory=list)
    institution_ids: list[str] = field(default_factory=list)
    works_count: int | None = None
    institutions: list[InstitutionRecord] = field(default_factory=list)

    kind: EntityKind = "author"


Record = WorkRecord | AuthorRecord | InstitutionRecord | SourceRecord | TopicRecord


@dataclass(slots=True)
class Repeat:
    """A record whose source text is identical to one already stored by this import: it
    is counted as merged and costs no parsing, no writes and no provenance row."""


class RecentDigests:
    """The digests of records this import has already read, the most recent
    ``capacity`` of them (a bounded memory, whatever the file holds)."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._seen: dict[bytes, None] = {}

    def __contains__(self, digest: object) -> bool:
        return digest in self._seen

    def add(self, digest: bytes | None) -> None:
        if digest is None:
            return
        self._seen[digest] = None
        if len(self._seen) > self.capacity:
            del self._seen[next(iter(self._seen))]

    def discard(self, digest: bytes | None) -> None:
        self._seen.pop(digest, None)  # type: ignore[arg-type]


@dataclass(slots=True)
class RecordError:
    """A record that could not be used. ``fatal`` means the rest of the file is unreadable."""

    reason: str  # short machine-readable code: invalid-json, missing-title, ...
    message: str
    line: int | None = None
    fatal: bool = False


@dataclass(slots=True)
class Parsed:
    """One item of a parser's output stream: the record (or error) and where it was."""

    number: int  # 1-based record number within the file
    line: int | None
    item: Record | RecordError | Repeat
    offset: int = 0  # bytes of the (possibly compressed) file consumed so far, for progress
    # a digest of the record's source text: identical records of one file share it
    digest: bytes | None = None


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """Bounds on one record, so one hostile record can cost neither memory nor a crash.

    Defaults: 16 MiB per record (real ones are at most a few hundred KB) and JSON nesting
    64 levels deep (real records nest about 6). A record past a limit is skipped, reported
    with its line, and never held whole in memory.
    """

    max_record_bytes: int = 16 * 1024 * 1024
    max_json_depth: int = 64


class FormatError(Exception):
    """The file cannot be read as the requested or detected format at all."""
