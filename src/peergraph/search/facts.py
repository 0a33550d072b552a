"""What a search's first page looks up about its top works, as arrays every web process maps.

Besides ranking, a search's first page needs, for the 200 works it ranks highest
(services.PEOPLE_WINDOW): each work's number of authors, the author records linked to its
authorships (researchers in the results) and its topics (topics in the results), plus the
topics whose name contains a short query. Asked of the database, that is four queries and
about a thousand rows per search, a third of a keyword search's time at 145k works.

These facts change only with imports (``works`` generation) and rebuilds (``records``), so
they are written once per pair of generations as index files (search/files.py, kind
``facts``), by the worker after its job or by the first web process that needs them, and
mapped read-only by every process: CSR arrays keyed by work id, and the topic names
lower-cased in one blob. Until files at the stored generations exist, search asks the
database as before, with the same answers (tests/functional/test_search_people.py checks
the two against each other).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from peergraph.db import generation
from peergraph.search import files
from peergraph.search.files import IndexFolder
from peergraph.search.lag import Lag

KINDS = ("works", "records")  # the data generations the facts are built from
SEPARATOR = b"\n"  # between lower-cased topic names in the blob (never inside a name)


class SearchFacts:
    KIND = "facts"

    def __init__(self, arrays: dict[str, np.ndarray], generations: dict[str, int]) -> None:
        self.work_ids = arrays["work_ids"]  # sorted
        self.authors = arrays["authors"]
        self.topic_ptr, self.topic_of = arrays["topic_ptr"], arrays["topic_of"]
        self.record_ptr, self.record_of = arrays["record_ptr"], arrays["record_of"]
        self.topic_ids = arrays["topic_ids"]  # in the order ORDER BY taxonomy, name gives
        self.topic_starts = arrays["topic_starts"]
        self._names = arrays["topic_names"].tobytes()  # ~100 kB; find() needs bytes
        self.generations = generations

    @classmethod
    def load(
        cls, engine: Engine, folder: IndexFolder | None = None, *, may_build: bool = True
    ) -> SearchFacts | None:
        """The facts at the stored generations: mapped from ``folder``'s files, or built
        (and, with a folder, published there); None while another process builds them,
        or when there are no such files and not ``may_build``."""
        wanted = _wanted(generation.current(engine))
        found = files.refresh(
            folder,
            cls.KIND,
            wanted,
            build=lambda: cls.build_arrays(engine),
            may_build=may_build,
        )
        if found is None:
            return None
        arrays, meta = found
        return cls(arrays, meta["generations"])

    @staticmethod
    def build_arrays(engine: Engine) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Read after the caller read the generations: a change that lands meanwhile makes
        the files newer than their label, never older, and the label is then stale, so
        nobody uses them and the next look builds them again."""
        with engine.connect() as conn:
            work_ids = np.array(
                conn.execute(text("SELECT id FROM works ORDER BY id")).scalars().all(),
                dtype=np.int64,
            )
            counted = conn.execute(
                text("SELECT work_id, count(*) FROM authorships GROUP BY work_id")
            ).all()
            topic_pairs = conn.execute(
                text("SELECT work_id, topic_id FROM work_topics ORDER BY work_id, topic_id")
            ).all()
            record_pairs = conn.execute(
                text(
                    "SELECT a.work_id, l.record_id FROM authorship_links l"
                    " JOIN authorships a ON a.id = l.authorship_id"
                    " ORDER BY a.work_id, l.record_id"
                )
            ).all()
            topics = conn.execute(
                text("SELECT id, name FROM topics ORDER BY taxonomy, name, id")
            ).all()
        authors = np.zeros(len(work_ids), dtype=np.int32)
        if counted:
            pairs = np.array(counted, dtype=np.int64)
            rows = np.searchsorted(work_ids, pairs[:, 0])
            known = rows < len(work_ids)
            authors[rows[known]] = pairs[known, 1]
        topic_ptr, topic_of = _csr(work_ids, topic_pairs)
        record_ptr, record_of = _csr(work_ids, record_pairs)
        names = [(name or "").lower().replace("\n", " ").encode() for _, name in topics]
        starts = np.zeros(len(names) + 1, dtype=np.int64)
        np.cumsum([len(n) + len(SEPARATOR) for n in names], out=starts[1:])
        arrays: dict[str, np.ndarray] = {
            "work_ids": work_ids,
            "authors": authors,
            "topic_ptr": topic_ptr,
            "topic_of": topic_of,
            "record_ptr": record_ptr,
            "record_of": record_of,
            "topic_ids": np.array([t for t, _ in topics], dtype=np.int64),
            "topic_starts": starts,
            "topic_names": np.frombuffer(b"".join(n + SEPARATOR for n in names), dtype=np.uint8),
        }
        return arrays, {"works": len(work_ids), "topics": len(names)}

    def _rows(self, work_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, rows) of the works that exist, in the order given."""
        ids = np.asarray(work_ids, dtype=np.int64)
        rows = np.searchsorted(self.work_ids, ids)
        rows = np.minimum(rows, max(len(self.work_ids) - 1, 0))
        known = (self.work_ids[rows] == ids) if len(self.work_ids) else ids < 0
        return ids[known], rows[known]

    def author_counts(self, work_ids: list[int]) -> dict[int, int]:
        """Number of authors of each work (0 for a work without any): like
        works.services.author_counts."""
        counts = dict.fromkeys(work_ids, 0)
        ids, rows = self._rows(work_ids)
        counts.update(zip(ids.tolist(), self.authors[rows].tolist(), strict=True))
        return counts

    def record_pairs(self, work_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(record ids, work ids): one pair for every linked authorship of these works,
        like profiles.queries.records_of_works."""
        return _gather(*self._rows(work_ids), self.record_ptr, self.record_of)

    def topics_of_works(self, work_ids: list[int]) -> list[tuple[int, int]]:
        """(topic id, work id) for every topic of these works."""
        topics, works = _gather(*self._rows(work_ids), self.topic_ptr, self.topic_of)
        return list(zip(topics.tolist(), works.tolist(), strict=True))

    def topics_named(self, phrase: str, limit: int) -> list[int]:
        """Ids of the first ``limit`` topics (by taxonomy, then name) whose name contains
        ``phrase``, in any case."""
        wanted = phrase.lower().encode()
        if not wanted or SEPARATOR in wanted:
            return []
        found: set[int] = set()
        at = self._names.find(wanted)
        while at != -1:
            found.add(int(np.searchsorted(self.topic_starts, at, side="right")) - 1)
            at = self._names.find(wanted, at + 1)
        return [int(self.topic_ids[i]) for i in sorted(found)[:limit]]


