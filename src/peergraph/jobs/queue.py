"""The job queue: a table of jobs that run one at a time, in the order they were queued.

Every kind of job writes the store (an import adds works, a rebuild recomputes the author
records from them, embedding reads the works), so two at once would race: a rebuild
started during an import would miss part of it. Several workers (``serve``'s own,
``peergraph worker`` on other machines) are there for failover, not for parallel jobs:
while one job runs with a live heartbeat, no other is taken.

Taking a job is one UPDATE that picks the oldest queued job (or a running one whose
worker has been silent for ``stale_after`` seconds: it was killed), provided no other job
is running with a live heartbeat, and marks it running for this worker. Two workers never
take the same job, nor two jobs at once: on SQLite the UPDATE holds the write lock from
its first step, so the choice and the mark are one atomic step; on PostgreSQL claims are
serialised by a transaction-scoped advisory lock, so the second claimant sees the first
one's job running. A running job's worker sends a heartbeat every few seconds.

Every job is safe to run again after a kill: an import resumes after its last committed
batch (ingest/loader.py), a rebuild writes in one transaction, embedding stores vectors
a chunk per transaction and continues with the works still without one.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, Row, Table, exists, func, insert, or_, select, update

from peergraph.db.base import utcnow
from peergraph.jobs.models import Job

jobs_t: Table = Job.__table__  # type: ignore[assignment]
KINDS = ("import", "rebuild", "embed")
STALE_AFTER = 60.0  # seconds without a heartbeat after which a running job is abandoned
CLAIM_LOCK = 0x70677121  # PostgreSQL advisory lock key that serialises claims ("pgq!")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def enqueue(engine: Engine, kind: str, args: dict[str, Any] | None = None) -> int:
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}; one of {', '.join(KINDS)}")
    with engine.begin() as conn:
        return int(
            conn.execute(
                insert(jobs_t)
                .values(kind=kind, args=args or {}, state="queued", attempts=0, done=0)
                .returning(jobs_t.c.id)
            ).scalar_one()
        )


def claim(engine: Engine, worker: str, *, stale_after: float = STALE_AFTER) -> Row[Any] | None:
    """Take the next job for ``worker``: the oldest queued one, or a running one whose
    worker stopped sending heartbeats ``stale_after`` seconds ago. None when idle, and
    None while another job runs with a live heartbeat (jobs run one at a time)."""
    now = utcnow()
    abandoned = now - timedelta(seconds=stale_after)
    alive = exists().where(jobs_t.c.state == "running", jobs_t.c.heartbeat_at >= abandoned)
    choice = (
        select(jobs_t.c.id)
        .where(
            or_(
                jobs_t.c.state == "queued",
                (jobs_t.c.state == "running") & (jobs_t.c.heartbeat_at < abandoned),
            ),
            ~alive,
        )
        .order_by(jobs_t.c.id)
        .limit(1)
    )
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
        taken = conn.execute(
            update(jobs_t)
            .where(jobs_t.c.id == choice.scalar_subquery())
            .values(
                state="running",
                worker=worker,
                attempts=jobs_t.c.attempts + 1,
                started_at=now,
                heartbeat_at=now,
                message=None,
            )
            .returning(jobs_t.c.id)
        ).scalar()
        if taken is None:
            return None
        return conn.execute(select(jobs_t).where(jobs_t.c.id == taken)).one()


def beat(
    engine: Engine,
    job_id: int,
    worker: str,
    *,
    done: int | None = None,
    total: int | None = None,
    unit: str | None = None,
) -> bool:
    """Heartbeat (and progress) of a running job; False when it is no longer this
    worker's (it was taken over after a long silence)."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if done is not None:
        values["done"] = done
    if total is not None:
        values["total"] = total
    if unit is not None:
        values["unit"] = unit
    with engine.begin() as conn:
        hit = conn.execute(
            update(jobs_t)
            .where(jobs_t.c.id == job_id, jobs_t.c.worker == worker, jobs_t.c.state == "running")
            .values(**values)
        )
    return bool(hit.rowcount)


def finish(engine: Engine, job_id: int, worker: str, state: str, message: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(jobs_t)
            .where(jobs_t.c.id == job_id, jobs_t.c.worker == worker)
            .values(state=state, message=message, finished_at=utcnow(), heartbeat_at=utcnow())
        )


def ensure(engine: Engine, kind: str, args: dict[str, Any] | None = None) -> int:
    """The queued job of ``kind``, or a new one: asked for twice, it is queued once. (Two
    processes asking at the same moment may both queue it; the second run then finds
    nothing to do.)"""
    with engine.connect() as conn:
        queued = conn.execute(
            select(jobs_t.c.id)
            .where(jobs_t.c.kind == kind, jobs_t.c.state == "queued")
            .order_by(jobs_t.c.id)
            .limit(1)
        ).scalar()
    return queued if queued is not None else enqueue(engine, kind, args)


def latest(engine: Engine, kind: str) -> Row[Any] | None:
    """The newest job of ``kind``, whatever its state."""
    with engine.connect() as conn:
        return conn.execute(
            select(jobs_t).where(jobs_t.c.kind == kind).order_by(jobs_t.c.id.desc()).limit(1)
        ).first()


def recent(engine: Engine, limit: int = 50) -> list[Row[Any]]:
    with engine.connect() as conn:
        return list(conn.execute(select(jobs_t).order_by(jobs_t.c.id.desc()).limit(limit)))


def get(engine: Engine, job_id: int) -> Row[Any] | None:
    with engine.connect() as conn:
        return conn.execute(select(jobs_t).where(jobs_t.c.id == job_id)).first()
