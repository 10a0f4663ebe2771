"""The graph model on hand-made records: node ids per view, figures, appenders, JSON output.

Records are made from full Istio label sets projected through mesh.graph.edge_keys, exactly as the
collector and the demo make them, so a change in either projection shows up here.
"""

from __future__ import annotations

import json
import math

import networkx as nx
import pytest

from mesh.graph.build import (
    EDGE_FIELDS,
    NODE_FIELDS,
    add_error_rates,
    add_health,
    add_latency,
    add_node_rates,
    add_share,
    add_tcp_bytes,
    build_graph,
    graph_json,
    graph_summary,
    mark_outsiders,
    pair_weights,
    traffic_graph,
)
from mesh.graph.edge_keys import destination_endpoint, source_endpoint
from mesh.health import HealthThresholds
from mesh.telemetry_records import (
    GraphQuery,
    GraphTelemetry,
    GraphView,
    LatencyQuantiles,
    RequestRate,
    TcpRate,
)

# (namespace, workload, app, version)
UNKNOWN = ("unknown", "unknown", "unknown", "unknown")
INGRESS = ("istio-system", "istio-ingressgateway", "istio-ingressgateway", "latest")
PRODUCTPAGE = ("bookinfo", "productpage-v1", "productpage", "v1")
REVIEWS_V1 = ("bookinfo", "reviews-v1", "reviews", "v1")
REVIEWS_V2 = ("bookinfo", "reviews-v2", "reviews", "v2")
DETAILS = ("bookinfo", "details-v1", "details", "v1")
RATINGS = ("bookinfo", "ratings-v1", "ratings", "v1")
MONGO = ("bookinfo", "mongodb-v1", "mongodb", "v1")
NO_ROUTE = ("unknown", "unknown", "unknown", "unknown")  # 503 NR: no workload was reached


def labels(src, dst, service=None, service_ns="bookinfo"):
    sns, swl, sapp, sver = src
    dns, dwl, dapp, dver = dst
    return {
        "source_workload_namespace": sns,
        "source_workload": swl,
        "source_canonical_service": sapp,
        "source_canonical_revision": sver,
        "destination_workload_namespace": dns,
        "destination_workload": dwl,
        "destination_canonical_service": dapp,
        "destination_canonical_revision": dver,
        "destination_service_name": service or dapp,
        "destination_service_namespace": service_ns,
    }


def req(view, src, dst, rps, code="200", grpc="", protocol="http", service=None):
    lab = labels(src, dst, service)
    return RequestRate(
        source_endpoint(lab, view),
        destination_endpoint(lab, view),
        protocol,
        code,
        grpc,
        rps,
    )


def lat(view, src, dst, p50, p95, p99, service=None):
    lab = labels(src, dst, service)
    return LatencyQuantiles(
        source_endpoint(lab, view), destination_endpoint(lab, view), p50, p95, p99
    )


def tcp(view, src, dst, sent, received):
    lab = labels(src, dst)
    return TcpRate(source_endpoint(lab, view), destination_endpoint(lab, view), sent, received)


def telemetry(view, requests=(), latencies=(), tcp_rates=(), namespaces=("bookinfo",)):
    return GraphTelemetry(
        query=GraphQuery(tuple(namespaces), view, 300, 1_700_000_000.0),
        requests=tuple(requests),
        latencies=tuple(latencies),
        tcp=tuple(tcp_rates),
        queries_sent=3,
    )


def bookinfo(view):
    """Unknown caller -> productpage -> reviews v1/v2 (v2 with 503s), details; v2 -> ratings."""
    return telemetry(
        view,
        requests=[
            req(view, UNKNOWN, PRODUCTPAGE, 10.0),
            req(view, PRODUCTPAGE, REVIEWS_V1, 3.0),
            req(view, PRODUCTPAGE, REVIEWS_V2, 3.0),
            req(view, PRODUCTPAGE, REVIEWS_V2, 1.0, code="503"),
            req(view, PRODUCTPAGE, DETAILS, 7.0),
            req(view, REVIEWS_V2, RATINGS, 4.0),
        ],
        latencies=[
            lat(view, PRODUCTPAGE, REVIEWS_V2, 10.0, 40.0, 80.0),
            lat(view, PRODUCTPAGE, REVIEWS_V1, 5.0, 9.5, 9.9),
        ],
    )


