"""Accounts through the app, with a real SMTP server on loopback: sign-up, the mailed
links, log-in, sessions, CSRF, rate limits, reset, tokens, deletion (docs/accounts.md)."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from peergraph.accounts.models import Account, AccountLink, ApiToken, OutgoingMail
from peergraph.accounts.ratelimit import RULES
from peergraph.db.base import utcnow
from peergraph.settings import ConfigError
from peergraph.web.app import create_app
from peergraph.web.auth import CSRF_COOKIE, SESSION_COOKIE
from tests.mail import Mailbox, body, free_port, link

PASSWORD = "correct horse battery staple"


@pytest.fixture
def mail_settings(settings, engine, mailbox):
    return dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=mailbox.port)


@pytest.fixture
def client(mail_settings) -> Iterator[TestClient]:
    with TestClient(create_app(mail_settings)) as client:
        yield client


def csrf(client: TestClient, path: str = "/signup") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_up(client: TestClient, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post(
        "/signup", data={"email": email, "password": password, "csrf_token": csrf(client)}
    )


def follow_link(client: TestClient, path_and_query: str):  # type: ignore[no-untyped-def]
    """Open a mailed link and press its button (GET shows a form; POST uses the link)."""
    page = client.get(path_and_query)
    assert page.status_code == 200, page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token
    main = page.text[page.text.index('<main id="main">') :]  # not the header's log-out form
    action = re.search(r'<form method="post" action="([^"]+)"', main)
    assert action
    return client.post(
        action.group(1), data={"token": token.group(1), "csrf_token": csrf(client, "/login")}
    )


def log_in(client: TestClient, email: str, password: str = PASSWORD, next: str = ""):  # type: ignore[no-untyped-def]
    return client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "next": next,
            "csrf_token": csrf(client, "/login"),
        },
        follow_redirects=False,
    )


def verified_account(client: TestClient, mailbox: Mailbox, email: str) -> None:
    assert sign_up(client, email).status_code == 200
    verified = follow_link(client, link(mailbox.wait(email), "/verify-email"))
    assert verified.status_code == 200 and "is verified" in verified.text


def test_sign_up_verify_by_mail_and_log_in(client, mailbox):
    page = sign_up(client, "Ada@Example.org")
    assert page.status_code == 200 and "Check your mail" in page.text
    message = mailbox.wait("ada@example.org")
    assert message["Subject"] == "Verify your e-mail address for peergraph"
    # not verified yet: the right password gets a new link, not a session
    early = log_in(client, "ada@example.org")
    assert early.status_code == 400 and "Verify your e-mail address first" in early.text
    assert SESSION_COOKIE not in client.cookies
    verified = follow_link(client, link(message, "/verify-email"))
    assert "ada@example.org is verified" in verified.text
    response = log_in(client, "ada@example.org", next="/researchers?q=x")
    assert response.status_code == 303 and response.headers["location"] == "/researchers?q=x"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("pg_session"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    account = client.get("/account")
    assert account.status_code == 200 and "ada@example.org" in account.text
    assert client.get("/api/me").json()["email"] == "ada@example.org"
    # the link was for one use
    again = client.get(link(message, "/verify-email"))
    assert again.status_code == 400 and "not valid" in again.text


def test_sign_up_answers_alike_for_a_taken_address(client, mailbox):
    verified_account(client, mailbox, "taken@example.org")
    second = sign_up(client, "taken@example.org", "another password here")
    assert second.status_code == 200 and "Check your mail" in second.text
    notice = mailbox.wait("taken@example.org", count=2)
    assert notice["Subject"] == "Someone tried to sign up with your address"
    # and the existing password still works, the new one does not
    assert log_in(client, "taken@example.org", "another password here").status_code == 400
    assert log_in(client, "taken@example.org").status_code == 303


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("not-an-address", PASSWORD, "Enter an e-mail address"),
        ("short@example.org", "2short", "at least 10 characters"),
        ("same@example.org", "same@example.org", "not your e-mail address"),
        ("<script>@x.org", PASSWORD, "Enter an e-mail address"),
    ],
)
def test_sign_up_refuses_bad_input_with_a_reason(client, mailbox, email, password, message):
    page = sign_up(client, email, password)
    assert page.status_code == 400 and message in page.text
    assert "<script>@" not in page.text  # what was typed comes back escaped
    assert mailbox.messages == []


def test_every_state_changing_form_needs_the_csrf_token(client, mailbox):
    verified_account(client, mailbox, "csrf@example.org")
    assert log_in(client, "csrf@example.org").status_code == 303
    forms = re.findall(r'<form method="post" action="([^"]+)"', client.get("/account").text)
    assert {"/logout", "/account/tokens", "/account/password", "/account/email"} <= set(forms)
    posts = [*forms, "/login", "/signup", "/reset", "/reset/confirm", "/verify-email"]
    posts.append("/account/email/confirm")
    for action in posts:
        for token in (None, "forged", csrf_for_another_browser(client)):
            data = {} if token is None else {"csrf_token": token}
            response = client.post(action, data=data, follow_redirects=False)
            assert response.status_code == 403, (action, token, response.status_code)
    assert client.get("/api/me").status_code == 200  # nothing above logged us out


def csrf_for_another_browser(client: TestClient) -> str:
    with TestClient(client.app) as other:
        return csrf(other, "/login")


def test_anonymous_form_token_is_bound_to_its_browser(client):
    token = csrf(client)
    with TestClient(client.app) as other:
        other.get("/login")  # has a CSRF cookie of its own
        refused = other.post(
            "/signup", data={"email": "x@example.org", "password": PASSWORD, "csrf_token": token}
        )
    assert refused.status_code == 403


def test_log_in_rotates_the_session_and_log_out_ends_it(client, mailbox):
    verified_account(client, mailbox, "fix@example.org")
    # a session token planted before the log-in (forged, so unsigned) is never promoted
    client.cookies.set(SESSION_COOKIE, "planted-by-an-attacker", domain="testserver.local")
    first = log_in(client, "fix@example.org")
    first_cookie = client.cookies[SESSION_COOKIE]
    assert first.status_code == 303 and "planted" not in first_cookie
    csrf_before = client.cookies[CSRF_COOKIE]
    second = log_in(client, "fix@example.org")
    assert second.status_code == 303
    assert client.cookies[SESSION_COOKIE] != first_cookie
    assert client.cookies[CSRF_COOKIE] != csrf_before
    with TestClient(client.app, cookies={SESSION_COOKIE: first_cookie}) as replay:
        assert replay.get("/api/me").status_code == 401  # the first session ended at log-in
    current = client.cookies[SESSION_COOKIE]
    out = client.post(
        "/logout", data={"csrf_token": csrf(client, "/account")}, follow_redirects=False
    )
    assert out.status_code == 303
    with TestClient(client.app, cookies={SESSION_COOKIE: current}) as replay:
        assert replay.get("/api/me").status_code == 401  # ended on the server, not just the cookie
        assert replay.get("/account", follow_redirects=False).headers["location"] == (
            "/login?next=%2Faccount"
        )


def test_brute_force_log_in_hits_the_limit(client, mailbox, mail_settings):
    verified_account(client, mailbox, "target@example.org")
    limit = RULES["login-account"].limit
    for _ in range(limit):
        assert log_in(client, "target@example.org", "wrong password!").status_code == 400
    locked = log_in(client, "target@example.org")  # even the right password waits now
    assert locked.status_code == 429 and "Too many attempts" in locked.text
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    # the count is in the database: another server process sees it
    with TestClient(create_app(mail_settings)) as other_process:
        assert log_in(other_process, "target@example.org").status_code == 429
    verified_account(client, mailbox, "bystander@example.org")
    assert log_in(client, "bystander@example.org").status_code == 303


def test_many_addresses_from_one_ip_hit_the_ip_limit(client):
    limit = RULES["login-ip"].limit
    codes = [
        log_in(client, f"guess{i}@example.org", "wrong password!").status_code
        for i in range(limit + 1)
    ]
    assert codes[:limit] == [400] * limit and codes[limit] == 429


def test_password_reset_link_works_once_and_expires(client, mailbox, engine):
    verified_account(client, mailbox, "reset@example.org")
    assert log_in(client, "reset@example.org").status_code == 303
    old_session = client.cookies[SESSION_COOKIE]
    with TestClient(client.app) as stranger:
        asked = stranger.post(
            "/reset", data={"email": "reset@example.org", "csrf_token": csrf(stranger, "/reset")}
        )
        assert asked.status_code == 200 and "If an account uses that address" in asked.text
        nobody = stranger.post(
            "/reset", data={"email": "nobody@example.org", "csrf_token": csrf(stranger, "/reset")}
        )
        assert nobody.text.count("If an account uses") == 1  # the same answer
        message = mailbox.wait("reset@example.org", count=2)
        url = link(message, "/reset/confirm")
        page = stranger.get(url)
        token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
        form = {
            "token": token,
            "password": "a brand new password",
            "csrf_token": csrf(stranger, "/reset"),
        }
        assert stranger.post("/reset/confirm", data=form).status_code == 200
        again = stranger.post("/reset/confirm", data={**form, "password": "yet another password"})
        assert again.status_code == 400 and "not valid" in again.text
    assert mailbox.to("nobody@example.org") == []
    assert log_in(client, "reset@example.org", "a brand new password").status_code == 303
    with TestClient(client.app, cookies={SESSION_COOKIE: old_session}) as before:
        assert before.get("/api/me").status_code == 401  # the reset logged everyone out
    # a link older than an hour is refused
    with TestClient(client.app) as stranger:
        stranger.post(
            "/reset", data={"email": "reset@example.org", "csrf_token": csrf(stranger, "/reset")}
        )
        late = link(mailbox.wait("reset@example.org", count=3), "/reset/confirm")
        with engine.begin() as conn:
            conn.execute(
                update(AccountLink.__table__)
                .where(AccountLink.used_at.is_(None))
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        assert stranger.get(late).status_code == 400


def test_api_tokens_are_shown_once_hashed_and_revocable(client, mailbox, engine):
    verified_account(client, mailbox, "api@example.org")
    log_in(client, "api@example.org")
    made = client.post(
        "/account/tokens", data={"name": "notebook", "csrf_token": csrf(client, "/account")}
    )
    token = re.search(r"pgt_[\w-]+", made.text).group(0)
    assert made.headers["cache-control"] == "no-store"
    assert token not in client.get("/account").text  # shown once
    with Session(engine) as session:
        stored = session.scalars(select(ApiToken)).one()
        assert token not in (stored.token_hash, stored.prefix) and token.startswith(stored.prefix)
    with TestClient(client.app) as script:
        assert (
            script.get("/api/me", headers={"authorization": f"Bearer {token}"}).json()["email"]
            == "api@example.org"
        )
        assert (
            script.get("/api/me", headers={"authorization": "Bearer pgt_wrong"}).status_code == 401
        )
        revoke = client.post(
            f"/account/tokens/{stored.id}/revoke",
            data={"csrf_token": csrf(client, "/account")},
            follow_redirects=False,
        )
        assert revoke.status_code == 303
        gone = script.get("/api/me", headers={"authorization": f"Bearer {token}"})
        assert gone.status_code == 401 and gone.json()["error"]["code"] == "unauthorized"


def test_change_of_address_is_verified_again(client, mailbox):
    verified_account(client, mailbox, "old@example.org")
    log_in(client, "old@example.org")
    asked = client.post(
        "/account/email",
        data={
            "new_email": "new@example.org",
            "password": PASSWORD,
            "csrf_token": csrf(client, "/account"),
        },
    )
    assert asked.status_code == 200 and "confirmation link" in asked.text
    assert "asked to change its address" in body(mailbox.wait("old@example.org", count=2))
    assert client.get("/api/me").json()["email"] == "old@example.org"  # nothing yet
    follow_link(client, link(mailbox.wait("new@example.org"), "/account/email/confirm"))
    assert client.get("/api/me").json()["email"] == "new@example.org"
    assert log_in(client, "new@example.org").status_code == 303


def test_delete_account(client, mailbox, engine):
    verified_account(client, mailbox, "leaving@example.org")
    log_in(client, "leaving@example.org")
    token = csrf(client, "/account")
    unconfirmed = client.post(
        "/account/delete", data={"password": PASSWORD, "confirm": "", "csrf_token": token}
    )
    assert unconfirmed.status_code == 400
    done = client.post(
        "/account/delete", data={"password": PASSWORD, "confirm": "delete", "csrf_token": token}
    )
    assert done.status_code == 200 and "Account deleted" in done.text
    assert client.get("/api/me").status_code == 401
    assert log_in(client, "leaving@example.org").status_code == 400
    with engine.connect() as conn:
        for table in ("accounts", "account_sessions", "account_links", "api_tokens"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0


def test_mail_waits_in_the_queue_while_the_smtp_server_is_down(settings, engine, mailbox):
    down = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=free_port())
    with TestClient(create_app(down)) as client:
        assert sign_up(client, "queued@example.org").status_code == 200  # answered anyway
    with Session(engine) as session:
        queued = session.scalars(select(OutgoingMail)).one()
        assert queued.status == "pending" and queued.attempts == 1 and queued.last_error
    from peergraph.jobs.worker import Worker

    up = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=mailbox.port)
    worker = Worker(engine, settings=up)  # an idle worker retries pending mail
    worker.run(once=True)
    worker.next_mail = 0.0
    worker.run(once=True)  # sent once, not twice
    assert len(mailbox.to("queued@example.org")) == 1
    with Session(engine) as session:
        sent = session.scalars(select(OutgoingMail)).one()
        assert sent.status == "sent" and sent.attempts == 2


def test_no_smtp_server_configured_writes_mail_to_the_data_folder(settings, engine):
    with TestClient(create_app(settings)) as client:
        page = sign_up(client, "local@example.org")
        assert "messages are written to the" in page.text
        (eml,) = (settings.data_dir / "mail").glob("*.eml")
        url = re.search(r"http://testserver(/verify-email\?token=\S+)", eml.read_text()).group(1)
        assert "is verified" in follow_link(client, url).text


def test_secrets_never_reach_the_logs(client, mailbox, caplog):
    caplog.set_level(logging.DEBUG)
    verified_account(client, mailbox, "quiet@example.org")
    log_in(client, "quiet@example.org", "a wrong password!")
    log_in(client, "quiet@example.org")
    made = client.post(
        "/account/tokens", data={"name": "n", "csrf_token": csrf(client, "/account")}
    )
    token = re.search(r"pgt_[\w-]+", made.text).group(0)
    client.get("/api/me", headers={"authorization": f"Bearer {token}"})
    client.post("/reset", data={"email": "quiet@example.org", "csrf_token": csrf(client, "/reset")})
    reset = link(mailbox.wait("quiet@example.org", count=2), "/reset/confirm")
    client.get(reset)
    secrets = [
        PASSWORD,
        "a wrong password!",
        token,
        client.cookies[SESSION_COOKIE],
        reset.split("=", 1)[1],
    ]
    secrets.append(link(mailbox.wait("quiet@example.org"), "/verify-email").split("=", 1)[1])
    # what the server side logged (not the test's own SMTP server and HTTP client)
    records = [r for r in caplog.records if not r.name.startswith(("mail.log", "httpx"))]
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in records)
    assert any(r.name.startswith("peergraph") for r in records)  # there were log lines
    for secret in secrets:
        assert secret not in logged


def test_production_refuses_the_default_secret(settings):
    production = dataclasses.replace(settings, environment="production")
    with pytest.raises(ConfigError, match="PEERGRAPH_SECRET_KEY is not set"):
        create_app(production)
    with pytest.raises(ConfigError, match="too weak"):
        create_app(dataclasses.replace(production, secret_key="change-me"))
    strong = dataclasses.replace(production, secret_key="x" * 48, base_url="https://pg.example.org")
    app = create_app(strong)
    assert app.state.secure_cookies


def test_accounts_are_members_unless_an_operator_says_otherwise(client, mailbox, engine):
    verified_account(client, mailbox, "member@example.org")
    with Session(engine) as session:
        assert session.scalars(select(Account.role)).one() == "member"


def test_admin_create_user_from_the_command_line(settings, engine):
    from typer.testing import CliRunner

    from peergraph.cli.main import app

    runner = CliRunner()
    args = ["--data-dir", str(settings.data_dir), "admin", "create-user"]
    made = runner.invoke(
        app,
        [*args, "Root@Example.org", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert made.exit_code == 0, made.output
    assert "created admin account" in made.stdout and "root@example.org" in made.stdout
    again = runner.invoke(
        app, [*args, "root@example.org", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert again.exit_code == 2 and "already has an account" in again.output
    weak = runner.invoke(app, [*args, "x@example.org", "--password-stdin"], input="short\n")
    assert weak.exit_code == 2 and "at least 10 characters" in weak.output
    bad_role = runner.invoke(
        app, [*args, "y@example.org", "--role", "owner", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert bad_role.exit_code == 2 and "role must be one of" in bad_role.output
    promoted = runner.invoke(
        app,
        [
            "--data-dir",
            str(settings.data_dir),
            "admin",
            "set-role",
            "root@example.org",
            "moderator",
        ],
    )
    assert promoted.exit_code == 0 and "is now moderator" in promoted.stdout
    with TestClient(create_app(settings)) as client:
        assert log_in(client, "root@example.org").status_code == 303  # verified already
        assert client.get("/api/me").json()["role"] == "moderator"


def test_serve_refuses_to_start_in_production_with_the_default_secret(settings):
    from typer.testing import CliRunner

    from peergraph.cli.main import app

    result = CliRunner().invoke(
        app, ["--data-dir", str(settings.data_dir), "serve"], env={"PEERGRAPH_ENV": "production"}
    )
    assert result.exit_code == 2 and "PEERGRAPH_SECRET_KEY is not set" in result.output
