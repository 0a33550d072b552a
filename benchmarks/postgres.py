"""PostgreSQL next to SQLite, in one run: search quality, latency with two web processes,
and the memory two web processes use together.

    .venv/bin/python benchmarks/postgres.py [--store benchmarks/results/store] [--queries 300]

Starts a throw-away PostgreSQL 15 cluster (scripts/postgres) and removes it at the end.

1. SciFact train nDCG@10. The 5,183 SciFact abstracts are imported into a SQLite store
   (as CSL-JSON, the corpus id as the record key) and embedded once (cached under
   benchmarks/results/scifact); `copy_instance` copies that store into PostgreSQL. Each
   store answers the 809 train queries through ``rank_works`` with its index files
   (in-memory BM25, vectors): keyword, hybrid. Also the database's own text index alone
   (what answers while the files are built): FTS5 BM25 against PostgreSQL's ts_rank.
2. The shared-corpus store (145k works; benchmarks/profiles_rebuild.py makes it) is
   copied: the SQLite file, then `copy_instance` into PostgreSQL (timed). When it has
   no work vectors, random unit vectors stand in (seeded): latency and memory depend on
   the matrix's size, not its values; quality is part 1's business.
   For each database the index files are written first (by this script, as a worker
   would), then `serve --workers 1` and `serve --workers 2` each answer the same queries
   over HTTP (keyword, hybrid; latency is taken with two) and their memory is read (PSS:
   shared pages counted once) at once and again after the servers' memory release ran.

3. The same queries in this process, ``search_works`` over the mapped index files, on
   each database.

Targets (issue 10: "within the search issue's budgets"): p95 keyword ≤ 20 ms and hybrid
≤ 60 ms in process, and over HTTP at most twice that (the search issue's HTTP budget);
nDCG@10 drop ≤ 0.01; 2 processes ≤ 1.3× the memory of one.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_latency import load_queries
from shared_store import DEFAULT_STORE, REPO, SHARED, percentile, served

RESULTS = REPO / "benchmarks" / "results"
TARGETS = {"keyword": 0.020, "hybrid": 0.060}


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="peergraph-bench-pg.")
    url = subprocess.run(
        [str(REPO / "scripts" / "postgres"), "start", folder],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        yield url
    finally:
        subprocess.run([str(REPO / "scripts" / "postgres"), "stop", folder], check=False)


def new_database(admin_url: str, name: str) -> str:
    from sqlalchemy import create_engine, text

    from peergraph.db.engine import postgres_url

    url = postgres_url(admin_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def store_folder(folder: Path, url: str | None = None) -> Path:
    """A data folder; with ``url`` its peergraph.toml names that database."""
    folder.mkdir(parents=True, exist_ok=True)
    if url is not None:
        (folder / "peergraph.toml").write_text(f'database_url = "{url}"\n', encoding="utf-8")
    return folder


def engine_for(folder: Path):  # type: ignore[no-untyped-def]
    from peergraph.db import create_db_engine, migrate
    from peergraph.settings import Settings

    engine = create_db_engine(Settings.for_data_dir(folder))
    migrate(engine)
    return engine


# 1. SciFact ---------------------------------------------------------------------------


def scifact_sqlite() -> Path:
    """The SciFact corpus in a SQLite store, embedded (built once, then reused)."""
    from peergraph.ingest.formats import ImportTarget
    from peergraph.ingest.loader import import_file
    from peergraph.search.embeddings import load_encoder
    from peergraph.search.semantic import coverage, embed_pending

    folder = store_folder(RESULTS / "scifact")
    engine = engine_for(folder)
    if not coverage(engine).complete:
        items = []
        with gzip.open(SHARED / "scifact-beir" / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
            for line in f:
                doc = json.loads(line)
                items.append(
                    {
                        "id": doc["_id"],
                        "type": "article-journal",
                        "title": doc.get("title") or doc["_id"],
                        "abstract": doc.get("text") or None,
                    }
                )
        csl = folder / "corpus.csl.json"
        csl.write_text(json.dumps(items), encoding="utf-8")
        import_file(engine, ImportTarget(csl, "csl-json"))
        started = time.perf_counter()
        added = embed_pending(engine, load_encoder())
        print(f"scifact: embedded {added:,} works in {time.perf_counter() - started:.0f} s")
    engine.dispose()
    return folder


def scifact_train(engine):  # type: ignore[no-untyped-def]
    """SciFact train in a store: (work id → corpus id, qrels, queries with judgements)."""
    from sqlalchemy import text

    from peergraph.search.beir import read_qrels

    with engine.connect() as conn:
        corpus_id = dict(
            conn.execute(
                text("SELECT entity_id, record_key FROM provenance WHERE entity_type = 'work'")
            ).all()
        )
    qrels = read_qrels(SHARED / "scifact-beir" / "qrels" / "train.tsv")
    with (SHARED / "scifact-beir" / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = {q["_id"]: q["text"] for q in map(json.loads, handle) if q["_id"] in qrels}
    return corpus_id, qrels, queries


def scifact_scores(folder: Path) -> dict[str, float]:
    from sqlalchemy.orm import Session

    from peergraph.search.lexical import LexicalIndex
    from peergraph.search.metrics import ndcg_at_k
    from peergraph.search.semantic import SemanticIndex
    from peergraph.search.services import SearchError, rank_works

    engine = engine_for(folder)
    corpus_id, qrels, queries = scifact_train(engine)
    lexical = LexicalIndex.build(engine)
    semantic = SemanticIndex(engine)
    semantic.size()
    runs = {
        "keyword": {"mode": "keyword", "lexical": lexical},
        "hybrid": {"mode": "hybrid", "lexical": lexical, "semantic": semantic},
        "keyword, text index only": {"mode": "keyword", "lexical": None},
    }
    scores = {}
    with Session(engine) as session:
        for label, options in runs.items():
            values = []
            for query_id, query in queries.items():
                try:
                    ranked, *_ = rank_works(session, query, **options)  # type: ignore[arg-type]
                except SearchError:
                    ranked = []
                ids = [corpus_id[w] for w, _ in ranked[:10]]
                values.append(ndcg_at_k(ids, qrels[query_id], 10))
            scores[label] = statistics.fmean(values)
    engine.dispose()
    return scores


# 2. Latency and memory --------------------------------------------------------------


def shared_sqlite(store: Path, queries: int) -> Path:
    """A copy of the shared-corpus store at the newest schema, with vectors."""
    import numpy as np
    from sqlalchemy import func, insert, select

    from peergraph.search.models import WorkEmbedding
    from peergraph.search.semantic import DEFAULT_ENCODER
    from peergraph.works.models import Work

    source = store / "peergraph.sqlite3"
    if not source.exists():
        sys.exit(f"{source} not found: run benchmarks/profiles_rebuild.py first")
    folder = RESULTS / "pg-bench-sqlite"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy(source, folder / "peergraph.sqlite3")
    engine = engine_for(folder)
    with engine.begin() as conn:
        embedded = conn.execute(select(func.count()).select_from(WorkEmbedding)).scalar_one()
        if not embedded:
            ids = list(conn.scalars(select(Work.id).order_by(Work.id)))
            rng = np.random.default_rng(20261201)
            for start in range(0, len(ids), 10_000):
                chunk = ids[start : start + 10_000]
                vectors = rng.standard_normal((len(chunk), 384)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                conn.execute(
                    insert(WorkEmbedding),
                    [
                        {"work_id": i, "model": DEFAULT_ENCODER, "vector": v.tobytes()}
                        for i, v in zip(chunk, vectors, strict=True)
                    ],
                )
            print(f"shared store: {len(ids):,} works given random unit vectors (none stored)")
    engine.dispose()
    return folder


def pss_mib(pid: int) -> float:
    """Proportional set size of a process and its descendants, MiB."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(c) for c in children)
    return total


