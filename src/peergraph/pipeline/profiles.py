"""Stage 4: profile figures on Spark, with the rebuild's own rules.

Every figure is a function of one record's rows or of one work's authors
(profiles/figures.py, authors/services.record_values); this module only moves rows
to where those functions run:

- per work: its authors' records give the collaboration pairs and shares
  (``figures.collaboration_shares``), and every authorship becomes a row of its
  record, carrying its work's year, topics and whether the work has a DOI, arXiv id or
  PMID;
- per pair of records: joint works and strength (``figures.strength``);
- per record: the record's row (``record_values``), its top topics
  (``figures.record_topics``), its affiliations (``figures.latest_affiliations``) and,
  with its close-collaborator count, its trust items and snapshot
  (``figures.snapshot``).

Inferred topics (k-means over every work's title and abstract, profiles/topics.py) are
one global model: the driver fits them on the collected texts, exactly as a full rebuild
does. That holds to a few million works; beyond, the model must be fitted on a sample
and the works assigned in tasks (docs/pipeline.md, "what does not scale yet").

A record is named by its cluster id (its first authorship's id) until stage 6 gives it
the store's id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from peergraph.authors.services import record_values, text_matrix
from peergraph.ingest.entities import fill_or_overwrite
from peergraph.ingest.records import TopicRecord, WorkRecord
from peergraph.pipeline.authors import Packed
from peergraph.profiles import figures
from peergraph.profiles.models import CLOSE_STRENGTH
from peergraph.profiles.topics import InferredTopics, infer_topics

RECORD_SCHEMA = (
    "cluster long, display_name string, name_variants array<string>, sort_name string,"
    " block_key string, orcid string, upstream_author_ids array<string>, works_count int,"
    " first_year int, last_year int, confidence double"
)
AFFILIATION = "struct<id:long,name:string,ror:string,country_code:string,year:int>"
PROFILE_SCHEMA = (
    f"cluster long, description string, affiliations array<{AFFILIATION}>,"
    " verification_level string, trust_score int, topics_count int,"
    " close_collaborators_count int"
)
EVIDENCE_SCHEMA = (
    "cluster long, component string, source string, method string, points double, detail string"
)
RECORD_TOPIC_SCHEMA = "cluster long, topic string, weight double, works_count int"
COLLABORATION_SCHEMA = "cluster long, coauthor long, joint_works int, strength double"
TOPIC_SCHEMA = "key string, taxonomy string, external_id string, name string, description string"
WORK_TOPIC_SCHEMA = "work_id long, topic string, score double, is_primary boolean"


@dataclass(frozen=True, slots=True)
class TopicInfo:
    taxonomy: str
    external_id: str
    name: str


@dataclass(frozen=True, slots=True)
class InstitutionInfo:
    name: str
    ror: str | None
    country_code: str | None


def inferred(texts: list[tuple[int, str, str | None]]) -> tuple[list[int], InferredTopics]:
    """The rebuild's inferred topics over (work id, title, abstract) of every work, in
    work-id order as the store reads them (``LoadedCorpus.texts``)."""
    texts.sort(key=lambda t: t[0])
    joined = [f"{title}. {abstract or ''}" for _, title, abstract in texts]
    titles = [t.split(". ", 1)[0] for t in joined]
    return [w for w, _, _ in texts], infer_topics(text_matrix(joined), titles)


def inferred_key(cluster: int) -> str:
    return f"inferred:k{cluster}"


# one authorship as its record's rows need it
Item = tuple[Any, ...]  # (aid, work, year, raw name, orcid, upstream, confidence, block,
#                          raw affiliations, institution keys, has pid, topics)


def work_items(
    packed: Packed,
    clusters: Iterable[tuple[int, int, float]],
    has_pid: bool,
    inferred_topic: tuple[int, float] | None,
) -> Iterator[tuple[str, Any]]:
    """From one work (stage 3's doc), its authorships' clusters and its inferred topic:
    ``("pair", ((a, b), share))`` for each pair of its records, and ``("item", (cluster,
    item))`` for each of its authorships."""
    work_id, row, authorships, institutions, topics, _references = packed
    found = {aid: (cluster, confidence) for aid, cluster, confidence in clusters}
    year = row[1]
    links: list[tuple[str, float | None]] = list(topics)
    if inferred_topic is not None:
        links.append((inferred_key(inferred_topic[0]), inferred_topic[1]))
    keys: dict[int, list[str]] = {}
    for aid, key in institutions:
        keys.setdefault(aid, []).append(key)
    records = []
    for aid, _work, arow, _first, _family, _key, _scope, block, _counts in authorships:
        if aid not in found:
            continue
        cluster, confidence = found[aid]
        records.append(cluster)
        raw, orcid, upstream, affiliations = arow[3], arow[6], arow[7], arow[8]
        item = (aid, work_id, year, raw, orcid, upstream, confidence, block, affiliations)
        yield "item", (cluster, (*item, keys.get(aid, []), has_pid, links))
    for a, b, share in figures.collaboration_shares(records):
        yield "pair", ((a, b), share)


def collaboration_rows(pair: tuple[int, int], shares: Iterable[float]) -> list[tuple[Any, ...]]:
    listed = list(shares)
    a, b = pair
    value = figures.strength(listed)
    return [(a, b, len(listed), value), (b, a, len(listed), value)]


def record_figures(
    cluster: int,
    items: Iterable[Item],
    close: int,
    topics: dict[str, TopicInfo],
    institutions: dict[int, InstitutionInfo],
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]], tuple[Any, ...]]:
    """One record's row, its top topics, its stored trust items and its profile row."""
    ordered = sorted(items, key=lambda i: i[0])
    years = {i[1]: (float(i[2]) if i[2] is not None else np.nan) for i in ordered}
    values = record_values(
        [i[3] for i in ordered],
        [i[4] for i in ordered],
        [i[5] for i in ordered],
        years,
        np.array([i[6] for i in ordered], dtype=np.float32),
        ordered[0][7],
    )
    links = [
        figures.TopicLink(i[1], key, score, info.taxonomy, info.name, info.external_id)
        for i in ordered
        for key, score in i[11]
        if (info := topics.get(key)) is not None and info.taxonomy in figures.TOPIC_TAXONOMIES
    ]
    top = figures.record_topics(links)
    affiliations = figures.latest_affiliations(
        [
            figures.InstitutionLink(
                int(i[2] or 0), i[1], key, place.name, place.ror, place.country_code
            )
            for i in ordered
            for key in i[9]
            if (place := institutions.get(key)) is not None
        ],
        [(int(i[2] or 0), i[1], i[0], i[8]) for i in ordered if i[8] is not None],
    )
    facts = figures.RecordFacts(
        orcid=values["orcid"],
        upstream_ids=values["upstream_author_ids"] or [],
        confidence=values["confidence"],
        works=values["works_count"],
        works_with_pid=len({i[1] for i in ordered if i[10]}),
        top_topics=[t.name for t in top],
        topics_count=len(top),
        close_collaborators=close,
        affiliations=affiliations,
    )
    items_out, snapshot = figures.snapshot(facts)
    record = (cluster, *(values[c.split()[0]] for c in RECORD_SCHEMA.split(",")[1:]))
    topic_rows = [(cluster, str(t.topic), t.weight, t.works_count) for t in top]
    evidence = [
        (cluster, i.component, i.source, i.method, float(i.points), i.detail) for i in items_out
    ]
    profile = (
        cluster,
        snapshot["description"],
        [_affiliation(a) for a in snapshot["affiliations"] or []] or None,
        snapshot["verification_level"],
        snapshot["trust_score"],
        snapshot["topics_count"],
        snapshot["close_collaborators_count"],
    )
    return record, topic_rows, evidence, profile


def _affiliation(a: dict[str, Any]) -> tuple[Any, ...]:
    return (
        a.get("id"),
        a["name"],
        a["ror"],
        a["country_code"],
        a["year"],
    )


def is_close(strength: float) -> bool:
    return strength >= CLOSE_STRENGTH


# -- topics and institutions ----------------------------------------------------------

TopicOccurrence = tuple[str, tuple[int, int, bool, dict[str, Any]]]


def topic_key(topic: TopicRecord) -> str:
    return f"{topic.taxonomy}:{topic.external_id}"


def _topic_row(topic: TopicRecord) -> dict[str, Any]:
    return {
        "taxonomy": topic.taxonomy,
        "external_id": topic.external_id,
        "name": topic.name,
        "description": topic.description,
    }


def topic_occurrences(g: int, item: Any) -> list[TopicOccurrence]:
    """The topics one parsed record names, in reading order: as an entity record (full:
    it overwrites) or inside a work (stubs: they fill gaps), each ``(key, (g, order
    inside the record, full, row))``. Topics are found by taxonomy and id only, so no
    run's cache changes which row a topic becomes."""
    if isinstance(item, TopicRecord):
        return [(topic_key(item), (g, 0, item.full, _topic_row(item)))]
    if isinstance(item, WorkRecord):
        return [
            (topic_key(link.topic), (g, n, False, _topic_row(link.topic)))
            for n, link in enumerate(item.topics)
        ]
    return []


def merged_entity(rows: Iterable[tuple[int, int, bool, dict[str, Any]]]) -> dict[str, Any]:
    """An entity's columns from its records in reading order, by the writer's rule
    (``ingest.writer.fill_or_overwrite``): full records overwrite, stubs fill gaps."""
    ordered = sorted(rows, key=lambda r: (r[0], r[1]))
    merged = dict(ordered[0][3])
    for _g, _n, full, row in ordered[1:]:
        merged.update(fill_or_overwrite(merged, row, overwrite=full))
    return merged


def work_topic_rows(work_id: int, records: Iterable[WorkRecord]) -> list[tuple[Any, ...]]:
    """A work's source-given topic links: the first record's link to each topic wins, as
    the writer inserts them (``_insert_links``)."""
    rows: dict[str, tuple[Any, ...]] = {}
    for record in records:
        for link in record.topics:
            key = topic_key(link.topic)
            rows.setdefault(key, (work_id, key, link.score, link.is_primary))
    return list(rows.values())
