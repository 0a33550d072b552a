"""Stage 6 into a store that holds data: a pipeline run merged, in one transaction.

The run must **cover** the store: it read the store's files first, in the order they
were imported (the same SHA-256s; paths may differ between a cluster and the web tier),
then any new ones. A run's ids follow the store's writer (docs/pipeline.md), so every
work the store holds has the same id in the run, and that is checked, work by work,
against the record that created it. What happens then:

- import runs are added for the new files, with their records' outcomes and problems;
- venues, institutions, topics, works and authorships (matched by work and position)
  are updated where the run enriched them and added where new; identifiers, references,
  work topics, authorship institutions and name keys are replaced;
- author records keep their ids by the rebuild's rule (``authors.services.keep_ids``):
  a verified claim's record goes to the cluster holding its authorships, then each
  cluster keeps the old record it shares most authorships with; a record no cluster
  kept retires, redirects to where most of its authorships went, and what people own on
  it (claims, decisions, settings, follows) moves there (``authors.services.retire``);
- links, record topics, collaborations, trust items and profiles are the run's, under
  those ids, and the profiles that owned state changes (claimed records and their close
  collaborators) are computed again in the store, as a rebuild computes them;
- the run's vectors, when it embedded, replace those of its works.

A store with verified claims takes only a run that clustered with them (``peergraph
pipeline --owned-from URL``, or ``--database URL``, reads them): otherwise a claimed
record could come back split. Everything is one transaction: readers see the store
before the merge or after it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, text, update

from peergraph.authors import ownership
from peergraph.authors.services import keep_ids, retire, retirements
from peergraph.db import generation
from peergraph.db.base import Base, in_chunks, utcnow
from peergraph.db.copy import move_sequences
from peergraph.pipeline.authors import authorship_id
from peergraph.pipeline.load import (
    _name_row,
    import_row,
    rebuild_row,
    table,
    topic_row,
    write_outcomes,
    write_records_of,
    write_work_rows,
)
from peergraph.profiles.services import refresh_profiles
from peergraph.search.text import text_index

Rows = Callable[[str], Iterator[dict[str, Any]]]
Report = Callable[[str], None]
STAMPS = ("created_at", "updated_at", "computed_at", "observed_at")


class MergeRefused(RuntimeError):
    """The run cannot be merged into the store; the message says why."""


@dataclass
class MergeSummary:
    new_imports: int
    new_works: int
    updated_works: int
    new_authorships: int
    records: int
    kept_records: int
    new_records: int
    retired_records: int
    vectors: int


def store_claims(conn: Connection) -> list[ownership.Claim]:
    """The store's verified claims with their authorships named by the pipeline's ids
    (work id × 2²⁰ + position): what `peergraph pipeline` clusters with."""
    claims = ownership.verified_claims(conn)
    wanted = {a for c in claims for a in (*c.authorships, *c.not_mine)}
    named: dict[int, int] = {}
    authorships = table("authorships")
    for chunk in in_chunks(wanted):
        for aid, work_id, pos in conn.execute(
            select(authorships.c.id, authorships.c.work_id, authorships.c.position).where(
                authorships.c.id.in_(chunk)
            )
        ):
            named[aid] = authorship_id(work_id, pos)
    return [
        ownership.Claim(
            c.id,
            c.record_id,
            c.claimant,
            sorted(named[a] for a in c.authorships if a in named),
            sorted(named[a] for a in c.not_mine if a in named),
        )
        for c in claims
    ]


def check_cover(conn: Connection, files: list[dict[str, Any]], works: Rows) -> int:
    """How many of the run's files the store already imported (the run must have read
    them first, in the store's order), after checking that every work of the store has
    its id in the run, created by the same record. Raises ``MergeRefused``."""
    imports = conn.execute(
        text("SELECT id, path, file_sha256, format FROM imports ORDER BY id")
    ).all()
    if len(imports) > len(files):
        raise MergeRefused(
            f"the store holds {len(imports)} imports and the run read only {len(files)}"
            f" file{'' if len(files) == 1 else 's'}: a"
            " run merged into a store must read the store's files first, in the order they"
            " were imported, then the new ones"
        )
    for i, (imp, f) in enumerate(zip(imports, files, strict=False), start=1):
        if (imp.file_sha256, imp.format) != (f["sha256"] or "", f["format"]):
            raise MergeRefused(
                f"the run's file {i} ({f['path']}, {f['format']}) is not the store's import"
                f" {imp.id} ({imp.path}, {imp.format}, SHA-256 {imp.file_sha256[:12]}…): a"
                " run merged into a store must read the store's files first, in the order"
                " they were imported, then the new ones"
            )
    file_of = {imp.id: i for i, imp in enumerate(imports, start=1)}
    created = {
        work_id: (file_of.get(import_id), number)
        for work_id, import_id, number in conn.execute(
            text(
                "SELECT entity_id, import_id, record_number FROM provenance"
                " WHERE entity_type = 'work' AND action = 'created'"
            )
        )
    }
    stored = set(conn.execute(text("SELECT id FROM works")).scalars())
    for w in works("works"):
        if w["id"] in stored:
            stored.discard(w["id"])
            made = created.get(w["id"])
            if made is not None and made != (w["first_file"], w["first_record"]):
                raise MergeRefused(
                    f"work {w['id']} of the store was created by record {made[1]} of import"
                    f" {made[0]}, in the run by record {w['first_record']} of file"
                    f" {w['first_file']}: the run did not read the store's files as it did"
                )
    if stored:
        raise MergeRefused(
            f"{len(stored):,} works of the store (such as {min(stored)}) are not in the run"
        )
    return len(imports)


def check_claims(conn: Connection, rows: Rows) -> None:
    """A store with verified claims takes only a run that clustered with those claims."""

    mine = sorted((c.claimant, tuple(c.authorships), tuple(c.not_mine)) for c in store_claims(conn))
    used = sorted(
        (c["claimant"], tuple(c["authorships"] or ()), tuple(c["not_mine"] or ()))
        for c in rows("claims")
    )
    if mine != used:
        raise MergeRefused(
            f"the store holds {len(mine)} verified claims and the run clustered with"
            f" {len(used)} (or other) claims: run the pipeline with --owned-from (or"
            " --database) naming this store, so that claimed records stay whole"
        )


class _Sync:
    """Rows of a run into a table that holds rows: updated where they differ from the
    stored row (timestamps aside), added where new."""

    def __init__(self, conn: Connection, writer: Any, now: datetime) -> None:
        self.conn, self.writer, self.now = conn, writer, now

    def by_id(self, name: str, rows: Iterable[dict[str, Any]]) -> tuple[int, int]:
        t = table(name)
        stored = {r["id"]: r for r in self.conn.execute(select(t)).mappings()}
        changed: list[dict[str, Any]] = []
        added: list[dict[str, Any]] = []
        for row in rows:
            old = stored.get(row["id"])
            if old is None:
                added.append({**{s: self.now for s in STAMPS if s in t.c}, **row})
            elif any(old[k] != v for k, v in row.items() if k not in STAMPS):
                changed.append(row)
        self.update(t, changed)
        self.writer.many(name, added)
        return len(added), len(changed)

    def update(self, t: Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        columns = [c for c in rows[0] if c != "id" and c not in STAMPS]
        values: dict[str, Any] = {c: bindparam(f"v_{c}") for c in columns}
        if "updated_at" in t.c:
            values["updated_at"] = self.now
        statement = update(t).where(t.c.id == bindparam("k_id")).values(values)
        params = [{"k_id": r["id"], **{f"v_{c}": r[c] for c in columns}} for r in rows]
        for start in range(0, len(params), 5_000):
            self.conn.execute(statement, params[start : start + 5_000])


def merge_output(
    conn: Connection, rows: Rows, writer: Any, report: Report | None = None
) -> MergeSummary:
    """Merge the run that ``rows`` reads into the store behind ``conn``, inside the
    caller's transaction (the module docstring says how)."""
    say = report or (lambda _m: None)
    now = utcnow()
    sync = _Sync(conn, writer, now)
    files = sorted(rows("files"), key=lambda r: r["file"])
    covered = check_cover(conn, files, rows)
    check_claims(conn, rows)

    say(f"merge: {len(files) - covered} new of {len(files)} files")
    imports = dict(
        enumerate(conn.execute(text("SELECT id FROM imports ORDER BY id")).scalars(), start=1)
    )
    for f in files[covered:]:
        imports[f["file"]] = writer.one("imports", import_row(f, now))
    sync.by_id("sources", rows("sources"))
    sync.by_id("institutions", rows("institutions"))
    topics = table("topics")
    topic_ids = {
        f"{taxonomy}:{external_id}": (tid, name, description)
        for tid, taxonomy, external_id, name, description in conn.execute(
            select(
                topics.c.id,
                topics.c.taxonomy,
                topics.c.external_id,
                topics.c.name,
                topics.c.description,
            )
        )
    }
    topic_of: dict[str, int] = {}
    for t in rows("topics"):
        found = topic_ids.get(f"{t['taxonomy']}:{t['external_id']}")
        if found is None:
            topic_of[t["key"]] = writer.one(
                "topics",
                topic_row(t),
            )
            continue
        topic_of[t["key"]] = found[0]
        if (t["name"], t["description"]) != found[1:]:
            conn.execute(
                update(topics)
                .where(topics.c.id == found[0])
                .values(name=t["name"], description=t["description"])
            )

    say("merge: works, identifiers, references, topics")

    def works() -> Iterator[dict[str, Any]]:
        for w in rows("works"):
            w.pop("first_file")
            w.pop("first_record")
            yield w

    new_works, updated_works = sync.by_id("works", works())
    for name in ("work_identifiers", "work_references", "work_topics", "authorship_institutions"):
        conn.execute(delete(table(name)))
    write_work_rows(writer, rows, topic_of)
    embeddings = table("work_embeddings")
    vectors = [{**v, "vector": bytes(v["vector"])} for v in rows("work_embeddings")]
    for chunk in in_chunks({v["work_id"] for v in vectors}):
        conn.execute(delete(embeddings).where(embeddings.c.work_id.in_(chunk)))
    writer.many("work_embeddings", vectors)

    say("merge: authorships, names, institutions")
    authorships = table("authorships")
    stored_ids = {
        authorship_id(w, p): a
        for a, w, p in conn.execute(
            select(authorships.c.id, authorships.c.work_id, authorships.c.position)
        )
    }
    next_id = max(stored_ids.values(), default=0) + 1
    listed: list[dict[str, Any]] = []
    for a in sorted(rows("authorships"), key=lambda a: (a["work_id"], a["position"])):
        key = authorship_id(a["work_id"], a["position"])
        if key not in stored_ids:
            stored_ids[key] = next_id
            next_id += 1
        a["institution_ids"] = a.pop("institution_ids") or []
        listed.append({"id": stored_ids[key], **a})
    plain = [{k: v for k, v in a.items() if k != "institution_ids"} for a in listed]
    new_authorships, _ = sync.by_id("authorships", plain)
    del plain
    writer.many(
        "authorship_institutions",
        (
            {"authorship_id": a["id"], "institution_id": i}
            for a in listed
            for i in a["institution_ids"]
        ),
    )
    conn.execute(delete(table("authorship_names")))
    writer.many("authorship_names", (_name_row(a) for a in listed))
    del listed

    say("merge: author records (ids kept by the rebuild's rule), links, profiles")
    links = table("authorship_links")
    records = table("author_records")
    old_links = dict(conn.execute(select(links.c.authorship_id, links.c.record_id)).all())
    old_ids = set(conn.execute(select(records.c.id)).scalars())
    members: dict[int, list[int]] = defaultdict(list)
    label_of: dict[int, int] = {}
    for c in rows("author_clusters"):
        a = stored_ids[c["authorship_id"]]
        members[c["cluster"]].append(a)
        label_of[a] = c["cluster"]
    claims = ownership.verified_claims(conn)
    assigned, taken, claim_label = keep_ids(members, label_of, old_links, old_ids, claims)
    values = {r.pop("cluster"): r for r in rows("author_records")}
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    insert_labels: list[int] = []
    for label in sorted(members, key=lambda lab: min(members[lab])):
        row = {**values[label], "name_variants": values[label]["name_variants"] or []}
        if label in assigned:
            updates.append({"id": assigned[label], **row})
        else:
            inserts.append({**row, "created_at": now, "updated_at": now})
            insert_labels.append(label)
    sync.update(records, updates)
    for start in range(0, len(inserts), 5_000):
        ids = (
            conn.execute(
                insert(records).returning(records.c.id, sort_by_parameter_order=True),
                inserts[start : start + 5_000],
            )
            .scalars()
            .all()
        )
        assigned.update(zip(insert_labels[start : start + 5_000], ids, strict=True))
    # the derived rows go before records retire (they would cascade), and come back below
    for name in ("record_topics", "collaborations", "trust_evidence", "profiles"):
        conn.execute(delete(table(name)))
    retired = old_ids - taken
    retire(
        conn,
        retirements(members, assigned, old_links, retired),
        retired,
        taken,
        {c: assigned[label] for c, label in claim_label.items()},
        now,
    )
    conn.execute(delete(links))
    write_records_of(writer, rows, assigned, stored_ids, topic_of, now)
    owned: set[int] = set()
    for owning, column in ownership.OWNED:
        held = owning.c[column]
        owned |= set(conn.execute(select(held).where(held.is_not(None))).scalars())
    refresh_profiles(conn, owned, with_collaborators=True)

    say("merge: outcomes of the new files' records, problems, the rebuild")
    write_outcomes(writer, rows, imports, after=covered)
    touched = len(members) + len(retired)
    writer.one("rebuilds", rebuild_row(conn, imports, len(label_of), touched, now))
    index = text_index(conn)
    index.rebuild(conn)  # works may have new titles and abstracts, records new names
    if conn.dialect.name == "postgresql":
        move_sequences(conn, list(Base.metadata.sorted_tables))
    generation.advance(conn, "works", "records", "vectors")
    return MergeSummary(
        len(files) - covered,
        new_works,
        updated_works,
        new_authorships,
        len(members),
        len(taken),
        len(inserts),
        len(retired),
        len(vectors),
    )
