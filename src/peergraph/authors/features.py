"""Pair features for author disambiguation, computed for many pairs at once.

A pair's features depend only on the two authorships, their name block and a few
whole-store name counts. The counts enter as log₂ bins (``count_bin``), so a block's
features change only when its own authorships change or one of its names crosses a
power of two; that is what lets an incremental rebuild re-cluster only the blocks that
changed and still equal a full rebuild (docs/disambiguation.md, "Incremental rebuilds").
Text similarity is TF-IDF whose IDF is counted inside the block, for the same reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy import sparse

from peergraph.authors import prior
from peergraph.authors.names import first_name, joined_given, tokens_compatible

FEATURES: tuple[str, ...] = (
    "given_exact",  # both given names spelt out and equal (hyphens ignored)
    "given_initial",  # one of the two first names is an initial only
    "given_parts",  # fewest given-name parts of the two
    "middle_agree",  # 1 both have a second given name (compatible); 0 one has; nan neither
    "native_same",  # both written in a non-Latin script, identically; nan otherwise
    "first_count",  # log₂ bin: authorships in the store with this first given name
    "family_count",  # log₂ bin: authorships with this family name
    "full_count",  # log₂ bin: authorships with this first + family name
    "family_firsts",  # log₂ bin: distinct first names seen with this family name
    "first_families",  # log₂ bin: distinct family names seen with this first name
    "prior_first",  # log₂ bin: the first given name in a large corpus (authors/prior.py)
    "prior_family",  # log₂ bin: the family name there
    "prior_first_families",  # log₂ bin: distinct family names with the first name there
    "prior_family_firsts",  # log₂ bin: distinct first names with the family name there
    "block_size",  # log₂ bin: authorships in the block
    "block_firsts",  # distinct spelt-out first names in the block
    "coauthors",  # shared co-authors (full names 1, family + initial ½)
    "coauthor_jaccard",
    "coauthor_rare",  # shared co-authors weighted 1/log₂ bin of how common the name is
    "coauthor_2hop",  # cosine of co-authors' co-authors, same family name (own left out)
    "authors_max",  # log₂ bin: the longer of the two author lists
    "same_venue",  # nan when either work has no venue
    "venue_cos",  # venue-name wording (IDF inside the block), nan when either has none
    "year_gap",  # |Δ year|, nan when unknown
    "shared_institution",  # nan when either has none
    "affiliation_cos",  # affiliation wording, nan when either has none
    "title_cos",  # title + abstract TF-IDF cosine (IDF inside the block)
    "topic_cos",  # source-given topics, nan when either has none
    "shared_references",  # nan when either work has no references
    "same_upstream",  # same upstream author id: 1/0, nan when either lacks one
)
INDEX = {name: i for i, name in enumerate(FEATURES)}
HASH_BITS = 20


def count_bin(counts: np.ndarray) -> np.ndarray:
    """1 + ⌊log₂ c⌋ for c ≥ 1, 0 for 0."""
    counts = np.asarray(counts, dtype=np.float64)
    out = np.zeros(counts.shape, dtype=np.float32)
    positive = counts >= 1
    out[positive] = 1 + np.floor(np.log2(counts[positive]))
    return out


@dataclass
class Corpus:
    """Everything disambiguation looks at: one row per authorship, one per work."""

    authorship_ids: np.ndarray  # int64
    work_rows: np.ndarray  # row of the authorship's work in the work arrays
    blocks: list[str]
    given: list[tuple[str, ...]]
    family_keys: list[str]
    native: list[str | None]
    orcids: list[str | None]
    upstream_ids: list[str | None]
    first_bins: np.ndarray  # float32 per authorship, nan for an initial
    family_bins: np.ndarray
    full_bins: np.ndarray
    family_firsts: np.ndarray  # float32 bins per authorship
    first_families: np.ndarray  # nan for an initial
    work_years: np.ndarray  # float, nan when unknown
    work_venues: np.ndarray  # int, -1 when unknown
    work_authors: np.ndarray  # int: authors on the work
    titles: sparse.csr_matrix  # works × hashed words, sublinear tf
    venue_words: sparse.csr_matrix  # works × hashed venue-name words
    topics: sparse.csr_matrix  # works × topics (source-given), may be empty
    references: sparse.csr_matrix  # works × cited works, binary, may be empty
    coauthors: sparse.csr_matrix  # authorships × co-author name keys (weights)
    coauthor_bins: np.ndarray  # per co-author key: log₂ bin of its count in the store
    coauthor_hops: sparse.csr_matrix  # authorships × keys: co-authors' co-authors (scoped_hops)
    institutions: sparse.csr_matrix  # authorships × institutions (0/1)
    affiliations: sparse.csr_matrix  # authorships × hashed affiliation words

    def __len__(self) -> int:
        return len(self.blocks)

    @cached_property
    def codes(self) -> NameCodes:
        return NameCodes.of(self)

    @cached_property
    def coauthor_sets(self) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
        """The co-author matrix as 0/1 sets (float64), and the same weighted by each key's
        rarity (1 / its count bin): what pairs share, and how rare what they share is."""
        binary = sparse.csr_matrix(self.coauthors, dtype=np.float64, copy=True)
        binary.data = np.ones_like(binary.data)
        rarity = (1.0 / np.maximum(self.coauthor_bins, 1.0)).astype(np.float64)
        return binary, sparse.csr_matrix(binary.multiply(rarity[None, :]), dtype=np.float64)

    @cached_property
    def prior_bins(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The shipped name-frequency table's bins (``NamePrior.bins``)."""
        return prior.packaged().bins(self.given, self.family_keys)