# --------------------------------------------------------------------------------- views


def test_workload_view_nodes_and_edges():
    g = build_graph(bookinfo(GraphView.WORKLOAD))
    assert set(g.nodes) == {
        "unknown",
        "bookinfo/productpage-v1",
        "bookinfo/reviews-v1",
        "bookinfo/reviews-v2",
        "bookinfo/details-v1",
        "bookinfo/ratings-v1",
    }
    pp = g.nodes["bookinfo/productpage-v1"]
    assert (pp["kind"], pp["namespace"], pp["workload"], pp["app"], pp["version"]) == (
        "workload",
        "bookinfo",
        "productpage-v1",
        "productpage",
        "v1",
    )
    assert pp["service"] == "productpage"
    assert pp["rps_in"] == pytest.approx(10.0)
    assert pp["rps_out"] == pytest.approx(14.0)
    assert pp["health"] == "healthy"

    e = g.edges["bookinfo/productpage-v1", "bookinfo/reviews-v2"]
    assert e["rps"] == pytest.approx(4.0)
    assert e["error_rate"] == pytest.approx(0.25)
    assert e["share"] == pytest.approx(4.0 / 14.0)
    assert e["health"] == "failure"
    assert e["protocol"] == "http"
    assert (e["p50_ms"], e["p95_ms"], e["p99_ms"]) == (10.0, 40.0, 80.0)
    assert e["bps"] is None and e["sent_bps"] is None

    r2 = g.nodes["bookinfo/reviews-v2"]
    assert r2["rps_in"] == pytest.approx(4.0)
    assert r2["rps_out"] == pytest.approx(4.0)
    assert r2["error_rate_in"] == pytest.approx(0.25)
    assert r2["health"] == "failure"
    assert g.edges["bookinfo/productpage-v1", "bookinfo/details-v1"]["p95_ms"] is None


def test_app_view_merges_versions():
    g = build_graph(bookinfo(GraphView.APP))
    assert set(g.nodes) == {
        "unknown",
        "bookinfo/productpage",
        "bookinfo/reviews",
        "bookinfo/details",
        "bookinfo/ratings",
    }
    e = g.edges["bookinfo/productpage", "bookinfo/reviews"]
    assert e["rps"] == pytest.approx(7.0)
    assert e["error_rate"] == pytest.approx(1.0 / 7.0)
    assert e["share"] == pytest.approx(0.5)
    node = g.nodes["bookinfo/reviews"]
    assert (node["kind"], node["app"], node["version"], node["workload"]) == (
        "app",
        "reviews",
        "",
        "",
    )


def test_versioned_app_view_keeps_versions():
    g = build_graph(bookinfo(GraphView.VERSIONED_APP))
    assert {"bookinfo/reviews/v1", "bookinfo/reviews/v2", "bookinfo/productpage/v1"} <= set(g.nodes)
    assert g.nodes["bookinfo/reviews/v2"]["version"] == "v2"
    assert g.nodes["bookinfo/reviews/v2"]["kind"] == "app"
    assert g.edges["bookinfo/productpage/v1", "bookinfo/reviews/v1"]["share"] == pytest.approx(
        3 / 14
    )
    assert g.edges["bookinfo/reviews/v2", "bookinfo/ratings/v1"]["rps"] == pytest.approx(4.0)


def test_service_view_uses_service_nodes_and_app_sources():
    g = build_graph(bookinfo(GraphView.SERVICE))
    assert set(g.nodes) == {
        "unknown",
        "bookinfo/productpage",
        "bookinfo/reviews",
        "bookinfo/details",
        "bookinfo/ratings",
    }
    # productpage is both a called service and a calling app: one node, a service node.
    pp = g.nodes["bookinfo/productpage"]
    assert pp["kind"] == "service"
    assert pp["service"] == "productpage"
    assert pp["rps_in"] == pytest.approx(10.0)
    assert pp["rps_out"] == pytest.approx(14.0)
    assert g.edges["bookinfo/reviews", "bookinfo/ratings"]["rps"] == pytest.approx(4.0)


