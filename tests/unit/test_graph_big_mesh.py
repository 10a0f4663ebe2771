"""Views for big meshes on a built graph: the namespace graph (figures recomputed from the parts,
health rolled up), expanding one namespace, focus with N hops, quiet edges, server positions."""

from __future__ import annotations

import math

import pytest

from mesh.graph.build import build_graph, graph_json
from mesh.graph.edge_keys import destination_endpoint, source_endpoint
from mesh.graph.find_hide import found, hidden, parse, without_quiet_edges
from mesh.graph.focus import focused
from mesh.graph.namespace_view import namespace_fields, namespace_graph
from mesh.graph.positions import GAP, RING_SPACING, SPACING, SPRING_MAX, pack, positions
from mesh.telemetry_records import GraphQuery, GraphTelemetry, GraphView, RequestRate, TcpRate
from tests.unit.test_graph import labels

W = GraphView.WORKLOAD
GW = ("istio-system", "gateway", "gateway", "v1")
A1 = ("team-a", "web-v1", "web", "v1")
A2 = ("team-a", "api-v1", "api", "v1")
B1 = ("team-b", "db-v1", "db", "v1")
B2 = ("team-b", "cache-v1", "cache", "v1")


def req(src, dst, rps, code="200", security="mutual_tls"):
    lab = labels(src, dst, service_ns=dst[0])
    return RequestRate(
        source_endpoint(lab, W),
        destination_endpoint(lab, W),
        "http",
        code,
        "",
        rps,
        reporter="destination",
        security=security,
    )


def tcp(src, dst, bps, security="none"):
    lab = labels(src, dst, service_ns=dst[0])
    return TcpRate(
        source_endpoint(lab, W),
        destination_endpoint(lab, W),
        bps,
        0.0,
        reporter="destination",
        security=security,
    )


def mesh(*requests, tcp_rates=()):
    query = GraphQuery(("istio-system", "team-a", "team-b"), W, 300, 1_000_000.0)
    return build_graph(GraphTelemetry(query, tuple(requests), (), tuple(tcp_rates)))


@pytest.fixture
def g():
    return mesh(
        req(GW, A1, 10.0),
        req(A1, A2, 8.0),  # inside team-a
        req(A1, B1, 6.0),
        req(A1, B1, 0.6, code="503"),  # 9 % of A1 -> B1 fails: degraded
        req(A2, B1, 3.0, security="none"),
        req(A2, B2, 1.0),
        req(B1, B2, 2.0, code="404"),  # inside team-b, all client errors: failure
    )


def test_namespace_edges_are_the_sums_of_their_parts(g):
    ns = namespace_graph(g)
    assert set(ns.nodes) == {
        "namespace:istio-system",
        "namespace:team-a",
        "namespace:team-b",
    }
    e = ns.edges["namespace:team-a", "namespace:team-b"]
    assert (e["id"], e["source"], e["target"]) == (
        "namespace:team-a->namespace:team-b",
        "namespace:team-a",
        "namespace:team-b",
    )
    assert e["rps"] == pytest.approx(6.0 + 0.6 + 3.0 + 1.0)
    assert e["error_rate"] == pytest.approx(0.6 / 10.6)
    # mTLS share from the parts, weighted by requests: 3 rps of 10.6 went in plain text
    assert e["mtls"] == pytest.approx(7.6 / 10.6)
    assert e["health"] == "degraded"  # any 5xx
    assert e["p95_ms"] is None  # quantiles of several parts cannot be added
    assert ns.edges["namespace:istio-system", "namespace:team-a"]["rps"] == pytest.approx(10.0)


def test_traffic_inside_a_namespace_stays_on_its_node(g):
    ns = namespace_graph(g)
    assert not ns.has_edge("namespace:team-a", "namespace:team-a")
    extra = namespace_fields(ns)
    assert extra["namespace:team-a"]["rps_internal"] == pytest.approx(8.0)
    assert extra["namespace:team-b"]["error_rate_internal"] == 0.0  # 404s are not errors
    assert extra["namespace:team-b"]["members"] == 2


def test_namespace_health_is_its_worst_member(g):
    ns = namespace_graph(g)
    # cache-v1 receives 2 rps of 404 out of 3: a client-error failure inside team-b
    assert g.nodes["team-b/cache-v1"]["health"] == "failure"
    assert ns.nodes["namespace:team-b"]["health"] == "failure"
    assert ns.nodes["namespace:team-b"]["members_by_health"]["failure"] == 1
    assert ns.nodes["namespace:team-a"]["health"] == "healthy"
    # what enters team-b from other namespaces, recomputed from the edges drawn
    assert ns.nodes["namespace:team-b"]["rps_in"] == pytest.approx(10.6)


