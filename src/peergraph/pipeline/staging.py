"""Stage 6 at scale: an empty PostgreSQL store filled by the executors, through staging
tables, and published in one transaction.

The load through the driver (pipeline/load.py) streams every row through one process;
for a snapshot's billion authorships that process is the bottleneck. Here:

1. **Staging tables.** The driver creates one ``UNLOGGED`` table per store table, named
   ``_stage_<token>_<table>``, with the store table's columns and no constraints or
   indexes, and a ``_stage_<token>_done`` table of the partitions written.
2. **Ids as joins.** The ids the driver's load gives by counting are given by Spark:
   authorships numbered in (work, position) order and author records in the order of
   their first authorship, each by a sort and ``zipWithIndex``; links, topics,
   collaborations, trust items and profiles join those numbers. Import runs and topics,
   a few rows, get their ids on the driver (after the store's largest).
3. **Every executor COPYs its partitions** into the staging tables, one transaction per
   partition, through the same row functions as the driver's load
   (``load.work_row``, ``load.link_row``…) and the same ``COPY`` (db/copy.py). A
   partition's transaction also claims its row in the ``done`` table: a retried or
   speculative attempt of a partition already written finds it taken and rolls itself
   back, so no row is staged twice.
4. **One transaction publishes**: it checks that the store is still empty, writes the
   import runs, venues, institutions and topics, then ``INSERT … SELECT``s every staging
   table into its store table (parents first), writes the rebuild, moves the id
   sequences and advances the generations. A reader sees the store before or after, never
   half of it. The staging tables are dropped whatever happens.

The executors connect to the store themselves: on a cluster its URL must be reachable
from them (docs/pipeline.md, "On a cluster").
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.pool import NullPool

from peergraph.db import generation
from peergraph.db.base import Base, load_all_models, utcnow
from peergraph.db.copy import copy_rows, move_sequences
from peergraph.pipeline.authors import POSITION_BITS
from peergraph.pipeline.load import (
    CHUNK,
    LoadRefused,
    LoadSummary,
    Report,
    _name_row,
    _Writer,
    authorship_row,
    collaboration_row,
    holds_data,
    import_row,
    institution_rows,
    issue_row,
    link_row,
    profile_row,
    provenance_row,
    rebuild_row,
    record_row,
    record_topic_row,
    reference_row,
    table,
    topic_row,
    trust_row,
    vector_row,
    work_row,
    work_topic_row,
)

Rows = Callable[[str], Iterator[dict[str, Any]]]
Make = Callable[[dict[str, Any]], Iterable[tuple[str, dict[str, Any]]]]

# store tables whose rows the store numbers itself (the run's rows carry no id)
STORE_NUMBERED = frozenset(
    {"work_identifiers", "work_references", "trust_evidence", "provenance", "import_issues"}
)
STAGED = (
    "works",
    "work_identifiers",
    "work_references",
    "work_topics",
    "work_embeddings",
    "authorships",
    "authorship_institutions",
    "authorship_names",
    "author_records",
    "authorship_links",
    "record_topics",
    "collaborations",
    "trust_evidence",
    "profiles",
    "provenance",
    "import_issues",
)


def staged_columns(name: str) -> list[str]:
    return [c.name for c in table(name).columns if not (c.name == "id" and name in STORE_NUMBERED)]


@dataclass(frozen=True)
class Stage:
    """Where one load stages its rows: the store's URL (with its password, for the
    executors) and the token in the staging tables' names."""

    url: str
    token: str

    @classmethod
    def new(cls, engine: Engine) -> Stage:
        return cls(engine.url.render_as_string(hide_password=False), secrets.token_hex(4))

    def create(self, engine: Engine) -> None:
        """The staging tables: the store tables' columns, no constraints, no indexes."""
        quote = engine.dialect.identifier_preparer.quote
        with engine.begin() as conn:
            for name in STAGED:
                columns = ", ".join(quote(c) for c in staged_columns(name))
                conn.execute(
                    text(
                        f"CREATE UNLOGGED TABLE {quote(self.name(name))} AS"
                        f" SELECT {columns} FROM {quote(name)} WITH NO DATA"
                    )
                )
            conn.execute(
                text(
                    f"CREATE UNLOGGED TABLE {self.done}"
                    " (step text, part integer, PRIMARY KEY (step, part))"
                )
            )

    def drop(self, engine: Engine) -> None:
        with engine.begin() as conn:
            for name in (*(self.name(n) for n in STAGED), self.done):
                conn.execute(text(f"DROP TABLE IF EXISTS {name}"))

    def name(self, store_table: str) -> str:
        return f"_stage_{self.token}_{store_table}"

    @property
    def done(self) -> str:
        return f"_stage_{self.token}_done"

    def writer(self, step: str, tables: tuple[str, ...], make: Make) -> Callable[[Any], None]:
        """The ``foreachPartition`` function of one step: ``make`` turns each row of the
        step's DataFrame into (store table, row) pairs."""
        stage = self
        columns = {name: staged_columns(name) for name in tables}

        def write(partition: Iterator[Any]) -> None:
            from pyspark import TaskContext

            load_all_models()  # an executor's worker may not have imported them all
            context = TaskContext.get()
            part = context.partitionId() if context is not None else 0
            engine = create_engine(stage.url, poolclass=NullPool)
            try:
                with engine.connect() as conn:
                    transaction = conn.begin()
                    buffers: dict[str, list[tuple[Any, ...]]] = {name: [] for name in tables}

                    def flush(name: str) -> None:
                        copy_rows(
                            conn,
                            table(name),
                            buffers[name],
                            columns=columns[name],
                            into=stage.name(name),
                        )
                        buffers[name].clear()

                    for row in partition:
                        for name, out in make(row.asDict(recursive=True)):
                            buffers[name].append(tuple(out.get(c) for c in columns[name]))
                            if len(buffers[name]) >= CHUNK:
                                flush(name)
                    for name in tables:
                        if buffers[name]:
                            flush(name)
                    claimed = conn.execute(
                        text(
                            f"INSERT INTO {stage.done} (step, part) VALUES (:step, :part)"
                            " ON CONFLICT DO NOTHING"
                        ),
                        {"step": step, "part": part},
                    ).rowcount
                    if claimed:
                        transaction.commit()
                    else:  # another attempt of this partition was written first
                        transaction.rollback()
            finally:
                engine.dispose()

        return write