@pytest.mark.parametrize("view", list(GraphView))
def test_unknown_caller_is_one_unknown_node_in_every_view(view):
    t = telemetry(
        view,
        requests=[
            req(view, UNKNOWN, PRODUCTPAGE, 2.0),
            req(view, UNKNOWN, DETAILS, 1.0),
        ],
    )
    g = build_graph(t)
    node = g.nodes["unknown"]
    assert node["kind"] == "unknown"
    assert node["outsider"] is False
    assert g.out_degree("unknown") == 2
    assert node["rps_out"] == pytest.approx(3.0)
    assert node["health"] == "healthy"  # judged on what it sends: it receives nothing


@pytest.mark.parametrize(
    ("view", "node_id"),
    [
        (GraphView.WORKLOAD, "bookinfo/reviews"),
        (GraphView.APP, "bookinfo/reviews"),
        (GraphView.VERSIONED_APP, "bookinfo/reviews"),
        (GraphView.SERVICE, "bookinfo/reviews"),
    ],
)
def test_no_route_destination_becomes_a_service_node(view, node_id):
    t = telemetry(
        view, requests=[req(view, PRODUCTPAGE, NO_ROUTE, 2.0, code="503", service="reviews")]
    )
    g = build_graph(t)
    node = g.nodes[node_id]
    assert node["kind"] == "service"
    assert (node["namespace"], node["service"]) == ("bookinfo", "reviews")
    assert node["outsider"] is False
    (edge,) = g.in_edges(node_id, data=True)
    assert edge[2]["error_rate"] == pytest.approx(1.0)
    assert edge[2]["health"] == "failure"


# --------------------------------------------------------------------------------- errors


def test_grpc_errors_count_even_with_http_200():
    view = GraphView.WORKLOAD
    t = telemetry(
        view,
        requests=[
            req(view, PRODUCTPAGE, RATINGS, 9.0, code="200", grpc="0", protocol="grpc"),
            req(view, PRODUCTPAGE, RATINGS, 1.0, code="200", grpc="14", protocol="grpc"),
        ],
    )
    e = build_graph(t).edges["bookinfo/productpage-v1", "bookinfo/ratings-v1"]
    assert e["protocol"] == "grpc"
    assert e["error_rate"] == pytest.approx(0.1)
    assert e["health"] == "failure"


def test_code_zero_is_an_error_and_4xx_are_kept_apart():
    view = GraphView.WORKLOAD
    t = telemetry(
        view,
        requests=[
            req(view, PRODUCTPAGE, DETAILS, 17.0),
            req(view, PRODUCTPAGE, DETAILS, 1.0, code="0"),
            req(view, PRODUCTPAGE, DETAILS, 2.0, code="404"),
        ],
    )
    g = build_graph(t)
    e = g.edges["bookinfo/productpage-v1", "bookinfo/details-v1"]
    assert e["error_rate"] == pytest.approx(0.05)
    assert e["error_rate_4xx"] == pytest.approx(0.10)
    assert e["health"] == "degraded"
    n = g.nodes["bookinfo/details-v1"]
    assert n["error_rate_in"] == pytest.approx(0.05)
    assert n["error_rate_4xx_in"] == pytest.approx(0.10)


def test_client_errors_alone_follow_their_own_thresholds():
    view = GraphView.WORKLOAD

    def state(ratio_4xx):
        t = telemetry(
            view,
            requests=[
                req(view, PRODUCTPAGE, DETAILS, 100.0 * (1 - ratio_4xx)),
                req(view, PRODUCTPAGE, DETAILS, 100.0 * ratio_4xx, code="404"),
            ],
        )
        return build_graph(t).edges["bookinfo/productpage-v1", "bookinfo/details-v1"]["health"]

    assert state(0.05) == "healthy"
    assert state(0.10) == "degraded"
    assert state(0.20) == "failure"


