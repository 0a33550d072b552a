"""The semantic index: embeddings of works, built by a resumable job, searched in memory.

``embed_pending`` embeds works that have no vector for the encoder yet, a chunk per
transaction, so it can be stopped at any point and started again, and later imports only
add their new works. ``SemanticIndex`` keeps the vectors as one float32 matrix (reloaded
when the count changes) and ranks by cosine.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
from sqlalchemy import Engine, Table, func, select

from peergraph.db import generation
from peergraph.db.engine import insert_ignore
from peergraph.search import files
from peergraph.search.embeddings import Encoder, load_encoder
from peergraph.search.files import IndexFolder
from peergraph.search.lag import Lag
from peergraph.search.lexical import TYPE_WIDTH
from peergraph.search.models import WorkEmbedding
from peergraph.works.models import Work

embeddings_t: Table = WorkEmbedding.__table__  # type: ignore[assignment]

CHUNK = 256
REFRESH_SECONDS = 2.0  # how often a process looks at the stored generations
MEMO_SIZE = 4096
T = TypeVar("T")
DEFAULT_ENCODER = "minilm-q8"


@dataclass
class Coverage:
    embedded: int
    total: int

    @property
    def share(self) -> float:
        return self.embedded / self.total if self.total else 0.0

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.embedded >= self.total


def coverage(engine: Engine, model: str = DEFAULT_ENCODER) -> Coverage:
    with engine.connect() as conn:
        embedded = conn.execute(
            select(func.count()).select_from(WorkEmbedding).where(WorkEmbedding.model == model)
        ).scalar_one()
        total = conn.execute(select(func.count()).select_from(Work)).scalar_one()
    return Coverage(int(embedded), int(total))


# the order the embedding job takes works in: those search gains most from first, with an
# abstract (a title alone says little), then the newest (what people look for most)
EMBED_ORDER = (
    (func.coalesce(func.length(Work.abstract), 0) > 0).desc(),
    Work.year.desc().nulls_last(),
    Work.id.desc(),
)


def work_text(title: str, abstract: str | None) -> str:
    return f"{title}. {abstract}" if abstract else title


def embed_pending(
    engine: Engine,
    encoder: Encoder,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed works that have no vector for ``encoder`` yet; returns how many were added."""
    missing = (
        select(Work.id, Work.title, Work.abstract)
        .outerjoin(
            WorkEmbedding,
            (WorkEmbedding.work_id == Work.id) & (WorkEmbedding.model == encoder.name),
        )
        .where(WorkEmbedding.work_id.is_(None))
        .order_by(*EMBED_ORDER)
    )
    with engine.connect() as conn:
        todo = conn.execute(select(func.count()).select_from(missing.subquery())).scalar_one()
    todo = min(todo, limit) if limit is not None else todo
    done = 0
    while done < todo:
        with engine.connect() as conn:
            rows = conn.execute(missing.limit(min(CHUNK, todo - done))).all()
        if not rows:
            break
        vectors = encoder.encode([work_text(t, a) for _, t, a in rows])
        with engine.begin() as conn:
            # another process may have embedded some of them meanwhile: keep its vectors
            conn.execute(
                insert_ignore(conn, embeddings_t),
                [
                    {
                        "work_id": work_id,
                        "model": encoder.name,
                        "vector": vector.astype(np.float32).tobytes(),
                    }
                    for (work_id, _, _), vector in zip(rows, vectors, strict=True)
                ],
            )
            generation.advance(conn, "vectors")
        done += len(rows)
        if progress is not None:
            progress(done, todo)
    return done


