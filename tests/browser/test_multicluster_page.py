"""The topology page on two REAL Prometheus servers, one per cluster (east, west), in chromium:
cluster boxes, calls between clusters drawn and described as such, the cluster filter kept in
the URL, and, with east's Prometheus stopped, a banner naming east while west still draws.
Data and hand-computed figures: tests/integration/multicluster_scenario.py."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from app import create_app
from devtools.livesrv import LiveApp, serve
from devtools.promserver import require_prometheus
from tests.browser.conftest import (  # noqa: F401  (fixtures)
    browser_context_args,
    browser_type_launch_args,
    cy_node_ids,
    shot,
)
from tests.browser.test_topology_page import wait_for_nodes
from tests.integration.multicluster_scenario import END, NS, ClusterServers, start_servers
from wiring.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.browser]

INTERVAL_S = 3
PAGE = f"/?namespace={NS}&window=5m&refresh=off&at={int(END)}"
EAST = {"east:bookinfo/productpage-v1", "east:bookinfo/reviews-v1"}
WEST = {"west:bookinfo/reviews-v2", "west:bookinfo/ratings-v1"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[ClusterServers]:
    require_prometheus()
    found = start_servers(tmp_path_factory.mktemp("clusters"))
    try:
        yield found
    finally:
        found.close()


@pytest.fixture(scope="module")
def live(servers, tmp_path_factory) -> Iterator[LiveApp]:
    settings = Settings(
        prometheus_clusters=servers.urls(),
        default_namespaces=(NS,),
        refresh_interval_s=INTERVAL_S,
        cache_error_ttl_s=1,
        prometheus_timeout_s=5,
        audit_log=tmp_path_factory.mktemp("audit") / "audit.jsonl",
    )
    app = serve(create_app(settings))
    yield app
    app.stop()


def cy(page, script: str, arg=None):
    """Run `script` (a function of cy and arg) against the page's cytoscape instance."""
    return page.evaluate(
        """([script, arg]) => {
            const root = document.getElementById('topo-graph');
            const h = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
            return new Function('cy', 'arg', script)(h._cyreg.cy, arg);
        }""",
        [script, arg],
    )


def click_edge(page, edge_id: str) -> None:
    point = cy(
        page,
        """const e = cy.getElementById(arg); if (e.empty()) return null;
           const p = e.renderedMidpoint();
           const r = cy.container().getBoundingClientRect();
           return {x: r.left + p.x, y: r.top + p.y};""",
        edge_id,
    )
    assert point is not None, f"edge {edge_id} is not drawn"
    page.mouse.click(point["x"], point["y"])


def test_cluster_boxes_cross_cluster_edges_and_the_filter(page, live, shot):  # noqa: F811
    page.goto(live.url + PAGE)
    ids = set(wait_for_nodes(page, EAST | WEST | {"unknown", "cl:east", "cl:west"}))
    # Nodes sit in their cluster's box; the caller from outside the mesh in none.
    parents = cy(
        page, "return Object.fromEntries(cy.nodes().map(n => [n.id(), n.parent().id() || '']));"
    )
    assert all(parents[i] == "cl:east" for i in EAST)
    assert all(parents[i] == "cl:west" for i in WEST)
    assert parents["unknown"] == ""
    assert {"cl:east", "cl:west"} <= ids
    expect(page.locator("#topo-cluster-control")).to_be_visible()
    expect(page.locator("#topo-legend-cross")).to_be_visible()
    expect(page.locator("#topo-updated")).to_contain_text("Prometheus, 2 clusters")
    expect(page.locator("#topo-updated")).to_have_attribute(
        "title", "3 PromQL queries to each of 2 cluster endpoints per refresh"
    )

    cross = "east:bookinfo/productpage-v1->west:bookinfo/reviews-v2"
    styles = cy(
        page,
        "return Object.fromEntries(cy.edges().map(e => [e.id(), e.style('line-style')]));",
    )
    assert styles[cross] == "dashed"
    assert styles["east:bookinfo/productpage-v1->east:bookinfo/reviews-v1"] == "solid"
    page.wait_for_timeout(300)
    shot("topology-multicluster")

    click_edge(page, cross)
    panel = page.locator("#topo-panel")
    expect(page.locator("#panel-cross-cluster")).to_be_visible()
    expect(panel).to_contain_text("east → west (crosses clusters)")
    expect(panel).to_contain_text("4.00 rps")
    expect(panel).to_contain_text("10.00%")
    expect(panel).to_contain_text("75")
    shot("topology-multicluster-edge")

    # The filter: west, with productpage (east) still shown as its caller; kept in the URL.
    page.locator("#topo-cluster").click()
    page.get_by_text("west", exact=True).click()
    expect(page).to_have_url(re.compile(r"cluster=west"))
    page.wait_for_function(
        """() => {
            const root = document.getElementById('topo-graph');
            const h = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
            return h && h._cyreg.cy.getElementById('east:bookinfo/reviews-v1').empty();
        }""",
        timeout=20000,
    )
    ids = set(cy_node_ids(page, "topo-graph"))
    assert ids >= WEST and "east:bookinfo/productpage-v1" in ids
    assert "east:bookinfo/reviews-v1" not in ids and "unknown" not in ids
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)
    shot("topology-multicluster-filter-west")
    # A pasted link reproduces the filter.
    page.goto(page.url)
    expect(page.locator("#topo-cluster")).to_contain_text("west")
    wait_for_nodes(page, WEST)
    assert "east:bookinfo/reviews-v1" not in cy_node_ids(page, "topo-graph")


def test_east_down_banner_names_east_while_west_draws(page, live, servers, shot):  # noqa: F811
    page.goto(live.url + PAGE)
    wait_for_nodes(page, EAST | WEST)
    servers.east.stop()
    try:
        # The whole graph is shared for one refresh interval; the next refresh asks again.
        page.wait_for_timeout(INTERVAL_S * 1000 + 500)
        page.locator("#topo-refresh-now").click()
        banner = page.locator("#topo-banner .md-banner")
        expect(banner).to_contain_text("cluster east is failing", timeout=20000)
        expect(banner).to_contain_text("connection refused")
        page.wait_for_function(
            """() => {
                const root = document.getElementById('topo-graph');
                const h = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
                if (!h) return false;
                const cy = h._cyreg.cy;
                return cy.getElementById('east:bookinfo/reviews-v1').empty()
                    && !cy.getElementById('west:bookinfo/ratings-v1').empty();
            }""",
            timeout=20000,
        )
        ids = set(cy_node_ids(page, "topo-graph"))
        assert ids >= WEST
        # Of east, only productpage stays: the caller of reviews-v2, drawn from west's
        # destination report (its own report lived in east; issue 23's reporter rules).
        assert ids & EAST == {"east:bookinfo/productpage-v1"}
        # The hand-written series carry no connection_security_policy: no mTLS figure, never
        # "100 % plain text".
        expect(page.locator(".md-stat-plain-text .md-stat-value")).to_have_text("not enough data")
        assert "Traceback" not in page.content()
        page.wait_for_timeout(300)
        shot("topology-multicluster-east-down")
    finally:
        servers.east.start()
    # East back: the banner goes on the next refresh, nobody touching the app.
    page.wait_for_timeout(1500)
    page.locator("#topo-refresh-now").click()
    expect(page.locator("#topo-banner .md-banner")).to_have_count(0, timeout=20000)
    wait_for_nodes(page, EAST | WEST)
