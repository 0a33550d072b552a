"""An incremental pipeline run (`peergraph pipeline … --since DIR`) for a 1 % update of the
whole shared corpus, against a full run over the same files, in one run of this script.

    .venv/bin/python benchmarks/scale/incremental.py [--share 0.01] [--keep DIR] [--json F]

The update: the CSL-JSON collections (93 % of the corpus) lose every record whose id
hashes into the first ``--share`` of the range, and those records, as new works, make the
update file; a tenth as many other records come again with an abstract added, as works
that an update enriches. Then, each a fresh child process (its own JVM) at local[2]:

1. a full run over the base files (the previous run);
2. the incremental run over the base files and the update, since run 1;
3. a full run over the same files (the baseline).

Reported: per-stage wall time of runs 2 and 3 and their ratio; the blocks and
authorships clustered again, and why; and whether every table of run 2 equals run 3's
(exit 1 when one differs).
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from replicate import COLLECTIONS
from stages import TreeMemory

from shared_store import SHARED, shared_files

TABLES = (
    "works",
    "authorships",
    "work_identifiers",
    "author_clusters",
    "authorship_names",
    "author_records",
    "record_topics",
    "collaborations",
    "trust_evidence",
    "profiles",
    "work_topics",
)


def split(scratch: Path, share: float) -> tuple[list[Path], Path, int, int]:
    """The base collections and the update file in ``scratch``; returns the base sources,
    the update, and the numbers of new and enriched works in it."""
    update: list[dict] = []
    enriched = 0
    bases = []
    cut = int(share * 2**32)
    for source in COLLECTIONS:
        with gzip.open(source, "rt", encoding="utf-8") as f:
            items = json.load(f)
        kept, again = [], []
        for item in items:
            h = zlib.crc32(str(item.get("id")).encode())
            (update if h < cut else kept).append(item)
            if cut <= h < cut * 1.1:
                again.append(item)
        for item in again:
            update.append({**item, "id": f"{item.get('id')}-update", "abstract": "Updated."})
        enriched += len(again)
        target = scratch / f"base-{source.parent.name}.csl.json.gz"
        with gzip.open(target, "wt", encoding="utf-8", compresslevel=3) as f:
            json.dump(kept, f)
        bases.append(target)
    target = scratch / "update.csl.json.gz"
    with gzip.open(target, "wt", encoding="utf-8", compresslevel=3) as f:
        json.dump(update, f)
    sources = [bases[COLLECTIONS.index(p)] if p in COLLECTIONS else p for p in shared_files()]
    return sources, target, len(update) - enriched, enriched


def child(out: Path, since: Path | None, sources: list[Path]) -> None:
    from peergraph.ingest.formats import expand_paths
    from peergraph.pipeline.run import run_pipeline
    from peergraph.pipeline.session import spark_session

    memory = TreeMemory()
    memory.start()
    spark = spark_session("local[2]", driver_memory="4g")

    def progress(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')}  {line}", file=sys.stderr, flush=True)

    summary = run_pipeline(spark, expand_paths(sources), out, report=progress, since=since)
    names = spark.read.parquet(str(out / "authorship_names"))
    figures: dict = {
        "seconds": summary.seconds,
        "records": sum(f.records_read for f in summary.files),
        "works": summary.works,
        "authorships": names.count(),
        "blocks": names.select("block").distinct().count(),
        "largest_rss_mb": memory.largest,
        "total_rss_mb": memory.total,
    }
    if summary.plan is not None:
        blocks = spark.createDataFrame([(b,) for b in sorted(summary.plan.blocks)], "block string")
        figures["plan"] = {
            "blocks": len(summary.plan.blocks),
            "authorships": names.join(blocks, "block").count(),
            "reasons": summary.plan.reasons,
        }
    spark.stop()
    print(json.dumps(figures))


def compare(a: Path, b: Path) -> None:
    from peergraph.pipeline.session import spark_session

    spark = spark_session("local[2]", driver_memory="4g")
    found = {}
    for table in TABLES:
        left = spark.read.parquet(str(a / table))
        right = spark.read.parquet(str(b / table))
        only_a = left.exceptAll(right).count()
        only_b = right.exceptAll(left).count()
        found[table] = {"rows": left.count(), "only_incremental": only_a, "only_full": only_b}
    spark.stop()
    print(json.dumps(found))


def spawn(log: Path, *args: str) -> dict:
    with log.open("w") as messages:
        done = subprocess.run(
            [sys.executable, __file__, *args],
            stdout=subprocess.PIPE,
            stderr=messages,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        print(log.read_text()[-3000:], file=sys.stderr)
        sys.exit(f"{args[:2]} failed; its messages: {log}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--share", type=float, default=0.01, help="new works, share of all")
    parser.add_argument("--keep", type=Path, help="keep the inputs and outputs in this folder")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--compare", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        since = None if args.child[1] == "-" else Path(args.child[1])
        child(Path(args.child[0]), since, [Path(p) for p in args.child[2:]])
        return 0
    if args.compare:
        compare(*args.compare)
        return 0
    if not SHARED.exists():
        sys.exit(f"{SHARED} not found: the benchmark needs the shared data sets")
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="incremental-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    base, update, new, enriched = split(scratch, args.share)
    print(f"update: {new:,} new works and {enriched:,} enriched ones ({update})")
    both = [*base, update]
    runs = {}
    for name, out, since, sources in (
        ("previous", "before", None, base),
        ("incremental", "after", scratch / "before", both),
        ("full", "full", None, both),
    ):
        started = time.perf_counter()
        run = spawn(
            scratch / f"{out}.log",
            "--child",
            str(scratch / out),
            "-" if since is None else str(since),
            *map(str, sources),
        )
        run["wall"] = time.perf_counter() - started
        runs[name] = run
        stages = ", ".join(f"{s} {t:.1f} s" for s, t in run["seconds"].items())
        print(
            f"{name}: {run['records']:,} records, {run['authorships']:,} authorships in"
            f" {run['blocks']:,} blocks; {stages}; child {run['wall']:.1f} s; peak RSS"
            f" largest process {run['largest_rss_mb']:,} MB, all {run['total_rss_mb']:,} MB"
        )
    inc, full = runs["incremental"], runs["full"]
    plan = inc["plan"]
    print(
        f"clustered again: {plan['blocks']:,} of {inc['blocks']:,} blocks"
        f" ({plan['blocks'] / inc['blocks']:.1%}), {plan['authorships']:,} of"
        f" {inc['authorships']:,} authorships ({plan['authorships'] / inc['authorships']:.1%});"
        f" blocks added by rule: {plan['reasons']}"
    )
    ratios = ", ".join(
        f"{s} {inc['seconds'][s]:.1f}/{t:.1f} s ({inc['seconds'][s] / t:.0%})"
        for s, t in full["seconds"].items()
    )
    print(f"incremental / full, per stage: {ratios}")
    found = spawn(
        scratch / "compare.log", "--compare", str(scratch / "after"), str(scratch / "full")
    )
    differ = {t: f for t, f in found.items() if f["only_incremental"] or f["only_full"]}
    print(
        "every table equal to the full run's"
        if not differ
        else f"tables that differ from the full run's: {differ}"
    )
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "tables": found}, indent=1))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