class SemanticIndex:
    """Work vectors in memory plus the encoder, loaded on first use, shared by requests.

    Next to the float32 matrix (one row per embedded work, ordered by work id) it keeps
    each row's year, venue, type and whether the work has an abstract, so filters are a
    boolean mask over the rows instead of a query. Rows whose stored vector has the wrong
    length (a damaged file) are skipped and counted in ``damaged``."""

    def __init__(
        self, engine: Engine, model: str = DEFAULT_ENCODER, *, folder: IndexFolder | None = None
    ) -> None:
        self.engine = engine
        self.model = model
        self.folder = folder  # shared index files (search/files.py); None: this process only
        self.kind = "vectors-" + re.sub(r"[^A-Za-z0-9_.-]", "_", model)
        self._encoder: Encoder | None = None
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._seen: tuple[int, int] | None = None  # (vectors, works) generations loaded
        self._records = -1  # records generation the memo was computed under
        self._checked = -REFRESH_SECONDS
        self._memo: dict[Hashable, tuple[float, Any]] = {}
        self.damaged = 0
        self.years = np.zeros(0, dtype=np.int32)
        self.sources = np.zeros(0, dtype=np.int64)
        self.types = np.zeros(0, dtype=f"<U{TYPE_WIDTH}")
        self.has_abstract = np.zeros(0, dtype=bool)
        self._lock = threading.Lock()  # readers of the arrays, and their swap
        self._refreshing = threading.Lock()  # one refresh at a time
        self._lag = Lag()

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.model)
        return self._encoder

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``'s result, kept until the vectors reload or a rebuild (in any
        process) rewrites the records: both advance a data generation (db/generation.py).
        For results derived from the vectors and the records that pages show again and
        again, e.g. a profile's similar researchers."""
        now = time.monotonic()
        self._refresh()
        with self._lock:
            hit = self._memo.get(key)
            if hit is not None:
                return cast(T, hit[1])
        value = compute()
        with self._lock:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = (now, value)
        return value

    def _refresh(self, *, force: bool = False) -> None:
        """Reload when the stored vectors or works changed, and forget the memo when the
        records did: the data generations say so (one query of three rows), looked at
        at most every REFRESH_SECONDS. One thread refreshes at a time, outside the lock
        that readers take: the others go on with the arrays they have (a request holding
        a pooled connection never waits on one that needs another connection). While the
        works keep changing (an import) and the vectors do not, the vectors are not
        reloaded (search/lag.py): new works have no vector yet anyway."""
        now = time.monotonic()
        if not force and now - self._checked < REFRESH_SECONDS:
            return
        if not self._refreshing.acquire(blocking=force):
            return
        try:
            self._checked = now
            with self.engine.connect() as conn:
                generations = generation.read(conn)
            records = generations["records"]
            seen = (generations["vectors"], generations["works"])
            if records != self._records:
                with self._lock:
                    self._memo.clear()
                    self._records = records
            if seen == self._seen:
                self._lag.caught_up()
                return
            # only the works moved (no new vectors): keep these while they keep moving
            only_works = self._seen is not None and seen[0] == self._seen[0]
            if not force and only_works and not self._lag.may_build(seen):
                return
            found = files.refresh(
                self.folder,
                self.kind,
                {"vectors": seen[0], "works": seen[1]},
                build=self._build_arrays,
            )
            if found is None:  # another process is writing the files: keep these meanwhile
                self._checked = now - REFRESH_SECONDS + 0.5
                return
            arrays, meta = found
            with self._lock:
                self.damaged = int(meta["damaged"])
                self._seen = seen
                self._memo.clear()
                self._ids = arrays["ids"]
                self._matrix = arrays["matrix"]
                self.years = arrays["years"]
                self.sources = arrays["sources"]
                self.types = arrays["types"]
                self.has_abstract = arrays["has_abstract"]
            self._lag.caught_up()
        finally:
            self._refreshing.release()

    def _build_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    WorkEmbedding.work_id,
                    WorkEmbedding.vector,
                    Work.year,
                    Work.source_id,
                    Work.type,
                    func.coalesce(func.length(Work.abstract), 0) > 0,
                )
                .join(Work, Work.id == WorkEmbedding.work_id)
                .where(WorkEmbedding.model == self.model)
                .order_by(WorkEmbedding.work_id)
            ).all()
        # the usual vector length is the right one; a damaged row is the odd one out
        width = Counter(len(r[1]) for r in rows).most_common(1)[0][0] if rows else 0
        good = [r for r in rows if len(r[1]) == width]
        matrix = (
            np.frombuffer(b"".join(r[1] for r in good), dtype=np.float32).reshape(len(good), -1)
            if good
            else np.zeros((0, 0), dtype=np.float32)
        )
        arrays: dict[str, np.ndarray] = {
            "ids": np.array([r[0] for r in good], dtype=np.int64),
            "matrix": matrix,
            "years": np.array([r[2] or 0 for r in good], dtype=np.int32),
            "sources": np.array([r[3] or 0 for r in good], dtype=np.int64),
            "types": np.array([(r[4] or "")[:TYPE_WIDTH] for r in good], dtype=f"<U{TYPE_WIDTH}"),
            "has_abstract": np.array([bool(r[5]) for r in good], dtype=bool),
        }
        return arrays, {"damaged": len(rows) - len(good), "model": self.model}

    @property
    def loaded(self) -> int:
        """Vectors in memory as of the last refresh (no query)."""
        return len(self._ids)

    def size(self) -> int:
        self._refresh(force=True)
        with self._lock:
            return len(self._ids)

    def search(
        self, query: str, k: int = 1000, *, where: Callable[[Any], Any] | None = None
    ) -> list[tuple[int, float]]:
        """(work id, cosine) best first; ``where`` returns a boolean row mask (filters)."""
        return self.nearest(self.encode(query), k, where=where)

    def encode(self, query: str) -> np.ndarray:
        return self.encoder.encode([query])[0]

    def cosines(self, vector: np.ndarray, work_ids: Sequence[int]) -> np.ndarray:
        """Each work's cosine to ``vector``, NaN where the work has no vector yet."""
        self._refresh()
        with self._lock:
            out = np.full(len(work_ids), np.nan, dtype=np.float64)
            if not len(self._ids) or not len(work_ids):
                return out
            rows = self._rows(work_ids)
            have = rows >= 0
            out[have] = self._matrix[rows[have]] @ vector
            return out

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        *,
        where: Callable[[Any], Any] | None = None,
        exclude: Sequence[int] = (),
    ) -> list[tuple[int, float]]:
        self._refresh()
        with self._lock:
            if not len(self._ids):
                return []
            scores = self._matrix @ vector
            if where is not None:
                scores = np.where(where(self), scores, -np.inf)
            if exclude:
                rows = self._rows(exclude)
                scores[rows[rows >= 0]] = -np.inf
            eligible = int(np.isfinite(scores).sum())
            k = min(k, eligible)
            if k <= 0:
                return []
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top], kind="stable")]
            return [(int(self._ids[i]), float(scores[i])) for i in top]

    def _rows(self, work_ids: Sequence[int]) -> np.ndarray:
        """Row of each work id in the matrix, −1 where the work has no vector."""
        ids = np.asarray(work_ids, dtype=np.int64)
        rows = np.searchsorted(self._ids, ids)
        rows = np.minimum(rows, max(len(self._ids) - 1, 0))
        found = (self._ids[rows] == ids) if len(self._ids) else np.zeros(len(ids), dtype=bool)
        return np.where(found, rows, -1)

    def closest_pair(
        self, left: Sequence[int], right: Sequence[int]
    ) -> tuple[int, int, float] | None:
        """The work of ``left`` and the work of ``right`` with the highest cosine (None
        when either side has no vector)."""
        self._refresh()
        with self._lock:
            if not len(self._ids) or not len(left) or not len(right):
                return None
            a, b = np.asarray(left), np.asarray(right)
            rows_a, rows_b = self._rows(left), self._rows(right)
            a, b = a[rows_a >= 0], b[rows_b >= 0]
            rows_a, rows_b = rows_a[rows_a >= 0], rows_b[rows_b >= 0]
            if not len(rows_a) or not len(rows_b):
                return None
            sims = self._matrix[rows_a] @ self._matrix[rows_b].T
            i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
            return int(a[i]), int(b[j]), float(sims[i, j])

    def centroid(self, work_ids: Sequence[int]) -> np.ndarray | None:
        """The normalised mean vector of these works (None when none is embedded)."""
        self._refresh()
        with self._lock:
            if not len(self._ids) or not len(work_ids):
                return None
            rows = self._rows(work_ids)
            rows = rows[rows >= 0]
            if not len(rows):
                return None
            mean = self._matrix[rows].mean(axis=0)
            norm = float(np.linalg.norm(mean))
            return mean / norm if norm else None
