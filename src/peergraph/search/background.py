"""The search indexes kept up to date in the background of a running server.

``peergraph serve`` starts a ``SearchIndexJob``: a daemon thread that first checks the
keyword and name indexes (rebuilding a missing or damaged one) and builds the in-memory
BM25 index (search/lexical.py, rebuilt when the works change), then embeds works without
a vector, a chunk per transaction (the same resumable ``embed_pending`` as
``peergraph embed``), then sleeps and looks again, so works from later imports join the
index without a restart. It runs the encoder on one thread, leaving the other cores to
requests, and reports its state for the search page's status line.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import Engine

from peergraph import native
from peergraph.db import generation
from peergraph.search.embeddings import Encoder, EncoderUnavailable, MiniLMOnnxEncoder
from peergraph.search.lexical import LexicalHolder
from peergraph.search.repair import Health, check_and_repair
from peergraph.search.semantic import CHUNK, DEFAULT_ENCODER, coverage, embed_pending

log = logging.getLogger(__name__)
CHECK_SECONDS = 2.0  # how often the job looks at the stored works generation
TRIM_SECONDS = 10.0  # how often freed heap goes back to the system (peergraph/native.py)


class SearchIndexJob(threading.Thread):
    def __init__(
        self,
        engine: Engine,
        *,
        encoder: Encoder | None = None,
        poll_seconds: float = 30.0,
        model: str = DEFAULT_ENCODER,
        lexical: LexicalHolder | None = None,
        embed: bool = True,
    ) -> None:
        super().__init__(name="peergraph-search-index", daemon=True)
        self.engine = engine
        self.model = model
        self.poll_seconds = poll_seconds
        self._encoder = encoder
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self.state = "starting"  # starting | embedding | idle | off | unavailable | failed
        self.message: str | None = None
        self.done = 0
        self.todo = 0
        self.started_at = 0.0
        self.added_total = 0
        self.health: Health | None = None
        self.lexical = lexical
        self.embed = embed
        self._lexical_checked = 0.0
        self._trimmed = 0.0

    def stop(self, timeout: float | None = 5.0) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout)

    def status(self) -> dict[str, Any]:
        with self._lock:
            elapsed = time.monotonic() - self.started_at if self.started_at else 0.0
            rate = self.done / elapsed if self.state == "embedding" and elapsed > 1 else None
            eta = None
            if rate and self.todo > self.done:
                minutes = (self.todo - self.done) / rate / 60
                eta = f"{minutes:.0f} min" if minutes >= 1 else "under a minute"
            return {
                "state": self.state,
                "message": self.message,
                "done": self.done,
                "todo": self.todo,
                "rate": rate,
                "eta": eta,
                "added": self.added_total,
            }

    def run(self) -> None:
        try:
            self.health = check_and_repair(self.engine)
            for line in self.health.repaired:
                log.warning("search index repaired: %s", line)
        except Exception:
            log.exception("checking the search indexes failed")
        self._refresh_lexical(force=True)
        if not self.embed:
            with self._lock:
                self.state, self.message = "off", "background embedding is off (--no-embed)"
            while not self._halt.is_set():
                self._idle()
            return
        try:
            encoder = self._encoder or MiniLMOnnxEncoder(threads=1)
        except EncoderUnavailable as exc:
            with self._lock:
                self.state, self.message = "unavailable", f"search by meaning is off: {exc}"
            log.warning("background embedding is off: %s", exc)
            while not self._halt.is_set():
                self._idle()
            return
        while not self._halt.is_set():
            self._refresh_lexical()
            try:
                added = embed_pending(self.engine, encoder, limit=CHUNK)
                if added:
                    self._advance(added)
                    continue
            except Exception as exc:  # a locked or damaged store must not kill the server
                log.exception("background embedding failed; retrying in %s s", self.poll_seconds)
                with self._lock:
                    self.state, self.message = "failed", f"background embedding failed: {exc}"
            else:
                with self._lock:
                    self.state, self.message = "idle", None
                    self.done = self.todo = 0
            self._idle()

    def _idle(self) -> None:
        """Wait ``poll_seconds`` for the next embedding pass, looking at the stored works
        generation every CHECK_SECONDS: the in-memory BM25 index is rebuilt as soon as any
        process imports (searches meanwhile go to FTS5), and the pass starts early when
        works arrived."""
        works = self._works_generation()
        deadline = time.monotonic() + self.poll_seconds
        while not self._halt.wait(max(0.0, min(CHECK_SECONDS, deadline - time.monotonic()))):
            self._refresh_lexical()
            self._release_memory()
            if time.monotonic() >= deadline or self._works_generation() != works:
                return

    def _release_memory(self) -> None:
        """What requests freed goes back to the system every TRIM_SECONDS: several web
        processes would each keep it privately otherwise (peergraph/native.py)."""
        now = time.monotonic()
        if now - self._trimmed >= TRIM_SECONDS:
            self._trimmed = now
            native.release_free_memory()

    def _works_generation(self) -> int:
        try:
            return generation.current(self.engine)["works"]
        except Exception:  # a locked or damaged store: try again at the next look
            return -1

    def _refresh_lexical(self, *, force: bool = False) -> None:
        """Rebuild the in-memory BM25 index when the works generation moved (looked at
        every CHECK_SECONDS; reading it is one small query)."""
        if self.lexical is None:
            return
        now = time.monotonic()
        if not force and now - self._lexical_checked < CHECK_SECONDS:
            return
        self._lexical_checked = now
        try:
            if self.lexical.refresh():
                log.info(
                    "keyword index in memory: %s works",
                    self.lexical.index and self.lexical.index.loaded,
                )
        except Exception:
            log.exception("building the in-memory keyword index failed; FTS5 answers meanwhile")

    def _advance(self, added: int) -> None:
        """One chunk done: count it and, on the first chunk, learn how much is left."""
        with self._lock:
            self.added_total += added
            if self.state != "embedding":
                state = coverage(self.engine, self.model)
                self.state, self.started_at, self.message = "embedding", time.monotonic(), None
                self.done, self.todo = 0, state.total - state.embedded + added
            self.done += added
