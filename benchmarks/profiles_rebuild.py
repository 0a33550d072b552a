"""Disambiguation + profile computation for the whole shared corpus.

    .venv/bin/python benchmarks/profiles_rebuild.py [--store DIR] [--repeat 1]

Imports the shared data into DIR once (default benchmarks/results/store), then runs
``peergraph rebuild --full`` in a fresh child process per repeat and reports the wall time of
each phase, the total and the child's peak RSS. Targets (2-core machine): ≤ 5 minutes,
peak RSS ≤ 2 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_store import DEFAULT_STORE, ensure_imported


def child(store: Path) -> None:
    from peergraph.db import create_db_engine
    from peergraph.profiles.services import rebuild
    from peergraph.settings import Settings

    engine = create_db_engine(Settings.for_data_dir(store))
    started = time.perf_counter()
    phases: list[tuple[str, float, float]] = []

    def phase(message: str) -> None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        phases.append((message, time.perf_counter() - started, peak))

    report = rebuild(engine, full=True, progress=phase)
    print(
        json.dumps(
            {
                "seconds": report.seconds,
                "authorships": report.authorships,
                "records": report.records,
                "new": report.new_records,
                "retired": report.retired_records,
                "topics": report.inferred_topics,
                "phases": phases,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.store)
        return
    ensure_imported(args.store).dispose()
    runs = []
    for _ in range(args.repeat):
        output = subprocess.run(
            [sys.executable, __file__, "--child", "--store", str(args.store)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs.append(json.loads(output.strip().splitlines()[-1]))
    last = runs[-1]
    print(
        f"{last['authorships']:,} authorships → {last['records']:,} author records, "
        f"{last['topics']} inferred topics "
        f"(run {len(runs)}: {last['new']} new, {last['retired']} retired ids)"
    )
    for message, at, peak in last["phases"]:
        print(f"  from {at:6.1f} s (peak RSS so far {peak:,.0f} MB): {message}")
    total = statistics.median(r["seconds"] for r in runs)
    rss = max(r["peak_rss_mb"] for r in runs)
    print(f"total (median of {len(runs)}): {total:.1f} s, peak RSS {rss:,.0f} MB")
    print(f"  [{'ok' if total <= 300 else 'MISSED'}] ≤ 5 minutes")
    print(f"  [{'ok' if rss <= 2048 else 'MISSED'}] peak RSS ≤ 2 GB")


if __name__ == "__main__":
    main()
