"""Data generations: counters in the database that say "this kind of data changed".

Every process that keeps something derived from the store in memory (the BM25 index, the
work vectors, memoised similar researchers) remembers the generations it was built from
and drops or reloads it when the stored one is newer. The writer advances the counter in
the same transaction as its change, so a reader never sees new data with an old
generation, and another process sees the change as soon as it commits: reading the
counters is one indexed query of three rows, cheap enough to do on every request.

Kinds:

- ``works``: an import batch added or changed works (titles, abstracts, venues, years);
- ``records``: a rebuild rewrote author records, topics, collaborators, profiles;
- ``vectors``: an embedding run stored work vectors.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Engine,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from peergraph.db.base import Base, utcnow

KINDS = ("works", "records", "vectors")


class Generation(Base):
    __tablename__ = "generations"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


generations_t: Table = Generation.__table__  # type: ignore[assignment]


def advance(conn: Connection, *kinds: str) -> None:
    """Count a change of ``kinds``, inside the transaction that makes it."""
    now = utcnow()
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown generation kind {kind!r}")
        done = conn.execute(
            update(generations_t)
            .where(generations_t.c.kind == kind)
            .values(value=generations_t.c.value + 1, changed_at=now)
        )
        if done.rowcount == 0:  # a store created before the table had its rows
            conn.execute(insert(generations_t).values(kind=kind, value=1, changed_at=now))


def read(conn: Connection) -> dict[str, int]:
    """Every kind's current generation (0 for one never advanced)."""
    stored = dict(conn.execute(select(generations_t.c.kind, generations_t.c.value)).all())
    return {kind: int(stored.get(kind, 0)) for kind in KINDS}


def current(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return read(conn)
