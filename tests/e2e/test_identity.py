"""Sign up, verify by mail, log in, claim, follow and log out in headless Chromium, with
a real SMTP server on loopback. Screenshots of the profile before and after the claim go
to test-artifacts/e2e/ (or $PEERGRAPH_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.mail import Mailbox, link
from tests.servers import start_server

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("PEERGRAPH_TEST_ARTIFACTS", REPO / "test-artifacts")) / "e2e"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def site(
    tmp_path: Path, profile_store: dict[str, int]
) -> Iterator[tuple[str, Mailbox, dict[str, int]]]:
    mailbox = Mailbox().start()
    smtp = {"PEERGRAPH_SMTP_HOST": "127.0.0.1", "PEERGRAPH_SMTP_PORT": str(mailbox.port)}
    process, url = start_server(tmp_path, "--no-embed", env=smtp)
    yield url, mailbox, profile_store
    process.terminate()
    process.wait(timeout=10)
    mailbox.stop()


def test_sign_up_verify_claim_follow_and_log_out(browser, site):
    url, mailbox, ids = site
    ada, babbage = ids["A. Lovelace"], ids["Charles Babbage"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    # 1. sign up; the mail arrives on the loopback SMTP server
    page.goto(url + "/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("E-mail address").fill("ada@cs.examples.ac.uk")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    assert page.locator("h1").inner_text() == "Check your mail"
    message = mailbox.wait("ada@cs.examples.ac.uk")
    # 2. verify the address and log in
    page.goto(url + link(message, "/verify-email"))
    page.get_by_role("button", name="Verify my address").click()
    assert "is verified" in page.locator("main").inner_text()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account")
    # 3. claim a record by institutional e-mail
    page.goto(f"{url}/researchers/{ada}")
    assert "Unclaimed author" in page.locator(".trust-snapshot").inner_text()
    page.screenshot(path=str(ARTIFACTS / "profile-before-claim.png"), full_page=True)
    page.get_by_role("link", name="Claim this record").click()
    assert page.get_by_label("My verified address, ada@cs.examples.ac.uk").is_checked()
    page.get_by_role("button", name="Claim this record").click()
    page.wait_for_url(f"**/researchers/{ada}?claimed=1")
    # 4. "Claimed · Verification L2" and the new trust figure
    snapshot = page.locator(".trust-snapshot").inner_text()
    assert "Claimed" in snapshot and "Verification L2" in snapshot
    assert "Trust " in snapshot
    page.screenshot(path=str(ARTIFACTS / "profile-after-claim.png"), full_page=True)
    # 5. follow another researcher, and log out
    page.goto(f"{url}/researchers/{babbage}")
    page.get_by_role("button", name="Follow").click()
    assert page.get_by_role("button", name="Following · Unfollow").is_visible()
    assert "1 follower" in page.locator(".actions").inner_text()
    page.get_by_role("button", name="Log out").click()
    assert page.get_by_role("link", name="Log in").is_visible()
    page.close()


def test_account_pages_fit_a_phone(browser, site):
    url, _, ids = site
    page = browser.new_page(viewport={"width": 390, "height": 844})
    for path in ("/signup", "/login", "/reset", f"/researchers/{ids['A. Lovelace']}"):
        page.goto(url + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, path
    page.close()


PAYLOAD = (
    "<script>window.__xss = 1; alert(1)</script>"
    '<img src=x onerror="window.__xss = 2; alert(2)">'
    '<a href="javascript:window.__xss = 3">click</a>'
)


def _accounts(store: Path, made: dict[str, str]) -> None:
    from peergraph.accounts import services
    from peergraph.db import create_db_engine
    from peergraph.db.base import utcnow
    from peergraph.settings import Settings

    engine = create_db_engine(Settings.for_data_dir(store))
    with Session(engine) as session:
        for email, role in made.items():
            services.create_user(session, email, PASSWORD, role, utcnow())
        session.commit()
    engine.dispose()


def _log_in(browser, url: str, email: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url + "/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account")
    return page, dialogs


def _nothing_ran(page, dialogs: list[str]) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_load_state("load")
    assert page.evaluate("window.__xss") is None
    assert dialogs == []


def test_hostile_bio_links_and_claim_evidence_run_nothing(browser, site, tmp_path):
    """User-supplied text (bio, links, claim evidence) reaches other people's browsers as
    text: the payloads show, nothing runs, and javascript: links are refused."""
    url, _, ids = site
    ada, babbage = ids["A. Lovelace"], ids["Charles Babbage"]
    _accounts(
        tmp_path,
        {"ada@examples.ac.uk": "member", "x@example.org": "member", "mod@example.org": "moderator"},
    )
    owner, owner_dialogs = _log_in(browser, url, "ada@examples.ac.uk")
    owner.goto(f"{url}/researchers/{ada}/claim")
    owner.get_by_role("button", name="Claim this record").click()
    owner.wait_for_url(f"**/researchers/{ada}?claimed=1")
    owner.get_by_role("link", name="Edit your profile", exact=True).click()
    owner.get_by_label("Short bio").fill(PAYLOAD)
    owner.get_by_label("Homepage").fill("javascript:alert(3)")
    owner.get_by_role("button", name="Save").click()
    assert "must be a web address" in owner.locator("[role=alert]").inner_text()
    _nothing_ran(owner, owner_dialogs)
    owner.get_by_label("Homepage").fill("https://example.org/ada")
    owner.get_by_role("button", name="Save").click()
    owner.wait_for_url(f"**/researchers/{ada}")
    assert PAYLOAD in owner.locator(".bio").inner_text()  # shown as text
    _nothing_ran(owner, owner_dialogs)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):  # the owner's pages, looked at and on a phone
        owner.set_viewport_size({"width": width, "height": 900})
        for name, path in (
            ("profile", f"/researchers/{ada}"),
            ("edit", f"/researchers/{ada}/edit"),
        ):
            owner.goto(url + path)
            owner.screenshot(path=str(ARTIFACTS / f"owner-{name}-{width}.png"), full_page=True)
            overflow = owner.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (path, width)

    claimant, claimant_dialogs = _log_in(browser, url, "x@example.org")
    claimant.goto(f"{url}/researchers/{babbage}/claim")
    claimant.get_by_label("Other evidence, for a moderator to review").check()
    claimant.locator("textarea[name=statement]").fill(PAYLOAD)
    claimant.locator("textarea[name=links]").fill("javascript:alert(4)\nhttps://ok.example.org")
    claimant.get_by_role("button", name="Claim this record").click()
    assert claimant.locator("h1").inner_text() == "Claim sent for review"
    _nothing_ran(claimant, claimant_dialogs)

    moderator, moderator_dialogs = _log_in(browser, url, "mod@example.org")
    moderator.goto(url + "/moderation")
    queue = moderator.locator("main").inner_text()
    assert "<script>" in queue and "https://ok.example.org" in queue
    assert moderator.locator("a[href^='javascript:']").count() == 0
    _nothing_ran(moderator, moderator_dialogs)

    visitor = browser.new_page()
    visitor_dialogs: list[str] = []
    visitor.on("dialog", lambda dialog: (visitor_dialogs.append(dialog.message), dialog.dismiss()))
    visitor.goto(f"{url}/researchers/{ada}")
    assert visitor.locator("a[href^='javascript:']").count() == 0
    _nothing_ran(visitor, visitor_dialogs)
    for page in (owner, claimant, moderator, visitor):
        page.context.close()
