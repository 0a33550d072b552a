"""Stage 6: a pipeline output into a store (SQLite, or PostgreSQL), in one transaction.

`peergraph load DIR` (and `peergraph pipeline … --database URL`) fills an empty store
from the Parquet tables: works with their ids, venues and institutions with the ids the
writer's rule gave them, authorships, identifiers, references, topics, the import runs
with their records' outcomes and problems, author records with their links, names,
profiles, collaborations, topics and trust items, the rebuild that made them, and (when
the run embedded) the semantic index. Everything is written in one transaction, so a
reader sees the store before the load or after it, never half of it. An empty
PostgreSQL store is filled by the executors, through staging tables published in one
transaction (pipeline/staging.py); otherwise the rows stream through the driver, on
PostgreSQL with ``COPY`` (db/copy.py), and the id sequences move past the loaded ids.

Ids: works, venues and institutions keep the pipeline's (the store's own ids for the
same files); authorships are numbered in (work, position) order and author records in
the order of their first authorship, as a full rebuild numbers new records.

A store that holds data takes a run that covers it: pipeline/merge.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, insert, text

from peergraph.authors.features import coauthor_key
from peergraph.authors.model import packaged
from peergraph.authors.names import family_scope, first_name
from peergraph.authors.services import name_keys
from peergraph.db import generation
from peergraph.db.base import Base, utcnow
from peergraph.db.copy import copy_rows, move_sequences
from peergraph.pipeline.authors import POSITION_BITS
from peergraph.profiles.services import model_fingerprint
from peergraph.search.text import text_index

if TYPE_CHECKING:
    from peergraph.pipeline.merge import MergeSummary

CHUNK = 10_000
Report = Callable[[str], None]


class LoadRefused(RuntimeError):
    """The store or the folder cannot be loaded; the message says why."""


@dataclass
class LoadSummary:
    works: int
    authorships: int
    records: int
    vectors: int
    imports: int
    merged: MergeSummary | None = None  # set when the store held data


def table(name: str) -> Table:
    return Base.metadata.tables[name]


def load_output(
    engine: Engine,
    spark: Any,
    out: Path,
    report: Report | None = None,
    *,
    through_driver: bool = False,
) -> LoadSummary:
    """Load the pipeline output in ``out`` into the store behind ``engine``: fill it when
    it is empty (an empty PostgreSQL store from the executors, through staging tables:
    pipeline/staging.py, unless ``through_driver``), else merge the run into it
    (pipeline/merge.py; ``LoadRefused`` when the run does not cover the store)."""
    say = report or (lambda _m: None)
    out = out.resolve()
    for needed in ("files", "works", "authorships", "author_clusters", "author_records"):
        if not (out / needed).is_dir():
            raise LoadRefused(
                f"{out} is not a whole pipeline output (no {needed} table): run"
                " `peergraph pipeline` with author records and profiles first"
            )

    def rows(name: str) -> Iterator[dict[str, Any]]:
        if not (out / name).is_dir():
            return iter(())
        frame = spark.read.parquet(str(out / name))
        return (row.asDict(recursive=True) for row in frame.toLocalIterator())

    with engine.connect() as conn:
        holds = holds_data(conn)
    if holds:
        from peergraph.pipeline.merge import MergeRefused, merge_output  # it uses this module

        try:
            with engine.begin() as conn:
                merged = merge_output(conn, rows, _Writer(conn), say)
        except MergeRefused as exc:
            raise LoadRefused(str(exc)) from exc
        return LoadSummary(
            merged.new_works,
            merged.new_authorships,
            merged.records,
            merged.vectors,
            merged.new_imports,
            merged,
        )

    if engine.dialect.name == "postgresql" and not through_driver:
        from peergraph.pipeline.staging import staged_load  # it uses this module

        return staged_load(engine, spark, out, rows, say)

    now = utcnow()
    with engine.begin() as conn:
        writer = _Writer(conn)
        say("load: import runs, venues, institutions, topics")
        imports: dict[int, int] = {}
        for f in sorted(rows("files"), key=lambda r: r["file"]):
            imports[f["file"]] = writer.one("imports", import_row(f, now))
        writer.many("sources", rows("sources"))
        writer.many("institutions", rows("institutions"))
        topic_ids: dict[str, int] = {}
        for t in rows("topics"):
            topic_ids[t["key"]] = writer.one("topics", topic_row(t))

        say("load: works, identifiers, references, topics")
        first = last = 0
        count = 0

        def works() -> Iterator[dict[str, Any]]:
            nonlocal first, last, count
            for w in rows("works"):
                first = min(first or w["id"], w["id"])
                last = max(last, w["id"])
                count += 1
                yield work_row(w, now)

        writer.many("works", works())
        if count:
            text_index(conn).add_works(conn, first, last)
        write_work_rows(writer, rows, topic_ids)
        vectors = writer.many("work_embeddings", map(vector_row, rows("work_embeddings")))

        say("load: authorships, names, institutions")
        authorship_ids: dict[int, int] = {}

        def authorships() -> Iterator[dict[str, Any]]:
            ordered = sorted(rows("authorships"), key=lambda a: (a["work_id"], a["position"]))
            for number, a in enumerate(ordered, start=1):
                authorship_ids[(a["work_id"] << POSITION_BITS) | a["position"]] = number
                a["institution_ids"] = a.pop("institution_ids") or []
                yield {"id": number, **a}

        listed = list(authorships())
        writer.many("authorships", (authorship_row(a) for a in listed))
        writer.many("authorship_institutions", (row for a in listed for row in institution_rows(a)))
        writer.many("authorship_names", (_name_row(a) for a in listed))
        del listed

        say("load: author records, links and profiles")
        records = sorted(rows("author_records"), key=lambda r: r["cluster"])
        record_ids = {r["cluster"]: number for number, r in enumerate(records, start=1)}
        writer.many(
            "author_records", (record_row(r, record_ids[r["cluster"]], now) for r in records)
        )
        write_records_of(writer, rows, record_ids, authorship_ids, topic_ids, now)

        say("load: outcomes of the records, problems, the rebuild")
        write_outcomes(writer, rows, imports)
        writer.one(
            "rebuilds", rebuild_row(conn, imports, len(authorship_ids), len(record_ids), now)
        )
        text_index(conn).names_changed(conn)
        if conn.dialect.name == "postgresql":
            move_sequences(conn, list(Base.metadata.sorted_tables))
        generation.advance(conn, "works", "records", "vectors")
    return LoadSummary(count, len(authorship_ids), len(record_ids), vectors, len(imports))


def write_work_rows(
    writer: _Writer, rows: Callable[[str], Iterator[dict[str, Any]]], topic_of: dict[str, int]
) -> None:
    """The run's work identifiers, references and work topics (``topic_of``: key → id)."""
    writer.many("work_identifiers", rows("work_identifiers"))
    writer.many("work_references", map(reference_row, rows("work_references")))
    writer.many(
        "work_topics", (work_topic_row(r, topic_of[r["topic"]]) for r in rows("work_topics"))
    )


