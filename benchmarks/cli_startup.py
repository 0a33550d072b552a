"""Wall time of the look-up commands, as a user runs them, on the full shared corpus.

    .venv/bin/python benchmarks/cli_startup.py [--store DIR] [--repeat 5]

Runs ``peergraph stats``, ``peergraph profile NAME`` (the record with the most works)
and ``peergraph search QUERY`` in fresh processes and prints each one's median and
slowest wall time, next to ``peergraph --help`` (the interpreter and CLI start-up
alone) as the baseline of the same run. Target: about a second each.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_store import DEFAULT_STORE


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    database = args.store / "peergraph.sqlite3"
    if not database.exists():
        sys.exit(f"{database} not found: run benchmarks/profiles_rebuild.py first")
    with sqlite3.connect(database) as conn:
        row = conn.execute(
            "SELECT display_name FROM author_records ORDER BY works_count DESC LIMIT 1"
        ).fetchone()
    if row is None:
        sys.exit("no author records: run benchmarks/profiles_rebuild.py first")
    commands = {
        "--help (baseline)": ["--help"],
        "stats": ["stats"],
        f"profile {row[0]!r}": ["profile", row[0]],
        "search 'contrastive image-text pretraining'": [
            "search",
            "contrastive image-text pretraining",
        ],
    }
    env = dict(os.environ, PEERGRAPH_DATA_DIR=str(args.store))
    for label, command in commands.items():
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "peergraph", *command],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            times.append(time.perf_counter() - started)
        print(f"{label:<48} median {statistics.median(times):5.2f} s  max {max(times):5.2f} s")


if __name__ == "__main__":
    main()
