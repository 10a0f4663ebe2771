"""The workload page in a real browser marks the weight changes of the service routing to it: a
change of reviews' split through /api/routes shows as a dashed line and its label on
/workload?workload=reviews-v2, as it does on the service page (issue 6)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app import create_app
from devtools.clock import MovableClock
from devtools.livesrv import serve
from tests.browser.test_review_page import shift_through_the_api
from wiring.services import build_services
from wiring.settings import Settings

pytestmark = pytest.mark.browser

WORKLOAD = "/workload?namespace=bookinfo&workload=reviews-v2&window=10m&refresh=off"

MARKERS = """(id) => {
    const gd = document.querySelector('#' + id + ' .js-plotly-plot');
    if (!gd || !gd.layout) { return null; }
    return {
        labels: (gd.layout.annotations || []).filter(a => a.name === 'weight-change').map(a => a.text),
        hovers: (gd.layout.annotations || []).filter(a => a.name === 'weight-change').map(a => a.hovertext || ''),
        lines: (gd.layout.shapes || []).filter(s => s.name === 'weight-change').length,
        drawn: gd.querySelectorAll('.shapelayer path').length,
    };
}"""


@pytest.fixture
def own_demo(tmp_path):
    """A demo of its own: the test changes reviews' routes, and moves its clock."""
    settings = Settings(audit_log=tmp_path / "audit.jsonl")
    clock = MovableClock()
    live = serve(create_app(settings, build_services(settings, clock=clock)))
    live.clock = clock  # type: ignore[attr-defined]
    yield live
    live.stop()


def test_a_weight_change_of_reviews_is_marked_on_the_reviews_v2_charts(page, own_demo, shot):
    page.goto(own_demo.url + WORKLOAD)  # the first visit also sets the CSRF cookie
    expect(page.locator("#wl-rps-graph .js-plotly-plot")).to_be_visible(timeout=20_000)
    assert page.evaluate(MARKERS, "wl-rps-graph")["labels"] == []

    applied = shift_through_the_api(page, own_demo.url, {"v1": 50, "v2": 40, "v3": 10})
    assert applied["applied"] is True

    # The charts end on the last whole step (5 s for 10 minutes): past it, the change is inside.
    own_demo.clock.advance(6)
    page.reload()
    page.wait_for_function(
        "(id) => { const gd = document.querySelector('#' + id + ' .js-plotly-plot');"
        " return gd && gd.layout && (gd.layout.annotations || []).some("
        "a => a.name === 'weight-change'); }",
        arg="wl-rps-graph",
        timeout=20_000,
    )
    for graph in ("wl-rps-graph", "wl-success-graph", "wl-latency-graph"):
        found = page.evaluate(MARKERS, graph)
        assert found["labels"] == ["⇄ v1 50 · v2 40 · v3 10"], graph
        panels = 3 if graph == "wl-latency-graph" else 1  # latency: a panel per quantile
        assert found["lines"] == panels and found["drawn"] >= 1, graph
    shot("workload-reviews-v2-weight-marker")
