"""Load: the realistic mix of benchmarks/load/locustfile.py against a real server.

    .venv/bin/uv pip install 'locust>=2.20'      # the load generator (not a test dependency)
    .venv/bin/python benchmarks/load/run.py [--store DIR] [--users 8,16,24] [--step 60]
        [--duration 300] [--workers 1]
    .venv/bin/python benchmarks/load/run.py --postgres --workers 2 [--import-during]

Prepares load accounts in the store (members with a verified address; owners of claimed,
open records, paired in accepted conversations), starts ``peergraph serve`` on loopback,
then runs locust headless: a warm-up (``--warm-up`` seconds at 8 users, not
counted), a step of ``--step`` seconds at each number of users, keeps the
highest that had no failures and a p99 ≤ 500 ms, and runs ``--duration`` seconds there.
Prints one table (requests/s, p50/p95/p99 per route) and writes it with locust's CSVs
under benchmarks/results/load/. The load generator runs on the same 2 cores as the
server: its share of the CPU is part of every figure.

``--postgres`` builds (once) a PostgreSQL store of the whole shared corpus except the
50,000 newest ML Anthology papers, in a throw-away cluster (``scripts/postgres``) under
/tmp/peergraph-load-pg, kept between runs. ``--import-during`` queues the import of those
50,000 works and then a rebuild for the server's own worker once the final run starts,
polls keyword search for the held-out papers, and runs until the rebuild is done (at
least ``--duration``, at most four times it): the report says when each job ended and
when the works became searchable.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
from shared_store import (  # noqa: E402
    DEFAULT_STORE,
    SHARED,
    ensure_imported,
    served,
    shared_files,
)

OUT = REPO / "benchmarks" / "results" / "load"
PG_CLUSTER = Path("/tmp/peergraph-load-pg")  # directly under /tmp: the cluster runs as postgres
PG_STORE = REPO / "benchmarks" / "results" / "pgstore"
MLANTHOLOGY = SHARED / "mlanthology-ml-venues" / "works.csl.json.gz"
HELD_OUT = 50_000
PASSWORD = "load test password 2026"
P99_TARGET_MS = 500
QUERIES = [
    "graph neural networks",
    "machine translation",
    "reinforcement learning",
    "bayesian optimization",
    "named entity recognition",
    "variational inference",
    "speech recognition",
    "contrastive learning of representations",
    "dependency parsing",
    "causal inference",
]


def split_mlanthology() -> tuple[Path, Path]:
    """The ML Anthology in two CSL-JSON files: the older papers (in the store before the
    run) and the ``HELD_OUT`` newest (imported during it)."""
    older, newest = OUT / "mlanthology-older.json", OUT / f"mlanthology-newest-{HELD_OUT}.json"
    if not (older.exists() and newest.exists()):
        with gzip.open(MLANTHOLOGY, "rt", encoding="utf-8") as handle:
            papers = json.load(handle)
        papers.sort(key=lambda p: (p.get("issued", {}).get("date-parts", [[0]])[0][0], p["id"]))
        OUT.mkdir(parents=True, exist_ok=True)
        older.write_text(json.dumps(papers[:-HELD_OUT]), encoding="utf-8")
        newest.write_text(json.dumps(papers[-HELD_OUT:]), encoding="utf-8")
    return older, newest


def postgres_store() -> Path:
    """The PostgreSQL store for one run: a fresh copy (``CREATE DATABASE … TEMPLATE``) of
    a base database, the shared corpus without the held-out papers, rebuilt, so that
    every run, the import of the held-out papers included, starts from the same store.
    The cluster is started when it is not running, and the base is built on first use
    (about 5 minutes). The search index files are built by the server during the first
    run's warm-up; ``main`` keeps a copy (``index.base``) that later runs start from."""
    from sqlalchemy import create_engine, text

    script = str(REPO / "scripts" / "postgres")
    if not (PG_CLUSTER / "data").exists():
        url = subprocess.run(
            [script, "start", str(PG_CLUSTER)], check=True, capture_output=True, text=True
        ).stdout.strip()
        (PG_CLUSTER / "url").write_text(url.replace("postgresql://", "postgresql+psycopg://"))
    elif not (PG_CLUSTER / "data" / "postmaster.pid").exists():
        subprocess.run([script, "up", str(PG_CLUSTER)], check=True)
    server = (PG_CLUSTER / "url").read_text().strip().rsplit("/", 1)[0]
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    PG_STORE.mkdir(parents=True, exist_ok=True)
    index, base_index = PG_STORE / "index", PG_STORE / "index.base"
    built = PG_CLUSTER / "peergraph-built"
    if not built.exists():
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS loadbase WITH (FORCE)"))
            conn.execute(text("CREATE DATABASE loadbase"))
        (PG_STORE / "peergraph.toml").write_text(f'database_url = "{server}/loadbase"\n')
        shutil.rmtree(index, ignore_errors=True)
        older, _newest = split_mlanthology()
        files = [f for f in shared_files() if f != MLANTHOLOGY] + [older]
        env = dict(os.environ, PEERGRAPH_DATA_DIR=str(PG_STORE))
        peergraph = [sys.executable, "-m", "peergraph"]
        subprocess.run([*peergraph, "migrate"], env=env, check=True)
        subprocess.run([*peergraph, "import", "-q", *map(str, files)], env=env, check=True)
        subprocess.run([*peergraph, "rebuild", "--full"], env=env, check=True)
        built.write_text(time.strftime("%Y-%m-%d %H:%M\n"))
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS load WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE load TEMPLATE loadbase"))
    admin.dispose()
    (PG_STORE / "peergraph.toml").write_text(f'database_url = "{server}/load"\n')
    shutil.rmtree(index, ignore_errors=True)
    if base_index.exists():
        shutil.copytree(base_index, index)
    return PG_STORE


