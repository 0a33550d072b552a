"""The one loader every parser feeds: batches, checkpoints, resumption, summaries.

Each batch of records is written in one transaction together with the import's
checkpoint (the number of the last record whose effects are stored). A run killed at any
moment leaves the store exactly as of its last committed batch; running the same file
again finds the unfinished import by the file's SHA-256 and continues after the
checkpoint, so the end state equals that of an uninterrupted import.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, Table, func, insert, select, text, update

from peergraph.db.base import utcnow
from peergraph.ingest.formats import ImportTarget, iter_parsed
from peergraph.ingest.models import ImportRun
from peergraph.ingest.records import FormatError, Parsed, RecordError
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
    message: str | None = None

    @property
    def ok(self) -> bool:
        """False only when nothing could be imported (the CLI's non-zero exit)."""
        if self.status == "already-imported":
            return True
        return self.status == "completed" and (self.imported + self.merged) > 0


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
) -> ImportSummary:
    """Import one file. Safe to repeat: a completed file is recognised and skipped (or,
    with ``force``, re-read and de-duplicated to no effect); an interrupted one resumes."""
    path = target.path
    sha = file_sha256(path)
    size = path.stat().st_size
    run_id, checkpoint, status = _start_run(engine, path, sha, size, target.format, force)
    if status == "completed":
        return ImportSummary(
            run_id,
            str(path),
            target.format,
            "already-imported",
            message="already imported (same SHA-256); nothing changed",
        )
    writer = BatchWriter(run_id)
    fatal: RecordError | None = None
    batch: list[Parsed] = []
    read = checkpoint
    try:
        for parsed in iter_parsed(path, target.format):
            read = parsed.number
            if progress is not None and (parsed.number % 256 == 0):
                progress(parsed.offset, parsed.number)
            if parsed.number <= checkpoint:
                continue  # committed by an earlier, interrupted run
            batch.append(parsed)
            if isinstance(parsed.item, RecordError) and parsed.item.fatal:
                break
            if len(batch) >= batch_size:
                fatal = _commit_batch(engine, writer, run_id, batch) or fatal
                batch = []
        if batch:
            fatal = _commit_batch(engine, writer, run_id, batch) or fatal
    except FormatError as exc:
        _finish_run(engine, run_id, "failed", str(exc))
        return ImportSummary(run_id, str(path), target.format, "failed", message=str(exc))
    except BaseException:
        writer.reset_caches()
        raise  # the run stays 'running' and resumes from its checkpoint next time
    if progress is not None:
        progress(size, read)
    resolve_references(engine)
    summary = summarize(engine, run_id)
    final = (
        "completed" if (summary.imported + summary.merged) > 0 or summary.skipped == 0 else "failed"
    )
    message = None
    if fatal is not None:
        message = f"stopped early: {fatal.message}"
    elif summary.records_read == 0:
        final, message = "failed", "no records found in the file"
    elif final == "failed":
        message = "every record was skipped"
    _finish_run(engine, run_id, final, message)
    summary.status, summary.message, summary.resumed_from = final, message, checkpoint
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
        for run_id, status, checkpoint in rows:
            if status == "running":
                conn.execute(
                    update(imports_t).where(imports_t.c.id == run_id).values(path=str(path))
                )
                return run_id, checkpoint, "running"
            if status == "completed" and not force:
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
    engine: Engine, writer: BatchWriter, run_id: int, batch: list[Parsed]
) -> RecordError | None:
    with engine.begin() as conn:
        result = writer.write(conn, batch)
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
            select(issues_t.c.reason, func.count())
            .where(issues_t.c.import_id == run_id)
            .group_by(issues_t.c.reason)
            .order_by(func.count().desc())
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
        skipped_by_reason=dict(Counter({reason: count for reason, count in reasons})),
        message=run["message"],
    )
