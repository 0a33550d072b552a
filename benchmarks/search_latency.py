"""Search latency and memory on the whole shared corpus.

    .venv/bin/python benchmarks/search_latency.py [--store DIR] [--queries 500]

Needs the shared-corpus store with profiles rebuilt and the semantic index complete
(``benchmarks/profiles_rebuild.py``, then ``peergraph --data-dir benchmarks/results/store
embed``, ~35 min). Queries: half SciFact query texts (claims), half titles of works in the
store, shuffled with a fixed seed. Measured warm:

- in-process: ``search_works`` exactly as the API calls it (works page 1 with snippets,
  researchers and topics; the in-memory BM25 index and search facts the server maps),
  keyword and hybrid (query embedding included);
- over HTTP: ``/api/search`` on a real ``peergraph serve --no-embed`` on loopback;
- memory: the server's peak RSS (VmHWM) after all queries, both indexes loaded.

Targets: keyword p95 ≤ 20 ms, hybrid p95 ≤ 60 ms in-process; HTTP p95 ≤ 2× that;
RSS ≤ 2 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_store import DEFAULT_STORE, SHARED, percentile, served

TARGETS = {"keyword": 0.020, "hybrid": 0.060}


def report(label: str, times: list[float], target: float) -> None:
    p95 = percentile(times, 0.95)
    verdict = "ok" if p95 <= target else "MISSED"
    print(
        f"{label:<22} p50 {statistics.median(times) * 1000:6.1f} ms  "
        f"p95 {p95 * 1000:6.1f} ms  [{verdict}] p95 ≤ {target * 1000:.0f} ms"
    )


def load_queries(engine, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    rng = random.Random(20261122)
    with (SHARED / "scifact-beir" / "queries.jsonl").open(encoding="utf-8") as handle:
        claims = [json.loads(line)["text"] for line in handle if line.strip()]
    with engine.connect() as conn:
        titles = [
            r[0]
            for r in conn.execute(
                text("SELECT title FROM works WHERE length(title) > 20 ORDER BY id")
            )
        ]
    queries = rng.sample(claims, count // 2) + rng.sample(titles, count - count // 2)
    rng.shuffle(queries)
    return queries


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()

    from sqlalchemy.orm import Session

    from peergraph.db import create_db_engine, migrate
    from peergraph.search.facts import SearchFacts
    from peergraph.search.lexical import LexicalIndex
    from peergraph.search.semantic import SemanticIndex, coverage
    from peergraph.search.services import SearchError, search_works
    from peergraph.settings import Settings

    engine = create_db_engine(Settings.for_data_dir(args.store))
    migrate(engine)
    state = coverage(engine)
    print(f"store: {state.total:,} works, semantic index {state.share:.1%}")
    if not state.complete:
        print("warning: the semantic index is incomplete; hybrid timings cover fewer vectors")
    queries = load_queries(engine, args.queries)
    index = SemanticIndex(engine)
    started = time.perf_counter()
    index.size()
    print(f"vectors loaded in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    lexical = LexicalIndex.build(engine)
    print(
        f"in-memory BM25 index built in {time.perf_counter() - started:.1f} s "
        f"({len(lexical.data):,} postings, {len(lexical.terms):,} terms)"
    )

    started = time.perf_counter()
    facts = SearchFacts.load(engine)
    print(f"search facts built in {time.perf_counter() - started:.1f} s")

    def run(mode: str, query: str) -> float:
        with Session(engine) as session:
            began = time.perf_counter()
            with contextlib.suppress(SearchError):  # a query with no searchable words
                search_works(
                    session, query, mode=mode, semantic=index, lexical=lexical, facts=facts
                )
            return time.perf_counter() - began

    in_process: dict[str, list[float]] = {}
    for mode in ("keyword", "hybrid"):
        for query in queries[:20]:
            run(mode, query)  # warm up
        in_process[mode] = [run(mode, q) for q in queries]
        report(f"in-process {mode}", in_process[mode], TARGETS[mode])

    with served(args.store) as (server, root):
        base = root + "/api/search?"

        def fetch(mode: str, query: str) -> float:
            url = base + urllib.parse.urlencode({"q": query, "mode": mode})
            began = time.perf_counter()
            try:
                urllib.request.urlopen(url, timeout=30).read()
            except urllib.error.HTTPError as exc:
                if exc.code != 400:
                    raise
            return time.perf_counter() - began

        for mode in ("keyword", "hybrid"):
            for query in queries[:20]:
                fetch(mode, query)
            times = [fetch(mode, q) for q in queries]
            report(f"HTTP {mode}", times, 2 * percentile(in_process[mode], 0.95))
        status = Path(f"/proc/{server.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss = int(fields["VmRSS"].split()[0]) / 1024
        peak = int(fields["VmHWM"].split()[0]) / 1024
        verdict = "ok" if peak <= 2048 else "MISSED"
        print(f"server RSS {rss:,.0f} MiB, peak {peak:,.0f} MiB  [{verdict}] ≤ 2,048 MiB")


if __name__ == "__main__":
    main()
