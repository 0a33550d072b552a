"""Searching works: keyword (BM25), semantic (embeddings) and hybrid (both, fused).

Researcher and topic results come in a later step of issue 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import select, text
from sqlalchemy.orm import Session, selectinload

from peergraph.search.embeddings import EncoderUnavailable, zscore_fusion
from peergraph.search.keyword import fts_query
from peergraph.search.semantic import SemanticIndex
from peergraph.works.models import Work
from peergraph.works.services import Page, work_summary

MAX_QUERY_CHARS = 1_000
MAX_PAGE = 100
MODES = ("hybrid", "keyword", "semantic")
CANDIDATES = 1000
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
    mode: str = "hybrid"
    embedded: int = 0  # works in the semantic index
    note: str | None = None

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
    if fts_query(query) is None:
        raise SearchError(
            "The query has no searchable words (only stop words, punctuation or symbols)."
        )
    return query


def _keyword_candidates(session: Session, match: str, limit: int) -> list[tuple[int, float]]:
    rows = session.execute(
        text(
            "SELECT rowid, bm25(works_fts) AS score FROM works_fts WHERE works_fts MATCH :q"
            " ORDER BY score LIMIT :limit"
        ),
        {"q": match, "limit": limit},
    ).all()
    return [(int(r[0]), -float(r[1])) for r in rows]


def search_works(
    session: Session,
    query: str | None,
    *,
    mode: str = "hybrid",
    page: int = 1,
    per_page: int = 20,
    semantic: SemanticIndex | None = None,
) -> SearchResult:
    """Works for ``query``: BM25 (keyword), cosine of MiniLM embeddings (semantic), or both
    fused by summing z-normalised scores (hybrid; docs/search.md). Hybrid falls back to
    keyword ranking, and says so, while the semantic index is empty."""
    query = validate(query, mode)
    if page > MAX_PAGE:
        raise SearchError(f"Pages stop at {MAX_PAGE}; refine the query instead.")
    if session.get_bind().dialect.name != "sqlite":
        raise SearchError("Keyword search needs the SQLite store in this version.")
    match = fts_query(query) or ""  # validate() guarantees a non-empty expression
    embedded: int = 0
    dense: list[tuple[int, float]] = []
    note: str | None = None
    if mode in ("semantic", "hybrid") and semantic is not None:
        try:
            dense = semantic.search(query, CANDIDATES)  # [] while the index is empty
        except EncoderUnavailable as exc:
            if mode == "semantic":
                raise SearchError(str(exc)) from exc
            note = (
                "Search by meaning is unavailable here (model packages missing); keyword results."
            )
        embedded = semantic.loaded
    if mode in ("semantic", "hybrid"):
        if not embedded and mode == "semantic":
            raise SearchError("The semantic index is empty: run `peergraph embed` first.")
        if not embedded and note is None:
            note = "The semantic index is empty (run `peergraph embed`); keyword results."
    keyword_only = mode == "keyword" or (mode == "hybrid" and not dense)
    if mode == "semantic":
        ranked = dense
    elif keyword_only:
        ranked = _keyword_candidates(session, match, CANDIDATES)
    else:
        lexical = _keyword_candidates(session, match, CANDIDATES)
        fused = zscore_fusion([[(str(i), s) for i, s in lexical], [(str(i), s) for i, s in dense]])
        scores = dict(lexical)
        ranked = [(int(i), scores.get(int(i), 0.0)) for i in fused]
    if keyword_only:
        total = session.execute(
            text("SELECT count(*) FROM works_fts WHERE works_fts MATCH :q"), {"q": match}
        ).scalar_one()
    else:
        total = len(ranked)
    window = ranked[(page - 1) * per_page : page * per_page]
    ids = [work_id for work_id, _ in window]
    works = {
        w.id: w
        for w in session.scalars(
            select(Work)
            .where(Work.id.in_(ids))
            .options(selectinload(Work.source), selectinload(Work.authorships))
        )
    }
    snippets: dict[int, str] = dict(
        session.execute(
            text(
                "SELECT rowid, snippet(works_fts, -1, :open, :close, ' … ', 24) FROM works_fts"
                f" WHERE works_fts MATCH :q AND rowid IN ({','.join(str(i) for i in ids) or '0'})"
            ),
            {"q": match, "open": _OPEN, "close": _CLOSE},
        ).all()
    )
    hits = [
        WorkHit(works[i], score, highlight(snippets.get(i) or _opening(works[i])))
        for i, score in window
        if i in works
    ]
    return SearchResult(
        hits, page, per_page, int(total), query=query, mode=mode, embedded=embedded, note=note
    )


def _opening(work: Work, words: int = 40) -> str:
    text_ = work.abstract or ""
    parts = text_.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def highlight(snippet: str | None) -> Markup:
    """Escape the snippet, then turn the match markers into <mark> elements."""
    escaped = str(escape(snippet or ""))
    return Markup(escaped.replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>"))


def hit_json(hit: WorkHit) -> dict[str, Any]:
    return work_summary(hit.work) | {"score": round(hit.score, 4), "snippet": str(hit.snippet)}
