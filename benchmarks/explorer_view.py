"""The explorer with a 200-node view, in headless Chromium, on the full shared corpus.

    .venv/bin/python benchmarks/explorer_view.py [--store DIR] [--runs 10]

Needs a rebuilt store (benchmarks/profiles_rebuild.py) and Debian's chromium. Serves the
store with a real ``peergraph serve --no-embed``, opens
``/explore?node=researcher:<most collaborators>&depth=2&limit=200`` in a fresh page per
run (a cold slice cache each time: every run uses another of the 10 most-connected
researchers), and reads the browser's Performance API: the ``peergraph:explorer-ready``
measure spans navigation start to an interactive view (nodes laid out, handlers bound).
Prints the median and the worst run against the target (≤ 1.5 s), and the node counts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_store import DEFAULT_STORE, served

TARGET = 1.5


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright
    from sqlalchemy import func, select

    from peergraph.db import create_db_engine
    from peergraph.profiles.models import Collaboration
    from peergraph.settings import Settings

    chromium = os.environ.get("PEERGRAPH_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs headless Chromium (apt-get install chromium)")
    engine = create_db_engine(Settings.for_data_dir(args.store))
    with engine.connect() as conn:
        busiest = (
            conn.execute(
                select(Collaboration.record_id)
                .group_by(Collaboration.record_id)
                .order_by(func.count().desc())
                .limit(args.runs)
            )
            .scalars()
            .all()
        )
    engine.dispose()
    ready: list[float] = []
    nodes: list[int] = []
    with served(args.store) as (_, base), sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        for record in busiest:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/explore?node=researcher:{record}&depth=2&limit=200")
            page.wait_for_selector("#explorer[data-ready=true]", timeout=60_000)
            took = page.evaluate(
                "performance.getEntriesByName('peergraph:explorer-ready')[0].duration"
            )
            ready.append(took / 1000)
            nodes.append(int(page.locator("#explorer").get_attribute("data-nodes") or 0))
            page.close()
        browser.close()
    verdict = "ok" if max(ready) <= TARGET else "MISSED"
    print(
        f"explorer ready: median {statistics.median(ready):.2f} s, worst {max(ready):.2f} s "
        f"over {len(ready)} runs [{verdict}] ≤ {TARGET} s; nodes per view "
        f"{min(nodes)}–{max(nodes)} (median {statistics.median(nodes):.0f})"
    )


if __name__ == "__main__":
    main()
