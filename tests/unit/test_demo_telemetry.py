"""DemoTelemetry: the graph telemetry a Prometheus collector would return for the demo's series."""

from __future__ import annotations

from collections import defaultdict

import pytest

from demo.bookinfo import bookinfo_spec
from demo.mesh import DemoMesh
from demo.spec import Call, MeshSpec, Workload
from demo.telemetry import quantiles
from mesh.graph.reporters import counted_once
from mesh.sources import TelemetrySource
from mesh.telemetry_records import Endpoint, GraphQuery, GraphView

T = 1_767_225_600.0


def mesh(split=None, noise: float = 0.0) -> DemoMesh:
    """Bookinfo plus a caller without sidecar into productpage (1 rps)."""
    base = bookinfo_spec(reviews_split=split or {"v1": 50, "v2": 50})
    spec = MeshSpec(
        workloads=(*base.workloads, Workload("legacy", "cron", "cron", meshed=False)),
        calls=(*base.calls, Call("legacy", "cron", "bookinfo", "productpage", rps=1.0)),
        splits=base.splits,
    )
    return DemoMesh(spec, clock=lambda: T, noise=noise)


def ask(m: DemoMesh, view: GraphView, namespaces=("bookinfo",), window_s: int = 300):
    return m.telemetry.graph_telemetry(GraphQuery(tuple(namespaces), view, window_s, T))


def rps_by_edge(telemetry) -> dict[tuple[Endpoint, Endpoint], float]:
    """Each request once: the reports mesh/graph/reporters.py counts, as the graph does."""
    out: dict[tuple[Endpoint, Endpoint], float] = defaultdict(float)
    for r in counted_once(telemetry.requests, telemetry.query.namespaces):
        out[(r.source, r.destination)] += r.rps
    return dict(out)


def test_bookinfo_demo_is_a_telemetry_source_with_room_for_traces_and_routes():
    demo = DemoMesh.bookinfo()
    assert isinstance(demo.telemetry, TelemetrySource)
    assert demo.telemetry.name == "demo"
    assert demo.traces is None and demo.routes is None
    assert "bookinfo" in demo.namespaces
    assert demo.state.split_at("bookinfo", "reviews", demo.now()) == {"v1": 80, "v2": 10, "v3": 10}
    assert ask(demo, GraphView.WORKLOAD).queries_sent == 0


def test_workload_view_counts_each_request_once():
    edges = rps_by_edge(ask(mesh(), GraphView.WORKLOAD))
    by_name = {(s.workload, d.workload): v for (s, d), v in edges.items()}
    assert by_name[("istio-ingressgateway", "productpage-v1")] == pytest.approx(20.0)
    assert by_name[("unknown", "productpage-v1")] == pytest.approx(1.0)  # destination reporter only
    assert by_name[("productpage-v1", "reviews-v1")] == pytest.approx(10.5)
    assert by_name[("reviews-v2", "ratings-v1")] == pytest.approx(10.5)
    assert ("reviews-v1", "ratings-v1") not in by_name
    assert ("productpage-v1", "reviews-v3") not in by_name
    src, dst = next(k for k in edges if k[1].workload == "reviews-v2")
    # Bookinfo runs in Istio's default cluster, named as the collector names it.
    assert src == Endpoint("bookinfo", "productpage-v1", "productpage", "v1", cluster="Kubernetes")
    assert dst == Endpoint(
        "bookinfo",
        "reviews-v2",
        "reviews",
        "v2",
        "reviews",
        "bookinfo",
        cluster="Kubernetes",
        host="reviews.bookinfo.svc.cluster.local",
    )


def test_app_and_service_views_collapse_versions():
    app = {(s.app, d.app): v for (s, d), v in rps_by_edge(ask(mesh(), GraphView.APP)).items()}
    assert app[("productpage", "reviews")] == pytest.approx(21.0)
    assert app[("reviews", "ratings")] == pytest.approx(10.5)
    service = rps_by_edge(ask(mesh(), GraphView.SERVICE))
    dst_services = {d.service for _, d in service}
    assert dst_services == {"productpage", "details", "reviews", "ratings"}
    assert all(d.workload == "" and d.version == "" for _, d in service)
    versioned = rps_by_edge(ask(mesh(), GraphView.VERSIONED_APP))
    reviews = {d.version: v for (s, d), v in versioned.items() if d.app == "reviews"}
    assert reviews == pytest.approx({"v1": 10.5, "v2": 10.5})


def test_outcomes_keep_their_codes():
    reqs = ask(mesh(), GraphView.WORKLOAD).requests
    ratings = {r.response_code: r.rps for r in reqs if r.destination.workload == "ratings-v1"}
    assert ratings["503"] / (ratings["503"] + ratings["200"]) == pytest.approx(0.005)
    assert {r.protocol for r in reqs} == {"http"}
    assert all(r.grpc_status == "" for r in reqs)


