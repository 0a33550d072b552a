"""Checking and repairing the search indexes (``peergraph reindex``; the server checks on
start).

The keyword index (``works_fts``) and the name index (``records_fts``) are FTS5 tables
whose content lives in ``works`` and ``author_records``, so both can always be rebuilt
from the store. Stored vectors of the wrong length are dropped so the embedding job
computes them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, func, text

from peergraph.db import generation
from peergraph.search.models import WorkEmbedding

DDL = {
    "works_fts": (
        "CREATE VIRTUAL TABLE works_fts USING fts5(title, abstract, content='works',"
        " content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
        "CREATE TRIGGER IF NOT EXISTS works_fts_delete AFTER DELETE ON works BEGIN"
        " INSERT INTO works_fts(works_fts, rowid, title, abstract)"
        " VALUES ('delete', old.id, old.title, old.abstract); END",
        "CREATE TRIGGER IF NOT EXISTS works_fts_update AFTER UPDATE OF title, abstract ON works"
        " BEGIN INSERT INTO works_fts(works_fts, rowid, title, abstract)"
        " VALUES ('delete', old.id, old.title, old.abstract);"
        " INSERT INTO works_fts(rowid, title, abstract) VALUES (new.id, new.title, new.abstract);"
        " END",
    ),
    "records_fts": (
        "CREATE VIRTUAL TABLE records_fts USING fts5(display_name, content='author_records',"
        " content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    ),
}


@dataclass
class Health:
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check(engine: Engine, table: str) -> str | None:
    """None when ``table`` exists and matches its content table, else what is wrong."""
    with engine.connect() as conn:
        exists = conn.execute(
            text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :t"),
            {"t": table},
        ).scalar_one()
        if not exists:
            return f"{table} is missing"
        try:
            conn.execute(text(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)"))
            conn.rollback()
        except Exception as exc:
            return f"{table} is damaged ({str(exc).splitlines()[0][:120]})"
    return None


def check_and_repair(engine: Engine, *, repair: bool = True) -> Health:
    """Check both FTS indexes and the stored vectors; rebuild what is wrong when ``repair``."""
    health = Health()
    if engine.dialect.name != "sqlite":
        return health
    for table, statements in DDL.items():
        problem = _check(engine, table)
        if problem is None:
            continue
        health.problems.append(problem)
        if not repair:
            continue
        with engine.begin() as conn:
            if problem.endswith("is missing"):
                for statement in statements:
                    conn.execute(text(statement))
            conn.execute(text(f"INSERT INTO {table}({table}) VALUES ('rebuild')"))
        health.repaired.append(f"{table} rebuilt")
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
