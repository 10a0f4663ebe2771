"""The topology page draws a 1,000-workload graph whole (issue 16): every node of /api/graph's
answer in Cytoscape, at the server's positions (no layout in the browser), while the page never
posts the graph back to the server; a link to a node still selects it and opens its panel,
which the server answers from the graph it built. bench/topology_paint.py measures how fast."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from app import create_app
from bench.scale_mesh import END, scale_spec, simulated_live_services
from demo.mesh import DemoMesh
from devtools.livesrv import serve
from wiring.settings import Settings

pytestmark = pytest.mark.browser

NAMESPACES = tuple(f"ns-{n:02d}" for n in range(20))
AT = int(END)
VIEW = "&".join(f"namespace={ns}" for ns in NAMESPACES) + f"&graph=workload&window=5m&at={AT}"
PICKED = "ns-07/svc-03-v2"

CY = """const root = document.getElementById('topo-graph');
        const h = root && [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
        const cy = h && h._cyreg.cy;"""


@pytest.fixture(scope="module")
def big() -> tuple[str, dict]:
    """A 1,000-workload mesh (20 namespaces x 25 services x 2 versions) served by the simulator,
    and /api/graph's answer for the view the page opens on."""
    sim = DemoMesh(
        scale_spec(namespaces=20, services_per_namespace=25),
        clock=lambda: END,
        history_start=END - 600,
    )
    s = Settings(default_namespaces=NAMESPACES, prometheus_url="http://prometheus.invalid:9090")
    live = serve(create_app(s, simulated_live_services(s, sim.telemetry)))
    body = requests.get(f"{live.url}/api/graph?{VIEW}", timeout=120).json()
    yield live.url, body
    live.stop()


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
    page.wait_for_function(
        f"""(want) => {{ {CY}
            return !!cy && cy.nodes().not('.namespace, .cluster').length >= want; }}""",
        arg=len(nodes),
        timeout=90_000,
    )
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