def _wanted(current: dict[str, int]) -> dict[str, int]:
    return {kind: current[kind] for kind in KINDS}


def _csr(work_ids: np.ndarray, pairs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(pointer, values) from (work id, value) pairs sorted by work id."""
    pointer = np.zeros(len(work_ids) + 1, dtype=np.int64)
    if not pairs:
        return pointer, np.zeros(0, dtype=np.int64)
    table = np.array(pairs, dtype=np.int64)
    rows = np.searchsorted(work_ids, table[:, 0])
    keep = (rows < len(work_ids)) & (work_ids[np.minimum(rows, len(work_ids) - 1)] == table[:, 0])
    np.cumsum(np.bincount(rows[keep], minlength=len(work_ids)), out=pointer[1:])
    return pointer, table[keep, 1].copy()


def _gather(
    ids: np.ndarray, rows: np.ndarray, pointer: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(values, work ids): every value of each row, rows in the order given."""
    starts, ends = pointer[rows], pointer[rows + 1]
    lengths = ends - starts
    total = int(lengths.sum())
    # positions start..end-1 of each row, concatenated
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    positions = offsets + np.arange(total)
    return values[positions], np.repeat(ids, lengths)


class FactsHolder:
    """The server's current SearchFacts (None until first mapped), swapped atomically."""

    def __init__(self, engine: Engine, folder: IndexFolder | None = None) -> None:
        self.engine = engine
        self.folder = folder
        self.facts: SearchFacts | None = None
        self.build_seconds: float | None = None
        self.lag = Lag()
        self._lock = threading.Lock()

    def fresh(self, current: dict[str, int]) -> SearchFacts | None:
        """The facts when they are at the ``current`` generations or lag them by less
        than search/lag.py allows, else None (search then asks the database)."""
        facts = self.facts
        if facts is None:
            return None
        if facts.generations == _wanted(current):
            return facts
        return facts if self.lag.tolerated() else None

    def refresh(self) -> bool:
        """Map (or build) the facts when missing or stale; True when they changed. While
        the data keep changing they are only mapped, not built (search/lag.py)."""
        facts = self.facts
        wanted = _wanted(generation.current(self.engine))
        if facts is not None and facts.generations == wanted:
            self.lag.caught_up()
            return False
        may_build = facts is None or self.lag.may_build(wanted)
        with self._lock:
            started = time.perf_counter()
            loaded = SearchFacts.load(self.engine, self.folder, may_build=may_build)
            if loaded is None:
                return False
            self.build_seconds = time.perf_counter() - started
            self.facts = loaded
            self.lag.caught_up()
        return True
