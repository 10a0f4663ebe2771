""" "Why is it red?" in a real browser, on the demo with ratings failing.

The demo's own app (its simulator, its Jaeger-compatible trace endpoint) with a fault switched on
in ratings-v1 fifteen minutes ago: productpage's answer must name ratings, highlight the path
productpage -> reviews-v2/v3 -> ratings on the graph, and link example traces whose deepest
failing span is ratings' own.
"""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from devtools.livesrv import LiveApp, serve
from tests.browser.conftest import cy_click
from tests.browser.test_topology_page import BOOKINFO, wait_for_nodes

pytestmark = pytest.mark.browser

FAULT_AGE_S = 900
PATH = {
    "bookinfo/productpage-v1",
    "bookinfo/reviews-v2",
    "bookinfo/reviews-v3",
    "bookinfo/ratings-v1",
}


@pytest.fixture(scope="module")
def failing_demo(tmp_path_factory) -> LiveApp:
    """A demo app of its own (the shared one stays healthy for the other tests)."""
    from app import create_app
    from wiring.services import build_services
    from wiring.settings import Settings

    settings = Settings(audit_log=tmp_path_factory.mktemp("audit") / "audit.jsonl")
    svc = build_services(settings)
    sim = svc.demo
    sim.state.set_fault("bookinfo", "ratings-v1", 1.0, 0.8, at=sim.clock() - FAULT_AGE_S)
    live = serve(create_app(settings, svc))
    live.fault_at = sim.clock() - FAULT_AGE_S  # type: ignore[attr-defined]
    yield live
    live.stop()


def cy_classes(page) -> dict[str, str]:
    return page.evaluate(
        """() => {
            const root = document.getElementById('topo-graph');
            const h = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
            const out = {};
            h._cyreg.cy.elements().forEach(e => { out[e.id()] = e.className().join(' '); });
            return out;
        }"""
    )


def deepest_failing_service(trace: dict) -> str:
    """Independently of mesh/: the erroring span with no erroring child, deepest first."""
    spans = trace["spans"]
    failing_parents = {s["parent_id"] for s in spans if s["error"]}
    leaves = [s for s in spans if s["error"] and s["span_id"] not in failing_parents]
    return max(leaves, key=lambda s: s["depth"])["service"]


def open_answer(page, base: str) -> None:
    page.goto(base + "/?namespace=bookinfo&window=5m&refresh=off")
    wait_for_nodes(page, BOOKINFO)
    page.wait_for_timeout(300)
    cy_click(page, "topo-graph", "bookinfo/productpage-v1")
    expect(page.locator("#panel-title")).to_have_text("productpage-v1")
    page.get_by_role("button", name="Why is it red?").click()
    expect(page.locator("#why-headline")).to_contain_text("ratings-v1", timeout=20000)


