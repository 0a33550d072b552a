"""The rule that decides whether a work record is a new work or a copy of one already read.

One implementation serves both paths: the store's batch writer (ingest/writer.py) primes a
:class:`WorkMatcher` with the stored works a batch could match, and the Spark pipeline
(pipeline/stages.py) runs one matcher per group of records that share an identifier or a
key. Records are offered in reading order (file by file, record by record), and the
outcome does not depend on where batches begin and end.

A record matches, in this order:

1. the work that claimed one of its strong identifiers (DOI, then arXiv id, OpenAlex id,
   PMID) first;
2. otherwise the earliest work with the same title + year + first-author key whose
   identifiers do not conflict with the record's (two DOIs mean two works).

A work claims each identifier that no earlier work claimed, from its first record and
from every record merged into it; its identifiers for the conflict test are the first
value of each scheme it claimed.

A work's authors come from its first record that lists any; every later record then fills
the gaps of the author at the same position with the same family name: ORCID, upstream
id, affiliations, and its institutions are added (:func:`authorship_fills`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from peergraph.ingest.normalize import dedupe_key, name_key, title_key
from peergraph.ingest.records import AuthorshipRecord, WorkRecord

STRONG_SCHEMES = ("doi", "arxiv", "openalex", "pmid")


def work_key(record: WorkRecord) -> str | None:
    """The title+year+first-author key, or None where it would merge unrelated works:
    no year (annual reports keep their title from year to year) or a short generic title
    like "Preface" with no author."""
    if record.year is None:
        return None
    family = record.authorships[0].family if record.authorships else None
    key_title = title_key(record.title)
    if not key_title or (not name_key(family) and len(key_title) < 30):
        return None
    return dedupe_key(record.title, record.year, family)


def conflicts(stored: Mapping[str, str], incoming: Mapping[str, str]) -> bool:
    """Whether two works carry different identifiers of one strong scheme."""
    return any(
        scheme in stored and scheme in incoming and stored[scheme] != incoming[scheme]
        for scheme in STRONG_SCHEMES
    )


def work_fields(record: WorkRecord) -> dict[str, Any]:
    """The work columns a record gives."""
    return {
        "title": record.title,
        "abstract": record.abstract,
        "year": record.year,
        "publication_date": record.publication_date,
        "type": record.type,
        "language": record.language,
        "volume": record.volume,
        "issue": record.issue,
        "pages": record.pages,
        "url": record.url,
        "cited_by_count": record.cited_by_count,
        "cited_by_source": "OpenAlex" if record.cited_by_count is not None else None,
        "cited_by_date": record.counts_date if record.cited_by_count is not None else None,
    }


def fill_fields(row: dict[str, Any], others: list[WorkRecord]) -> dict[str, Any]:
    """Fill the empty fields of ``row`` from ``others`` in order (first value wins)."""
    for other in others:
        for column, value in work_fields(other).items():
            if row.get(column) is None and value is not None:
                row[column] = value
    return row


def author_list_index(records: list[WorkRecord]) -> int | None:
    """Which of a work's records (in reading order) gives its author list: the first that
    has one. The records after it only fill gaps."""
    for index, record in enumerate(records):
        if record.authorships:
            return index
    return None


def authorship_fills(
    stored: Mapping[str, Any], incoming: AuthorshipRecord
) -> dict[str, Any] | None:
    """What a copy's author fills in the stored author at the same position: None when the
    family names differ (a different person, or the list is in another order), else the
    empty fields it can fill (ORCID, upstream id, affiliations; possibly none)."""
    if name_key(stored["family"]) != name_key(incoming.family):
        return None
    fills: dict[str, Any] = {}
    if stored["orcid"] is None and incoming.orcid:
        fills["orcid"] = incoming.orcid
    if stored["upstream_author_id"] is None and incoming.upstream_author_id:
        fills["upstream_author_id"] = incoming.upstream_author_id
    if not stored["raw_affiliations"] and incoming.raw_affiliations:
        fills["raw_affiliations"] = incoming.raw_affiliations
    return fills


AUTHORSHIP_COLUMNS = (
    "raw_name",
    "given",
    "family",
    "orcid",
    "upstream_author_id",
    "raw_affiliations",
    "is_corresponding",
    "order_guessed",
)


def authorship_row(authorship: AuthorshipRecord) -> dict[str, Any]:
    """The columns of an ``authorships`` row that a record gives."""
    return {
        "raw_name": authorship.raw_name,
        "given": authorship.given,
        "family": authorship.family,
        "orcid": authorship.orcid,
        "upstream_author_id": authorship.upstream_author_id,
        "raw_affiliations": authorship.raw_affiliations or None,
        "is_corresponding": authorship.is_corresponding,
        "order_guessed": authorship.order_guessed,
    }


def merged_authorships(records: list[WorkRecord]) -> list[dict[str, Any]]:
    """A work's authorship rows from all its records in reading order, as the writer
    leaves them: the first author list, its gaps filled by the later records. Each row
    also lists, under ``institutions``, the institution records linked to it."""
    index = author_list_index(records)
    if index is None:
        return []
    rows = [
        {**authorship_row(a), "institutions": list(a.institutions)}
        for a in records[index].authorships
    ]
    for record in records[index + 1 :]:
        for row, authorship in zip(rows, record.authorships, strict=False):
            fills = authorship_fills(row, authorship)
            if fills is not None:
                row.update(fills)
                row["institutions"].extend(authorship.institutions)
    return rows


class WorkMatcher:
    """Works as numbered slots (0, 1, … in creation order), the identifiers each claimed,
    and the works under each key."""

    def __init__(self) -> None:
        self.owners: dict[tuple[str, str], int] = {}
        self.by_key: dict[str, list[int]] = {}
        self.identifiers: list[dict[str, str]] = []

    def known(self, identifiers: Iterable[tuple[str, str]], key: str | None) -> int:
        """Add a work read before (a stored one): its claimed identifiers in claim order."""
        slot = len(self.identifiers)
        self.identifiers.append({})
        for scheme, value in identifiers:
            self.owners.setdefault((scheme, value), slot)
            self.identifiers[slot].setdefault(scheme, value)
        if key:
            self.by_key.setdefault(key, []).append(slot)
        return slot

    def match(self, identifiers: Mapping[str, str], key: str | None) -> int | None:
        """The work a record with these identifiers and key is a copy of, or None when it
        is a new work."""
        for scheme in STRONG_SCHEMES:
            value = identifiers.get(scheme)
            if value is not None and (scheme, value) in self.owners:
                return self.owners[(scheme, value)]
        if key is not None:
            for slot in self.by_key.get(key, ()):
                if not conflicts(self.identifiers[slot], identifiers):
                    return slot
        return None

    def add(
        self, identifiers: Mapping[str, str], key: str | None
    ) -> tuple[int, list[tuple[str, str]]]:
        """A new work from a record: its slot and the identifiers it claimed."""
        slot = self.known((), key)
        return slot, self.merge(slot, identifiers)

    def merge(self, slot: int, identifiers: Mapping[str, str]) -> list[tuple[str, str]]:
        """Merge a record into work ``slot``: the identifiers it newly claims."""
        claimed = []
        for scheme, value in identifiers.items():
            if (scheme, value) not in self.owners:
                self.owners[(scheme, value)] = slot
                self.identifiers[slot].setdefault(scheme, value)
                claimed.append((scheme, value))
        return claimed

    def offer(
        self, identifiers: Mapping[str, str], key: str | None
    ) -> tuple[int, bool, list[tuple[str, str]]]:
        """Match a record or make it a new work: (slot, created, identifiers claimed)."""
        slot = self.match(identifiers, key)
        if slot is None:
            slot, claimed = self.add(identifiers, key)
            return slot, True, claimed
        return slot, False, self.merge(slot, identifiers)
