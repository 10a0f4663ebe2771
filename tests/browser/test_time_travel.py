"""Time on every page, replay and deep links, in Chromium on the demo (its clock is the real
one: every time below is a fixed instant computed once, nothing waits for time to pass)."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import cy_click
from views.params import typed_text

pytestmark = pytest.mark.browser

WAIT = 30_000


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def wait_for_graph(page) -> None:
    page.wait_for_function(
        """() => {
            const root = document.getElementById('topo-graph');
            const h = root && [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
            return h && h._cyreg.cy.nodes().length > 3;
        }""",
        timeout=WAIT,
    )


def cy_selected(page) -> list[str]:
    return page.evaluate(
        """() => {
            const root = document.getElementById('topo-graph');
            const h = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
            return h._cyreg.cy.elements(':selected').map(e => e.id());
        }"""
    )


def test_the_picker_sets_at_the_past_banner_shows_and_back_to_now_clears_it(page, live_demo, shot):
    past = int(time.time()) - 600
    page.goto(live_demo.url + "/overview?window=5m")
    expect(page.locator("#ov-table table")).to_be_visible(timeout=WAIT)
    expect(page.locator("#ov-past")).to_be_hidden()

    page.locator("#ov-end").fill("yesterday at noon")
    page.locator("#ov-end").press("Enter")
    expect(page.locator("#ov-end-error")).to_contain_text("YYYY-MM-DD HH:MM", timeout=WAIT)
    assert "at" not in query(page)  # a time that is not one changes nothing

    page.locator("#ov-end").fill(typed_text(past))
    page.locator("#ov-end-go").click()
    expect(page).to_have_url(re.compile(rf"at={past}"), timeout=WAIT)
    banner = page.locator("#ov-past")
    expect(banner).to_have_text(
        re.compile(rf"Viewing {typed_text(past)} UTC: auto-refresh paused"), timeout=WAIT
    )
    expect(page.locator("#ov-end")).to_have_value(typed_text(past))
    expect(page.locator("#ov-table table")).to_be_visible(timeout=WAIT)
    assert query(page)["window"] == ["5m"]  # the rest of the view is kept
    shot("time-overview-past")
    for name in ("Topology", "List"):  # the overview's links keep the instant and the window
        href = page.locator("#ov-table a", has_text=name).first.get_attribute("href") or ""
        assert f"at={past}" in href and "window=5m" in href, href

    page.locator("#ov-now").click()
    expect(page.locator("#ov-past")).to_be_hidden(timeout=WAIT)
    assert "at" not in query(page) and query(page)["window"] == ["5m"]
    expect(page.locator("#ov-end")).to_have_value("")


def test_a_past_topology_says_paused_and_its_links_carry_the_time(page, live_demo, shot):
    past = int(time.time()) - 900
    page.goto(
        live_demo.url + f"/?namespace=bookinfo&window=10m&refresh=15s&at={past}"
        "&node=bookinfo%2Freviews-v2"
    )
    wait_for_graph(page)
    expect(page.locator("#topo-past")).to_contain_text("auto-refresh paused", timeout=WAIT)
    expect(page.locator("#topo-refresh")).to_contain_text("Paused (past time)")
    expect(page.locator("#topo-updated")).to_contain_text(typed_text(past)[11:], timeout=WAIT)
    # the pasted node is selected, highlighted and its panel open
    expect(page.locator("#panel-title")).to_have_text("reviews-v2", timeout=WAIT)
    page.wait_for_timeout(200)
    assert cy_selected(page) == ["bookinfo/reviews-v2"]
    shot("time-topology-past-1440")
    page.set_viewport_size({"width": 1024, "height": 768})
    shot("time-topology-past-1024")
    page.set_viewport_size({"width": 1440, "height": 900})

    for link in ("#panel-service-link", "#panel-traces-link", "#panel-workload-link"):
        href = page.locator(link).get_attribute("href") or ""
        assert f"at={past}" in href and re.search(r"(window|lookback)=10m", href), href
    page.locator("#panel-service-link").click()
    expect(page.locator("#svc-past")).to_contain_text(typed_text(past), timeout=WAIT)
    expect(page).to_have_url(re.compile(rf"window=10m.*at={past}"))
    back = page.locator(".md-back").first.get_attribute("href") or ""
    assert f"at={past}" in back and "window=10m" in back
    shot("time-service-past")


def test_a_pasted_url_reproduces_an_edge_and_clicks_put_the_selection_in_the_url(page, live_demo):
    page.goto(
        live_demo.url + "/?namespace=bookinfo&refresh=off"
        "&edge=bookinfo%2Fproductpage-v1%2Cbookinfo%2Freviews-v2"
    )
    wait_for_graph(page)
    expect(page.locator("#panel-title")).to_have_text("Edge", timeout=WAIT)
    expect(page.locator("#topo-panel")).to_contain_text("reviews")
    page.wait_for_timeout(200)
    assert cy_selected(page) == ["bookinfo/productpage-v1->bookinfo/reviews-v2"]

    cy_click(page, "topo-graph", "bookinfo/ratings-v1")
    expect(page.locator("#panel-title")).to_have_text("ratings-v1", timeout=WAIT)
    expect(page).to_have_url(re.compile(r"node=bookinfo%2Fratings-v1"))
    assert "edge" not in query(page)


def test_a_pasted_url_reopens_the_why_answer_and_keeps_it_with_a_selection(page, live_demo, shot):
    page.goto(live_demo.url + "/?namespace=bookinfo&refresh=off&why=bookinfo%2Fratings-v1")
    wait_for_graph(page)
    expect(page.locator("#why-headline")).to_be_visible(timeout=WAIT)
    cy_click(page, "topo-graph", "bookinfo/reviews-v2")
    expect(page.locator("#panel-title")).to_have_text("reviews-v2", timeout=WAIT)
    expect(page).to_have_url(re.compile(r"node=bookinfo%2Freviews-v2&why=bookinfo%2Fratings-v1"))
    shot("time-topology-why-deep-link")


def test_replay_steps_redraw_the_graph_and_the_url_holds_the_step(page, live_demo, shot):
    end = int(time.time()) - 120
    start = end - 180
    page.goto(
        live_demo.url + f"/?namespace=bookinfo&refresh=off&replay_from={start}"
        f"&replay_to={end}&replay_step=1m&at={end}"
    )
    wait_for_graph(page)
    position = page.locator("#topo-replay-position")
    expect(position).to_have_text(f"Step 3 of 3 · {typed_text(end)} UTC", timeout=WAIT)
    expect(page.locator("#topo-updated")).to_contain_text(typed_text(end)[11:], timeout=WAIT)

    page.locator("#topo-replay-back").click()
    expect(page).to_have_url(re.compile(rf"at={end - 60}"), timeout=WAIT)
    expect(position).to_have_text(f"Step 2 of 3 · {typed_text(end - 60)} UTC")
    expect(page.locator("#topo-updated")).to_contain_text(typed_text(end - 60)[11:], timeout=WAIT)
    expect(page.locator("#topo-past-text")).to_contain_text(typed_text(end - 60))
    assert query(page)["replay_from"] == [str(start)] and query(page)["replay_step"] == ["1m"]
    shot("time-topology-replay")

    page.locator("#topo-replay-back").click()
    page.locator("#topo-replay-back").click()  # held at the first step
    expect(page).to_have_url(re.compile(rf"at={end - 120}"), timeout=WAIT)
    expect(position).to_contain_text("Step 1 of 3")

    page.locator("#topo-replay-fwd").click()
    expect(page).to_have_url(re.compile(rf"at={end - 60}"), timeout=WAIT)

    page.locator("#topo-replay-play").click()  # plays to the end of the range, then stops
    expect(page.locator("#topo-replay-play")).to_have_text("❚❚ Pause", timeout=WAIT)
    expect(page).to_have_url(re.compile(rf"at={end}(&|$)"), timeout=WAIT)
    expect(page.locator("#topo-replay-play")).to_have_text("▶ Play", timeout=WAIT)
    expect(page.locator("#topo-updated")).to_contain_text(typed_text(end)[11:], timeout=WAIT)

    page.locator("#topo-now").click()  # back to now: the replay and `at` are gone
    expect(page.locator("#topo-past")).to_be_hidden(timeout=WAIT)
    wait_for_graph(page)
    assert not {"at", "replay_from", "replay_to"} & set(query(page))
    expect(page.locator("#topo-refresh")).to_contain_text("Off")


def test_a_pasted_trace_url_opens_on_its_span_and_the_topology_link_has_its_time(
    page, live_demo, shot
):
    found = page.request.get(
        live_demo.url + "/api/traces?namespace=bookinfo&service=reviews&lookback=1h&limit=5"
    ).json()
    trace_id = found["traces"][0]["trace_id"]
    trace = page.request.get(live_demo.url + f"/api/traces/{trace_id}").json()
    span = trace["spans"][-1]["span_id"]
    page.goto(live_demo.url + f"/traces/view?trace={trace_id}&span={span}")
    expect(page.locator("#tv-span")).to_contain_text(f"Span {span}", timeout=WAIT)
    expect(page.locator("#tv-waterfall .md-wf-row.md-wf-sel")).to_be_visible(timeout=WAIT)
    shot("time-trace-span")

    page.locator("#tv-waterfall .md-wf-row").first.click()
    expect(page).to_have_url(re.compile(r"span=(?!" + span + ")[0-9a-f]+"), timeout=WAIT)

    href = page.locator("#tv-topology-link").get_attribute("href") or ""
    at = int(parse_qs(urlparse(href).query)["at"][0])
    # the trace's own time (its end, rounded up to the second), not "now"
    assert trace["start"] <= at <= trace["start"] + trace["duration_ms"] / 1000 + 1
    page.locator("#tv-topology-link").click()
    expect(page.locator("#topo-past")).to_contain_text(typed_text(at), timeout=WAIT)


def test_the_review_url_has_its_window_and_links_to_the_service_at_the_same_time(
    page, live_demo, shot
):
    past = int(time.time()) - 300
    page.goto(live_demo.url + f"/review?namespace=bookinfo&service=reviews&window=30m&at={past}")
    # the verdict drawn (its facts line once took the window dropdown's id, and the window
    # then fell out of the URL and the next refresh)
    expect(page.locator("#rv-verdict")).to_be_visible(timeout=WAIT)
    expect(page.locator("#rv-window-facts")).to_contain_text("30m")
    expect(page).to_have_url(re.compile(r"window=30m"), timeout=WAIT)
    expect(page.locator("#rv-past")).to_contain_text(typed_text(past), timeout=WAIT)
    expect(page.locator("#rv-refresh")).to_contain_text("Paused (past time)")
    link = page.locator("#rv-service-link")
    expect(link).to_have_attribute("href", re.compile(rf"service=reviews&window=30m&at={past}"))
    expect(page).to_have_url(re.compile(r"window=30m"))
    shot("time-review-past")
