"""Venues and institutions on Spark: the store's rows and ids, by the writer's own rule.

Which row a venue or an institution named by a record becomes depends on the rows made
before it (ingest/entities.py: a name-only venue joins the oldest venue of its name, an
institution is found by its ROR under another OpenAlex id, a run's cache). So the
pipeline

1. lists, in tasks, every distinct venue and institution record per input file with the
   first place it is met in reading order (``g``, then its place in the record): the
   venue a work takes (that of its first record naming one), the institutions on its
   authors, and entity records;
2. runs ``ingest.entities.Resolver`` over them on the driver, in that order, on an
   in-memory table (``MemoryRows``) with one cache per input file, as `peergraph import`
   runs it against the database with one cache per import run;
3. hands the tasks the resulting ids (a broadcast map), and writes the ``sources`` and
   ``institutions`` tables with them.

Distinct venue and institution records per file are few (OpenAlex: about 260,000
venues and 110,000 institutions in all), so the driver's share stays small.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from peergraph.ingest.entities import (
    MemoryRows,
    Resolver,
    institution_row,
    source_row,
)
from peergraph.ingest.records import AuthorRecord, InstitutionRecord, SourceRecord, WorkRecord
from peergraph.pipeline.stages import position

Record = SourceRecord | InstitutionRecord
Signature = tuple[Any, ...]
Place = tuple[str, int, Signature]  # (kind, file, signature)


def signature(record: Record) -> Signature:
    """What a record says about its entity, hashable: two equal signatures in one file
    always resolve to the same row."""
    row = source_row(record) if isinstance(record, SourceRecord) else institution_row(record)
    return (record.full, *(tuple(v) if isinstance(v, list) else v for v in row.values()))


def place(record: Record, g: int) -> Place:
    kind = "source" if isinstance(record, SourceRecord) else "institution"
    return kind, position(g)[0], signature(record)


def chosen_source(records: list[tuple[int, WorkRecord]]) -> tuple[int, SourceRecord] | None:
    """The venue a work takes: that of its first record naming one (``_source_for``)."""
    return next(((g, r.source) for g, r in records if r.source is not None), None)


def institution_sources(records: list[tuple[int, WorkRecord]]) -> dict[Signature, int]:
    """For each institution named on the work's authors, the first record naming it."""
    first: dict[Signature, int] = {}
    for g, record in records:
        for authorship in record.authorships:
            for institution in authorship.institutions:
                first.setdefault(signature(institution), g)
    return first


Occurrence = tuple[Place, tuple[int, int, Record]]


def work_occurrences(
    records: list[tuple[int, WorkRecord]], merged: list[dict[str, Any]]
) -> Iterator[Occurrence]:
    """The venue and institution records one work makes the writer resolve, each with
    where it is met: ``(place, (g, order, record))``. ``merged``: the work's authorship
    rows (``dedupe.merged_authorships``), whose institutions are the ones linked."""
    chosen = chosen_source(records)
    if chosen is not None:
        g, source = chosen
        yield place(source, g), (g, 0, source)
    first = institution_sources(records)
    order = 1
    for row in merged:
        for institution in row["institutions"]:
            g = first.get(signature(institution), records[0][0])
            yield place(institution, g), (g, order, institution)
            order += 1


def entity_occurrences(g: int, item: Any) -> list[Occurrence]:
    """Venue and institution records read as entities (OpenAlex sources, institutions
    and authors files)."""
    if isinstance(item, SourceRecord | InstitutionRecord):
        return [(place(item, g), (g, 0, item))]
    if isinstance(item, AuthorRecord):
        return [(place(i, g), (g, k, i)) for k, i in enumerate(item.institutions)]
    return []


def first_met(a: tuple[int, int, Record], b: tuple[int, int, Record]) -> tuple[int, int, Record]:
    return a if a[:2] <= b[:2] else b


@dataclass
class Resolved:
    """The ids the writer's rule gives every (kind, file, signature), and the tables."""

    ids: dict[Place, int] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    institutions: list[dict[str, Any]] = field(default_factory=list)

    def source_id(self, g: int, record: SourceRecord) -> int:
        return self.ids[place(record, g)]

    def institution_id(self, g: int, record: InstitutionRecord) -> int:
        return self.ids[place(record, g)]

    def venue(self, records: list[tuple[int, WorkRecord]]) -> int | None:
        """The id of the venue a work takes."""
        chosen = chosen_source(records)
        return None if chosen is None else self.source_id(*chosen)

    def authorship_institutions(
        self, records: list[tuple[int, WorkRecord]], merged: list[dict[str, Any]]
    ) -> list[list[int]]:
        """The institution ids of each of a work's authorship rows (``merged``), each once."""
        first = institution_sources(records)
        return [
            list(
                dict.fromkeys(
                    self.institution_id(first.get(signature(i), records[0][0]), i)
                    for i in row["institutions"]
                )
            )
            for row in merged
        ]


def resolve(occurrences: Iterable[Occurrence]) -> Resolved:
    """Run the writer's rule over the first occurrence of each (kind, file, signature),
    in reading order, one cache per file."""
    sources, institutions = MemoryRows("source"), MemoryRows("institution")
    resolvers: dict[str, Resolver] = {}
    current_file: int | None = None
    resolved = Resolved()
    for (kind, file_index, sig), (_g, _n, record) in sorted(
        occurrences, key=lambda o: (o[1][0], o[1][1], o[0][0])
    ):
        if file_index != current_file:  # a new import run: empty caches
            current_file = file_index
            resolvers = {
                "source": Resolver("source", sources),
                "institution": Resolver("institution", institutions),
            }
        resolved.ids[(kind, file_index, sig)] = resolvers[kind].resolve(record)[0]
    resolved.sources = sources.table
    resolved.institutions = institutions.table
    return resolved
