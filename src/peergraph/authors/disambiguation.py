"""Author disambiguation: which authorships are the same person.

Pure computation over arrays (no database). The method, documented with its reasons in
docs/disambiguation.md:

1. **Blocking.** Authorships are compared only within a block: folded main family name +
   first given initial (``block_key``).
2. **Pair score** inside a block, a sum of log-odds-like terms::

       s(i, j) = W_PRIOR·prior(i, j) + W_COAUTHOR·min(shared co-authors, 3)
               + W_TOPIC·cos(text_i, text_j) + W_VENUE·[same venue]
               + W_INSTITUTION·[shared institution] + W_UPSTREAM·[same upstream id]
               − W_UPSTREAM_DIFF·[different upstream ids]
               − W_YEARS·max(0, |Δyear| − YEAR_GRACE)/10 + BIAS

   ``prior`` is the name's specificity, −ln λ with λ = f(first given name) ·
   f(family name) · (number of distinct names): the expected number of *other* people
   who would carry this name by chance. A rare name ("Yoshua Bengio") starts confident;
   a common one ("Yang Liu") needs co-authors or topics to merge.
3. **Constraints.** Same ORCID = must-link. Different ORCIDs, incompatible given names
   ("Robert L." / "Robert E.", "Alec" / "Andrew") or two authorships of the same work =
   cannot-link, enforced for whole clusters.
4. **Clustering.** Pairs with s > THRESHOLD are merged in decreasing order of s
   (single linkage, Kruskal-style), skipping any merge that would break a constraint.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from peergraph.authors.names import tokens_compatible

W_PRIOR = 1.0
W_COAUTHOR = 2.0
W_TOPIC = 4.0
W_VENUE = 0.5
W_INSTITUTION = 2.0
W_UPSTREAM = 6.0
W_UPSTREAM_DIFF = 1.0
W_YEARS = 1.0
YEAR_GRACE = 10
BIAS = -1.5
THRESHOLD = 0.0
AVERAGE_THRESHOLD = -1.0
PAIR_FLOOR = 10.0  # clip cannot-links/must-links before averaging
PAIR_CEILING = 10.0
PRIOR_CLIP = 4.0
MUST = 1e6
CANNOT = -1e6


@dataclass
class Corpus:
    """Everything disambiguation looks at, one row per authorship."""

    authorship_ids: np.ndarray  # int64
    work_rows: np.ndarray  # row of the authorship's work in the work arrays
    blocks: list[str]
    given: list[tuple[str, ...]]
    family_keys: list[str]
    orcids: list[str | None]
    upstream_ids: list[str | None]
    work_years: np.ndarray  # float, nan when unknown
    work_venues: np.ndarray  # int, -1 when unknown
    text: sparse.csr_matrix  # works × terms, rows L2-normalised
    coauthors: sparse.csr_matrix  # authorships × co-author name keys (0/1)
    institutions: sparse.csr_matrix  # authorships × institutions (0/1)


@dataclass
class Result:
    labels: np.ndarray  # cluster number per authorship
    confidence: np.ndarray  # 0..1 per authorship
    method: list[str]
    evidence: list[dict[str, Any]] = field(default_factory=list)


def name_priors(corpus: Corpus) -> np.ndarray:
    """Name specificity per authorship: the smaller of two estimates, clipped to ±4.

    * −ln λ, λ = f(first given) · f(family) · (distinct names): how many other people
      would carry this full name by chance (an initial alone is not scored this way);
    * 4 − ln k, k = distinct full first names in the block: a crowded block ("liu_y":
      Yang, Yi, Ying, …) is a common name; a block with one ("ostendorf_m": Mari) lets
      "M. Ostendorf" join Mari Ostendorf.
    """
    n = len(corpus.blocks)
    firsts = [g[0] if g else "" for g in corpus.given]
    given_counts = Counter(firsts)
    family_counts = Counter(corpus.family_keys)
    distinct = len(set(zip(firsts, corpus.family_keys, strict=True))) or 1
    block_names: dict[str, set[str]] = defaultdict(set)
    for first, key in zip(firsts, corpus.blocks, strict=True):
        if len(first) > 1:
            block_names[key].add(first)
    priors = np.empty(n, dtype=np.float32)
    for i, (first, family) in enumerate(zip(firsts, corpus.family_keys, strict=True)):
        crowding = PRIOR_CLIP - math.log(max(len(block_names[corpus.blocks[i]]), 1))
        prior = crowding
        if len(first) > 1:
            lam = (given_counts[first] / n) * (family_counts[family] / n) * distinct
            prior = min(prior, -math.log(max(lam, 1e-12)))
        priors[i] = max(-PRIOR_CLIP, min(PRIOR_CLIP, prior))
    return priors


def cluster(
    corpus: Corpus,
    *,
    use_upstream_ids: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Cluster every block; ``progress(authorships done, total)`` is called as it goes."""
    n = len(corpus.blocks)
    labels = np.arange(n, dtype=np.int64)
    confidence = np.ones(n, dtype=np.float32)
    method = ["only-one"] * n
    evidence: list[dict[str, Any]] = [{} for _ in range(n)]
    priors = name_priors(corpus)
    members: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(corpus.blocks):
        members[key].append(i)
    done = 0
    for rows in members.values():
        done += len(rows)
        if progress is not None and done % 5000 < len(rows):
            progress(done, n)
        if len(rows) > 1:
            _cluster_block(
                corpus,
                np.array(rows),
                priors,
                use_upstream_ids,
                labels,
                confidence,
                method,
                evidence,
            )
    if progress is not None:
        progress(n, n)
    return Result(labels, confidence, method, evidence)


