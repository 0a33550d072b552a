"""Keyword retrieval: SQLite FTS5 with the Porter stemmer and FTS5's BM25 ranking.

FTS5's ``bm25()`` is Okapi BM25 (k1 = 1.2, b = 0.75, Robertson–Spärck Jones IDF). Queries
are tokenised here, stop words dropped, and every remaining term quoted and OR-ed, so
user input can never be read as FTS5 query syntax.
"""

from __future__ import annotations

import re
import sqlite3

_TOKEN = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    (
        "a an and are as at be been but by can could did do does for from had has have how i "
        "if in into is it its may might more most no not of on or our over shall should so "
        "such than that the their them then there these they this those through to too under "
        "up very was we were what when where which while who whom why will with would you"
    ).split()
)
MAX_QUERY_TERMS = 64


def query_terms(text: str) -> list[str]:
    """Lower-cased terms without stop words or duplicates, at most 64."""
    seen: list[str] = []
    for token in _TOKEN.findall(text.lower()):
        if token not in STOPWORDS and token not in seen:
            seen.append(token)
        if len(seen) == MAX_QUERY_TERMS:
            break
    return seen


# Acronyms are matched exactly, not stemmed: "CLIP" is a model, "clipping" is not it.
# The index keeps, next to each word's stem, a term of its own for every word written in
# capitals ("CLIP", and "GANs" for "GAN"), marked by a character the tokenizer
# never produces (it yields letters and digits only).
ACRONYM_MARK = "="
MAX_ACRONYM = 12
SHOUTING_WORDS = 3  # a text of this many words or more, mostly in capitals, is shouting


def acronym(word: str) -> str | None:
    """The exact-match index term of an original-case word, or None: 'CLIP' → '=clip',
    'GANs' → '=gan'; not 'Clip', 'A', 'U' of 'U.S.' (two capitals at least, no lower-case
    letter but a plural 's'), and not a word with a digit ('GPT3', 'GATA3'): no English
    word stems to one, so such words match as any other word does, in any case (mouse
    genes are written 'Gata3')."""
    core = word[:-1] if len(word) > 2 and word[-1] == "s" else word
    if not 2 <= len(core) <= MAX_ACRONYM or not core.isupper() or not core.isalpha():
        return None
    return ACRONYM_MARK + core.lower()


def acronyms(words: list[str]) -> list[str | None]:
    """Each word's acronym term (None for ordinary words). A text of SHOUTING_WORDS
    words or more with over half of them in capitals ("DEEP LEARNING FOR NLP", a title
    typed in capitals) is shouting: none of its words counts as an acronym."""
    found = [acronym(w) for w in words]
    if len(words) >= SHOUTING_WORDS and 2 * sum(a is not None for a in found) > len(words):
        return [None] * len(words)
    return found


# a word of two capitals or more (ASCII), and no other letter but a plural "s":
# the candidates for acronym() in a stored text, found in one pass
CAPITALS = re.compile(r"(?<![^\W_])[A-Z][A-Z]+s?(?![^\W_])")


def exact_terms(text: str, words: int) -> list[str]:
    """The acronym terms of a stored text of ``words`` words (the index adds them next to
    the words' stems), as ``acronyms`` reads it: none when the text is shouting."""
    found = [a for w in CAPITALS.findall(text) if (a := acronym(w)) is not None]
    if words >= SHOUTING_WORDS and 2 * len(found) > words:
        return []
    return found


def query_acronyms(text: str) -> dict[str, str]:
    """The query's acronyms: {lower-case query term (as query_terms gives it): its exact
    index term}."""
    words = [w for w in _TOKEN.findall(text) if w.lower() not in STOPWORDS]
    return {w.lower(): a for w, a in zip(words, acronyms(words), strict=True) if a is not None}


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression: quoted terms joined by OR; None when nothing is left."""
    terms = query_terms(text)
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
# BM25F-style column weight: a query word in the title counts three times one in the
# abstract. Chosen on SciFact train with a 2-fold check (weights 1, 2, 3, 4, 6; 3 was best
# or within 0.001 of best on both halves): hybrid nDCG@10 0.740 → 0.746, keyword 0.701 →
# 0.709 (docs/search.md).
TITLE_WEIGHT = 3.0


def create_document_index(conn: sqlite3.Connection, table: str = "docs_fts") -> None:
    """A stand-alone FTS5 table (doc id + title + text), for evaluations."""
    conn.execute(
        f"CREATE VIRTUAL TABLE {table} USING fts5(doc_id UNINDEXED, title, body, "
        f"tokenize = '{FTS_TOKENIZER}')"
    )


def search_documents(
    conn: sqlite3.Connection, text: str, *, k: int = 100, table: str = "docs_fts"
) -> list[tuple[str, float]]:
    """(doc id, BM25 score) best first; FTS5's bm25() is negative, smaller is better."""
    match = fts_query(text)
    if match is None:
        return []
    rows = conn.execute(
        f"SELECT doc_id, bm25({table}, 0, {TITLE_WEIGHT}, 1) AS score FROM {table}"
        f" WHERE {table} MATCH ?"
        " ORDER BY score LIMIT ?",
        (match, k),
    ).fetchall()
    return [(doc_id, -score) for doc_id, score in rows]
