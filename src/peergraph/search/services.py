"""Searching works by keyword (BM25 over title + abstract, Porter-stemmed).

Semantic retrieval and hybrid fusion, researcher and topic results come in the next step
(issue 4); the modes are validated here already so callers get one clear error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import select, text
from sqlalchemy.orm import Session, selectinload

from peergraph.search.keyword import fts_query
from peergraph.works.models import Work
from peergraph.works.services import Page

MAX_QUERY_CHARS = 1_000
MAX_PAGE = 100
MODES = ("keyword", "hybrid", "semantic")
AVAILABLE_MODES = ("keyword",)
_OPEN, _CLOSE = "\x02", "\x03"


class SearchError(ValueError):
    """A query that cannot be run; the message is meant for the user."""


@dataclass
class WorkHit:
    work: Work
    score: float
    snippet: Markup


@dataclass
class SearchResult(Page):
    query: str = ""
    mode: str = "keyword"

    @property
    def hits(self) -> list[WorkHit]:
        return self.items


def validate(query: str | None, mode: str) -> str:
    query = (query or "").strip()
    if not query:
        raise SearchError("Type something to search for.")
    if len(query) > MAX_QUERY_CHARS:
        raise SearchError(
            f"The query is {len(query):,} characters long; the limit is {MAX_QUERY_CHARS:,}."
        )
    if mode not in MODES:
        raise SearchError(f"Unknown mode {mode!r}; choose one of {', '.join(MODES)}.")
    if mode not in AVAILABLE_MODES:
        raise SearchError(
            f"The {mode} mode needs the semantic index, which this version does not build yet; "
            "use mode=keyword."
        )
    if fts_query(query) is None:
        raise SearchError(
            "The query has no searchable words (only stop words, punctuation or symbols)."
        )
    return query


def search_works(
    session: Session, query: str | None, *, mode: str = "keyword", page: int = 1, per_page: int = 20
) -> SearchResult:
    query = validate(query, mode)
    if page > MAX_PAGE:
        raise SearchError(f"Pages stop at {MAX_PAGE}; refine the query instead.")
    if session.get_bind().dialect.name != "sqlite":
        raise SearchError("Keyword search needs the SQLite store in this version.")
    match = fts_query(query)
    total = session.execute(
        text("SELECT count(*) FROM works_fts WHERE works_fts MATCH :q"), {"q": match}
    ).scalar_one()
    rows = session.execute(
        text(
            "SELECT rowid, bm25(works_fts) AS score,"
            " snippet(works_fts, -1, :open, :close, ' … ', 24) AS snippet"
            " FROM works_fts WHERE works_fts MATCH :q ORDER BY score LIMIT :limit OFFSET :offset"
        ),
        {
            "q": match,
            "open": _OPEN,
            "close": _CLOSE,
            "limit": per_page,
            "offset": (page - 1) * per_page,
        },
    ).all()
    works = {
        w.id: w
        for w in session.scalars(
            select(Work)
            .where(Work.id.in_([r[0] for r in rows]))
            .options(selectinload(Work.source), selectinload(Work.authorships))
        )
    }
    hits = [
        WorkHit(works[work_id], -score, highlight(snippet))
        for work_id, score, snippet in rows
        if work_id in works
    ]
    return SearchResult(hits, page, per_page, total, query=query, mode=mode)


def highlight(snippet: str | None) -> Markup:
    """Escape the snippet, then turn the match markers into <mark> elements."""
    escaped = str(escape(snippet or ""))
    return Markup(escaped.replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>"))


def hit_json(hit: WorkHit) -> dict[str, Any]:
    work = hit.work
    return {
        "id": work.id,
        "title": work.title,
        "year": work.year,
        "type": work.type,
        "venue": work.source.name if work.source else None,
        "authors": [a.raw_name for a in work.authorships],
        "score": round(hit.score, 4),
        "snippet": str(hit.snippet),
    }