@dataclass
class NameCodes:
    """Per-authorship integer codes of the name parts, so pairs compare integers."""

    joined: np.ndarray  # code of the spelt-out given names joined, -1 for an initial
    parts: np.ndarray  # number of given-name parts
    middle: np.ndarray  # code of the given names after the first, -1 for none
    native: np.ndarray  # code of the native-script name, -1 for none
    upstream: np.ndarray  # code of the upstream author id, -1 for none
    middles: list[tuple[str, ...]]  # code → the middle names

    @classmethod
    def of(cls, corpus: Corpus) -> NameCodes:
        def coded(values: list[Any]) -> tuple[np.ndarray, list[Any]]:
            lookup: dict[Any, int] = {}
            out = np.array(
                [-1 if not v else lookup.setdefault(v, len(lookup)) for v in values],
                dtype=np.int64,
            )
            return out, list(lookup)

        joined, _ = coded([joined_given(g) for g in corpus.given])
        middle, middles = coded([g[1:] for g in corpus.given])
        native, _ = coded(corpus.native)
        upstream, _ = coded(corpus.upstream_ids)
        parts = np.array([len(g) for g in corpus.given], dtype=np.float32)
        return cls(joined, parts, middle, native, upstream, middles)


def name_bins(
    given: list[tuple[str, ...]],
    family_keys: list[str],
    counts: NameCounts,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    firsts = [first_name(g) for g in given]
    first = np.array([counts.first[f] if f else np.nan for f in firsts], dtype=np.float64)
    fam = np.array([counts.family[k] for k in family_keys], dtype=np.float64)
    full = np.array(
        [counts.full[(f, k)] if f else np.nan for f, k in zip(firsts, family_keys, strict=True)],
        dtype=np.float64,
    )

    def binned(values: np.ndarray) -> np.ndarray:
        out = count_bin(np.nan_to_num(values, nan=0.0))
        out[np.isnan(values)] = np.nan
        return out

    family_firsts = np.array([counts.family_firsts[k] for k in family_keys], dtype=np.float64)
    first_families = np.array(
        [counts.first_families[f] if f else np.nan for f in firsts], dtype=np.float64
    )
    return binned(first), binned(fam), binned(full), binned(family_firsts), binned(first_families)


@dataclass
class NameCounts:
    """How many authorships in the whole store carry each first name, family name, full
    name and co-author key."""

    first: Counter[str]
    family: Counter[str]
    full: Counter[tuple[str, str]]
    coauthor: Counter[str]
    family_firsts: Counter[str]  # distinct first names per family name
    first_families: Counter[str]  # distinct family names per first name

    @classmethod
    def of(
        cls, given: list[tuple[str, ...]], family_keys: list[str], coauthor_keys: list[str]
    ) -> NameCounts:
        firsts = [first_name(g) for g in given]
        full = Counter((f, k) for f, k in zip(firsts, family_keys, strict=True) if f)
        return cls(
            first=Counter(f for f in firsts if f),
            family=Counter(family_keys),
            full=full,
            coauthor=Counter(coauthor_keys),
            family_firsts=Counter(k for _f, k in full),
            first_families=Counter(f for f, _k in full),
        )


def hashed_words(texts: list[str], *, stop_words: bool = True) -> sparse.csr_matrix:
    """Rows of hashed word counts with sublinear tf (1 + ln tf); stateless, so a text's
    row never depends on the other texts."""
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(
        n_features=2**HASH_BITS,
        alternate_sign=False,
        norm=None,
        stop_words="english" if stop_words else None,
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9\-]+\b",
        dtype=np.float32,
    )
    matrix = vectorizer.transform(texts).tocsr()
    matrix.data = 1 + np.log(matrix.data)
    return matrix


