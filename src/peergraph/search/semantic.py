"""The semantic index: embeddings of works, built by a resumable job, searched in memory.

``embed_pending`` embeds works that have no vector for the encoder yet, a chunk per
transaction, so it can be stopped at any point and started again, and later imports only
add their new works. ``SemanticIndex`` keeps the vectors as one float32 matrix (reloaded
when the count changes) and ranks by cosine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, func, insert, select

from peergraph.search.embeddings import Encoder, load_encoder
from peergraph.search.models import WorkEmbedding
from peergraph.works.models import Work

CHUNK = 256
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
        .order_by(Work.id)
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
            conn.execute(
                insert(WorkEmbedding),
                [
                    {
                        "work_id": work_id,
                        "model": encoder.name,
                        "vector": vector.astype(np.float32).tobytes(),
                    }
                    for (work_id, _, _), vector in zip(rows, vectors, strict=True)
                ],
            )
        done += len(rows)
        if progress is not None:
            progress(done, todo)
    return done


class SemanticIndex:
    """Work vectors in memory plus the encoder, loaded on first use, shared by requests."""

    def __init__(self, engine: Engine, model: str = DEFAULT_ENCODER) -> None:
        self.engine = engine
        self.model = model
        self._encoder: Encoder | None = None
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._lock = threading.Lock()

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.model)
        return self._encoder

    def _refresh(self) -> None:
        with self.engine.connect() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(WorkEmbedding)
                .where(WorkEmbedding.model == self.model)
            ).scalar_one()
            if count == len(self._ids):
                return
            rows = conn.execute(
                select(WorkEmbedding.work_id, WorkEmbedding.vector)
                .where(WorkEmbedding.model == self.model)
                .order_by(WorkEmbedding.work_id)
            ).all()
        self._ids = np.array([r[0] for r in rows], dtype=np.int64)
        self._matrix = (
            np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            if rows
            else np.zeros((0, 0), dtype=np.float32)
        )

    @property
    def loaded(self) -> int:
        """Vectors in memory as of the last refresh (no query)."""
        return len(self._ids)

    def size(self) -> int:
        with self._lock:
            self._refresh()
            return len(self._ids)

    def search(self, query: str, k: int = 1000) -> list[tuple[int, float]]:
        """(work id, cosine) best first."""
        with self._lock:
            self._refresh()
            if not len(self._ids):
                return []
            vector = self.encoder.encode([query])[0]
            scores = self._matrix @ vector
            k = min(k, len(scores))
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top])]
            return [(int(self._ids[i]), float(scores[i])) for i in top]
