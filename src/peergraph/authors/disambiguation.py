"""Author disambiguation: which authorships are the same person.

Pure computation over arrays (no database). The method, documented with its reasons in
docs/disambiguation.md:

1. **Blocking.** Authorships are compared only within a block: romanised main family
   name + first given initial (``names.block_key``). Blocks larger than ``MAX_BLOCK`` are
   cut by spelt-out first name (``sub_blocks``).
2. **Pairs.** Inside a block, every pair whose given names are compatible is scored by
   the learned pairwise model (authors/model.py) on the features of authors/features.py:
   p(same person). Incompatible names are never scored.
3. **Constraints.** Same ORCID = must-link (distance 0). Different ORCIDs, incompatible
   given names, different names in the same non-Latin script, two authorships of one
   work, and a record owner's "not mine" = cannot-link (distance ``CANNOT``). A claim
   joins its authorships as a must-link.
4. **Clustering.** Average-linkage agglomerative clustering on the distance 1 − p;
   clusters merge while their mean distance is at most the model's threshold, chosen
   by cross-validation when the model was trained. A cannot-link inside two clusters
   puts their mean above any threshold, so constraints hold for whole clusters.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import squareform

from peergraph.authors.features import (
    INDEX,
    BlockContext,
    Corpus,
    block_context,
    pair_features,
)
from peergraph.authors.model import PairModel, packaged
from peergraph.authors.names import tokens_compatible

CANNOT = 1e6
MAX_BLOCK = 4_000  # bigger blocks are cut by first name (memory: n² distances)
PAIRS_PER_BATCH = 400_000  # pairs featurised and scored at once

__all__ = [
    "CANNOT",
    "Constraints",
    "Corpus",
    "Result",
    "candidate_pairs",
    "cluster",
    "sub_blocks",
]


@dataclass
class Constraints:
    """People's decisions as row groups. Each must-link group is one person (a verified
    claim's authorships); ``against[row]`` names the groups that row may never join (a
    "not mine", or another claimant's group)."""

    group: np.ndarray  # per row: its must-link group, −1 for none
    against: dict[int, set[int]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        n: int,
        groups: list[list[int]],
        apart: Sequence[tuple[int, int]] = (),
        separate: Sequence[tuple[int, int]] = (),
    ) -> Constraints:
        """``groups``: rows per group (a row already in an earlier group stays there);
        ``apart``: (row, group) cannot-links; ``separate``: (group, group) pairs."""
        group = np.full(n, -1, dtype=np.int64)
        for g, rows in enumerate(groups):
            for r in rows:
                if group[r] < 0:
                    group[r] = g
        against: dict[int, set[int]] = defaultdict(set)
        for row, g in apart:
            if group[row] != g:
                against[row].add(g)
        for g1, g2 in separate:
            for row in np.flatnonzero(group == g1).tolist():
                against[row].add(g2)
            for row in np.flatnonzero(group == g2).tolist():
                against[row].add(g1)
        return cls(group, dict(against))

    def rows(self) -> set[int]:
        """Every row a constraint touches."""
        return set(np.flatnonzero(self.group >= 0).tolist()) | set(self.against)


@dataclass
class Result:
    labels: np.ndarray  # cluster number per authorship (a row number of the cluster)
    confidence: np.ndarray  # 0..1 per authorship
    method: list[str]
    evidence: list[dict[str, Any]] = field(default_factory=list)


def _related_firsts(firsts: list[str]) -> dict[str, list[str]]:
    """For each distinct first given-name token (``firsts``, sorted), the tokens from it
    onwards that it may meet in a compatible pair: all of them when it is an initial or
    missing, otherwise those it is a prefix of (itself included).

    Two spelt-out first tokens neither of which is a prefix of the other ("yang"/"yi")
    make ``tokens_compatible`` false whatever follows: position by position, two full
    names must be equal or one a prefix of the other, and a joined form ("zhihui" for
    "zhi hui") starts with the other's first part. So only these pairs need the
    comparison. Each pair is listed once, from its smaller token (an initial sorts
    before the names it abbreviates, a prefix before its extensions)."""
    related: dict[str, list[str]] = {}
    for k, f in enumerate(firsts):
        end = len(firsts) if len(f) < 2 else bisect_left(firsts, f + "\U0010ffff")
        related[f] = firsts[k:end]
    return related


