"""Issue 21 on a REAL Prometheus: an ambient mesh (L7 only from waypoints, L4 from ztunnel) and
a mixed one (a namespace moving to ambient) draw every edge once, with rps, error rate and p95
equal to PromQL's on the report that counts, in 3 queries per refresh and in every graph type.

Expectations are PromQL's own answers (written out here, not taken from mesh/).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from collectors.prometheus import PrometheusCollector
from demo.openmetrics import write_series
from devtools.promserver import PrometheusServer, require_prometheus
from mesh.graph.build import build_graph, graph_json
from mesh.graph.waypoints import without_waypoints
from mesh.telemetry_records import GraphQuery, GraphView
from tests.integration import ambient_scenario as sc
from tests.integration.prom_received import queries_received

pytestmark = pytest.mark.integration

W = "5m"
NS = sc.NS


def start(tmp_path_factory, name: str, series) -> PrometheusServer:
    require_prometheus()
    server = PrometheusServer(tmp_path_factory.mktemp(name))
    buf = io.StringIO()
    write_series(series, buf)
    server.load_openmetrics(buf.getvalue())
    server.start()
    return server


@pytest.fixture(scope="module")
def ambient(tmp_path_factory) -> Iterator[PrometheusServer]:
    server = start(tmp_path_factory, "ambient", sc.ambient_series())
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Iterator[PrometheusServer]:
    server = start(tmp_path_factory, "mixed", sc.mixed_series())
    try:
        yield server
    finally:
        server.close()


def value(prom: PrometheusServer, text: str) -> float | None:
    return prom.query_value(text, sc.END)


def rps(prom: PrometheusServer, sel: str, extra: str = "") -> float:
    inner = f"{sel},{extra}" if extra else sel
    return value(prom, f"sum(rate(istio_requests_total{{{inner}}}[{W}]))") or 0.0


def p95(prom: PrometheusServer, sel: str) -> float | None:
    return value(
        prom,
        "histogram_quantile(0.95, sum by (le) "
        f"(rate(istio_request_duration_milliseconds_bucket{{{sel}}}[{W}])))",
    )


def bytes_rate(prom: PrometheusServer, family: str, sel: str) -> float:
    return value(prom, f"sum(rate({family}{{{sel}}}[{W}]))") or 0.0


def telemetry(prom: PrometheusServer, view: GraphView):
    collector = PrometheusCollector(prom.url, timeout_s=20.0)
    before = queries_received(prom.url)
    try:
        got = collector.graph_telemetry(GraphQuery((NS,), view, 300, sc.END))
    finally:
        collector.close()
    assert got.queries_sent == queries_received(prom.url) - before == 3
    return got


def edges(prom: PrometheusServer, view: GraphView, show_waypoints: bool = False) -> dict:
    got = telemetry(prom, view)
    drawn = got if show_waypoints else without_waypoints(got)
    body = graph_json(build_graph(drawn))
    return {(e["source"], e["target"]): e for e in body["edges"]}


def pair(view: GraphView, src: dict, dst: dict) -> tuple[str, str]:
    def node(w: dict) -> str:
        if view is GraphView.WORKLOAD:
            return f"{w['ns']}/{w['name']}"
        if view is GraphView.VERSIONED_APP:
            return f"{w['ns']}/{w['app']}/{w['version']}"
        return f"{w['ns']}/{w['app']}"

    return node(src), node(dst)


def selector(reporter: str, src: dict, dst: dict) -> str:
    return (
        f'reporter="{reporter}",source_workload="{src["name"]}",'
        f'destination_workload="{dst["name"]}"'
    )


def assert_l7(prom, edge: dict[str, Any], sel: str) -> None:
    expected = rps(prom, sel)
    assert expected > 0
    assert edge["rps"] == pytest.approx(expected, rel=1e-6)
    errors = rps(prom, sel, 'response_code=~"5..|0"') + rps(
        prom, sel, 'grpc_response_status=~"2|4|12|13|14|15"'
    )
    assert edge["error_rate"] == pytest.approx(errors / expected, abs=1e-6)
    assert edge["p95_ms"] == pytest.approx(p95(prom, sel), rel=1e-6)


AMBIENT_L7 = [
    (sc.PRODUCTPAGE, sc.REVIEWS1),
    (sc.PRODUCTPAGE, sc.REVIEWS2),
    (sc.REVIEWS2, sc.RATINGS1),
]


def test_ambient_workload_edges_equal_promql_on_the_waypoint_series(ambient):
    got = edges(ambient, GraphView.WORKLOAD)
    l4_only = pair(GraphView.WORKLOAD, sc.PRODUCTPAGE, sc.DETAILS)
    # Waypoint-reported L7 edges, ztunnel's L4 edge, and nothing to or from the waypoint.
    assert set(got) == {pair(GraphView.WORKLOAD, s, d) for s, d in AMBIENT_L7} | {l4_only}
    for src, dst in AMBIENT_L7:
        assert_l7(ambient, got[pair(GraphView.WORKLOAD, src, dst)], selector("waypoint", src, dst))
    grpc = got[pair(GraphView.WORKLOAD, sc.REVIEWS2, sc.RATINGS1)]
    assert grpc["protocol"] == "grpc"
    assert grpc["error_rate"] == pytest.approx(0.05, abs=1e-6)  # status 14 of 20 rps
    # ztunnel's bytes of the same connection sit on the gRPC edge, counted once.
    ztunnel = selector("source", sc.REVIEWS2, sc.RATINGS1)
    assert grpc["sent_bps"] == pytest.approx(
        bytes_rate(ambient, "istio_tcp_received_bytes_total", ztunnel), rel=1e-6
    )
    assert grpc["received_bps"] == pytest.approx(
        bytes_rate(ambient, "istio_tcp_sent_bytes_total", ztunnel), rel=1e-6
    )
    assert grpc["mtls"] == pytest.approx(1.0)
    tcp = got[l4_only]
    ztunnel = selector("source", sc.PRODUCTPAGE, sc.DETAILS)
    assert (tcp["protocol"], tcp["rps"]) == ("tcp", 0.0)
    assert tcp["sent_bps"] == pytest.approx(
        bytes_rate(ambient, "istio_tcp_received_bytes_total", ztunnel), rel=1e-6
    )


@pytest.mark.parametrize(
    "view", [GraphView.APP, GraphView.VERSIONED_APP, GraphView.SERVICE], ids=lambda v: v.value
)
def test_ambient_edges_in_every_graph_type(ambient, view):
    got = edges(ambient, view)
    assert not [k for k in got if "waypoint" in k[0] or "waypoint" in k[1]]
    if view is GraphView.VERSIONED_APP:
        for src, dst in AMBIENT_L7:
            assert_l7(ambient, got[pair(view, src, dst)], selector("waypoint", src, dst))
        return
    # productpage -> reviews: both versions on one edge; rps and errors are PromQL's sums.
    edge = got[pair(view, sc.PRODUCTPAGE, sc.REVIEWS1)]
    sel = 'reporter="waypoint",source_workload="productpage-v1",destination_canonical_service="reviews"'
    if view is GraphView.SERVICE:
        sel = 'reporter="waypoint",source_workload="productpage-v1",destination_service_name="reviews"'
    assert edge["rps"] == pytest.approx(rps(ambient, sel), rel=1e-6)
    assert edge["error_rate"] == pytest.approx(
        rps(ambient, sel, 'response_code="503"') / rps(ambient, sel), abs=1e-6
    )
    assert edge["p95_ms"] == pytest.approx(p95(ambient, sel), rel=1e-6)


def test_waypoints_show_draws_ztunnels_edges_to_and_from_the_waypoint(ambient):
    got = edges(ambient, GraphView.WORKLOAD, show_waypoints=True)
    to_wp = got[pair(GraphView.WORKLOAD, sc.PRODUCTPAGE, sc.WAYPOINT)]
    from_wp = got[pair(GraphView.WORKLOAD, sc.WAYPOINT, sc.REVIEWS1)]
    for edge, src, dst in (
        (to_wp, sc.PRODUCTPAGE, sc.WAYPOINT),
        (from_wp, sc.WAYPOINT, sc.REVIEWS1),
    ):
        assert edge["protocol"] == "tcp"
        assert edge["sent_bps"] == pytest.approx(
            bytes_rate(ambient, "istio_tcp_received_bytes_total", selector("source", src, dst)),
            rel=1e-6,
        )
    # The L7 edge stays the one waypoint-reported edge, not replaced by the two hops.
    assert got[pair(GraphView.WORKLOAD, sc.PRODUCTPAGE, sc.REVIEWS1)]["rps"] == pytest.approx(63)


MIXED = [
    # (caller, callee, the report that counts)
    (sc.PRODUCTPAGE, sc.REVIEWS1, "source"),  # sidecar caller, ambient callee
    (sc.REVIEWS1, sc.RATINGS1, "destination"),  # ambient caller, sidecar callee
    (sc.REVIEWS2, sc.RATINGS2, "waypoint"),  # both ambient
    (sc.PRODUCTPAGE, sc.DETAILS, "source"),  # both sidecars
]
# Latency comes from the destination side: the sidecar's, else the waypoint's.
LATENCY_FROM = {"source": "waypoint", "destination": "destination", "waypoint": "waypoint"}


@pytest.mark.parametrize("view", [GraphView.WORKLOAD, GraphView.VERSIONED_APP], ids=str)
def test_a_mixed_mesh_counts_each_request_once(mixed, view):
    got = edges(mixed, view)
    assert set(got) == {pair(view, s, d) for s, d, _ in MIXED}
    for src, dst, counted in MIXED:
        edge = got[pair(view, src, dst)]
        sel = selector(counted, src, dst)
        expected = rps(mixed, sel)
        assert edge["rps"] == pytest.approx(expected, rel=1e-6), (src, dst)
        assert edge["error_rate"] == pytest.approx(
            rps(mixed, sel, 'response_code=~"5.."') / expected, abs=1e-6
        )
        if (src, dst) == (sc.PRODUCTPAGE, sc.DETAILS):
            latency_sel = selector("destination", src, dst)
        else:
            latency_sel = selector(LATENCY_FROM[counted], src, dst)
        assert edge["p95_ms"] == pytest.approx(p95(mixed, latency_sel), rel=1e-6), (src, dst)
    # The sidecar caller's and the waypoint's reports of the same 50 rps: counted once.
    assert got[pair(view, sc.PRODUCTPAGE, sc.REVIEWS1)]["rps"] == pytest.approx(50)
    assert rps(mixed, 'source_workload="productpage-v1",destination_workload="reviews-v1"') == (
        pytest.approx(100)
    )


def test_api_graph_hides_waypoints_unless_asked(ambient):
    from app import create_app
    from wiring.settings import Settings

    settings = Settings(prometheus_url=ambient.url, default_namespaces=(NS,))
    client = create_app(settings).server.test_client()
    base = f"/api/graph?namespace={NS}&graph=workload&window=5m&at={int(sc.END)}"
    before = queries_received(ambient.url)
    hidden = client.get(base)
    assert hidden.status_code == 200, hidden.get_data(as_text=True)
    body = hidden.get_json()
    assert body["waypoints"] == "hide"
    assert body["queries"] == queries_received(ambient.url) - before == 3
    assert "bookinfo/waypoint" not in {n["id"] for n in body["nodes"]}
    shown = client.get(base + "&waypoints=show").get_json()
    assert shown["waypoints"] == "show"
    assert "bookinfo/waypoint" in {n["id"] for n in shown["nodes"]}
    bad = client.get(base + "&waypoints=maybe")
    assert bad.status_code == 400
    assert bad.get_json()["field"] == "waypoints"
