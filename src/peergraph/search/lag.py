"""An index behind the stored data keeps answering while its successor is prepared.

An import advances the works generation at every committed batch (db/generation.py), and
an index behind the stored generation used to be dropped at once: search then asked the
database (on PostgreSQL at 145k works, 0.5 s a keyword search on an idle server, seconds
under load, against 30 ms from memory) while every web process rebuilt its BM25 index
(about 27 s of a core) and its search facts (10 s), batch after batch. Under load
(benchmarks/load, 48 users on 2 cores) that filled the connection pools within a minute
of a 50,000-work import, and again when the import ended: requests waited for a
connection and failed (docs/operations.md, "Load").

So a process keeps answering from the index it holds for up to ``MAX_LAG`` seconds after
it first saw it behind, and builds no new one while the stored data keep moving: it maps
new files as soon as someone publishes them (the worker does when an import job ends,
search/files.py), and builds them itself once the data have been still for
``QUIET`` seconds (an import run outside the worker). Works imported meanwhile are found
once that happens. Past ``MAX_LAG`` (a very long import) the strict rule holds again: the
database answers until the index at the stored generation is mapped or built.
"""

from __future__ import annotations

import time

MAX_LAG = 300.0  # seconds an index may lag the stored data
QUIET = 10.0  # seconds without a change after which a lagging index is rebuilt here


class Lag:
    """How long this process's index has been behind the stored data."""

    def __init__(self, max_lag: float = MAX_LAG, quiet: float = QUIET) -> None:
        self.max_lag, self.quiet = max_lag, quiet
        self.since: float | None = None  # when the index was first seen behind
        self.moved: float | None = None  # when the stored generations last changed
        self._stored: object = None

    def caught_up(self) -> None:
        self.since = self.moved = None
        self._stored = None

    def tolerated(self) -> bool:
        """Whether an index behind the stored data may still answer."""
        now = time.monotonic()
        if self.since is None:
            self.since = now
        return now - self.since < self.max_lag

    def may_build(self, stored: object) -> bool:
        """Whether to build the successor here now: the stored generations (``stored``)
        have not changed for ``quiet`` seconds, or the index lagged too long."""
        now = time.monotonic()
        if stored != self._stored:
            self._stored, self.moved = stored, now
        moved = self.moved if self.moved is not None else now
        return not self.tolerated() or now - moved >= self.quiet