def test_thresholds_are_applied():
    lenient = HealthThresholds(error_degraded=0.3, error_failure=0.5)
    g = build_graph(bookinfo(GraphView.WORKLOAD), lenient)
    assert g.edges["bookinfo/productpage-v1", "bookinfo/reviews-v2"]["health"] == "healthy"
    assert g.nodes["bookinfo/reviews-v2"]["health"] == "healthy"


def test_node_health_comes_from_inbound_traffic():
    view = GraphView.WORKLOAD
    # productpage receives clean traffic but its calls to reviews fail: it stays healthy,
    # reviews is the failing one.
    t = telemetry(
        view,
        requests=[
            req(view, INGRESS, PRODUCTPAGE, 10.0),
            req(view, PRODUCTPAGE, REVIEWS_V1, 5.0, code="500"),
        ],
    )
    g = build_graph(t)
    assert g.nodes["bookinfo/productpage-v1"]["health"] == "healthy"
    assert g.nodes["bookinfo/reviews-v1"]["health"] == "failure"
    # The ingress gateway receives nothing: it is judged on what it sends.
    assert g.nodes["istio-system/istio-ingressgateway"]["health"] == "healthy"


def test_idle_edges_and_nodes():
    view = GraphView.WORKLOAD
    g = build_graph(telemetry(view, requests=[req(view, PRODUCTPAGE, DETAILS, 0.0)]))
    e = g.edges["bookinfo/productpage-v1", "bookinfo/details-v1"]
    assert (e["health"], e["error_rate"], e["share"]) == ("idle", 0.0, None)
    assert g.nodes["bookinfo/details-v1"]["health"] == "idle"


# --------------------------------------------------------------------------------- shares


def test_fifty_fifty_split_is_visible_in_shares():
    view = GraphView.VERSIONED_APP
    t = telemetry(
        view,
        requests=[
            req(view, PRODUCTPAGE, REVIEWS_V1, 5.0),
            req(view, PRODUCTPAGE, REVIEWS_V2, 5.0),
        ],
    )
    g = build_graph(t)
    shares = sorted(d["share"] for _, _, d in g.out_edges("bookinfo/productpage/v1", data=True))
    assert shares == [pytest.approx(0.5), pytest.approx(0.5)]


def test_protocol_is_the_one_carrying_most_requests():
    view = GraphView.WORKLOAD
    t = telemetry(
        view,
        requests=[
            req(view, PRODUCTPAGE, DETAILS, 1.0, protocol="http"),
            req(view, PRODUCTPAGE, DETAILS, 3.0, grpc="0", protocol="grpc"),
        ],
    )
    assert (
        build_graph(t).edges["bookinfo/productpage-v1", "bookinfo/details-v1"]["protocol"] == "grpc"
    )


# --------------------------------------------------------------------------------- tcp


def test_tcp_edge_bytes_in_caller_orientation():
    view = GraphView.WORKLOAD
    t = telemetry(
        view,
        requests=[req(view, RATINGS, DETAILS, 2.0)],
        tcp_rates=[
            tcp(view, RATINGS, MONGO, 1000.0, 4000.0),
            tcp(view, RATINGS, MONGO, 500.0, 0.0),
        ],
    )
    g = build_graph(t)
    e = g.edges["bookinfo/ratings-v1", "bookinfo/mongodb-v1"]
    assert e["protocol"] == "tcp"
    assert (e["sent_bps"], e["received_bps"], e["bps"]) == (1500.0, 4000.0, 5500.0)
    assert e["rps"] == 0.0
    assert e["share"] is None  # TCP carries no requests to share
    assert e["health"] == "healthy"
    assert g.edges["bookinfo/ratings-v1", "bookinfo/details-v1"]["share"] == pytest.approx(1.0)
    mongo = g.nodes["bookinfo/mongodb-v1"]
    assert mongo["health"] == "healthy"  # bytes flow in, though no request does
    assert mongo["rps_in"] == 0.0


# --------------------------------------------------------------------------------- latency


