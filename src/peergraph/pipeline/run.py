"""The driver of `peergraph pipeline`: stages 1 (read), 2 (de-duplicate), 3 (disambiguate)
and 4 (profiles) on Spark, and the Parquet output (docs/pipeline.md).

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
- ``work_references``: ``work_id``, ``scheme``, ``value`` of each work's references, and
  ``cited_work_id`` where a work here has that identifier;
- ``author_clusters``: one row per authorship: ``authorship_id`` (work id × 2²⁰ +
  position), ``cluster`` (the id of the cluster's first authorship: one author record),
  confidence, method and evidence (JSON), as a full ``peergraph rebuild`` gives them;
- stage 4, records named by their cluster: ``author_records``, ``record_topics``,
  ``collaborations`` (both directions), ``trust_evidence``, ``profiles``; and
  ``topics`` (source-given and inferred, by key ``taxonomy:external id``),
  ``work_topics``;
- ``sources`` and ``institutions``: the venues and institutions, with the ids the store's
  writer would give them (pipeline/entities.py); works and authorships refer to them;
- stage 5, when asked: ``work_embeddings`` (work id, model, float32 vector bytes);
- ``claims``, when the run was given a store's verified claims: id, claimant and the
  authorships each covers and disowns, by the pipeline's authorship ids;
- ``authorship_names``: every authorship's name keys (block, family scope, first name,
  family, co-author key) and the store-wide counts of its names, which the next
  incremental run compares with its own (pipeline/changes.py);
- ``run``: one row: ``full`` or ``incremental``, the model's fingerprint, the number of
  files read, and for an incremental run the blocks clustered again and why.

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

from peergraph.authors import ownership
from peergraph.authors.names import family_scope
from peergraph.ingest.dedupe import AUTHORSHIP_COLUMNS, merged_authorships
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.records import Parsed, RecordError, Repeat, WorkRecord
from peergraph.pipeline import changes, embeddings, entities, profiles
from peergraph.pipeline.authors import (
    COUNT_COLUMNS,
    NAMES_SCHEMA,
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
from peergraph.profiles import figures

WORK_COLUMNS = (
    "title string, abstract string, year int, publication_date string, type string,"
    " language string, volume string, issue string, pages string, url string,"
    " cited_by_count long, cited_by_source string, cited_by_date string, dedupe_key string,"
    " source_id long"
)
SOURCE_SCHEMA = (
    "id long, openalex_id string, issn_l string, issns array<string>, name string,"
    " short_name string, name_key string, type string, publisher string, homepage_url string"
)
INSTITUTION_SCHEMA = (
    "id long, openalex_id string, ror string, name string, country_code string, type string,"
    " domains array<string>, homepage_url string"
)
AUTHORSHIP_SCHEMA = (
    "work_id long, position int, raw_name string, given string, family string, orcid string,"
    " upstream_author_id string, raw_affiliations array<string>, is_corresponding boolean,"
    " order_guessed boolean, institution_ids array<long>"
)
BUCKET_AUTHORSHIPS = 100_000  # authorships per disambiguation bucket, about
CLUSTER_SCHEMA = (
    "authorship_id long, cluster long, confidence float, method string, evidence string"
)
CLUSTER_SCHEMA_COLUMNS = tuple(c.split()[0] for c in CLUSTER_SCHEMA.split(","))
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
    inferred_topics: int = 0
    records: int = 0  # author records (clusters)
    plan: changes.Plan | None = None  # an incremental run's blocks clustered again
    embedded: int = 0  # works encoded by this run (an incremental one keeps the others')


def run_pipeline(
    spark: Any,
    targets: list[ImportTarget],
    out: Path,
    report: Report | None = None,
    *,
    authors: bool = True,
    profile: bool = True,
    embed: str | None = None,
    claims: list[ownership.Claim] | None = None,
    since: Path | None = None,
) -> PipelineSummary:
    """Read ``targets`` (in this order), de-duplicate their works, cluster their
    authorships into author records (unless not ``authors``) and compute their profile
    figures (unless not ``profile``), embed every work with the encoder ``embed`` (when
    given), and write the tables to ``out``; returns what was read and written.

    ``claims``: the verified claims of the store the output will be merged into
    (``load.store_claims``), as clustering constraints; they are written to ``claims``
    so that the load can tell they are the store's.

    ``since``: the output of a previous run over the first of ``targets`` (an incremental
    run, pipeline/changes.py): only the name blocks that the other files change are
    clustered again, and every other block keeps that run's clusters; with ``embed``,
    only new and enriched works are encoded and the others keep that run's vectors. Refused
    (``changes.SinceRefused``) when that run read other files or used another model."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from peergraph.authors.model import packaged
    from peergraph.profiles.services import model_fingerprint

    say = report or (lambda _message: None)
    sc = spark.sparkContext
    out = out.resolve()
    partial = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    timings: dict[str, float] = {}
    started = time.monotonic()
    model = packaged()
    fingerprint = model_fingerprint(model)
    previous = None
    if since is not None:
        if not authors:
            raise changes.SinceRefused("an incremental run clusters authors")
        previous = changes.Since.of(spark, since, fingerprint)

    # stage 1: one task per file, with the importer's parsers
    inputs = [InputFile(i, str(t.path), t.format) for i, t in enumerate(targets, start=1)]
    say(f"read: {len(inputs)} files")
    read = sc.parallelize(inputs, max(1, len(inputs))).flatMap(read_file)
    read = read.persist(
        StorageLevel.DISK_ONLY
    )  # one partition per file: never unrolled in the heap
    files: list[FileRead] = read.filter(lambda x: isinstance(x, FileRead)).collect()  # runs it
    if previous is not None:
        previous.check([(f.index, f.format, f.sha256) for f in files])
    parsed = read.filter(lambda x: not isinstance(x, FileRead))
    works = parsed.filter(lambda p: isinstance(p[1].item, WorkRecord)).map(
        lambda p: (p[0], p[1].item)
    )
    works = works.persist(StorageLevel.DISK_ONLY)
    parts = shuffle_partitions(sc.defaultParallelism, works.count())
    spark.conf.set("spark.sql.shuffle.partitions", str(parts))
    timings["read"] = time.monotonic() - started

    # stage 2: groups of records that share a strong identifier or a key, then the rule
    mark = time.monotonic()
    keys = works.map(lambda p: WorkKeys.of(p[0], p[1])).persist(StorageLevel.DISK_ONLY)
    edges = spark.createDataFrame(
        keys.flatMap(lambda k: [(k.g, node) for node in k.nodes()]), "g long, node string"
    )
    grouped, rounds = connected_groups(spark, edges)
    labels = grouped.rdd.map(lambda row: (row.g, row.label))
    assigned = (
        keys.map(lambda k: (k.g, k))
        .leftOuterJoin(labels, parts)
        .map(lambda p: (p[0] if p[1][1] is None else p[1][1], p[1][0]))
        .groupByKey(parts)
        .flatMap(lambda p: match_group(p[1]))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    # work ids: the ranks of the works' first records in reading order
    ids = (
        assigned.filter(lambda t: t[2])
        .map(lambda t: t[0])
        .sortBy(lambda g: g, numPartitions=parts)
        .zipWithIndex()
        .map(lambda p: (p[0], p[1] + 1))
    )
    assignment = (
        assigned.map(lambda t: (t[1], (t[0], t[2])))
        .join(ids, parts)
        .map(lambda p: (p[1][0][0], (p[1][1], p[1][0][1])))  # g → (work id, created)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    assignment.count()  # Spark is lazy: run the stage here, so that its time is its own
    timings["deduplicate"] = time.monotonic() - mark

    # the works with their records, then the tables
    mark = time.monotonic()
    say("write: works, authorships, identifiers, records, issues")
    by_work = (
        works.join(assignment, parts)
        .map(lambda p: (p[1][1][0], (p[0], p[1][0])))
        .groupByKey(parts)
        .map(lambda p: (p[0], sorted(p[1], key=lambda pair: pair[0])))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    by_work.count()
    timings["merge"] = time.monotonic() - mark

    # venues and institutions: the writer's rule on the driver (pipeline/entities.py)
    mark = time.monotonic()
    say("entities: venues and institutions, by the writer's rule")
    occurrences = by_work.flatMap(
        lambda p: entities.work_occurrences(p[1], merged_authorships([r for _, r in p[1]]))
    ).union(parsed.flatMap(lambda p: entities.entity_occurrences(p[0], p[1].item)))
    resolved = entities.resolve(occurrences.reduceByKey(entities.first_met).collect())
    resolved_b = sc.broadcast(resolved)
    timings["entities"] = time.monotonic() - mark

    mark = time.monotonic()
    spark.createDataFrame(
        [tuple(r[c.split()[0]] for c in SOURCE_SCHEMA.split(",")) for r in resolved.sources],
        SOURCE_SCHEMA,
    ).coalesce(1).write.parquet(str(partial / "sources"))
    spark.createDataFrame(
        [
            tuple(r[c.split()[0]] for c in INSTITUTION_SCHEMA.split(","))
            for r in resolved.institutions
        ],
        INSTITUTION_SCHEMA,
    ).coalesce(1).write.parquet(str(partial / "institutions"))
    spark.createDataFrame(
        by_work.map(lambda p: _work_row(p[0], p[1], resolved_b.value)),
        f"id long, first_file int, first_record long, {WORK_COLUMNS}",
    ).write.parquet(str(partial / "works"))
    spark.createDataFrame(
        by_work.flatMap(lambda p: _authorship_rows(p[0], p[1], resolved_b.value)),
        AUTHORSHIP_SCHEMA,
    ).write.parquet(str(partial / "authorships"))
    # an identifier belongs to the work of the first record that carries it
    spark.createDataFrame(
        works.flatMap(lambda p: [((s, v), p[0]) for s, v in p[1].identifiers.items()])
        .reduceByKey(min, parts)
        .map(lambda p: (p[1], p[0]))
        .join(assignment, parts)
        .map(lambda p: (p[1][1][0], p[1][0][0], p[1][0][1])),
        "work_id long, scheme string, value string",
    ).write.parquet(str(partial / "work_identifiers"))
    # references: every record's, once per work; resolved where a work here has the id
    identifiers = spark.read.parquet(str(partial / "work_identifiers")).select(
        F.col("scheme"), F.col("value"), F.col("work_id").alias("cited_work_id")
    )
    spark.createDataFrame(
        by_work.flatMap(lambda p: _reference_rows(p[0], p[1])),
        "work_id long, scheme string, value string",
    ).join(identifiers, ["scheme", "value"], "left").select(
        "work_id", "scheme", "value", "cited_work_id"
    ).write.parquet(str(partial / "work_references"))
    records = (
        parsed.map(lambda p: (p[0], _outline(p[1])))  # only what the table needs crosses
        .leftOuterJoin(assignment, parts)
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

    inferred_topics = n_records = embedded = 0
    plan = None
    changed = None
    if previous is not None:  # the works a record of a new file created or enriched
        known = len(previous.files)
        changed = spark.createDataFrame(
            assignment.filter(lambda p: position(p[0])[0] > known)
            .map(lambda p: (p[1][0],))
            .distinct(),
            "work_id long",
        ).persist(StorageLevel.MEMORY_AND_DISK)
    if authors:
        mark = time.monotonic()
        say("disambiguate: name counts, family scopes, clustering")
        if claims:
            spark.createDataFrame(
                [(c.id, c.record_id, c.claimant, c.authorships, c.not_mine) for c in claims],
                "id long, record_id long, claimant string, authorships array<long>,"
                " not_mine array<long>",
            ).coalesce(1).write.parquet(str(partial / "claims"))
        claims_b = sc.broadcast(claims or [])
        docs, clusters, plan, n_authorships = _disambiguate(
            spark, by_work, resolved_b, claims_b, partial, previous, changed, model, say
        )
        spark.createDataFrame(
            [
                changes.run_row(
                    "full" if previous is None else "incremental",
                    fingerprint,
                    len(files),
                    plan,
                    n_authorships,
                )
            ],
            changes.RUN_SCHEMA,
        ).coalesce(1).write.parquet(str(partial / "run"))
        timings["disambiguate"] = time.monotonic() - mark
        if profile:
            mark = time.monotonic()
            inferred_topics, n_records = _profiles(
                spark, parsed, by_work, resolved_b, docs, clusters, partial, say
            )
            timings["profiles"] = time.monotonic() - mark
        docs.unpersist()
        clusters.unpersist()
    if embed is not None:
        mark = time.monotonic()
        texts = by_work.map(lambda p: (p[0], p))
        kept = None
        if previous is not None and (previous.path / "work_embeddings").is_dir():
            # a vector is a function of its work's text: unchanged works keep theirs
            kept = (
                spark.read.parquet(str(previous.path / "work_embeddings"))
                .where(F.col("model") == embed)
                .join(changed, "work_id", "left_anti")
                .persist(StorageLevel.MEMORY_AND_DISK)
            )
            texts = texts.subtractByKey(kept.rdd.map(lambda r: (r[0], None)), parts)
        say(f"embed: {embed} vectors for {'every work' if kept is None else 'new works'}")
        vectors = spark.createDataFrame(
            texts.map(lambda p: (p[0], *_title_abstract(p[1][1]))).mapPartitions(
                lambda works: embeddings.embed_partition(works, embed)
            ),
            embeddings.EMBEDDING_SCHEMA,
        )
        vectors.write.parquet(str(partial / "work_embeddings"))
        embedded = spark.read.parquet(str(partial / "work_embeddings")).count()
        if kept is not None:
            kept.write.mode("append").parquet(str(partial / "work_embeddings"))
            kept.unpersist()
        timings["embed"] = time.monotonic() - mark

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
    if changed is not None:
        changed.unpersist()
    _swap(partial, out)
    timings["write"] += time.monotonic() - mark
    timings["total"] = time.monotonic() - started
    return PipelineSummary(
        summaries,
        n_works,
        n_identifiers,
        timings,
        out,
        rounds,
        inferred_topics,
        n_records,
        plan,
        embedded,
    )


RECORDS_PER_PARTITION = 20_000


def shuffle_partitions(cores: int, records: int) -> int:
    """Partitions of every shuffle: at least the default parallelism, and about
    ``RECORDS_PER_PARTITION`` work records each, so that a task's share grows with the
    cluster, not with the corpus (four partitions of the 10× scale-up's 1.4 million
    records ran the JVM out of heap)."""
    return max(cores, -(-records // RECORDS_PER_PARTITION))


def cogroup(parts: int, *rdds: Any) -> Any:
    """``(key, (values of rdds[0], values of rdds[1], …))`` over ``parts`` partitions
    (``RDD.groupWith`` with a partition count)."""
    tagged = [rdd.map(lambda kv, i=i: (kv[0], (i, kv[1]))) for i, rdd in enumerate(rdds)]
    n = len(rdds)

    def split(values: Any) -> tuple[list[Any], ...]:
        out: tuple[list[Any], ...] = tuple([] for _ in range(n))
        for i, value in values:
            out[i].append(value)
        return out

    return rdds[0].context.union(tagged).groupByKey(parts).mapValues(split)


def _disambiguate(
    spark: Any,
    by_work: Any,
    resolved: Any,
    claims: Any,
    partial: Path,
    previous: changes.Since | None,
    changed: Any,
    model: Any,
    say: Report,
) -> tuple[Any, Any, changes.Plan | None, int]:
    """Stage 3 (pipeline/authors.py): the ``author_clusters`` and ``authorship_names``
    tables. Returns the work docs and the clusters, cached for stage 4, an incremental
    run's plan, and the number of authorships."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    sc = spark.sparkContext
    parts = by_work.getNumPartitions()
    docs = by_work.map(
        lambda p: pack(work_doc(p[0], p[1], merged_work(p[1]), resolved.value))
    ).persist(StorageLevel.MEMORY_AND_DISK)
    names = name_counts(spark.createDataFrame(docs.flatMap(name_count_rows), NAMES_SCHEMA))
    names.write.parquet(str(partial / "authorship_names"))
    names = spark.read.parquet(str(partial / "authorship_names"))  # counted once, read back
    say("disambiguate: authorships named and their names counted")
    counts = names.select("id", *COUNT_COLUMNS).rdd.map(
        lambda r: (r[0] >> POSITION_BITS, (r[0], tuple(r[1:])))
    )
    plan = None
    only_scopes = only_blocks = None
    if previous is not None:
        plan = changes.plan(spark, previous, names, changed, claims.value, model)
        say(f"disambiguate: {len(plan.blocks):,} name blocks to cluster again")
        only_blocks = sc.broadcast(plan.blocks)
        only_scopes = sc.broadcast({family_scope(b) for b in plan.blocks})
    # buckets of family scopes: enough for every core, and about 100,000 authorships each
    authorships = names.count()
    clustered = authorships
    if plan is not None:
        touched = F.broadcast(
            spark.createDataFrame([(b,) for b in sorted(plan.blocks)], "block string")
        )
        clustered = names.join(touched, "block").count()
    buckets = max(2 * sc.defaultParallelism, clustered // BUCKET_AUTHORSHIPS)
    clusters = (
        docs.map(lambda d: (d[0], d))
        .join(counts.groupByKey(parts), parts)
        .map(lambda p: with_counts(p[1][0], p[1][1]))
        .flatMap(lambda doc: bucketed(doc, buckets, only_scopes and only_scopes.value))
        .groupByKey(numPartitions=buckets)
        .flatMap(
            lambda p: cluster_bucket(
                p[1], claims=claims.value, only_blocks=only_blocks and only_blocks.value
            )
        )
    )
    if previous is not None:
        # every other block keeps the previous run's clusters
        kept = (
            spark.read.parquet(str(previous.path / "author_clusters"))
            .join(names.select(F.col("id").alias("authorship_id"), "block"), "authorship_id")
            .join(touched, "block", "left_anti")
            .select(*CLUSTER_SCHEMA_COLUMNS)
        )
        clusters = clusters.union(kept.rdd.map(tuple))
    clusters = clusters.persist(StorageLevel.MEMORY_AND_DISK)
    say(f"disambiguate: clustering in {buckets} buckets")
    spark.createDataFrame(clusters, CLUSTER_SCHEMA).write.parquet(str(partial / "author_clusters"))
    return docs, clusters, plan, authorships


def _profiles(
    spark: Any,
    parsed: Any,
    by_work: Any,
    resolved: Any,
    docs: Any,
    clusters: Any,
    partial: Path,
    say: Report,
) -> tuple[int, int]:
    """Stage 4 (pipeline/profiles.py): topics, institutions, work topics, author records,
    record topics, collaborations, trust items and profiles. Returns the counts of
    inferred topics and of author records."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    sc = spark.sparkContext
    parts = by_work.getNumPartitions()
    say("profiles: inferring topics from titles and abstracts (on the driver)")
    order, model = profiles.inferred(docs.map(lambda d: (d[0], d[1][3], d[1][4])).collect())
    assigned = [
        (work_id, (int(topic), round(float(score), 4)))
        for work_id, topic, score in zip(order, model.assignment, model.score, strict=True)
    ]
    inferred_links = sc.parallelize(assigned, max(1, sc.defaultParallelism))
    say("profiles: topics, institutions, collaborations, records, trust")
    found = (
        parsed.flatMap(lambda p: profiles.topic_occurrences(p[0], p[1].item))
        .groupByKey(parts)
        .map(lambda p: (p[0], profiles.merged_entity(p[1])))
        .collect()
    )
    topics = {
        key: profiles.TopicInfo(row["taxonomy"], row["external_id"], row["name"])
        for key, row in found
    }
    topic_rows = [
        (key, row["taxonomy"], row["external_id"], row["name"], row["description"])
        for key, row in found
    ]
    for index, (label, size) in enumerate(zip(model.labels, model.sizes, strict=True)):
        key = profiles.inferred_key(index)
        topics[key] = profiles.TopicInfo("inferred", f"k{index}", label)
        description = f"inferred from titles and abstracts; {size:,} works"
        topic_rows.append((key, "inferred", f"k{index}", label, description))
    institutions = {
        row["id"]: profiles.InstitutionInfo(row["name"], row["ror"], row["country_code"])
        for row in resolved.value.institutions
    }
    spark.createDataFrame(topic_rows, profiles.TOPIC_SCHEMA).coalesce(1).write.parquet(
        str(partial / "topics")
    )
    spark.createDataFrame(
        by_work.flatMap(lambda p: profiles.work_topic_rows(p[0], (r for _, r in p[1]))).union(
            inferred_links.map(lambda p: (p[0], profiles.inferred_key(p[1][0]), p[1][1], False))
        ),
        profiles.WORK_TOPIC_SCHEMA,
    ).write.parquet(str(partial / "work_topics"))
    topics_b, institutions_b = sc.broadcast(topics), sc.broadcast(institutions)

    with_pid = (
        spark.read.parquet(str(partial / "work_identifiers"))
        .where(F.col("scheme").isin(*figures.PID_SCHEMES))
        .select("work_id")
        .distinct()
        .rdd.map(lambda r: (r[0], True))
    )
    by_work_clusters = clusters.map(lambda c: (c[0] >> POSITION_BITS, (c[0], c[1], c[2])))
    per_work = (
        cogroup(parts, docs.map(lambda d: (d[0], d)), by_work_clusters, with_pid, inferred_links)
        .flatMap(
            lambda p: profiles.work_items(
                next(iter(p[1][0])), p[1][1], bool(len(p[1][2])), next(iter(p[1][3]), None)
            )
        )
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    collaborations = (
        per_work.filter(lambda x: x[0] == "pair")
        .map(lambda x: x[1])
        .groupByKey(parts)
        .flatMap(lambda p: profiles.collaboration_rows(p[0], p[1]))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    spark.createDataFrame(collaborations, profiles.COLLABORATION_SCHEMA).write.parquet(
        str(partial / "collaborations")
    )
    close = (
        collaborations.filter(lambda c: profiles.is_close(c[3]))
        .map(lambda c: (c[0], 1))
        .reduceByKey(lambda a, b: a + b, parts)
    )
    records = (
        per_work.filter(lambda x: x[0] == "item")
        .map(lambda x: x[1])
        .groupByKey(parts)
        .leftOuterJoin(close, parts)
        .map(
            lambda p: profiles.record_figures(
                p[0], p[1][0], p[1][1] or 0, topics_b.value, institutions_b.value
            )
        )
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    spark.createDataFrame(records.map(lambda r: r[0]), profiles.RECORD_SCHEMA).write.parquet(
        str(partial / "author_records")
    )
    spark.createDataFrame(
        records.flatMap(lambda r: r[1]), profiles.RECORD_TOPIC_SCHEMA
    ).write.parquet(str(partial / "record_topics"))
    spark.createDataFrame(records.flatMap(lambda r: r[2]), profiles.EVIDENCE_SCHEMA).write.parquet(
        str(partial / "trust_evidence")
    )
    spark.createDataFrame(records.map(lambda r: r[3]), profiles.PROFILE_SCHEMA).write.parquet(
        str(partial / "profiles")
    )
    n_records = records.count()
    for cached in (per_work, collaborations, records):
        cached.unpersist()
    topics_b.destroy()
    institutions_b.destroy()
    return len(model.labels), n_records


def _reference_rows(work_id: int, records: list[tuple[int, WorkRecord]]) -> list[Any]:
    found = dict.fromkeys(ref for _, record in records for ref in record.references)
    return [(work_id, scheme, value) for scheme, value in found]


def _title_abstract(records: list[tuple[int, WorkRecord]]) -> tuple[str, str | None]:
    row = merged_work(records)
    return row["title"], row["abstract"]


def _work_row(
    work_id: int, records: list[tuple[int, WorkRecord]], resolved: entities.Resolved
) -> tuple[Any, ...]:
    row = merged_work(records)
    row["source_id"] = resolved.venue(records)
    file_index, number = position(records[0][0])
    return (work_id, file_index, number, *(row[c.split()[0]] for c in WORK_COLUMNS.split(",")))


def _authorship_rows(
    work_id: int, records: list[tuple[int, WorkRecord]], resolved: entities.Resolved
) -> list[Any]:
    rows = merged_authorships([record for _, record in records])
    institutions = resolved.authorship_institutions(records, rows)
    return [
        (work_id, position, *(row[column] for column in AUTHORSHIP_COLUMNS), institutions[position])
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