def fetch(base: str, mode: str, query: str) -> float:
    url = base + "/api/search?" + urllib.parse.urlencode({"q": query, "mode": mode})
    began = time.perf_counter()
    try:
        urllib.request.urlopen(url, timeout=60).read()
    except urllib.error.HTTPError as exc:
        if exc.code != 400:  # a query without searchable words
            raise
    return time.perf_counter() - began


def warm_up(base: str, queries: list[str], processes: int) -> None:
    """Until every process has both indexes loaded and has answered a few of each."""
    for query in queries[: 20 * processes]:
        for mode in ("keyword", "hybrid"):
            fetch(base, mode, query)


def build_index_files(folder: Path) -> None:
    """Write the index files before any server starts, so every server process only maps
    them: the process that builds them keeps its build-time heap (the allocator does not
    give it back), which would make the first measured process look bigger."""
    from peergraph.search.facts import SearchFacts
    from peergraph.search.files import IndexFolder
    from peergraph.search.lexical import LexicalIndex
    from peergraph.search.semantic import SemanticIndex

    engine = engine_for(folder)
    index_folder = IndexFolder(folder)
    LexicalIndex.load(engine, index_folder)
    SearchFacts.load(engine, index_folder)
    SemanticIndex(engine, folder=index_folder).size()
    engine.dispose()


