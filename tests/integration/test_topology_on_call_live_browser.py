"""The topology for an on-call engineer on a REAL Prometheus (issue 15): across three
namespaces, the boxes stay apart in every offered layout, the Requests card shows what enters
them (the figure /api/graph carries, itself equal to PromQL's sum in
test_graph_entering_prometheus.py), and the legend names TCP and the caller outside the mesh."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dashboards.topology.page import LAYOUTS
from presentation import numbers as fmt
from tests.browser.conftest import (  # noqa: F401  (fixtures)
    browser_context_args,
    browser_type_launch_args,
    shot,
)
from tests.browser.test_topology_page import wait_for_nodes
from tests.browser.topology_checks import boxes_apart

pytestmark = [pytest.mark.integration, pytest.mark.browser]

NAMESPACES = ("shop", "payments", "data")
NODES = {"unknown", "shop/frontend-v1", "payments/payments-v2", "data/mysql-v1"}


def url(live_prom, at: int, layout: str = "klay") -> str:
    ns = "&".join(f"namespace={n}" for n in NAMESPACES)
    return f"{live_prom.url}/?{ns}&window=5m&refresh=off&at={at}&layout={layout}"


def test_requests_card_and_legend_on_real_data(page, live_prom, scenario_time, shot):  # noqa: F811
    at = int(scenario_time)
    page.goto(url(live_prom, at))
    wait_for_nodes(page, NODES)
    ns = "&".join(f"namespace={n}" for n in NAMESPACES)
    body = page.request.get(f"{live_prom.url}/api/graph?{ns}&window=5m&at={at}").json()
    entering = body["entering"]
    card = page.locator(".md-stat-requests")
    expect(card).to_contain_text("Requests entering 3 namespaces")
    expect(card.locator(".md-stat-value")).to_have_text(fmt.rps(entering["rps"]))
    assert entering["all_edges_rps"] > entering["rps"] > 0
    legend = page.locator("#topo-legend")
    expect(page.locator("#topo-legend-tcp")).to_be_visible()
    expect(page.locator("#topo-legend-unknown")).to_contain_text("outside the mesh")
    expect(legend).to_contain_text("Box: namespace")
    expect(page.locator("#topo-legend-cross")).to_have_count(0)  # one cluster
    page.wait_for_timeout(300)
    shot("topology-on-call-live-1440")
    page.set_viewport_size({"width": 1024, "height": 768})
    page.wait_for_timeout(300)
    shot("topology-on-call-live-1024")


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_namespace_boxes_never_overlap_on_real_data(page, live_prom, scenario_time, layout):
    page.goto(url(live_prom, int(scenario_time), layout))
    wait_for_nodes(page, NODES)
    found = boxes_apart(page)
    assert found["boxes"] >= 3 and found["overlaps"] == [], found
