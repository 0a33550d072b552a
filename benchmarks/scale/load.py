"""Stage 6 on PostgreSQL: a pipeline output loaded into an empty store through the driver
and from the executors through staging tables (pipeline/staging.py), in one run, and the
two stores compared table by table.

    .venv/bin/python benchmarks/scale/load.py OUTPUT_DIR [--master local[2]] [--repeat 1]

OUTPUT_DIR is a `peergraph pipeline` output (stages.py --keep DIR keeps one). A throw-away
PostgreSQL 15 cluster is started (scripts/postgres) and removed at the end; each load goes
into a new database. Reported: wall time of each load (the median over --repeat), rows
per second, and every difference between the two stores (works, identifiers, outcomes,
author clusters, profile figures): the script exits 1 when there is one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from postgres import cluster, engine_for, new_database, store_folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="a peergraph pipeline output folder")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--repeat", type=int, default=1, help="loads of each kind")
    parser.add_argument("--driver-memory", default="4g")
    args = parser.parse_args()

    from peergraph.pipeline.compare import (
        agreement,
        differences,
        store_clusters,
        store_profiles,
        store_tables,
    )
    from peergraph.pipeline.load import load_output
    from peergraph.pipeline.session import spark_session

    spark = spark_session(args.master, driver_memory=args.driver_memory)
    times: dict[str, list[float]] = {"through the driver": [], "staged from the executors": []}
    engines = {}
    with cluster() as admin:
        for round_ in range(args.repeat):
            for kind in times:
                name = f"load_{'driver' if 'driver' in kind else 'staged'}_{round_}"
                folder = store_folder(Path(f"/tmp/{name}"), new_database(admin, name))
                engine = engine_for(folder)
                start = time.perf_counter()
                summary = load_output(engine, spark, args.output, through_driver="driver" in kind)
                times[kind].append(time.perf_counter() - start)
                print(
                    f"{kind}: {times[kind][-1]:.1f} s for {summary.works:,} works,"
                    f" {summary.authorships:,} authorships, {summary.records:,} records",
                    flush=True,
                )
                engines[kind] = engine
        rows = summary.works + summary.authorships + summary.records
        for kind, seen in times.items():
            median = statistics.median(seen)
            print(
                f"{kind}: median {median:.1f} s over {len(seen)}"
                f" ({rows / median:,.0f} works + authorships + records per second)"
            )
        driver, staged = engines.values()
        found = differences(store_tables(driver), store_tables(staged))
        agreed = agreement(store_clusters(driver), store_clusters(staged), limit=10_000)
        profiles = differences(store_profiles(driver), store_profiles(staged))
        print(
            f"tables: {found or 'equal'};"
            f" author clusters B³ F1 {agreed.b_cubed.f1:.5f};"
            f" profiles: {({k: len(v) for k, v in profiles.items()}) or 'equal'}"
        )
        for engine in engines.values():
            engine.dispose()
    spark.stop()
    return 1 if found or profiles or agreed.b_cubed.f1 < 1.0 else 0


if __name__ == "__main__":
    sys.exit(main())
