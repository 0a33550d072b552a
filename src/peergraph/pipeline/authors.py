"""Stage 3: author disambiguation on Spark, with the rebuild's own code.

A block's records depend only on the papers of its family (``names.family_scope``: the
co-authors' co-authors feature counts co-occurrence there), on its works' co-authors, and
on store-wide name counts. So the stage

1. gives every authorship its name keys (``authors.services.name_keys``) and an id that
   follows (work id, position);
2. counts names over all authorships with DataFrame aggregations (the counts
   ``features.NameCounts`` holds) and attaches them to every authorship;
3. sends each work, with all its authorships, to the bucket of every family scope among
   its authors (buckets: a stable hash of the scope);
4. in one task per bucket builds the corpus of its works (``authors.services.
   build_corpus``) and clusters the blocks of its scopes (``authors.disambiguation.
   cluster``), exactly as a full rebuild clusters them inside the whole store's corpus.

Venues and institutions carry the ids the store's writer would give them
(pipeline/entities.py); topics are told apart by taxonomy and id, as the store does.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from peergraph.authors import disambiguation, ownership
from peergraph.authors.features import NameCounts, coauthor_key
from peergraph.authors.names import family_scope, first_name
from peergraph.authors.services import CorpusRows, build_corpus, name_keys
from peergraph.ingest.dedupe import merged_authorships
from peergraph.ingest.records import WorkRecord
from peergraph.pipeline.entities import Resolved

POSITION_BITS = 20  # authorship id = work id × 2²⁰ + position
cached_name_keys = lru_cache(maxsize=1 << 18)(name_keys)  # names repeat: parse each once per worker


def authorship_id(work_id: int, position: int) -> int:
    return (work_id << POSITION_BITS) | position


@dataclass(slots=True)
class Named:
    """An authorship with its name keys and, once counted, the store-wide counts of its
    names: first name, distinct families of the first name, family, distinct first names
    of the family, full name, co-author key."""

    id: int
    work_id: int
    row: tuple[Any, ...]  # CorpusRows.authorships' tuple
    first: str
    family: str
    key: str
    scope: str
    block: str
    counts: tuple[int, int, int, int, int, int] = (0, 0, 0, 0, 0, 0)


@dataclass(slots=True)
class WorkDoc:
    """One work as disambiguation reads it (a ``CorpusRows.works`` row and its parts)."""

    work_id: int
    row: tuple[Any, ...]
    authorships: list[Named] = field(default_factory=list)
    institutions: list[tuple[int, int]] = field(default_factory=list)  # (authorship, id)
    topics: list[tuple[str, float | None]] = field(default_factory=list)
    references: list[tuple[str, str]] = field(default_factory=list)


def work_doc(
    work_id: int,
    records: list[tuple[int, WorkRecord]],
    row: dict[str, Any],
    resolved: Resolved,
) -> WorkDoc:
    """The disambiguation view of a work from its ``(g, record)`` pairs in reading order,
    its merged row (``stages.merged_work``) and the venue and institution ids
    (pipeline/entities.py)."""
    venue = resolved.venue(records)
    doc = WorkDoc(
        work_id,
        (
            work_id,
            row["year"],
            venue,
            row["title"],
            row["abstract"],
            "" if venue is None else resolved.sources[venue - 1]["name"],
        ),
    )
    plain = [record for _, record in records]
    merged = merged_authorships(plain)
    institutions = resolved.authorship_institutions(records, merged)
    for position, a in enumerate(merged):
        aid = authorship_id(work_id, position)
        raw, given, family, guessed = a["raw_name"], a["given"], a["family"], a["order_guessed"]
        tokens, family_k, block, _native = cached_name_keys(raw, given, family, guessed)
        doc.authorships.append(
            Named(
                aid,
                work_id,
                (
                    aid,
                    work_id,
                    position,
                    raw,
                    given,
                    family,
                    a["orcid"],
                    a["upstream_author_id"],
                    a["raw_affiliations"],
                    guessed,
                ),
                first_name(tokens),
                family_k,
                coauthor_key(tokens, family_k, block),
                family_scope(block),
                block,
            )
        )
        doc.institutions.extend((aid, i) for i in institutions[position])
    topics: dict[str, float | None] = {}
    references: dict[tuple[str, str], None] = {}
    for record in plain:
        for link in record.topics:
            topics.setdefault(f"{link.topic.taxonomy}:{link.topic.external_id}", link.score)
        references.update(dict.fromkeys(record.references))
    doc.topics = list(topics.items())
    doc.references = list(references)
    return doc


Packed = tuple[Any, ...]


def pack(doc: WorkDoc) -> Packed:
    """A work doc as plain tuples and lists, the form it crosses shuffles in: pyspark's
    pickler spends Python code on every dataclass instance, none on a tuple."""
    authorships = [
        (a.id, a.work_id, a.row, a.first, a.family, a.key, a.scope, a.block, a.counts)
        for a in doc.authorships
    ]
    return (doc.work_id, doc.row, authorships, doc.institutions, doc.topics, doc.references)


def unpack(packed: Packed) -> WorkDoc:
    work_id, row, authorships, institutions, topics, references = packed
    return WorkDoc(work_id, row, [Named(*a) for a in authorships], institutions, topics, references)


NAMES_SCHEMA = (
    "id long, work_id long, block string, scope string, first string, family string, key string"
)
COUNT_COLUMNS = ("c_first", "c_first_families", "c_family", "c_family_firsts", "c_full", "c_key")


def name_count_rows(packed: Packed) -> Iterator[tuple[int, int, str, str, str, str, str]]:
    """``NAMES_SCHEMA`` rows of a work's authorships."""
    for aid, work_id, _row, first, family, key, scope, block, _counts in packed[2]:
        yield aid, work_id, block, scope, first, family, key