def test_latency_keeps_the_record_with_most_traffic_when_several_map_to_one_edge():
    view = GraphView.WORKLOAD
    t = telemetry(
        view,
        requests=[
            req(view, PRODUCTPAGE, REVIEWS_V2, 10.0, service="reviews"),
            req(view, PRODUCTPAGE, REVIEWS_V2, 1.0, service="reviews-canary"),
        ],
        latencies=[
            lat(view, PRODUCTPAGE, REVIEWS_V2, 500.0, 900.0, 990.0, service="reviews-canary"),
            lat(view, PRODUCTPAGE, REVIEWS_V2, 8.0, 20.0, 30.0, service="reviews"),
        ],
    )
    g = build_graph(t)
    e = g.edges["bookinfo/productpage-v1", "bookinfo/reviews-v2"]
    assert (e["p50_ms"], e["p95_ms"], e["p99_ms"]) == (8.0, 20.0, 30.0)
    assert e["rps"] == pytest.approx(11.0)
    # The node's service is the one carrying most of its traffic.
    assert g.nodes["bookinfo/reviews-v2"]["service"] == "reviews"


def test_latency_without_requests_adds_nothing():
    view = GraphView.WORKLOAD
    t = telemetry(view, latencies=[lat(view, PRODUCTPAGE, DETAILS, 1.0, 2.0, 3.0)])
    g = build_graph(t)
    assert g.number_of_nodes() == 0 and g.number_of_edges() == 0


def test_unknown_quantiles_stay_none():
    view = GraphView.WORKLOAD
    t = telemetry(
        view,
        requests=[req(view, PRODUCTPAGE, DETAILS, 1.0)],
        latencies=[lat(view, PRODUCTPAGE, DETAILS, None, None, None)],
    )
    e = build_graph(t).edges["bookinfo/productpage-v1", "bookinfo/details-v1"]
    assert (e["p50_ms"], e["p95_ms"], e["p99_ms"]) == (None, None, None)


# --------------------------------------------------------------------------------- outsiders


def test_outsiders_are_nodes_from_namespaces_not_asked_for():
    view = GraphView.WORKLOAD
    t = telemetry(
        view,
        requests=[req(view, INGRESS, PRODUCTPAGE, 1.0), req(view, UNKNOWN, PRODUCTPAGE, 1.0)],
    )
    g = build_graph(t)
    assert g.nodes["istio-system/istio-ingressgateway"]["outsider"] is True
    assert g.nodes["bookinfo/productpage-v1"]["outsider"] is False
    assert g.nodes["unknown"]["outsider"] is False


def test_several_namespaces():
    view = GraphView.WORKLOAD
    t = telemetry(
        view,
        requests=[req(view, INGRESS, PRODUCTPAGE, 1.0)],
        namespaces=("bookinfo", "istio-system"),
    )
    g = build_graph(t)
    assert not any(n["outsider"] for _, n in g.nodes(data=True))


# --------------------------------------------------------------------------------- appenders alone


def _tiny_graph():
    g = nx.DiGraph(view="workload")
    for node_id, ns in (("a/x", "a"), ("a/y", "a"), ("b/z", "b")):
        g.add_node(node_id, id=node_id, kind="workload", namespace=ns, rps_in=0.0, rps_out=0.0)
    base = {"error_rps": 0.0, "client_error_rps": 0.0, "protocol": "http", "bps": None}
    g.add_edge("a/x", "a/y", **{**base, "rps": 3.0, "error_rps": 0.3})
    g.add_edge("a/x", "b/z", **{**base, "rps": 1.0, "client_error_rps": 0.5})
    return g


def test_add_share_alone():
    g = _tiny_graph()
    add_share(g)
    assert g.edges["a/x", "a/y"]["share"] == pytest.approx(0.75)
    assert g.edges["a/x", "b/z"]["share"] == pytest.approx(0.25)


def test_add_node_rates_and_error_rates_alone():
    g = _tiny_graph()
    add_node_rates(g)
    add_error_rates(g)
    assert g.nodes["a/x"]["rps_out"] == pytest.approx(4.0)
    assert g.nodes["a/y"]["rps_in"] == pytest.approx(3.0)
    assert g.nodes["a/y"]["error_rate_in"] == pytest.approx(0.1)
    assert g.edges["a/x", "b/z"]["error_rate_4xx"] == pytest.approx(0.5)