def block_tfidf(rows_matrix: sparse.csr_matrix, block_ids: np.ndarray) -> sparse.csr_matrix:
    """L2-normalised TF-IDF rows, the IDF counted inside each row's block:
    idf = ln((1 + n_block) / (1 + df_block)) + 1."""
    m = rows_matrix.tocsr(copy=True)
    if m.nnz == 0:
        return m
    row_of_nz = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    keys = block_ids[row_of_nz].astype(np.int64) * (m.shape[1] + 1) + m.indices
    _, inverse, df = np.unique(keys, return_inverse=True, return_counts=True)
    sizes = np.bincount(block_ids, minlength=int(block_ids.max()) + 1)
    n_block = sizes[block_ids[row_of_nz]]
    m.data = m.data * (np.log((1 + n_block) / (1 + df[inverse])) + 1).astype(np.float32)
    return normalise_rows(m)


def normalise_rows(m: sparse.csr_matrix) -> sparse.csr_matrix:
    """Rows scaled to unit L2 norm (empty rows stay empty): cosine = dot product."""
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return sparse.csr_matrix(sparse.diags(1 / norms) @ m)


def coauthor_key(given: tuple[str, ...], family: str, block: str) -> str:
    """A co-author is known by full name when the source gives one ("qun liu"), by the
    ambiguous family + initial otherwise ("liu_q")."""
    return f"{given[0]} {family}" if given and len(given[0]) > 1 else block


def coauthor_hops(coauthors: sparse.csr_matrix, own_key: list[int]) -> sparse.csr_matrix:
    """Per authorship, the co-authors of its co-authors (key co-occurrence over the whole
    store), its own name key removed, L2-normalised: two papers of one person often share
    no co-author but co-authors who work together."""
    binary = sparse.csr_matrix(coauthors, dtype=np.float64, copy=True)
    binary.data = np.ones_like(binary.data)
    # key × key: how often two names sign a paper together
    together = (binary.T @ binary).tocsr()
    together.setdiag(0)
    together.eliminate_zeros()
    together.data = np.log1p(together.data)
    hops = (binary @ together).tocsr()
    rows = [i for i, k in enumerate(own_key) if k >= 0]
    own = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float64), (rows, [own_key[i] for i in rows])),
        shape=hops.shape,
    )
    hops = hops - hops.multiply(own)
    hops.eliminate_zeros()
    # float64 throughout: sums over keys come out the same whatever the column order
    # (a full load and an incremental one order the keys differently)
    return normalise_rows(hops)


