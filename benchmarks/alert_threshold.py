"""The cosine at which a saved semantic search tells someone about a new work.

    .venv/bin/python benchmarks/alert_threshold.py [--folds 2] [--seed 0]

An alert is a yes/no decision per (saved search, new work) pair, so the question is one of
precision and recall at a threshold, not of ranking. SciFact (BEIR) stands in for saved
searches: its 809 judged claims are the queries, its 5,183 abstracts the new works, its
qrels the pairs a reader wanted. Every pair's cosine comes from the product's encoder on
the product's text (cached under benchmarks/results/). The threshold is chosen by
cross-validation over queries — pick the F1-best on some queries, measure on the others —
and the mean of the held-out figures is what docs/feeds.md quotes. Short saved searches
are simulated by each claim's 2, 3 or 5 rarest content words: a short query never reaches
the cosines a sentence does, so feeds/matching.py's ``THRESHOLDS`` depend on the query's
number of terms, each the rounded mean of the values chosen for its length. The last
columns measure that rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from peergraph.feeds.matching import threshold  # noqa: E402
from peergraph.search.beir import corpus_texts, read_corpus, read_qrels  # noqa: E402
from peergraph.search.embeddings import load_encoder  # noqa: E402
from peergraph.search.keyword import query_terms  # noqa: E402

SCIFACT = REPO.parent / "shared" / "data" / "scifact-beir"
CACHE = REPO / "benchmarks" / "results" / "scifact-vectors.npz"
GRID = np.round(np.arange(0.20, 0.801, 0.025), 3)
SHORT = (2, 3, 5)  # short saved searches: the claim's rarest content words


def shorten(claim: str, words: int, df: dict[str, int]) -> str:
    """The claim's ``words`` rarest content words, in the claim's order: what someone
    would type as a short saved search about it."""
    terms = query_terms(claim)
    keep = set(sorted(terms, key=lambda t: (df.get(t, 0), t))[:words])
    return " ".join(t for t in terms if t in keep)


def encode() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    documents = read_corpus(SCIFACT)
    qrels = read_qrels(SCIFACT / "qrels" / "train.tsv")
    queries = {}
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            q = json.loads(line)
            if str(q["_id"]) in qrels:
                queries[str(q["_id"])] = q["text"]
    qids = sorted(queries)
    df: dict[str, int] = {}
    for text in corpus_texts(documents):
        for term in set(query_terms(text)):
            df[term] = df.get(term, 0) + 1
    variants = {
        "claims": [queries[q] for q in qids],
        **{f"{n} words": [shorten(queries[q], n, df) for q in qids] for n in SHORT},
    }
    cached = dict(np.load(CACHE)) if CACHE.exists() else {}
    encoder = None
    for name, texts in [("documents", corpus_texts(documents)), *variants.items()]:
        if name not in cached:
            encoder = encoder or load_encoder()
            cached[name] = encoder.encode(texts)
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            np.savez(CACHE, **cached)
    d_vectors = cached["documents"]
    q_vectors = {name: cached[name] for name in variants}
    index = {doc_id: i for i, (doc_id, _, _) in enumerate(documents)}
    relevant = np.zeros((len(qids), len(documents)), dtype=bool)
    for row, q in enumerate(qids):
        for doc_id, score in qrels[q].items():
            if score > 0 and doc_id in index:
                relevant[row, index[doc_id]] = True
    return q_vectors, d_vectors, relevant


def scores(sims: np.ndarray, relevant: np.ndarray, threshold: float) -> tuple[float, float, float]:
    told = sims >= threshold
    hits = int((told & relevant).sum())
    precision = hits / max(int(told.sum()), 1)
    recall = hits / max(int(relevant.sum()), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return precision, recall, f1


def choose(
    sims: np.ndarray, relevant: np.ndarray, folds: list[np.ndarray]
) -> tuple[list[float], tuple[float, float, float]]:
    """The F1-best threshold on all folds but one, measured on that one; the mean."""
    chosen, held = [], []
    for k, test in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != k])
        best = max(GRID, key=lambda t: scores(sims[train], relevant[train], float(t))[2])
        chosen.append(float(best))
        held.append(scores(sims[test], relevant[test], float(best)))
    return chosen, (
        float(np.mean([h[0] for h in held])),
        float(np.mean([h[1] for h in held])),
        float(np.mean([h[2] for h in held])),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    q_vectors, d_vectors, relevant = encode()
    n = len(relevant)
    print(f"{n} queries × {len(d_vectors)} documents, {relevant.sum()} relevant pairs")
    order = np.random.default_rng(args.seed).permutation(n)
    folds = np.array_split(order, args.folds)
    print(
        f"{'queries':<10} {'chosen (CV)':<14} {'precision':>9} {'recall':>7} {'F1':>6}"
        f" | product rule: {'threshold':>9} {'precision':>9} {'recall':>7} {'F1':>6}"
    )
    for name, vectors in q_vectors.items():
        sims = vectors @ d_vectors.T
        chosen, (p, r, f) = choose(sims, relevant, folds)
        words = 50 if name == "claims" else int(name.split()[0])
        rule = threshold(" ".join(f"term{i}" for i in range(words)))
        rp, rr, rf = scores(sims, relevant, rule)
        print(
            f"{name:<10} {'/'.join(f'{c:.3f}' for c in chosen):<14} {p:>9.3f} {r:>7.3f} {f:>6.3f}"
            f" | {'':>14}{rule:>9.3f} {rp:>9.3f} {rr:>7.3f} {rf:>6.3f}"
        )


if __name__ == "__main__":
    main()
