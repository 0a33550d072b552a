"""Compare the pipeline's output with a store that `peergraph import` filled from the same
files in the same order: the equality check of the test and of benchmarks/scale/.

Both sides become the same plain tables, keyed by (file number, record number) and work
id; :func:`differences` lists every row that one side has and the other lacks.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, select, text

from peergraph.authors.evaluation import Scores, b_cubed
from peergraph.ingest.dedupe import AUTHORSHIP_COLUMNS
from peergraph.pipeline.authors import POSITION_BITS
from peergraph.pipeline.run import INSTITUTION_SCHEMA, SOURCE_SCHEMA, WORK_COLUMNS
from peergraph.works.models import Authorship, Work

WORK_FIELDS = [column.split()[0] for column in WORK_COLUMNS.split(",")]
SOURCE_FIELDS = [column.split()[0] for column in SOURCE_SCHEMA.split(",")]
INSTITUTION_FIELDS = [column.split()[0] for column in INSTITUTION_SCHEMA.split(",")]
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
        references = conn.execute(
            text(
                "SELECT citing_work_id, target_scheme, target_value, cited_work_id"
                " FROM work_references"
            )
        ).all()
        links = conn.execute(
            text(
                "SELECT a.work_id, a.position, ai.institution_id FROM authorship_institutions ai"
                " JOIN authorships a ON a.id = ai.authorship_id"
            )
        ).all()
        sources = conn.execute(text(f"SELECT {', '.join(SOURCE_FIELDS)} FROM sources")).all()
        institutions = conn.execute(
            text(f"SELECT {', '.join(INSTITUTION_FIELDS)} FROM institutions")
        ).all()
    return {
        "works": {_work(row) for row in works},
        "authorships": {_authorship(row) for row in authorships},
        "work_identifiers": {tuple(row) for row in identifiers},
        "work_records": {(file_of[i], n, action, w) for i, n, action, w in records},
        "issues": {(file_of[i], n, line, reason, bool(s)) for i, n, line, reason, s in issues},
        "files": {(file_of[i], read, skipped) for i, read, skipped in counts},
        "authorship_institutions": {tuple(row) for row in links},
        "work_references": {tuple(row) for row in references},
        "sources": {_entity(row, SOURCE_FIELDS) for row in sources},
        "institutions": {_entity(row, INSTITUTION_FIELDS) for row in institutions},
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
        "work_references": {
            tuple(row)
            for row in rows("work_references", ["work_id", "scheme", "value", "cited_work_id"])
        },
        "authorship_institutions": {
            (w, p, i)
            for w, p, ids in rows("authorships", ["work_id", "position", "institution_ids"])
            for i in ids or ()
        },
        "sources": {_entity(row, SOURCE_FIELDS) for row in rows("sources", SOURCE_FIELDS)},
        "institutions": {
            _entity(row, INSTITUTION_FIELDS) for row in rows("institutions", INSTITUTION_FIELDS)
        },
    }


LIST_COLUMNS = ("issns", "domains")  # JSON in the store, arrays in Parquet


def _entity(row: Any, fields: list[str]) -> tuple[Any, ...]:
    return tuple(_listed(v) if k in LIST_COLUMNS else v for k, v in zip(fields, row, strict=True))


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


# -- stage 4: profile figures -------------------------------------------------------
#
# A record is named on both sides by its first authorship (work id, position): the
# pipeline's cluster id, and the smallest (work id, position) among the store record's
# authorships.

PROFILE_TABLES = (
    "author_records",
    "record_topics",
    "collaborations",
    "profiles",
    "trust_evidence",
    "work_topics",
    "topics",
)


def _first(aid: int) -> tuple[int, int]:
    return aid >> POSITION_BITS, aid & ((1 << POSITION_BITS) - 1)


def _affiliations(value: Any) -> tuple[Any, ...] | None:
    if value is None:
        return None
    listed = json.loads(value) if isinstance(value, str) else value
    if not listed:
        return None
    return tuple(
        (a.get("id"), a["name"], a["ror"], a["country_code"], a["year"])
        for a in (x if isinstance(x, dict) else x.asDict() for x in listed)
    )


def _listed(value: Any) -> tuple[Any, ...] | None:
    if value is None:
        return None
    listed = json.loads(value) if isinstance(value, str) else value
    return tuple(listed or ()) or None


def store_profiles(engine: Engine) -> Tables:
    """The store's profile figures after `peergraph rebuild --full`."""
    with engine.connect() as conn:
        name: dict[int, tuple[int, int]] = {}
        for record_id, work_id, position in conn.execute(
            text(
                "SELECT l.record_id, a.work_id, a.position FROM authorship_links l"
                " JOIN authorships a ON a.id = l.authorship_id"
            )
        ):
            if record_id not in name or (work_id, position) < name[record_id]:
                name[record_id] = (work_id, position)
        topic_key = {
            i: f"{taxonomy}:{external_id}"
            for i, taxonomy, external_id in conn.execute(
                text("SELECT id, taxonomy, external_id FROM topics")
            )
        }
        records = conn.execute(
            text(
                "SELECT id, display_name, name_variants, sort_name, block_key, orcid,"
                " upstream_author_ids, works_count, first_year, last_year, confidence"
                " FROM author_records"
            )
        ).all()
        record_topics = conn.execute(
            text("SELECT record_id, topic_id, weight, works_count FROM record_topics")
        ).all()
        collaborations = conn.execute(
            text("SELECT record_id, coauthor_id, joint_works, strength FROM collaborations")
        ).all()
        profiles = conn.execute(
            text(
                "SELECT record_id, description, affiliations, verification_level, trust_score,"
                " topics_count, close_collaborators_count FROM profiles"
            )
        ).all()
        evidence = conn.execute(
            text("SELECT record_id, component, source, method, points, detail FROM trust_evidence")
        ).all()
        work_topics = conn.execute(
            text("SELECT work_id, topic_id, score, is_primary FROM work_topics")
        ).all()
        topics = conn.execute(text("SELECT taxonomy, external_id, name FROM topics")).all()
    return {
        "author_records": {
            (name[r], d, _listed(v), s, b, o, _listed(u), n, f, la, float(c))
            for r, d, v, s, b, o, u, n, f, la, c in records
        },
        "record_topics": {(name[r], topic_key[t], w, n) for r, t, w, n in record_topics},
        "collaborations": {(name[r], name[c], j, s) for r, c, j, s in collaborations},
        "profiles": {
            (name[r], d, _affiliations(a), v, t, tc, cc) for r, d, a, v, t, tc, cc in profiles
        },
        "trust_evidence": {(name[r], c, s, m, float(p), d) for r, c, s, m, p, d in evidence},
        "work_topics": {
            (w, topic_key[t], None if s is None else round(float(s), 4), bool(p))
            for w, t, s, p in work_topics
        },
        "topics": {(f"{t}:{e}", n) for t, e, n in topics},
    }


