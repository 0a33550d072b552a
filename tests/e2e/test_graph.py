"""The graph views in headless Chromium: a profile's inline slice appears after the page,
a click on a collaborator opens the explorer, a click there expands a node, a type
filter hides nodes, and GraphML exports what is on screen; no console errors.
Screenshots go to test-artifacts/e2e/ (or $PEERGRAPH_TEST_ARTIFACTS)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

from tests.servers import start_server

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("PEERGRAPH_TEST_ARTIFACTS", REPO / "test-artifacts")) / "e2e"


@pytest.fixture
def graph_site(
    tmp_path: Path, profile_store: dict[str, int]
) -> Iterator[tuple[str, dict[str, int]]]:
    process, url = start_server(tmp_path, "--no-embed")
    yield url, profile_store
    process.terminate()
    process.wait(timeout=10)


def click_node(page, canvas: str, selector: str) -> str:  # type: ignore[no-untyped-def]
    """Click, with the real mouse, the first node of the view in ``canvas`` that
    ``selector`` (a Cytoscape selector) picks; returns its id."""
    page.locator(canvas).scroll_into_view_if_needed()
    # Cytoscape caches where its container sits on the page and learns of a scroll
    # from the scroll event, a frame later: wait two frames and drop the cache, or
    # the click lands where the node was before the scroll (a flake seen in CI)
    found = page.evaluate(
        """async ([canvas, selector]) => {
            await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
            const cy = document.querySelector(canvas).peergraphView;
            cy.resize();
            const node = cy.nodes(selector).filter((n) => !n.hasClass("seed"))[0];
            const at = node.renderedPosition();
            return [node.id(), at.x, at.y];
        }""",
        [canvas, selector],
    )
    box = page.locator(canvas).bounding_box()
    page.mouse.click(box["x"] + found[1], box["y"] + found[2])
    return str(found[0])


def grown(page, than: int) -> int:  # type: ignore[no-untyped-def]
    """Wait until the explorer holds more than ``than`` nodes (polled from here: the
    pages' CSP forbids the string evaluation wait_for_function uses)."""
    for _ in range(150):
        count = int(page.locator("#explorer").get_attribute("data-nodes") or 0)
        if count > than:
            return count
        page.wait_for_timeout(100)
    raise AssertionError(f"the explorer still holds {than} nodes or fewer")


def test_slice_explorer_expand_filter_and_export(browser, graph_site):
    url, ids = graph_site
    radford = ids["Alec Radford"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    # 1. the profile, then its slice
    page.goto(f"{url}/researchers/{radford}")
    box = page.locator(".graph-view")
    assert "Building this graph slice" in box.inner_text() or box.get_attribute("data-ready")
    page.wait_for_selector(".graph-view[data-ready=true]", timeout=15_000)
    assert "nodes and" in box.locator("[role=status]").inner_text()
    page.screenshot(path=str(ARTIFACTS / "graph-profile-slice.png"), full_page=True)

    # 2. a click on a collaborator opens the explorer around it
    clicked = click_node(page, ".graph-canvas", "[type = 'researcher']")
    page.wait_for_url("**/explore?**")
    page.wait_for_selector("#explorer[data-ready=true]", timeout=15_000)
    assert f"sel={clicked.replace(':', '%3A')}" in page.url
    panel = page.locator("#explorer-panel-body").inner_text()
    assert "researcher" in panel and "Why here" in panel
    before = int(page.locator("#explorer").get_attribute("data-nodes"))

    # 3. a click on another node expands it: the node count grows
    expanded = click_node(page, "#explorer-canvas", "[type = 'work']")
    grown(page, before)
    assert expanded.replace(":", "%3A") in page.url  # the state is in the URL
    page.screenshot(path=str(ARTIFACTS / "graph-explorer.png"), full_page=True)

    # 4. filter a type, then export GraphML: the file holds what is visible
    visible = int(page.locator("#explorer").get_attribute("data-visible-nodes"))
    page.get_by_label("work", exact=True).uncheck()
    fewer = int(page.locator("#explorer").get_attribute("data-visible-nodes"))
    assert fewer < visible
    assert "hide=work" in page.url
    with page.expect_download() as download:
        page.get_by_role("button", name="Export GraphML").click()
    graph = nx.read_graphml(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert graph.number_of_nodes() == fewer
    assert all(data["type"] != "work" for _, data in graph.nodes(data=True))

    # the state survives a reload (a view can be shared)
    page.reload()
    page.wait_for_selector("#explorer[data-ready=true]", timeout=15_000)
    assert not page.get_by_label("work", exact=True).is_checked()
    timing = page.evaluate(
        "performance.getEntriesByName('peergraph:explorer-ready').map((e) => e.duration)"
    )
    assert timing and timing[0] < 5_000
    assert errors == [], errors
    page.close()


def test_the_explorer_fits_a_phone_and_starts_empty_with_a_hint(browser, graph_site):
    url, _ = graph_site
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(url + "/explore")
    page.wait_for_selector("#explorer[data-ready=true]", timeout=15_000)
    assert "Search for a researcher" in page.locator("#explorer-status").inner_text()
    page.get_by_label("Add a researcher, work or topic").fill("Radford")
    page.locator("#seed-search").get_by_role("button", name="Search").click()
    page.get_by_role("button", name="Alec Radford (researcher)").click()
    grown(page, 1)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    page.screenshot(path=str(ARTIFACTS / "graph-explorer-390.png"), full_page=True)
    page.close()


def test_a_topic_page_shows_its_slice(browser, graph_site):
    url, ids = graph_site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}/researchers/{ids['Alec Radford']}")
    page.locator("a[href^='/topics/']").first.click()
    page.wait_for_selector(".graph-view[data-ready=true]", timeout=15_000)
    assert page.locator(".graph-view").get_attribute("data-node", timeout=1000).startswith("topic:")
    assert errors == [], errors
    page.close()
