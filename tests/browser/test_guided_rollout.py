"""Issue 14 in the demo, in a real browser: a guided rollout started from the releases page
promotes step by step by itself; another, with "Make it fail 5%" pressed on the review page
while it runs, rolls back by itself. Screenshots go to MESHDASH_SHOTS for a person to look at.

The demo's reviews-v2 calls ratings and is measurably slower than v1; the service's canary gates
(slower_effect 0.9) accept that, as an operator would configure them, so the verdict can promote.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app import create_app
from devtools.clock import MovableClock
from devtools.livesrv import serve
from tests.browser.test_workload_markers import MARKERS
from wiring.services import build_services
from wiring.settings import Settings

pytestmark = pytest.mark.browser

RELEASES = "/releases?namespace=bookinfo&service=reviews&baseline=v1&canary=v2"
REVIEW = "/review?namespace=bookinfo&service=reviews&baseline=v1&canary=v2&refresh=off"
SERVICE = "/service?namespace=bookinfo&service=reviews&window=10m&refresh=off"
STEPS = ["⇄ rollout step 1/3: v2 10%", "⇄ rollout step 2/3: v2 50%", "⇄ rollout step 3/3: v2 100%"]
WAIT_MARKERS = (  # at least n weight-change lines on the first panel
    "([id, n]) => { const gd = document.querySelector('#' + id + ' .js-plotly-plot');"
    " return gd && gd.layout && (gd.layout.shapes || []).filter("
    "s => s.name === 'weight-change' && (s.xref || 'x') === 'x').length >= n; }"
)
HOVERS = (
    "(id) => document.querySelector('#' + id + ' .js-plotly-plot').layout.annotations"
    ".filter(a => a.name === 'weight-change').map(a => a.hovertext)"
)


def steps_shown(page, graph: str, panels: int = 1, earlier: int = 0) -> None:
    """The three steps, seconds apart: a line each on every panel (after `earlier` changes of
    the demo's history); their labels share lines or merge (they never overprint), the last one
    names where the rollout ended, and the hovers hold every step in full."""
    found = page.evaluate(MARKERS, graph)
    assert found["lines"] == (3 + earlier) * panels, graph
    assert found["labels"] and found["labels"][-1].endswith(STEPS[-1].split(": ", 1)[1]), graph
    hovers = "".join(page.evaluate(HOVERS, graph))
    for step in ("step 1/3", "step 2/3", "step 3/3"):
        assert step in hovers, (graph, step)


@pytest.fixture
def own_demo(tmp_path):
    settings = Settings(
        audit_log=tmp_path / "audit.jsonl",
        rollout_tick_s=1,
        refresh_interval_s=2,
        canary_gates={"bookinfo/reviews": {"slower_effect": 0.9}},
    )
    # The demo's time runs four times as fast: each step's bake (12 s, 20 s) and the traffic it
    # judges are demo time, so a three-step rollout takes seconds, not a minute, of the test.
    clock = MovableClock(speed=4)
    live = serve(create_app(settings, build_services(settings, clock=clock)))
    yield live
    live.stop()


def start(page, bake: str = "12") -> None:
    page.locator("#ro-steps").fill("10, 50, 100")
    page.locator("#ro-bake").fill(bake)
    page.locator("#ro-min").fill("20")
    page.locator("#ro-reason").fill("release 2.4")
    expect(page.locator("#ro-preview li")).to_have_count(3)
    expect(page.locator("#ro-preview li").first).to_contain_text("v1 90 % · v2 10 %")
    page.locator("#ro-start").click()
    expect(page.locator("#ro-state")).to_have_attribute("data-state", "running", timeout=15_000)


def test_a_rollout_promotes_by_itself(page, own_demo, shot):
    page.goto(own_demo.url + RELEASES)
    expect(page.locator("#ro-card")).to_be_visible(timeout=20_000)
    page.locator("#ro-card").scroll_into_view_if_needed()
    shot("rollout-form-1440")
    start(page)
    expect(page.locator("#ro-state")).to_contain_text("step 1 of 3")
    page.locator("#ro-card").scroll_into_view_if_needed()
    shot("rollout-running-1440")
    page.set_viewport_size({"width": 1024, "height": 768})
    page.locator("#ro-card").scroll_into_view_if_needed()
    shot("rollout-running-1024")
    page.set_viewport_size({"width": 1440, "height": 900})
    expect(page.locator("#ro-state")).to_have_attribute("data-state", "promoted", timeout=150_000)
    expect(page.locator("#ro-state")).to_contain_text("step 3 of 3")
    expect(page.locator(".ro-history tbody tr")).to_have_count(3)
    page.locator("#ro-card").scroll_into_view_if_needed()
    shot("rollout-promoted-1440")
    weights = page.request.get(own_demo.url + "/api/routes/bookinfo/reviews").json()["weights"]
    assert weights["v2"] == 100 and weights["v1"] == 0

    # Each step is marked on the service's charts and the review's, as the rollout's.
    page.goto(own_demo.url + SERVICE)
    page.wait_for_function(WAIT_MARKERS, arg=["svc-rps-graph", 3], timeout=40_000)
    for graph, panels in (("svc-rps-graph", 1), ("svc-success-graph", 1), ("svc-latency-graph", 3)):
        steps_shown(page, graph, panels)
    last = page.locator("#svc-rps-graph .annotation", has_text="v2 100%")
    last.hover()  # the hover says who started the rollout and the verdict behind each step
    page.wait_for_timeout(300)
    shot("rollout-steps-service-1440")
    page.goto(own_demo.url + REVIEW)
    page.wait_for_function(WAIT_MARKERS, arg=["rv-success-graph", 3], timeout=40_000)
    # The review's charts run from the canary's start: v2's first traffic, in the demo's history.
    steps_shown(page, "rv-success-graph", earlier=1)
    starter = page.request.get(own_demo.url + "/api/rollouts/bookinfo/reviews").json()
    hover = "".join(page.evaluate(HOVERS, "rv-success-graph"))
    assert hover.count(f"started by {starter['started_by']}; verdict") == 3
    card = page.locator("#rv-success-graph")
    card.scroll_into_view_if_needed()
    card.locator(".annotation", has_text="v2 100%").hover()
    page.wait_for_timeout(300)
    shot("rollout-steps-review-1440")
    page.set_viewport_size({"width": 1024, "height": 768})
    page.wait_for_timeout(500)
    card.scroll_into_view_if_needed()
    shot("rollout-steps-review-1024")
    assert "Traceback" not in page.content()


def test_an_injected_failure_rolls_back_by_itself(page, own_demo, shot):
    page.goto(own_demo.url + RELEASES)
    expect(page.locator("#ro-card")).to_be_visible(timeout=20_000)
    start(page, bake="20")
    page.goto(own_demo.url + REVIEW)
    page.locator("#rv-sim-fail").click()
    expect(page.locator("#rv-sim-status")).not_to_be_empty(timeout=10_000)
    page.goto(own_demo.url + RELEASES)
    state = page.locator("#ro-state")
    expect(state).to_have_attribute("data-state", "rolled_back", timeout=120_000)
    expect(page.locator(".ro-history tbody tr").first).to_contain_text("rollback")
    page.locator("#ro-card").scroll_into_view_if_needed()
    shot("rollout-rolled-back-1440")
    page.set_viewport_size({"width": 1024, "height": 768})
    page.locator("#ro-card").scroll_into_view_if_needed()
    shot("rollout-rolled-back-1024")
    weights = page.request.get(own_demo.url + "/api/routes/bookinfo/reviews").json()["weights"]
    assert weights["v1"] == 100 and weights["v2"] == 0
