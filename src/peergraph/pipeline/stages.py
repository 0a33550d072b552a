"""The pipeline's stages as Spark jobs. Each stage calls the single-machine domain code
(the importer's parsers, the de-duplication rule of ingest/dedupe.py); none re-implements
a rule.

Records carry a global order ``g = file index × 2³² + record number``: the order in which
`peergraph import` would read them (files as given, records in file order). Work ids are
the ranks of their first records in that order, as the store's insertion order gives them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peergraph.ingest.dedupe import STRONG_SCHEMES, WorkMatcher, fill_fields, work_fields, work_key
from peergraph.ingest.formats import iter_parsed
from peergraph.ingest.loader import file_sha256
from peergraph.ingest.records import (
    FormatError,
    ImportLimits,
    RecentDigests,
    RecordError,
    WorkRecord,
)

FILE_SHIFT = 32
MAX_COMPONENT_ROUNDS = 64


@dataclass(frozen=True)
class InputFile:
    index: int
    path: str
    format: str


def order(file_index: int, number: int) -> int:
    return (file_index << FILE_SHIFT) | number


def position(g: int) -> tuple[int, int]:
    """(file index, record number) of a global order number."""
    return g >> FILE_SHIFT, g & ((1 << FILE_SHIFT) - 1)


# -- stage 1: read --------------------------------------------------------------------


@dataclass
class FileRead:
    """What a task learned about its file: a row of the ``files`` table."""

    index: int
    path: str
    format: str
    sha256: str | None
    size: int | None
    error: str | None = None  # the file could not be read as its format at all


def read_file(source: InputFile, limits: ImportLimits | None = None) -> Iterator[Any]:
    """Parse one file in a Spark task with the importer's parser (ingest/formats.py),
    exactly as `peergraph import` reads it: repeats of a record's text come as
    :class:`Repeat`, bad records as :class:`RecordError` with their line, and reading stops
    after a fatal error. Yields ``(g, Parsed)`` pairs as they are read, then the file's
    :class:`FileRead`."""
    path = Path(source.path)
    try:
        sha, size = file_sha256(path), path.stat().st_size
    except OSError as exc:
        yield FileRead(source.index, source.path, source.format, None, None, f"cannot read: {exc}")
        return
    info = FileRead(source.index, source.path, source.format, sha, size)
    try:
        for item in iter_parsed(path, source.format, limits or ImportLimits(), RecentDigests()):
            yield order(source.index, item.number), item
            if isinstance(item.item, RecordError) and item.item.fatal:
                break
    except FormatError as exc:
        info.error = str(exc)
    yield info


# -- stage 2: de-duplicate ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkKeys:
    """What the de-duplication rule reads of a work record."""

    g: int
    identifiers: dict[str, str]
    key: str | None

    @classmethod
    def of(cls, g: int, record: WorkRecord) -> WorkKeys:
        return cls(g, dict(record.identifiers), work_key(record))

    def nodes(self) -> list[str]:
        """The values two records must share to be compared: strong identifiers, the key."""
        found = [
            f"{scheme}:{self.identifiers[scheme]}"
            for scheme in STRONG_SCHEMES
            if scheme in self.identifiers
        ]
        if self.key:
            found.append(f"key:{self.key}")
        return found


def match_group(group: Iterable[WorkKeys]) -> Iterator[tuple[int, int, bool]]:
    """Run the de-duplication rule over one connected group of records in reading order:
    ``(g, g of the work's first record, created)`` for each. Records in different groups
    share no strong identifier and no key, so the rule never compares them."""
    matcher = WorkMatcher()
    first: list[int] = []
    for keys in sorted(group, key=lambda k: k.g):
        slot, created, _ = matcher.offer(keys.identifiers, keys.key)
        if created:
            first.append(keys.g)
        yield keys.g, first[slot], created


def connected_groups(spark: Any, edges: Any) -> tuple[Any, int]:
    """Label every record with the smallest ``g`` of its connected group, where records
    connect through shared nodes (``edges``: a DataFrame of ``g``, ``node``). Min-label
    propagation with joins; it stops when no label changes, after as many rounds as the
    longest chain of shared values (two or three in real data). Returns the labels
    (``g``, ``label``) and the number of rounds."""
    from pyspark.sql import functions as F

    edges = edges.cache()
    labels = edges.select("g").distinct().withColumn("label", F.col("g")).cache()
    for rounds in range(1, MAX_COMPONENT_ROUNDS + 1):
        by_node = edges.join(labels, "g").groupBy("node").agg(F.min("label").alias("node_label"))
        updated = (
            edges.join(by_node, "node").groupBy("g").agg(F.min("node_label").alias("label")).cache()
        )
        changed = (
            updated.alias("new")
            .join(labels.alias("old"), "g")
            .where(F.col("new.label") != F.col("old.label"))
            .count()
        )
        labels.unpersist()
        labels = updated
        if changed == 0:
            edges.unpersist()
            return labels, rounds
    raise RuntimeError(
        f"de-duplication groups did not settle in {MAX_COMPONENT_ROUNDS} rounds: a chain of"
        " records sharing identifiers or keys is longer than any real data holds"
    )


def merged_work(records: list[tuple[int, WorkRecord]]) -> dict[str, Any]:
    """The work row from its ``(g, record)`` pairs in reading order: the first record's
    fields, empty ones filled from the later records (the writer's rule,
    ingest/dedupe.py)."""
    ordered = [record for _, record in records]
    row = fill_fields(work_fields(ordered[0]), ordered[1:])
    row["dedupe_key"] = work_key(ordered[0]) or ""
    return row