def _numbered(spark: Any, frame: Any, columns: list[str], name: str) -> Any:
    """``frame``'s ``columns`` with ``name`` = 1, 2, … in their sorted order (a sort and
    ``zipWithIndex``: no single partition holds them all)."""
    from pyspark.sql.types import LongType, StructField, StructType

    ordered = frame.select(*columns).orderBy(*columns)
    schema = StructType(
        [*(ordered.schema[c] for c in columns), StructField(name, LongType(), False)]
    )
    numbered = ordered.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1] + 1))
    return spark.createDataFrame(numbered, schema)


def staged_load(engine: Engine, spark: Any, out: Any, rows: Rows, report: Report) -> LoadSummary:
    """Fill the empty PostgreSQL store behind ``engine`` from the output in ``out`` (the
    module docstring says how)."""
    say = report
    now = utcnow()
    stage = Stage.new(engine)
    quote = engine.dialect.identifier_preparer.quote

    def frame(name: str) -> Any:
        return spark.read.parquet(str(out / name)) if (out / name).is_dir() else None

    with engine.connect() as conn:
        bases = _largest_ids(conn)
    files = sorted(rows("files"), key=lambda r: r["file"])
    imports = {f["file"]: bases[0] + rank for rank, f in enumerate(files, start=1)}
    topics = list(rows("topics"))
    topic_of = {t["key"]: bases[1] + rank for rank, t in enumerate(topics, start=1)}

    stage.create(engine)
    try:
        counts = _stage(spark, stage, frame, say, now, imports, topic_of)
        say("load: publishing the staged tables in one transaction")
        with engine.begin() as conn:
            # writers wait until the load is published; readers go on reading
            conn.execute(text("LOCK TABLE works, imports, topics IN EXCLUSIVE MODE"))
            if holds_data(conn) or _largest_ids(conn) != bases:
                raise LoadRefused(
                    "the store took data while the run was being staged: load it again"
                    " (it will be merged into what the store holds now)"
                )
            writer = _Writer(conn)
            writer.many(
                "imports", ({"id": imports[f["file"]], **import_row(f, now)} for f in files)
            )
            writer.many("sources", rows("sources"))
            writer.many("institutions", rows("institutions"))
            writer.many(
                "topics",
                ({"id": topic_of[t["key"]], **topic_row(t)} for t in topics),
            )
            for t in Base.metadata.sorted_tables:
                if t.name in STAGED:
                    columns = ", ".join(quote(c) for c in staged_columns(t.name))
                    conn.execute(
                        text(
                            f"INSERT INTO {quote(t.name)} ({columns})"
                            f" SELECT {columns} FROM {quote(stage.name(t.name))}"
                        )
                    )
            writer.one(
                "rebuilds",
                rebuild_row(conn, imports, counts["authorships"], counts["records"], now),
            )
            move_sequences(conn, list(Base.metadata.sorted_tables))
            generation.advance(conn, "works", "records", "vectors")
    finally:
        stage.drop(engine)
    return LoadSummary(
        counts["works"], counts["authorships"], counts["records"], counts["vectors"], len(files)
    )