def scoped_hops(
    coauthors: sparse.csr_matrix, scope_codes: np.ndarray, own_key: list[int]
) -> sparse.csr_matrix:
    """``coauthor_hops`` with co-occurrence counted inside each authorship's scope only:
    the papers of its family name (``names.family_scope``). Two papers of a "Wang, Y."
    are close when their co-authors sign a third paper of some Wang together. Local, so
    a block's features change only with its family's papers (what incremental rebuilds
    rely on); docs/disambiguation.md compares it with store-wide co-occurrence."""
    m = coauthors.tocoo()
    width = np.int64(max(coauthors.shape[1], 1))
    pairs = scope_codes[m.row].astype(np.int64) * width + m.col
    own_pairs = np.array(
        [int(scope_codes[i]) * width + k if k >= 0 else -1 for i, k in enumerate(own_key)],
        dtype=np.int64,
    )
    distinct, columns = np.unique(pairs, return_inverse=True)
    qualified = sparse.csr_matrix(
        (m.data, (m.row, columns)), shape=(coauthors.shape[0], max(len(distinct), 1))
    )
    where = np.searchsorted(distinct, own_pairs)
    found = (own_pairs >= 0) & (where < len(distinct))
    found[found] &= distinct[where[found]] == own_pairs[found]
    own = np.where(found, where, -1)
    return coauthor_hops(qualified, own.tolist())


def _rowdot(
    a: sparse.csr_matrix, b: sparse.csr_matrix, i: np.ndarray, j: np.ndarray, chunk: int = 50_000
) -> np.ndarray:
    """Row dot products a[i[k]] · b[j[k]], in chunks: the row copies of a batch of word
    vectors would otherwise take about a gigabyte. Summed in float64, so the result does
    not depend on the order of the columns (which differs between a full load and an
    incremental one), then stored as float32."""
    out = np.empty(len(i), dtype=np.float32)
    for start in range(0, len(i), chunk):
        part = slice(start, start + chunk)
        rows_a = sparse.csr_matrix(a[i[part]], dtype=np.float64)
        out[part] = np.asarray(rows_a.multiply(b[j[part]]).sum(axis=1)).ravel()
    return out


GRAM_PAIRS = 10_000  # a block with this many pairs may take its dot products from a product
GRAM_ROWS = 4_000  # of at most this many rows (the n × n product is held dense: ≤ 128 MB)
GRAM_COST = 1.0  # when pairs × stored values per row ≥ GRAM_COST × n² (measured: below)


class _PairDots:
    """Row dot products for pairs that lie inside blocks: ``dot(a, b, index)`` is
    a[index[i[k]]] · b[index[j[k]]] for every pair k, as ``_rowdot`` gives it.

    A large block's pairs are a good share of its n² (every compatible pair is scored).
    Copying two sparse rows per pair then costs more than the block's product matrix
    a[rows] @ b[rows]ᵀ, computed once, whenever pairs × stored values per row exceed
    n²: on the four largest "Wang" blocks of the shared corpus twice over (2,400–3,200
    rows, 200,000–330,000 compatible pairs) the co-authors-of-co-authors vectors (about
    140 values a row) took 0.12–0.32 s instead of 0.76–1.28 s, the titles (about 80)
    0.33–0.52 s instead of 0.73–1.12 s, and sparse rows (venues, co-authors: about 5)
    were as fast or faster row by row. Both ways multiply the same values and sum them in
    float64 in the same column order before storing float32, so the features are the
    same bit for bit (tests/unit/test_authors.py checks it). Every other pair is
    gathered row by row, in one ``_rowdot`` call."""

    def __init__(self, i: np.ndarray, j: np.ndarray, group: np.ndarray) -> None:
        self.i, self.j = i, j
        self.big: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        rest = np.ones(len(i), dtype=bool)
        if len(i) >= GRAM_PAIRS:
            counts = np.bincount(group[group >= 0])
            for g in np.flatnonzero(counts >= GRAM_PAIRS).tolist():
                at = np.flatnonzero(group == g)
                rows, inverse = np.unique(np.concatenate([i[at], j[at]]), return_inverse=True)
                if len(rows) > GRAM_ROWS:
                    continue
                self.big.append((at, rows, inverse[: len(at)], inverse[len(at) :]))
                rest[at] = False
        self.rest = np.flatnonzero(rest)
        self.products = 0  # blocks × matrices that took the product path

    def dot(
        self, a: sparse.csr_matrix, b: sparse.csr_matrix, index: np.ndarray | None = None
    ) -> np.ndarray:
        pick = (lambda r: r) if index is None else (lambda r: index[r])
        if not self.big:
            return _rowdot(a, b, pick(self.i), pick(self.j))
        out = np.empty(len(self.i), dtype=np.float32)
        by_rows = [self.rest]
        stored = np.diff(a.indptr) + np.diff(b.indptr)
        for at, rows, pi, pj in self.big:
            if len(at) * stored[pick(rows)].mean() / 2 < GRAM_COST * len(rows) ** 2:
                by_rows.append(at)
                continue
            sub_a = sparse.csr_matrix(a[pick(rows)], dtype=np.float64)
            sub_b = sparse.csr_matrix(b[pick(rows)], dtype=np.float64)
            gram = (sub_a @ sub_b.T).toarray()
            out[at] = gram[pi, pj]
            del gram
            self.products += 1
        rest = np.concatenate(by_rows)
        if len(rest):
            out[rest] = _rowdot(a, b, pick(self.i[rest]), pick(self.j[rest]))
        return out


