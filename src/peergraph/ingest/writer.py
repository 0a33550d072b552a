"""Writes one batch of parsed records into the store, de-duplicating works.

Works match an existing (or earlier-in-batch) work by, in order: DOI, arXiv id, OpenAlex
id, PMID; then by the normalised title + year + first author's family name, unless the
two carry different identifiers of the same scheme (two DOIs = two works). A merge keeps
every identifier and provenance row and only fills fields the stored work lacks, so
re-importing anything is a no-op. All writes of a batch share the caller's transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select, update

from peergraph.db.base import utcnow
from peergraph.db.engine import insert_ignore
from peergraph.ingest.dedupe import (
    WorkMatcher,
    author_list_index,
    authorship_fills,
    authorship_row,
    fill_fields,
    work_fields,
    work_key,
)
from peergraph.ingest.entities import COLUMNS, Resolver, fill_or_overwrite
from peergraph.ingest.models import ImportIssue, Provenance
from peergraph.ingest.records import (
    AuthorRecord,
    InstitutionRecord,
    Parsed,
    RecordError,
    Repeat,
    SourceRecord,
    TopicRecord,
    WorkRecord,
)
from peergraph.search.text import text_index
from peergraph.works.models import (
    Authorship,
    AuthorshipInstitution,
    Institution,
    Source,
    Topic,
    UpstreamAuthor,
    Work,
    WorkIdentifier,
    WorkReference,
    WorkTopic,
)

FILLABLE = (
    "abstract",
    "year",
    "publication_date",
    "type",
    "language",
    "source_id",
    "volume",
    "issue",
    "pages",
    "url",
    "cited_by_count",
    "cited_by_source",
    "cited_by_date",
)
CHUNK = 500  # rows per IN (...) lookup

works_t: Table = Work.__table__  # type: ignore[assignment]
ids_t: Table = WorkIdentifier.__table__  # type: ignore[assignment]
authorships_t: Table = Authorship.__table__  # type: ignore[assignment]
auth_inst_t: Table = AuthorshipInstitution.__table__  # type: ignore[assignment]
sources_t: Table = Source.__table__  # type: ignore[assignment]
institutions_t: Table = Institution.__table__  # type: ignore[assignment]
topics_t: Table = Topic.__table__  # type: ignore[assignment]
work_topics_t: Table = WorkTopic.__table__  # type: ignore[assignment]
refs_t: Table = WorkReference.__table__  # type: ignore[assignment]
upstream_t: Table = UpstreamAuthor.__table__  # type: ignore[assignment]
provenance_t: Table = Provenance.__table__  # type: ignore[assignment]
issues_t: Table = ImportIssue.__table__  # type: ignore[assignment]


@dataclass
class BatchResult:
    imported: int = 0
    merged: int = 0  # repeats of a record this import already stored included
    skipped: int = 0
    skipped_by_reason: Counter[str] = field(default_factory=Counter)
    fatal: RecordError | None = None


@dataclass
class _Pending:
    """A work that will be inserted at the end of the batch, with the records merged in."""

    record: WorkRecord
    key: str
    extra: list[WorkRecord] = field(default_factory=list)
    claimed: list[tuple[str, str]] = field(default_factory=list)  # identifiers to write
    id: int | None = None


@dataclass
class _Existing:
    id: int
    row: dict[str, Any]
    stored_ids: list[tuple[str, str]]  # its identifiers, in the order they were claimed
    merged: list[WorkRecord] = field(default_factory=list)
    claimed: list[tuple[str, str]] = field(default_factory=list)  # new identifiers to write


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class BatchWriter:
    """Holds the entity caches of one import run; :meth:`write` handles one batch."""

    def __init__(self, import_id: int) -> None:
        self.import_id = import_id
        self._source_rows = _SqlRows(sources_t, "source")
        self._institution_rows = _SqlRows(institutions_t, "institution")
        self._sources = Resolver("source", self._source_rows)
        self._institutions = Resolver("institution", self._institution_rows)
        self._topics: dict[tuple[str, str], int] = {}

    def reset_caches(self) -> None:
        self._sources.cache.clear()
        self._institutions.cache.clear()
        self._topics.clear()

    # -- entry point -------------------------------------------------------------------

    def write(self, conn: Connection, batch: list[Parsed]) -> BatchResult:
        result = BatchResult()
        works: list[Parsed] = []
        provenance: list[dict[str, Any]] = []
        issues: list[dict[str, Any]] = []
        for parsed in batch:
            item = parsed.item
            if isinstance(item, Repeat):
                result.merged += 1
            elif isinstance(item, RecordError):
                result.skipped += 1
                result.skipped_by_reason[item.reason] += 1
                issues.append(self._issue(parsed, item.reason, item.message, item.line))
                if item.fatal:
                    result.fatal = item
            elif isinstance(item, WorkRecord):
                works.append(parsed)
                issues.extend(
                    self._issue(parsed, reason, message, parsed.line, skipped=False)
                    for reason, message in item.warnings
                )
            else:
                entity_id, created = self._write_entity(conn, item)
                result.imported += created
                result.merged += not created
                provenance.append(self._provenance(parsed, item.kind, entity_id, created))
        if works:
            provenance.extend(self._write_works(conn, works, result))
        if provenance:
            conn.execute(insert_ignore(conn, provenance_t), provenance)
        if issues:
            conn.execute(insert(issues_t), issues)
        return result

    def _issue(
        self, parsed: Parsed, reason: str, message: str, line: int | None, *, skipped: bool = True
    ) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "record_number": parsed.number,
            "line": line,
            "reason": reason[:40],
            "message": message[:2000],
            "skipped": skipped,
        }

    def _provenance(
        self, parsed: Parsed, kind: str, entity_id: int, created: bool
    ) -> dict[str, Any]:
        item = parsed.item
        key = getattr(item, "record_key", None) or getattr(item, "openalex_id", None)
        if key is None and isinstance(item, TopicRecord):
            key = item.external_id
        return {
            "import_id": self.import_id,
            "record_number": parsed.number,
            "line": parsed.line,
            "record_key": key,
            "entity_type": kind,
            "entity_id": entity_id,
            "action": "created" if created else "merged",
            "record_digest": parsed.digest,
        }

    # -- works -------------------------------------------------------------------------

    def _write_works(
        self, conn: Connection, batch: list[Parsed], result: BatchResult
    ) -> list[dict[str, Any]]:
        records: list[WorkRecord] = [p.item for p in batch]  # type: ignore[misc]
        owners = self._lookup_identifiers(conn, records)
        keys = [work_key(r) for r in records]
        candidate_ids = self._lookup_keys(conn, [k for k in keys if k])
        existing = self._load_existing(conn, set(owners.values()) | candidate_ids)

        # the stored works this batch could match, oldest first, then the batch's own
        matcher = WorkMatcher()
        targets: list[_Pending | _Existing] = []
        for work_id in sorted(existing):
            stored = existing[work_id]
            matcher.known(stored.stored_ids, stored.row["dedupe_key"] or None)
            targets.append(stored)
        pending: list[_Pending] = []
        provenance: list[tuple[Parsed, _Pending | _Existing, bool]] = []
        for parsed, record, key in zip(batch, records, keys, strict=True):
            slot = matcher.match(record.identifiers, key)
            if slot is None:
                slot, claimed = matcher.add(record.identifiers, key)
                new = _Pending(record, key or "", claimed=claimed)
                targets.append(new)
                pending.append(new)
                provenance.append((parsed, new, True))
                result.imported += 1
                continue
            target = targets[slot]
            target.claimed.extend(matcher.merge(slot, record.identifiers))
            result.merged += 1
            provenance.append((parsed, target, False))
            if isinstance(target, _Pending):
                target.extra.append(record)
            else:
                target.merged.append(record)

        self._insert_pending(conn, pending)
        self._apply_merges(conn, [e for e in existing.values() if e.merged])
        rows = []
        for parsed, target, created in provenance:
            if target.id is None:  # flushed above: every target has its id
                raise RuntimeError("provenance for a work that was not written")
            rows.append(self._provenance(parsed, "work", target.id, created))
        return rows

    def _lookup_identifiers(
        self, conn: Connection, records: list[WorkRecord]
    ) -> dict[tuple[str, str], int]:
        wanted: dict[str, set[str]] = {}
        for record in records:
            for scheme, value in record.identifiers.items():
                wanted.setdefault(scheme, set()).add(value)
        owners: dict[tuple[str, str], int] = {}
        for scheme, values in wanted.items():
            for chunk in _chunks(sorted(values)):
                rows = conn.execute(
                    select(ids_t.c.value, ids_t.c.work_id).where(
                        ids_t.c.scheme == scheme, ids_t.c.value.in_(chunk)
                    )
                )
                owners.update({(scheme, value): work_id for value, work_id in rows})
        return owners

    def _lookup_keys(self, conn: Connection, keys: list[str]) -> set[int]:
        found: set[int] = set()
        for chunk in _chunks(sorted(set(keys))):
            found.update(
                conn.execute(select(works_t.c.id).where(works_t.c.dedupe_key.in_(chunk))).scalars()
            )
        return found

    def _load_existing(self, conn: Connection, ids: set[int]) -> dict[int, _Existing]:
        existing: dict[int, _Existing] = {}
        ordered = sorted(ids)
        for chunk in _chunks(ordered):
            for row in conn.execute(select(works_t).where(works_t.c.id.in_(chunk))).mappings():
                existing[row["id"]] = _Existing(row["id"], dict(row), [])
            for work_id, scheme, value in conn.execute(
                select(ids_t.c.work_id, ids_t.c.scheme, ids_t.c.value)
                .where(ids_t.c.work_id.in_(chunk))
                .order_by(ids_t.c.id)
            ):
                existing[work_id].stored_ids.append((scheme, value))
        return existing

    def _insert_pending(self, conn: Connection, pending: list[_Pending]) -> None:
        if not pending:
            return
        now = utcnow()
        rows = []
        for item in pending:
            merged = fill_fields(work_fields(item.record), item.extra)
            merged["source_id"] = self._source_for(conn, item.record, item.extra)
            merged.update(dedupe_key=item.key, created_at=now, updated_at=now)
            rows.append(merged)
        inserted = conn.execute(
            insert(works_t).returning(works_t.c.id, sort_by_parameter_order=True), rows
        )
        new_ids = [work_id for (work_id,) in inserted.all()]
        for item, work_id in zip(pending, new_ids, strict=True):
            item.id = work_id
        text_index(conn).add_works(conn, min(new_ids), max(new_ids))

        identifier_rows = [
            {"work_id": item.id, "scheme": scheme, "value": value}
            for item in pending
            for scheme, value in item.claimed
        ]
        if identifier_rows:
            conn.execute(insert(ids_t), identifier_rows)
        inserted_ids = [cast(int, item.id) for item in pending]
        self._settle_authorships(
            conn, [(cast(int, item.id), [item.record, *item.extra], False) for item in pending]
        )
        self._insert_links(
            conn,
            [
                (i, r)
                for i, item in zip(inserted_ids, pending, strict=True)
                for r in (item.record, *item.extra)
            ],
        )

    def _apply_merges(self, conn: Connection, targets: list[_Existing]) -> None:
        if not targets:
            return
        now = utcnow()
        identifier_rows: list[dict[str, Any]] = []
        for target in targets:
            row = target.row
            fills = {k: v for k, v in fill_fields({}, target.merged).items() if row.get(k) is None}
            if row.get("source_id") is None and (
                source_id := self._source_for(conn, None, target.merged)
            ):
                fills["source_id"] = source_id
            fills = {k: v for k, v in fills.items() if v is not None and k in FILLABLE}
            if fills:
                fills["updated_at"] = now
                conn.execute(update(works_t).where(works_t.c.id == target.id).values(**fills))
            identifier_rows.extend(
                {"work_id": target.id, "scheme": scheme, "value": value}
                for scheme, value in target.claimed
            )
        if identifier_rows:
            conn.execute(insert(ids_t), identifier_rows)
        with_authors: set[int] = set()
        for chunk in _chunks(sorted(t.id for t in targets)):
            with_authors.update(
                conn.execute(
                    select(authorships_t.c.work_id)
                    .distinct()
                    .where(authorships_t.c.work_id.in_(chunk))
                ).scalars()
            )
        self._settle_authorships(conn, [(t.id, t.merged, t.id in with_authors) for t in targets])
        self._insert_links(conn, [(t.id, r) for t in targets for r in t.merged])

    def _settle_authorships(
        self, conn: Connection, works: list[tuple[int, list[WorkRecord], bool]]
    ) -> None:
        """Authors for works written in this batch: ``(work id, its new records in reading
        order, whether it has stored authors)``. A work without authors takes the list of
        its first record that has one; the records after that fill gaps (ingest/dedupe.py)."""
        lists: list[tuple[int, list[Any]]] = []
        fillers: list[tuple[int, list[WorkRecord]]] = []
        for work_id, records, has_authors in works:
            start = 0
            if not has_authors:
                index = author_list_index(records)
                if index is None:
                    continue
                lists.append((work_id, records[index].authorships))
                start = index + 1
            if records[start:]:
                fillers.append((work_id, records[start:]))
        self._insert_authorships(conn, lists)
        self._fill_authorships(conn, fillers)

    def _fill_authorships(
        self, conn: Connection, works: list[tuple[int, list[WorkRecord]]]
    ) -> None:
        """Fill ORCIDs, upstream ids and affiliations on stored authorships from copies
        whose author at the same position has the same family name, and add institutions."""
        by_work: dict[int, list[dict[str, Any]]] = {work_id: [] for work_id, _ in works}
        for chunk in _chunks(sorted(by_work)):
            for mapping in conn.execute(
                select(authorships_t).where(authorships_t.c.work_id.in_(chunk))
            ).mappings():
                by_work[mapping["work_id"]].append(dict(mapping))
        for work_id, records in works:
            stored = sorted(by_work[work_id], key=lambda r: r["position"])
            for record in records:
                for row, authorship in zip(stored, record.authorships, strict=False):
                    fills = authorship_fills(row, authorship)
                    if fills is None:
                        continue
                    if fills:
                        row.update(fills)
                        conn.execute(
                            update(authorships_t)
                            .where(authorships_t.c.id == row["id"])
                            .values(**fills)
                        )
                    if authorship.institutions:
                        links = [
                            {
                                "authorship_id": row["id"],
                                "institution_id": self._institution_id(conn, inst),
                            }
                            for inst in authorship.institutions
                        ]
                        conn.execute(insert_ignore(conn, auth_inst_t), links)

    def _insert_authorships(self, conn: Connection, works: list[tuple[int, list[Any]]]) -> None:
        if not works:
            return
        plain: list[dict[str, Any]] = []
        with_institutions: list[dict[str, Any]] = []
        institution_lists: list[list[InstitutionRecord]] = []
        for work_id, authorships in works:
            for position, a in enumerate(authorships):
                row = {"work_id": work_id, "position": position, **authorship_row(a)}
                if a.institutions:
                    with_institutions.append(row)
                    institution_lists.append(a.institutions)
                else:
                    plain.append(row)
        if plain:
            conn.execute(insert(authorships_t), plain)
        if with_institutions:
            inserted = conn.execute(
                insert(authorships_t).returning(authorships_t.c.id, sort_by_parameter_order=True),
                with_institutions,
            ).all()
            links = {
                (authorship_id, self._institution_id(conn, inst))
                for (authorship_id,), institutions in zip(inserted, institution_lists, strict=True)
                for inst in institutions
            }
            conn.execute(
                insert_ignore(conn, auth_inst_t),
                [{"authorship_id": a, "institution_id": i} for a, i in sorted(links)],
            )

    def _insert_links(self, conn: Connection, pairs: list[tuple[int, WorkRecord]]) -> None:
        topic_rows: dict[tuple[int, int], dict[str, Any]] = {}
        ref_rows: dict[tuple[int, str, str], dict[str, Any]] = {}
        for work_id, record in pairs:
            for link in record.topics:
                topic_id = self._topic_id(conn, link.topic)
                topic_rows.setdefault(
                    (work_id, topic_id),
                    {
                        "work_id": work_id,
                        "topic_id": topic_id,
                        "score": link.score,
                        "is_primary": link.is_primary,
                    },
                )
            for scheme, value in record.references:
                ref_rows.setdefault(
                    (work_id, scheme, value),
                    {"citing_work_id": work_id, "target_scheme": scheme, "target_value": value},
                )
        if topic_rows:
            conn.execute(insert_ignore(conn, work_topics_t), list(topic_rows.values()))
        if ref_rows:
            conn.execute(insert_ignore(conn, refs_t), list(ref_rows.values()))

    # -- entities ----------------------------------------------------------------------

    def _write_entity(self, conn: Connection, record: Any) -> tuple[int, bool]:
        if isinstance(record, InstitutionRecord):
            return self._upsert_institution(conn, record)
        if isinstance(record, SourceRecord):
            return self._upsert_source(conn, record)
        if isinstance(record, TopicRecord):
            return self._upsert_topic(conn, record)
        if isinstance(record, AuthorRecord):
            return self._upsert_upstream_author(conn, record)
        raise TypeError(f"unexpected record {type(record).__name__}")

    def _source_for(
        self, conn: Connection, record: WorkRecord | None, extra: list[WorkRecord]
    ) -> int | None:
        for candidate in (record, *extra):
            if candidate is not None and candidate.source is not None:
                return self._upsert_source(conn, candidate.source)[0]
        return None

    def _upsert_source(self, conn: Connection, record: SourceRecord) -> tuple[int, bool]:
        # the rule: ingest/entities.py; an id-bearing source is found by its id only
        self._source_rows.conn = conn
        return self._sources.resolve(record)

    def _institution_id(self, conn: Connection, record: InstitutionRecord) -> int:
        return self._upsert_institution(conn, record)[0]

    def _upsert_institution(self, conn: Connection, record: InstitutionRecord) -> tuple[int, bool]:
        self._institution_rows.conn = conn
        return self._institutions.resolve(record)

    def _topic_id(self, conn: Connection, record: TopicRecord) -> int:
        return self._upsert_topic(conn, record)[0]

    def _upsert_topic(self, conn: Connection, record: TopicRecord) -> tuple[int, bool]:
        key = (record.taxonomy, record.external_id)
        if not record.full and key in self._topics:
            return self._topics[key], False
        row = {
            "taxonomy": record.taxonomy,
            "external_id": record.external_id,
            "name": record.name,
            "subfield": record.subfield,
            "field": record.field,
            "domain": record.domain,
            "level": record.level,
            "description": record.description,
        }
        found = (
            conn.execute(
                select(topics_t).where(
                    topics_t.c.taxonomy == key[0], topics_t.c.external_id == key[1]
                )
            )
            .mappings()
            .first()
        )
        if found is None:
            topic_id = conn.execute(
                insert(topics_t).values(**row).returning(topics_t.c.id)
            ).scalar_one()
            created = True
        else:
            topic_id = found["id"]
            changes = fill_or_overwrite(found, row, overwrite=record.full)
            if changes:
                conn.execute(update(topics_t).where(topics_t.c.id == topic_id).values(**changes))
            created = False
        self._topics[key] = topic_id
        return topic_id, created

    def _upsert_upstream_author(self, conn: Connection, record: AuthorRecord) -> tuple[int, bool]:
        for institution in record.institutions:
            self._upsert_institution(conn, institution)
        row = {
            "openalex_id": record.openalex_id,
            "orcid": record.orcid,
            "display_name": record.display_name,
            "name_alternatives": record.name_alternatives or None,
            "institution_ids": record.institution_ids or None,
            "works_count": record.works_count,
        }
        found = (
            conn.execute(select(upstream_t).where(upstream_t.c.openalex_id == record.openalex_id))
            .mappings()
            .first()
        )
        if found is None:
            return conn.execute(
                insert(upstream_t).values(**row).returning(upstream_t.c.id)
            ).scalar_one(), True
        changes = fill_or_overwrite(found, row, overwrite=True)
        if changes:
            conn.execute(update(upstream_t).where(upstream_t.c.id == found["id"]).values(**changes))
        return found["id"], False


class _SqlRows:
    """The venues or institutions table, as ``entities.Resolver`` looks rows up."""

    def __init__(self, table: Table, kind: str) -> None:
        self.table = table
        self.kind = kind
        self.conn: Connection | None = None

    def _conn(self) -> Connection:
        if self.conn is None:
            raise RuntimeError("no connection for the entity lookups")
        return self.conn

    def find(self, key: tuple[str, str], record: Any) -> Mapping[str, Any] | None:
        kind, value = key
        c = self.table.c
        columns = COLUMNS[self.kind]
        if self.kind == "institution" and kind == "name":
            where = [c.name == record.name, c.openalex_id.is_(None), c.ror.is_(None)]
        else:
            where = [c[columns[kind]] == value]
        query = select(self.table).where(*where).order_by(c.id).limit(1)
        found = self._conn().execute(query).mappings().first()
        return None if found is None else dict(found)

    def insert(self, row: dict[str, Any]) -> int:
        statement = insert(self.table).values(**row).returning(self.table.c.id)
        return int(self._conn().execute(statement).scalar_one())

    def update(self, row_id: int, changes: dict[str, Any]) -> None:
        self._conn().execute(update(self.table).where(self.table.c.id == row_id).values(**changes))

    def ror_holder(self, ror: str) -> int | None:
        found = self._conn().execute(select(self.table.c.id).where(self.table.c.ror == ror)).first()
        return None if found is None else int(found[0])
