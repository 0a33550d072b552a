"""Load: the realistic mix of benchmarks/load/locustfile.py against a real server.

    .venv/bin/uv pip install 'locust>=2.20'      # the load generator (not a test dependency)
    .venv/bin/python benchmarks/load/run.py [--store DIR] [--users 8,16,24] [--step 60]
        [--duration 300] [--workers 1]

Prepares load accounts in the store (members with a verified address; owners of claimed,
open records, paired in accepted conversations), starts ``peergraph serve`` on loopback,
then runs locust headless: a step of ``--step`` seconds at each number of users, keeps the
highest that had no failures and a p99 ≤ 500 ms, and runs ``--duration`` seconds there.
Prints one table (requests/s, p50/p95/p99 per route) and writes it with locust's CSVs
under benchmarks/results/load/. The load generator runs on the same 2 cores as the
server: its share of the CPU is part of every figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
from shared_store import DEFAULT_STORE, served  # noqa: E402

OUT = REPO / "benchmarks" / "results" / "load"
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


def locust(url: str, fixture: Path, users: int, seconds: int, prefix: Path) -> dict[str, dict]:
    """One headless run; the stats per request name (and "Aggregated")."""
    env = dict(os.environ, PEERGRAPH_LOAD_FIXTURE=str(fixture))
    subprocess.run(
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
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with open(f"{prefix}_stats.csv", encoding="utf-8") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


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
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--users", default="16,32,48,64,80")
    parser.add_argument("--step", type=int, default=60)
    parser.add_argument("--duration", type=int, default=300)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if not (REPO / ".venv" / "bin" / "locust").exists():
        sys.exit("install the load generator first: .venv/bin/uv pip install 'locust>=2.20'")
    fixture = prepare(args.store)
    with served(args.store, workers=args.workers) as (_server, url):
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
        started = time.monotonic()
        stats = locust(url, fixture, best, args.duration, OUT / f"run-{best}")
        elapsed = time.monotonic() - started
    semantic = json.loads(fixture.read_text())["semantic"]
    report = (
        f"{best} users for {elapsed:.0f} s ({args.workers} web process(es), store "
        f"{args.store}; semantic search {'in' if semantic else 'left out: no vectors in'}"
        f" the store):\n\n{table(stats)}\n"
    )
    (OUT / "report.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
