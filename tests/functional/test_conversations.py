"""Focused conversations through the app: consent first (an invitation anchored on a
work, accepted before anyone writes), privacy, live events, blocking, reports, a
moderator's suspension, rate limits by trust band, and digest mail through a loopback
SMTP server that tells nobody twice (docs/conversations.md)."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from peergraph.accounts import mail
from peergraph.accounts import services as accounts
from peergraph.authors.models import AuthorRecord, AuthorshipLink
from peergraph.authors.ownership import claim_record
from peergraph.claims.models import RecordSettings
from peergraph.conversations import digest
from peergraph.conversations import services as conversations
from peergraph.conversations.models import Conversation
from peergraph.db.base import utcnow
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.web.app import create_app
from peergraph.works.models import Authorship

PASSWORD = "correct horse battery staple"


@pytest.fixture
def store(settings, engine, test_data, mailbox):  # type: ignore[no-untyped-def]
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    rebuild(engine)
    return dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=mailbox.port)


@pytest.fixture
def app(store):  # type: ignore[no-untyped-def]
    return create_app(store)


def record(engine, name: str) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return session.scalars(
            select(AuthorRecord.id).where(AuthorRecord.display_name == name)
        ).one()


def make_account(engine, email: str, role: str = "member") -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        made = accounts.create_user(session, email, PASSWORD, role, utcnow())
        session.commit()
        return made.id


def own(engine, account_id: int, record_id: int, *, open_to_collaborate: bool = True) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        claim_record(conn, record_id, f"account:{account_id}", account_id=account_id)
    with Session(engine) as session:
        session.add(RecordSettings(record_id=record_id, open_to_collaborate=open_to_collaborate))
        session.commit()


def login(app, email: str) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app)
    logged = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token(client, "/login")},
        follow_redirects=False,
    )
    assert logged.status_code == 303, logged.text
    return client


def token(client: TestClient, path: str = "/account") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def post(client: TestClient, path: str, **form: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": token(client), **form}, follow_redirects=False)


def works_of(engine, record_id: int) -> list[int]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return list(
            session.scalars(
                select(Authorship.work_id)
                .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
                .where(AuthorshipLink.record_id == record_id)
            )
        )


def conversation_id(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.text
    found = re.match(r"/conversations/(\d+)", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


def test_consent_first_then_free_writing_private_to_the_two(app, engine):  # type: ignore[no-untyped-def]
    radford, neal, doe = (
        record(engine, n) for n in ("Alec Radford", "Radford M. Neal", "Jane Doe")
    )
    a, b, c = (make_account(engine, f"{n}@example.org") for n in ("a", "b", "c"))
    anonymous = TestClient(app)
    page = anonymous.get(f"/researchers/{radford}").text
    assert "Claim this author entity first to unlock direct invitations." in page

    own(engine, b, radford, open_to_collaborate=False)
    assert "not open to collaboration requests" in anonymous.get(f"/researchers/{radford}").text
    with Session(engine) as session:
        session.add(RecordSettings(record_id=radford, open_to_collaborate=True))
        session.commit()
    assert "Log in, with a claimed record" in anonymous.get(f"/researchers/{radford}").text

    alice = login(app, "a@example.org")
    assert "Claim your own author record first" in alice.get(f"/researchers/{radford}").text
    refused = post(alice, f"/researchers/{radford}/invite", about="topic:1", message="Hi")
    assert refused.status_code == 403
    own(engine, a, neal)
    page = alice.get(f"/researchers/{radford}").text
    assert f'href="/researchers/{radford}/invite"' in page

    # the anchor must be the recipient's work, the sender's, or a topic of either
    foreign = works_of(engine, doe)[0]
    wrong = post(
        alice, f"/researchers/{radford}/invite", about=f"their-work:{foreign}", message="Hi"
    )
    assert wrong.status_code == 400 and "not one of the recipient" in wrong.text
    empty = post(
        alice,
        f"/researchers/{radford}/invite",
        about=f"their-work:{works_of(engine, radford)[0]}",
        message="  ",
    )
    assert empty.status_code == 400
    paper = works_of(engine, radford)[0]
    assert (
        f'<option value="their-work:{paper}" selected'
        in alice.get(f"/researchers/{radford}/invite?work={paper}").text
    )
    sent = post(
        alice,
        f"/researchers/{radford}/invite",
        about=f"their-work:{paper}",
        message="I'd like to talk about <b>this</b> paper.",
    )
    cid = conversation_id(sent)
    again = post(alice, f"/researchers/{radford}/invite", about=f"their-work:{paper}", message="Hi")
    assert again.status_code == 400 and "already have an open invitation" in again.text

    # before acceptance nobody writes
    early = post(alice, f"/conversations/{cid}/messages", body="Hello?")
    assert early.status_code == 400 and "once the invitation is accepted" in early.text
    assert post(alice, f"/conversations/{cid}/accept").status_code == 403  # not the recipient

    bob = login(app, "b@example.org")
    inbox = bob.get("/conversations").text
    assert "Invitation to you" in inbox and "1 new" in inbox and "Conversations<span" in inbox
    # the live stream reports the change (wait=0: the state now, then the stream ends)
    stream = bob.get("/conversations/events?since=0&wait=0")
    assert stream.headers["content-type"].startswith("text/event-stream")
    change = json.loads(re.search(r"event: change\ndata: (.*)\n", stream.text).group(1))
    assert change["unread"] == 1 and change["newest"] > 0
    quiet = bob.get(f"/conversations/events?since={change['newest']}&wait=0").text
    assert "event: change" not in quiet

    page = bob.get(f"/conversations/{cid}").text
    assert "&lt;b&gt;this&lt;/b&gt;" in page and "<b>this</b>" not in page
    assert bob.get("/api/conversations").json()[0]["unread"] == 0  # opening it read it
    assert post(bob, f"/conversations/{cid}/accept").status_code == 303
    assert post(bob, f"/conversations/{cid}/messages", body="Happy to. Tuesday?").status_code == 303
    assert post(alice, f"/conversations/{cid}/messages", body="Tuesday works.").status_code == 303
    thread = alice.get(f"/api/conversations/{cid}").json()
    assert thread["status"] == "accepted" and thread["about"] == "their-work"
    assert [m["kind"] for m in thread["messages"]] == ["invitation", "event", "message", "message"]
    assert [m["mine"] for m in thread["messages"] if m["kind"] == "message"] == [False, True]
    newer = alice.get(f"/api/conversations/{cid}?after={thread['messages'][2]['id']}").json()
    assert [m["body"] for m in newer["messages"]] == ["Tuesday works."]

    # privacy: a third account, a moderator and an anonymous visitor read nothing
    make_account(engine, "mod@example.org", "moderator")
    for outsider in (login(app, "c@example.org"), login(app, "mod@example.org")):
        assert outsider.get(f"/conversations/{cid}").status_code == 404
        assert outsider.get(f"/api/conversations/{cid}").status_code == 404
        assert post(outsider, f"/conversations/{cid}/messages", body="me too").status_code == 404
    assert anonymous.get(f"/api/conversations/{cid}").status_code == 401
    assert c  # (the third account's id: used by its log-in)


def test_block_report_suspend_and_limits(app, engine):  # type: ignore[no-untyped-def]
    names = (
        "Alec Radford",
        "Radford M. Neal",
        "Jane Doe",
        "Ilya Sutskever",
        "Luke Metz",
        "Soumith Chintala",
        "Tim Salimans",
        "Jong Wook Kim",
        "Ian Goodfellow",
    )
    records = {n: record(engine, n) for n in names}
    ids = {}
    for k, name in enumerate(names):
        ids[name] = make_account(engine, f"u{k}@example.org")
        own(engine, ids[name], records[name])
    make_account(engine, "mod@example.org", "moderator")
    spammer = login(app, "u0@example.org")  # Radford
    targets = names[1:]
    with Session(engine) as session:
        limit, band = conversations.invitation_limit(session, [records["Alec Radford"]])
    assert limit == conversations.INVITATIONS_PER_DAY[band] and limit < len(targets)
    sent = []
    for name in targets[:limit]:
        paper = works_of(engine, records[name])[0]
        sent.append(
            conversation_id(
                post(
                    spammer,
                    f"/researchers/{records[name]}/invite",
                    about=f"their-work:{paper}",
                    message="Buy my course!",
                )
            )
        )
    over = targets[limit]
    paper = works_of(engine, records[over])[0]
    limited = post(
        spammer, f"/researchers/{records[over]}/invite", about=f"their-work:{paper}", message="Hi"
    )
    assert limited.status_code == 429 and f"{band} accounts may send {limit} a day" in limited.text

    # the first recipient accepts, then reports a message and blocks
    neal = login(app, "u1@example.org")
    assert post(neal, f"/conversations/{sent[0]}/accept").status_code == 303
    assert (
        post(spammer, f"/conversations/{sent[0]}/messages", body="Visit spam.example").status_code
        == 303
    )
    spam = neal.get(f"/api/conversations/{sent[0]}").json()["messages"][-1]
    assert (
        post(
            neal, f"/conversations/{sent[0]}/messages/{spam['id']}/report", reason="nonsense"
        ).status_code
        == 400
    )
    own_message = post(neal, f"/conversations/{sent[0]}/messages", body="No thanks.")
    assert own_message.status_code == 303
    mine = neal.get(f"/api/conversations/{sent[0]}").json()["messages"][-1]
    refused = post(neal, f"/conversations/{sent[0]}/messages/{mine['id']}/report", reason="spam")
    assert refused.status_code == 400  # one's own message
    reported = post(
        neal, f"/conversations/{sent[0]}/messages/{spam['id']}/report", reason="spam", note="ads"
    )
    assert reported.status_code == 303
    assert post(neal, f"/conversations/{sent[0]}/block").status_code == 303
    closed = post(spammer, f"/conversations/{sent[0]}/messages", body="Hello?")
    assert closed.status_code == 400 and "it is closed" in closed.text
    assert (
        "You cannot invite this researcher."
        in spammer.get(f"/researchers/{records['Radford M. Neal']}").text
    )
    assert (
        post(
            neal, f"/researchers/{records['Alec Radford']}/invite", about="topic:1", message="x"
        ).status_code
        == 403
    )

    # moderators see the report with its context, and suspend: pending invitations vanish
    moderator = login(app, "mod@example.org")
    queue = moderator.get("/moderation").text
    assert "<title>Moderation — peergraph</title>" in queue  # the reports stay in <main>
    assert (
        "Reported messages" in queue and "Visit spam.example" in queue and "Buy my course!" in queue
    )
    with Session(engine) as session:
        report_id = session.scalars(select(conversations.Report.id)).one()
    second = login(app, "u2@example.org")  # Jane Doe, invited and not answered
    assert len(second.get("/api/conversations").json()) == 1
    assert post(second, f"/moderation/reports/{report_id}", decision="suspend").status_code == 403
    assert (
        post(moderator, f"/moderation/reports/{report_id}", decision="suspend").status_code == 303
    )
    assert second.get("/api/conversations").json() == []
    assert second.get(f"/conversations/{sent[1]}").status_code == 404
    assert spammer.get("/conversations", follow_redirects=False).status_code == 303  # logged out
    with Session(engine) as session:
        states = dict(session.execute(select(Conversation.id, Conversation.status)).all())
    assert states[sent[0]] == "closed" and {states[c] for c in sent[1:]} == {"withdrawn"}
    assert "No reported messages." in moderator.get("/moderation").text


def test_digest_tells_each_message_once_and_honours_the_setting(app, engine, store, mailbox):  # type: ignore[no-untyped-def]
    radford, neal = record(engine, "Alec Radford"), record(engine, "Radford M. Neal")
    a, b = make_account(engine, "a@example.org"), make_account(engine, "b@example.org")
    own(engine, a, neal)
    own(engine, b, radford)
    alice, bob = login(app, "a@example.org"), login(app, "b@example.org")
    paper = works_of(engine, radford)[0]
    cid = conversation_id(
        post(
            alice,
            f"/researchers/{radford}/invite",
            about=f"their-work:{paper}",
            message="Shall we talk?",
        )
    )
    now = utcnow()
    base = "http://peergraph.test"

    def run(at):  # type: ignore[no-untyped-def]
        queued = digest.send_digests(engine, base, at)
        mail.deliver_pending(engine, store)
        return queued

    assert run(now) == 1
    got = mailbox.wait("b@example.org")
    body = got.get_content()
    assert "1 invitation" in got["Subject"] and "Shall we talk?" in body
    assert f"{base}/conversations/{cid}" in body
    assert run(now + timedelta(minutes=5)) == 0  # nothing new: nobody is told twice

    assert post(bob, f"/conversations/{cid}/accept").status_code == 303
    assert post(bob, f"/conversations/{cid}/messages", body="Yes: Tuesday.").status_code == 303
    assert run(now + timedelta(hours=1)) == 1  # Alice's first digest
    assert "Yes: Tuesday." in mailbox.wait("a@example.org").get_content()
    assert post(alice, f"/conversations/{cid}/messages", body="Great.").status_code == 303
    assert post(alice, f"/conversations/{cid}/messages", body="See you.").status_code == 303
    assert run(now + timedelta(hours=2)) == 0  # Bob had his digest today
    assert run(now + timedelta(days=1, minutes=1)) == 1
    mails = mailbox.to("b@example.org")
    assert len(mails) == 2 and "Great." in mails[1].get_content()
    assert "Shall we talk?" not in mails[1].get_content()
    # read on the site: not mailed; "never": no mail at all
    assert post(alice, f"/conversations/{cid}/messages", body="Read this one.").status_code == 303
    bob.get(f"/conversations/{cid}")
    assert run(now + timedelta(days=3)) == 0
    assert post(bob, "/account/notifications", choice="never").status_code == 303
    assert post(alice, f"/conversations/{cid}/messages", body="And this one.").status_code == 303
    assert run(now + timedelta(days=5)) == 0
    assert len(mailbox.to("b@example.org")) == 2


def test_leave_archive_and_the_unread_count(app, engine):  # type: ignore[no-untyped-def]
    radford, neal = record(engine, "Alec Radford"), record(engine, "Radford M. Neal")
    a, b = make_account(engine, "a@example.org"), make_account(engine, "b@example.org")
    own(engine, a, neal)
    own(engine, b, radford)
    alice, bob = login(app, "a@example.org"), login(app, "b@example.org")
    topic = bob.get(f"/api/researchers/{radford}").json()
    assert topic  # the profile exists
    paper = works_of(engine, neal)[0]
    cid = conversation_id(
        post(
            alice,
            f"/researchers/{radford}/invite",
            about=f"my-work:{paper}",
            message="About my paper",
        )
    )
    assert 'Conversations<span id="nav-unread" class="nav-count"> (1)' in bob.get("/account").text
    assert post(bob, f"/conversations/{cid}/archive", on="true").status_code == 303
    assert bob.get("/api/conversations").json() == []
    assert [c["id"] for c in bob.get("/api/conversations?archived=true").json()] == [cid]
    assert post(bob, f"/conversations/{cid}/accept").status_code == 303
    assert post(alice, f"/conversations/{cid}/leave").status_code == 303
    gone = post(bob, f"/conversations/{cid}/messages", body="Still there?")
    assert gone.status_code == 400
    assert "left the conversation" in bob.get(f"/conversations/{cid}").text
