"""Declarative base shared by every domain's models, and small helpers for their queries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, MetaData, Result
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names keep Alembic's batch mode (SQLite) and PostgreSQL migrations sane.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


T = TypeVar("T")


def in_chunks(values: Iterable[T], size: int = 5_000) -> Iterator[list[T]]:
    """``values`` sorted, in lists short enough for an SQL ``IN`` (PostgreSQL takes at
    most 65,535 parameters in one statement)."""
    ordered = sorted(values)  # type: ignore[type-var]
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run through ``Session.execute`` changed."""
    return cast(CursorResult[Any], result).rowcount


def load_all_models() -> None:
    """Import every domain's models so ``Base.metadata`` is complete (Alembic, tests)."""
    import peergraph.accounts.models
    import peergraph.authors.models
    import peergraph.claims.models
    import peergraph.conversations.models
    import peergraph.db.generation
    import peergraph.feeds.models
    import peergraph.ingest.models
    import peergraph.jobs.models
    import peergraph.profiles.models
    import peergraph.search.models
    import peergraph.works.models  # noqa: F401