# One function per table for a run's row as the store keeps it, given the store ids it
# refers to: the load through the driver (below), the staged load from the executors
# (pipeline/staging.py) and, for the tables it rewrites whole, the merge (pipeline/merge.py).


def holds_data(conn: Connection) -> bool:
    """Whether the store holds works or import runs (then a load is a merge)."""
    return bool(
        conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM works) OR EXISTS (SELECT 1 FROM imports)")
        ).scalar()
    )


def topic_row(t: dict[str, Any]) -> dict[str, Any]:
    return {k: t[k] for k in ("taxonomy", "external_id", "name", "description")}


def work_row(w: dict[str, Any], now: datetime) -> dict[str, Any]:
    out = {k: v for k, v in w.items() if k not in ("first_file", "first_record")}
    return {**out, "created_at": now, "updated_at": now}


def vector_row(v: dict[str, Any]) -> dict[str, Any]:
    return {**v, "vector": bytes(v["vector"])}


def reference_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "citing_work_id": r["work_id"],
        "target_scheme": r["scheme"],
        "target_value": r["value"],
        "cited_work_id": r["cited_work_id"],
    }


def work_topic_row(r: dict[str, Any], topic_id: int) -> dict[str, Any]:
    out = {k: v for k, v in r.items() if k != "topic"}
    return {**out, "topic_id": topic_id, "is_primary": bool(r["is_primary"])}