def _compatibility(given: list[tuple[str, ...]]) -> np.ndarray:
    """n × n: may authorships a and b be one person by their given names
    (``tokens_compatible``)? Each distinct pair of names is compared once, and only
    pairs whose first tokens are related (``_related_firsts``): in a large block most
    spelt-out first names are simply different."""
    distinct = sorted(set(given))
    index = {g: k for k, g in enumerate(distinct)}
    m = len(distinct)
    table = np.zeros((m, m), dtype=bool)
    np.fill_diagonal(table, True)
    by_first: dict[str, list[int]] = defaultdict(list)
    for k, name in enumerate(distinct):
        by_first[name[0] if name else ""].append(k)
    for f, others in _related_firsts(sorted(by_first)).items():
        # names are sorted, so those of a later first token come later
        later = [b for g in others for b in by_first[g]]
        for a in by_first[f]:
            for b in later:
                if b > a and tokens_compatible(distinct[a], distinct[b]):
                    table[a, b] = table[b, a] = True
    codes = np.array([index[g] for g in given], dtype=np.int64)
    return table[codes[:, None], codes[None, :]]


def _codes(values: list[str | None]) -> np.ndarray:
    lookup: dict[str, int] = {}
    return np.array([-1 if v is None else lookup.setdefault(v, len(lookup)) for v in values])


