"""Read-side services for import runs."""

from __future__ import annotations

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


def issue_reasons(session: Session, import_id: int) -> dict[str, int]:
    rows = session.execute(
        select(ImportIssue.reason, func.count())
        .where(ImportIssue.import_id == import_id)
        .group_by(ImportIssue.reason)
        .order_by(func.count().desc())
    ).all()
    return {reason: count for reason, count in rows}
