"""The topology page on a mesh too big to draw workload by workload (issue 16): it opens on the
namespace graph saying why, a double-click expands a namespace in place, find highlights, hide
removes, focus keeps N hops, large graphs take the server's positions, and a cold start says
what the page waits for. A generated 5-namespace, 50-workload mesh (bench/scale_mesh.py's
generator) with the thresholds lowered to match."""

from __future__ import annotations

import re
import threading
from urllib.parse import quote

import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from app import create_app
from bench.scale_mesh import scale_spec
from demo.mesh import DemoMesh
from devtools.livesrv import serve
from wiring.services import Services
from wiring.settings import Settings

pytestmark = pytest.mark.browser

NAMESPACES = tuple(f"ns-{n:02d}" for n in range(5))
NAMESPACE_NODES = {f"namespace:{ns}" for ns in NAMESPACES}
QUERY = "&".join(f"namespace={ns}" for ns in NAMESPACES)

CY = """const root = document.getElementById('topo-graph');
        const h = root && [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);"""


def _settings(**extra) -> Settings:
    return Settings(
        default_namespaces=NAMESPACES,
        graph_namespace_above=30,
        graph_server_layout_above=20,
        prometheus_url="http://prometheus.invalid:9090",
        **extra,
    )


@pytest.fixture(scope="module")
def big_mesh():
    sim = DemoMesh(scale_spec(namespaces=5, services_per_namespace=5, seed=3))
    s = _settings()
    live = serve(create_app(s, Services(settings=s, telemetry=sim.telemetry)))
    yield live
    live.stop()


def graph_state(page) -> dict:
    return page.evaluate(
        f"""() => {{ {CY}
            if (!h) return {{nodes: {{}}, layout: null}};
            const cy = h._cyreg.cy;
            const nodes = {{}};
            cy.nodes().forEach(n => {{ nodes[n.id()] = {{classes: n.classes(), x: n.position('x'),
                                                       y: n.position('y')}}; }});
            return {{nodes}};
        }}"""
    )


def wait_for(page, have: set[str], lacks: set[str] = frozenset()) -> dict:
    page.wait_for_function(
        f"""([have, lacks]) => {{ {CY}
            if (!h) return false;
            const cy = h._cyreg.cy;
            return have.every(i => cy.getElementById(i).nonempty())
                && lacks.every(i => cy.getElementById(i).empty());
        }}""",
        arg=[sorted(have), sorted(lacks)],
        timeout=30_000,
    )
    return graph_state(page)["nodes"]


def api(live, query: str) -> dict:
    return requests.get(f"{live.url}/api/graph?{QUERY}&{query}", timeout=30).json()


def test_a_big_mesh_opens_on_the_namespace_graph_and_says_why(page, big_mesh, shot):
    page.goto(big_mesh.url + "/?refresh=off")
    nodes = wait_for(page, NAMESPACE_NODES)
    assert set(nodes) == NAMESPACE_NODES  # no workload, no empty box
    note = page.locator("#topo-opened-note")
    expect(note).to_contain_text("Opened on the namespace graph", timeout=30_000)
    expect(note).to_contain_text("50 nodes is more than the 30")
    expect(page).to_have_url(re.compile(r"graph=namespace"))
    shot("topology-big-opened-namespace")
    # Choosing the workload graph shows every workload and drops the note.
    page.locator("#topo-view").click()
    page.get_by_text("Workload graph", exact=True).click()
    wait_for(page, {"ns-00/svc-00-v1", "ns-04/svc-04-v2"})
    expect(note).to_be_empty()


def test_double_click_expands_one_namespace_in_place(page, big_mesh, shot):
    page.goto(big_mesh.url + f"/?{QUERY}&graph=namespace&refresh=off")
    wait_for(page, NAMESPACE_NODES)
    # Aim where the node is drawn now; the page may still move under a busy machine (the
    # summary and legend arriving above the graph shift it), so a miss is aimed again.
    for _ in range(4):
        page.wait_for_timeout(300)  # the layout settles before the mouse aims
        point = page.evaluate(
            f"""() => {{ {CY}
                const n = h._cyreg.cy.getElementById('namespace:ns-01');
                const r = h.getBoundingClientRect(), p = n.renderedPosition();
                return {{x: r.left + p.x, y: r.top + p.y}};
            }}"""
        )
        page.mouse.dblclick(point["x"], point["y"])
        try:
            page.wait_for_url(re.compile(r"expand=ns-01"), timeout=5_000)
            break
        except PlaywrightTimeout:
            continue
    expanded = {f"ns-01/svc-{s:02d}-{v}" for s in range(5) for v in ("v1", "v2")}
    nodes = wait_for(page, expanded | (NAMESPACE_NODES - {"namespace:ns-01"}), {"namespace:ns-01"})
    assert "ns-node" in nodes["namespace:ns-00"]["classes"]
    expect(page).to_have_url(re.compile(r"expand=ns-01"))
    # The figures are the API's for the same view.
    body = api(big_mesh, "graph=namespace&expand=ns-01")
    assert set(nodes) - {k for k in nodes if k.startswith("ns:")} == {
        n["id"] for n in body["nodes"]
    }
    shot("topology-big-expanded")