def test_a_namespace_with_one_idle_member_is_not_idle():
    ns = namespace_graph(mesh(req(GW, A1, 1.0), req(A1, A2, 0.0)))
    assert ns.nodes["namespace:team-a"]["health"] == "healthy"


def test_expanding_a_namespace_shows_its_workloads_among_namespace_nodes(g):
    ns = namespace_graph(g, expand=("team-a",))
    assert {"team-a/web-v1", "team-a/api-v1", "namespace:team-b"} <= set(ns.nodes)
    assert "namespace:team-a" not in ns
    # A1's two calls into team-b (6 ok + 0.6 failing) are one edge to the namespace node
    e = ns.edges["team-a/web-v1", "namespace:team-b"]
    assert e["rps"] == pytest.approx(6.6)
    assert ns.edges["team-a/web-v1", "team-a/api-v1"]["rps"] == pytest.approx(8.0)
    # an edge of one part keeps its own figures, latency included
    assert ns.edges["team-a/web-v1", "team-a/api-v1"] == g.edges["team-a/web-v1", "team-a/api-v1"]
    one_part = ns.edges["team-a/api-v1", "namespace:team-b"]  # api -> db and api -> cache
    assert one_part["target"] == "namespace:team-b" and one_part["rps"] == pytest.approx(4.0)
    gw = ns.edges["istio-system/gateway", "team-a/web-v1"] if "istio-system/gateway" in ns else None
    assert gw is None  # istio-system is not expanded
    single = ns.edges["namespace:istio-system", "team-a/web-v1"]  # one part, renamed ends
    assert (single["source"], single["target"]) == ("namespace:istio-system", "team-a/web-v1")
    assert single["p95_ms"] == g.edges["istio-system/gateway", "team-a/web-v1"]["p95_ms"]
    shares = [d["share"] for _, _, d in ns.out_edges("team-a/web-v1", data=True)]
    assert math.fsum(shares) == pytest.approx(1.0)


def test_tcp_only_namespace_edge_is_judged_by_bytes():
    ns = namespace_graph(
        mesh(req(GW, A1, 1.0), tcp_rates=(tcp(A1, B1, 500.0), tcp(A2, B1, 1500.0, "mutual_tls")))
    )
    e = ns.edges["namespace:team-a", "namespace:team-b"]
    assert e["protocol"] == "tcp" and e["rps"] == 0.0
    assert e["bps"] == pytest.approx(2000.0)
    assert e["mtls"] == pytest.approx(0.75)
    assert e["health"] == "healthy"


def test_unknown_mtls_stays_unknown_on_the_namespace_edge():
    ns = namespace_graph(mesh(req(A1, B1, 1.0, security=""), req(A2, B1, 2.0, security="")))
    assert ns.edges["namespace:team-a", "namespace:team-b"]["mtls"] is None


def test_namespace_graph_serialises_like_any_graph(g):
    body = graph_json(namespace_graph(g))
    node = next(n for n in body["nodes"] if n["id"] == "namespace:team-b")
    assert node["kind"] == "namespace" and node["namespace"] == "team-b"


# ---------------------------------------------------------------------------------------------
# focus, find, hide, quiet edges


def test_focus_keeps_the_nodes_within_n_hops_both_ways(g):
    one = focused(g, "team-a/api-v1", 1)
    assert set(one.nodes) == {"team-a/api-v1", "team-a/web-v1", "team-b/db-v1", "team-b/cache-v1"}
    two = focused(g, "team-a/api-v1", 2)
    assert "istio-system/gateway" in two
    assert one.edges["team-a/web-v1", "team-b/db-v1"]["rps"] == pytest.approx(6.6)


def test_focus_on_a_node_without_traffic_is_an_empty_graph(g):
    assert focused(g, "team-z/ghost", 2).number_of_nodes() == 0


def test_find_matches_nodes_and_edges_by_their_own_fields(g):
    nodes, edges = found(g, parse("rps > 5", "find"))
    assert ("team-a/web-v1", "team-b/db-v1") in edges  # 6.6 rps
    assert ("team-a/api-v1", "team-b/db-v1") not in edges  # 3 rps
    assert "team-a/web-v1" in nodes and "team-b/cache-v1" not in nodes
    nodes, edges = found(g, parse("health = failure", "find"))
    assert nodes == {"team-b/cache-v1"}
    assert edges == {("team-b/db-v1", "team-b/cache-v1")}


def test_p95_finds_edges_only(g):
    g.edges["team-a/web-v1", "team-b/db-v1"]["p95_ms"] = 800.0
    nodes, edges = found(g, parse("p95 > 500", "find"))
    assert nodes == frozenset() and edges == {("team-a/web-v1", "team-b/db-v1")}


def test_ns_matches_an_edge_at_either_end(g):
    _, edges = found(g, parse("ns = team-b and rps < 2", "find"))
    assert edges == {("team-a/api-v1", "team-b/cache-v1")}