def test_add_health_alone():
    g = _tiny_graph()
    add_node_rates(g)
    add_health(g, HealthThresholds())
    assert g.edges["a/x", "a/y"]["health"] == "failure"  # 0.3 / 3.0 is exactly 10%
    assert g.edges["a/x", "b/z"]["health"] == "failure"  # 50% client errors
    assert g.nodes["a/y"]["health"] == "failure"


def test_mark_outsiders_alone():
    g = _tiny_graph()
    mark_outsiders(g, ["a"])
    assert [g.nodes[n]["outsider"] for n in ("a/x", "a/y", "b/z")] == [False, False, True]


def test_add_tcp_bytes_and_add_latency_alone():
    view = GraphView.WORKLOAD
    g = traffic_graph(telemetry(view, requests=[req(view, PRODUCTPAGE, DETAILS, 2.0)]))
    add_tcp_bytes(g, [tcp(view, PRODUCTPAGE, DETAILS, 10.0, 20.0)])
    add_latency(g, [lat(view, PRODUCTPAGE, DETAILS, 1.0, 2.0, 3.0)], pair_weights([]))
    e = g.edges["bookinfo/productpage-v1", "bookinfo/details-v1"]
    assert (e["bps"], e["p95_ms"], e["protocol"]) == (30.0, 2.0, "http")


# --------------------------------------------------------------------------------- JSON


def test_graph_json_is_sorted_complete_and_strict_json():
    g = build_graph(bookinfo(GraphView.WORKLOAD))
    body = graph_json(g)
    ids = [n["id"] for n in body["nodes"]]
    assert ids == sorted(ids)
    pairs = [(e["source"], e["target"]) for e in body["edges"]]
    assert pairs == sorted(pairs)
    assert all(tuple(n) == NODE_FIELDS for n in body["nodes"])
    assert all(tuple(e) == EDGE_FIELDS for e in body["edges"])
    json.dumps(body, allow_nan=False)
    edge = next(e for e in body["edges"] if e["target"] == "bookinfo/reviews-v2")
    assert edge["id"] == "bookinfo/productpage-v1->bookinfo/reviews-v2"
    assert edge["share"] == pytest.approx(4 / 14, abs=1e-4)


def test_graph_json_replaces_non_finite_and_keeps_small_rates_precise():
    view = GraphView.WORKLOAD
    g = build_graph(
        telemetry(
            view,
            requests=[
                req(view, PRODUCTPAGE, DETAILS, 1.0 / 300.0),
                req(view, PRODUCTPAGE, REVIEWS_V1, 123.456789),
            ],
            latencies=[lat(view, PRODUCTPAGE, DETAILS, math.nan, math.inf, 12.34567)],
        )
    )
    body = graph_json(g)
    small = next(e for e in body["edges"] if e["target"] == "bookinfo/details-v1")
    assert small["rps"] == pytest.approx(1 / 300, rel=1e-4)
    assert small["p50_ms"] is None and small["p95_ms"] is None
    assert small["p99_ms"] == 12.346
    big = next(e for e in body["edges"] if e["target"] == "bookinfo/reviews-v1")
    assert big["rps"] == 123.4568
    json.dumps(body, allow_nan=False)


def test_empty_telemetry_is_an_empty_graph():
    g = build_graph(telemetry(GraphView.WORKLOAD))
    assert graph_json(g) == {"nodes": [], "edges": []}
    assert graph_summary(g)["rps"] == 0.0


def test_graph_summary():
    s = graph_summary(build_graph(bookinfo(GraphView.WORKLOAD)))
    assert s["nodes"] == 6 and s["edges"] == 5
    assert s["rps"] == pytest.approx(28.0)
    assert s["error_rate"] == pytest.approx(1 / 28, abs=1e-6)
    assert s["health"]["failure"] == 1  # reviews-v2
    assert sum(s["health"].values()) == 6


def test_output_does_not_depend_on_record_order():
    t = bookinfo(GraphView.WORKLOAD)
    reversed_t = telemetry(
        GraphView.WORKLOAD,
        requests=reversed(t.requests),
        latencies=reversed(t.latencies),
    )
    assert graph_json(build_graph(t)) == graph_json(build_graph(reversed_t))


