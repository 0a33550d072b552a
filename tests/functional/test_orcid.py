"""Sign in with ORCID, through OpenID Connect, against a real provider on loopback
(tests/oidc.py): a new person signs up, a known iD logs in, a logged-in account links
its iD, the iD backs an ORCID claim at once, and forged or replayed answers are refused
(docs/accounts.md, "Sign in with ORCID")."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from peergraph.accounts.models import Account
from peergraph.authors.models import RecordClaim
from peergraph.web.app import create_app
from tests.functional.test_accounts import follow_link
from tests.functional.test_claims import ADA_ORCID, account, claim, record, token
from tests.functional.test_claims import store as store
from tests.mail import link
from tests.oidc import CLIENT_ID, CLIENT_SECRET, authorize, local, provider, query

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with provider() as url:
        yield url


@pytest.fixture
def app(store, issuer):  # type: ignore[no-untyped-def]
    settings = dataclasses.replace(
        store, oidc_issuer=issuer, oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET
    )
    return create_app(settings)


def sign_in_with_orcid(client: TestClient, sub: str | None, *, next: str = ""):  # type: ignore[no-untyped-def]
    """Press "Sign in with ORCID", sign in at the provider as ``sub``, come back."""
    start = client.get("/login/orcid" + (f"?next={next}" if next else ""), follow_redirects=False)
    assert start.status_code == 303, start.text
    sent = query(start.headers["location"])
    assert sent["client_id"] == CLIENT_ID and sent["scope"] == "openid"
    assert sent["code_challenge_method"] == "S256" and sent["nonce"] and sent["state"]
    back = authorize(start.headers["location"], sub)
    assert back.startswith("http://testserver/login/orcid/callback?")
    return client.get(local(back), follow_redirects=False)


def test_a_new_person_signs_up_with_orcid_and_claims_by_it(app, engine, mailbox):  # type: ignore[no-untyped-def]
    client = TestClient(app)
    assert "Sign in with ORCID" in client.get("/login").text
    came_back = sign_in_with_orcid(client, ADA_ORCID)
    assert came_back.status_code == 200 and ADA_ORCID in came_back.text  # the sign-up form
    made = client.post(
        "/login/orcid/signup",
        data={"email": "ada@example.org", "csrf_token": token(client, "/login")},
    )
    assert made.status_code == 200 and "Check your mail" in made.text
    mail = mailbox.wait("ada@example.org")
    assert ADA_ORCID in mail.get_content()  # the mail says which iD asks for the address
    assert ADA_ORCID in client.get(link(mail, "/verify-email")).text  # and so does the page

    signed_in = sign_in_with_orcid(client, ADA_ORCID, next="/researchers")
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/researchers"
    page = client.get("/account")
    assert page.status_code == 200 and ADA_ORCID in page.text
    with Session(engine) as session:
        ada = session.scalars(select(Account).where(Account.orcid == ADA_ORCID)).one()
        assert ada.email == "ada@example.org" and ada.password_hash is None

    record_id = record(engine, "A. Lovelace")
    unverified = claim(client, record_id, "orcid")  # claims need an address to reach them
    assert unverified.status_code == 400 and "Verify your e-mail address" in unverified.text
    assert follow_link(client, link(mail, "/verify-email")).status_code == 200
    assert claim(client, record_id, "orcid").status_code == 303
    with Session(engine) as session:
        won = session.scalars(select(RecordClaim)).one()
        assert (won.status, won.level, won.evidence["orcid"]) == ("approved", "L2", ADA_ORCID)
    assert client.get(f"/api/researchers/{record_id}").json()["claimed"] is True


def test_a_logged_in_account_links_its_orcid_id_once(app, engine):  # type: ignore[no-untyped-def]
    account(engine, "first@example.org")
    account(engine, "second@example.org")
    first, second = TestClient(app), TestClient(app)
    for client, email in ((first, "first@example.org"), (second, "second@example.org")):
        logged = client.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token(client, "/login")},
            follow_redirects=False,
        )
        assert logged.status_code == 303
    assert "Link your ORCID iD" in first.get("/account").text
    linked = sign_in_with_orcid(first, ADA_ORCID)
    assert linked.status_code == 303 and linked.headers["location"] == "/account?done=orcid"
    assert "Your ORCID iD is linked" in first.get(linked.headers["location"]).text

    taken = sign_in_with_orcid(second, ADA_ORCID)  # one account per iD
    assert taken.status_code == 409, (taken.headers, second.get("/account").text[-3000:])
    assert "linked to another peergraph account" in taken.text

    anonymous = TestClient(app)  # the iD now logs the first account in
    assert sign_in_with_orcid(anonymous, ADA_ORCID).status_code == 303
    assert "first@example.org" in anonymous.get("/account").text

    unlinked = first.post(
        "/account/orcid/unlink", data={"csrf_token": token(first)}, follow_redirects=False
    )
    assert unlinked.status_code == 303
    with Session(engine) as session:
        assert session.scalars(select(Account.orcid).where(Account.orcid.is_not(None))).all() == []


def test_an_orcid_only_account_cannot_unlink_its_only_way_in(app, engine, mailbox):  # type: ignore[no-untyped-def]
    client = TestClient(app)
    sign_in_with_orcid(client, ADA_ORCID)
    client.post(
        "/login/orcid/signup",
        data={"email": "ada@example.org", "csrf_token": token(client, "/login")},
    )
    assert sign_in_with_orcid(client, ADA_ORCID).status_code == 303
    refused = client.post("/account/orcid/unlink", data={"csrf_token": token(client)})
    assert refused.status_code == 400 and "Set a password first" in refused.text


def test_forged_replayed_and_refused_answers_log_no_one_in(app, engine, issuer):
    client = TestClient(app)
    start = client.get("/login/orcid", follow_redirects=False)
    back = authorize(start.headers["location"], ADA_ORCID)

    stranger = TestClient(app)  # the answer, in a browser that did not start this sign-in
    foreign = stranger.get(local(back))
    assert (
        foreign.status_code == 400 and "expired or was started in another browser" in foreign.text
    )

    forged = client.get(local(back).replace("state=", "state=x"))
    assert forged.status_code == 400 and "does not belong to this browser" in forged.text
    ended = client.get(local(back))  # a forged answer ends the attempt it aimed at
    assert ended.status_code == 400 and "Please start again" in ended.text

    first = TestClient(app)
    answer = authorize(
        first.get("/login/orcid", follow_redirects=False).headers["location"], ADA_ORCID
    )
    assert first.get(local(answer)).status_code == 200  # the sign-up form: the code is used
    again = TestClient(app)
    second = authorize(
        again.get("/login/orcid", follow_redirects=False).headers["location"], ADA_ORCID
    )
    replayed = again.get(local(second).replace(query(second)["code"], query(answer)["code"]))
    assert replayed.status_code == 400 and "refused the authorization code" in replayed.text

    denied_at = TestClient(app)
    start = denied_at.get("/login/orcid", follow_redirects=False)
    denied = denied_at.get(local(authorize(start.headers["location"], None, deny=True)))
    assert denied.status_code == 400 and "not completed" in denied.text

    not_an_orcid = sign_in_with_orcid(TestClient(app), "alice")
    assert not_an_orcid.status_code == 400 and "no valid ORCID iD" in not_an_orcid.text
    with Session(engine) as session:
        assert session.scalars(select(Account)).all() == []


def test_without_a_client_id_orcid_sign_in_is_off(store):
    client = TestClient(create_app(store))
    assert "Sign in with ORCID" not in client.get("/login").text
    off = client.get("/login/orcid")
    assert off.status_code == 404 and "PEERGRAPH_OIDC_CLIENT_ID" in off.text
    assert re.search("not set up", client.get("/login/orcid/callback?code=x&state=y").text)


def test_the_sign_in_leaves_no_secret_in_the_logs(app, caplog):  # type: ignore[no-untyped-def]
    client = TestClient(app)
    caplog.set_level(logging.DEBUG)
    start = client.get("/login/orcid", follow_redirects=False)
    server_side = list(caplog.records)
    back = authorize(start.headers["location"], ADA_ORCID)  # the browser at the provider
    caplog.clear()
    pending = client.cookies["pg_oidc"]
    assert client.get(local(back)).status_code == 200
    secrets = [CLIENT_SECRET, query(back)["code"], query(back)["state"], pending]
    # what peergraph's side logged: not the provider's own log, nor the test client's
    # requests to the app (http://testserver/…), which stand for the browser
    server_side += [
        r
        for r in caplog.records
        if not r.name.startswith(("werkzeug", "oidc_provider_mock"))
        and "http://testserver/" not in r.getMessage()
    ]
    assert any(r.name.startswith("peergraph") for r in server_side)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in server_side)
    for secret in secrets:
        assert secret not in logged
