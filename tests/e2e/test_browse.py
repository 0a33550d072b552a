"""Browse the served pages in headless Chromium as a visitor would."""

from __future__ import annotations

from pathlib import Path


def test_home_lists_works_and_opens_one(browser, server, tmp_path: Path):
    page = browser.new_page()
    page.goto(server + "/")
    assert page.locator("h1").inner_text() == "Research graph"
    assert page.locator("ol.works > li").count() == 6
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)
    page.get_by_role("link", name="Attention Is All You Need").click()
    page.wait_for_url("**/works/*")
    assert page.locator("h1").inner_text() == "Attention Is All You Need"
    assert page.get_by_role("heading", name="Authors").is_visible()
    assert "Ashish Vaswani" in page.locator("ol.author-line").inner_text()
    assert page.get_by_role("link", name="10.5555/3295222.3295349").count() == 1
    page.close()


def test_keyboard_reaches_the_content(browser, server):
    page = browser.new_page()
    page.goto(server + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    page.close()


def test_keyboard_focus_is_always_visible(browser, server):
    """Tabbing through a work page (header search, links, disclosures) never lands on
    an element without a visible focus outline."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + "/works/1")
    seen = []
    for _ in range(25):
        page.keyboard.press("Tab")
        tag, outline = page.evaluate(
            """() => { const e = document.activeElement;
                       const s = getComputedStyle(e);
                       const what = (e.textContent || e.name || '').trim().slice(0, 30);
                       return [e.tagName + ' ' + what,
                               s.outlineStyle === 'none' ? 0 : parseFloat(s.outlineWidth)]; }"""
        )
        if tag.startswith("BODY"):
            break  # past the last element: focus left the page
        seen.append(tag)
        assert outline >= 2, f"no visible focus on {tag}"
    assert len(set(seen)) >= 5  # it moved through the page
    page.close()


def test_phone_width_has_no_horizontal_scroll(browser, server):
    page = browser.new_page(viewport={"width": 375, "height": 800})
    for path in ("/", "/works/1"):
        page.goto(server + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, path
    page.close()


def test_empty_instance_shows_how_to_import(browser, empty_server):
    page = browser.new_page()
    page.goto(empty_server + "/")
    assert page.get_by_role("heading", name="No data imported yet").is_visible()
    assert "peergraph import" in page.locator("pre").inner_text()
    page.close()
