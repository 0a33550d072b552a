"""The Spark pipeline on the whole shared corpus: per-stage time at local[1] and local[2]
in one run, and (``--check``) its equality with `peergraph import` of the same files.

    .venv/bin/python benchmarks/scale/stages.py [--cores 1,2] [--check] [--keep DIR] [--json F]

Each pipeline run is a fresh child process (its own JVM). Reported per run: wall time
per stage, records per second, and the peak RSS of the driver and of the largest child
(the JVM, which runs the executors in local mode, or a Python worker) and of all of
them together, sampled from /proc. With ``--check``
the same files are imported into a fresh SQLite store and every table of the local[2]
output is compared with it (works field for field, ids, identifiers, each record's
outcome, reported problems, venues and institutions with their ids); then the store is
rebuilt in full, the pipeline's author clusters are scored against its records (B³;
target ≥ 0.999) and every profile figure is compared (records, topics, collaborations,
trust items, profile snapshots, work topics). Every difference is listed, and the script
exits 1 when a table differs, B³ is under the target, or a profile figure differs for a
record whose authorships were clustered alike.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from shared_store import SHARED, shared_files


class TreeMemory(threading.Thread):
    """Samples the RSS of this process and all its descendants (the JVM, which runs the
    executors in local mode, and the Python workers) twice a second: the peak of the
    largest one and of their sum."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.largest = self.total = 0
        self.largest_name = ""

    @staticmethod
    def _tree() -> dict[int, tuple[str, int]]:
        parents: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                parents[int(stat.parent.name)] = int(fields[1])
        mine = {os.getpid()}
        grew = True
        while grew:
            found = {pid for pid, parent in parents.items() if parent in mine} - mine
            grew = bool(found)
            mine |= found
        out = {}
        for pid in mine:
            with contextlib.suppress(OSError, ValueError):
                status = Path(f"/proc/{pid}/status").read_text()
                name = status.split("\n", 1)[0].split()[-1]
                rss = next(
                    (
                        int(line.split()[1])
                        for line in status.splitlines()
                        if line.startswith("VmRSS")
                    ),
                    0,  # a zombie has none
                )
                out[pid] = (name, rss // 1024)
        return out

    def run(self) -> None:
        while True:
            try:
                tree = self._tree()
            except Exception:  # a process that ended mid-read: sample again
                tree = {}
            if tree:
                name, rss = max(tree.values(), key=lambda item: item[1])
                if rss > self.largest:
                    self.largest, self.largest_name = rss, name
                self.total = max(self.total, sum(r for _, r in tree.values()))
            time.sleep(0.5)


def child(master: str, out: Path, sources: list[Path], driver_memory: str = "4g") -> None:
    from peergraph.ingest.formats import expand_paths
    from peergraph.pipeline.run import run_pipeline
    from peergraph.pipeline.session import spark_session

    memory = TreeMemory()
    memory.start()
    started = time.perf_counter()
    spark = spark_session(master, driver_memory=driver_memory)
    start_up = time.perf_counter() - started

    def progress(line: str) -> None:  # into the run's log: where a long run has got to
        print(f"{time.perf_counter() - started:8.1f} s  {line}", file=sys.stderr, flush=True)

    summary = run_pipeline(spark, expand_paths(sources), out, report=progress)
    authorships = spark.read.parquet(str(out / "authorships")).count()
    spark.stop()
    print(
        json.dumps(
            {
                "master": master,
                "driver_memory": driver_memory,
                "start_up": start_up,
                "seconds": summary.seconds,
                "records": sum(f.records_read for f in summary.files),
                "works": summary.works,
                "identifiers": summary.identifiers,
                "rounds": summary.rounds,
                "authorships": authorships,
                "author_records": summary.records,
                "driver_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "largest_rss_mb": memory.largest,
                "largest_process": memory.largest_name,
                "total_rss_mb": memory.total,
            }
        )
    )


def check(out: Path, scratch: Path, sources: list[Path]) -> int:
    from peergraph.db import create_db_engine, migrate
    from peergraph.ingest.formats import expand_paths
    from peergraph.ingest.loader import import_file
    from peergraph.pipeline.compare import (
        agreement,
        differences,
        parquet_clusters,
        parquet_profiles,
        parquet_tables,
        store_clusters,
        store_profiles,
        store_tables,
        unexplained,
    )
    from peergraph.pipeline.session import spark_session
    from peergraph.profiles.services import rebuild
    from peergraph.settings import Settings

    engine = create_db_engine(Settings.for_data_dir(scratch / "store"))
    migrate(engine)
    started = time.perf_counter()
    for target in expand_paths(sources):
        import_file(engine, target)
    print(f"peergraph import of the same files: {time.perf_counter() - started:.1f} s")
    spark = spark_session("local[2]", driver_memory="4g")
    store, pipeline = store_tables(engine), parquet_tables(spark, out)
    spark.stop()
    for table, rows in store.items():
        print(f"  {table}: store {len(rows):,}, pipeline {len(pipeline[table]):,}")
    found = differences(store, pipeline)
    if found:
        print("DIFFERENCES:")
        print(json.dumps(found, indent=2, default=str))
    else:
        print("equal: no table differs")
    if not (out / "author_clusters").exists():
        return 1 if found else 0
    started = time.perf_counter()
    rebuild(engine, full=True)
    print(f"peergraph rebuild --full of that store: {time.perf_counter() - started:.1f} s")
    spark = spark_session("local[2]", driver_memory="4g")
    agreed = agreement(store_clusters(engine), parquet_clusters(spark, out), limit=100_000)
    figures = {}
    if (out / "profiles").exists():
        figures = differences(store_profiles(engine), parquet_profiles(spark, out), limit=100_000)
    spark.stop()
    scores = agreed.b_cubed
    print(
        f"author records: {agreed.authorships:,} authorships on both sides"
        f" ({agreed.only_store} only in the store, {agreed.only_pipeline} only in the"
        f" pipeline); B³ of the pipeline's clusters against the store's records:"
        f" P {scores.precision:.5f} R {scores.recall:.5f} F1 {scores.f1:.5f}"
    )
    if agreed.differing:
        print(f"authorships whose cluster differs ({len(agreed.differing)}; first 50):")
        print(json.dumps(agreed.differing[:50], indent=1, default=str))
    left = unexplained(figures, agreed)
    for table, sides in figures.items():
        print(
            f"  profile table {table}: store {sides['store']:,}, pipeline {sides['pipeline']:,},"
            f" {len(sides['only_in_store'])} rows only in the store,"
            f" {len(sides['only_in_pipeline'])} only in the pipeline"
        )
    if (out / "profiles").exists():
        print(
            "profile figures: "
            + (
                "equal"
                if not figures
                else "differ only for the records above"
                if not left
                else "DIFFER"
            )
        )
    if left:
        print(json.dumps({t: rows[:20] for t, rows in left.items()}, indent=1, default=str))
    return 1 if found or left or scores.f1 < 0.999 else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", default="1,2", help="local[N] runs, in this order")
    parser.add_argument("--check", action="store_true", help="compare with peergraph import")
    parser.add_argument("--keep", type=Path, help="keep the outputs in this folder")
    parser.add_argument(
        "--json", type=Path, help="also write the runs' figures here (for projection.py)"
    )
    parser.add_argument(
        "--sources",
        type=Path,
        help="read every file in this folder instead of the shared corpus (replicate.py)",
    )
    parser.add_argument(
        "--driver-memory",
        default="4g",
        help="JVM heap of the local-mode driver, which runs the executors (default 4g)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(
            args.child[0],
            Path(args.child[1]),
            [Path(p) for p in args.child[2:]],
            args.driver_memory,
        )
        return 0
    sources = sorted(args.sources.iterdir()) if args.sources else shared_files()
    if not SHARED.exists():
        sys.exit(f"{SHARED} not found: the benchmark needs the shared data sets")
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    runs = {}
    for cores in [int(n) for n in args.cores.split(",")]:
        master = f"local[{cores}]"
        started = time.perf_counter()
        log = scratch / f"out{cores}.log"  # Spark's and the JVM's messages
        with log.open("w") as messages:
            result = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--driver-memory",
                    args.driver_memory,
                    "--child",
                    master,
                    str(scratch / f"out{cores}"),
                    *map(str, sources),
                ],
                stdout=subprocess.PIPE,
                stderr=messages,
                text=True,
                check=False,
            )
        if result.returncode != 0:
            print(log.read_text()[-3000:], file=sys.stderr)
            print(f"{master} failed; its messages: {log}", file=sys.stderr)
            return 1
        run = json.loads(result.stdout.strip().splitlines()[-1])
        run["wall"] = time.perf_counter() - started
        runs[cores] = run
        stages = ", ".join(
            f"{stage} {seconds:.1f} s ({run['records'] / seconds:,.0f} records/s)"
            for stage, seconds in run["seconds"].items()
        )
        print(
            f"{master}: {run['records']:,} records → {run['works']:,} works,"
            f" {run['identifiers']:,} identifiers ({run['rounds']} grouping rounds);"
            f" start-up {run['start_up']:.1f} s; {stages};"
            f" whole child {run['wall']:.1f} s; peak RSS: driver {run['driver_rss_mb']:.0f} MB,"
            f" largest process {run['largest_rss_mb']:,} MB ({run['largest_process']}),"
            f" all processes together {run['total_rss_mb']:,} MB"
        )
    if 1 in runs and len(runs) > 1:
        for cores, run in runs.items():
            if cores == 1:
                continue
            ups = ", ".join(
                f"{stage} ×{runs[1]['seconds'][stage] / seconds:.2f}"
                for stage, seconds in run["seconds"].items()
            )
            print(f"speed-up local[{cores}] over local[1]: {ups}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(runs, indent=1))
    if args.check:
        cores = 2 if 2 in runs else max(runs)
        return check(scratch / f"out{cores}", scratch, sources)
    return 0


if __name__ == "__main__":
    sys.exit(main())