def bucket_of(scope: str, buckets: int) -> int:
    """A family scope's bucket: stable across processes (``hash`` of a str is not)."""
    return zlib.crc32(scope.encode("utf-8")) % buckets


def bucketed(
    packed: Packed, buckets: int, only: set[str] | None = None
) -> list[tuple[int, tuple[str, Packed]]]:
    """``(bucket, (scope, doc))`` for every family scope among the work's authors (that is
    in ``only``, when given)."""
    scopes = dict.fromkeys(a[6] for a in packed[2] if only is None or a[6] in only)
    return [(bucket_of(scope, buckets), (scope, packed)) for scope in scopes]


def cluster_bucket(
    items: Iterable[tuple[str, Packed]],
    use_upstream_ids: bool = True,
    claims: list[ownership.Claim] | None = None,
    only_blocks: set[str] | None = None,
) -> Iterator[tuple[int, int, float, str, str | None]]:
    """Cluster the blocks of the family scopes in one bucket: ``(authorship id, id of its
    cluster's first authorship, confidence, method, evidence as JSON)`` for each of their
    authorships (the evidence names its partner by the pipeline's authorship id).

    The bucket's corpus holds every work of each of its scopes (each once), so every
    feature of their blocks is what a full rebuild computes; one corpus and one
    ``cluster`` call per bucket, not per family: per call costs are what a family of two
    papers mostly spends.

    ``claims``: the verified claims of the store the run will be merged into, their
    authorships named by the pipeline's ids: the rebuild's constraints
    (``ownership.constraints_for``), so a claimed record stays whole.

    ``only_blocks``: cluster only these blocks (an incremental run: pipeline/changes.py)."""
    scopes: set[str] = set()
    docs: dict[int, WorkDoc] = {}
    for scope, packed in items:
        scopes.add(scope)
        if packed[0] not in docs:
            docs[packed[0]] = unpack(packed)
    ordered = [docs[w] for w in sorted(docs)]
    authorships = sorted((a for d in ordered for a in d.authorships), key=lambda a: a.id)

    def counting(given: Any, families: Any, keys: Any) -> NameCounts:
        counts = NameCounts(Counter(), Counter(), Counter(), Counter(), Counter(), Counter())
        for a in authorships:
            first, first_families, family, family_firsts, full, key = a.counts
            if a.first:
                counts.first[a.first] = first
                counts.first_families[a.first] = first_families
                counts.full[(a.first, a.family)] = full
            counts.family[a.family] = family
            counts.family_firsts[a.family] = family_firsts
            counts.coauthor[a.key] = key
        return counts

    rows = CorpusRows(
        works=(d.row for d in ordered),
        authorships=(a.row for a in authorships),
        institutions=(link for d in ordered for link in d.institutions),
        topics=((d.work_id, key, score) for d in ordered for key, score in d.topics),
        references=((d.work_id, s, v) for d in ordered for s, v in d.references),
    )
    corpus = build_corpus(rows, counting).corpus
    blocks = {
        b
        for b in corpus.blocks
        if family_scope(b) in scopes and (only_blocks is None or b in only_blocks)
    }
    result = disambiguation.cluster(
        corpus,
        use_upstream_ids=use_upstream_ids,
        only_blocks=blocks,
        constraints=ownership.constraints_for(corpus.authorship_ids, claims or []),
    )
    ids = corpus.authorship_ids
    for row, label in enumerate(result.labels.tolist()):
        if label >= 0:
            yield (
                int(ids[row]),
                int(ids[label]),
                float(result.confidence[row]),
                result.method[row],
                json.dumps(result.evidence[row]) if result.evidence[row] else None,
            )


def name_counts(names: Any) -> Any:
    """``names`` (a DataFrame of ``NAMES_SCHEMA`` rows over all authorships) with the
    store-wide counts ``NameCounts.of`` would give each authorship's names
    (``COUNT_COLUMNS``)."""
    from pyspark.sql import functions as F

    full = names.where(F.col("first") != "")
    by_first = full.groupBy("first").agg(
        F.count("*").alias("c_first"), F.countDistinct("family").alias("c_first_families")
    )
    by_family = names.groupBy("family").agg(F.count("*").alias("c_family"))
    family_firsts = full.groupBy("family").agg(F.countDistinct("first").alias("c_family_firsts"))
    by_full = full.groupBy("first", "family").agg(F.count("*").alias("c_full"))
    by_key = names.groupBy("key").agg(F.count("*").alias("c_key"))
    columns = COUNT_COLUMNS
    return (
        names.join(by_first, "first", "left")
        .join(by_family, "family", "left")
        .join(family_firsts, "family", "left")
        .join(by_full, ["first", "family"], "left")
        .join(by_key, "key", "left")
        .select(
            *(c.split()[0] for c in NAMES_SCHEMA.split(",")),
            *(F.coalesce(F.col(c), F.lit(0)).alias(c) for c in columns),
        )
    )


def with_counts(packed: Packed, counts: Iterable[tuple[int, tuple[int, ...]]]) -> Packed:
    """The packed doc with its authorships' name counts (``name_counts``) filled in."""
    found = dict(counts)
    authorships = [(*a[:8], found[a[0]]) for a in packed[2]]
    return (packed[0], packed[1], authorships, *packed[3:])
