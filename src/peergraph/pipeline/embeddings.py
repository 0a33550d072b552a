"""Stage 5: the semantic index's vectors on Spark, with the same ONNX encoder.

Each Python worker loads the encoder once (``encoder``: a process-wide cache; Spark
reuses its Python workers across tasks, so an executor core keeps its model) and encodes
its partition's works in chunks, one onnxruntime thread per task: the executor's cores
are its tasks. The text is ``search.semantic.work_text``, what `peergraph embed` encodes,
and the vector is stored as the store stores it (float32 bytes).

A vector is a function of its text only (the encoder runs one text at a time: its int8
build quantises activations with one scale per run, docs/search.md), so the vectors are
`peergraph embed`'s, whatever works share a partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from peergraph.search.embeddings import Encoder, load_encoder
from peergraph.search.semantic import work_text

CHUNK = 512  # texts per encode call: sorting by length inside a chunk keeps padding low
EMBEDDING_SCHEMA = "work_id long, model string, vector binary"
_encoders: dict[str, Encoder] = {}


def encoder(name: str) -> Encoder:
    """The worker's encoder, loaded on first use (one thread: one task per core)."""
    if name not in _encoders:
        _encoders[name] = load_encoder(name, threads=1)
    return _encoders[name]


def embed_partition(
    works: Iterable[tuple[int, str, str | None]], model: str
) -> Iterator[tuple[int, str, bytes]]:
    """``(work id, model, vector bytes)`` for each ``(work id, title, abstract)``."""
    chunk: list[tuple[int, str, str | None]] = []
    for work in works:
        chunk.append(work)
        if len(chunk) >= CHUNK:
            yield from _encode(chunk, model)
            chunk = []
    if chunk:
        yield from _encode(chunk, model)


def _encode(
    chunk: list[tuple[int, str, str | None]], model: str
) -> Iterator[tuple[int, str, bytes]]:
    vectors = encoder(model).encode([work_text(title, abstract) for _, title, abstract in chunk])
    for (work_id, _, _), vector in zip(chunk, vectors, strict=True):
        yield work_id, model, vector.astype(np.float32).tobytes()


def vector(data: Any) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=np.float32)
