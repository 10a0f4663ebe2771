"""mesh/graph/reporters.py and the graph's security and naming rules on hand-made records (issue 23)."""

from __future__ import annotations

import pytest

from mesh.envoy_flags import explain, split_flags
from mesh.graph.build import build_graph, graph_json, host_parts, security_summary
from mesh.graph.reporters import counted_once
from mesh.telemetry_records import (
    Endpoint,
    GraphQuery,
    GraphTelemetry,
    GraphView,
    RequestRate,
    TcpRate,
)

T = 1_767_225_600.0
PP = Endpoint("bookinfo", "productpage-v1", "productpage", "v1")
DETAILS = Endpoint("bookinfo", "details-v1", "details", "v1", "details", "bookinfo")
GATEWAY = Endpoint("istio-system", "istio-ingressgateway", "istio-ingressgateway", "latest")
PP_DST = Endpoint("bookinfo", "productpage-v1", "productpage", "v1", "productpage", "bookinfo")
UNMESHED = Endpoint("unknown", "unknown", "unknown", "unknown")


def req(src, dst, rps, reporter="source", security="", code="200", flags="-"):
    return RequestRate(src, dst, "http", code, "", rps, reporter, flags, security)


def body(records, namespaces=("bookinfo",), view=GraphView.WORKLOAD, tcp=()):
    q = GraphQuery(namespaces, view, 300, T)
    g = build_graph(GraphTelemetry(query=q, requests=tuple(records), tcp=tuple(tcp)))
    return {(e["source"], e["target"]): e for e in graph_json(g)["edges"]}, g


def test_inside_traffic_counts_the_callers_report_once():
    records = [
        req(PP, DETAILS, 50.0),
        req(PP, DETAILS, 30.0, "destination", "mutual_tls"),
        req(PP, DETAILS, 20.0, "destination", "none"),
    ]
    assert counted_once(records, ["bookinfo"]) == (records[0],)
    edges, _ = body(records)
    edge = edges[("bookinfo/productpage-v1", "bookinfo/details-v1")]
    assert edge["rps"] == 50.0
    assert edge["mtls"] == pytest.approx(0.6)


def test_traffic_from_elsewhere_counts_the_destinations_report():
    records = [
        req(GATEWAY, PP_DST, 100.0),  # the gateway's own report, when it is scraped here
        req(GATEWAY, PP_DST, 100.0, "destination", "mutual_tls"),
        req(UNMESHED, PP_DST, 2.0, "destination", "none"),
    ]
    assert counted_once(records, ["bookinfo"]) == tuple(records)  # the query reads no such source
    edges, _ = body(records[1:])
    assert edges[("istio-system/istio-ingressgateway", "bookinfo/productpage-v1")]["rps"] == 100.0
    assert edges[("unknown", "bookinfo/productpage-v1")]["mtls"] == 0.0


def test_a_missing_callers_report_is_stood_in_for_by_the_destinations():
    records = [req(PP, DETAILS, 30.0, "destination", "mutual_tls")]
    assert counted_once(records, ["bookinfo"]) == tuple(records)
    edges, _ = body(records)
    assert edges[("bookinfo/productpage-v1", "bookinfo/details-v1")]["rps"] == 30.0


def test_no_pod_requests_go_to_the_service_of_their_host_with_flags():
    nowhere = Endpoint("unknown", "unknown", "unknown", "unknown", "unknown", "unknown",
                       host="reviews.bookinfo.svc.cluster.local")  # fmt: skip
    frontend = Endpoint("shop", "frontend-v1", "frontend", "v1")
    edges, g = body([req(frontend, nowhere, 40.0, code="503", flags="NR")])
    edge = edges[("shop/frontend-v1", "bookinfo/reviews")]
    assert edge["mtls"] is None  # no destination report: unknown, never secure
    assert edge["responses"] == [{"code": "503", "grpc": "", "flags": "NR", "rps": 40.0}]
    node = g.nodes["bookinfo/reviews"]
    assert (node["kind"], node["namespace"], node["health"], node["outsider"]) == (
        "service", "bookinfo", "failure", False,
    )  # fmt: skip
    assert security_summary(g)["plaintext_share"] is None  # not enough data, never 0 %


@pytest.mark.parametrize(
    ("host", "parts"),
    [
        ("reviews.bookinfo.svc.cluster.local", ("reviews", "bookinfo")),
        ("reviews.bookinfo:9080", ("reviews", "bookinfo")),
        ("reviews:9080", ("", "")),
        ("10.0.0.7:9080", ("", "")),
        ("", ("", "")),
        ("reviews.bookinfo.svc", ("reviews", "bookinfo")),
        ("api.pay.example.com", ("", "")),  # outside the cluster
        ("api.pay.example.com:443", ("", "")),
    ],
)
def test_host_parts(host, parts):
    assert host_parts(host) == parts


@pytest.mark.parametrize("view", list(GraphView), ids=lambda v: v.value)
def test_unlabelled_workloads_never_become_a_service_named_unknown(view):
    caller = Endpoint("bookinfo", "batch-job", "unknown", "unknown")
    callee = Endpoint("bookinfo", "legacy-worker", "unknown", "unknown", "unknown", "unknown",
                      host="10.1.2.3:8080")  # fmt: skip
    edges, g = body([req(caller, callee, 7.0)], view=view)
    assert list(edges) == [("bookinfo/batch-job", "bookinfo/legacy-worker")]
    assert not any("unknown" in n for n in g.nodes)