def authorship_row(a: dict[str, Any]) -> dict[str, Any]:
    """``a``: the run's authorship with its store ``id``."""
    return {k: v for k, v in a.items() if k != "institution_ids"}


def institution_rows(a: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"authorship_id": a["id"], "institution_id": i} for i in a.get("institution_ids") or []]


def record_row(r: dict[str, Any], record_id: int, now: datetime) -> dict[str, Any]:
    out = {k: v for k, v in r.items() if k != "cluster"}
    return {
        "id": record_id,
        **out,
        "name_variants": r["name_variants"] or [],
        "created_at": now,
        "updated_at": now,
    }


def link_row(
    c: dict[str, Any], authorship_id: int, record_id: int, renumber: Callable[[int], int]
) -> dict[str, Any]:
    """A link; ``renumber`` gives the store id of its evidence's partner authorship."""
    return {
        "authorship_id": authorship_id,
        "record_id": record_id,
        "confidence": float(c["confidence"]),
        "method": c["method"],
        "evidence": _evidence(c.get("evidence"), renumber),
    }


def record_topic_row(r: dict[str, Any], record_id: int, topic_id: int) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "topic_id": topic_id,
        "weight": r["weight"],
        "works_count": r["works_count"],
    }


def collaboration_row(c: dict[str, Any], record_id: int, coauthor_id: int) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "coauthor_id": coauthor_id,
        "joint_works": c["joint_works"],
        "strength": c["strength"],
    }


def trust_row(e: dict[str, Any], record_id: int, now: datetime) -> dict[str, Any]:
    out = {k: v for k, v in e.items() if k != "cluster"}
    return {"record_id": record_id, **out, "observed_at": now}


def profile_row(p: dict[str, Any], record_id: int, now: datetime) -> dict[str, Any]:
    out = {k: v for k, v in p.items() if k != "cluster"}
    return {
        "record_id": record_id,
        **out,
        "affiliations": _affiliations(p["affiliations"]),
        "computed_at": now,
    }


def provenance_row(r: dict[str, Any], import_id: int) -> dict[str, Any]:
    return {
        "import_id": import_id,
        "record_number": r["number"],
        "line": r["line"],
        "entity_type": "work",
        "entity_id": r["work_id"],
        "action": r["action"],
    }


def issue_row(i: dict[str, Any], import_id: int) -> dict[str, Any]:
    return {
        "import_id": import_id,
        "record_number": i["number"],
        "line": i["line"],
        "reason": i["reason"],
        "message": i["message"],
        "skipped": i["skipped"],
    }