def _stage(
    spark: Any,
    stage: Stage,
    frame: Callable[[str], Any],
    say: Report,
    now: datetime,
    imports: dict[int, int],
    topic_of: dict[str, int],
) -> dict[str, int]:
    """Every store table's rows into its staging table, from the executors; the counts
    the load reports."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    disk = StorageLevel.DISK_ONLY
    counts = {"works": 0, "authorships": 0, "records": 0, "vectors": 0}

    def step(name: str, data: Any, tables: tuple[str, ...], make: Make) -> None:
        if data is None:
            return
        say(f"load: staging {', '.join(tables)} from the executors")
        data.foreachPartition(stage.writer(name, tables, make))

    works = frame("works")
    counts["works"] = works.count()
    step("works", works, ("works",), lambda w: [("works", work_row(w, now))])
    step(
        "work_identifiers",
        frame("work_identifiers"),
        ("work_identifiers",),
        lambda r: [("work_identifiers", r)],
    )
    step(
        "work_references",
        frame("work_references"),
        ("work_references",),
        lambda r: [("work_references", reference_row(r))],
    )
    step(
        "work_topics",
        frame("work_topics"),
        ("work_topics",),
        lambda r: [("work_topics", work_topic_row(r, topic_of[r["topic"]]))],
    )
    vectors = frame("work_embeddings")
    if vectors is not None:
        counts["vectors"] = vectors.count()
    step(
        "work_embeddings",
        vectors,
        ("work_embeddings",),
        lambda v: [("work_embeddings", vector_row(v))],
    )

    authorships = frame("authorships")
    numbers = _numbered(spark, authorships, ["work_id", "position"], "number").withColumn(
        "key", F.col("work_id").cast("long") * (1 << POSITION_BITS) + F.col("position")
    )
    numbers = numbers.persist(disk)  # five uses below; not in the JVM heap
    counts["authorships"] = numbers.count()

    def authorship(a: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        a["id"] = a.pop("number")
        a["institution_ids"] = a.get("institution_ids") or []
        return [
            ("authorships", authorship_row(a)),
            *(("authorship_institutions", row) for row in institution_rows(a)),
            ("authorship_names", _name_row(a)),
        ]

    step(
        "authorships",
        authorships.join(numbers.drop("key"), ["work_id", "position"]),
        ("authorships", "authorship_institutions", "authorship_names"),
        authorship,
    )

    records = frame("author_records")
    record_ids = _numbered(spark, records, ["cluster"], "record_id").persist(disk)
    counts["records"] = record_ids.count()
    step(
        "author_records",
        records.join(record_ids, "cluster"),
        ("author_records",),
        lambda r: [("author_records", record_row(r, r.pop("record_id"), now))],
    )

    def link(c: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        def renumber(_pipeline_id: int) -> int:
            if c["via_number"] is None:
                raise KeyError(f"evidence names authorship {c['via_key']}, not in the run")
            return int(c["via_number"])

        return [("authorship_links", link_row(c, c["number"], c["record_id"], renumber))]

    keyed = numbers.select(F.col("key").alias("authorship_id"), "number")
    partners = numbers.select(F.col("key").alias("via_key"), F.col("number").alias("via_number"))
    step(
        "authorship_links",
        frame("author_clusters")
        .join(keyed, "authorship_id")
        .join(record_ids, "cluster")
        .withColumn("via_key", F.get_json_object("evidence", "$.via").cast("long"))
        .join(partners, "via_key", "left"),
        ("authorship_links",),
        link,
    )
    step(
        "record_topics",
        _with_record(frame("record_topics"), record_ids),
        ("record_topics",),
        lambda r: [("record_topics", record_topic_row(r, r["record_id"], topic_of[r["topic"]]))],
    )
    coauthors = record_ids.select(
        F.col("cluster").alias("coauthor"), F.col("record_id").alias("coauthor_id")
    )
    collaborations = _with_record(frame("collaborations"), record_ids)
    step(
        "collaborations",
        None if collaborations is None else collaborations.join(coauthors, "coauthor"),
        ("collaborations",),
        lambda c: [("collaborations", collaboration_row(c, c["record_id"], c["coauthor_id"]))],
    )
    step(
        "trust_evidence",
        _with_record(frame("trust_evidence"), record_ids),
        ("trust_evidence",),
        lambda e: [("trust_evidence", trust_row(e, e.pop("record_id"), now))],
    )
    step(
        "profiles",
        _with_record(frame("profiles"), record_ids),
        ("profiles",),
        lambda p: [("profiles", profile_row(p, p.pop("record_id"), now))],
    )

    outcomes = frame("records")
    step(
        "provenance",
        None if outcomes is None else outcomes.where(F.col("action").isin("created", "merged")),
        ("provenance",),
        lambda r: [("provenance", provenance_row(r, imports[r["file"]]))],
    )
    step(
        "import_issues",
        frame("issues"),
        ("import_issues",),
        lambda i: [("import_issues", issue_row(i, imports[i["file"]]))],
    )
    numbers.unpersist()
    record_ids.unpersist()
    return counts


def _largest_ids(conn: Connection) -> tuple[int, int]:
    """The largest import run and topic ids (0 when none), after which the load's go."""
    return tuple(  # type: ignore[return-value]
        int(conn.execute(select(func.coalesce(func.max(table(name).c.id), 0))).scalar_one())
        for name in ("imports", "topics")
    )


def _with_record(data: Any, record_ids: Any) -> Any:
    return None if data is None else data.join(record_ids, "cluster")
