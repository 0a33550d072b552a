"""Every kind of page checked by axe-core (npm, frontend/node_modules) in headless
Chromium, at 1280 px and at 390 px: no serious or critical violations, no sideways
scrolling, no console errors. Logged-in pages too (account, claim, edit, moderation).

axe is added to each page through a browser context that bypasses the site's CSP (the
site itself allows no inline script)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import start_server

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("PEERGRAPH_TEST_ARTIFACTS", REPO / "test-artifacts")) / "e2e"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def a11y_site(
    tmp_path: Path, profile_store: dict[str, int]
) -> Iterator[tuple[str, dict[str, int]]]:
    from sqlalchemy.orm import Session

    from peergraph.accounts import services
    from peergraph.db import create_db_engine
    from peergraph.db.base import utcnow
    from peergraph.settings import Settings

    engine = create_db_engine(Settings.for_data_dir(tmp_path))
    with Session(engine) as session:
        services.create_user(session, "mod@example.org", PASSWORD, "moderator", utcnow())
        session.commit()
    engine.dispose()
    process, url = start_server(tmp_path, "--no-embed")
    yield url, profile_store
    process.terminate()
    process.wait(timeout=10)


def check(page, url: str, path: str, width: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Open ``path`` and return its problems: axe's serious and critical violations, and
    sideways scrolling."""
    page.goto(url + path)
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => {
            const tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];
            const result = await axe.run(document, {
                resultTypes: ["violations"],
                runOnly: { type: "tag", values: tags },
            });
            const where = (v) => v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ");
            return result.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => `${v.id} (${v.impact}): ${where(v)}`);
        }"""
    )
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    shots = ARTIFACTS / "pages"
    shots.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
    page.screenshot(path=str(shots / f"{slug}-{width}.png"), full_page=True)
    problems = [f"{path} @{width}: {v}" for v in found]
    if overflow > 0:
        problems.append(f"{path} @{width}: scrolls sideways by {overflow} px")
    return problems


def test_pages_pass_axe_at_both_widths(browser, a11y_site):
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: scripts/bootstrap installs frontend/ with npm ci")
    url, ids = a11y_site
    ada, radford = ids["A. Lovelace"], ids["Alec Radford"]
    public = [
        "/",
        "/works/1",
        "/researchers",
        f"/researchers/{radford}",
        f"/researchers/{radford}/trust",
        "/researchers?topic=1",
        "/topics/1",
        "/institutions/1",
        "/search?q=learning",
        f"/explore?node=researcher:{radford}",
        "/login",
        "/signup",
        "/reset",
    ]
    private = [
        "/account",
        f"/researchers/{ada}/claim",
        "/moderation",
        "/following",
        "/conversations",
        "/dashboard",
        "/feed",
    ]
    problems: list[str] = []
    errors: list[str] = []
    for width in (1280, 390):
        context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        for path in public:
            problems += check(page, url, path, width)
        page.goto(url + "/login")
        page.get_by_label("E-mail address").fill("mod@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/account")
        for path in private:
            problems += check(page, url, path, width)
        context.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "axe-problems.json").write_text(json.dumps(problems, indent=1))
    assert problems == [], "\n".join(problems)
    assert errors == [], errors
