"""Training the pairwise model from gold files, and cross-validating it by name.

``peergraph train disambiguation`` (cli) calls ``train``. The recipe (docs/disambiguation.md,
"The learned model", and the data card docs/disambiguation-model.md):

* Pairs are sampled inside blocks from labelled authorships only, among pairs the
  clustering would score (compatible given names, different works); per block at most
  ``PAIRS_PER_BLOCK`` positives and as many negatives, so that big blocks and big gold
  sets do not drown the rest.
* scikit-learn's HistGradientBoostingClassifier with fixed, modest settings.
* The clustering threshold is picked by cross-validation over whole name blocks: out-of-
  fold probabilities for every block, clustered at each candidate threshold, mean B³ F1
  over the gold sets; the best threshold wins. It is never tuned on a figure it reports.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from peergraph.authors import disambiguation
from peergraph.authors.evaluation import Scores, b_cubed, load_labelled
from peergraph.authors.features import FEATURES, INDEX, block_context, pair_features
from peergraph.authors.model import PairModel, export

PAIRS_PER_BLOCK = 1_500
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.30, 0.86, 0.05))
PARAMS: dict[str, Any] = {
    "max_iter": 150,
    "learning_rate": 0.08,
    "max_leaf_nodes": 24,
    "max_depth": 7,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
}
# Shared co-authors, references and upstream ids can only make two authorships more
# alike: the trees are constrained to be monotone in them, so that a combination the
# gold sets rarely show (a very common name with strong co-author evidence in a small
# store) cannot land in a leaf that reads the evidence backwards.
MONOTONE: dict[str, int] = dict.fromkeys(
    (
        "coauthors",
        "coauthor_jaccard",
        "coauthor_rare",
        "coauthor_2hop",
        "shared_references",
        "same_upstream",
    ),
    1,
)
Say = Callable[[str], None]


@dataclass
class GoldSet:
    """One gold file loaded into a throw-away store: its corpus and labelled rows."""

    name: str
    loaded: Any  # services.LoadedCorpus
    gold: dict[int, str]  # corpus row → person
    use_upstream_ids: bool

    def blocks(self) -> dict[str, np.ndarray]:
        """Every block holding a labelled authorship: all its rows."""
        corpus = self.loaded.corpus
        keys = {corpus.blocks[r] for r in self.gold}
        members: dict[str, list[int]] = defaultdict(list)
        for i, key in enumerate(corpus.blocks):
            if key in keys:
                members[key].append(i)
        return {k: np.array(v, dtype=np.int64) for k, v in members.items()}


def load_gold_set(
    name: str, works: Path, gold: Path, *, use_upstream_ids: bool = True, hide_orcids: bool = False
) -> GoldSet:
    loaded, rows, _found = load_labelled(works, gold)
    if hide_orcids:
        loaded.corpus.orcids = [None] * len(loaded.corpus.orcids)
    return GoldSet(name, loaded, rows, use_upstream_ids)


def sample_pairs(
    gold_set: GoldSet, keys: Sequence[str], seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of pairs sampled in the given blocks (see module doc)."""
    corpus = gold_set.loaded.corpus
    rng = random.Random(seed)
    all_blocks = gold_set.blocks()
    chosen_i: list[int] = []
    chosen_j: list[int] = []
    labels: list[int] = []
    for key in keys:
        rows = np.array([r for r in all_blocks[key] if int(r) in gold_set.gold], dtype=np.int64)
        if len(rows) < 2:
            continue
        a, b = disambiguation.candidate_pairs(corpus, rows)
        same = [
            gold_set.gold[int(rows[x])] == gold_set.gold[int(rows[y])]
            for x, y in zip(a, b, strict=True)
        ]
        pos = [k for k, s in enumerate(same) if s]
        neg = [k for k, s in enumerate(same) if not s]
        take = min(PAIRS_PER_BLOCK, max(len(pos), len(neg)))
        pos = rng.sample(pos, min(len(pos), take))
        neg = rng.sample(neg, min(len(neg), take))
        for k in pos + neg:
            chosen_i.append(int(rows[a[k]]))
            chosen_j.append(int(rows[b[k]]))
            labels.append(1 if same[k] else 0)
    context = block_context(corpus, [all_blocks[k] for k in keys])
    x = pair_features(
        corpus,
        context,
        np.array(chosen_i, dtype=np.int64),
        np.array(chosen_j, dtype=np.int64),
        use_upstream=gold_set.use_upstream_ids,
    )
    return x, np.array(labels, dtype=np.int64)


def usable(x: np.ndarray) -> tuple[str, ...]:
    """Features with at least two distinct values in the training pairs (a feature the
    gold never shows, such as a non-Latin spelling, cannot be learnt)."""
    out = []
    for name in FEATURES:
        column = x[:, INDEX[name]]
        seen = column[~np.isnan(column)]
        if len(seen) and seen.min() < seen.max():
            out.append(name)
    return tuple(out)


@dataclass
class Fitted:
    classifier: Any
    features: tuple[str, ...]


def fit(x: np.ndarray, y: np.ndarray, *, seed: int = 0) -> Fitted:
    from sklearn.ensemble import HistGradientBoostingClassifier

    features = usable(x)
    x = x[:, [INDEX[f] for f in features]]

    # balance the two classes overall as well as per block
    weights = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    monotone = [MONOTONE.get(f, 0) for f in features]
    classifier = HistGradientBoostingClassifier(random_state=seed, monotonic_cst=monotone, **PARAMS)
    classifier.fit(x, y, sample_weight=weights)
    return Fitted(classifier, features)


def as_model(fitted: Fitted, threshold: float, meta: dict[str, Any] | None = None) -> PairModel:
    return PairModel.from_dict(export(fitted.classifier, fitted.features, threshold, meta or {}))