def in_process(folder: Path, queries: list[str]) -> dict[str, float]:
    """``search_works`` as the API calls it, in this process, over the mapped index files:
    the search issue's in-process budgets (20 / 60 ms p95)."""
    from sqlalchemy.orm import Session

    from peergraph.search.facts import SearchFacts
    from peergraph.search.files import IndexFolder
    from peergraph.search.lexical import LexicalIndex
    from peergraph.search.semantic import SemanticIndex
    from peergraph.search.services import SearchError, search_works

    engine = engine_for(folder)
    index_folder = IndexFolder(folder)
    indexes = {
        "lexical": LexicalIndex.load(engine, index_folder),
        "facts": SearchFacts.load(engine, index_folder),
        "semantic": SemanticIndex(engine, folder=index_folder),
    }

    def run(mode: str, query: str) -> float:
        with Session(engine) as session:
            began = time.perf_counter()
            with contextlib.suppress(SearchError):  # a query without searchable words
                search_works(session, query, mode=mode, **indexes)
            return time.perf_counter() - began

    figures: dict[str, float] = {}
    for mode in ("keyword", "hybrid"):
        for query in queries[:20]:
            run(mode, query)
        times = [run(mode, q) for q in queries]
        figures[f"{mode}_p50"] = statistics.median(times)
        figures[f"{mode}_p95"] = percentile(times, 0.95)
    engine.dispose()
    return figures


def measure(folder: Path, queries: list[str]) -> dict[str, float]:
    """Latency with two processes; memory of one and of two processes after the same
    queries, read at once ("busy") and after the servers' memory release has run
    ("settled": search/background.py hands freed heap back every TRIM_SECONDS)."""
    from peergraph.search.background import TRIM_SECONDS

    figures: dict[str, float] = {}
    build_index_files(folder)
    for workers, label in ((1, "one"), (2, "two")):
        with served(folder, "--no-worker", workers=workers) as (server, base):
            warm_up(base, queries, workers)
            for mode in ("keyword", "hybrid"):
                times = [fetch(base, mode, q) for q in queries]
                if workers == 2:
                    figures[f"{mode}_p50"] = statistics.median(times)
                    figures[f"{mode}_p95"] = percentile(times, 0.95)
            figures[f"busy_{label}"] = pss_mib(server.pid)
            time.sleep(TRIM_SECONDS + 2)
            figures[f"memory_{label}"] = pss_mib(server.pid)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--skip-scifact", action="store_true")

    args = parser.parse_args()
    from peergraph.db.copy import copy_instance

    with cluster() as admin:
        if not args.skip_scifact:
            sqlite_folder = scifact_sqlite()
            pg_folder = store_folder(RESULTS / "scifact-pg", new_database(admin, "scifact"))
            copy_instance(engine_for(sqlite_folder), engine_for(pg_folder))
            sqlite_scores = scifact_scores(sqlite_folder)
            pg_scores = scifact_scores(pg_folder)
            print("\nSciFact train nDCG@10          SQLite  PostgreSQL   difference")
            for label, value in sqlite_scores.items():
                other = pg_scores[label]
                print(f"  {label:<28} {value:6.3f}  {other:10.3f}   {other - value:+.3f}")

        sqlite_folder = shared_sqlite(args.store, args.queries)
        source = engine_for(sqlite_folder)
        pg_folder = store_folder(RESULTS / "pg-bench-pg", new_database(admin, "bench"))
        shutil.rmtree(pg_folder / "index", ignore_errors=True)
        started = time.perf_counter()
        report = copy_instance(source, engine_for(pg_folder))
        print(
            f"\ncopy SQLite → PostgreSQL: {report.total:,} rows in"
            f" {time.perf_counter() - started:.0f} s"
        )
        queries = load_queries(source, args.queries)
        source.dispose()
        results = {
            "SQLite": measure(sqlite_folder, queries),
            "PostgreSQL": measure(pg_folder, queries),
        }
        inside = {
            "SQLite": in_process(sqlite_folder, queries),
            "PostgreSQL": in_process(pg_folder, queries),
        }
    for title, table, factor in (
        ("in process (search_works over the mapped index files)", inside, 1),
        ("over HTTP, serve --workers 2", results, 2),
    ):
        print(f"\n{len(queries)} queries {title} (ms)")
        print("                      SQLite  PostgreSQL   target (p95)")
        for mode in ("keyword", "hybrid"):
            for stat in ("p50", "p95"):
                row = [table[db][f"{mode}_{stat}"] * 1000 for db in ("SQLite", "PostgreSQL")]
                target = f"≤ {factor * TARGETS[mode] * 1000:.0f}" if stat == "p95" else ""
                print(f"  {mode} {stat:<14} {row[0]:6.1f}  {row[1]:10.1f}   {target}")
    print("\nmemory (PSS, MiB)     one process   two processes   ratio (target ≤ 1.3)")
    for db, figures in results.items():
        for state in ("busy", "memory"):
            one, two = figures[f"{state}_one"], figures[f"{state}_two"]
            label = f"{db}, {'busy' if state == 'busy' else 'settled'}"
            print(f"  {label:<18} {one:11,.0f}   {two:13,.0f}   {two / one:.2f}")


if __name__ == "__main__":
    main()
