"""Compare the pipeline's output with a store that `peergraph import` filled from the same
files in the same order: the equality check of the test and of benchmarks/scale/.

Both sides become the same plain tables, keyed by (file number, record number) and work
id; :func:`differences` lists every row that one side has and the other lacks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, select, text

from peergraph.authors.evaluation import Scores, b_cubed
from peergraph.ingest.dedupe import AUTHORSHIP_COLUMNS
from peergraph.pipeline.authors import POSITION_BITS
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


def store_clusters(engine: Engine) -> dict[tuple[int, int], int]:
    """(work id, position) → author record id, after a `peergraph rebuild`."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.work_id, a.position, l.record_id FROM authorships a"
                " JOIN authorship_links l ON l.authorship_id = a.id"
            )
        ).all()
    return {(work_id, position): record for work_id, position, record in rows}


def parquet_clusters(spark: Any, out: Path) -> dict[tuple[int, int], int]:
    """(work id, position) → cluster, from the pipeline's ``author_clusters``."""
    rows = spark.read.parquet(str(out / "author_clusters")).select("authorship_id", "cluster")
    return {
        (aid >> POSITION_BITS, aid & ((1 << POSITION_BITS) - 1)): cluster
        for aid, cluster in rows.collect()
    }


@dataclass
class Agreement:
    b_cubed: Scores  # the pipeline's clusters scored against the store's records
    authorships: int
    only_store: int  # authorships clustered on one side only
    only_pipeline: int
    differing: list[dict[str, Any]]  # authorships whose fellows differ, with both groups


def agreement(
    store: dict[tuple[int, int], int], pipeline: dict[tuple[int, int], int], limit: int = 20
) -> Agreement:
    """How far two clusterings of the same authorships agree: B³ of one against the
    other, and the authorships whose cluster-mates differ (up to ``limit``)."""
    scores = b_cubed(pipeline, store)
    groups: dict[tuple[str, int], set[tuple[int, int]]] = defaultdict(set)
    for item, record in store.items():
        groups[("store", record)].add(item)
    for item, cluster in pipeline.items():
        groups[("pipeline", cluster)].add(item)
    differing = []
    for item in sorted(store.keys() & pipeline.keys()):
        mine, theirs = groups[("pipeline", pipeline[item])], groups[("store", store[item])]
        if mine != theirs:
            differing.append(
                {
                    "authorship": item,
                    "store": sorted(theirs)[:10],
                    "pipeline": sorted(mine)[:10],
                }
            )
            if len(differing) >= limit:
                break
    return Agreement(
        scores,
        len(store.keys() & pipeline.keys()),
        len(store.keys() - pipeline.keys()),
        len(pipeline.keys() - store.keys()),
        differing,
    )
