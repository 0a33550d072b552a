"""Claiming records through the app: proof that concerns the record approves at once
(L2), anything else waits for a moderator, hijacks are refused, disputes and decisions
are audited, trust follows, and sock puppets move nothing (docs/claims.md)."""

from __future__ import annotations

import dataclasses
import re
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from peergraph.accounts import services as accounts
from peergraph.authors.models import AuthorRecord, RecordClaim
from peergraph.claims.models import AuditEntry
from peergraph.db.base import utcnow
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.web.app import create_app

PASSWORD = "correct horse battery staple"
ADA_ORCID = "0000-0002-1825-0097"


@pytest.fixture
def store(settings, engine, test_data, mailbox):  # type: ignore[no-untyped-def]
    import_file(engine, ImportTarget(test_data / "openalex.jsonl", "openalex-jsonl"))
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


def account(engine, email: str, role: str = "member", orcid: str | None = None) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        made = accounts.create_user(session, email, PASSWORD, role, utcnow())
        made.orcid = orcid
        session.commit()
        return made.id


def browser(app, engine, email: str, **kwargs) -> TestClient:  # type: ignore[no-untyped-def]
    account(engine, email, **kwargs)
    client = TestClient(app)
    logged = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token(client, "/login")},
        follow_redirects=False,
    )
    assert logged.status_code == 303
    return client


def token(client: TestClient, path: str = "/account") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def claim(client: TestClient, record_id: int, method: str, **form: str):  # type: ignore[no-untyped-def]
    data = {"method": method, "csrf_token": token(client), **form}
    return client.post(f"/researchers/{record_id}/claim", data=data, follow_redirects=False)


def trust_of(client: TestClient, record_id: int) -> dict:  # type: ignore[type-arg]
    return client.get(f"/api/researchers/{record_id}").json()


def test_an_address_at_the_records_institution_is_l2_at_once(app, engine, mailbox):
    ada = record(engine, "A. Lovelace")
    with TestClient(app) as anonymous:
        before = trust_of(anonymous, ada)
        page = anonymous.get(f"/researchers/{ada}").text
        assert "Unclaimed author" in page and "Log in to claim" in page
    owner = browser(app, engine, "ada@cs.examples.ac.uk")
    form = owner.get(f"/researchers/{ada}/claim").text
    assert "examples.ac.uk, belongs to University of Examples" in form
    done = claim(owner, ada, "email")
    assert done.status_code == 303 and done.headers["location"] == f"/researchers/{ada}?claimed=1"
    after = trust_of(owner, ada)
    assert after["claimed"] and after["claim_state"] == "Claimed"
    assert after["trust"]["verification_level"] == "L2"
    assert after["trust"]["score"] == before["trust"]["score"] + 20
    assert any(
        "University of Examples" in i["detail"] or "e-mail" in i["detail"]
        for i in after["trust"]["ledger"]
    )
    page = owner.get(f"/researchers/{ada}").text
    assert "Claimed" in page and "Verification L2" in page and "This is your record" in page
    audit = owner.get(f"/researchers/{ada}/audit")
    assert audit.status_code == 200
    assert "claim.submitted" in audit.text and "claim.approved" in audit.text
    with TestClient(app) as stranger_client:
        stranger = browser(app, engine, "someone@example.org")
        assert stranger.get(f"/researchers/{ada}/audit").status_code == 403
        again = claim(stranger, ada, "review", statement="it is me")
        assert again.status_code == 400 and "claimed already" in again.text
        del stranger_client