def _nnz(m: sparse.csr_matrix, rows: np.ndarray) -> np.ndarray:
    return np.diff(m.indptr)[rows]


@dataclass
class BlockContext:
    """Per-authorship vectors whose weighting depends on the block (TF-IDF inside the
    block) and per-block counts, for a set of blocks being clustered together."""

    block_of: np.ndarray  # block number per corpus row (-1 outside these blocks)
    local: np.ndarray  # row in the matrices below per corpus row (-1 outside)
    block_sizes: np.ndarray
    block_firsts: np.ndarray
    titles: sparse.csr_matrix  # rows × words, block TF-IDF
    affiliations: sparse.csr_matrix
    venues: sparse.csr_matrix


def block_context(corpus: Corpus, blocks: list[np.ndarray]) -> BlockContext:
    n = len(corpus)
    block_of = np.full(n, -1, dtype=np.int64)
    sizes = np.zeros(len(blocks), dtype=np.float32)
    firsts = np.zeros(len(blocks), dtype=np.float32)
    for b, rows in enumerate(blocks):
        block_of[rows] = b
        sizes[b] = len(rows)
        firsts[b] = len(
            {corpus.given[r][0] for r in rows if corpus.given[r] and len(corpus.given[r][0]) > 1}
        )
    inside = np.flatnonzero(block_of >= 0)
    local = np.full(n, -1, dtype=np.int64)
    local[inside] = np.arange(len(inside))
    titles = block_tfidf(corpus.titles[corpus.work_rows[inside]], block_of[inside])
    affiliations = block_tfidf(corpus.affiliations[inside], block_of[inside])
    venues = block_tfidf(corpus.venue_words[corpus.work_rows[inside]], block_of[inside])
    return BlockContext(block_of, local, sizes, firsts, titles, affiliations, venues)


