"""The cosine at which a saved semantic search tells someone about a new work.

    .venv/bin/python benchmarks/alert_threshold.py [--folds 2] [--seed 0]

An alert is a yes/no decision per (saved search, new work) pair, so the question is one of
precision and recall at a threshold, not of ranking. SciFact (BEIR) stands in for saved
searches: its 809 judged claims are the queries, its 5,183 abstracts the new works, its
qrels the pairs a reader wanted. Every pair's cosine comes from the product's encoder on
the product's text (cached under benchmarks/results/). The threshold is chosen by
cross-validation over queries — pick the F1-best on some queries, measure on the others —
and the mean of the held-out figures is what docs/feeds.md quotes;
feeds/matching.py's ``THRESHOLD`` is the rounded mean of the chosen values.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from peergraph.feeds.matching import THRESHOLD  # noqa: E402
from peergraph.search.beir import corpus_texts, read_corpus, read_qrels  # noqa: E402
from peergraph.search.embeddings import load_encoder  # noqa: E402

SCIFACT = REPO.parent / "shared" / "data" / "scifact-beir"
CACHE = REPO / "benchmarks" / "results" / "scifact-vectors.npz"
GRID = np.round(np.arange(0.30, 0.801, 0.025), 3)


def encode() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    documents = read_corpus(SCIFACT)
    qrels = read_qrels(SCIFACT / "qrels" / "train.tsv")
    queries = {}
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            q = json.loads(line)
            if str(q["_id"]) in qrels:
                queries[str(q["_id"])] = q["text"]
    qids = sorted(queries)
    if CACHE.exists():
        cached = np.load(CACHE)
        q_vectors, d_vectors = cached["queries"], cached["documents"]
    else:
        encoder = load_encoder()
        d_vectors = encoder.encode(corpus_texts(documents))
        q_vectors = encoder.encode([queries[q] for q in qids])
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        np.savez(CACHE, queries=q_vectors, documents=d_vectors)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    q_vectors, d_vectors, relevant = encode()
    sims = q_vectors @ d_vectors.T
    print(f"{len(q_vectors)} queries × {len(d_vectors)} documents, {relevant.sum()} relevant pairs")
    print(f"{'cosine ≥':>9} {'precision':>10} {'recall':>8} {'F1':>6} {'told/query':>11}")
    for t in GRID:
        p, r, f = scores(sims, relevant, float(t))
        told = (sims >= t).sum() / len(sims)
        print(f"{t:>9.3f} {p:>10.3f} {r:>8.3f} {f:>6.3f} {told:>11.2f}")
    order = np.random.default_rng(args.seed).permutation(len(sims))
    folds = np.array_split(order, args.folds)
    chosen, held = [], []
    for k, test in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != k])
        best = max(GRID, key=lambda t: scores(sims[train], relevant[train], float(t))[2])
        chosen.append(float(best))
        held.append(scores(sims[test], relevant[test], float(best)))
    p, r, f = (float(np.mean([h[i] for h in held])) for i in range(3))
    print(
        f"cross-validated over queries ({args.folds} folds): thresholds chosen {chosen}; "
        f"held-out precision {p:.3f}, recall {r:.3f}, F1 {f:.3f}"
    )
    print(f"feeds/matching.py THRESHOLD = {THRESHOLD} (the mean chosen: {np.mean(chosen):.3f})")


if __name__ == "__main__":
    main()