def test_tcp_mtls_is_a_share_of_bytes():
    db = Endpoint("bookinfo", "mysql-v1", "mysql", "v1", "mysql", "bookinfo")
    tcp = [
        TcpRate(GATEWAY, db, 2400.0, 600.0, "destination", "mutual_tls"),
        TcpRate(GATEWAY, db, 800.0, 200.0, "destination", "none"),
    ]
    edges, g = body([], tcp=tcp)
    edge = edges[("istio-system/istio-ingressgateway", "bookinfo/mysql-v1")]
    assert (edge["bps"], edge["mtls"]) == (4000.0, 0.75)
    summary = security_summary(g)
    assert summary["plaintext_bps_share"] == 0.25 and summary["plaintext_share"] is None


def test_envoy_flags_in_plain_words():
    assert split_flags("-") == () and split_flags("UH,URX") == ("UH", "URX")
    words = dict(explain("NR,UH,UF,URX,DC,UO"))
    assert words["NR"].startswith("no route configured")
    assert words["UH"].startswith("no healthy upstream")
    assert words["UF"].startswith("upstream connection failure")
    assert words["URX"].startswith("retry limit reached")
    assert words["DC"].startswith("downstream closed")
    assert words["UO"].startswith("circuit breaker open")
    assert "does not describe" in dict(explain("XYZ"))["XYZ"]


def test_destination_reports_without_a_policy_leave_mtls_unknown():
    records = [
        req(GATEWAY, PP_DST, 10.0, "destination", ""),
        req(GATEWAY, PP_DST, 5.0, "destination", "unknown"),
    ]
    edges, g = body(records)
    assert edges[("istio-system/istio-ingressgateway", "bookinfo/productpage-v1")]["mtls"] is None
    assert security_summary(g)["plaintext_share"] is None  # not "100 % plain text"
    mixed = [*records, req(GATEWAY, PP_DST, 5.0, "destination", "mutual_tls")]
    edges, _ = body(mixed)
    assert edges[("istio-system/istio-ingressgateway", "bookinfo/productpage-v1")]["mtls"] == 1.0


def test_a_caller_whose_requests_reach_no_pod_is_not_green():
    nowhere = Endpoint("unknown", "unknown", "unknown", "unknown", "reviews", "bookinfo",
                       host="reviews.bookinfo.svc.cluster.local")  # fmt: skip
    records = [
        req(GATEWAY, PP_DST, 100.0, "destination", "mutual_tls"),  # productpage's inbound: fine
        req(PP, nowhere, 5.0, code="503", flags="UH"),
        req(PP, DETAILS, 50.0),
    ]
    _, g = body(records)
    node = g.nodes["bookinfo/productpage-v1"]
    assert node["error_rate_in"] == 0.0
    assert node["health"] == "failure"  # 100 % of what reached no pod failed
    assert g.nodes["bookinfo/details-v1"]["health"] == "healthy"


# ------------------------------------------------------------------------- ambient (issue 21)

REVIEWS = Endpoint("bookinfo", "reviews-v1", "reviews", "v1", "reviews", "bookinfo")
WAYPOINT_SRC = Endpoint("bookinfo", "waypoint", "waypoint", "latest")
WAYPOINT_DST = Endpoint("bookinfo", "waypoint", "waypoint", "latest", "waypoint", "bookinfo")


def test_an_ambient_callers_requests_count_from_the_waypoints_report():
    records = [req(PP, REVIEWS, 40.0, "waypoint", "mutual_tls")]
    assert counted_once(records, ["bookinfo"]) == tuple(records)
    edges, _ = body(records)
    assert edges[("bookinfo/productpage-v1", "bookinfo/reviews-v1")]["rps"] == 40.0
    assert edges[("bookinfo/productpage-v1", "bookinfo/reviews-v1")]["mtls"] == 1.0


@pytest.mark.parametrize("other", ["source", "destination"])
def test_a_waypoints_report_never_counts_beside_a_sidecars(other):
    records = [req(PP, REVIEWS, 40.0, other, "mutual_tls"), req(PP, REVIEWS, 40.0, "waypoint")]
    assert counted_once(records, ["bookinfo"]) == (records[0],)
    edges, _ = body(records)
    assert edges[("bookinfo/productpage-v1", "bookinfo/reviews-v1")]["rps"] == 40.0


def test_waypoints_are_hidden_unless_asked_for():
    from mesh.graph.waypoints import is_waypoint, without_waypoints

    assert is_waypoint(WAYPOINT_SRC) and is_waypoint(Endpoint("x", "reviews-waypoint"))
    assert not is_waypoint(PP) and not is_waypoint(Endpoint("x", "waypoints-api"))
    q = GraphQuery(("bookinfo",), GraphView.WORKLOAD, 300, T)
    tcp = (
        TcpRate(PP, WAYPOINT_DST, 10.0, 20.0, "source"),
        TcpRate(WAYPOINT_SRC, REVIEWS, 10.0, 20.0, "source"),
        TcpRate(PP, DETAILS, 1.0, 2.0, "source"),
    )
    t = GraphTelemetry(query=q, requests=(req(PP, REVIEWS, 5.0, "waypoint"),), tcp=tcp)
    hidden = without_waypoints(t)
    assert hidden.tcp == (tcp[2],) and hidden.requests == t.requests
