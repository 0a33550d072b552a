"""Hybrid search while the semantic index is being built: SciFact train nDCG@10.

The SciFact corpus (5,183 abstracts) is imported into a SQLite store and embedded once
(benchmarks/postgres.py's cached store). For each share of works with a vector — the
first works in the embedding job's order (abstracts first, newest first, then by id
descending: SciFact has no years), and seeded random subsets — a copy of the store keeps
only those vectors, and the 809 train queries run through ``rank_works`` in keyword and
hybrid mode. The rule under test (search/services.py, rank_works): hybrid must never rank
worse than keywords on a partial index, and should gain as coverage grows.

    .venv/bin/python benchmarks/partial_index.py [--shares 0.1 0.5 0.9 1.0] [--seeds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from postgres import engine_for, scifact_sqlite, scifact_train


def scores(folder: Path, keep: set[int] | None) -> dict[str, float]:
    from sqlalchemy import delete, select
    from sqlalchemy.orm import Session

    from peergraph.db import generation
    from peergraph.search.lexical import LexicalIndex
    from peergraph.search.metrics import ndcg_at_k
    from peergraph.search.models import WorkEmbedding
    from peergraph.search.semantic import SemanticIndex
    from peergraph.search.services import SearchError, rank_works

    engine = engine_for(folder)
    if keep is not None:
        with engine.begin() as conn:
            every = conn.execute(select(WorkEmbedding.work_id)).scalars().all()
            drop = [w for w in every if w not in keep]
            for start in range(0, len(drop), 500):
                conn.execute(
                    delete(WorkEmbedding).where(
                        WorkEmbedding.work_id.in_(drop[start : start + 500])
                    )
                )
            generation.advance(conn, "vectors")
    corpus_id, qrels, queries = scifact_train(engine)
    lexical = LexicalIndex.build(engine)
    semantic = SemanticIndex(engine)
    semantic.size()
    out: dict[str, float] = {}
    with Session(engine) as session:
        for mode in ("keyword", "hybrid"):
            values = []
            for query_id, query in queries.items():
                try:
                    ranked, *_ = rank_works(
                        session, query, mode=mode, lexical=lexical, semantic=semantic
                    )
                except SearchError:
                    ranked = []
                values.append(
                    ndcg_at_k([corpus_id[w] for w, _ in ranked[:10]], qrels[query_id], 10)
                )
            out[mode] = statistics.fmean(values)
    engine.dispose()
    return out


def main() -> None:
    import numpy as np
    from sqlalchemy import select

    from peergraph.search.semantic import EMBED_ORDER
    from peergraph.works.models import Work

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()

    source = scifact_sqlite()
    engine = engine_for(source)
    with engine.connect() as conn:
        order = conn.execute(select(Work.id).order_by(*EMBED_ORDER)).scalars().all()
    engine.dispose()
    print("| share embedded | subset | keyword | hybrid | hybrid − keyword |")
    print("| --- | --- | --- | --- | --- |")
    for share in args.shares:
        subsets: list[tuple[str, set[int] | None]] = []
        if share >= 1.0:
            subsets.append(("all", None))
        else:
            subsets.append(("job order", set(order[: int(share * len(order))])))
            for seed in range(args.seeds):
                rng = np.random.default_rng(seed)
                chosen = rng.random(len(order)) < share
                subsets.append(
                    (f"random, seed {seed}", {w for w, c in zip(order, chosen, strict=True) if c})
                )
        for label, keep in subsets:
            with tempfile.TemporaryDirectory(prefix="peergraph-partial.") as tmp:
                folder = Path(tmp)
                shutil.copy(source / "peergraph.sqlite3", folder / "peergraph.sqlite3")
                got = scores(folder, keep)
            gain = got["hybrid"] - got["keyword"]
            print(
                f"| {share:.0%} | {label} | {got['keyword']:.4f} | {got['hybrid']:.4f} |"
                f" {gain:+.4f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
