"""The driver of `peergraph pipeline`: stages 1 (read) and 2 (de-duplicate) on Spark, and
the Parquet output (docs/pipeline.md).

Output folder, one Parquet table per sub-folder:

- ``files``: one row per input file: path, format, SHA-256, size, records read, works
  created and merged, records skipped, and the error when the file could not be read;
- ``records``: one row per record: its file and number, line, kind and what became of
  it (``created``, ``merged``, ``repeat``, ``skipped``; entity records are ``read``), and
  the id of its work;
- ``issues``: skipped records and warnings, as `peergraph imports ID` lists them;
- ``works``: one row per work, with the columns the store's ``works`` table holds;
- ``authorships``: one row per author of a work (``work_id``, ``position`` and the
  columns of the store's ``authorships`` table);
- ``work_identifiers``: ``work_id``, ``scheme``, ``value``;
- ``author_clusters``: one row per authorship: ``authorship_id`` (work id × 2²⁰ +
  position), ``cluster`` (the id of the cluster's first authorship: one author record),
  confidence and method, as a full ``peergraph rebuild`` gives them.

The folder is written beside its final place and moved there when every table is
complete, so a reader sees the previous output or the new one, never half of one.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peergraph.ingest.dedupe import AUTHORSHIP_COLUMNS, merged_authorships
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.records import Parsed, RecordError, Repeat, WorkRecord
from peergraph.pipeline.authors import (
    POSITION_BITS,
    bucketed,
    cluster_bucket,
    name_count_rows,
    name_counts,
    pack,
    with_counts,
    work_doc,
)
from peergraph.pipeline.stages import (
    FileRead,
    InputFile,
    WorkKeys,
    connected_groups,
    match_group,
    merged_work,
    position,
    read_file,
)

WORK_COLUMNS = (
    "title string, abstract string, year int, publication_date string, type string,"
    " language string, volume string, issue string, pages string, url string,"
    " cited_by_count long, cited_by_source string, cited_by_date string, dedupe_key string"
)
AUTHORSHIP_SCHEMA = (
    "work_id long, position int, raw_name string, given string, family string, orcid string,"
    " upstream_author_id string, raw_affiliations array<string>, is_corresponding boolean,"
    " order_guessed boolean"
)
BUCKET_AUTHORSHIPS = 100_000  # authorships per disambiguation bucket, about
Report = Callable[[str], None]


@dataclass
class FileSummary:
    path: str
    format: str
    records_read: int = 0
    created: int = 0
    merged: int = 0
    skipped: int = 0
    entities: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def counts(self) -> tuple[int, int, int, int, int]:
        return self.records_read, self.created, self.merged, self.skipped, self.entities


@dataclass
class PipelineSummary:
    files: list[FileSummary]
    works: int
    identifiers: int
    seconds: dict[str, float]
    out: Path
    rounds: int  # of the connected-groups propagation


def run_pipeline(
    spark: Any,
    targets: list[ImportTarget],
    out: Path,
    report: Report | None = None,
    *,
    authors: bool = True,
) -> PipelineSummary:
    """Read ``targets`` (in this order), de-duplicate their works, cluster their
    authorships into author records (unless not ``authors``) and write the tables to
    ``out``; returns what was read and written."""
    from pyspark import StorageLevel

    say = report or (lambda _message: None)
    sc = spark.sparkContext
    out = out.resolve()
    partial = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    timings: dict[str, float] = {}
    started = time.monotonic()

    # stage 1: one task per file, with the importer's parsers
    inputs = [InputFile(i, str(t.path), t.format) for i, t in enumerate(targets, start=1)]
    say(f"read: {len(inputs)} files")
    read = sc.parallelize(inputs, max(1, len(inputs))).flatMap(read_file)
    read = read.persist(StorageLevel.MEMORY_AND_DISK)
    files: list[FileRead] = read.filter(lambda x: isinstance(x, FileRead)).collect()  # runs it
    parsed = read.filter(lambda x: not isinstance(x, FileRead))
    works = parsed.filter(lambda p: isinstance(p[1].item, WorkRecord)).map(
        lambda p: (p[0], p[1].item)
    )
    works = works.persist(StorageLevel.MEMORY_AND_DISK)
    works.count()
    timings["read"] = time.monotonic() - started

    # stage 2: groups of records that share a strong identifier or a key, then the rule
    mark = time.monotonic()
    keys = works.map(lambda p: WorkKeys.of(p[0], p[1])).persist(StorageLevel.MEMORY_AND_DISK)
    edges = spark.createDataFrame(
        keys.flatMap(lambda k: [(k.g, node) for node in k.nodes()]), "g long, node string"
    )
    grouped, rounds = connected_groups(spark, edges)
    labels = grouped.rdd.map(lambda row: (row.g, row.label))
    assigned = (
        keys.map(lambda k: (k.g, k))
        .leftOuterJoin(labels)
        .map(lambda p: (p[0] if p[1][1] is None else p[1][1], p[1][0]))
        .groupByKey()
        .flatMap(lambda p: match_group(p[1]))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    # work ids: the ranks of the works' first records in reading order
    ids = (
        assigned.filter(lambda t: t[2])
        .map(lambda t: t[0])
        .sortBy(lambda g: g)
        .zipWithIndex()
        .map(lambda p: (p[0], p[1] + 1))
    )
    assignment = (
        assigned.map(lambda t: (t[1], (t[0], t[2])))
        .join(ids)
        .map(lambda p: (p[1][0][0], (p[1][1], p[1][0][1])))  # g → (work id, created)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    assignment.count()  # Spark is lazy: run the stage here, so that its time is its own
    timings["deduplicate"] = time.monotonic() - mark

    # the works with their records, then the tables
    mark = time.monotonic()
    say("write: works, authorships, identifiers, records, issues")
    by_work = (
        works.join(assignment)
        .map(lambda p: (p[1][1][0], (p[0], p[1][0])))
        .groupByKey()
        .map(lambda p: (p[0], sorted(p[1], key=lambda pair: pair[0])))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    by_work.count()
    timings["merge"] = time.monotonic() - mark
    mark = time.monotonic()
    spark.createDataFrame(
        by_work.map(lambda p: _work_row(p[0], p[1])),
        f"id long, first_file int, first_record long, {WORK_COLUMNS}",
    ).write.parquet(str(partial / "works"))
    spark.createDataFrame(
        by_work.flatMap(lambda p: _authorship_rows(p[0], p[1])), AUTHORSHIP_SCHEMA
    ).write.parquet(str(partial / "authorships"))
    # an identifier belongs to the work of the first record that carries it
    spark.createDataFrame(
        works.flatMap(lambda p: [((s, v), p[0]) for s, v in p[1].identifiers.items()])
        .reduceByKey(min)
        .map(lambda p: (p[1], p[0]))
        .join(assignment)
        .map(lambda p: (p[1][1][0], p[1][0][0], p[1][0][1])),
        "work_id long, scheme string, value string",
    ).write.parquet(str(partial / "work_identifiers"))
    records = (
        parsed.map(lambda p: (p[0], _outline(p[1])))  # only what the table needs crosses
        .leftOuterJoin(assignment)
        .map(lambda p: _record_row(p[0], p[1][0], p[1][1]))
        .cache()
    )
    spark.createDataFrame(
        records,
        "file int, number long, line long, kind string, action string, work_id long,"
        " reason string, message string",
    ).write.parquet(str(partial / "records"))
    spark.createDataFrame(
        parsed.flatMap(lambda p: _issue_rows(p[0], p[1])),
        "file int, number long, line long, reason string, message string, skipped boolean",
    ).write.parquet(str(partial / "issues"))
    timings["write"] = time.monotonic() - mark

    if authors:
        mark = time.monotonic()
        say("disambiguate: name counts, family scopes, clustering")
        _disambiguate(spark, by_work, partial)
        timings["disambiguate"] = time.monotonic() - mark

    mark = time.monotonic()
    counted = Counter(records.map(lambda r: (r[0], r[4], r[6])).countByValue())
    summaries = _file_summaries(files, counted)
    spark.createDataFrame(
        [
            (f.index, f.path, f.format, f.sha256, f.size, *s.counts(), f.error)
            for f, s in zip(sorted(files, key=lambda f: f.index), summaries, strict=True)
        ],
        "file int, path string, format string, sha256 string, size long, records_read long,"
        " created long, merged long, skipped long, entities long, error string",
    ).coalesce(1).write.parquet(str(partial / "files"))
    n_works = sum(s.created for s in summaries)
    n_identifiers = spark.read.parquet(str(partial / "work_identifiers")).count()
    for cached in (read, works, keys, assigned, assignment, by_work, records):
        cached.unpersist()
    _swap(partial, out)
    timings["write"] += time.monotonic() - mark
    timings["total"] = time.monotonic() - started
    return PipelineSummary(summaries, n_works, n_identifiers, timings, out, rounds)


def _disambiguate(spark: Any, by_work: Any, partial: Path) -> None:
    """Stage 3 (pipeline/authors.py): the ``author_clusters`` table."""
    from pyspark import StorageLevel

    docs = by_work.map(
        lambda p: pack(work_doc(p[0], [r for _, r in p[1]], merged_work(p[1])))
    ).persist(StorageLevel.MEMORY_AND_DISK)
    names = spark.createDataFrame(
        docs.flatMap(name_count_rows), "id long, first string, family string, key string"
    )
    counts = name_counts(names).rdd.map(lambda r: (r[0] >> POSITION_BITS, (r[0], tuple(r[1:]))))
    # buckets of family scopes: enough for every core, and about 100,000 authorships each
    authorships = names.count()
    buckets = max(2 * spark.sparkContext.defaultParallelism, authorships // BUCKET_AUTHORSHIPS)
    clusters = (
        docs.map(lambda d: (d[0], d))
        .join(counts.groupByKey())
        .map(lambda p: with_counts(p[1][0], p[1][1]))
        .flatMap(lambda doc: bucketed(doc, buckets))
        .groupByKey(numPartitions=buckets)
        .flatMap(lambda p: cluster_bucket(p[1]))
    )
    spark.createDataFrame(
        clusters, "authorship_id long, cluster long, confidence float, method string"
    ).write.parquet(str(partial / "author_clusters"))
    docs.unpersist()


def _work_row(work_id: int, records: list[tuple[int, WorkRecord]]) -> tuple[Any, ...]:
    row = merged_work(records)
    file_index, number = position(records[0][0])
    return (work_id, file_index, number, *(row[c.split()[0]] for c in WORK_COLUMNS.split(",")))


def _authorship_rows(work_id: int, records: list[tuple[int, WorkRecord]]) -> list[Any]:
    rows = merged_authorships([record for _, record in records])
    return [
        (work_id, position, *(row[column] for column in AUTHORSHIP_COLUMNS))
        for position, row in enumerate(rows)
    ]


def _outline(parsed: Parsed) -> tuple[Any, ...]:
    """(kind, action unless it is a work's, reason, message, line) of a parsed record."""
    item = parsed.item
    if isinstance(item, RecordError):
        line = item.line if item.line is not None else parsed.line
        return "error", "skipped", item.reason, item.message, line
    if isinstance(item, Repeat):
        return "repeat", "repeat", None, None, parsed.line
    return item.kind, None, None, None, parsed.line


def _record_row(g: int, outline: tuple[Any, ...], work: tuple[int, bool] | None) -> tuple[Any, ...]:
    file_index, number = position(g)
    kind, action, reason, message, line = outline
    if action is None:
        action = "read" if work is None else "created" if work[1] else "merged"
    work_id = work[0] if work is not None else None
    return (file_index, number, line, kind, action, work_id, reason, message)


def _issue_rows(g: int, parsed: Parsed) -> list[tuple[Any, ...]]:
    file_index, number = position(g)
    item = parsed.item
    if isinstance(item, RecordError):
        line = item.line if item.line is not None else parsed.line
        return [(file_index, number, line, item.reason[:40], item.message[:2000], True)]
    if isinstance(item, WorkRecord):
        return [
            (file_index, number, parsed.line, reason[:40], message[:2000], False)
            for reason, message in item.warnings
        ]
    return []


def _file_summaries(files: list[FileRead], counted: Counter[Any]) -> list[FileSummary]:
    summaries = []
    for info in sorted(files, key=lambda f: f.index):
        summary = FileSummary(info.path, info.format, error=info.error)
        reasons: Counter[str] = Counter()
        for (file_index, action, reason), n in counted.items():
            if file_index != info.index:
                continue
            summary.records_read += n
            if action == "created":
                summary.created += n
            elif action in ("merged", "repeat"):
                summary.merged += n
            elif action == "skipped":
                summary.skipped += n
                reasons[reason] += n
            else:
                summary.entities += n
        summary.skipped_by_reason = dict(reasons.most_common())
        summaries.append(summary)
    return summaries


def _swap(partial: Path, out: Path) -> None:
    """Put the finished output in place: the old folder goes only once the new one is whole."""
    old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    if out.exists():
        out.rename(old)
    partial.rename(out)
    if old.exists():
        shutil.rmtree(old)
