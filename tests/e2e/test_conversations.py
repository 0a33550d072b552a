"""A focused conversation in headless Chromium: two accounts verified through a loopback
SMTP server; B claims a record and opens it to collaboration; A invites B about B's paper;
B sees the invitation arrive live and accepts; they exchange messages, each seeing the
other's live; A blocks B and can no longer write. No console errors; screenshots go to
test-artifacts/e2e/conversations/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mail import Mailbox, link
from tests.servers import start_server

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = (
    Path(os.environ.get("PEERGRAPH_TEST_ARTIFACTS", REPO / "test-artifacts"))
    / "e2e"
    / "conversations"
)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def site(
    tmp_path: Path, profile_store: dict[str, int]
) -> Iterator[tuple[str, Mailbox, dict[str, int], Path]]:
    mailbox = Mailbox().start()
    smtp = {"PEERGRAPH_SMTP_HOST": "127.0.0.1", "PEERGRAPH_SMTP_PORT": str(mailbox.port)}
    process, url = start_server(tmp_path, "--no-embed", env=smtp)
    yield url, mailbox, profile_store, tmp_path
    process.terminate()
    process.wait(timeout=10)
    mailbox.stop()


def sign_up(browser, url: str, mailbox: Mailbox, email: str, errors: list[str]):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/signup")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.goto(url + link(mailbox.wait(email), "/verify-email"))
    page.get_by_role("button", name="Verify my address").click()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account")
    return page


def own_in_store(store: Path, email: str, record_id: int) -> None:
    """A's own claim, written directly (B's goes through the claim flow)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from peergraph.accounts.models import Account
    from peergraph.authors.ownership import claim_record
    from peergraph.db import create_db_engine
    from peergraph.settings import Settings

    engine = create_db_engine(Settings.for_data_dir(store))
    with Session(engine) as session:
        account_id = session.scalars(select(Account.id).where(Account.email == email)).one()
    with engine.begin() as conn:
        claim_record(conn, record_id, f"account:{account_id}", account_id=account_id)
    engine.dispose()


def test_invite_accept_talk_and_block(browser, site):
    url, mailbox, ids, store = site
    ada, babbage = ids["A. Lovelace"], ids["Charles Babbage"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    b = sign_up(browser, url, mailbox, "ada@cs.examples.ac.uk", errors)
    a = sign_up(browser, url, mailbox, "charles@example.org", errors)
    # B claims A. Lovelace by institutional address and opens it to collaboration
    b.goto(f"{url}/researchers/{ada}/claim")
    b.get_by_role("button", name="Claim this record").click()
    b.wait_for_url(f"**/researchers/{ada}?claimed=1")
    b.get_by_role("link", name="Edit your profile", exact=True).click()
    b.get_by_label("Open to collaborate").check()
    b.get_by_role("button", name="Save").click()
    b.wait_for_url(f"**/researchers/{ada}")
    own_in_store(store, "charles@example.org", babbage)
    # B watches the inbox; the page is never reloaded (the marker survives)
    b.goto(url + "/conversations")
    assert "No conversations yet" in b.locator("main").inner_text()
    b.evaluate("window.__stayed = true")

    # 1. A sends an invitation anchored on B's paper
    a.goto(f"{url}/researchers/{ada}")
    a.screenshot(path=str(ARTIFACTS / "1-profile-open-to-collaborate.png"), full_page=True)
    a.get_by_role("link", name="Open a focused conversation").click()
    about = a.get_by_label("About")
    paper = about.locator("optgroup[label='Their works'] option").first
    about.select_option(paper.get_attribute("value"))
    title = paper.inner_text()
    a.get_by_label("Your message").fill("I'd like to talk about this paper's method.")
    a.screenshot(path=str(ARTIFACTS / "2-invite-form.png"), full_page=True)
    a.get_by_role("button", name="Send the invitation").click()
    a.wait_for_url("**/conversations/*?sent=1")
    assert "Waiting for" in a.locator("#conversation-status").inner_text()

    # 2. B sees it arrive live, and accepts
    b.get_by_text("Invitation to you").wait_for(timeout=15_000)
    assert b.evaluate("window.__stayed") is True
    assert "(1)" in b.locator("#nav-unread").inner_text()
    b.screenshot(path=str(ARTIFACTS / "3-inbox-live.png"), full_page=True)
    b.get_by_role("link", name="Charles Babbage").click()
    assert title[:30] in b.locator("main").inner_text()
    b.get_by_role("button", name="Accept").click()
    assert "you can both write" in b.locator("#conversation-status").inner_text()

    # 3. they exchange messages, each appearing live on the other's open page
    a.get_by_label("Message").wait_for(timeout=15_000)  # A's page reloaded itself on "accepted"
    b.get_by_label("Message").fill("Gladly. Which part?")
    b.get_by_role("button", name="Send").click()
    a.get_by_text("Gladly. Which part?").wait_for(timeout=15_000)
    a.evaluate("window.__stayed = true")
    a.get_by_label("Message").fill("The analytical engine notes.")
    a.get_by_role("button", name="Send").click()
    b.get_by_text("The analytical engine notes.").wait_for(timeout=15_000)
    # seen on B's open page: the header's unread count does not count it
    b.wait_for_function("document.getElementById('nav-unread').textContent === ''")
    b.screenshot(path=str(ARTIFACTS / "4-conversation-b.png"), full_page=True)
    a.screenshot(path=str(ARTIFACTS / "5-conversation-a.png"), full_page=True)

    # 4. A blocks B, and can no longer write
    a.get_by_role("button", name="Block A. Lovelace").click()
    assert "closed" in a.locator("#conversation-status").inner_text()
    assert a.get_by_label("Message").count() == 0
    a.screenshot(path=str(ARTIFACTS / "6-blocked.png"), full_page=True)
    b.get_by_text("The conversation is closed.").wait_for(timeout=15_000)
    assert b.get_by_label("Message").count() == 0
    a.goto(f"{url}/researchers/{ada}")
    assert "You cannot invite this researcher." in a.locator("main").inner_text()
    # the phone width fits
    for page in (a, b):
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(url + "/conversations")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
    b.screenshot(path=str(ARTIFACTS / "7-inbox-390.png"), full_page=True)
    assert errors == []
    for page in (a, b):
        page.context.close()
