"""Request-scoped dependencies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


def record_or_redirect(session: Session, record_id: int, url_prefix: str, suffix: str = "") -> Any:
    """The author record, a 301 to the record a retired id now lives in, or a 404."""
    from fastapi import HTTPException
    from fastapi.responses import RedirectResponse

    from peergraph.profiles import views as profiles

    record = profiles.get_record(session, record_id)
    if record is not None:
        return record
    target = profiles.get_redirect(session, record_id)
    if target is not None:
        return RedirectResponse(f"{url_prefix}/{target}{suffix}", status_code=301)
    raise HTTPException(404, f"There is no researcher record {record_id}.")
