"""Collaborator suggestions against link-prediction baselines on the ML Anthology.

    .venv/bin/python benchmarks/collaborator_suggestions.py [--train] [--bootstrap 1000]

The question: from the co-authorship graph up to 2021, which new co-authors does each
researcher gain from 2022 on? Queries are the authors with papers in both periods who
gained at least one new co-author that had already published up to 2021 (nobody can be
suggested before their first paper). Candidates never include the author or their
co-authors up to 2021. All rankers answer the same queries in one run:

- common neighbours and Adamic–Adar, exact over every co-author of a co-author;
- embedding similarity alone: the cosine of the two authors' centroids, exact over every
  author;
- peergraph's suggestions (src/peergraph/suggestions/scoring.py): its own candidate pools
  and the packaged model.

Recall@20 (share of an author's new co-authors among the first 20) and MRR (reciprocal
rank of the first one, within the first 100) are averaged over queries; the difference to
the best baseline gets a 95 % bootstrap interval over queries.

``--train`` fits the model first on the earlier split — papers up to 2018, new co-authors
2019–2021 — and writes src/peergraph/suggestions/model.json; the evaluation never sees a
2022+ paper during training. Results go to benchmarks/results/collaborator_suggestions.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import sparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from collab_data import REPO, Paper, load_papers, vectors
from peergraph.authors.services import text_matrix
from peergraph.profiles.topics import infer_topics
from peergraph.search.semantic import work_text
from peergraph.suggestions import scoring
from peergraph.suggestions.scoring import Evidence, Model

TOP = 100  # ranks kept per query (MRR looks this far)
AT = 20


class Graph:
    """The co-authorship graph, topics and centroids of the papers up to ``until``."""

    def __init__(self, papers: list[Paper], matrix: np.ndarray, until: int) -> None:
        chosen = [i for i, p in enumerate(papers) if p.year <= until]
        self.until = until
        self.papers = [papers[i] for i in chosen]
        self.vectors = matrix[chosen]
        names = sorted({a for p in self.papers for a in p.authors})
        self.index = {n: i for i, n in enumerate(names)}
        n = len(names)
        self.coauthors: list[set[int]] = [set() for _ in range(n)]
        self.works = np.zeros(n, dtype=np.int64)
        self.last_year = np.zeros(n, dtype=np.int64)
        self.paper_authors: list[list[int]] = []
        rows, cols = [], []
        for j, p in enumerate(self.papers):
            ids = [self.index[a] for a in p.authors]
            self.paper_authors.append(ids)
            for a in ids:
                rows.append(a)
                cols.append(j)
                self.works[a] += 1
                self.last_year[a] = max(self.last_year[a], p.year)
                self.coauthors[a].update(ids)
        for a in range(n):
            self.coauthors[a].discard(a)
        self.degree = {a: len(c) for a, c in enumerate(self.coauthors)}
        membership = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, len(self.papers))
        )
        self.own_papers = membership
        centroids = np.asarray(membership @ self.vectors)
        norms = np.linalg.norm(centroids, axis=1, keepdims=True)
        self.centroids = centroids / np.maximum(norms, 1e-12)
        started = time.monotonic()
        texts = [work_text(p.title, p.abstract) for p in self.papers]
        inferred = infer_topics(text_matrix(texts), [p.title for p in self.papers])
        self.topics: list[dict[int, float]] = [defaultdict(float) for _ in range(n)]
        for j, topic in enumerate(inferred.assignment):
            for a in self.paper_authors[j]:
                self.topics[a][int(topic)] += 1.0  # an inferred topic weighs 1 per work
        print(
            f"graph ≤{until}: {len(self.papers):,} papers, {n:,} authors, "
            f"{len(inferred.labels)} topics ({time.monotonic() - started:.0f} s)",
            file=sys.stderr,
        )

    def targets(self, papers: list[Paper], start: int, end: int) -> dict[int, set[int]]:
        """New co-authors gained in [start, end] who had published by ``until``."""
        found: dict[int, set[int]] = defaultdict(set)
        for p in papers:
            if not start <= p.year <= end:
                continue
            present = {self.index[a] for a in p.authors if a in self.index}
            for a in present:
                found[a] |= present - {a} - self.coauthors[a]
        return {a: t for a, t in found.items() if t}

    def hop(self, a: int) -> dict[int, list[int]]:
        common: dict[int, list[int]] = defaultdict(list)
        mine = self.coauthors[a]
        for z in mine:
            for c in self.coauthors[z]:
                if c != a and c not in mine:
                    common[c].append(z)
        return common

    def nearest_papers(self, queries: list[int], k: int) -> list[np.ndarray]:
        out = []
        for start in range(0, len(queries), 256):
            batch = queries[start : start + 256]
            sims = self.centroids[batch] @ self.vectors.T
            for row, a in zip(sims, batch, strict=True):
                own = self.own_papers[a].indices
                row[own] = -2.0
                top = np.argpartition(-row, k)[:k]
                out.append(top[np.argsort(-row[top])])
        return out

    def nearest_authors(self, queries: list[int], k: int) -> list[list[int]]:
        out = []
        for start in range(0, len(queries), 256):
            batch = queries[start : start + 256]
            sims = self.centroids[batch] @ self.centroids.T
            for row, a in zip(sims, batch, strict=True):
                row[a] = -2.0
                row[list(self.coauthors[a])] = -2.0
                top = np.argpartition(-row, k)[:k]
                out.append([int(c) for c in top[np.argsort(-row[top])]])
        return out

    def pool(self, a: int, near: np.ndarray) -> list[Evidence]:
        """peergraph's candidates for ``a`` with their evidence (the product's rules)."""
        common = self.hop(a)
        scored = {c: scoring.adamic_adar(z, self.degree) for c, z in common.items()}
        kept = sorted(scored, key=lambda c: (-scored[c], c))[: scoring.HOP_POOL]
        pool = set(kept)
        for j in near:
            pool.update(c for c in self.paper_authors[j] if c != a)
        pool -= self.coauthors[a]
        pool.discard(a)
        ids = sorted(pool)
        cos = self.centroids[ids] @ self.centroids[a] if ids else np.zeros(0)
        return [
            Evidence(
                c,
                tuple(common.get(c, ())),
                scored.get(c, 0.0),
                float(cos[i]),
                scoring.cosine(self.topics[a], self.topics[c]),
                int(self.works[c]),
                int(self.last_year[c]),
            )
            for i, c in enumerate(ids)
        ]


def features(pool: list[Evidence], year: int) -> np.ndarray:
    return np.array([e.features(year) for e in pool], dtype=np.float64).reshape(-1, 6)


def rank(scores: dict[int, float], tiebreak: np.ndarray) -> list[int]:
    return sorted(scores, key=lambda c: (-scores[c], tiebreak[c]))[:TOP]


def measure(ranking: list[int], targets: set[int]) -> tuple[float, float]:
    hits = sum(1 for c in ranking[:AT] if c in targets)
    first = next((i for i, c in enumerate(ranking) if c in targets), None)
    return hits / len(targets), 0.0 if first is None else 1.0 / (first + 1)


def fit(papers: list[Paper], matrix: np.ndarray, queries_cap: int, seed: int) -> Model:
    graph = Graph(papers, matrix, 2018)
    targets = graph.targets(papers, 2019, 2021)
    rng = np.random.default_rng(seed)
    queries = sorted(targets)
    if len(queries) > queries_cap:
        queries = sorted(rng.choice(queries, queries_cap, replace=False).tolist())
    near = graph.nearest_papers(queries, scoring.WORK_POOL)
    rows, labels = [], []
    for a, n in zip(queries, near, strict=True):
        pool = graph.pool(a, n)
        rows.append(features(pool, graph.until))
        labels.extend(1 if e.candidate in targets[a] else 0 for e in pool)
    x, y = np.vstack(rows), np.array(labels)
    print(
        f"training: {len(queries):,} queries, {len(y):,} pairs, {y.sum():,} positive",
        file=sys.stderr,
    )
    return scoring.train(
        x,
        y,
        trained_on=f"ML Anthology: papers ≤2018, new co-authors 2019–2021, {len(queries)} authors",
    )


def bootstrap(diff: np.ndarray, rounds: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(rounds)]
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def evaluate(papers: list[Paper], matrix: np.ndarray, model: Model, rounds: int, seed: int) -> dict:
    graph = Graph(papers, matrix, 2021)
    last = max(p.year for p in papers)
    targets = graph.targets(papers, 2022, last)
    queries = sorted(targets)
    print(f"evaluation: {len(queries):,} queries", file=sys.stderr)
    tiebreak = np.random.default_rng(seed).permutation(len(graph.index))
    started = time.monotonic()
    near = graph.nearest_papers(queries, scoring.WORK_POOL)
    nearest = graph.nearest_authors(queries, TOP)
    results: dict[str, list[tuple[float, float]]] = defaultdict(list)
    pooled, covered = 0, 0
    for q, (a, n) in enumerate(zip(queries, near, strict=True)):
        common = graph.hop(a)
        cn = {c: float(len(z)) for c, z in common.items()}
        aa = {c: scoring.adamic_adar(z, graph.degree) for c, z in common.items()}
        results["common neighbours"].append(measure(rank(cn, tiebreak), targets[a]))
        results["Adamic–Adar"].append(measure(rank(aa, tiebreak), targets[a]))
        results["embedding similarity"].append(measure(nearest[q], targets[a]))
        pool = graph.pool(a, n)
        scores = model.scores(features(pool, graph.until)) if pool else np.zeros(0)
        method = {e.candidate: float(s) for e, s in zip(pool, scores, strict=True)}
        results["peergraph"].append(measure(rank(method, tiebreak), targets[a]))
        pooled += len(pool)
        covered += sum(1 for e in pool if e.candidate in targets[a])
    elapsed = time.monotonic() - started
    table = {
        name: {
            "recall@20": float(np.mean([r for r, _ in rows])),
            "mrr": float(np.mean([m for _, m in rows])),
        }
        for name, rows in results.items()
    }
    report: dict = {
        "queries": len(queries),
        "targets": int(sum(len(t) for t in targets.values())),
        "mean_pool": pooled / max(len(queries), 1),
        "pool_recall": covered / max(sum(len(t) for t in targets.values()), 1),
        "seconds_per_query": elapsed / max(len(queries), 1),
        "rankers": table,
    }
    ours = results.pop("peergraph")
    for i, metric in enumerate(("recall@20", "mrr")):
        best = max(results, key=lambda name: table[name][metric])
        diff = np.array([o[i] for o in ours]) - np.array([b[i] for b in results[best]])
        low, high = bootstrap(diff, rounds, seed)
        report[f"vs_best_{metric}"] = {
            "baseline": best,
            "difference": float(diff.mean()),
            "ci95": [low, high],
            "relative": float(diff.mean() / max(table[best][metric], 1e-12)),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", action="store_true", help="refit model.json on ≤2018 first")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--train-queries", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    papers = [p for p in load_papers() if p.year]
    matrix = np.zeros((len(papers), 384), dtype=np.float32)
    early = [i for i, p in enumerate(papers) if p.year <= 2021]
    matrix[early] = vectors([papers[i] for i in early])
    if args.train:
        model = fit(papers, matrix, args.train_queries, args.seed)
        target = REPO / "src" / "peergraph" / "suggestions" / "model.json"
        target.write_text(json.dumps(model.to_json(), indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {target.relative_to(REPO)}", file=sys.stderr)
    else:
        model = scoring.packaged()
    report = evaluate(papers, matrix, model, args.bootstrap, args.seed)
    report["model"] = model.to_json()
    out = REPO / "benchmarks" / "results" / "collaborator_suggestions.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(
        f"{report['queries']:,} queries, {report['targets']:,} new co-authors; "
        f"peergraph's pool holds {report['pool_recall']:.1%} of them "
        f"({report['mean_pool']:.0f} candidates per query)"
    )
    print(f"{'ranker':<22} {'Recall@20':>10} {'MRR':>8}")
    for name, row in report["rankers"].items():
        print(f"{name:<22} {row['recall@20']:>10.4f} {row['mrr']:>8.4f}")
    for metric in ("recall@20", "mrr"):
        v = report[f"vs_best_{metric}"]
        print(
            f"{metric}: peergraph − {v['baseline']} = {v['difference']:+.4f} "
            f"({v['relative']:+.1%}), 95 % CI [{v['ci95'][0]:+.4f}, {v['ci95'][1]:+.4f}]"
        )


if __name__ == "__main__":
    main()