def test_namespace_filter_uses_source_or_destination_namespace():
    m = mesh()
    from_gateway = ask(m, GraphView.WORKLOAD, namespaces=("istio-system",)).requests
    assert {(r.source.workload, r.destination.workload) for r in from_gateway} == {
        ("istio-ingressgateway", "productpage-v1")
    }
    from_legacy = ask(m, GraphView.WORKLOAD, namespaces=("legacy",)).requests
    assert from_legacy == ()  # an unknown caller has source namespace "unknown"
    assert ask(m, GraphView.WORKLOAD, namespaces=("quiet",)).requests == ()


def test_latency_comes_from_the_destination_reporter():
    m = mesh(noise=0.03)
    telemetry = ask(m, GraphView.WORKLOAD)
    windows = {w.edge.destination.name: w for w in m.model.window(T, 300)}
    [details] = [lat for lat in telemetry.latencies if lat.destination.workload == "details-v1"]
    expected = quantiles(windows["details-v1"].buckets["destination"])
    assert (details.p50_ms, details.p95_ms, details.p99_ms) == expected
    assert details.p50_ms != quantiles(windows["details-v1"].buckets["source"])[0]
    assert 1.0 < details.p50_ms < 5.0 < details.p99_ms


def test_app_view_latency_sums_buckets_before_the_quantile():
    m = mesh(split={"v1": 50, "v3": 50})
    [reviews] = [
        lat
        for lat in ask(m, GraphView.APP).latencies
        if lat.destination.app == "reviews" and lat.source.app == "productpage"
    ]
    windows = {w.edge.destination.name: w for w in m.model.window(T, 300)}
    summed = [
        a + b
        for a, b in zip(
            windows["reviews-v1"].buckets["destination"],
            windows["reviews-v3"].buckets["destination"],
            strict=True,
        )
    ]
    assert (reviews.p50_ms, reviews.p95_ms, reviews.p99_ms) == quantiles(summed)


def test_a_drained_version_stays_as_an_idle_edge_without_latency():
    m = mesh()
    m.state.set_split("bookinfo", "reviews", {"v2": 100}, at=T - 900)
    telemetry = ask(m, GraphView.WORKLOAD)
    v1 = [r for r in telemetry.requests if r.destination.workload == "reviews-v1"]
    assert v1 and all(r.rps == 0.0 for r in v1)
    [lat] = [lat for lat in telemetry.latencies if lat.destination.workload == "reviews-v1"]
    assert (lat.p50_ms, lat.p95_ms, lat.p99_ms) == (None, None, None)


def test_tcp_is_oriented_from_the_caller():
    base = bookinfo_spec()
    spec = MeshSpec(
        workloads=(*base.workloads, Workload("data", "mysql-v1", "mysql", service="mysql")),
        calls=(
            *base.calls,
            Call(
                "bookinfo",
                "ratings-v1",
                "data",
                "mysql",
                protocol="tcp",
                rps=1,
                sent_bps=50,
                received_bps=700,
            ),
        ),
    )
    telemetry = DemoMesh(spec, clock=lambda: T, noise=0.0).telemetry.graph_telemetry(
        GraphQuery(("data",), GraphView.WORKLOAD, 60, T)
    )
    [tcp] = telemetry.tcp
    assert (tcp.source.workload, tcp.destination.workload) == ("ratings-v1", "mysql-v1")
    assert (tcp.sent_bps, tcp.received_bps) == pytest.approx((50.0, 700.0))
    assert telemetry.requests == ()


def test_the_ambient_demo_reports_l7_from_waypoints_and_draws_the_same_graph():
    """Issue 21: same traffic, other reporters; each request still counted once."""
    from app import parse_args
    from mesh.graph.build import build_graph, graph_json

    assert parse_args(["--demo-ambient"]).demo_ambient is True
    assert parse_args([]).demo_ambient is False
    q = GraphQuery(("bookinfo",), GraphView.WORKLOAD, 300, T)
    sidecar = DemoMesh(bookinfo_spec(), clock=lambda: T, noise=0.0)
    ambient = DemoMesh(bookinfo_spec(ambient=True), clock=lambda: T, noise=0.0)
    telemetry = ambient.telemetry.graph_telemetry(q)
    inside = {r.reporter for r in telemetry.requests if r.source.namespace == "bookinfo"}
    assert inside == {"waypoint"}
    gateway = {r.reporter for r in telemetry.requests if r.source.namespace == "istio-system"}
    assert gateway == {"waypoint"}  # from outside the selection: the destination side counts

    def edges(t):
        return {(e["source"], e["target"]): e for e in graph_json(build_graph(t))["edges"]}

    # ztunnel's L4 to and from the waypoint's own pod is all the waypoint adds; hidden by default.
    from mesh.graph.waypoints import without_waypoints

    extra = set(edges(telemetry)) - set(edges(without_waypoints(telemetry)))
    assert extra and all("bookinfo/waypoint" in key for key in extra)
    assert all(edges(telemetry)[key]["protocol"] == "tcp" for key in extra)
    want, got = edges(sidecar.telemetry.graph_telemetry(q)), edges(without_waypoints(telemetry))
    assert set(got) == set(want)
    for key, edge in want.items():
        assert got[key]["rps"] == pytest.approx(edge["rps"]), key
        assert got[key]["p95_ms"] == pytest.approx(edge["p95_ms"]), key
