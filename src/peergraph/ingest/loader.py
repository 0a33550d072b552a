"""The one loader every parser feeds: batches, checkpoints, resumption, summaries.

Each batch of records is written in one transaction together with the import's
checkpoint (the number of the last record whose effects are stored). A run killed at any
moment leaves the store exactly as of its last committed batch; running the same file
again finds the unfinished import by the file's SHA-256 and continues after the
checkpoint, so the end state equals that of an uninterrupted import.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, func, insert, select, text, update

from peergraph.db import generation
from peergraph.db.base import utcnow
from peergraph.db.errors import ENVIRONMENT_ERRORS, describe
from peergraph.ingest.formats import ImportTarget, iter_parsed
from peergraph.ingest.models import ImportRun
from peergraph.ingest.records import (
    FormatError,
    ImportLimits,
    Parsed,
    RecentDigests,
    RecordError,
)
from peergraph.ingest.writer import BatchWriter, issues_t

imports_t: Table = ImportRun.__table__  # type: ignore[assignment]
DEFAULT_BATCH_SIZE = 2000

ProgressCallback = Callable[[int, int], None]  # (bytes consumed, records read)


@dataclass
class ImportSummary:
    import_id: int | None
    path: str
    format: str
    status: str  # completed | failed | already-imported
    records_read: int = 0
    imported: int = 0
    merged: int = 0
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    resumed_from: int = 0
    warnings_by_reason: dict[str, int] = field(default_factory=dict)
    message: str | None = None

    @property
    def ok(self) -> bool:
        """False only when nothing could be imported (the CLI's non-zero exit)."""
        if self.status == "already-imported":
            return True
        return self.status == "completed" and (self.imported + self.merged) > 0


class ImportFailed(Exception):
    """The import could not go on (full disk, no permission, a damaged store, a bug): the
    run is marked failed with this message, and running the same import again resumes."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def import_file(
    engine: Engine,
    target: ImportTarget,
    *,
    progress: ProgressCallback | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    force: bool = False,
    limits: ImportLimits | None = None,
) -> ImportSummary:
    """Import one file. Safe to repeat: a completed file is recognised and skipped (or,
    with ``force``, re-read and de-duplicated to no effect); an interrupted or failed one
    resumes after its last committed record.

    A record that breaks a parser or the writer is reported and skipped, never the batch
    around it; what stops the whole import (a full disk, a damaged store) marks the run
    failed with the reason and raises :class:`ImportFailed`."""
    path = target.path
    try:
        sha = file_sha256(path)
        size = path.stat().st_size
    except OSError as exc:
        raise ImportFailed(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        run_id, checkpoint, status = _start_run(engine, path, sha, size, target.format, force)
    except ENVIRONMENT_ERRORS as exc:
        raise ImportFailed(describe(exc, engine)) from exc
    if status == "completed":
        return ImportSummary(
            run_id,
            str(path),
            target.format,
            "already-imported",
            message="already imported (same SHA-256); nothing changed",
        )
    writer = BatchWriter(run_id)
    seen = RecentDigests()
    fatal: RecordError | None = None
    batch: list[Parsed] = []
    read = checkpoint
    try:
        for parsed in iter_parsed(path, target.format, limits, seen):
            read = parsed.number
            if progress is not None and (parsed.number % 256 == 0):
                progress(parsed.offset, parsed.number)
            if parsed.number <= checkpoint:
                continue  # committed by an earlier, interrupted run
            batch.append(parsed)
            if isinstance(parsed.item, RecordError) and parsed.item.fatal:
                break
            if len(batch) >= batch_size:
                fatal = _commit_batch(engine, writer, run_id, batch, seen) or fatal
                batch = []
        if batch:
            fatal = _commit_batch(engine, writer, run_id, batch, seen) or fatal
    except FormatError as exc:
        _finish_run(engine, run_id, "failed", str(exc))
        return ImportSummary(run_id, str(path), target.format, "failed", message=str(exc))
    except Exception as exc:
        writer.reset_caches()
        message = describe(exc, engine)
        # when the store itself is what failed this fails too; the run resumes all the same
        with contextlib.suppress(Exception):
            _finish_run(engine, run_id, "failed", message)
        raise ImportFailed(message) from exc
    except BaseException:
        writer.reset_caches()
        raise  # killed or interrupted: the run stays 'running' and resumes next time
    if progress is not None:
        progress(size, read)
    resolve_references(engine)
    summary = summarize(engine, run_id)
    final = (
        "completed" if (summary.imported + summary.merged) > 0 or summary.skipped == 0 else "failed"
    )
    outcome: str | None = None
    if fatal is not None:
        outcome = f"stopped early: {fatal.message}"
    elif summary.records_read == 0:
        final, outcome = "failed", "no records found in the file"
    elif final == "failed":
        outcome = "every record was skipped"
    _finish_run(engine, run_id, final, outcome)
    summary.status, summary.message, summary.resumed_from = final, outcome, checkpoint
    return summary


def _start_run(
    engine: Engine, path: Path, sha: str, size: int, fmt: str, force: bool
) -> tuple[int, int, str]:
    with engine.begin() as conn:
        rows = conn.execute(
            select(imports_t.c.id, imports_t.c.status, imports_t.c.checkpoint)
            .where(imports_t.c.file_sha256 == sha, imports_t.c.format == fmt)
            .order_by(imports_t.c.id.desc())
        ).all()
        for run_id, status, checkpoint in rows[:1]:
            if status in ("running", "failed"):  # interrupted, or stopped by an error
                conn.execute(
                    update(imports_t)
                    .where(imports_t.c.id == run_id)
                    .values(path=str(path), status="running", message=None, finished_at=None)
                )
                return run_id, checkpoint, "running"
            if not force:
                return run_id, checkpoint, "completed"
        run_id = conn.execute(
            insert(imports_t)
            .values(
                path=str(path),
                file_sha256=sha,
                file_size=size,
                format=fmt,
                status="running",
                started_at=utcnow(),
                records_read=0,
                records_imported=0,
                records_merged=0,
                records_skipped=0,
                checkpoint=0,
            )
            .returning(imports_t.c.id)
        ).scalar_one()
        return run_id, 0, "running"


def _commit_batch(
    engine: Engine,
    writer: BatchWriter,
    run_id: int,
    batch: list[Parsed],
    seen: RecentDigests,
) -> RecordError | None:
    """Write ``batch`` in one transaction with the checkpoint. When a record in it breaks
    the writer, the transaction is rolled back and the batch written record by record,
    so that only the breaking record is lost (and reported as ``write-error``)."""
    try:
        return _write(engine, writer, run_id, batch)
    except ENVIRONMENT_ERRORS:
        raise
    except Exception:
        writer.reset_caches()  # the ids it cached may belong to the rolled-back rows
    fatal = None
    for parsed in batch:
        try:
            fatal = _write(engine, writer, run_id, [parsed]) or fatal
        except ENVIRONMENT_ERRORS:
            raise
        except Exception as exc:
            writer.reset_caches()
            seen.discard(parsed.digest)
            error = RecordError("write-error", f"{type(exc).__name__}: {exc}"[:500], parsed.line)
            _write(engine, writer, run_id, [Parsed(parsed.number, parsed.line, error)])
    return fatal


def _write(engine: Engine, writer: BatchWriter, run_id: int, batch: list[Parsed]) -> Any:
    with engine.begin() as conn:
        result = writer.write(conn, batch)
        if result.imported or result.merged:
            generation.advance(conn, "works")
        conn.execute(
            update(imports_t)
            .where(imports_t.c.id == run_id)
            .values(
                checkpoint=batch[-1].number,
                records_read=batch[-1].number,
                records_imported=imports_t.c.records_imported + result.imported,
                records_merged=imports_t.c.records_merged + result.merged,
                records_skipped=imports_t.c.records_skipped + result.skipped,
            )
        )
    return result.fatal


def _finish_run(engine: Engine, run_id: int, status: str, message: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(imports_t)
            .where(imports_t.c.id == run_id)
            .values(status=status, message=message, finished_at=utcnow())
        )


def resolve_references(engine: Engine) -> int:
    """Point unresolved references at works that are now in the store."""
    with engine.begin() as conn:
        result = conn.execute(
            text(
                "UPDATE work_references SET cited_work_id = ("
                " SELECT wi.work_id FROM work_identifiers wi"
                " WHERE wi.scheme = work_references.target_scheme"
                " AND wi.value = work_references.target_value)"
                " WHERE cited_work_id IS NULL AND EXISTS ("
                " SELECT 1 FROM work_identifiers wi"
                " WHERE wi.scheme = work_references.target_scheme"
                " AND wi.value = work_references.target_value)"
            )
        )
        return result.rowcount or 0


def summarize(engine: Engine, run_id: int) -> ImportSummary:
    with engine.connect() as conn:
        run = conn.execute(select(imports_t).where(imports_t.c.id == run_id)).mappings().one()
        reasons = conn.execute(
            select(issues_t.c.reason, issues_t.c.skipped, func.count())
            .where(issues_t.c.import_id == run_id)
            .group_by(issues_t.c.reason, issues_t.c.skipped)
            .order_by(func.count().desc(), issues_t.c.reason)
        ).all()
    return ImportSummary(
        import_id=run_id,
        path=run["path"],
        format=run["format"],
        status=run["status"],
        records_read=run["records_read"],
        imported=run["records_imported"],
        merged=run["records_merged"],
        skipped=run["records_skipped"],
        skipped_by_reason=dict(Counter({r: n for r, skipped, n in reasons if skipped})),
        warnings_by_reason={r: n for r, skipped, n in reasons if not skipped},
        message=run["message"],
    )
