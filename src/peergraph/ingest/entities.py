"""How a venue or an institution named by a record becomes a row: the rule the store's
batch writer (ingest/writer.py) runs against the database, and the Spark pipeline
(pipeline/entities.py) runs against an in-memory table, in reading order.

- A venue is found by its OpenAlex id, else its ISSN-L, else (a name-only stub) by its
  name key: the oldest venue of that name, whatever ids it has. Two journals may share a
  name, so an id-bearing venue is never found by its name.
- An institution is found by its OpenAlex id, then its ROR id; one with neither by its
  exact name among the institutions with neither.
- What is found is completed: a full entity record (an OpenAlex sources or institutions
  file) overwrites, a stub nested in a work only fills empty columns. A ROR id another
  row already holds is not copied.
- Within one import run, what a stub's keys found before is reused without a lookup
  (the run's cache); a venue's name key then also finds it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from peergraph.ingest.normalize import name_key
from peergraph.ingest.records import InstitutionRecord, SourceRecord
from peergraph.links import safe_link

Key = tuple[str, str]  # (kind, value): ("openalex", "S123"), ("issn", …), ("ror", …), ("name", …)


def source_row(record: SourceRecord) -> dict[str, Any]:
    return {
        "openalex_id": record.openalex_id,
        "issn_l": record.issn_l,
        "issns": record.issns,
        "name": record.name,
        "short_name": record.short_name,
        "name_key": name_key(record.name),
        "type": record.type,
        "publisher": record.publisher,
        "homepage_url": safe_link(record.homepage_url),
    }


def source_keys(record: SourceRecord) -> list[Key]:
    if record.openalex_id:
        return [("openalex", record.openalex_id)]
    if record.issn_l:
        return [("issn", record.issn_l)]
    return [("name", name_key(record.name))]


def institution_row(record: InstitutionRecord) -> dict[str, Any]:
    return {
        "openalex_id": record.openalex_id,
        "ror": record.ror,
        "name": record.name,
        "country_code": record.country_code,
        "type": record.type,
        "domains": record.domains,
        "homepage_url": safe_link(record.homepage_url),
    }


def institution_keys(record: InstitutionRecord) -> list[Key]:
    keys = []
    if record.openalex_id:
        keys.append(("openalex", record.openalex_id))
    if record.ror:
        keys.append(("ror", record.ror))
    if not keys:
        keys.append(("name", name_key(record.name)))
    return keys


class Rows(Protocol):
    """A table of venues or institutions: the database's, or the pipeline's in memory."""

    def find(self, key: Key, record: Any) -> Mapping[str, Any] | None:
        """The oldest row the key finds (``record``: the record being looked up)."""

    def insert(self, row: dict[str, Any]) -> int: ...

    def update(self, row_id: int, changes: dict[str, Any]) -> None: ...

    def ror_holder(self, ror: str) -> int | None: ...


def fill_or_overwrite(found: Any, row: dict[str, Any], *, overwrite: bool) -> dict[str, Any]:
    """Full entity records overwrite what stubs left; stubs only fill empty columns."""
    changes = {}
    for column, value in row.items():
        if value is None or found[column] == value:
            continue
        if overwrite or found[column] is None:
            changes[column] = value
    return changes


@dataclass
class Resolver:
    """The rule for one kind of entity within one import run (its cache)."""

    kind: str  # source | institution
    rows: Rows
    cache: dict[Key, int] = field(default_factory=dict)

    def resolve(self, record: SourceRecord | InstitutionRecord) -> tuple[int, bool]:
        """The row id for ``record``, and whether it was created."""
        source = self.kind == "source"
        keys = source_keys(record) if source else institution_keys(record)  # type: ignore[arg-type]
        if not record.full:
            for key in keys:
                if key in self.cache:
                    return self.cache[key], False
        row = source_row(record) if source else institution_row(record)  # type: ignore[arg-type]
        found = None
        for key in keys:
            found = self.rows.find(key, record)
            if found:
                break
        if found is None:
            row_id, created = self.rows.insert(row), True
        else:
            row_id, created = int(found["id"]), False
            changes = fill_or_overwrite(found, row, overwrite=record.full)
            ror = None if source else changes.get("ror")
            if ror and ror != found["ror"] and self.rows.ror_holder(ror) is not None:
                changes.pop("ror")  # another row owns this ROR id; keep both
            if changes:
                self.rows.update(row_id, changes)
        for key in keys:
            self.cache[key] = row_id
        if source:
            self.cache.setdefault(("name", name_key(record.name)), row_id)
        return row_id, created


COLUMNS = {  # the column each kind of key looks up
    "source": {"openalex": "openalex_id", "issn": "issn_l", "name": "name_key"},
    "institution": {"openalex": "openalex_id", "ror": "ror", "name": "name"},
}


class MemoryRows:
    """A venues or institutions table in memory, with the database's lookups: the
    pipeline resolves its entities on one with the writer's rule."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.table: list[dict[str, Any]] = []  # row id − 1 → row
        self.index: dict[str, dict[Any, set[int]]] = defaultdict(lambda: defaultdict(set))

    def find(self, key: Key, record: Any) -> Mapping[str, Any] | None:
        kind, value = key
        column = COLUMNS[self.kind][kind]
        if self.kind == "institution" and kind == "name":
            value = record.name  # the exact name, among rows with no ids
            ids = [
                i
                for i in self.index[column].get(value, ())
                if self.table[i - 1]["openalex_id"] is None and self.table[i - 1]["ror"] is None
            ]
        else:
            ids = list(self.index[column].get(value, ()))
        return self.table[min(ids) - 1] if ids else None

    def insert(self, row: dict[str, Any]) -> int:
        row_id = len(self.table) + 1
        self.table.append({"id": row_id, **row})
        self._index(row_id, row)
        return row_id

    def update(self, row_id: int, changes: dict[str, Any]) -> None:
        current = self.table[row_id - 1]
        for column in changes:
            if column in self.index and current[column] is not None:
                self.index[column][current[column]].discard(row_id)
        current.update(changes)
        self._index(row_id, changes)

    def ror_holder(self, ror: str) -> int | None:
        ids = self.index["ror"].get(ror)
        return min(ids) if ids else None

    def _index(self, row_id: int, row: dict[str, Any]) -> None:
        for column in COLUMNS[self.kind].values():
            if column in row and row[column] is not None:
                self.index[column][row[column]].add(row_id)
