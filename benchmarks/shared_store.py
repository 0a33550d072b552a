"""Build (once) a store holding the whole shared corpus, for the benchmarks."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
DEFAULT_STORE = REPO / "benchmarks" / "results" / "store"


def shared_files() -> list[Path]:
    oa = SHARED / "openalex-api-samples"
    return [
        *(oa / f"{e}.jsonl.gz" for e in ("institutions", "sources", "topics", "authors", "works")),
        oa / "snapshot_sample",
        SHARED / "mlanthology-ml-venues" / "works.csl.json.gz",
        SHARED / "acl-anthology-2019" / "works.csl.json.gz",
        SHARED / "arxiv-samples" / "arxiv-metadata-oai-snapshot.first200.json",
        SHARED / "arxiv-samples" / "api-atom",
    ]


def ensure_imported(store: Path):  # type: ignore[no-untyped-def]
    """Import the shared corpus into ``store`` (files already imported are skipped)."""
    from peergraph.db import create_db_engine, migrate
    from peergraph.ingest.formats import expand_paths
    from peergraph.ingest.loader import import_file
    from peergraph.settings import Settings

    if not SHARED.exists():
        sys.exit(f"{SHARED} not found: the benchmarks need the shared data sets")
    engine = create_db_engine(Settings.for_data_dir(store))
    migrate(engine)
    for target in expand_paths(shared_files()):
        import_file(engine, target)
    return engine
