"""Checking and repairing the search indexes (``peergraph reindex``; the server checks on
start).

The database's text indexes (search/text.py: FTS5 tables on SQLite, GIN indexes on
PostgreSQL) hold nothing that ``works`` and ``author_records`` do not, so both can always
be rebuilt from the store. Stored vectors of the wrong length are dropped so the embedding job
computes them again.
"""

from __future__ import annotations

from sqlalchemy import Engine, delete, func, text

from peergraph.db import generation
from peergraph.search.models import WorkEmbedding
from peergraph.search.text import Health, text_index

__all__ = ["Health", "check_and_repair"]


def check_and_repair(engine: Engine, *, repair: bool = True) -> Health:
    """Check both text indexes and the stored vectors; rebuild what is wrong when ``repair``."""
    health = text_index(engine).check(engine, repair=repair)
    with engine.connect() as conn:
        lengths = conn.execute(
            text(
                "SELECT model, length(vector) AS n, count(*) FROM work_embeddings"
                " GROUP BY model, n ORDER BY model, count(*) DESC"
            )
        ).all()
    usual: dict[str, int] = {}
    for model, length, count in lengths:
        if model not in usual:
            usual[model] = length
            continue
        health.problems.append(f"{count:,} {model} vectors have a wrong length ({length} bytes)")
        if repair:
            with engine.begin() as conn:
                conn.execute(
                    delete(WorkEmbedding).where(
                        WorkEmbedding.model == model, func.length(WorkEmbedding.vector) == length
                    )
                )
                generation.advance(conn, "vectors")
            health.repaired.append(f"{count:,} {model} vectors dropped (they will be re-embedded)")
    return health
