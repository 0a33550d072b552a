"""Stage 5 of the Spark pipeline (embeddings) at local[1] and local[2], against
`peergraph embed` of the same works.

Embedding the whole shared corpus takes about 40 minutes on two cores either way, so this
measures a sample: the OpenAlex API sample and the first ``--ml`` records of the ML
Anthology (titles and abstracts, the corpus's mix). Each pipeline run is a fresh child
process (its own JVM) running stages 1–2 and 5 (no disambiguation); reported: the
embedding stage's wall time and works/s per run, the speed-up, and the lowest cosine
between the pipeline's vectors and those `peergraph embed` stores for the same works
(target ≥ 0.999).

    .venv/bin/python benchmarks/scale/embed.py [--ml 2000] [--cores 1,2]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"


def sample(folder: Path, ml: int) -> list[Path]:
    """The OpenAlex sample, and the first ``ml`` works of the ML Anthology (CSL-JSON)."""
    source = SHARED / "mlanthology-ml-venues" / "works.csl.json.gz"
    with gzip.open(source, "rt", encoding="utf-8") as f:
        works = json.load(f)[:ml]
    path = folder / "ml-sample.csl.json"
    path.write_text(json.dumps(works), encoding="utf-8")
    return [SHARED / "openalex-api-samples" / "works.jsonl.gz", path]


def child(master: str, out: Path, files: list[str]) -> None:
    from peergraph.ingest.formats import expand_paths
    from peergraph.pipeline.run import run_pipeline
    from peergraph.pipeline.session import spark_session
    from peergraph.search.semantic import DEFAULT_ENCODER

    spark = spark_session(master, driver_memory="2g")
    summary = run_pipeline(
        spark, expand_paths([Path(f) for f in files]), out, authors=False, embed=DEFAULT_ENCODER
    )
    spark.stop()
    print(json.dumps({"works": summary.works, "seconds": summary.seconds}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ml", type=int, default=2000, help="ML Anthology works in the sample")
    parser.add_argument("--cores", default="1,2")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.child[2:])
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="embed-bench-"))
    files = sample(scratch, args.ml)

    from peergraph.db import create_db_engine, migrate
    from peergraph.ingest.formats import expand_paths
    from peergraph.ingest.loader import import_file
    from peergraph.search.embeddings import load_encoder
    from peergraph.search.semantic import DEFAULT_ENCODER, embed_pending
    from peergraph.settings import Settings

    load_encoder(DEFAULT_ENCODER)  # tunes the model once, before any run is timed
    runs = {}
    for cores in [int(n) for n in args.cores.split(",")]:
        out = scratch / f"out{cores}"
        result = subprocess.run(
            [sys.executable, __file__, "--child", f"local[{cores}]", str(out), *map(str, files)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            print(result.stderr[-3000:], file=sys.stderr)
            return 1
        run = json.loads(result.stdout.strip().splitlines()[-1])
        runs[cores] = run
        seconds = run["seconds"]["embed"]
        print(
            f"local[{cores}]: {run['works']:,} works embedded in {seconds:.1f} s"
            f" ({run['works'] / seconds:.1f} works/s); whole run {run['seconds']['total']:.1f} s"
        )
    if 1 in runs and 2 in runs:
        print(f"speed-up: ×{runs[1]['seconds']['embed'] / runs[2]['seconds']['embed']:.2f}")

    engine = create_db_engine(Settings.for_data_dir(scratch / "store"))
    migrate(engine)
    for target in expand_paths(files):
        import_file(engine, target)
    started = time.perf_counter()
    added = embed_pending(engine, load_encoder(DEFAULT_ENCODER))
    seconds = time.perf_counter() - started
    print(
        f"peergraph embed (all cores): {added:,} works in {seconds:.1f} s ({added / seconds:.1f}/s)"
    )

    import numpy as np
    from sqlalchemy import text

    from peergraph.pipeline.embeddings import vector
    from peergraph.pipeline.session import spark_session

    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT work_id, vector FROM work_embeddings")).all())
    spark = spark_session("local[2]", driver_memory="2g")
    rows = spark.read.parquet(str(scratch / f"out{max(runs)}" / "work_embeddings")).collect()
    spark.stop()
    ours = {r.work_id: vector(r.vector) for r in rows}
    cosines = np.array([float(ours[w] @ vector(stored[w])) for w in ours if w in stored])
    print(
        f"vectors: {len(ours):,} from the pipeline, {len(stored):,} from peergraph embed,"
        f" {len(cosines):,} on both; cosine min {cosines.min():.6f}, median"
        f" {np.median(cosines):.6f}"
    )
    return 0 if set(ours) == set(stored) and cosines.min() >= 0.999 else 1


if __name__ == "__main__":
    sys.exit(main())
