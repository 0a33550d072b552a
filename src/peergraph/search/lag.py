"""While an import runs, search answers from the indexes a process already holds.

An import advances the works generation at every committed batch (db/generation.py), and
an index behind the stored generation used to be dropped at once: search then asked the
database (about 0.5 s a keyword search on PostgreSQL at 145k works, against 30 ms from
memory) while every web process rebuilt its BM25 index (about 27 s of a core at 145k
works) and its search facts (10 s), batch after batch. Under load (benchmarks/load,
48 users on 2 cores) that filled the connection pools within a minute of a 50,000-work
import: requests waited 30 s for a connection and failed (docs/operations.md).

So while an import is running (a row of ``imports`` in state ``running``), a process keeps
answering from the index it holds, for at most ``MAX_LAG`` seconds, and builds no new
one: it maps new files as soon as someone publishes them (the worker does when its import
job ends, search/files.py). Works imported meanwhile are found once that happens. When no
import runs, or the index has lagged ``MAX_LAG`` seconds (a long import, or one killed and
left ``running``), the strict rule holds again: the database answers until the index at
the stored generation is mapped or built.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, Engine, exists, select

MAX_LAG = 300.0  # seconds an index may lag the stored works while an import runs


def import_running(bind: Connection | Engine) -> bool:
    """Whether an import is in progress (or was killed and left ``running``)."""
    from peergraph.ingest.loader import imports_t

    query = select(exists().where(imports_t.c.status == "running"))
    if isinstance(bind, Connection):
        return bool(bind.scalar(query))
    with bind.connect() as conn:
        return bool(conn.scalar(query))


class Lag:
    """How long this process's index has been behind the stored data."""

    def __init__(self, max_lag: float = MAX_LAG) -> None:
        self.max_lag = max_lag
        self.since: float | None = None  # when the index was first seen behind

    def caught_up(self) -> None:
        self.since = None

    def tolerated(self, bind: Connection | Engine) -> bool:
        """Whether an index behind the stored data may still answer (and need not be
        rebuilt yet): an import runs and the index has lagged less than ``max_lag``."""
        now = time.monotonic()
        if self.since is None:
            self.since = now
        return now - self.since < self.max_lag and import_running(bind)
