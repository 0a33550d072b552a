"""Clustering cost against block size: the shared corpus's papers of a few large family
names, replicated as the 10× scale-up replicates them (replicate.py), clustered by the
single-machine code (`authors.disambiguation.cluster`, which the pipeline's stage 3 runs
per bucket).

    .venv/bin/python benchmarks/scale/big_blocks.py [--families wang,zhang] [--times 1,10]
        [--profile] [--json F]

For each ``--times``, the works with an author of one of ``--families`` (from the ML and
ACL collections) are written ``times`` times, imported into a throw-away SQLite store and
clustered in full, timed (the median of ``--repeat`` runs). Reported: authorships, the
largest blocks, the candidate pairs scored, the clustering time and its growth against
the first ``--times``, and a digest of the clusters with their links' confidence and
evidence (two versions of the code cluster alike when the digests agree); with
``--profile``, the top functions of one clustering run (cProfile, cumulative). Nothing
here is tuned: it measures where the time of large blocks goes.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import hashlib
import io
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replicate import COLLECTIONS, given_names, replica


def family_items(families: set[str]) -> list[dict[str, Any]]:
    """The collections' records with an author of one of ``families`` (case-folded)."""
    out = []
    for source in COLLECTIONS:
        with gzip.open(source, "rt", encoding="utf-8") as f:
            items = json.load(f)
        for item in items:
            names = {(a.get("family") or "").strip().casefold() for a in item.get("author") or []}
            if names & families:
                out.append(item)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", default="wang,zhang")
    parser.add_argument("--times", default="1,10")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from peergraph.authors.disambiguation import blocks_of, candidate_pairs, cluster
    from peergraph.authors.model import packaged
    from peergraph.authors.services import load_corpus
    from peergraph.db import create_db_engine, migrate
    from peergraph.ingest.formats import expand_paths
    from peergraph.ingest.loader import import_file
    from peergraph.settings import Settings

    families = {f.strip().casefold() for f in args.families.split(",") if f.strip()}
    items = family_items(families)
    names = given_names(items)
    model = packaged()
    results = []
    for times in [int(t) for t in args.times.split(",")]:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "works.csl.json"
            path.write_text(
                json.dumps([x for r in range(times) for x in replica(items, r, names)]),
                encoding="utf-8",
            )
            engine = create_db_engine(Settings.for_data_dir(Path(folder)))
            migrate(engine)
            for target in expand_paths([path]):
                import_file(engine, target)
            with engine.connect() as conn:
                corpus = load_corpus(conn).corpus
            engine.dispose()
        sizes = Counter(corpus.blocks)
        pairs = sum(len(candidate_pairs(corpus, rows)[0]) for rows in blocks_of(corpus))
        seconds = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = cluster(corpus, model=model, explain=True)
            seconds.append(time.perf_counter() - started)
        # the clustering itself, to compare two versions of the code: authorship ids per
        # cluster, and every link's confidence and evidence
        digest = hashlib.sha256()
        for row in np.argsort(corpus.authorship_ids, kind="stable").tolist():
            digest.update(
                json.dumps(
                    [
                        int(corpus.authorship_ids[row]),
                        int(corpus.authorship_ids[result.labels[row]]),
                        round(float(result.confidence[row]), 6),
                        result.method[row],
                        result.evidence[row],
                    ],
                    sort_keys=True,
                ).encode()
            )
        row = {
            "times": times,
            "authorships": len(corpus),
            "largest_blocks": sizes.most_common(3),
            "pairs": pairs,
            "seconds": statistics.median(seconds),
            "clusters_sha256": digest.hexdigest(),
        }
        results.append(row)
        growth = row["seconds"] / results[0]["seconds"]
        print(
            f"×{times}: {len(corpus):,} authorships, largest blocks {sizes.most_common(3)},"
            f" {pairs:,} pairs scored, clustering {row['seconds']:.1f} s"
            f" (×{growth:.1f} the first; {pairs / row['seconds']:,.0f} pairs/s);"
            f" clusters {row['clusters_sha256'][:16]}",
            flush=True,
        )
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            cluster(corpus, model=model, explain=True)
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
            print(text.getvalue())
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
