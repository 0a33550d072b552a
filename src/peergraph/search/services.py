"""One search box: works (keyword BM25, semantic embeddings, or both fused), plus the
researchers and topics those works point to (docs/search.md has every formula).

Filters (year range, venue, type, has-abstract) apply to the works before ranking: as SQL
conditions on the keyword side and as a row mask over the in-memory vectors on the
semantic side, so both engines rank the same filtered set.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, joinedload

from peergraph.search.embeddings import EncoderUnavailable, zscore_fused, zscore_fused_within
from peergraph.search.facts import SearchFacts
from peergraph.search.keyword import ACRONYM_MARK, acronym, fts_query, query_acronyms, query_terms
from peergraph.search.lexical import WORD, LexicalIndex, Tokenizer
from peergraph.search.people import ResearcherHit, TopicHit, researcher_hits, topic_hits
from peergraph.search.semantic import SemanticIndex
from peergraph.search.text import text_index
from peergraph.works.models import Authorship, Source, Work
from peergraph.works.services import Page, author_counts, person_name, work_summary

MAX_QUERY_CHARS = 1_000
MAX_PAGE = 100
MODES = ("hybrid", "keyword", "semantic")
CANDIDATES = 1000
PEOPLE_WINDOW = 200  # top works that researcher and topic results are drawn from
# hybrid search on a partial semantic index (rank_works): the keyword ranking's head
# whose vector coverage decides, and the share of it that allows fusion within it
COVERAGE_HEAD = 100
PARTIAL_FUSION = 0.9
MIN_YEAR, MAX_YEAR = 1000, 2100
SNIPPET_WORDS = 24
# ASCII characters that are not word characters (FTS5 unicode61: letters and digits)
ASCII_SPACES = str.maketrans(
    {c: " " for c in map(chr, range(128)) if not (c.isalnum() and not c.isupper())}
)
LISTED_AUTHORS = 10  # names per hit; the count says how many there are


class SearchError(ValueError):
    """A query that cannot be run; the message is meant for the user."""


@dataclass
class WorkHit:
    work: Work
    score: float
    snippet: Markup
    authors: list[str] = field(default_factory=list)  # the first LISTED_AUTHORS
    authors_count: int = 0


@dataclass
class SearchResult(Page):
    query: str = ""
    mode: str = "hybrid"
    embedded: int = 0  # works in the semantic index
    note: str | None = None
    filters: Filters = field(default_factory=lambda: Filters())
    researchers: list[ResearcherHit] = field(default_factory=list)
    topics: list[TopicHit] = field(default_factory=list)

    @property
    def hits(self) -> list[WorkHit]:
        return self.items


@dataclass(frozen=True)
class Filters:
    year_from: int | None = None
    year_to: int | None = None
    venue: str | None = None
    type: str | None = None
    has_abstract: bool | None = None

    @property
    def active(self) -> bool:
        return any(v not in (None, "") for v in vars(self).values())

    def params(self) -> dict[str, str]:
        """The filters as URL query parameters (for links that keep them)."""
        out = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in vars(self).items()}
        return {k: v for k, v in out.items() if v not in ("None", "")}

    def describe(self) -> str:
        parts = []
        if self.year_from or self.year_to:
            parts.append(f"{self.year_from or '…'}–{self.year_to or '…'}")
        if self.venue:
            parts.append(f"venue “{self.venue}”")
        if self.type:
            parts.append(self.type)
        if self.has_abstract is not None:
            parts.append("with an abstract" if self.has_abstract else "without an abstract")
        return ", ".join(parts)


class RowMeta(Protocol):
    """Per-row metadata both in-memory indexes keep, so filters become a row mask."""

    loaded: int
    years: np.ndarray
    sources: np.ndarray
    types: np.ndarray
    has_abstract: np.ndarray


@dataclass(frozen=True)
class Resolved:
    """Filters checked against the store: the venue text resolved to source ids."""

    filters: Filters
    source_ids: tuple[int, ...] | None = None

    def sql(self) -> tuple[str, dict[str, Any]]:
        """Conditions on ``works w`` (each starting with AND) and their parameters."""
        f = self.filters
        conds: list[str] = []
        params: dict[str, Any] = {}
        if f.year_from is not None:
            conds.append("w.year >= :year_from")
            params["year_from"] = f.year_from
        if f.year_to is not None:
            conds.append("w.year <= :year_to")
            params["year_to"] = f.year_to
        if f.type:
            conds.append("w.type = :type")
            params["type"] = f.type
        if f.has_abstract is True:
            conds.append("coalesce(length(w.abstract), 0) > 0")
        elif f.has_abstract is False:
            conds.append("coalesce(length(w.abstract), 0) = 0")
        if self.source_ids is not None:
            conds.append(f"w.source_id IN ({','.join(map(str, self.source_ids)) or '0'})")
        return "".join(f" AND {c}" for c in conds), params

    def mask(self, index: RowMeta) -> np.ndarray:
        f = self.filters
        keep = np.ones(index.loaded, dtype=bool)
        if f.year_from is not None:
            keep &= index.years >= f.year_from
        if f.year_to is not None:
            keep &= (index.years <= f.year_to) & (index.years > 0)
        if f.type:
            keep &= index.types == f.type
        if f.has_abstract is not None:
            keep &= index.has_abstract == f.has_abstract
        if self.source_ids is not None:
            keep &= np.isin(index.sources, np.array(self.source_ids, dtype=np.int64))
        return keep


def work_types(session: Session) -> list[str]:
    """The work types present in the store (read from the works.type index)."""
    return list(
        session.scalars(
            select(Work.type).where(Work.type.is_not(None)).distinct().order_by(Work.type)
        )
    )


def resolve_filters(session: Session, filters: Filters) -> Resolved:
    """Check each filter value; unknown values are errors that say what is allowed."""
    for name in ("year_from", "year_to"):
        year = getattr(filters, name)
        if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
            raise SearchError(f"{name} must be a year between {MIN_YEAR} and {MAX_YEAR}.")
    if filters.year_from and filters.year_to and filters.year_from > filters.year_to:
        raise SearchError(f"year_from ({filters.year_from}) is after year_to ({filters.year_to}).")
    if filters.type:
        known = work_types(session)
        if filters.type not in known:
            raise SearchError(f"Unknown type {filters.type!r}; choose one of {', '.join(known)}.")
    source_ids = None
    if filters.venue:
        venue = filters.venue.strip()
        if len(venue) > 200:
            raise SearchError("The venue filter is longer than 200 characters.")
        source_ids = tuple(
            session.scalars(
                select(Source.id).where(
                    Source.name.icontains(venue, autoescape=True)
                    | Source.short_name.icontains(venue, autoescape=True)
                )
            )
        )
        if not source_ids:
            raise SearchError(f"No venue matches “{venue}”.")
    return Resolved(filters, source_ids)


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


def rank_works(
    session: Session,
    query: str,
    *,
    mode: str = "hybrid",
    filters: Filters | None = None,
    semantic: SemanticIndex | None = None,
    lexical: LexicalIndex | None = None,
) -> tuple[list[tuple[int, float]], int, int, str | None]:
    """The full ranking behind a search: ((work id, score) best first, total matches,
    works in the semantic index, a note for the user or None)."""
    query = validate(query, mode)
    where = resolve_filters(session, filters) if filters and filters.active else None
    embedded = 0
    dense: list[tuple[int, float]] = []
    vector: np.ndarray | None = None
    note: str | None = None
    if mode in ("semantic", "hybrid") and semantic is not None:
        try:
            vector = semantic.encode(query)
            dense = semantic.nearest(vector, CANDIDATES, where=where.mask if where else None)
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
            note = (
                "The semantic index is empty (`peergraph serve` builds it in the background;"
                " `peergraph embed` does it now); keyword results."
            )
    keyword_only = mode == "keyword" or (mode == "hybrid" and not dense)
    if mode == "semantic":
        return dense, len(dense), embedded, note
    if lexical is not None:  # the in-memory BM25 (search/lexical.py): same ranking, faster
        candidates, total = lexical.search(query, CANDIDATES, where=where.mask if where else None)
    else:
        index = text_index(session)
        try:
            candidates = index.work_candidates(session, query, CANDIDATES, where)
            total = index.work_total(session, query, where) if keyword_only else 0
        except DatabaseError as exc:  # a missing or damaged text index
            raise SearchError(
                "The keyword index is missing or damaged; run `peergraph reindex` to rebuild"
                " it (the server also does this when it starts)."
            ) from exc
        kept = _exact_acronyms(session, query, candidates)
        if len(kept) < len(candidates):
            total = len(kept) if len(candidates) < CANDIDATES else total
            candidates = kept
    if keyword_only:
        return candidates, total, embedded, note
    if semantic is None or vector is None:  # keyword_only covers both
        raise RuntimeError("hybrid ranking without the semantic index")
    # While the semantic index is being built, vectors cover only some works: fusing
    # them as they are ranks the embedded works above better keyword matches (SciFact
    # train, half embedded: 0.63 nDCG@10 against keywords' 0.71). So full fusion only
    # where the index covers the keyword ranking's head; fusion within the keyword
    # candidates where it covers most of it; keywords alone otherwise (docs/search.md).
    head = [work_id for work_id, _ in candidates[:COVERAGE_HEAD]]
    covered = float(np.mean(~np.isnan(semantic.cosines(vector, head)))) if head else 1.0
    if covered >= 1.0:
        fused = zscore_fused([candidates, dense])  # score: the sum of the two z-scores
        return fused, len(fused), embedded, note
    if covered >= PARTIAL_FUSION:
        cosines = semantic.cosines(vector, [work_id for work_id, _ in candidates])
        within = zscore_fused_within(candidates, cosines)
        return within, total if lexical is not None else len(within), embedded, note
    note = (
        f"Search by meaning is still being built ({covered:.0%} of the best keyword"
        " matches have their vectors); ranked by keywords until it covers them."
    )
    if lexical is None:
        total = text_index(session).work_total(session, query, where)
    return candidates, total, embedded, note


def _exact_acronyms(
    session: Session, query: str, candidates: list[tuple[int, float]]
) -> list[tuple[int, float]]:
    """The database's text index stems every word, so "CLIP" also finds "clipping":
    keep the candidates that write one of the query's acronyms in capitals or match one
    of its other words, as the BM25 index does (search/lexical.py). When no candidate
    writes an acronym, none is dropped (the BM25 index then matches its stem too)."""
    exact = query_acronyms(query)
    if not exact or not candidates:
        return candidates
    tokenizer = _tokenizer()
    others = {tokenizer.word(t) for t in query_terms(query) if t not in exact}
    wanted = set(exact.values())
    texts = dict(
        session.execute(
            select(Work.id, Work.title + " " + func.coalesce(Work.abstract, "")).where(
                Work.id.in_([i for i, _ in candidates])
            )
        ).all()
    )
    kept, any_exact = [], False
    for work_id, score in candidates:
        words = WORD.findall(texts.get(work_id) or "")
        if any(acronym(w) in wanted for w in words):
            any_exact = True
            kept.append((work_id, score))
        elif others and others & {tokenizer.word(w.lower()) for w in words}:
            kept.append((work_id, score))
    return kept if any_exact else candidates


def search_works(
    session: Session,
    query: str | None,
    *,
    mode: str = "hybrid",
    page: int = 1,
    per_page: int = 20,
    filters: Filters | None = None,
    semantic: SemanticIndex | None = None,
    lexical: LexicalIndex | None = None,
    facts: SearchFacts | None = None,
    people: bool = True,
) -> SearchResult:
    """Works for ``query``: BM25 (keyword), cosine of MiniLM embeddings (semantic), or both
    fused by summing z-normalised scores (hybrid; docs/search.md). Hybrid falls back to
    keyword ranking, and says so, while the semantic index is empty. With ``people`` the
    result also carries researchers and topics (first page only), drawn from ``facts``
    (search/facts.py) when given, else from the database."""
    if page > MAX_PAGE:
        raise SearchError(f"Pages stop at {MAX_PAGE}; refine the query instead.")
    query = validate(query, mode)
    ranked, total, embedded, note = rank_works(
        session, query, mode=mode, filters=filters, semantic=semantic, lexical=lexical
    )
    window = ranked[(page - 1) * per_page : page * per_page]
    ids = [work_id for work_id, _ in window]
    works = {
        w.id: w
        for w in session.scalars(
            select(Work).where(Work.id.in_(ids)).options(joinedload(Work.source))
        )
    }
    top = [work_id for work_id, _ in ranked[:PEOPLE_WINDOW]]
    show_people = people and page == 1
    # the author counts of the page's works and of the people window's, in one look-up
    counted = list(dict.fromkeys([*ids, *(top if show_people else [])]))
    counts = facts.author_counts(counted) if facts else author_counts(session, counted)
    names = _first_authors(session, ids)
    stems = query_stems(query)
    hits = [
        WorkHit(works[i], score, best_passage(works[i], stems), names[i], counts[i])
        for i, score in window
        if i in works
    ]
    return SearchResult(
        hits,
        page,
        per_page,
        int(total),
        query=query,
        mode=mode,
        embedded=embedded,
        note=note,
        filters=filters or Filters(),
        researchers=(
            researcher_hits(session, query, top, sizes=counts, facts=facts) if show_people else []
        ),
        topics=topic_hits(session, query, top, facts=facts) if show_people else [],
    )


def snippet(
    text_: str, stems: set[str], tokenizer: Tokenizer, words: int = SNIPPET_WORDS
) -> Markup | None:
    """The window of ``words`` words with the most query words, HTML-escaped, matches in
    <mark>; None when no word matches. Words match by their stem (the index's tokens)."""
    lowered = text_.lower()
    spaced: str | None = None  # ASCII text with every non-word character a space
    if text_.isascii():  # most abstracts: a translation and a split are faster than the regex
        spaced = lowered.translate(ASCII_SPACES)
        words_ = spaced.split()
    elif len(lowered) == len(text_):  # spans in the lower-cased text are the text's
        words_ = WORD.findall(lowered)
    else:  # a letter whose lower case is longer ("İ"): lower-case word by word
        lowered = text_
        words_ = [m.group().lower() for m in WORD.finditer(text_)]
    # a word's stem once per distinct word, not once per occurrence
    matching = {w for w, stem in tokenizer.stems(set(words_)).items() if stem in stems}
    exact = {s for s in stems if s.startswith(ACRONYM_MARK)}
    if exact:  # acronyms match as written ("CLIP", not "clip"): the words in their case
        written = WORD.findall(text_)
        hits = [
            i
            for i, w in enumerate(words_)
            if w in matching or (i < len(written) and acronym(written[i]) in exact)
        ]
    else:
        hits = [i for i, w in enumerate(words_) if w in matching]
    if not hits:
        return None
    best_start, best_count, last = hits[0], 0, 0
    for n, first in enumerate(hits):  # windows that start at a hit: the most hits wins
        while last < len(hits) and hits[last] < first + words:
            last += 1
        if last - n > best_count:
            best_start, best_count = first, last - n
    start = max(0, min(best_start - 3, len(words_) - words))
    end = min(len(words_), start + words)
    # the spans of the words up to the window's end (the text past it is never scanned)
    if spaced is not None:
        spans, at = [], 0
        for word in words_[:end]:  # each word is the next run of non-spaces
            at = spaced.find(word, at)
            spans.append((at, at + len(word)))
            at += len(word)
    else:
        spans = [m.span() for m in itertools.islice(WORD.finditer(lowered), end)]
    out = ["… " if start > 0 else ""]
    position = spans[start][0]
    for i in hits:  # the text between marked words is escaped in one piece
        if start <= i < end:
            a, b = spans[i]
            out.append(f"{escape(text_[position:a])}<mark>{escape(text_[a:b])}</mark>")
            position = b
    if end < len(words_):
        out.append(f"{escape(text_[position : spans[end - 1][1]])} …")
    else:
        out.append(str(escape(text_[position:])))
    return Markup("".join(out))


def query_stems(query: str) -> set[str]:
    """The index tokens of the query's words: what a passage marks (an acronym by its
    exact term, keyword.acronym)."""
    tokenizer = _tokenizer()
    exact = query_acronyms(query)
    return {exact.get(t) or tokenizer.word(t) for t in query_terms(query)}


def best_passage(work: Work, stems: set[str]) -> Markup:
    """Abstract passage with the query's words (``stems``: query_stems), else the title
    marked, else the opening."""
    tokenizer = _tokenizer()
    for field_ in (work.abstract, work.title):
        if field_:
            found = snippet(field_, stems, tokenizer)
            if found is not None:
                return found
    return Markup(escape(_opening(work)))


@functools.cache
def _tokenizer() -> Tokenizer:
    return Tokenizer()


def _first_authors(session: Session, ids: list[int]) -> dict[int, list[str]]:
    """The first LISTED_AUTHORS names of each work — without loading the thousands of
    authorships a consortium paper has."""
    names: dict[int, list[str]] = {i: [] for i in ids}
    for work_id, raw, given, family in session.execute(
        select(Authorship.work_id, Authorship.raw_name, Authorship.given, Authorship.family)
        .where(Authorship.work_id.in_(ids), Authorship.position < LISTED_AUTHORS)
        .order_by(Authorship.work_id, Authorship.position)
    ):
        names[work_id].append(person_name(raw, given, family))
    return names


def _opening(work: Work, words: int = 40) -> str:
    text_ = work.abstract or ""
    parts = text_.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def hit_json(hit: WorkHit) -> dict[str, Any]:
    return work_summary(hit.work, authors=hit.authors) | {
        "authors_count": hit.authors_count,
        "score": round(hit.score, 4),
        "snippet": str(hit.snippet),
    }
