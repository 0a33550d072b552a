"""Read-side services for import runs."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from peergraph.ingest.models import ImportIssue, ImportRun


def list_imports(session: Session, *, limit: int = 100) -> list[ImportRun]:
    return list(session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)))


def get_import(session: Session, import_id: int) -> ImportRun | None:
    return session.get(ImportRun, import_id)


def import_issues(session: Session, import_id: int, *, limit: int = 100) -> list[ImportIssue]:
    return list(
        session.scalars(
            select(ImportIssue)
            .where(ImportIssue.import_id == import_id)
            .order_by(ImportIssue.id)
            .limit(limit)
        )
    )


def issue_reasons(session: Session, import_id: int, *, skipped: bool = True) -> dict[str, int]:
    """Skipped records (or, with ``skipped=False``, warnings) of one import by reason."""
    rows = session.execute(
        select(ImportIssue.reason, func.count())
        .where(ImportIssue.import_id == import_id, ImportIssue.skipped.is_(skipped))
        .group_by(ImportIssue.reason)
        .order_by(func.count().desc())
    ).all()
    return {reason: count for reason, count in rows}


def public_path(path: str | Path) -> str:
    """The part of an import's path that pages and the API may show: the file name (the
    operator's folders are nobody's business), or, for a part of an OpenAlex snapshot,
    ``entity/updated_date=…/part_N.gz``."""
    parts = Path(path).parts
    if len(parts) >= 3 and parts[-2].startswith("updated_date=") and parts[-1].startswith("part_"):
        return "/".join(parts[-3:])
    return parts[-1] if parts else str(path)
