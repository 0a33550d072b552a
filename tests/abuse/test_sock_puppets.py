"""Sock puppets: 200 scripted accounts follow one researcher and try to message her. Her
trust score, band and place in search and in the researchers' list do not move —
followers never enter trust or ranking (docs/trust.md) — nobody without a claimed record
of their own gets an invitation through, and the sign-up limit trips for a script that
makes its accounts from one address. peergraph has no "vouch" or endorsement to inflate:
the only social signal is following."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from peergraph.accounts.models import Account
from peergraph.authors.models import AuthorRecord
from peergraph.authors.ownership import claim_record
from peergraph.claims import follows
from peergraph.claims.models import Follow, RecordSettings
from peergraph.conversations import services as conversations
from peergraph.conversations.models import Conversation
from peergraph.db.base import utcnow
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.models import Profile
from peergraph.profiles.services import rebuild
from peergraph.web.app import create_app

PUPPETS = 200


def standing(client: TestClient, engine, record_id: int) -> tuple:  # type: ignore[no-untyped-def]
    """Her trust score and band, and her place in three rankings."""
    with Session(engine) as session:
        profile = session.get_one(Profile, record_id)
        trust = (profile.trust_score, profile.verification_level)
    listed = [r["id"] for r in client.get("/api/researchers?per_page=100").json()["items"]]
    by_name = [r["id"] for r in client.get("/api/search?q=Doe").json()["researchers"]]
    by_work = [r["id"] for r in client.get("/api/search?q=graph kernels").json()["researchers"]]
    return trust, listed.index(record_id), by_name.index(record_id), by_work.index(record_id)


def test_two_hundred_puppets_move_nothing(settings, engine, test_data):  # type: ignore[no-untyped-def]
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    rebuild(engine)
    now = utcnow()
    with Session(engine) as session:
        doe = session.scalars(
            select(AuthorRecord.id).where(AuthorRecord.display_name == "Jane Doe")
        ).one()
        owner = Account(email="jane@example.org", email_verified_at=now, created_at=now)
        puppets = [
            Account(email=f"puppet{i}@example.net", email_verified_at=now, created_at=now)
            for i in range(PUPPETS)
        ]
        session.add_all([owner, *puppets])
        session.commit()
        owner_id, puppet_ids = owner.id, [p.id for p in puppets]
    with engine.begin() as conn:
        claim_record(conn, doe, f"account:{owner_id}", account_id=owner_id)
    with Session(engine) as session:
        session.add(RecordSettings(record_id=doe, open_to_collaborate=True))
        session.commit()
    rebuild(engine, full=True)  # her profile with her claim: the standing to keep
    client = TestClient(create_app(settings))
    before = standing(client, engine, doe)

    # a script making its accounts from one address: the sign-up limit (5 an hour) trips
    statuses = []
    for i in range(10):
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signup").text)
        assert csrf
        made = client.post(
            "/signup",
            data={
                "email": f"script{i}@example.net",
                "password": "correct horse battery staple",
                "csrf_token": csrf.group(1),
            },
            follow_redirects=False,
        )
        statuses.append(made.status_code)
    assert statuses.count(429) == 5 and all(s in (200, 303) for s in statuses[:5])

    # 200 puppets (made elsewhere) follow her, and try to invite her
    refused = 0
    with Session(engine) as session:
        for puppet_id in puppet_ids:
            puppet = session.get_one(Account, puppet_id)
            follows.follow_record(session, puppet, doe, now)
            refused += not conversations.may_invite(session, puppet, doe).allowed
        session.commit()
        followers = session.scalar(select(func.count()).where(Follow.record_id == doe))
        invitations = session.scalar(select(func.count()).select_from(Conversation))
    assert followers == PUPPETS and refused == PUPPETS and invitations == 0
    rebuild(engine, full=True)  # everything recomputed: still nothing moves
    after = standing(client, engine, doe)
    assert after == before
    page = client.get(f"/researchers/{doe}").text
    assert f"{PUPPETS} followers" in page  # shown as what it is: a count