def test_an_unrelated_university_address_approves_nothing(app, engine, mailbox):
    ada = record(engine, "A. Lovelace")
    thief = browser(app, engine, "thief@stanford.edu")
    page = claim(thief, ada, "email")
    assert page.status_code == 200 and "Claim sent for review" in page.text
    with TestClient(app) as anonymous:
        public = trust_of(anonymous, ada)
    assert not public["claimed"] and public["trust"]["verification_level"] != "L2"
    # a moderator sees the evidence next to the record's facts, and rejects it
    moderator = browser(app, engine, "mod@example.org", role="moderator")
    queue = moderator.get("/moderation").text
    assert "thief@stanford.edu" in queue and "examples.ac.uk" in queue
    with Session(engine) as session:
        claim_id = session.scalars(
            select(RecordClaim.id).where(RecordClaim.status == "pending")
        ).one()
    decided = moderator.post(
        f"/moderation/claims/{claim_id}",
        data={
            "decision": "reject",
            "reason": "stanford.edu is not one of this record's institutions",
            "csrf_token": token(moderator),
        },
        follow_redirects=False,
    )
    assert decided.status_code == 303
    told = mailbox.wait("thief@stanford.edu")
    assert "rejected" in told["Subject"]
    with Session(engine) as session:
        assert session.get(RecordClaim, claim_id).status == "rejected"


def test_an_orcid_that_belongs_to_another_record_is_refused(app, engine):
    babbage = record(engine, "Charles Babbage")
    hijacker = browser(app, engine, "h@example.org", orcid=ADA_ORCID)
    refused = claim(hijacker, babbage, "orcid")
    assert refused.status_code == 400 and "asserted on another record" in refused.text
    with Session(engine) as session:
        assert session.scalars(select(RecordClaim)).all() == []
        assert session.scalars(select(AuditEntry.action)).all() == ["claim.refused"]
    ada = record(engine, "A. Lovelace")
    assert claim(hijacker, ada, "orcid").status_code == 303  # the right record: L2 at once


