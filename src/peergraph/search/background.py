"""The search indexes kept up to date in the background of a running server.

``peergraph serve`` starts a ``SearchIndexJob`` in each web process: a daemon thread that
first checks the keyword and name indexes (rebuilding a missing or damaged one) and maps
(or builds) the BM25 index files (search/lexical.py), then looks at the stored works
generation every CHECK_SECONDS and maps the new files when the works changed, and every
TRIM_SECONDS hands freed heap back to the system (peergraph/native.py).

Embedding is not done here: it is a job (jobs/worker.py), run by a worker — the
``serve`` process's worker thread in the single-process default, ``peergraph worker``
processes otherwise — so several web processes never encode the same works. At start-up
this job queues one when works lack a vector (with ``embed``), and every import job
queues one when it ends. The search page reads that job's progress from the queue.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from peergraph import native
from peergraph.jobs import queue
from peergraph.search.facts import FactsHolder
from peergraph.search.lexical import LexicalHolder
from peergraph.search.repair import Health, check_and_repair
from peergraph.search.semantic import DEFAULT_ENCODER, coverage

log = logging.getLogger(__name__)
CHECK_SECONDS = 2.0  # how often the job looks at the stored works generation
TRIM_SECONDS = 10.0  # how often freed heap goes back to the system (peergraph/native.py)


class SearchIndexJob(threading.Thread):
    def __init__(
        self,
        engine: Engine,
        *,
        model: str = DEFAULT_ENCODER,
        lexical: LexicalHolder | None = None,
        facts: FactsHolder | None = None,
        embed: bool = True,
    ) -> None:
        super().__init__(name="peergraph-search-index", daemon=True)
        self.engine = engine
        self.model = model
        self._halt = threading.Event()
        self.health: Health | None = None
        self.lexical = lexical
        self.facts = facts
        self.embed = embed
        self._lexical_checked = 0.0
        self._trimmed = 0.0

    def stop(self, timeout: float | None = 5.0) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        try:
            self.health = check_and_repair(self.engine)
            for line in self.health.repaired:
                log.warning("search index repaired: %s", line)
        except Exception:
            log.exception("checking the search indexes failed")
        if self.embed:
            try:
                if not coverage(self.engine, self.model).complete:
                    queue.ensure(self.engine, "embed")
            except Exception:  # a locked or damaged store must not kill the server
                log.exception("queueing the embedding job failed")
        self._refresh_indexes(force=True)
        while not self._halt.wait(CHECK_SECONDS):
            self._refresh_indexes()
            self._release_memory()

    def _release_memory(self) -> None:
        """What requests freed goes back to the system every TRIM_SECONDS: several web
        processes would each keep it privately otherwise (peergraph/native.py)."""
        now = time.monotonic()
        if now - self._trimmed >= TRIM_SECONDS:
            self._trimmed = now
            native.release_free_memory()

    def _refresh_indexes(self, *, force: bool = False) -> None:
        """Map (or build) the BM25 index and the search facts when the data generations
        they come from moved (looked at every CHECK_SECONDS; reading them is one small
        query)."""
        now = time.monotonic()
        if not force and now - self._lexical_checked < CHECK_SECONDS:
            return
        self._lexical_checked = now
        if self.lexical is not None:
            try:
                if self.lexical.refresh():
                    log.info(
                        "keyword index in memory: %s works",
                        self.lexical.index and self.lexical.index.loaded,
                    )
            except Exception:
                log.exception("building the in-memory keyword index failed; FTS5 answers")
        if self.facts is not None:
            try:
                self.facts.refresh()
            except Exception:
                log.exception("building the search facts failed; the database answers")
