"""Trace search and trace view in a real browser, on the embedded demo (its Jaeger endpoint read
by the real JaegerCollector)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

POD = re.compile(r"reviews-v[123]-[a-z0-9]{6,10}-[a-z0-9]{5}")


def cy_path_nodes(page) -> list[str]:
    return page.evaluate(
        """() => {
            const root = document.getElementById('topo-graph');
            if (!root) return [];
            const h = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
            return h ? h._cyreg.cy.nodes('.path').map(n => n.id()) : [];
        }"""
    )


def test_search_reviews_open_a_slow_trace_and_see_its_path_on_the_topology(page, live_demo, shot):
    page.goto(live_demo.url + "/traces?namespace=bookinfo&lookback=1h&limit=30")
    expect(page.locator("#ts-banner")).to_contain_text("Choose a service")
    page.locator("#ts-service").click()
    page.get_by_text("reviews", exact=True).click()
    page.locator("#ts-find").click()
    rows = page.locator(".md-ts-row")
    expect(rows.first).to_be_visible(timeout=20000)
    expect(page).to_have_url(re.compile(r"service=reviews"))
    assert rows.count() == 30
    expect(page.locator("#ts-scatter .scatterlayer .point").first).to_be_attached()
    shot("traces-search")

    # open the slowest trace of the list
    durations = [_ms(t) for t in page.locator(".md-ts-durtext").all_inner_texts()]
    slowest = durations.index(max(durations))
    rows.nth(slowest).click()
    expect(page).to_have_url(re.compile(r"/traces/view\?trace=[0-9a-f]{32}"))
    waterfall = page.locator("#tv-waterfall")
    expect(waterfall.locator(".md-wf-row").first).to_be_visible(timeout=20000)
    expect(page.locator("#tv-duration .md-stat-value")).to_have_text(re.compile(r"\d"))
    assert abs(_ms(page.locator("#tv-duration .md-stat-value").inner_text()) - max(durations)) < 1.0

    # the critical path is drawn: marked rows and their overlay segments, root included
    expect(waterfall.locator(".md-wf-row.md-wf-crit").first).to_be_visible()
    assert waterfall.locator(".md-wf-cp").count() >= 2
    assert "md-wf-crit" in (waterfall.locator(".md-wf-row").first.get_attribute("class") or "")

    # a reviews span: where it ran
    reviews_server = waterfall.locator(
        ".md-wf-row", has=page.locator(".md-wf-svc", has_text=re.compile(r"^reviews$"))
    ).filter(has=page.locator(".md-wf-op", has_text=re.compile(r"^reviews\.bookinfo")))
    reviews_server.first.click()
    panel = page.locator("#tv-span")
    expect(panel).to_contain_text("Where it ran")
    expect(panel).to_contain_text(POD)
    expect(panel).to_contain_text("reviews.bookinfo")
    shot("trace-view")

    # the per-service breakdown is there
    expect(page.locator("#tv-breakdown")).to_contain_text("reviews.bookinfo")

    # jump to the topology with the path highlighted
    link = page.locator("#tv-topology-link")
    href = link.get_attribute("href") or ""
    assert "highlight=" in href and "bookinfo%2Fproductpage-v1" in href
    link.click()
    expect(page).to_have_url(re.compile(r"highlight=.*bookinfo%2Freviews-v[123]"))
    page.wait_for_function(
        """() => {
            const root = document.getElementById('topo-graph');
            if (!root) return false;
            const h = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
            return h && h._cyreg.cy.nodes('.path').length >= 3;
        }""",
        timeout=20000,
    )
    on_path = set(cy_path_nodes(page))
    assert "bookinfo/productpage-v1" in on_path
    assert any(re.fullmatch(r"bookinfo/reviews-v[123]", n) for n in on_path)
    shot("topology-trace-path")


def test_trace_view_states(page, live_demo, shot):
    page.goto(live_demo.url + "/traces/view?trace=not-hex")
    expect(page.locator(".md-banner")).to_contain_text("Invalid input")
    page.goto(live_demo.url + "/traces/view?trace=0123456789abcdef0123456789abcdef")
    expect(page.locator(".md-banner")).to_contain_text("not found")
    assert "Traceback" not in page.content()
    shot("trace-view-not-found")


def test_search_state_lives_in_the_url(page, live_demo):
    url = "/traces?namespace=bookinfo&service=ratings&lookback=3h&limit=5&error=true"
    page.goto(live_demo.url + url)
    rows = page.locator(".md-ts-row")
    expect(rows.first).to_be_visible(timeout=20000)
    assert rows.count() <= 5
    assert page.locator(".md-ts-row-err").count() == rows.count()
    expect(page.locator("#ts-lookback")).to_contain_text("Last 3h")


def _ms(text: str) -> float:
    value, unit = text.strip().split()
    return float(value) * (1000 if unit == "s" else 1)


def test_from_a_topology_node_to_its_traces_with_the_window_carried(page, live_demo):
    from tests.browser.conftest import cy_click
    from tests.browser.test_topology_page import wait_for_nodes

    page.goto(live_demo.url + "/?namespace=bookinfo&window=30m&refresh=off")
    wait_for_nodes(page, {"bookinfo/reviews-v2"})
    page.wait_for_timeout(300)
    cy_click(page, "topo-graph", "bookinfo/reviews-v2")
    page.locator("#panel-traces-link").click()
    expect(page).to_have_url(
        re.compile(r"/traces\?namespace=bookinfo&service=reviews&lookback=30m")
    )
    expect(page.locator(".md-ts-row").first).to_be_visible(timeout=20000)
    expect(page.locator("#ts-lookback")).to_contain_text("Last 30m")
    expect(page.locator("#ts-summary")).to_contain_text("reviews.bookinfo")
