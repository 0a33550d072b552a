"""Sign up, verify by mail, log in, claim, follow and log out in headless Chromium, with
a real SMTP server on loopback. Screenshots of the profile before and after the claim go
to test-artifacts/e2e/ (or $PEERGRAPH_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.mail import Mailbox, link
from tests.servers import start_server

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("PEERGRAPH_TEST_ARTIFACTS", REPO / "test-artifacts")) / "e2e"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def site(tmp_path: Path, test_data: Path) -> Iterator[tuple[str, Mailbox, dict[str, int]]]:
    from peergraph.authors.models import AuthorRecord
    from peergraph.db import create_db_engine, migrate
    from peergraph.ingest.formats import ImportTarget
    from peergraph.ingest.loader import import_file
    from peergraph.profiles.services import rebuild
    from peergraph.settings import Settings

    engine = create_db_engine(Settings.for_data_dir(tmp_path))
    migrate(engine)
    import_file(engine, ImportTarget(test_data / "openalex.jsonl", "openalex-jsonl"))
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    rebuild(engine)
    with Session(engine) as session:
        ids = {r.display_name: r.id for r in session.scalars(select(AuthorRecord))}
    engine.dispose()
    mailbox = Mailbox().start()
    smtp = {"PEERGRAPH_SMTP_HOST": "127.0.0.1", "PEERGRAPH_SMTP_PORT": str(mailbox.port)}
    process, url = start_server(tmp_path, "--no-embed", env=smtp)
    yield url, mailbox, ids
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