def test_find_highlights_and_hide_removes(page, big_mesh, shot):
    page.goto(big_mesh.url + f"/?{QUERY}&graph=workload&refresh=off")
    wait_for(page, {"ns-02/svc-00-v1"})
    find = page.locator("#topo-find")
    find.fill("ns = ns-02 and rps > 1")
    find.press("Enter")
    expect(page).to_have_url(re.compile(r"find=ns"), timeout=30_000)
    body = api(big_mesh, "graph=workload&find=" + quote("ns = ns-02 and rps > 1"))
    wanted = set(body["find"]["nodes"])
    assert wanted and all(n.startswith("ns-02/") for n in wanted)
    page.wait_for_function(
        f"""(ids) => {{ {CY}
            return h && ids.every(i => h._cyreg.cy.getElementById(i).hasClass('path'));
        }}""",
        arg=sorted(wanted),
        timeout=30_000,
    )
    nodes = graph_state(page)["nodes"]
    assert {k for k, v in nodes.items() if "path" in v["classes"]} == wanted
    assert "faded" in nodes["ns-00/svc-00-v1"]["classes"]
    expect(page.locator("#topo-scale-note")).to_contain_text(f"{len(wanted)} nodes")
    shot("topology-big-find")

    hide = page.locator("#topo-hide")
    hide.fill("ns = ns-00")
    hide.press("Enter")
    nodes = wait_for(page, {"ns-01/svc-00-v1"}, {"ns-00/svc-00-v1", "ns-00/svc-01-v1"})
    assert not any(k.startswith("ns-00/") for k in nodes)

    hide.fill("rps >> 1")
    hide.press("Enter")
    banner = page.locator("#topo-banner")
    expect(banner).to_contain_text("Invalid input", timeout=30_000)
    expect(banner).to_contain_text("hide: cannot read 'rps >> 1'")
    expect(banner).not_to_contain_text("Traceback")
    shot("topology-big-bad-expression")


def test_focus_keeps_the_hops_around_a_node(page, big_mesh, shot):
    page.goto(big_mesh.url + f"/?{QUERY}&graph=workload&focus=ns-01/svc-00-v1&hops=1&refresh=off")
    body = api(big_mesh, "graph=workload&focus=ns-01/svc-00-v1&hops=1")
    want = {n["id"] for n in body["nodes"]}
    assert "ns-01/svc-00-v1" in want and 1 < len(want) < 50
    nodes = wait_for(page, want)
    assert {k for k in nodes if not k.startswith("ns:")} == want
    shot("topology-big-focus")
    page.goto(big_mesh.url + f"/?{QUERY}&graph=workload&focus=ns-09/gone-v1&refresh=off")
    expect(page.locator("#topo-empty")).to_contain_text("ns-09/gone-v1 had no traffic")


def test_large_graphs_are_drawn_where_the_server_placed_them(page, big_mesh):
    page.goto(big_mesh.url + f"/?{QUERY}&graph=workload&refresh=off")
    nodes = wait_for(page, {"ns-00/svc-00-v1"})
    placed = api(big_mesh, "graph=workload")["positions"]
    assert len(placed) == 50
    for node_id, p in placed.items():
        assert nodes[node_id]["x"] == pytest.approx(p["x"], abs=0.5)
        assert nodes[node_id]["y"] == pytest.approx(p["y"], abs=0.5)
    expect(page.locator("#topo-scale-note")).to_contain_text("50 nodes laid out on the server")


class Gate:
    """A telemetry source that answers only once the test opens the gate: the page's loading
    state can then be looked at for as long as needed, without sleeping."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = "prometheus"
        self.open = threading.Event()

    def graph_telemetry(self, query):
        self.open.wait(timeout=60)
        return self.inner.graph_telemetry(query)


def test_a_cold_start_says_what_the_page_waits_for(page, shot):
    sim = DemoMesh(scale_spec(namespaces=5, services_per_namespace=2, seed=3))
    gate = Gate(sim.telemetry)
    s = _settings()
    live = serve(create_app(s, Services(settings=s, telemetry=gate)))
    try:
        page.goto(live.url + f"/?{QUERY}&graph=workload&refresh=off")
        waiting = page.locator(".md-waiting")
        expect(waiting).to_contain_text(
            "Asking Prometheus for 5 namespaces' traffic over the last 5m", timeout=30_000
        )
        expect(waiting).to_contain_text("workload graph")
        expect(waiting).to_be_in_viewport()  # over the empty graph pane, not below it
        shot("topology-big-cold-start")
        gate.open.set()
        wait_for(page, {"ns-00/svc-00-v1"})
        expect(waiting).to_be_hidden(timeout=30_000)
    finally:
        gate.open.set()
        live.stop()
