"""Graph slice latency on the full shared corpus (docs/graph.md).

    .venv/bin/python benchmarks/graph_slice.py [--store DIR] [--seeds 200]

Needs a rebuilt store (benchmarks/profiles_rebuild.py builds it). Picks the seeds: the 20
most-connected researchers (most collaborators), then random researchers, works, topics,
institutions and venues (fixed random seed), 200 in all. Measures, through the ASGI app
in process (server time only), GET /api/graph/slice for each seed:

* depth 1 and depth 2 with a **cold** cache (the cache is cleared before every request);
* depth 2 again, **warm**: every request made once to fill the cache, then measured.

Prints p50/p95 per case against the targets (depth 1 cold ≤ 100 ms, depth 2 cold
≤ 300 ms, warm ≤ 10 ms), and the slowest seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_store import DEFAULT_STORE, percentile

TARGETS = {"depth 1 cold": 0.100, "depth 2 cold": 0.300, "depth 2 warm": 0.010}


def pick_seeds(engine, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from peergraph.authors.models import AuthorRecord
    from peergraph.profiles.models import Collaboration
    from peergraph.works.models import Institution, Source, Topic, Work

    rng = random.Random(12)
    with engine.connect() as conn:
        busiest = (
            conn.execute(
                select(Collaboration.record_id)
                .group_by(Collaboration.record_id)
                .order_by(func.count().desc())
                .limit(20)
            )
            .scalars()
            .all()
        )
        pools = {
            "researcher": conn.execute(select(AuthorRecord.id)).scalars().all(),
            "work": conn.execute(select(Work.id)).scalars().all(),
            "topic": conn.execute(select(Topic.id)).scalars().all(),
            "institution": conn.execute(select(Institution.id)).scalars().all(),
            "venue": conn.execute(select(Source.id)).scalars().all(),
        }
    seeds = [f"researcher:{r}" for r in busiest]
    shares = {"researcher": 0.4, "work": 0.3, "topic": 0.1, "institution": 0.1, "venue": 0.1}
    rest = count - len(seeds)
    for kind, share in shares.items():
        pool = pools[kind]
        if pool:
            seeds += [f"{kind}:{i}" for i in rng.sample(pool, min(len(pool), round(rest * share)))]
    return seeds[:count]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from peergraph.settings import Settings
    from peergraph.web.app import create_app

    settings = Settings.for_data_dir(args.store)
    # the in-process client sends "Host: testserver"
    app = create_app(
        dataclasses.replace(settings, allowed_hosts=("testserver", *settings.allowed_hosts))
    )
    seeds = pick_seeds(app.state.engine, args.seeds)
    print(f"{len(seeds)} seeds on {args.store}")
    results: dict[str, list[tuple[float, str]]] = {}
    with TestClient(app) as client:
        client.get("/api/graph/slice", params={"node": seeds[0]})  # connections, imports
        for label, depth, cold in (
            ("depth 1 cold", 1, True),
            ("depth 2 cold", 2, True),
            ("depth 2 warm", 2, False),
        ):
            if not cold:  # fill the cache first; then measure the same requests again
                for seed in seeds:
                    client.get("/api/graph/slice", params={"node": seed, "depth": depth})
            times = []
            for seed in seeds:
                if cold:
                    app.state.slices.clear()
                started = time.perf_counter()
                answer = client.get("/api/graph/slice", params={"node": seed, "depth": depth})
                elapsed = time.perf_counter() - started
                if answer.status_code != 200:
                    raise SystemExit(f"{seed}: {answer.status_code} {answer.text[:200]}")
                times.append((elapsed, seed))
            results[label] = times
    for label, times in results.items():
        values = [t for t, _ in times]
        p95 = percentile(values, 0.95)
        target = TARGETS[label]
        verdict = "ok" if p95 <= target else "MISSED"
        print(
            f"{label:<13} p50 {statistics.median(values) * 1000:7.1f} ms  "
            f"p95 {p95 * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms  "
            f"[{verdict}] p95 ≤ {target * 1000:.0f} ms"
        )
    slowest = sorted(results["depth 2 cold"], reverse=True)[:5]
    print("slowest depth-2 cold seeds: " + ", ".join(f"{s} {t * 1000:.0f} ms" for t, s in slowest))


if __name__ == "__main__":
    main()
