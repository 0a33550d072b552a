"""Invitation spam: one account tries to invite 10,000 times, across a hundred
researchers who are open to collaborate and twenty who are not. The daily limit of its
trust band holds, nobody is mailed more than one digest, and the moderators' page shows
the account (docs/conversations.md, docs/security.md)."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from peergraph.accounts import services as accounts
from peergraph.accounts.models import Account, OutgoingMail
from peergraph.accounts.ratelimit import RateLimited
from peergraph.accounts.secrets import Signing
from peergraph.accounts.services import Context
from peergraph.authors.models import AuthorRecord
from peergraph.authors.ownership import claim_record
from peergraph.claims.models import AuditEntry, RecordSettings
from peergraph.claims.services import Actor
from peergraph.conversations import digest
from peergraph.conversations import services as conversations
from peergraph.conversations.models import Conversation
from peergraph.db.base import utcnow
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.web.app import create_app

ATTEMPTS = 10_000
OPEN, CLOSED = 100, 20
PASSWORD = "correct horse battery staple"


@pytest.mark.slow  # 10,000 attempts: about 40 s here (SQLite only: `once`)
@pytest.mark.once
def test_ten_thousand_invitations_stop_at_the_daily_limit(settings, engine, tmp_path):  # type: ignore[no-untyped-def]
    people = [f"Person{i:03d} Example{i:03d}" for i in range(OPEN + CLOSED + 1)]
    works = [
        {
            "id": f"w{i}",
            "type": "article-journal",
            "title": f"Study number {i} of graph learning",
            "author": [{"given": name.split()[0], "family": name.split()[1]}],
            "issued": {"date-parts": [[2020]]},
        }
        for i, name in enumerate(people)
    ]
    path = tmp_path / "people.csl.json"
    path.write_text(json.dumps(works))
    import_file(engine, ImportTarget(path, "csl-json"))
    rebuild(engine)
    now = utcnow()
    with Session(engine) as session:
        records = dict(session.execute(select(AuthorRecord.display_name, AuthorRecord.id)).all())
        ids = [records[name] for name in people]
        spammer_record, targets = ids[0], ids[1:]
        made = [
            Account(email=f"p{i}@example.org", email_verified_at=now, created_at=now)
            for i in range(len(targets) + 1)
        ]
        session.add_all(made)
        session.commit()
        account_ids = [a.id for a in made]
        accounts.create_user(session, "mod@example.org", PASSWORD, "moderator", now)
        session.commit()
    spammer, owners = account_ids[0], account_ids[1:]
    with engine.begin() as conn:
        claim_record(conn, spammer_record, f"account:{spammer}", account_id=spammer)
        for account_id, record_id in zip(owners[:OPEN], targets[:OPEN], strict=True):
            claim_record(conn, record_id, f"account:{account_id}", account_id=account_id)
    with Session(engine) as session:
        session.add_all(
            RecordSettings(record_id=r, open_to_collaborate=True) for r in targets[:OPEN]
        )
        session.commit()

    signing = Signing("abuse-test-key-" + "x" * 40)
    outcomes: dict[str, int] = {}
    with Session(engine) as session:
        anchors = {t: conversations.anchor_choices(session, spammer_record, t) for t in targets}
        me = session.get_one(Account, spammer)
        actor = Actor(me, Context(signing, "http://testserver", "10.9.9.9", now))
        for n in range(ATTEMPTS):
            target = targets[n % len(targets)]
            work = anchors[target]["their-work"][0]
            try:
                conversations.invite(session, actor, target, work.kind, work.id, f"Hi #{n}")
                outcome = "sent"
            except (conversations.TooMany, RateLimited):
                outcome = "limited"
            except conversations.ConversationError:
                outcome = "refused"  # not open, or an invitation to them is pending
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            session.commit()  # as the route does: a refusal over the limit stays audited
        limit, band = conversations.invitation_limit(session, [spammer_record])
        sent = session.scalar(
            select(func.count()).select_from(Conversation).where(Conversation.starter_id == spammer)
        )
        logged = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "invitation.limited", AuditEntry.actor_id == spammer)
        )
    assert band == "Emerging" and limit == 5
    assert sent == limit == outcomes["sent"]
    assert outcomes["limited"] == logged > 0
    assert sum(outcomes.values()) == ATTEMPTS

    # the digests: one mail to each of the five invited, nobody more than once
    assert digest.send_digests(engine, "http://testserver", now) == limit
    assert digest.send_digests(engine, "http://testserver", now) == 0
    with Session(engine) as session:
        recipients = list(session.scalars(select(OutgoingMail.recipient)))
    assert len(recipients) == len(set(recipients)) == limit

    # the moderators see the account that kept hitting the limit
    client = TestClient(create_app(settings))
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    client.post(
        "/login",
        data={"email": "mod@example.org", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    queue = client.get("/moderation").text
    assert "Rate limits tripped in the last 24 hours" in queue
    assert "p0@example.org" in queue and f"{logged:,} × invitations" in queue
