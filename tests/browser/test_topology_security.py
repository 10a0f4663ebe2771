"""The topology page's Security display (issue 23), in a real browser on the embedded demo.

The demo's details-v1 takes its calls in plain text (demo/bookinfo.py), so productpage ->
details is the edge a review before STRICT mTLS must find.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_topology_page import BOOKINFO, wait_for_nodes

pytestmark = pytest.mark.browser

PLAIN = "bookinfo/productpage-v1->bookinfo/details-v1"
SECURE = "bookinfo/productpage-v1->bookinfo/reviews-v1"

_EDGE = """([edgeId]) => {
    const root = document.getElementById('topo-graph');
    const h = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
    const e = h._cyreg.cy.getElementById(edgeId);
    if (e.empty()) return null;
    const mid = e.renderedMidpoint();
    const rect = h.getBoundingClientRect();
    return {style: e.style('line-style'), label: e.style('label'),
            classes: e.classes(), x: rect.left + mid.x, y: rect.top + mid.y};
}"""


def edge(page, edge_id: str) -> dict:
    found = page.evaluate(_EDGE, [edge_id])
    assert found is not None, f"no edge {edge_id}"
    return found


def test_security_toggle_marks_plain_text_edges_and_the_legend_says_so(page, live_demo, shot):
    page.goto(live_demo.url + "/?namespace=bookinfo&window=5m&refresh=off")
    wait_for_nodes(page, BOOKINFO)
    legend = page.locator("#topo-legend-plaintext")
    expect(legend).to_be_hidden()
    assert edge(page, PLAIN)["style"] == "solid"  # off: the graph looks as before
    expect(page.locator(".md-stat-plain-text .md-stat-value")).to_have_text(
        re.compile(r"^\d+\.\d%$")
    )

    page.get_by_label("Security (mTLS)").check()
    expect(legend).to_be_visible()
    expect(legend).to_contain_text("Plain text (no mTLS)")
    expect(page).to_have_url(re.compile(r"security=on"))
    page.wait_for_function(
        "([id]) => { const r = document.getElementById('topo-graph');"
        " const h = [r, ...r.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);"
        " return h._cyreg.cy.getElementById(id).style('line-style') === 'dotted'; }",
        arg=[PLAIN],
    )
    plain = edge(page, PLAIN)
    assert "plaintext" in plain["classes"] and plain["label"].endswith("rps · plain text")
    secure = edge(page, SECURE)
    assert (secure["style"], "mtls-full" in secure["classes"]) == ("solid", True)
    shot("topology-security-1440")

    page.mouse.click(plain["x"], plain["y"])
    panel = page.locator("#panel-edge")
    expect(panel).to_contain_text("mTLS")
    expect(panel).to_contain_text("none: all requests in plain text")
    shot("topology-security-edge-panel")

    # A pasted link keeps the display.
    page.goto(page.url)
    expect(page.get_by_label("Security (mTLS)")).to_be_checked()
    expect(legend).to_be_visible()
    page.set_viewport_size({"width": 1024, "height": 768})
    wait_for_nodes(page, BOOKINFO)
    page.wait_for_timeout(500)
    shot("topology-security-1024")
    assert (
        "Traceback" not in page.content()
        and "None" not in page.locator("#topo-summary").inner_text()
    )
