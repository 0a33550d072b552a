"""Import throughput on the full ML Anthology CSL-JSON file (93,665 works).

Runs, each in a fresh child process (so peak RSS is that run's own):
  * parse-only: stream and normalise every record, no storage (the floor);
  * import: the same file into a fresh SQLite store with the real loader.
Repeats both --repeat times (interleaved, so machine noise hits both alike) and reports
medians: works/s, authorships/s, wall time, peak RSS, and import rate / parse rate.

    .venv/bin/python benchmarks/import_throughput.py [--file PATH] [--repeat 3]

Targets (2-core machine): import <= 60 s wall, peak RSS <= 1 GB, import rate >= 25 %
of the parse-only rate.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FILE = REPO.parent / "shared" / "data" / "mlanthology-ml-venues" / "works.csl.json.gz"


def child_parse(path: Path) -> dict[str, float]:
    from peergraph.ingest.formats import detect_format, iter_parsed
    from peergraph.ingest.records import WorkRecord

    started = time.perf_counter()
    works = authorships = 0
    for parsed in iter_parsed(path, detect_format(path)):
        if isinstance(parsed.item, WorkRecord):
            works += 1
            authorships += len(parsed.item.authorships)
    return {"seconds": time.perf_counter() - started, "works": works, "authorships": authorships}


def child_import(path: Path) -> dict[str, float]:
    from sqlalchemy import text

    from peergraph.db import create_db_engine, migrate
    from peergraph.ingest.formats import ImportTarget, detect_format
    from peergraph.ingest.loader import import_file
    from peergraph.settings import Settings

    with tempfile.TemporaryDirectory() as folder:
        engine = create_db_engine(Settings.for_data_dir(Path(folder)))
        migrate(engine)
        started = time.perf_counter()
        summary = import_file(engine, ImportTarget(path, detect_format(path)))
        seconds = time.perf_counter() - started
        with engine.connect() as conn:
            works = conn.execute(text("SELECT count(*) FROM works")).scalar_one()
            authorships = conn.execute(text("SELECT count(*) FROM authorships")).scalar_one()
        engine.dispose()
    assert summary.status == "completed", summary
    return {"seconds": seconds, "works": works, "authorships": authorships}


def run_child(mode: str, path: Path) -> dict[str, float]:
    started = time.perf_counter()
    output = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--file", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=["parse", "import"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child_parse(args.file) if args.child == "parse" else child_import(args.file)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    if not args.file.exists():
        sys.exit(f"{args.file} not found (the ML Anthology file from ../shared/data)")

    parses, imports = [], []
    for i in range(args.repeat):
        parses.append(run_child("parse", args.file))
        imports.append(run_child("import", args.file))
        took = f"parse {parses[-1]['seconds']:.1f} s, import {imports[-1]['seconds']:.1f} s"
        print(f"run {i + 1}: {took}", file=sys.stderr, flush=True)

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    parse_s, import_s = median(parses, "seconds"), median(imports, "seconds")
    works, authorships = imports[0]["works"], imports[0]["authorships"]
    parse_rate = parses[0]["works"] / parse_s
    import_rate = works / import_s
    rss = max(r["peak_rss_mb"] for r in imports)
    print(
        f"file: {args.file} ({args.file.stat().st_size / 1e6:.1f} MB), {args.repeat} runs, medians"
    )
    print(
        f"parse only : {parse_s:6.1f} s  {parse_rate:9,.0f} works/s  "
        f"peak RSS {max(r['peak_rss_mb'] for r in parses):,.0f} MB"
    )
    print(
        f"import     : {import_s:6.1f} s  {import_rate:9,.0f} works/s  "
        f"{authorships / import_s:9,.0f} authorships/s  peak RSS {rss:,.0f} MB"
    )
    print(f"stored     : {works:,} works, {authorships:,} authorships")
    print(f"import wall (process, incl. start-up): {median(imports, 'process_seconds'):.1f} s")
    ratio = import_rate / parse_rate
    checks = [
        ("import wall <= 60 s", median(imports, "process_seconds") <= 60),
        ("peak RSS <= 1 GB", rss <= 1024),
        ("import rate >= 25 % of parse-only", ratio >= 0.25),
    ]
    print(f"import rate / parse-only rate: {ratio:.0%}")
    for label, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")


if __name__ == "__main__":
    main()