def _codes(values: list[str | None]) -> np.ndarray:
    lookup: dict[str, int] = {}
    return np.array([-1 if v is None else lookup.setdefault(v, len(lookup)) for v in values])


def pair_scores(
    corpus: Corpus, rows: np.ndarray, priors: np.ndarray, use_upstream_ids: bool
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The n×n score matrix of one block, and the feature matrices behind it."""
    works = corpus.work_rows[rows]
    text = corpus.text[works]
    topic = (text @ text.T).toarray().astype(np.float32)
    co = corpus.coauthors[rows]
    shared = (co @ co.T).toarray().astype(np.float32)
    inst = corpus.institutions[rows]
    shared_inst = (inst @ inst.T).toarray() > 0
    venues = corpus.work_venues[works]
    same_venue = (venues[:, None] == venues[None, :]) & (venues[:, None] >= 0)
    years = corpus.work_years[works]
    gap = np.abs(years[:, None] - years[None, :])
    gap = np.nan_to_num(gap, nan=0.0)
    prior = np.minimum(priors[rows][:, None], priors[rows][None, :])

    score = (
        W_PRIOR * prior
        + W_COAUTHOR * np.minimum(shared, 3)
        + W_TOPIC * topic
        + W_VENUE * same_venue
        + W_INSTITUTION * shared_inst
        - W_YEARS * np.maximum(0.0, gap - YEAR_GRACE) / 10
        + BIAS
    ).astype(np.float64)
    if use_upstream_ids:
        up = _codes([corpus.upstream_ids[r] for r in rows])
        both = (up[:, None] >= 0) & (up[None, :] >= 0)
        score += W_UPSTREAM * (both & (up[:, None] == up[None, :]))
        score -= W_UPSTREAM_DIFF * (both & (up[:, None] != up[None, :]))
    orcid = _codes([corpus.orcids[r] for r in rows])
    both = (orcid[:, None] >= 0) & (orcid[None, :] >= 0)
    score[both & (orcid[:, None] == orcid[None, :])] = MUST
    score[both & (orcid[:, None] != orcid[None, :])] = CANNOT
    score[works[:, None] == works[None, :]] = CANNOT  # one work, two people
    compatible = _name_compatibility([corpus.given[r] for r in rows])
    score[~compatible] = CANNOT
    np.fill_diagonal(score, CANNOT)
    return score, {
        "coauthors": shared,
        "topic": topic,
        "venue": same_venue,
        "institution": shared_inst,
    }


def _name_compatibility(given: list[tuple[str, ...]]) -> np.ndarray:
    distinct = sorted(set(given))
    index = {g: k for k, g in enumerate(distinct)}
    m = len(distinct)
    table = np.ones((m, m), dtype=bool)
    for a in range(m):
        for b in range(a + 1, m):
            ok = tokens_compatible(distinct[a], distinct[b])
            table[a, b] = table[b, a] = ok
    codes = np.array([index[g] for g in given])
    return table[codes[:, None], codes[None, :]]


class _Clusters:
    """Union-find whose unions respect the constraints, and average linkage: two clusters
    of several authorships merge only if their mean pair score clears AVERAGE_THRESHOLD,
    so one lucky pair cannot chain two people together."""

    def __init__(self, corpus: Corpus, rows: np.ndarray, score: np.ndarray) -> None:
        self.parent = list(range(len(rows)))
        self.members = [[i] for i in range(len(rows))]
        self.orcids = [{corpus.orcids[r]} - {None} for r in rows]
        self.names = [{corpus.given[r]} for r in rows]
        self.works = [{int(corpus.work_rows[r])} for r in rows]
        self.score = score
        self.refused: set[tuple[int, int, int, int]] = set()

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> bool:
        a, b = self.find(i), self.find(j)
        if a == b:
            return True
        key = (a, b, len(self.members[a]), len(self.members[b]))
        if key in self.refused:
            return False
        if not self._allowed(a, b):
            self.refused.add(key)
            return False
        if len(self.members[a]) < len(self.members[b]):
            a, b = b, a
        self.parent[b] = a
        self.members[a].extend(self.members[b])
        self.orcids[a] |= self.orcids[b]
        self.names[a] |= self.names[b]
        self.works[a] |= self.works[b]
        return True

    def _allowed(self, a: int, b: int) -> bool:
        if len(self.orcids[a] | self.orcids[b]) > 1 or self.works[a] & self.works[b]:
            return False
        if not all(tokens_compatible(x, y) for x in self.names[a] for y in self.names[b]):
            return False
        if len(self.members[a]) > 1 or len(self.members[b]) > 1:
            block = self.score[np.ix_(self.members[a], self.members[b])]
            if block.max() >= MUST / 2:
                return True  # a shared ORCID
            if float(np.clip(block, -PAIR_FLOOR, PAIR_CEILING).mean()) <= AVERAGE_THRESHOLD:
                return False
        return True


def _cluster_block(
    corpus: Corpus,
    rows: np.ndarray,
    priors: np.ndarray,
    use_upstream_ids: bool,
    labels: np.ndarray,
    confidence: np.ndarray,
    method: list[str],
    evidence: list[dict[str, Any]],
) -> None:
    score, features = pair_scores(corpus, rows, priors, use_upstream_ids)
    upper = np.triu(score > THRESHOLD, k=1)
    ii, jj = np.nonzero(upper)
    order = np.argsort(-score[ii, jj], kind="stable")
    clusters = _Clusters(corpus, rows, score)
    for k in order:
        clusters.union(int(ii[k]), int(jj[k]))
    roots = [clusters.find(i) for i in range(len(rows))]
    root_label = {root: int(rows[root]) for root in set(roots)}
    same = np.array(roots)[:, None] == np.array(roots)[None, :]
    np.fill_diagonal(same, False)
    for local, row in enumerate(rows):
        labels[row] = root_label[roots[local]]
        inside = np.where(same[local], score[local], -np.inf)
        if not same[local].any():
            best_other = float(score[local].max())
            confidence[row] = 1.0 - _sigmoid(best_other)
            method[row] = "model"
            evidence[row] = {"alone": True, "closest_score": round(best_other, 2)}
            continue
        partner = int(np.argmax(inside))
        best = float(inside[partner])
        orcid = corpus.orcids[row]
        if best >= MUST / 2 and orcid:
            method[row], confidence[row] = "orcid", 1.0
        elif (
            use_upstream_ids
            and corpus.upstream_ids[row]
            and (corpus.upstream_ids[row] == corpus.upstream_ids[rows[partner]])
        ):
            method[row], confidence[row] = "upstream-id", _sigmoid(min(best, 20.0))
        else:
            method[row], confidence[row] = "model", _sigmoid(min(best, 20.0))
        evidence[row] = {
            "via": int(corpus.authorship_ids[rows[partner]]),
            "score": round(min(best, 99.0), 2),
            "coauthors": int(features["coauthors"][local, partner]),
            "topic": round(float(features["topic"][local, partner]), 2),
            "venue": bool(features["venue"][local, partner]),
            "institution": bool(features["institution"][local, partner]),
            "name_prior": round(float(min(priors[row], priors[rows[partner]])), 2),
        }


def _sigmoid(x: float) -> float:
    x = max(-30.0, min(30.0, x))
    return 1.0 / (1.0 + math.exp(-x))