def pair_features(
    corpus: Corpus,
    context: BlockContext,
    i: np.ndarray,
    j: np.ndarray,
    *,
    use_upstream: bool = True,
) -> np.ndarray:
    """The feature matrix (pairs × FEATURES) for corpus rows i[k], j[k]."""
    p = len(i)
    x = np.full((p, len(FEATURES)), np.nan, dtype=np.float32)
    if p == 0:
        return x
    col = INDEX
    codes = corpus.codes
    ji, jj = codes.joined[i], codes.joined[j]
    x[:, col["given_exact"]] = (ji >= 0) & (ji == jj)
    x[:, col["given_initial"]] = ~((ji >= 0) & (jj >= 0))
    x[:, col["given_parts"]] = np.minimum(codes.parts[i], codes.parts[j])
    mi, mj = codes.middle[i], codes.middle[j]
    both = (mi >= 0) & (mj >= 0)
    middle = np.where((mi >= 0) | (mj >= 0), 0.0, np.nan)
    if both.any():  # each distinct pair of middle names compared once
        width = np.int64(len(codes.middles))
        keys, inverse = np.unique(mi[both] * width + mj[both], return_inverse=True)
        agree = np.array(
            [
                tokens_compatible(codes.middles[int(k // width)], codes.middles[int(k % width)])
                for k in keys.tolist()
            ],
            dtype=np.float64,
        )
        middle[both] = agree[inverse]
    x[:, col["middle_agree"]] = middle
    ni, nj = codes.native[i], codes.native[j]
    x[:, col["native_same"]] = np.where((ni >= 0) & (ni == nj), 1.0, np.nan)
    x[:, col["first_count"]] = np.fmax(corpus.first_bins[i], corpus.first_bins[j])
    x[:, col["family_count"]] = np.fmax(corpus.family_bins[i], corpus.family_bins[j])
    x[:, col["full_count"]] = np.fmax(corpus.full_bins[i], corpus.full_bins[j])
    x[:, col["family_firsts"]] = np.fmax(corpus.family_firsts[i], corpus.family_firsts[j])
    x[:, col["first_families"]] = np.fmax(corpus.first_families[i], corpus.first_families[j])
    prior_names = ("prior_first", "prior_family", "prior_first_families", "prior_family_firsts")
    for name, bins in zip(prior_names, corpus.prior_bins, strict=True):
        x[:, col[name]] = np.fmax(bins[i], bins[j])
    blocks = context.block_of[i]
    x[:, col["block_size"]] = count_bin(context.block_sizes[blocks])
    x[:, col["block_firsts"]] = context.block_firsts[blocks]

    dots = _PairDots(i, j, blocks)
    co = corpus.coauthors
    x[:, col["coauthors"]] = dots.dot(co, co)
    binary, rare = corpus.coauthor_sets
    shared = dots.dot(binary, binary)  # co-authors in common: small whole numbers
    union = _nnz(binary, i) + _nnz(binary, j) - shared
    with np.errstate(invalid="ignore", divide="ignore"):
        x[:, col["coauthor_jaccard"]] = np.where(union > 0, shared / np.maximum(union, 1), 0.0)
    x[:, col["coauthor_rare"]] = dots.dot(rare, binary)
    hops = corpus.coauthor_hops
    x[:, col["coauthor_2hop"]] = dots.dot(hops, hops)
    wi, wj = corpus.work_rows[i], corpus.work_rows[j]
    x[:, col["authors_max"]] = count_bin(
        np.maximum(corpus.work_authors[wi], corpus.work_authors[wj])
    )
    vi, vj = corpus.work_venues[wi], corpus.work_venues[wj]
    x[:, col["same_venue"]] = np.where((vi >= 0) & (vj >= 0), (vi == vj).astype(np.float32), np.nan)
    ven = context.venues
    both = (_nnz(ven, context.local[i]) > 0) & (_nnz(ven, context.local[j]) > 0)
    x[:, col["venue_cos"]] = np.where(both, dots.dot(ven, ven, context.local), np.nan)
    x[:, col["year_gap"]] = np.abs(corpus.work_years[wi] - corpus.work_years[wj])

    inst = corpus.institutions
    has_i, has_j = _nnz(inst, i) > 0, _nnz(inst, j) > 0
    both = has_i & has_j
    x[:, col["shared_institution"]] = np.where(both, dots.dot(inst, inst) > 0, np.nan)
    aff = context.affiliations
    li, lj = context.local[i], context.local[j]
    both = (_nnz(aff, li) > 0) & (_nnz(aff, lj) > 0)
    x[:, col["affiliation_cos"]] = np.where(both, dots.dot(aff, aff, context.local), np.nan)
    x[:, col["title_cos"]] = dots.dot(context.titles, context.titles, context.local)
    topics = corpus.topics
    if topics.nnz:
        both = (_nnz(topics, wi) > 0) & (_nnz(topics, wj) > 0)
        x[:, col["topic_cos"]] = np.where(both, dots.dot(topics, topics, corpus.work_rows), np.nan)
    refs = corpus.references
    if refs.nnz:
        both = (_nnz(refs, wi) > 0) & (_nnz(refs, wj) > 0)
        x[:, col["shared_references"]] = np.where(
            both, dots.dot(refs, refs, corpus.work_rows), np.nan
        )
    if use_upstream:
        ui, uj = codes.upstream[i], codes.upstream[j]
        x[:, col["same_upstream"]] = np.where((ui >= 0) & (uj >= 0), ui == uj, np.nan)
    return x