def test_two_accounts_claiming_at_once_exactly_one_wins(app, engine):
    ada = record(engine, "A. Lovelace")
    first = browser(app, engine, "one@examples.ac.uk")
    second = browser(app, engine, "two@examples.ac.uk")
    forms = [(c, token(c)) for c in (first, second)]
    start = threading.Barrier(2)
    results: list[int] = []

    def go(client: TestClient, csrf: str) -> None:
        start.wait()
        response = client.post(
            f"/researchers/{ada}/claim",
            data={"method": "email", "csrf_token": csrf},
            follow_redirects=False,
        )
        results.append(response.status_code)

    threads = [threading.Thread(target=go, args=pair) for pair in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [303, 400]
    with Session(engine) as session:
        held = session.scalars(select(RecordClaim).where(RecordClaim.status == "approved")).all()
    assert len(held) == 1


def test_a_dispute_upheld_by_a_moderator_unclaims_and_lowers_trust(app, engine, mailbox):
    ada = record(engine, "A. Lovelace")
    with TestClient(app) as anonymous:
        unclaimed = trust_of(anonymous, ada)["trust"]["components"]
    owner = browser(app, engine, "ada@examples.ac.uk")
    claim(owner, ada, "email")
    rival = browser(app, engine, "real.ada@example.org")
    disputed = rival.post(
        f"/researchers/{ada}/dispute",
        data={
            "statement": "I am the Ada of these papers",
            "links": "https://ada.example.org\njavascript:alert(1)",
            "csrf_token": token(rival),
        },
        follow_redirects=False,
    )
    assert disputed.status_code == 303
    assert "disputed" in mailbox.wait("ada@examples.ac.uk")["Subject"]
    assert trust_of(rival, ada)["claim_state"] == "Claim disputed"
    moderator = browser(app, engine, "mod@example.org", role="moderator")
    queue = moderator.get("/moderation").text
    assert "I am the Ada of these papers" in queue and "javascript:" not in queue
    dispute_id = re.search(r'action="/moderation/disputes/(\d+)"', queue).group(1)
    moderator.post(
        f"/moderation/disputes/{dispute_id}",
        data={
            "decision": "uphold",
            "reason": "the homepage shows it",
            "csrf_token": token(moderator),
        },
    )
    after = trust_of(rival, ada)
    assert not after["claimed"] and after["trust"]["verification_level"] != "L2"
    components = after["trust"]["components"]
    assert components["integrity"] == unclaimed["integrity"] - 5  # an upheld dispute costs
    assert components["identity"] == unclaimed["identity"]
    assert "upheld" in mailbox.wait("real.ada@example.org")["Subject"] + str(
        mailbox.wait("real.ada@example.org").get_body()
    )
    actions = [
        e.action for e in Session(engine).scalars(select(AuditEntry).order_by(AuditEntry.id))
    ]
    assert actions == ["claim.submitted", "claim.approved", "dispute.opened", "dispute.upheld"]


def test_release_and_confirm(app, engine):
    ada = record(engine, "A. Lovelace")
    owner = browser(app, engine, "ada@examples.ac.uk")
    claim(owner, ada, "email")
    l2 = trust_of(owner, ada)["trust"]["components"]["identity"]
    moderator = browser(app, engine, "mod@example.org", role="moderator")
    with Session(engine) as session:
        claim_id = session.scalars(select(RecordClaim.id)).one()
    moderator.post(
        f"/moderation/claims/{claim_id}/confirm",
        data={"evidence": "called the department", "csrf_token": token(moderator)},
    )
    confirmed = trust_of(owner, ada)["trust"]
    assert confirmed["verification_level"] == "L3"
    assert confirmed["components"]["identity"] == l2 + 15
    released = owner.post(
        f"/claims/{claim_id}/withdraw", data={"csrf_token": token(owner)}, follow_redirects=False
    )
    assert released.status_code == 303
    assert trust_of(owner, ada)["claim_state"] == "Unclaimed author"


def test_sock_puppets_do_not_move_trust(app, engine):
    ada = record(engine, "A. Lovelace")
    owner = browser(app, engine, "ada@examples.ac.uk")
    claim(owner, ada, "email")
    score = trust_of(owner, ada)["trust"]["score"]
    owner.post(f"/researchers/{ada}/follow", data={"csrf_token": token(owner)})  # self-follow
    for n in range(5):  # extra accounts that follow it
        puppet = browser(app, engine, f"puppet{n}@example.org")
        puppet.post(f"/researchers/{ada}/follow", data={"csrf_token": token(puppet)})
    view = trust_of(owner, ada)
    assert view["counts"]["followers"] == 6
    assert view["trust"]["score"] == score
    rebuild(engine, full=True)  # and nothing a rebuild recomputes counts them either
    after = trust_of(owner, ada)
    assert after["trust"]["score"] == score and after["claim_state"] == "Claimed"


def test_follow_unfollow_and_who_sees_followers(app, engine):
    ada = record(engine, "A. Lovelace")
    owner = browser(app, engine, "ada@examples.ac.uk")
    claim(owner, ada, "email")
    fan = browser(app, engine, "fan@example.org")
    fan.post(f"/researchers/{ada}/follow", data={"csrf_token": token(fan)})
    fan.post(f"/researchers/{ada}/follow", data={"csrf_token": token(fan)})  # twice is once
    assert "1 follower" in fan.get(f"/researchers/{ada}").text
    assert "A. Lovelace" in fan.get("/following").text
    assert fan.get(f"/researchers/{ada}/followers").status_code == 403
    listing = owner.get(f"/researchers/{ada}/followers")
    assert listing.status_code == 200 and "fan@example.org" not in listing.text  # ids only
    fan.post(f"/researchers/{ada}/unfollow", data={"csrf_token": token(fan)})
    assert "0 followers" in fan.get(f"/researchers/{ada}").text


def test_user_text_in_claims_is_escaped(app, engine):
    ada = record(engine, "A. Lovelace")
    claimant = browser(app, engine, "x@example.org")
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    claim(
        claimant,
        ada,
        "review",
        statement=payload,
        links="javascript:alert(3)\nhttps://ok.example.org",
    )
    moderator = browser(app, engine, "mod@example.org", role="moderator")
    queue = moderator.get("/moderation").text
    assert payload not in queue and "&lt;script&gt;" in queue
    assert "javascript:" not in queue and "https://ok.example.org" in queue


def test_a_claim_made_in_the_app_survives_a_full_rebuild(app, engine, test_data):
    ada = record(engine, "A. Lovelace")
    owner = browser(app, engine, "ada@examples.ac.uk")
    claim(owner, ada, "email")
    import_file(engine, ImportTarget(test_data / "sample.csl.json", "csl-json"))
    rebuild(engine, full=True)
    view = trust_of(owner, ada)
    assert view["claim_state"] == "Claimed" and view["trust"]["verification_level"] == "L2"
    with Session(engine) as session:
        assert session.scalars(select(RecordClaim.record_id)).one() == ada


def test_deleting_an_account_releases_its_claims(app, engine):
    ada = record(engine, "A. Lovelace")
    owner = browser(app, engine, "ada@examples.ac.uk")
    claim(owner, ada, "email")
    gone = owner.post(
        "/account/delete",
        data={"password": PASSWORD, "confirm": "delete", "csrf_token": token(owner)},
    )
    assert gone.status_code == 200 and "Account deleted" in gone.text
    with TestClient(app) as anonymous:
        assert trust_of(anonymous, ada)["claim_state"] == "Unclaimed author"
    with Session(engine) as session:
        kept = session.scalars(select(RecordClaim)).one()
        assert (kept.status, kept.account_id) == ("withdrawn", None)
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions[-1] == "claim.released"


def test_an_institution_admin_confirms_claims_at_their_institution_only(app, engine, store):
    from typer.testing import CliRunner

    from peergraph.cli.main import app as cli
    from peergraph.works.models import Institution

    ada = record(engine, "A. Lovelace")
    owner = browser(app, engine, "ada@cs.examples.ac.uk")
    claim(owner, ada, "email")
    with Session(engine) as session:
        examples = session.scalars(
            select(Institution).where(Institution.name == "University of Examples")
        ).one()
        elsewhere = Institution(name="Far Away University", ror="05far0away")
        session.add(elsewhere)
        session.commit()
        refs = {
            "examples": examples.openalex_id or str(examples.id),
            "elsewhere": str(elsewhere.id),
        }
    runner = CliRunner()
    for email, ref in (("registrar@examples.ac.uk", "examples"), ("far@example.org", "elsewhere")):
        account(engine, email)
        granted = runner.invoke(
            cli,
            ["--data-dir", str(store.data_dir), "admin", "grant-institution", email, refs[ref]],
        )
        assert granted.exit_code == 0 and "is now an administrator" in granted.stdout
    unknown = runner.invoke(
        cli,
        ["--data-dir", str(store.data_dir), "admin", "grant-institution", "far@example.org", "I1"],
    )
    assert unknown.exit_code == 2 and "no institution" in unknown.output
    with Session(engine) as session:
        claim_id = session.scalars(select(RecordClaim.id)).one()

    def confirm(client: TestClient):  # type: ignore[no-untyped-def]
        data = {"evidence": "HR records list her.", "csrf_token": token(client)}
        return client.post(
            f"/moderation/claims/{claim_id}/confirm", data=data, follow_redirects=False
        )

    far = TestClient(app)
    far.post(
        "/login",
        data={"email": "far@example.org", "password": PASSWORD, "csrf_token": token(far, "/login")},
    )
    assert "confirm this claim" not in far.get(f"/researchers/{ada}").text
    assert confirm(far).status_code == 403

    registrar = TestClient(app)
    registrar.post(
        "/login",
        data={
            "email": "registrar@examples.ac.uk",
            "password": PASSWORD,
            "csrf_token": token(registrar, "/login"),
        },
    )
    page = registrar.get(f"/researchers/{ada}").text
    assert "As administrator of University of Examples" in page
    assert confirm(registrar).status_code == 303
    assert trust_of(owner, ada)["trust"]["verification_level"] == "L3"
    with Session(engine) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "claim.confirmed")
        ).one()
        assert entry.detail["as"] == "administrator of University of Examples"
