"""An in-memory BM25 index: FTS5's ranking, computed as sparse sums instead of per row.

FTS5 ranks with an auxiliary function called once per matching row; an OR query of ten
claim words matches tens of thousands of works in the shared corpus and takes 30–100 ms.
This index precomputes each (term, work) BM25 contribution once, so a query is a few
vector additions over the postings of its terms plus a partial sort — about a
millisecond or two for the whole corpus (docs/search.md has the measurements).

It reproduces FTS5 exactly: the same tokens (Unicode letters and digits, underscore a
separator, diacritics folded, lower case, Porter stemmer), and the same formula as
``bm25(works_fts, TITLE_WEIGHT, 1)`` — per term, idf = ln((N − n + 0.5) / (n + 0.5))
(floored at 1e-6), f = TITLE_WEIGHT · tf(title) + tf(abstract), D = the work's token
count, score = idf · f · (k1 + 1) / (f + k1 · (1 − b + b · D / avgD)), k1 = 1.2, b = 0.75.

The server builds it in its background thread (≈ 15 s for 145k works) and rebuilds it
when the works change; until it is ready, and in one-shot CLI searches, FTS5 answers.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sqlalchemy import Engine, text

from peergraph.db import generation
from peergraph.search.keyword import TITLE_WEIGHT, query_terms

K1, B = 1.2, 0.75
WORD = re.compile(r"[^\W_]+")  # FTS5 unicode61: letters and digits; "_" separates


class Tokenizer:
    """FTS5's ``porter unicode61 remove_diacritics 2``, with a cache per distinct word."""

    def __init__(self) -> None:
        import Stemmer

        self._stem = Stemmer.Stemmer("porter").stemWord
        self._cache: dict[str, str] = {}

    def word(self, word: str) -> str:
        stemmed = self._cache.get(word)
        if stemmed is None:
            folded = unicodedata.normalize("NFD", word)
            folded = "".join(c for c in folded if not unicodedata.combining(c))
            size = len(folded.encode())
            # FTS5's porter wrapper leaves tokens under 3 or over 64 bytes unstemmed
            stemmed = folded if size < 3 or size > 64 else self._stem(folded)
            self._cache[word] = stemmed
        return stemmed

    def __call__(self, text_: str) -> list[str]:
        return [self.word(w) for w in WORD.findall(text_.lower())]


@dataclass(frozen=True)
class Stamp:
    """What the index was built from: the works generation (db/generation.py; every
    import batch that adds or changes works advances it) and how many works there were."""

    generation: int
    count: int


def current_stamp(engine: Engine) -> Stamp:
    with engine.connect() as conn:
        works = generation.read(conn)["works"]
        count = conn.execute(text("SELECT count(*) FROM works")).scalar_one()
    return Stamp(works, int(count))


