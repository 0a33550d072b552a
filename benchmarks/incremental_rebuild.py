"""An incremental rebuild after importing 500 new works, against a full rebuild, in one run.

    .venv/bin/python benchmarks/incremental_rebuild.py [--new update|common-names] [--works 500]

Two kinds of new works (``--new``):

- ``update`` (the default): the corpus as a running site sees it. A store of the whole
  shared corpus except the ``--works`` newest ML papers (by year, then file order) is
  built in a scratch folder; those papers are then the update, the way a new batch of
  proceedings arrives.
- ``common-names``: the shared-corpus store (benchmarks/shared_store.py; built once),
  copied, plus every ninth work of the common-names set (../shared/data/and-common-names):
  every new paper lands in the biggest name families ("Wang", "Zhang", "Li"), the worst
  case for an incremental run.

Then, each step in a fresh child process:

1. a full rebuild (``rebuild --full``): the baseline;
2. the import of the new works;
3. a rebuild, incremental, and the blocks, authorships and profiles it touched.

Target: step 3 takes ≤ 10 % of step 1's time. Reports each step's seconds and peak RSS.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_store import DEFAULT_STORE, SHARED, ensure_imported, shared_files


def child(store: Path, step: str, works: Path | None) -> None:
    from peergraph.db import create_db_engine
    from peergraph.ingest.formats import ImportTarget
    from peergraph.ingest.loader import import_file
    from peergraph.profiles.services import rebuild
    from peergraph.settings import Settings

    engine = create_db_engine(Settings.for_data_dir(store))
    started = time.perf_counter()
    out: dict[str, object] = {}
    if step == "import":
        assert works is not None
        summary = import_file(engine, ImportTarget(works, "csl-json"))
        out["imported"] = summary.imported
    else:

        def say(message: str) -> None:  # where the time goes, on stderr
            print(f"    [{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr)

        report = rebuild(engine, full=step == "full", progress=say)
        out.update(
            mode=report.mode,
            blocks=report.blocks,
            authorships=report.authorships,
            profiles=report.profiles,
            new=report.new_records,
            retired=report.retired_records,
            reasons=report.reasons,
        )
    out["seconds"] = time.perf_counter() - started
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def run(store: Path, step: str, works: Path | None = None) -> dict:
    command = [sys.executable, __file__, "--child", step, "--store", str(store)]
    if works is not None:
        command += ["--new-works", str(works)]
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def held_out(store: Path, new: Path, works: int) -> None:
    """Import the shared corpus into ``store`` without the ``works`` newest ML papers,
    and write those to ``new``."""
    from peergraph.db import create_db_engine, migrate
    from peergraph.ingest.formats import expand_paths
    from peergraph.ingest.loader import import_file
    from peergraph.settings import Settings

    ml = SHARED / "mlanthology-ml-venues" / "works.csl.json.gz"
    with gzip.open(ml) as source:
        pool = json.load(source)

    def year(work: dict) -> int:
        parts = (work.get("issued") or {}).get("date-parts") or [[0]]
        return int(parts[0][0] or 0)

    order = sorted(range(len(pool)), key=lambda i: (year(pool[i]), i))
    newest = set(order[-works:])
    kept = store.parent / "ml-without-newest.csl.json"
    kept.write_text(json.dumps([w for i, w in enumerate(pool) if i not in newest]))
    new.write_text(json.dumps([pool[i] for i in sorted(newest)]))
    engine = create_db_engine(Settings.for_data_dir(store))
    migrate(engine)
    started = time.perf_counter()
    for target in expand_paths([kept if f == ml else f for f in shared_files()]):
        import_file(engine, target)
    engine.dispose()
    print(f"store without the {works} newest ML papers: {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--works", type=int, default=500)
    parser.add_argument("--new", choices=("update", "common-names"), default="update")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--new-works", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.store, args.child, args.new_works)
        return
    with tempfile.TemporaryDirectory(prefix="peergraph-incremental-") as scratch:
        copy = Path(scratch) / "store"
        new = Path(scratch) / "new.csl.json"
        if args.new == "common-names":
            ensure_imported(args.store).dispose()
            shutil.copytree(args.store, copy)
            with gzip.open(SHARED / "and-common-names" / "works.csl.json.gz") as source:
                pool = json.load(source)
            new.write_text(json.dumps(pool[::9][: args.works]))
        else:
            held_out(copy, new, args.works)

        full = run(copy, "full")
        print(
            f"full rebuild:        {full['seconds']:7.1f} s  peak RSS {full['peak_rss_mb']:,.0f} MB"
            f"  ({full['authorships']:,} authorships, {full['blocks']:,} blocks)"
        )
        imported = run(copy, "import", new)
        print(
            f"import {args.works} works:   {imported['seconds']:7.1f} s"
            f"  ({imported['imported']} new works)"
        )
        step = run(copy, "incremental")
        assert step["mode"] == "incremental", step
        print(
            f"incremental rebuild: {step['seconds']:7.1f} s  peak RSS {step['peak_rss_mb']:,.0f} MB"
            f"  ({step['authorships']:,} authorships in {step['blocks']:,} blocks, "
            f"{step['profiles']:,} profiles, {step['new']} new / {step['retired']} retired ids)"
        )
        for reason, count in step["reasons"].items():
            print(f"  {count:6,} blocks: {reason}")
        share = step["seconds"] / full["seconds"]
        print(f"incremental / full: {share:.1%}  [{'ok' if share <= 0.10 else 'MISSED'}] ≤ 10 %")
        both = (step["seconds"] + imported["seconds"]) / full["seconds"]
        print(f"(import + incremental) / full: {both:.1%}")


if __name__ == "__main__":
    main()