def candidate_pairs(corpus: Corpus, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local index pairs (a < b) of a block worth scoring: compatible given names,
    different works, and the same spelling when both are in a non-Latin script."""
    ok = _compatibility([corpus.given[r] for r in rows])
    works = corpus.work_rows[rows]
    ok &= works[:, None] != works[None, :]
    native = _codes([corpus.native[r] for r in rows])
    both = (native[:, None] >= 0) & (native[None, :] >= 0)
    ok &= ~(both & (native[:, None] != native[None, :]))
    a, b = np.nonzero(np.triu(ok, k=1))
    return a, b


def sub_blocks(corpus: Corpus, rows: list[int]) -> list[np.ndarray]:
    """A block, or for one above MAX_BLOCK authorships its pieces: one per spelt-out
    first name, and one for the authorships with an initial only (these can then join
    only each other; the price of a bounded n²)."""
    if len(rows) <= MAX_BLOCK:
        return [np.array(rows, dtype=np.int64)]
    groups: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        g = corpus.given[r]
        groups[g[0] if g and len(g[0]) > 1 else ""].append(r)
    out = []
    for key in sorted(groups):
        members = groups[key]
        for start in range(0, len(members), MAX_BLOCK):  # still huge: cut by row order
            out.append(np.array(members[start : start + MAX_BLOCK], dtype=np.int64))
    return out


def blocks_of(corpus: Corpus, only: set[str] | None = None) -> list[np.ndarray]:
    members: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(corpus.blocks):
        if only is None or key in only:
            members[key].append(i)
    out: list[np.ndarray] = []
    for key in sorted(members):
        out.extend(sub_blocks(corpus, members[key]))
    return out


@dataclass
class ScoredBlock:
    rows: np.ndarray
    a: np.ndarray  # local pair indices
    b: np.ndarray
    x: np.ndarray  # features of the pairs
    p: np.ndarray  # p(same person)


def scored_blocks(
    corpus: Corpus, blocks: list[np.ndarray], model: PairModel, *, use_upstream_ids: bool = True
) -> Iterator[ScoredBlock]:
    """Each block with its candidate pairs scored, featurised in batches of pairs."""
    batch: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    size = 0

    def flush() -> Iterator[ScoredBlock]:
        context: BlockContext = block_context(corpus, [rows for rows, _, _ in batch])
        gi = np.concatenate([rows[a] for rows, a, _ in batch]) if batch else np.array([], int)
        gj = np.concatenate([rows[b] for rows, _, b in batch]) if batch else np.array([], int)
        x = pair_features(corpus, context, gi, gj, use_upstream=use_upstream_ids)
        p = model.probability(x[:, [INDEX[f] for f in model.features]])
        start = 0
        for rows, a, b in batch:
            end = start + len(a)
            yield ScoredBlock(rows, a, b, x[start:end], p[start:end])
            start = end

    for rows in blocks:
        a, b = candidate_pairs(corpus, rows) if len(rows) > 1 else (np.array([], int),) * 2
        batch.append((rows, a, b))
        size += len(a) + len(rows)
        if size >= PAIRS_PER_BATCH:
            yield from flush()
            batch, size = [], 0
    if batch:
        yield from flush()


def distances(
    corpus: Corpus, block: ScoredBlock, constraints: Constraints | None = None
) -> np.ndarray:
    """The block's n×n distance matrix: 1 − p for scored pairs, constraints applied."""
    rows = block.rows
    n = len(rows)
    d = np.full((n, n), CANNOT, dtype=np.float64)
    d[block.a, block.b] = d[block.b, block.a] = 1.0 - block.p
    orcid = _codes([corpus.orcids[r] for r in rows])
    both = (orcid[:, None] >= 0) & (orcid[None, :] >= 0)
    d[both & (orcid[:, None] != orcid[None, :])] = CANNOT
    d[both & (orcid[:, None] == orcid[None, :])] = 0.0
    works = corpus.work_rows[rows]
    if constraints is not None:
        g = constraints.group[rows]
        d[(g[:, None] == g[None, :]) & (g[:, None] >= 0)] = 0.0
    d[works[:, None] == works[None, :]] = CANNOT
    if constraints is not None:
        for k, row in enumerate(rows.tolist()):
            for other in constraints.against.get(row, ()):
                hit = g == other
                d[k, hit] = CANNOT
                d[hit, k] = CANNOT
    np.fill_diagonal(d, 0.0)
    return d


def cluster_block(d: np.ndarray, threshold: float) -> np.ndarray:
    """Average-linkage labels (0-based) for one block's distance matrix."""
    n = d.shape[0]
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    if n == 2:
        return np.array([0, 0 if d[0, 1] <= threshold else 1], dtype=np.int64)
    tree = linkage(squareform(d, checks=False), method="average")
    # the cut: apply the merges whose height is at most the threshold (average-linkage
    # heights only grow), as fcluster(criterion="distance") does, without its checks
    parent = list(range(2 * n - 1))
    for k, (a, b, height, _size) in enumerate(tree):
        if height > threshold:
            break
        parent[int(a)] = parent[int(b)] = n + k
    labels = np.empty(n, dtype=np.int64)
    for i in range(n):
        j = i
        while parent[j] != j:
            j = parent[j]
        labels[i] = j
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


# evidence shown to people, each a group of features set to "nothing in common" together
EVIDENCE: dict[str, dict[str, float]] = {
    "coauthors": {
        "coauthors": 0.0,
        "coauthor_jaccard": 0.0,
        "coauthor_rare": 0.0,
        "coauthor_2hop": 0.0,
    },
    "wording": {"title_cos": 0.0},
    "venue": {"same_venue": np.nan, "venue_cos": np.nan},
    "affiliation": {"shared_institution": np.nan, "affiliation_cos": np.nan},
    "topics": {"topic_cos": np.nan},
    "references": {"shared_references": np.nan},
    "upstream-id": {"same_upstream": np.nan},
    "rare-name": {
        "first_count": np.nan,
        "family_count": np.nan,
        "full_count": np.nan,
        "family_firsts": np.nan,
        "first_families": np.nan,
    },
    "years": {"year_gap": np.nan},
}


def strongest(model: PairModel, x: np.ndarray) -> list[list[tuple[str, float]]]:
    """For each pair (row of x), the evidence that raises p(same) most, with how much:
    the drop in p when that evidence is replaced by what a pair with nothing in common
    would show. At most three, each worth at least 0.01."""
    if len(x) == 0:
        return []
    cols = [INDEX[f] for f in model.features]
    base = model.probability(x[:, cols])
    names = list(EVIDENCE)
    drops = np.zeros((len(x), len(names)), dtype=np.float64)
    for k, name in enumerate(names):
        # only the pairs that show this evidence: for the others the neutral values are
        # the ones they have, and the drop is exactly 0
        shows = np.zeros(len(x), dtype=bool)
        for feature, neutral in EVIDENCE[name].items():
            column = x[:, INDEX[feature]]
            shows |= ~np.isnan(column) if np.isnan(neutral) else column != neutral
        if not shows.any():
            continue
        changed = x[shows]
        for feature, neutral in EVIDENCE[name].items():
            changed[:, INDEX[feature]] = neutral
        drops[shows, k] = base[shows] - model.probability(changed[:, cols])
    out = []
    for row in drops:
        order = np.argsort(-row, kind="stable")
        out.append([(names[k], round(float(row[k]), 3)) for k in order[:3] if row[k] > 0.01])
    return out


def cluster(
    corpus: Corpus,
    *,
    model: PairModel | None = None,
    threshold: float | None = None,
    use_upstream_ids: bool = True,
    only_blocks: set[str] | None = None,
    constraints: Constraints | None = None,
    explain: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Cluster every block (or ``only_blocks``); ``progress(done, total)`` as it goes.

    Rows outside ``only_blocks`` keep label −1. ``constraints`` hold whatever the model
    says: a must-link group ends in one cluster (across blocks too), and a row is never
    left in a cluster with a group it is against."""
    model = model or packaged()
    cut = model.threshold_distance if threshold is None else threshold
    n = len(corpus)
    labels = np.full(n, -1, dtype=np.int64)
    confidence = np.ones(n, dtype=np.float32)
    method = ["only-one"] * n
    evidence: list[dict[str, Any]] = [{} for _ in range(n)]
    blocks = blocks_of(corpus, only_blocks)
    total = sum(len(rows) for rows in blocks)
    done = 0
    best_pairs: list[tuple[int, int, np.ndarray]] = []  # (row, partner row, features)
    for block in scored_blocks(corpus, blocks, model, use_upstream_ids=use_upstream_ids):
        rows = block.rows
        done += len(rows)
        if progress is not None and done % 5000 < len(rows):
            progress(done, total)
        if len(rows) == 1:
            labels[rows[0]] = rows[0]
            continue
        d = distances(corpus, block, constraints)
        local = cluster_block(d, cut)
        first: dict[int, int] = {}
        for k, lab in enumerate(local.tolist()):
            first.setdefault(lab, int(rows[k]))
        labels[rows] = [first[lab] for lab in local.tolist()]
        n_rows = len(rows)
        pair_keys = block.a.astype(np.int64) * n_rows + block.b  # sorted: row-major triu
        same = local[:, None] == local[None, :]
        np.fill_diagonal(same, False)
        together = same.any(axis=1)
        inside = np.where(same, d, np.inf)
        partners = np.argmin(inside, axis=1)
        best = inside[np.arange(n_rows), partners]
        np.fill_diagonal(inside, np.inf)  # reuse the buffer for "closest other" of loners
        np.copyto(inside, d, where=~np.eye(n_rows, dtype=bool))
        closest = inside.min(axis=1)
        del inside, same
        for k, row in enumerate(rows.tolist()):
            if not together[k]:
                near = float(closest[k])
                confidence[row] = float(np.clip(near, 0.0, 1.0))
                method[row] = "model"
                evidence[row] = {"alone": True, "closest": round(1 - min(near, 1.0), 3)}
                continue
            partner = int(partners[k])
            dist = float(best[k])
            confidence[row] = float(np.clip(1.0 - dist, 0.0, 1.0))
            other = int(rows[partner])
            orcid = corpus.orcids[row]
            if dist == 0.0 and orcid and orcid == corpus.orcids[other]:
                method[row] = "orcid"
            elif (
                use_upstream_ids
                and corpus.upstream_ids[row]
                and corpus.upstream_ids[row] == corpus.upstream_ids[other]
            ):
                method[row] = "upstream-id"
            else:
                method[row] = "model"
            evidence[row] = {"via": int(corpus.authorship_ids[other]), "p": round(1 - dist, 3)}
            key = min(k, partner) * n_rows + max(k, partner)
            at = int(np.searchsorted(pair_keys, key))
            if at < len(pair_keys) and pair_keys[at] == key:
                # a copy: a view would keep the whole batch's feature matrix alive
                best_pairs.append((row, other, block.x[at].copy()))
    if explain and best_pairs:
        x = np.stack([f for _, _, f in best_pairs])
        reasons = strongest(model, x)
        plain = _plain(x)
        for (row, _partner, _feats), why, shown in zip(best_pairs, reasons, plain, strict=True):
            evidence[row].update(shown)
            evidence[row]["strongest"] = [name for name, _ in why]
    if constraints is not None:
        _enforce(constraints, labels, confidence, method, evidence)
    if progress is not None:
        progress(total, total)
    return Result(labels, confidence, method, evidence)


def _enforce(
    constraints: Constraints,
    labels: np.ndarray,
    confidence: np.ndarray,
    method: list[str],
    evidence: list[dict[str, Any]],
) -> None:
    """Make the constraints hold exactly: join each group's clusters (a group can span
    sub-blocks), then take a row that shares a cluster with a group it is against out
    on its own."""
    members: dict[int, list[int]] = defaultdict(list)
    for row in np.flatnonzero((constraints.group >= 0) & (labels >= 0)).tolist():
        members[int(constraints.group[row])].append(row)
    for rows in members.values():
        joined = np.unique(labels[rows])
        if len(joined) > 1:
            labels[np.isin(labels, joined)] = joined.min()
        for row in rows:
            method[row] = "claim"
            confidence[row] = 1.0
            evidence[row] = {**evidence[row], "claim": True}
    fresh = max(len(labels), int(labels.max(initial=-1)) + 1)
    for row, groups in sorted(constraints.against.items()):
        if labels[row] < 0:
            continue
        if any(g in members and labels[members[g][0]] == labels[row] for g in groups):
            labels[row] = fresh
            fresh += 1
            confidence[row] = 1.0
            method[row] = "not-mine"
            evidence[row] = {"alone": True, "not_mine": True}


SHOWN = (
    "coauthors",
    "title_cos",
    "same_venue",
    "shared_institution",
    "affiliation_cos",
    "topic_cos",
    "shared_references",
    "same_upstream",
    "year_gap",
    "full_count",
)


def _plain(x: np.ndarray) -> list[dict[str, Any]]:
    """Each best pair's evidence as stored on the link (JSON-friendly; unknowns left out)."""
    values = np.round(x[:, [INDEX[name] for name in SHOWN]].astype(np.float64), 3).tolist()
    return [
        {name: v for name, v in zip(SHOWN, row, strict=True) if v == v}  # v != v: nan
        for row in values
    ]