class LexicalIndex:
    def __init__(
        self,
        ids: np.ndarray,
        postings: sparse.csr_matrix,
        vocabulary: dict[str, int],
        meta: dict[str, np.ndarray],
        stamp: Stamp,
        tokenizer: Tokenizer,
    ) -> None:
        self.ids = ids
        self.postings = postings  # terms × works, BM25 contribution per cell
        self.vocabulary = vocabulary
        self.years = meta["years"]
        self.sources = meta["sources"]
        self.types = meta["types"]
        self.has_abstract = meta["has_abstract"]
        self.stamp = stamp
        self.tokenizer = tokenizer

    @property
    def loaded(self) -> int:
        return len(self.ids)

    @classmethod
    def build(
        cls, engine: Engine, *, progress: Callable[[int, int], None] | None = None
    ) -> LexicalIndex:
        tokenizer = Tokenizer()
        stamp = current_stamp(engine)
        vocabulary: dict[str, int] = {}
        term_ids, doc_rows, freqs = array("i"), array("i"), array("f")
        ids, lengths, years, sources, has_abstract = (
            array("q"),
            array("i"),
            array("i"),
            array("q"),
            array("b"),
        )
        types: list[str] = []
        with engine.connect() as conn:
            rows = conn.execution_options(stream_results=True).execute(
                text("SELECT id, title, abstract, year, source_id, type FROM works ORDER BY id")
            )
            for row_no, (work_id, title, abstract, year, source_id, type_) in enumerate(rows):
                title_tokens = tokenizer(title or "")
                abstract_tokens = tokenizer(abstract or "")
                counts: dict[str, float] = dict(Counter(abstract_tokens))
                for token, n in Counter(title_tokens).items():
                    counts[token] = counts.get(token, 0) + TITLE_WEIGHT * n
                for token, weighted in counts.items():
                    term = vocabulary.setdefault(token, len(vocabulary))
                    term_ids.append(term)
                    doc_rows.append(row_no)
                    freqs.append(weighted)
                ids.append(work_id)
                lengths.append(len(title_tokens) + len(abstract_tokens))
                years.append(year or 0)
                sources.append(source_id or 0)
                types.append(type_ or "")
                has_abstract.append(1 if abstract else 0)
                if progress is not None and row_no % 10_000 == 0:
                    progress(row_no, stamp.count)
        n_docs = len(ids)
        terms = np.frombuffer(term_ids, dtype=np.int32)
        docs = np.frombuffer(doc_rows, dtype=np.int32)
        f = np.frombuffer(freqs, dtype=np.float32)
        doc_len = np.frombuffer(lengths, dtype=np.int32).astype(np.float32)
        avg_len = float(doc_len.mean()) if n_docs else 1.0
        df = np.bincount(terms, minlength=len(vocabulary)).astype(np.float64)
        idf = np.log((n_docs - df + 0.5) / (df + 0.5))
        idf = np.where(idf <= 0, 1e-6, idf).astype(np.float32)
        norm = K1 * (1 - B + B * doc_len[docs] / (avg_len or 1.0))
        weights = idf[terms] * f * (K1 + 1) / (f + norm)
        postings = sparse.csr_matrix(
            (weights.astype(np.float32), (terms, docs)), shape=(len(vocabulary), n_docs)
        )
        postings.sort_indices()
        meta: dict[str, np.ndarray] = {
            "years": np.frombuffer(years, dtype=np.int32).copy(),
            "sources": np.frombuffer(sources, dtype=np.int64).copy(),
            "types": np.array(types, dtype=object),
            "has_abstract": np.frombuffer(has_abstract, dtype=np.int8).astype(bool),
        }
        if progress is not None:
            progress(n_docs, n_docs)
        return cls(
            np.frombuffer(ids, dtype=np.int64).copy(), postings, vocabulary, meta, stamp, tokenizer
        )

    def search(
        self, query: str, k: int, *, where: Callable[[Any], np.ndarray] | None = None
    ) -> tuple[list[tuple[int, float]], int]:
        """((work id, BM25) best first, number of matching works)."""
        scores = np.zeros(len(self.ids), dtype=np.float32)
        indptr, indices, data = self.postings.indptr, self.postings.indices, self.postings.data
        for word in query_terms(query):
            term = self.vocabulary.get(self.tokenizer.word(word))
            if term is None:
                continue
            start, end = indptr[term], indptr[term + 1]
            scores[indices[start:end]] += data[start:end]
        if where is not None:
            scores[~where(self)] = 0.0
        matches = np.flatnonzero(scores > 0)
        if not len(matches):
            return [], 0
        k = min(k, len(matches))
        top = matches[np.argpartition(-scores[matches], k - 1)[:k]]
        top = top[np.lexsort((self.ids[top], -scores[top]))]
        return [(int(self.ids[i]), float(scores[i])) for i in top], len(matches)


class LexicalHolder:
    """The server's current LexicalIndex (None until the first build), swapped atomically."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.index: LexicalIndex | None = None
        self.build_seconds: float | None = None
        self._lock = threading.Lock()

    def fresh(self) -> LexicalIndex | None:
        """The index when it reflects the stored works (its works generation is the
        stored one), else None: FTS5, always current and ranked the same way, answers
        until the background job has rebuilt it. One small query per search."""
        index = self.index
        if index is None:
            return None
        works = generation.current(self.engine)["works"]
        return index if index.stamp.generation == works else None

    def refresh(self) -> bool:
        """Build the index when missing or stale; True when a new one was built."""
        works = generation.current(self.engine)["works"]
        if self.index is not None and self.index.stamp.generation == works:
            return False
        with self._lock:
            started = time.perf_counter()
            built = LexicalIndex.build(self.engine)
            self.build_seconds = time.perf_counter() - started
            self.index = built
        return True