def test_productpage_why_red_points_at_ratings_with_traces(page, failing_demo, shot):
    open_answer(page, failing_demo.url)
    card = page.locator("#why-card")
    expect(card).to_contain_text("Why is productpage-v1 red?")
    expect(page.locator("#why-headline")).to_contain_text("Failures start at ratings-v1")
    # the path, step by step: productpage, then both reviews versions, then ratings
    steps = page.locator("#why-path .md-why-step")
    expect(steps).to_have_count(3)
    expect(steps.nth(0)).to_have_text("productpage-v1")
    expect(steps.nth(1)).to_contain_text("reviews-v2")
    expect(steps.nth(1)).to_contain_text("reviews-v3")
    expect(steps.nth(2)).to_have_text("ratings-v1")
    victims = page.locator("#why-victims")
    for name in ("productpage-v1", "reviews-v2", "reviews-v3"):
        expect(victims).to_contain_text(name)
    expect(page.locator("#why-origins .md-why-origin")).to_have_count(1)
    # the graph: the path drawn, everything else faded
    page.wait_for_function(
        """() => {
            const root = document.getElementById('topo-graph');
            const h = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
            return h && h._cyreg.cy.getElementById('bookinfo/ratings-v1').hasClass('path');
        }""",
        timeout=10000,
    )
    classes = cy_classes(page)
    for node in PATH:
        assert "path" in classes[node].split(), (node, classes[node])
    assert "faded" in classes["bookinfo/details-v1"].split()
    assert "faded" in classes["bookinfo/reviews-v1"].split()
    for edge in (
        "bookinfo/productpage-v1->bookinfo/reviews-v2",
        "bookinfo/reviews-v2->bookinfo/ratings-v1",
        "bookinfo/reviews-v3->bookinfo/ratings-v1",
    ):
        assert "path" in classes[edge].split(), edge
    expect(page).to_have_url(re.compile(r"highlight=.*ratings-v1"))
    # the origin's service page and example traces, each failing first in ratings
    service = card.locator("a.md-why-service-link")
    expect(service).to_have_attribute(
        "href", re.compile(r"/service\?namespace=bookinfo&service=ratings")
    )
    examples = card.locator("a.md-why-trace")
    expect(examples.first).to_be_visible()
    hrefs = [examples.nth(i).get_attribute("href") for i in range(examples.count())]
    assert hrefs
    for href in hrefs:
        trace_id = re.search(r"trace=([0-9a-f]+)", href).group(1)
        trace = requests.get(f"{failing_demo.url}/api/traces/{trace_id}", timeout=20).json()
        assert deepest_failing_service(trace) == "ratings.bookinfo"
    traces = page.locator("#why-traces")
    expect(traces).to_contain_text("ratings.bookinfo")
    expect(page.locator("#why-disagree")).to_have_count(0)
    shot("why-red-1440")
    # an example trace opens its waterfall
    examples.first.click()
    expect(page).to_have_url(re.compile(r"/traces/view\?trace="))
    # the same answer on a smaller screen, laid out for it from the start
    page.set_viewport_size({"width": 1024, "height": 768})
    open_answer(page, failing_demo.url)
    page.wait_for_timeout(400)
    shot("why-red-1024")


def test_the_answer_follows_refreshes_and_closes_with_its_highlight(page, failing_demo):
    open_answer(page, failing_demo.url)
    page.locator("#topo-refresh-now").click()
    page.wait_for_timeout(800)
    expect(page.locator("#why-headline")).to_contain_text("ratings-v1")
    page.locator(".md-why-close").click()
    expect(page.locator("#why-card")).to_have_count(0)
    page.wait_for_function(
        """() => {
            const root = document.getElementById('topo-graph');
            const h = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
            return h && !h._cyreg.cy.nodes('.faded').length;
        }""",
        timeout=10000,
    )
    expect(page).not_to_have_url(re.compile(r"highlight="))


def test_the_namespace_answer_and_a_past_time_before_the_fault(page, failing_demo, shot):
    page.goto(failing_demo.url + "/?namespace=bookinfo&window=5m&refresh=off")
    wait_for_nodes(page, BOOKINFO)
    page.locator("#panel-overview").get_by_role("button", name="Why is it red?").click()
    expect(page.locator("#why-card")).to_contain_text("Why is bookinfo red?", timeout=20000)
    expect(page.locator("#why-headline")).to_contain_text("ratings-v1")
    # Ten minutes before the fault: ratings' usual noise only (its callers answer it gracefully,
    # so only ratings is amber); the card finds it in ratings itself, or says how few failing
    # requests it rests on.
    before = int(failing_demo.fault_at) - 600
    page.goto(failing_demo.url + f"/?namespace=bookinfo&window=5m&refresh=off&at={before}")
    wait_for_nodes(page, BOOKINFO)
    page.wait_for_timeout(300)
    cy_click(page, "topo-graph", "bookinfo/ratings-v1")
    button = page.locator("#topo-panel .md-why-button")
    expect(button).to_have_text("Why amber?")
    button.click()
    expect(page.locator("#why-card h3")).to_have_text("Why is ratings-v1 amber?", timeout=20000)
    headline = page.locator("#why-headline")
    expect(headline).to_contain_text(re.compile(r"ratings-v1|not enough data"), timeout=20000)
    assert "Traceback" not in page.content() and "None" not in headline.inner_text()
    shot("why-red-past")
