"""The topology page draws a 1,000-workload graph whole (issue 16): every node of /api/graph's
answer in Cytoscape, at the server's positions (no layout in the browser), while the page never
posts the graph back to the server; a link to a node still selects it and opens its panel,
which the server answers from the graph it built. The graph is built once per page load (the
page's request starts it, the load callback joins it), and seen whole its edges are drawn
cheaply, straight and without arrows, which come back when zoomed in.
bench/topology_paint.py measures how fast."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from app import create_app
from bench.scale_mesh import END, scale_spec, simulated_live_services
from demo.mesh import DemoMesh
from devtools.livesrv import serve
from presentation import palette
from wiring.settings import Settings

pytestmark = pytest.mark.browser

NAMESPACES = tuple(f"ns-{n:02d}" for n in range(20))
AT = int(END)
VIEW = "&".join(f"namespace={ns}" for ns in NAMESPACES) + f"&graph=workload&window=5m&at={AT}"
PICKED = "ns-07/svc-03-v2"

CY = """const root = document.getElementById('topo-graph');
        const h = root && [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
        const cy = h && h._cyreg.cy;"""


class Asked:
    """The simulator's telemetry, counting the graphs asked of it by instant."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.at: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def graph_telemetry(self, query):
        self.at.append(query.at)
        return self.inner.graph_telemetry(query)


@pytest.fixture(scope="module")
def served() -> tuple[str, dict, Asked]:
    """A 1,000-workload mesh (20 namespaces x 25 services x 2 versions) served by the simulator,
    /api/graph's answer for the view the page opens on, and the telemetry's count."""
    sim = DemoMesh(
        scale_spec(namespaces=20, services_per_namespace=25),
        clock=lambda: END,
        history_start=END - 600,
    )
    asked = Asked(sim.telemetry)
    s = Settings(default_namespaces=NAMESPACES, prometheus_url="http://prometheus.invalid:9090")
    live = serve(create_app(s, simulated_live_services(s, asked)))
    body = requests.get(f"{live.url}/api/graph?{VIEW}", timeout=120).json()
    yield live.url, body, asked
    live.stop()


@pytest.fixture(scope="module")
def big(served) -> tuple[str, dict]:
    return served[0], served[1]


def _drawn(page: Any, want: int, edges: int = 0) -> None:
    """Every node drawn, and `edges` edges: a large graph seen whole gets its edges a frame
    after its nodes (assets/topology_draw.js)."""
    page.wait_for_function(
        f"""([want, edges]) => {{ {CY}
            return !!cy && cy.nodes().not('.namespace, .cluster').length >= want
                && cy.edges().length >= edges; }}""",
        arg=[want, edges],
        timeout=90_000,
    )


def test_a_thousand_workload_graph_draws_every_node_at_the_server_s_positions(page, big, shot):
    url, body = big
    nodes = {n["id"] for n in body["nodes"]}
    assert len(nodes) >= 1_000 and body["positions"]  # the server laid it out
    posted: list[int] = []
    page.on(
        "request",
        lambda r: (
            posted.append(len(r.post_data_buffer or b""))
            if "/_dash-update-component" in r.url
            else None
        ),
    )
    page.goto(f"{url}/?{VIEW}&refresh=off&node={PICKED}")
    _drawn(page, len(nodes), len(body["edges"]))
    drawn = page.evaluate(
        f"""() => {{ {CY}
            const out = {{}};
            cy.nodes().not('.namespace, .cluster').forEach(n => {{ out[n.id()] = n.position(); }});
            return {{nodes: out, edges: cy.edges().length}};
        }}"""
    )
    assert set(drawn["nodes"]) == nodes
    assert drawn["edges"] == len(body["edges"])
    for node in (PICKED, sorted(nodes)[0], sorted(nodes)[-1]):
        assert drawn["nodes"][node] == pytest.approx(body["positions"][node])
    # The link's node is selected and its panel, answered by the server, names it.
    expect(page.locator("#topo-panel")).to_contain_text("svc-03-v2", timeout=30_000)
    page.wait_for_function(
        f"""(id) => {{ {CY} return cy.$(':selected').map(e => e.id()).join() === id; }}""",
        arg=PICKED,
        timeout=30_000,
    )
    # The graph (1 MB and more) stayed on the server: the page posted only small requests.
    assert posted and max(posted) < 64 * 1024, max(posted)
    shot("topology-1000-workloads")


def test_one_page_load_builds_the_graph_once(page, served):
    """The page's request starts the build; the load callback and every callback after it
    (panel, legend, focus list) read the same memo entry."""
    url, body, asked = served
    at = AT - 15 * 7  # an instant nothing asked yet: a cold cache
    view = VIEW.replace(f"at={AT}", f"at={at}")
    before = len(asked.at)
    page.goto(f"{url}/?{view}&refresh=off")
    _drawn(page, len(body["nodes"]))
    expect(page.locator("#topo-panel")).to_contain_text("Hot spots", timeout=30_000)
    assert asked.at[before:] == [at]


def test_seen_whole_the_edges_are_drawn_straight_and_come_back_in_full_when_zoomed_in(
    page, big, shot
):
    url, body = big
    page.goto(f"{url}/?{VIEW}&refresh=off")
    _drawn(page, len(body["nodes"]), len(body["edges"]))
    style = f"""() => {{ {CY}
        const e = cy.edges()[0];
        return {{zoom: cy.zoom(), far: cy.edges('.far').length, edges: cy.edges().length,
                 curve: e.style('curve-style'), arrow: e.style('target-arrow-shape'),
                 colour: e.style('line-color'), health: e.data('health')}}; }}"""
    whole = page.evaluate(style)
    assert whole["zoom"] < 0.5 and whole["far"] == whole["edges"] == len(body["edges"])
    assert (whole["curve"], whole["arrow"]) == ("haystack", "none")
    hexa = palette.HEALTH_COLORS[whole["health"]].lstrip("#")
    assert whole["colour"] == "rgb({},{},{})".format(*(int(hexa[i : i + 2], 16) for i in (0, 2, 4)))
    page.evaluate(
        f"""() => {{ {CY} cy.zoom({{level: 1.2, renderedPosition: {{x: cy.width() / 2,
            y: cy.height() / 2}}}}); }}"""
    )
    page.wait_for_function(
        f"() => {{ {CY} return cy.edges('.far').length === 0; }}", timeout=30_000
    )
    near = page.evaluate(style)
    assert (near["curve"], near["arrow"]) == ("bezier", "triangle")
    assert near["colour"] == whole["colour"]
    shot("topology-1000-workloads-zoomed-in")
