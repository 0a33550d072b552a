"""Request-scoped dependencies."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from peergraph.authors.models import AuthorRecord
from peergraph.profiles import queries as profiles


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


def record_or_redirect(
    session: Session, record_id: int, url_prefix: str, suffix: str = ""
) -> AuthorRecord | Response:
    """The author record, a 301 to the record a retired id now lives in, or a 404."""
    record = profiles.get_record(session, record_id)
    if record is not None:
        return record
    target = profiles.get_redirect(session, record_id)
    if target is not None:
        return RedirectResponse(f"{url_prefix}/{target}{suffix}", status_code=301)
    raise HTTPException(404, f"There is no researcher record {record_id}.")
