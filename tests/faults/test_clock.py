"""The clock jumps: expiring links, sessions, rate limits and weekly digests behave when
the server's time moves forward or back (an NTP correction, a restored VM snapshot).

Every rule takes the time it runs at (``now``), so the jumps are times passed in: the
production code has no test clock."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from peergraph.accounts import ratelimit
from peergraph.accounts import services as accounts
from peergraph.accounts.models import OutgoingMail
from peergraph.accounts.secrets import Signing
from peergraph.accounts.services import Context
from peergraph.db.base import utcnow
from peergraph.feeds import services as feeds
from peergraph.feeds.models import FeedItem
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.works.models import Work

SIGNING = Signing("clock-test-key-" + "x" * 40)
PASSWORD = "correct horse battery staple"


def ctx(now, ip: str = "10.0.0.1") -> Context:  # type: ignore[no-untyped-def]
    return Context(SIGNING, "http://testserver", ip, now)


def link_in(session: Session) -> str:
    body = session.scalars(select(OutgoingMail.body).order_by(OutgoingMail.id.desc())).first()
    assert body
    found = re.search(r"token=([^\s]+)", body)
    assert found
    return found.group(1)


def test_links_and_sessions_expire_forward_and_survive_a_step_back(engine):  # type: ignore[no-untyped-def]
    t0 = utcnow()
    with Session(engine) as session:
        accounts.sign_up(session, ctx(t0), "a@example.org", PASSWORD)
        session.commit()
        signed = link_in(session)
        # forward past the 48 hours: the link is dead, whatever the clock does next
        with pytest.raises(accounts.AccountError, match="not valid"):
            accounts.verify_email(session, ctx(t0 + timedelta(hours=48, seconds=1)), signed)
        # a step back of a day: the link still works, once (its expiry did not move)
        account = accounts.verify_email(session, ctx(t0 - timedelta(days=1)), signed)
        assert account.email_verified_at == t0 - timedelta(days=1)
        with pytest.raises(accounts.AccountError, match=r"already used|not valid"):
            accounts.verify_email(session, ctx(t0), signed)
        token = accounts.start_session(session, account, t0)
        session.commit()
        assert accounts.session_account(session, token, t0 - timedelta(hours=3)) is not None
        assert accounts.session_account(session, token, t0 + timedelta(days=14, seconds=1)) is None


def test_rate_limits_hold_through_a_jump_back_and_reopen_after_the_window(engine):  # type: ignore[no-untyped-def]
    t0 = utcnow()
    rule = "login-ip"
    window = ratelimit.RULES[rule].window
    key = ctx(t0).key(rule, "10.0.0.1")
    with Session(engine) as session:
        for _ in range(ratelimit.RULES[rule].limit):
            ratelimit.check(session, rule, key, t0)
            ratelimit.hit(session, rule, key, t0)
        session.commit()
        with pytest.raises(ratelimit.RateLimited):
            ratelimit.check(session, rule, key, t0)
        # the clock goes back three hours: the events "from the future" still count (no
        # gap to slip through), and the wait announced is never longer than the window
        with pytest.raises(ratelimit.RateLimited) as back:
            ratelimit.check(session, rule, key, t0 - timedelta(hours=3))
        assert back.value.retry_after <= window.total_seconds() + 1
        # forward past the window: open again; the old events are pruned by the next hit
        later = t0 + window + timedelta(seconds=1)
        ratelimit.check(session, rule, key, later)
        ratelimit.hit(session, rule, key, later + timedelta(days=2))
        session.commit()
        ratelimit.check(session, rule, key, later + timedelta(days=2))


def pending(account_id: int, work_id: int, now) -> FeedItem:  # type: ignore[no-untyped-def]
    return FeedItem(
        account_id=account_id,
        work_id=work_id,
        kind="search",
        source_id=1,
        label="q",
        why="match",
        score=1.0,
        alert="pending",
        created_at=now,
    )


def test_a_weekly_digest_is_sent_once_whatever_the_clock_does(engine, test_data):  # type: ignore[no-untyped-def]
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    t0 = utcnow()
    with Session(engine) as session:
        reader = accounts.create_user(session, "reader@example.org", PASSWORD, "member", t0)
        session.commit()
        reader_id = reader.id
        first, second = session.scalars(select(Work.id).order_by(Work.id).limit(2)).all()
        session.add(pending(reader_id, first, t0))
        session.commit()
    assert feeds.send_alerts(engine, "http://testserver", t0) == 1
    with Session(engine) as session:  # something new arrives
        session.add(pending(reader_id, second, t0))
        session.commit()
    # the clock goes back a month, then returns: no second digest within the week
    assert feeds.send_alerts(engine, "http://testserver", t0 - timedelta(days=30)) == 0
    assert feeds.send_alerts(engine, "http://testserver", t0 + timedelta(days=3)) == 0
    # a jump forward by a year sends the week's digest once, not one per missed week
    assert feeds.send_alerts(engine, "http://testserver", t0 + timedelta(days=365)) == 1
    assert feeds.send_alerts(engine, "http://testserver", t0 + timedelta(days=365)) == 0
