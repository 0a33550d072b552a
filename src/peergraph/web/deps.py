"""Request-scoped dependencies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from peergraph.authors.models import AuthorRecord
from peergraph.claims.owner import visible_to
from peergraph.profiles import queries as profiles

# Every id and number a client sends is bounded in its schema, so that a value past what
# the database stores (2^63 and up) is a 404/422, never an overflow and a 500.
MAX_ID = 2**63 - 1
WorkId = Annotated[int, Path(ge=1, le=MAX_ID, description="a work id")]
RecordId = Annotated[int, Path(ge=1, le=MAX_ID, description="a researcher record id")]
TopicId = Annotated[int, Path(ge=1, le=MAX_ID, description="a topic id")]
InstitutionId = Annotated[int, Path(ge=1, le=MAX_ID, description="an institution id")]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
MAX_YEAR = 9999


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


def shown_record(
    request: Request, session: Session, record_id: int, url_prefix: str, suffix: str = ""
) -> AuthorRecord | Response:
    """:func:`record_or_redirect`, and a 404 for a record its owner hid, unless the
    visitor is that owner or a moderator (claims/owner.py ``visible_to``)."""
    from peergraph.web.auth import api_account

    found = record_or_redirect(session, record_id, url_prefix, suffix)
    hidden = isinstance(found, AuthorRecord) and not visible_to(session, found.id, None)
    if hidden and not visible_to(session, record_id, api_account(request)):
        raise HTTPException(404, f"There is no researcher record {record_id}.")
    return found
