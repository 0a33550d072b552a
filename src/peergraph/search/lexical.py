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
One deliberate difference: a query word written as an acronym ("CLIP") matches the works
that write it in capitals, through a term of its own (keyword.acronym), not its stem.

The server's background thread builds it (≈ 15 s for 145k works) when the works change,
as files that every process on the machine maps (search/files.py): one process builds,
the others map its files. Until it is ready, and in one-shot CLI searches, the database's
own text index answers (search/text.py: FTS5, the same ranking, on SQLite).
"""

from __future__ import annotations

import functools
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
from sqlalchemy import Engine, text

from peergraph.db import generation
from peergraph.search import files
from peergraph.search.files import IndexFolder
from peergraph.search.keyword import TITLE_WEIGHT, exact_terms, query_acronyms, query_terms
from peergraph.search.lag import Lag

K1, B = 1.2, 0.75
WORD = re.compile(r"[^\W_]+")  # FTS5 unicode61: letters and digits; "_" separates


@functools.lru_cache(maxsize=1)
def _tokenizer() -> Tokenizer:
    return Tokenizer()


CACHED_WORDS = 200_000  # a long-running server sees the corpus's whole vocabulary


class Tokenizer:
    """FTS5's ``porter unicode61 remove_diacritics 2``, with a cache per distinct word
    (emptied when it reaches CACHED_WORDS, so a server's memory stays bounded)."""

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
            if len(self._cache) >= CACHED_WORDS:
                self._cache.clear()
            self._cache[word] = stemmed
        return stemmed

    def stems(self, words: set[str]) -> dict[str, str]:
        """Each (lower-case) word's stem; the cache answers most without a call."""
        cache = self._cache
        return {w: cache.get(w) or self.word(w) for w in words}

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


class Terms:
    """The vocabulary, sorted, as one UTF-8 blob plus offsets (arrays a file can hold):
    a term's row in the postings is its position, found by binary search."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob = blob
        self.offsets = offsets

    @classmethod
    def from_sorted(cls, terms: list[str]) -> Terms:
        encoded = [t.encode() for t in terms]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return cls(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def _term(self, i: int) -> bytes:
        return self.blob[self.offsets[i] : self.offsets[i + 1]].tobytes()

    def get(self, term: str) -> int | None:
        wanted = term.encode()
        low, high = 0, len(self)
        while low < high:
            middle = (low + high) // 2
            if self._term(middle) < wanted:
                low = middle + 1
            else:
                high = middle
        return low if low < len(self) and self._term(low) == wanted else None


TYPE_WIDTH = 32  # characters kept of a work type (the longest CSL type has 22)


class LexicalIndex:
    """Postings (terms × works, the BM25 contribution of each cell, CSR arrays), the
    works' ids and filter columns, and the Terms: every part a plain array, so the index
    can be written to files and mapped by many processes (search/files.py)."""

    KIND = "lexical-2"  # 2: acronyms as exact terms (files of another format are not read)

    def __init__(self, arrays: dict[str, np.ndarray], stamp: Stamp) -> None:
        self.ids = arrays["ids"]
        self.indptr = arrays["indptr"]
        self.indices = arrays["indices"]
        self.data = arrays["data"]
        self.terms = Terms(arrays["term_blob"], arrays["term_offsets"])
        self.years = arrays["years"]
        self.sources = arrays["sources"]
        self.types = arrays["types"]
        self.has_abstract = arrays["has_abstract"]
        self.stamp = stamp
        self.tokenizer = _tokenizer()

    @property
    def loaded(self) -> int:
        return len(self.ids)

    @classmethod
    def load(
        cls, engine: Engine, folder: IndexFolder | None = None, *, may_build: bool = True
    ) -> LexicalIndex | None:
        """The index at the stored works generation: mapped from ``folder``'s files, or
        built (and, with a folder, published there); None while another process builds,
        or when there are no such files and not ``may_build``."""
        stamp = current_stamp(engine)
        found = files.refresh(
            folder,
            cls.KIND,
            {"works": stamp.generation},
            build=lambda: cls.build_arrays(engine, stamp),
            may_build=may_build,
        )
        if found is None:
            return None
        arrays, meta = found
        return cls(arrays, Stamp(meta["generations"]["works"], int(meta["count"])))

    @classmethod
    def build(cls, engine: Engine) -> LexicalIndex:
        """An index in this process's memory only."""
        stamp = current_stamp(engine)
        arrays, _ = cls.build_arrays(engine, stamp)
        return cls(arrays, stamp)

    @staticmethod
    def build_arrays(
        engine: Engine, stamp: Stamp, *, progress: Callable[[int, int], None] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        tokenizer = Tokenizer()  # its word cache goes with it: not the shared one
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
                # acronyms also as exact terms ("=clip"), weighted as their fields are
                for exact in exact_terms(abstract or "", len(abstract_tokens)):
                    counts[exact] = counts.get(exact, 0) + 1
                for token, n in Counter(title_tokens).items():
                    counts[token] = counts.get(token, 0) + TITLE_WEIGHT * n
                for exact in exact_terms(title or "", len(title_tokens)):
                    counts[exact] = counts.get(exact, 0) + TITLE_WEIGHT
                for token, weighted in counts.items():
                    term = vocabulary.setdefault(token, len(vocabulary))
                    term_ids.append(term)
                    doc_rows.append(row_no)
                    freqs.append(weighted)
                ids.append(work_id)
                lengths.append(len(title_tokens) + len(abstract_tokens))
                years.append(year or 0)
                sources.append(source_id or 0)
                types.append((type_ or "")[:TYPE_WIDTH])
                has_abstract.append(1 if abstract else 0)
                if progress is not None and row_no % 10_000 == 0:
                    progress(row_no, stamp.count)
        n_docs = len(ids)
        # rows in sorted term order, so a term's row is its position in Terms
        ordered = sorted(vocabulary)
        rank = np.empty(len(vocabulary), dtype=np.int32)
        rank[[vocabulary[t] for t in ordered]] = np.arange(len(ordered), dtype=np.int32)
        terms = rank[np.frombuffer(term_ids, dtype=np.int32)] if n_docs else rank[:0]
        docs = np.frombuffer(doc_rows, dtype=np.int32)
        f = np.frombuffer(freqs, dtype=np.float32)
        doc_len = np.frombuffer(lengths, dtype=np.int32).astype(np.float32)
        avg_len = float(doc_len.mean()) if n_docs else 1.0
        df = np.bincount(terms, minlength=len(vocabulary)).astype(np.float64)
        idf = np.log((n_docs - df + 0.5) / (df + 0.5))
        idf = np.where(idf <= 0, 1e-6, idf).astype(np.float32)
        norm = K1 * (1 - B + B * doc_len[docs] / (avg_len or 1.0))
        weights = idf[terms] * f * (K1 + 1) / (f + norm)
        from scipy import sparse  # building only: a serving process never loads scipy

        postings = sparse.csr_matrix(
            (weights.astype(np.float32), (terms, docs)), shape=(len(vocabulary), n_docs)
        )
        postings.sort_indices()
        vocab = Terms.from_sorted(ordered)
        if progress is not None:
            progress(n_docs, n_docs)
        arrays = {
            "ids": np.frombuffer(ids, dtype=np.int64).copy(),
            "indptr": postings.indptr.astype(np.int64),
            "indices": postings.indices.astype(np.int32),
            "data": postings.data.astype(np.float32),
            "term_blob": vocab.blob,
            "term_offsets": vocab.offsets,
            "years": np.frombuffer(years, dtype=np.int32).copy(),
            "sources": np.frombuffer(sources, dtype=np.int64).copy(),
            "types": np.array(types, dtype=f"<U{TYPE_WIDTH}"),
            "has_abstract": np.frombuffer(has_abstract, dtype=np.int8).astype(bool),
        }
        return arrays, {"count": n_docs}

    def search(
        self, query: str, k: int, *, where: Callable[[Any], np.ndarray] | None = None
    ) -> tuple[list[tuple[int, float]], int]:
        """((work id, BM25) best first, number of matching works)."""
        scores = np.zeros(len(self.ids), dtype=np.float32)
        indptr, indices, data = self.indptr, self.indices, self.data
        exact = query_acronyms(query)
        for word in query_terms(query):
            # an acronym matches only itself ("CLIP", not "clipping"), unless no work
            # writes it in capitals: then its stem, as any other word
            term = self.terms.get(exact[word]) if word in exact else None
            if term is None:
                term = self.terms.get(self.tokenizer.word(word))
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
        return list(zip(self.ids[top].tolist(), scores[top].tolist(), strict=True)), len(matches)


class LexicalHolder:
    """The server's current LexicalIndex (None until the first build), swapped atomically."""

    def __init__(self, engine: Engine, folder: IndexFolder | None = None) -> None:
        self.engine = engine
        self.folder = folder
        self.index: LexicalIndex | None = None
        self.build_seconds: float | None = None
        self.lag = Lag()
        self._lock = threading.Lock()

    def fresh(self, current: dict[str, int] | None = None) -> LexicalIndex | None:
        """The index when it reflects the stored works (its works generation is the
        stored one, or the one in ``current``) or lags them by less than search/lag.py
        allows, else None: the database's full-text index, always current and ranked
        the same way, answers until the background job has rebuilt it. One small query
        per search."""
        index = self.index
        if index is None:
            return None
        works = (current or generation.current(self.engine))["works"]
        if index.stamp.generation == works:
            return index
        return index if self.lag.tolerated() else None

    def refresh(self) -> bool:
        """Map (or build) the index when missing or stale; True when it changed. False
        also while another process builds it (the next look maps its files), and while
        the works keep changing and nobody published files at their generation yet
        (search/lag.py)."""
        works = generation.current(self.engine)["works"]
        if self.index is not None and self.index.stamp.generation == works:
            self.lag.caught_up()
            return False
        may_build = self.index is None or self.lag.may_build(works)
        with self._lock:
            started = time.perf_counter()
            loaded = LexicalIndex.load(self.engine, self.folder, may_build=may_build)
            if loaded is None:
                return False
            self.build_seconds = time.perf_counter() - started
            self.index = loaded
            self.lag.caught_up()
        return True