def test_hide_removes_nodes_with_their_edges_and_recounts_nothing(g):
    shown = hidden(g, parse("ns = istio-system", "hide"))
    assert "istio-system/gateway" not in shown
    assert not any("istio-system" in s for s, _ in shown.edges)
    assert shown.nodes["team-a/web-v1"]["rps_in"] == g.nodes["team-a/web-v1"]["rps_in"]


def test_quiet_edges_hides_idle_and_healthy_edges_and_keeps_the_nodes(g):
    loud = without_quiet_edges(g, ("idle", "healthy"))
    assert {d["health"] for _, _, d in loud.edges(data=True)} == {"degraded", "failure"}
    assert set(loud.nodes) == set(g.nodes)
    assert without_quiet_edges(g, ()) is g


# ---------------------------------------------------------------------------------------------
# positions


def _boxes(points, nodes):
    by_ns = {}
    for n in nodes:
        by_ns.setdefault(n["namespace"], []).append(points[n["id"]])
    return {
        ns: (
            min(p["x"] for p in ps),
            min(p["y"] for p in ps),
            max(p["x"] for p in ps),
            max(p["y"] for p in ps),
        )
        for ns, ps in by_ns.items()
    }


@pytest.mark.parametrize("step", [7, 25], ids=["force layout", "grid past SPRING_MAX"])
def test_positions_keep_namespace_boxes_apart_and_nodes_apart(step):
    nodes = [
        {"id": f"ns-{n}/w-{i}", "namespace": f"ns-{n}", "kind": "workload"}
        for n in range(6)
        for i in range(3 + step * n)
    ]
    assert (len(nodes) > SPRING_MAX) == (step == 25)
    edges = [
        {"source": f"ns-{n}/w-{i}", "target": f"ns-{n}/w-{i + 1}"}
        for n in range(6)
        for i in range(2 + step * n)
    ] + [{"source": "ns-0/w-0", "target": "ns-5/w-0"}]
    points = positions(nodes, edges, several_clusters=False)
    assert set(points) == {n["id"] for n in nodes}
    boxes = list(_boxes(points, nodes).values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            # the drawn boxes reach a node and its label past the outermost centres
            apart = (
                a[2] + GAP <= b[0] or b[2] + GAP <= a[0] or a[3] + GAP <= b[1] or b[3] + GAP <= a[1]
            )
            assert apart, (a, b)
    xy = [(p["x"], p["y"]) for p in points.values()]
    assert len(set(xy)) == len(xy)
    closest = min(math.dist(p, q) for i, p in enumerate(xy) for q in xy[i + 1 :])
    assert closest >= SPACING - 0.5


def test_the_namespace_graph_s_namespaces_sit_on_a_ring_with_room_for_their_labels():
    names = [f"ns-{n:02d}" for n in range(20)]
    nodes = [{"id": ns, "namespace": ns, "kind": "namespace"} for ns in names]
    nodes.append({"id": "unknown", "kind": "unknown"})
    edges = [{"source": a, "target": b} for a in names for b in names if a < b]
    points = positions(nodes, edges, several_clusters=False)
    assert set(points) == {n["id"] for n in nodes}
    ring = [(points[ns]["x"], points[ns]["y"]) for ns in names]
    closest = min(math.dist(p, q) for i, p in enumerate(ring) for q in ring[i + 1 :])
    assert closest >= RING_SPACING * 0.6  # two namespace labels side by side
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    assert max(xs) - min(xs) > 1.4 * (max(ys) - min(ys))  # wider than tall, as the pane is
    # no namespace inside the ring, where every edge passes: all on the ellipse's edge
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    rx, ry = (max(xs) - min(xs)) / 2, (max(ys) - min(ys)) / 2
    for x, y in ring:
        assert ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 == pytest.approx(1.0, abs=0.05)
    # the caller outside the mesh sits beside the ring, not on it
    u = points["unknown"]
    assert not (min(xs) < u["x"] < max(xs) and min(ys) < u["y"] < max(ys))


def test_positions_are_the_same_for_the_same_graph():
    nodes = [{"id": f"a/w{i}", "namespace": "a", "kind": "workload"} for i in range(40)]
    edges = [{"source": f"a/w{i}", "target": f"a/w{(i * 7) % 40}"} for i in range(40)]
    assert positions(nodes, edges, False) == positions(nodes, edges, False)


def test_pack_never_overlaps():
    sizes = {k: (w, h) for k, (w, h) in enumerate([(300, 100), (50, 400), (120, 120), (10, 10)])}
    corners = pack(sizes)
    rects = [(x, y, x + sizes[k][0], y + sizes[k][1]) for k, (x, y) in corners.items()]
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]
