"""Page latency for the largest pages: the researcher with the most works, the topic
with the most works (newest and most cited first), the work with the most authors.

    .venv/bin/python benchmarks/profile_page.py [--store DIR] [--requests 200]

Needs a rebuilt store (run benchmarks/profiles_rebuild.py first). Measures each page,
warm: in-process through the ASGI app (server time only) and over HTTP against a real
uvicorn server on loopback; prints p50/p95, the SQL statements and the size of each page.
Target: p95 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_store import DEFAULT_STORE, percentile, served


def report(label: str, times: list[float]) -> None:
    p95 = percentile(times, 0.95)
    print(
        f"{label:<26} p50 {statistics.median(times) * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  "
        f"[{'ok' if p95 <= 0.050 else 'MISSED'}] p95 ≤ 50 ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    from fastapi.testclient import TestClient
    from sqlalchemy import event, text

    from peergraph.settings import Settings
    from peergraph.web.app import create_app

    settings = Settings.for_data_dir(args.store)
    app = create_app(settings)
    with app.state.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT id, display_name, works_count FROM author_records"
                " ORDER BY works_count DESC LIMIT 1"
            )
        ).first()
        topic = conn.execute(
            text(
                "SELECT t.id, t.name, count(*) FROM work_topics wt JOIN topics t"
                " ON t.id = wt.topic_id GROUP BY t.id, t.name ORDER BY count(*) DESC LIMIT 1"
            )
        ).first()
        crowded = conn.execute(
            text(
                "SELECT work_id, count(*) FROM authorships GROUP BY work_id"
                " ORDER BY count(*) DESC LIMIT 1"
            )
        ).first()
    if row is None or topic is None or crowded is None:
        sys.exit("no author records: run benchmarks/profiles_rebuild.py first")
    record_id, name, works = row
    pages = {
        "profile": f"/researchers/{record_id}",
        "topic": f"/topics/{topic[0]}",
        "topic cited": f"/topics/{topic[0]}?sort=cited",
        "work": f"/works/{crowded[0]}",
    }
    print(f"profile: {name} (record {record_id}, {works} works)")
    print(f"topic: {topic[1]} (topic {topic[0]}, {topic[2]} works)")
    print(f"work: work {crowded[0]} ({crowded[1]} authors)")

    statements: list[str] = []
    event.listen(app.state.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    in_process: dict[str, list[float]] = {}
    with TestClient(app, base_url="http://localhost") as client:  # an allowed host
        # as over HTTP below: measure once the app's background index build is done
        deadline = time.monotonic() + 600
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        for label, path in pages.items():
            for _ in range(5):
                client.get(path)  # warm caches
            statements.clear()
            response = client.get(path)
            assert response.status_code == 200, path
            print(
                f"{label:<12} {path}: {len(statements)} SQL statements, "
                f"{len(response.content) / 1024:.0f} KiB"
            )
            times = in_process[label] = []
            for _ in range(args.requests):
                started = time.perf_counter()
                client.get(path)
                times.append(time.perf_counter() - started)
    for label, times in in_process.items():
        report(f"{label} (in-process)", times)

    with served(args.store) as (_, base):
        for label, path in pages.items():
            url = base + path
            for _ in range(5):
                urllib.request.urlopen(url, timeout=5).read()
            times = []
            for _ in range(args.requests):
                started = time.perf_counter()
                urllib.request.urlopen(url, timeout=5).read()
                times.append(time.perf_counter() - started)
            report(f"{label} (HTTP)", times)


if __name__ == "__main__":
    main()