def sqlite_store(store: Path) -> Path:
    """The SQLite store: the shared corpus imported (files already there are skipped)
    and rebuilt when its records are behind."""
    from peergraph.profiles.services import is_stale, rebuild

    engine = ensure_imported(store)
    if is_stale(engine):
        rebuild(engine, progress=lambda message: print(message, file=sys.stderr))
    engine.dispose()
    return store


def prepare(store: Path, members: int = 40, owners: int = 20) -> Path:
    """Accounts, claims and conversations for the logged-in users; the fixture file."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from peergraph.accounts import services
    from peergraph.accounts.models import Account
    from peergraph.accounts.secrets import Signing
    from peergraph.authors.models import AuthorRecord, RecordClaim
    from peergraph.authors.ownership import claim_record
    from peergraph.claims.models import RecordSettings
    from peergraph.claims.services import Actor
    from peergraph.conversations import services as conversations
    from peergraph.conversations.models import Conversation
    from peergraph.db import create_db_engine
    from peergraph.db.base import utcnow
    from peergraph.profiles.models import RecordTopic
    from peergraph.settings import Settings
    from peergraph.works.models import Work

    settings = Settings.for_data_dir(store)
    engine = create_db_engine(settings)
    rng = random.Random(0)
    now = utcnow()
    with Session(engine) as session:
        records = list(
            session.scalars(
                select(AuthorRecord.id).order_by(AuthorRecord.works_count.desc()).limit(2000)
            )
        )
        top = session.scalar(select(func.max(Work.id))) or 1
        works = [rng.randint(1, top) for _ in range(2000)]
        topics = list(session.scalars(select(RecordTopic.topic_id).distinct().limit(200)))
        made = []
        for i in range(members):
            email = f"load{i}@example.org"
            account = services.by_email(session, email) or services.create_user(
                session, email, PASSWORD, "member", now
            )
            made.append(account)
        session.commit()
        fixture_members = [{"email": a.email, "id": a.id} for a in made]
        owned = records[:owners]
    with Session(engine) as session:  # a second run finds its claims in place
        taken = set(
            session.scalars(select(RecordClaim.record_id).where(RecordClaim.record_id.in_(owned)))
        )
    with engine.begin() as conn:
        for account, record in zip(made[:owners], owned, strict=True):
            if record not in taken:
                claim_record(conn, record, f"account:{account.id}", account_id=account.id)
    with Session(engine) as session:
        for record in owned:
            if record not in taken:
                session.add(RecordSettings(record_id=record, open_to_collaborate=True))
        session.commit()
        ctx = services.Context(Signing("load-" + "x" * 40), "http://load", "127.0.0.1", now)
        for a, b in zip(range(0, owners, 2), range(1, owners, 2), strict=True):
            sender = session.get_one(Account, made[a].id)
            try:
                anchor = conversations.anchor_choices(session, owned[a], owned[b])["their-work"][0]
                talk = conversations.invite(
                    session, Actor(sender, ctx), owned[b], anchor.kind, anchor.id, "Load test."
                )
                conversations.accept(
                    session, Actor(session.get_one(Account, made[b].id), ctx), talk.id
                )
                fixture_members[a]["conversation"] = talk.id
                fixture_members[b]["conversation"] = talk.id
                session.commit()
            except conversations.ConversationError:  # a second run: theirs is open already
                session.rollback()
                existing = session.scalar(
                    select(Conversation.id).where(
                        Conversation.starter_id == made[a].id,
                        Conversation.recipient_id == made[b].id,
                        Conversation.status == "accepted",
                    )
                )
                if existing is not None:
                    fixture_members[a]["conversation"] = existing
                    fixture_members[b]["conversation"] = existing
    from peergraph.search.semantic import coverage

    semantic = coverage(engine).embedded > 0  # else semantic search answers 400: left out
    engine.dispose()
    fixture = OUT / "fixture.json"
    OUT.mkdir(parents=True, exist_ok=True)
    fixture.write_text(
        json.dumps(
            {
                "records": records,
                "open_records": owned,
                "works": works,
                "topics": topics or [1],
                "queries": QUERIES,
                "members": fixture_members,
                "password": PASSWORD,
                "semantic": semantic,
            }
        )
    )
    return fixture


def start_locust(url: str, fixture: Path, users: int, seconds: int, prefix: Path):  # type: ignore[no-untyped-def]
    """One headless locust run in the background (its CSVs under ``prefix``)."""
    env = dict(os.environ, PEERGRAPH_LOAD_FIXTURE=str(fixture))
    return subprocess.Popen(
        [
            str(REPO / ".venv" / "bin" / "locust"),
            "-f",
            str(REPO / "benchmarks" / "load" / "locustfile.py"),
            "--headless",
            "-H",
            url,
            "-u",
            str(users),
            "-r",
            str(max(1, users // 4)),
            "-t",
            f"{seconds}s",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def read_stats(prefix: Path) -> dict[str, dict]:
    with open(f"{prefix}_stats.csv", encoding="utf-8") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def locust(url: str, fixture: Path, users: int, seconds: int, prefix: Path) -> dict[str, dict]:
    """One headless run; the stats per request name (and "Aggregated")."""
    start_locust(url, fixture, users, seconds, prefix).wait()
    return read_stats(prefix)


class ImportDuring(threading.Thread):
    """Queues the held-out works' import and a rebuild for the server's worker, follows
    both jobs, and polls keyword search (the JSON API) for a sample of the new papers'
    titles: the seconds from queuing to each event."""

    def __init__(self, store: Path, url: str, newest: Path, sample: int = 5) -> None:
        super().__init__(daemon=True)
        self.store, self.url, self.newest = store, url, newest
        papers = json.loads(newest.read_text(encoding="utf-8"))
        rng = random.Random(1)
        self.titles = [p["title"].strip() for p in rng.sample(papers, sample)]
        self.events: dict[str, float] = {}
        self.found: dict[str, float] = {}
        self.halt = threading.Event()

    def peergraph(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "peergraph", *args],
            env=dict(os.environ, PEERGRAPH_DATA_DIR=str(self.store)),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def jobs(self, engine) -> list[tuple[str, str, datetime | None]]:  # type: ignore[no-untyped-def]
        """(kind, state, finished at) of the jobs queued since the run began, oldest first."""
        from sqlalchemy import select

        from peergraph.jobs.queue import jobs_t

        with engine.connect() as conn:
            return [
                (kind, state, finished)
                for kind, state, finished in conn.execute(
                    select(jobs_t.c.kind, jobs_t.c.state, jobs_t.c.finished_at)
                    .where(jobs_t.c.id >= self.first_job)
                    .order_by(jobs_t.c.id)
                ).all()
            ]

    def searchable(self, title: str) -> bool:
        query = urllib.parse.urlencode({"q": title, "mode": "keyword", "per_page": 10})
        try:
            with urllib.request.urlopen(f"{self.url}/api/search?{query}", timeout=30) as answer:
                items = json.load(answer)["items"]
        except (OSError, ValueError):
            return False
        return any(item["title"].strip().casefold() == title.casefold() for item in items)

    def run(self) -> None:
        from sqlalchemy import func, select

        from peergraph.db import create_db_engine
        from peergraph.db.base import utcnow
        from peergraph.jobs.queue import jobs_t
        from peergraph.settings import Settings

        engine = create_db_engine(Settings.for_data_dir(self.store))
        with engine.connect() as conn:
            self.first_job = (conn.scalar(select(func.max(jobs_t.c.id))) or 0) + 1
        self.before = [t for t in self.titles if self.searchable(t)]  # expected: none
        started, queued_at = time.monotonic(), utcnow()
        self.peergraph("import", "--queue", str(self.newest))
        self.peergraph("rebuild", "--queue")
        self.events["queued"] = 0.0
        while not self.halt.wait(5):
            now = time.monotonic() - started
            for title in self.titles:
                if title not in self.found and self.searchable(title):
                    self.found[title] = now
            for kind, state, finished in self.jobs(engine):  # seconds from the database
                if state in ("done", "failed") and finished and kind not in self.events:
                    self.events[kind] = round((finished - queued_at).total_seconds(), 1)
                    if state == "failed":
                        self.events[f"{kind} failed"] = 1.0
            if "rebuild" in self.events and len(self.found) == len(self.titles):
                break
        engine.dispose()


def table(stats: dict[str, dict]) -> str:
    lines = [
        "| route | requests | failures | req/s | p50 ms | p95 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = sorted(
        stats.items(), key=lambda kv: (kv[0] == "Aggregated", -float(kv[1]["Requests/s"]))
    )
    for name, row in rows:
        label = "**all**" if name == "Aggregated" else f"`{row['Type']} {name}`"
        lines.append(
            f"| {label} | {int(row['Request Count']):,} | {int(row['Failure Count']):,} "
            f"| {float(row['Requests/s']):.1f} | {row['50%']} | {row['95%']} | {row['99%']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--store", type=Path, default=DEFAULT_STORE, help="the SQLite store (built if missing)"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="the PostgreSQL store (built once, kept)"
    )
    parser.add_argument(
        "--import-during",
        action="store_true",
        help="queue the 50,000 held-out works' import and a rebuild during the final run",
    )
    parser.add_argument(
        "--users", default="16,32,48,64,80", help="the steps: numbers of concurrent users"
    )
    parser.add_argument("--step", type=int, default=60, help="seconds at each step")
    parser.add_argument("--duration", type=int, default=300, help="seconds of the final run")
    parser.add_argument("--workers", type=int, default=1, help="web processes (serve --workers)")
    parser.add_argument(
        "--warm-up", type=int, default=60, help="seconds at 8 users first, not counted"
    )
    args = parser.parse_args()
    if not (REPO / ".venv" / "bin" / "locust").exists():
        sys.exit("install the load generator first: .venv/bin/uv pip install 'locust>=2.20'")
    store = postgres_store() if args.postgres else sqlite_store(args.store)
    fixture = prepare(store)
    OUT.mkdir(parents=True, exist_ok=True)
    with served(store, workers=args.workers, log=OUT / "server.log") as (_server, url):
        if args.warm_up:  # caches (the database's, the OS's) filled, as on a running site
            locust(url, fixture, 8, args.warm_up, OUT / "warm-up")
        if args.postgres and not (store / "index.base").exists():  # built by the warm-up
            shutil.copytree(store / "index", store / "index.base")
        best = None
        for users in (int(u) for u in args.users.split(",")):
            stats = locust(url, fixture, users, args.step, OUT / f"step-{users}")
            total = stats["Aggregated"]
            p99, failures = float(total["99%"]), int(total["Failure Count"])
            print(
                f"{users} users: {float(total['Requests/s']):.1f} req/s, p99 {p99:.0f} ms, "
                f"{failures} failures",
                file=sys.stderr,
            )
            if failures or p99 > P99_TARGET_MS:
                break
            best = users
        if best is None:
            sys.exit(f"even {args.users.split(',')[0]} users broke the target")
        during = None
        if args.import_during:
            during = ImportDuring(store, url, split_mlanthology()[1])
        started = time.monotonic()
        # with the import, the run lasts until the rebuild is done too (at most 4 times
        # --duration): locust is then stopped, and writes its figures as it ends
        limit = args.duration * (4 if during is not None else 1)
        run = start_locust(url, fixture, best, limit, OUT / f"run-{best}")
        if during is not None:
            during.start()
            during.join(timeout=args.duration)  # at least --duration under load
            while during.is_alive() and run.poll() is None:
                during.join(timeout=5)
            if run.poll() is None:
                run.send_signal(signal.SIGTERM)
        run.wait()
        elapsed = time.monotonic() - started
        if during is not None:
            during.halt.set()
            during.join()
        stats = read_stats(OUT / f"run-{best}")
    semantic = json.loads(fixture.read_text())["semantic"]
    report = (
        f"{best} users for {elapsed:.0f} s ({args.workers} web process(es) and the worker, "
        f"store {store}; semantic search "
        f"{'in' if semantic else 'left out: no vectors in'} the store):\n\n{table(stats)}\n"
    )
    if during is not None:
        report += (
            f"\nDuring the run ({HELD_OUT:,} works imported, then a rebuild, through the worker;"
            f" seconds from queuing): {json.dumps(during.events)}; held-out titles searchable"
            f" before the import: {len(during.before)}; first found: "
            f"{json.dumps(sorted(during.found.values()))} of {len(during.titles)}\n"
        )
    (OUT / ("report-postgres.md" if args.postgres else "report.md")).write_text(report)
    print(report)


if __name__ == "__main__":
    main()
