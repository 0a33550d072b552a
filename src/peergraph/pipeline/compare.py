"""Compare the pipeline's output with a store that `peergraph import` filled from the same
files in the same order: the equality check of the test and of benchmarks/scale/.

Both sides become the same plain tables, keyed by (file number, record number) and work
id; :func:`differences` lists every row that one side has and the other lacks.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, select, text

from peergraph.ingest.dedupe import AUTHORSHIP_COLUMNS
from peergraph.pipeline.run import WORK_COLUMNS
from peergraph.works.models import Authorship, Work

WORK_FIELDS = [column.split()[0] for column in WORK_COLUMNS.split(",")]
Tables = dict[str, set[tuple[Any, ...]]]
works_t: Table = Work.__table__  # type: ignore[assignment]
authorships_t: Table = Authorship.__table__  # type: ignore[assignment]


def store_tables(engine: Engine) -> Tables:
    """The store's works, identifiers, record outcomes and issues. Import runs are numbered
    as the pipeline numbers its files (1, 2, … in import order)."""
    with engine.connect() as conn:
        runs = [r for (r,) in conn.execute(text("SELECT id FROM imports ORDER BY id"))]
        file_of = {run: index for index, run in enumerate(runs, start=1)}
        works = conn.execute(select(works_t.c.id, *(works_t.c[f] for f in WORK_FIELDS))).all()
        authorships = conn.execute(
            select(
                authorships_t.c.work_id,
                authorships_t.c.position,
                *(authorships_t.c[c] for c in AUTHORSHIP_COLUMNS),
            )
        ).all()
        identifiers = conn.execute(text("SELECT work_id, scheme, value FROM work_identifiers"))
        records = conn.execute(
            text(
                "SELECT import_id, record_number, action, entity_id FROM provenance"
                " WHERE entity_type = 'work'"
            )
        ).all()
        issues = conn.execute(
            text("SELECT import_id, record_number, line, reason, skipped FROM import_issues")
        ).all()
        counts = conn.execute(
            text("SELECT id, records_read, records_skipped FROM imports ORDER BY id")
        ).all()
    return {
        "works": {_work(row) for row in works},
        "authorships": {_authorship(row) for row in authorships},
        "work_identifiers": {tuple(row) for row in identifiers},
        "work_records": {(file_of[i], n, action, w) for i, n, action, w in records},
        "issues": {(file_of[i], n, line, reason, bool(s)) for i, n, line, reason, s in issues},
        "files": {(file_of[i], read, skipped) for i, read, skipped in counts},
    }


def parquet_tables(spark: Any, out: Path) -> Tables:
    """The same tables from the pipeline's output folder."""

    def rows(table: str, columns: Iterable[str]) -> list[Any]:
        return spark.read.parquet(str(out / table)).select(*columns).collect()

    return {
        "works": {_work(row) for row in rows("works", ["id", *WORK_FIELDS])},
        "authorships": {
            _authorship(row)
            for row in rows("authorships", ["work_id", "position", *AUTHORSHIP_COLUMNS])
        },
        "work_identifiers": {
            tuple(row) for row in rows("work_identifiers", ["work_id", "scheme", "value"])
        },
        "work_records": {
            (f, n, action, w)
            for f, n, action, w in rows("records", ["file", "number", "action", "work_id"])
            if action in ("created", "merged")
        },
        "issues": {
            tuple(row) for row in rows("issues", ["file", "number", "line", "reason", "skipped"])
        },
        "files": {tuple(row) for row in rows("files", ["file", "records_read", "skipped"])},
    }


def _authorship(row: Any) -> tuple[Any, ...]:
    values = list(row)
    affiliations = values[2 + AUTHORSHIP_COLUMNS.index("raw_affiliations")]
    values[2 + AUTHORSHIP_COLUMNS.index("raw_affiliations")] = (
        tuple(affiliations) if affiliations else None
    )
    return tuple(values)


def _work(row: Any) -> tuple[Any, ...]:
    values = tuple(row)
    return tuple(value if value != "" else None for value in values)


def differences(store: Tables, pipeline: Tables, limit: int = 20) -> dict[str, dict[str, Any]]:
    """Per table, the counts on each side and up to ``limit`` rows only one side has."""
    found = {}
    for table in store:
        only_store = store[table] - pipeline[table]
        only_pipeline = pipeline[table] - store[table]
        if only_store or only_pipeline:
            found[table] = {
                "store": len(store[table]),
                "pipeline": len(pipeline[table]),
                "only_in_store": sorted(only_store, key=repr)[:limit],
                "only_in_pipeline": sorted(only_pipeline, key=repr)[:limit],
            }
    return found
