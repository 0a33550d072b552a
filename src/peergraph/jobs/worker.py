"""``peergraph worker``: takes jobs from the queue (jobs/queue.py) and runs them.

One job at a time per worker; run as many workers as there are cores to spare. While a
job runs, a heartbeat thread stamps it every ``HEARTBEAT_SECONDS`` with its progress; a
worker killed mid-job stops stamping, and after ``stale_after`` seconds the next worker
takes the job again and it resumes (each kind is safe to repeat, see queue.py).

``peergraph serve`` runs one worker in a thread (single-process mode, the embedded
default), so the README's one command still does everything.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from peergraph.accounts import mail
from peergraph.conversations import digest
from peergraph.db.base import utcnow
from peergraph.feeds import matching
from peergraph.feeds import services as feed_alerts
from peergraph.jobs import queue
from peergraph.search.files import IndexFolder
from peergraph.settings import Settings

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 5.0
MAIL_RETRY_SECONDS = 60.0  # how often an idle worker retries mail that is still pending


class Progress:
    """What the running job reports; the heartbeat thread writes it to the job's row."""

    def __init__(self) -> None:
        self.done = 0
        self.total: int | None = None
        self.unit: str | None = None

    def __call__(self, done: int, total: int | None = None, unit: str | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        if unit is not None:
            self.unit = unit


def run_import(engine: Engine, args: dict[str, Any], progress: Progress) -> str:
    from peergraph.ingest.formats import expand_paths
    from peergraph.ingest.loader import import_file

    targets = expand_paths([Path(p) for p in args["paths"]], args.get("format"))
    totals = {"imported": 0, "merged": 0, "skipped": 0}
    for number, target in enumerate(targets):
        progress(number, len(targets), "files")
        summary = import_file(engine, target, force=bool(args.get("force")))
        for key in totals:
            totals[key] += getattr(summary, key)
    progress(len(targets), len(targets), "files")
    return (
        f"{len(targets)} file(s): imported {totals['imported']:,}, merged "
        f"{totals['merged']:,}, skipped {totals['skipped']:,}"
    )


def run_rebuild(engine: Engine, args: dict[str, Any], progress: Progress) -> str:
    from peergraph.profiles.services import rebuild

    report = rebuild(engine, full=bool(args.get("full")), steps=lambda d, t: progress(d, t, "rows"))
    return (
        f"{report.mode} rebuild: {report.records:,} records, {report.new_records:,} new, "
        f"{report.retired_records:,} retired"
    )


def run_embed(engine: Engine, args: dict[str, Any], progress: Progress) -> str:
    """Vectors for the works without one. Without the model packages the job ends with
    the reason (the search page shows it) instead of failing after every import."""
    from peergraph.search.embeddings import EncoderUnavailable, load_encoder
    from peergraph.search.semantic import coverage, embed_pending

    if coverage(engine).complete:
        return "nothing to embed"
    try:
        encoder = load_encoder(threads=args.get("threads"))
    except EncoderUnavailable as exc:
        return f"{SKIPPED}search by meaning is off: {exc}"
    added = embed_pending(
        engine,
        encoder,
        limit=args.get("limit"),
        progress=lambda d, t: progress(d, t, "works"),
    )
    matching.update(engine, utcnow(), ("semantic",))  # saved semantic searches (feeds/)
    return f"embedded {added:,} works"


SKIPPED = "skipped: "


def embedding_status(engine: Engine) -> dict[str, Any] | None:
    """The newest embed job as the status line tells it: its state ("embedding" while it
    runs), a message, and while it runs its rate (works/s) and time left."""
    job = queue.latest(engine, "embed")
    if job is None:
        return None
    if job.state == "running":
        elapsed = (utcnow() - job.started_at).total_seconds() if job.started_at else 0.0
        rate = job.done / elapsed if elapsed > 1 and job.done else None
        eta = None
        if rate and job.total and job.total > job.done:
            minutes = (job.total - job.done) / rate / 60
            eta = f"{minutes:.0f} min" if minutes >= 1 else "under a minute"
        return {"state": "embedding", "message": None, "rate": rate, "eta": eta}
    message = {
        "queued": "embedding is queued for a worker (peergraph worker, or serve's own)",
        "failed": f"embedding failed: {job.message}",
    }.get(job.state)
    if job.state == "done" and (job.message or "").startswith(SKIPPED):
        message = job.message[len(SKIPPED) :]
    return {"state": job.state, "message": message, "rate": None, "eta": None}


RUNNERS: dict[str, Callable[[Engine, dict[str, Any], Progress], str]] = {
    "import": run_import,
    "rebuild": run_rebuild,
    "embed": run_embed,
}


class Worker:
    def __init__(
        self,
        engine: Engine,
        *,
        name: str | None = None,
        poll_seconds: float = 2.0,
        stale_after: float = queue.STALE_AFTER,
        embed: bool = True,
        encoder_threads: int | None = None,
        index_folder: IndexFolder | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings  # to retry mail that could not be sent (None: not this one)
        self.next_mail = 0.0
        self.index_folder = index_folder  # where the search index files go
        self.embed = embed  # queue embedding after each import
        self.encoder_threads = encoder_threads  # None: every core
        self.name = name or queue.worker_name()
        self.poll_seconds = poll_seconds
        self.stale_after = stale_after
        self.halt = threading.Event()

    def run(self, *, once: bool = False) -> int:
        """Take and run jobs until stopped (or, ``once``, until the queue is empty).
        Returns how many jobs ran."""
        ran = 0
        while not self.halt.is_set():
            try:
                job = queue.claim(self.engine, self.name, stale_after=self.stale_after)
            except Exception:  # a locked or damaged store must not end the worker
                if once:
                    raise
                log.exception("taking a job failed; trying again in %s s", self.poll_seconds)
                self.halt.wait(self.poll_seconds)
                continue
            if job is None:
                self.retry_mail()
                if once:
                    break
                self.halt.wait(self.poll_seconds)
                continue
            self.run_job(job)
            ran += 1
        return ran

    def run_job(self, job: Any) -> None:
        progress = Progress()
        stop_beating = threading.Event()

        def report() -> None:
            queue.beat(
                self.engine,
                job.id,
                self.name,
                done=progress.done,
                total=progress.total,
                unit=progress.unit,
            )

        def heartbeat() -> None:
            while not stop_beating.wait(HEARTBEAT_SECONDS):
                try:
                    report()
                except Exception:  # a busy store: the next beat will do
                    log.warning("job %s: heartbeat failed", job.id, exc_info=True)

        beating = threading.Thread(target=heartbeat, name=f"job-{job.id}-heartbeat", daemon=True)
        beating.start()
        log.info("job %s (%s) started, attempt %s", job.id, job.kind, job.attempts)
        try:
            args = dict(job.args or {})
            if job.kind == "embed" and self.encoder_threads:
                args.setdefault("threads", self.encoder_threads)
            message = RUNNERS[job.kind](self.engine, args, progress)
            self.publish_indexes(job.kind)
            state = "done"
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"[:2000]
            state = "failed"
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
        finally:
            stop_beating.set()
            beating.join()
        report()
        queue.finish(self.engine, job.id, self.name, state, message)
        log.info("job %s %s: %s", job.id, state, message)
        if state == "done" and job.kind == "import" and self.embed:
            queue.ensure(self.engine, "embed")  # the new works' vectors, by a worker too

    def retry_mail(self) -> None:
        """Between jobs, at most once a minute: queue the conversation digests that are due
        (conversations/digest.py), then send the mail that is still pending (the SMTP
        server was down when a page queued it; accounts/mail.py)."""
        if self.settings is None or time.monotonic() < self.next_mail:
            return
        self.next_mail = time.monotonic() + MAIL_RETRY_SECONDS
        try:
            base = self.settings.base_url or f"http://localhost:{self.settings.port}"
            digests = digest.send_digests(self.engine, base, utcnow())
            digests += feed_alerts.send_alerts(self.engine, base, utcnow())
            if digests:
                log.info("queued %d digest(s)", digests)
            sent = mail.deliver_pending(self.engine, self.settings)
        except Exception:  # a busy store: the next minute will do
            log.warning("retrying pending mail failed", exc_info=True)
            return
        if sent:
            log.info("sent %d pending mail message(s)", sent)

    def publish_indexes(self, kind: str) -> None:
        """Write the search index files the job's changes call for before it counts as
        done, so web processes only map them (the BM25 files take about 36 s at 145k
        works, the vectors 5 s): an import changes all three kinds, a rebuild the search
        facts (search/facts.py), embedding the vectors. Skipped
        when a web process is writing them already; a failure leaves the job's data in
        place and the web processes build the files themselves."""
        if self.index_folder is None or kind not in ("import", "embed", "rebuild"):
            return
        from peergraph.search.facts import SearchFacts
        from peergraph.search.lexical import LexicalIndex
        from peergraph.search.semantic import SemanticIndex

        try:
            if kind == "import":
                LexicalIndex.load(self.engine, self.index_folder)
            if kind in ("import", "rebuild"):
                SearchFacts.load(self.engine, self.index_folder)
            if kind in ("import", "embed"):
                SemanticIndex(self.engine, folder=self.index_folder).size()
        except Exception:
            log.exception("writing the search index files failed; web processes will")

    def stop(self) -> None:
        self.halt.set()


class WorkerThread(threading.Thread):
    """A worker inside ``peergraph serve`` (single-process mode)."""

    def __init__(
        self,
        engine: Engine,
        *,
        embed: bool = True,
        index_folder: IndexFolder | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__(name="peergraph-worker", daemon=True)
        # embedding on one core: the other is the web requests' (docs/search.md)
        self.worker = Worker(
            engine,
            embed=embed,
            encoder_threads=1,
            index_folder=index_folder,
            settings=settings,
        )

    def run(self) -> None:
        self.worker.run()

    def stop(self, timeout: float | None = 5.0) -> None:
        self.worker.stop()
        if self.is_alive():
            self.join(timeout)
