"""The topology page in a real browser, on the embedded demo."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import cy_click, cy_node_ids

pytestmark = pytest.mark.browser

BOOKINFO = {
    "bookinfo/productpage-v1",
    "bookinfo/details-v1",
    "bookinfo/reviews-v1",
    "bookinfo/reviews-v2",
    "bookinfo/ratings-v1",
}


def wait_for_nodes(page, expected: set[str]) -> list[str]:
    page.wait_for_function(
        """([ids]) => {
            const root = document.getElementById('topo-graph');
            if (!root) return false;
            const h = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
            if (!h) return false;
            const have = new Set(h._cyreg.cy.nodes().map(n => n.id()));
            return ids.every(i => have.has(i));
        }""",
        arg=[sorted(expected)],
        timeout=20000,
    )
    return cy_node_ids(page, "topo-graph")


def test_demo_topology_shows_bookinfo_and_the_side_panel(page, live_demo, shot):
    page.goto(live_demo.url + "/?namespace=bookinfo&window=5m&refresh=off")
    expect(page.locator("#mode-badge")).to_contain_text("DEMO DATA")
    ids = wait_for_nodes(page, BOOKINFO)
    assert set(ids) >= BOOKINFO
    page.wait_for_timeout(300)  # let the layout settle before clicking
    shot("topology-demo")
    cy_click(page, "topo-graph", "bookinfo/reviews-v2")
    expect(page.locator("#panel-title")).to_have_text("reviews-v2")
    panel = page.locator("#topo-panel")
    expect(panel).to_contain_text("Inbound")
    expect(panel).to_contain_text("ratings-v1")  # v2 calls ratings
    expect(page.locator("#panel-service-link")).to_have_attribute(
        "href", re.compile(r"/service\?namespace=bookinfo&service=reviews&window=5m")
    )
    shot("topology-demo-panel")


def test_view_state_lives_in_the_url(page, live_demo):
    page.goto(live_demo.url + "/?namespace=bookinfo&graph=app&window=30m&refresh=off&labels=p95")
    wait_for_nodes(page, {"bookinfo/reviews", "bookinfo/productpage"})
    expect(page).to_have_url(re.compile(r"graph=app"))
    expect(page).to_have_url(re.compile(r"window=30m"))
    expect(page).to_have_url(re.compile(r"labels=p95"))
    page.locator("#topo-window").click()
    page.get_by_text("Last 1h", exact=True).click()
    expect(page).to_have_url(re.compile(r"window=1h"))
    # A pasted link reproduces the view.
    page.goto(page.url)
    expect(page.locator("#topo-window")).to_contain_text("Last 1h")
    expect(page.locator("#topo-view")).to_contain_text("App graph")


def test_bad_input_shows_a_banner_not_a_traceback(page, live_demo, shot):
    page.goto(live_demo.url + "/?namespace=Not_Valid&refresh=off")
    banner = page.locator("#topo-banner .md-banner")
    expect(banner).to_contain_text("Invalid input")
    expect(banner).to_contain_text("Not_Valid")
    assert "Traceback" not in page.content()
    shot("topology-bad-input")


def test_empty_namespace_says_so(page, live_demo, shot):
    # No traffic and no Kubernetes to know it: "not found", not "no traffic" (issue 15).
    page.goto(live_demo.url + "/?namespace=quiet&refresh=off")
    expect(page.locator("#topo-empty")).to_contain_text("Namespace quiet not found")
    shot("topology-empty")