def cluster_blocks(
    gold_set: GoldSet, keys: Sequence[str], model: PairModel, thresholds: Sequence[float]
) -> dict[float, Scores]:
    """B³ over the labelled authorships of the given blocks, for each threshold."""
    corpus = gold_set.loaded.corpus
    blocks = gold_set.blocks()
    chosen = [blocks[k] for k in keys]
    scored = list(
        disambiguation.scored_blocks(
            corpus, chosen, model, use_upstream_ids=gold_set.use_upstream_ids
        )
    )
    out: dict[float, Scores] = {}
    for t in thresholds:
        predicted: dict[int, tuple[int, int]] = {}
        for block in scored:
            if len(block.rows) == 1:
                labels = np.zeros(1, dtype=np.int64)
            else:
                labels = disambiguation.cluster_block(disambiguation.distances(corpus, block), t)
            for row, lab in zip(block.rows.tolist(), labels.tolist(), strict=True):
                predicted[row] = (int(block.rows[0]), lab)
        gold = {r: p for r, p in gold_set.gold.items() if r in predicted}
        out[t] = b_cubed(predicted, gold)
    return out


def folds_of(keys: Sequence[str], k: int, seed: int = 0) -> list[list[str]]:
    ordered = sorted(keys)
    random.Random(seed).shuffle(ordered)
    return [ordered[i::k] for i in range(k)]


@dataclass
class CrossValidation:
    folds: list[dict[str, Any]]  # per fold: threshold, and per gold set P/R/F1 on held-out names
    mean_f1: dict[str, float]


def out_of_fold_threshold(
    sets: list[GoldSet], k: int = 3, seed: int = 0, say: Say | None = None
) -> tuple[float, dict[float, float]]:
    """The threshold with the best mean B³ F1 over the sets, from out-of-fold models."""
    folds = {s.name: folds_of(list(s.blocks()), k, seed) for s in sets}
    totals: dict[float, list[float]] = defaultdict(list)
    for f in range(k):
        xs, ys = [], []
        for s in sets:
            train = [key for g, keys in enumerate(folds[s.name]) if g != f for key in keys]
            x, y = sample_pairs(s, train, seed)
            xs.append(x)
            ys.append(y)
        model = as_model(fit(np.vstack(xs), np.concatenate(ys), seed=seed), 0.5)
        for s in sets:
            scores = cluster_blocks(s, folds[s.name][f], model, THRESHOLDS)
            for t, sc in scores.items():
                totals[t].append(sc.f1)
        if say:
            say(f"threshold search: fold {f + 1}/{k} done")
    means = {t: float(np.mean(v)) for t, v in totals.items()}
    # differences below 0.001 are noise here: then prefer 0.5, p(same) ≥ ½ on balanced pairs
    best = max(means, key=lambda t: (round(means[t], 3), -abs(t - 0.5)))
    return best, means


def train(
    sets: list[GoldSet], *, seed: int = 0, say: Say | None = None
) -> tuple[PairModel, dict[str, Any]]:
    """The model on every block of every set, its threshold from out-of-fold clustering."""
    threshold, means = out_of_fold_threshold(sets, seed=seed, say=say)
    xs, ys = [], []
    for s in sets:
        x, y = sample_pairs(s, sorted(s.blocks()), seed)
        xs.append(x)
        ys.append(y)
    x, y = np.vstack(xs), np.concatenate(ys)
    fitted = fit(x, y, seed=seed)
    meta = {
        "trained_on": {s.name: {"labelled": len(s.gold), "blocks": len(s.blocks())} for s in sets},
        "pairs": len(y),
        "positives": int(y.sum()),
        "params": PARAMS,
        "pairs_per_block": PAIRS_PER_BLOCK,
        "threshold_search": {str(t): round(v, 4) for t, v in sorted(means.items())},
        "seed": seed,
    }
    data = export(fitted.classifier, fitted.features, threshold, meta)
    return PairModel.from_dict(data), data


def cross_validate(
    target: GoldSet, others: list[GoldSet], *, k: int = 5, seed: int = 0, say: Say | None = None
) -> CrossValidation:
    """Cross-validation by name on ``target``: for each fold of whole name blocks, train
    on the other folds (plus ``others``), pick the threshold by an inner out-of-fold
    search on that training part only, and measure B³ on the held-out names."""
    outer = folds_of(list(target.blocks()), k, seed)
    results = []
    for f, held_out in enumerate(outer):
        train_keys = [key for g, keys in enumerate(outer) if g != f for key in keys]
        part = restricted(target, train_keys)
        model, _ = train([part, *others], seed=seed)
        scores = cluster_blocks(target, held_out, model, [model.threshold_distance])
        sc = scores[model.threshold_distance]
        results.append(
            {
                "fold": f + 1,
                "names": len(held_out),
                "threshold": model.threshold_distance,
                "precision": round(sc.precision, 4),
                "recall": round(sc.recall, 4),
                "f1": round(sc.f1, 4),
            }
        )
        if say:
            say(f"fold {f + 1}/{k}: B³ F1 {sc.f1:.4f} (threshold {model.threshold_distance})")
    return CrossValidation(results, {target.name: float(np.mean([r["f1"] for r in results]))})


def restricted(gold_set: GoldSet, keys: Sequence[str]) -> GoldSet:
    """The same store with gold only on the given blocks."""
    wanted = set(keys)
    corpus = gold_set.loaded.corpus
    gold = {r: p for r, p in gold_set.gold.items() if corpus.blocks[r] in wanted}
    return GoldSet(gold_set.name, gold_set.loaded, gold, gold_set.use_upstream_ids)