# ---------------------------------------------------------------------------------------------
# Clusters (issue 8)


def _labels(src: str, src_cluster: str, dst: str, dst_cluster: str) -> dict[str, str]:
    return {
        "source_workload_namespace": "bookinfo",
        "source_workload": src,
        "source_canonical_service": src.rsplit("-", 1)[0],
        "source_canonical_revision": "v1",
        "source_cluster": src_cluster,
        "destination_service_namespace": "bookinfo",
        "destination_service_name": dst.rsplit("-", 1)[0],
        "destination_workload_namespace": "bookinfo",
        "destination_workload": dst,
        "destination_canonical_service": dst.rsplit("-", 1)[0],
        "destination_canonical_revision": "v1",
        "destination_cluster": dst_cluster,
    }


def _clustered(*edges: tuple[str, str, str, str, float], **kw) -> GraphTelemetry:
    view = GraphView.WORKLOAD
    records = []
    for src, sc, dst, dc, rps in edges:
        labels = _labels(src, sc, dst, dc)
        records.append(
            RequestRate(
                source_endpoint(labels, view),
                destination_endpoint(labels, view),
                "http",
                "200",
                "",
                rps,
            )
        )
    return GraphTelemetry(
        query=GraphQuery(("bookinfo",), view, 300, 0.0), requests=tuple(records), **kw
    )


def test_one_cluster_keeps_plain_ids_and_names_the_cluster():
    g = build_graph(_clustered(("productpage-v1", "east", "reviews-v1", "east", 2.0)))
    body = graph_json(g)
    assert [n["id"] for n in body["nodes"]] == ["bookinfo/productpage-v1", "bookinfo/reviews-v1"]
    assert {n["cluster"] for n in body["nodes"]} == {"east"}
    assert body["edges"][0]["cross_cluster"] is False


def test_two_clusters_put_the_cluster_in_front_of_every_id_and_mark_crossing_edges():
    g = build_graph(
        _clustered(
            ("productpage-v1", "east", "reviews-v1", "east", 2.0),
            ("productpage-v1", "east", "reviews-v1", "west", 1.0),  # same name, other cluster
            ("unknown", "unknown", "productpage-v1", "east", 3.0),
        )
    )
    body = graph_json(g)
    assert [n["id"] for n in body["nodes"]] == [
        "east:bookinfo/productpage-v1",
        "east:bookinfo/reviews-v1",
        "unknown",
        "west:bookinfo/reviews-v1",
    ]
    crossing = {(e["source"], e["target"]): e["cross_cluster"] for e in body["edges"]}
    assert crossing == {
        ("east:bookinfo/productpage-v1", "east:bookinfo/reviews-v1"): False,
        ("east:bookinfo/productpage-v1", "west:bookinfo/reviews-v1"): True,
        ("unknown", "east:bookinfo/productpage-v1"): False,
    }
    assert next(n for n in body["nodes"] if n["id"] == "unknown")["cluster"] == ""


def test_clusters_the_source_serves_keep_ids_stable_when_one_has_no_data():
    g = build_graph(
        _clustered(("reviews-v2", "west", "ratings-v1", "west", 1.0), clusters=("east", "west"))
    )
    assert sorted(g.nodes) == ["west:bookinfo/ratings-v1", "west:bookinfo/reviews-v2"]


def test_keep_clusters_shows_a_cluster_with_its_callers_and_callees():
    from mesh.graph.build import keep_clusters

    g = build_graph(
        _clustered(
            ("productpage-v1", "east", "reviews-v1", "east", 2.0),
            ("productpage-v1", "east", "reviews-v2", "west", 1.0),
            ("reviews-v2", "west", "ratings-v1", "west", 1.0),
        )
    )
    west = keep_clusters(g, ["west"])
    assert sorted(west.edges) == [
        ("east:bookinfo/productpage-v1", "west:bookinfo/reviews-v2"),
        ("west:bookinfo/reviews-v2", "west:bookinfo/ratings-v1"),
    ]
    assert west.nodes["east:bookinfo/productpage-v1"]["rps_out"] == pytest.approx(3.0)
    assert keep_clusters(g, []) is g