def import_row(f: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The ``imports`` row of one of the run's files."""
    return {
        "path": f["path"],
        "file_sha256": f["sha256"] or "",
        "file_size": f["size"] or 0,
        "format": f["format"],
        "status": _status(f),
        "started_at": now,
        "finished_at": now,
        "records_read": f["records_read"],
        "records_imported": f["created"] + f["entities"],
        "records_merged": f["merged"],
        "records_skipped": f["skipped"],
        "checkpoint": f["records_read"],
        "message": f["error"],
    }


def write_records_of(
    writer: _Writer,
    rows: Callable[[str], Iterator[dict[str, Any]]],
    record_of: dict[int, int],
    authorship_of: dict[int, int],
    topic_of: dict[str, int],
    now: datetime,
) -> None:
    """The run's links (with their evidence), record topics, collaborations, trust items
    and profiles, under the store's ids: ``record_of`` cluster → record id,
    ``authorship_of`` pipeline authorship id → store id, ``topic_of`` key → topic id."""
    renumber = authorship_of.__getitem__
    writer.many(
        "authorship_links",
        (
            link_row(c, authorship_of[c["authorship_id"]], record_of[c["cluster"]], renumber)
            for c in rows("author_clusters")
        ),
    )
    writer.many(
        "record_topics",
        (
            record_topic_row(r, record_of[r["cluster"]], topic_of[r["topic"]])
            for r in rows("record_topics")
        ),
    )
    writer.many(
        "collaborations",
        (
            collaboration_row(c, record_of[c["cluster"]], record_of[c["coauthor"]])
            for c in rows("collaborations")
        ),
    )
    writer.many(
        "trust_evidence",
        (trust_row(e, record_of[e["cluster"]], now) for e in rows("trust_evidence")),
    )
    writer.many(
        "profiles", (profile_row(p, record_of[p["cluster"]], now) for p in rows("profiles"))
    )


def write_outcomes(
    writer: _Writer,
    rows: Callable[[str], Iterator[dict[str, Any]]],
    imports: dict[int, int],
    after: int = 0,
) -> None:
    """Each work record's outcome (``provenance``) and every reported problem of the
    run's files after the first ``after`` (those the store has already)."""
    writer.many(
        "provenance",
        (
            provenance_row(r, imports[r["file"]])
            for r in rows("records")
            if r["file"] > after and r["action"] in ("created", "merged")
        ),
    )
    writer.many(
        "import_issues",
        (issue_row(i, imports[i["file"]]) for i in rows("issues") if i["file"] > after),
    )


def rebuild_row(
    conn: Connection, imports: dict[int, int], authorships: int, touched: int, now: datetime
) -> dict[str, Any]:
    """The ``rebuilds`` row a load writes: a full rebuild with the packaged model, so the
    next `peergraph rebuild` after an import is an incremental one."""
    blocks = conn.execute(text("SELECT count(DISTINCT block_key) FROM author_records")).scalar()
    return {
        "mode": "full",
        "model": model_fingerprint(packaged()),
        "last_import_id": max(imports.values(), default=None),
        "started_at": now,
        "finished_at": utcnow(),
        "blocks": int(blocks or 0),
        "authorships": authorships,
        "records_touched": touched,
    }


def _status(f: dict[str, Any]) -> str:
    """The import's final status, by the loader's rule (ingest/loader.py)."""
    if f["error"] or f["records_read"] == 0:
        return "failed"
    done = f["created"] + f["merged"] + f["entities"]
    return "completed" if done > 0 or f["skipped"] == 0 else "failed"


def _name_row(a: dict[str, Any]) -> dict[str, Any]:
    """The ``authorship_names`` row of an authorship (authors/services.name_rows)."""
    tokens, family, block, _native = name_keys(
        a["raw_name"], a["given"], a["family"], a["order_guessed"]
    )
    return {
        "authorship_id": a["id"],
        "work_id": a["work_id"],
        "block_key": block,
        "family_scope": family_scope(block),
        "first_name": first_name(tokens),
        "family_key": family,
        "coauthor_key": coauthor_key(tokens, family, block),
    }


def _evidence(raw: str | None, renumber: Callable[[int], int]) -> dict[str, Any] | None:
    """A link's evidence, its partner authorship renumbered as the store numbers it."""
    if not raw:
        return None
    found = json.loads(raw)
    if "via" in found:
        found["via"] = renumber(found["via"])
    return found or None


def _affiliations(value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if not value:
        return None
    return [{k: v for k, v in a.items() if not (k == "id" and v is None)} for a in value]


class _Writer:
    """Rows into the store's tables in chunks: ``COPY`` on PostgreSQL, INSERTs on SQLite."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"

    def one(self, name: str, row: dict[str, Any]) -> int:
        t = table(name)
        return int(self.conn.execute(insert(t).values(**row).returning(t.c.id)).scalar_one())

    def many(self, name: str, rows: Iterable[dict[str, Any]]) -> int:
        t = table(name)
        columns = [c.name for c in t.columns]
        written = 0
        chunk: list[dict[str, Any]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= CHUNK:
                written += self._flush(t, columns, chunk)
                chunk = []
        if chunk:
            written += self._flush(t, columns, chunk)
        return written

    def _flush(self, t: Table, columns: list[str], chunk: list[dict[str, Any]]) -> int:
        if self.postgres and all("id" in row or "id" not in columns for row in chunk):
            copy_rows(self.conn, t, [tuple(row.get(c) for c in columns) for row in chunk])
        else:
            self.conn.execute(insert(t), chunk)
        return len(chunk)