def parquet_profiles(spark: Any, out: Path) -> Tables:
    """The same figures from the pipeline's output folder."""

    def rows(table: str) -> list[Any]:
        return spark.read.parquet(str(out / table)).collect()

    return {
        "author_records": {
            (_first(r[0]), r[1], _listed(r[2]), *r[3:6], _listed(r[6]), *r[7:10], float(r[10]))
            for r in rows("author_records")
        },
        "record_topics": {(_first(c), t, w, n) for c, t, w, n in rows("record_topics")},
        "collaborations": {(_first(c), _first(o), j, s) for c, o, j, s in rows("collaborations")},
        "profiles": {
            (_first(c), d, _affiliations(a), v, t, tc, cc)
            for c, d, a, v, t, tc, cc in rows("profiles")
        },
        "trust_evidence": {(_first(r[0]), *r[1:5], r[5]) for r in rows("trust_evidence")},
        "work_topics": {
            (w, t, None if s is None else round(float(s), 4), bool(p))
            for w, t, s, p in rows("work_topics")
        },
        "topics": {(r["key"], r["name"]) for r in rows("topics")},
    }


def unexplained(found: dict[str, dict[str, Any]], agreed: Agreement) -> dict[str, list[Any]]:
    """The profile rows in ``found`` (``differences`` of the profile tables) that the
    clustering differences in ``agreed`` do not explain: rows of records (or, for
    collaborations, co-authors) other than those whose authorships were clustered
    differently. ``agreed`` must list every differing authorship (a high ``limit``)."""
    involved = {
        min(group) for d in agreed.differing for group in (d["store"], d["pipeline"]) if group
    }
    left: dict[str, list[Any]] = {}
    for table, sides in found.items():
        if table not in (
            "author_records",
            "record_topics",
            "collaborations",
            "profiles",
            "trust_evidence",
        ):
            left[table] = sides["only_in_store"] + sides["only_in_pipeline"]
            continue
        rows = [
            row
            for row in sides["only_in_store"] + sides["only_in_pipeline"]
            if row[0] not in involved and not (table == "collaborations" and row[1] in involved)
        ]
        if rows:
            left[table] = rows
    return left
