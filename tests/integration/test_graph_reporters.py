"""Issue 23 on a REAL Prometheus: each request counted once from the report Kiali's rules choose,
failures that reached no pod in their host's namespace, workloads without app labels, and every
edge's mTLS share, in every graph type and across two per-cluster Prometheus servers.

Expectations are PromQL's own answers on the chosen report (written out here, not taken from
mesh/): rps and bytes within 1 %, error shares equal, mTLS within 0.01.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from collectors.prometheus import PrometheusCollector
from collectors.prometheus_clusters import ClusterPrometheus
from demo.openmetrics import write_series
from devtools.promserver import PrometheusServer, require_prometheus
from mesh.graph.build import build_graph, graph_json, security_summary
from mesh.telemetry_records import GraphQuery, GraphView
from tests.integration import reporters_scenario as sc
from tests.integration.prom_received import endpoint_urls, queries_received

pytestmark = pytest.mark.integration

W = "5m"
WORKLOAD, APP, VAPP, SERVICE = (
    GraphView.WORKLOAD,
    GraphView.APP,
    GraphView.VERSIONED_APP,
    GraphView.SERVICE,
)

# The chosen report of each edge (PromQL matchers), and the edge's ids in each view.
CHOSEN: dict[str, str] = {
    "gateway": 'reporter="destination",source_workload="istio-ingressgateway",'
    'destination_workload="productpage-v1"',
    "details": 'reporter="source",source_workload="productpage-v1",destination_workload="details-v1"',
    "payments": 'reporter="source",source_workload="productpage-v1",'
    'destination_workload="payments-v1"',
    "unmeshed": 'reporter="destination",source_workload="unknown",'
    'destination_workload="productpage-v1"',
    "no_route_inside": 'reporter="source",source_workload="productpage-v1",'
    'destination_workload="unknown"',
    "no_route_storm": 'reporter="source",source_workload="frontend-v1",'
    'destination_service="reviews.bookinfo.svc.cluster.local"',
    "unlabelled_callee": 'reporter="source",source_workload="productpage-v1",'
    'destination_workload="legacy-worker"',
    "unlabelled_caller": 'reporter="source",source_workload="batch-job",'
    'destination_workload="details-v1"',
}
TCP_CHOSEN = (
    'reporter="destination",source_workload="istio-ingressgateway",destination_workload="mysql-v1"'
)

WORKLOAD_IDS: dict[str, tuple[str, str]] = {
    "gateway": ("istio-system/istio-ingressgateway", "bookinfo/productpage-v1"),
    "details": ("bookinfo/productpage-v1", "bookinfo/details-v1"),
    "payments": ("bookinfo/productpage-v1", "payments/payments-v1"),
    "unmeshed": ("unknown", "bookinfo/productpage-v1"),
    "no_route_inside": ("bookinfo/productpage-v1", "bookinfo/reviews"),
    "no_route_storm": ("shop/frontend-v1", "bookinfo/reviews"),
    "unlabelled_callee": ("bookinfo/productpage-v1", "bookinfo/legacy-worker"),
    "unlabelled_caller": ("bookinfo/batch-job", "bookinfo/details-v1"),
    "tcp": ("istio-system/istio-ingressgateway", "bookinfo/mysql-v1"),
}

APP_IDS: dict[str, tuple[str, str]] = {
    "gateway": ("istio-system/istio-ingressgateway", "bookinfo/productpage"),
    "details": ("bookinfo/productpage", "bookinfo/details"),
    "payments": ("bookinfo/productpage", "payments/payments"),
    "unmeshed": ("unknown", "bookinfo/productpage"),
    "no_route_inside": ("bookinfo/productpage", "bookinfo/reviews"),
    "no_route_storm": ("shop/frontend", "bookinfo/reviews"),
    "unlabelled_callee": ("bookinfo/productpage", "bookinfo/legacy-worker"),
    "unlabelled_caller": ("bookinfo/batch-job", "bookinfo/details"),
    "tcp": ("istio-system/istio-ingressgateway", "bookinfo/mysql"),
}

# The versioned-app view adds each app's version to its node (unlabelled workloads, services
# without a pod and unknown callers have none).
VERSIONS = {
    "istio-system/istio-ingressgateway": "latest",
    "bookinfo/productpage": "v1",
    "bookinfo/details": "v1",
    "payments/payments": "v1",
    "shop/frontend": "v1",
    "bookinfo/mysql": "v1",
}


def _versioned(node: str) -> str:
    return f"{node}/{VERSIONS[node]}" if node in VERSIONS else node


IDS: dict[GraphView, dict[str, tuple[str, str]]] = {
    WORKLOAD: WORKLOAD_IDS,
    APP: APP_IDS,
    VAPP: {edge: (_versioned(s), _versioned(d)) for edge, (s, d) in APP_IDS.items()},
    # Every service here is named after its app: the service view has the app view's ids.
    SERVICE: APP_IDS,
}


def load(server: PrometheusServer, series) -> PrometheusServer:
    buf = io.StringIO()
    write_series(series, buf)
    server.load_openmetrics(buf.getvalue())
    server.start()
    return server


@pytest.fixture(scope="module")
def prom(tmp_path_factory) -> Iterator[PrometheusServer]:
    require_prometheus()
    server = load(PrometheusServer(tmp_path_factory.mktemp("reporters")), sc.one_cluster_series())
    try:
        yield server
    finally:
        server.close()


def value(prom: PrometheusServer, text: str) -> float:
    v = prom.query_value(text, sc.END)
    return 0.0 if v is None else v


def rate(prom: PrometheusServer, sel: str, extra: str = "") -> float:
    inner = f"{sel},{extra}" if extra else sel
    return value(prom, f"sum(rate(istio_requests_total{{{inner}}}[{W}]))")


def mtls_share(prom: PrometheusServer, sel: str) -> float | None:
    """PromQL's share of the destination's reports with mutual TLS, None without any."""
    dst = sel.replace('reporter="source"', 'reporter="destination"')
    total = rate(prom, dst)
    if total == 0:
        return None
    return rate(prom, dst, 'connection_security_policy="mutual_tls"') / total


def graph(source: Any, view: GraphView, namespaces=(sc.NS,)) -> dict[str, Any]:
    urls = endpoint_urls(source)
    before = [queries_received(url) for url in urls]
    telemetry = source.graph_telemetry(GraphQuery(tuple(namespaces), view, 300, sc.END))
    # Every endpoint received the queries the answer reports: three, one per metric family.
    received = [queries_received(url) - b for url, b in zip(urls, before, strict=True)]
    assert received == [telemetry.queries_sent] * len(urls) == [3] * len(urls)
    built = build_graph(telemetry)
    return {**graph_json(built), "security": security_summary(built)}


def edges_of(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["source"], e["target"]): e for e in body["edges"]}


@pytest.fixture(scope="module")
def collector(prom) -> Iterator[PrometheusCollector]:
    c = PrometheusCollector(prom.url, timeout_s=20.0)
    yield c
    c.close()


@pytest.mark.parametrize("view", list(GraphView), ids=lambda v: v.value)
def test_every_edge_the_rules_draw_matches_promql_on_the_chosen_report(prom, collector, view):
    body = graph(collector, view)
    got = edges_of(body)
    ids = IDS[view]
    # Exactly the edges the rules draw: nothing from the source reports of traffic entering
    # from elsewhere, nothing to a host outside the selection (reviews.other).
    assert set(got) == set(ids.values())
    assert not [n for n in body["nodes"] if n["namespace"] == "other"]
    assert not [
        n for n in body["nodes"] if n.get("service") == "unknown" or n["id"].endswith("/unknown")
    ]
    for case, sel in CHOSEN.items():
        edge = got[ids[case]]
        rps = rate(prom, sel)
        assert rps > 0, case
        assert edge["rps"] == pytest.approx(rps, rel=0.01), case
        errors = rate(prom, sel, 'response_code=~"5..|0"')
        assert edge["error_rate"] == pytest.approx(errors / rps, abs=1e-6), case
        expected = mtls_share(prom, sel)
        if expected is None:
            assert edge["mtls"] is None, case
        else:
            assert edge["mtls"] == pytest.approx(expected, abs=0.01), case
    tcp = got[ids["tcp"]]
    sent = value(prom, f"sum(rate(istio_tcp_received_bytes_total{{{TCP_CHOSEN}}}[{W}]))")
    received = value(prom, f"sum(rate(istio_tcp_sent_bytes_total{{{TCP_CHOSEN}}}[{W}]))")
    assert (tcp["protocol"], tcp["rps"]) == ("tcp", 0.0)
    assert tcp["sent_bps"] == pytest.approx(sent, rel=0.01)
    assert tcp["received_bps"] == pytest.approx(received, rel=0.01)
    secure = value(
        prom,
        f'sum(rate(istio_tcp_received_bytes_total{{{TCP_CHOSEN},connection_security_policy="mutual_tls"}}[{W}]))'
        f' + sum(rate(istio_tcp_sent_bytes_total{{{TCP_CHOSEN},connection_security_policy="mutual_tls"}}[{W}]))',
    )
    assert tcp["mtls"] == pytest.approx(secure / (sent + received), abs=0.01)
    assert tcp["mtls"] == pytest.approx(0.75, abs=0.01)  # by bytes, not by requests


def test_the_gateway_edge_is_drawn_from_the_destination_report_alone(prom, collector):
    # The gateway's own proxy reports nothing here: the edge and its 503s still show.
    assert (
        prom.query(
            'istio_requests_total{reporter="source",source_workload="istio-ingressgateway"}', sc.END
        )
        == []
    )
    edge = edges_of(graph(collector, WORKLOAD))[IDS[WORKLOAD]["gateway"]]
    assert edge["rps"] == pytest.approx(104.0, rel=0.01)
    assert edge["error_rate"] == pytest.approx(4 / 104, abs=1e-6)
    assert edge["mtls"] == pytest.approx(1.0)


@pytest.mark.parametrize("view", list(GraphView), ids=lambda v: v.value)
def test_both_reports_count_once(prom, collector, view):
    body = graph(collector, view)
    nodes = {n["id"]: n for n in body["nodes"]}
    details = IDS[view]["details"][1]
    # productpage's 50 rps and batch-job's 3 rps, each present twice in Prometheus.
    assert rate(prom, 'destination_workload="details-v1"') == pytest.approx(106.0, rel=0.01)
    if view is not SERVICE:
        assert nodes[details]["rps_in"] == pytest.approx(53.0, rel=0.01)
    total = sum(e["rps"] for e in body["edges"])
    chosen = sum(rate(prom, sel) for sel in CHOSEN.values())
    assert total == pytest.approx(chosen, rel=0.01)


@pytest.mark.parametrize("view", list(GraphView), ids=lambda v: v.value)
def test_a_no_route_storm_from_another_namespace_shows_on_the_hosts_service(prom, collector, view):
    body = graph(collector, view)
    nodes = {n["id"]: n for n in body["nodes"]}
    storm = edges_of(body)[IDS[view]["no_route_storm"]]
    reviews = nodes["bookinfo/reviews"]
    assert (reviews["kind"], reviews["namespace"], reviews["service"]) == (
        "service",
        "bookinfo",
        "reviews",
    )
    assert reviews["outsider"] is False
    assert reviews["rps_in"] == pytest.approx(45.0, rel=0.01)  # 40 from shop, 5 from inside
    assert (reviews["error_rate_in"], reviews["health"]) == (1.0, "failure")
    assert (storm["error_rate"], storm["health"], storm["mtls"]) == (1.0, "failure", None)
    assert storm["responses"] == [
        {"code": "503", "grpc": "", "flags": "NR", "rps": pytest.approx(40.0, rel=0.01)}
    ]
    caller = nodes[IDS[view]["no_route_storm"][0]]
    assert (caller["outsider"], caller["health"]) == (True, "failure")  # judged on what it sends
    if view is not SERVICE:  # the service graph cannot tell which requests reached no pod
        # productpage's inbound alone is degraded (4 % 503s); its own 5 rps that reached no pod
        # all failed, and they count against it too.
        inside = nodes[IDS[view]["no_route_inside"][0]]
        assert inside["error_rate_in"] == pytest.approx(4 / 106, abs=1e-4)
        assert inside["health"] == "failure"


@pytest.mark.parametrize("view", list(GraphView), ids=lambda v: v.value)
def test_workloads_without_app_labels_are_named_by_their_workload(collector, view):
    body = graph(collector, view)
    nodes = {n["id"]: n for n in body["nodes"]}
    callee = nodes["bookinfo/legacy-worker"]
    caller = nodes["bookinfo/batch-job"]
    assert "legacy-worker" in (callee["workload"], callee["app"])
    assert "batch-job" in (caller["workload"], caller["app"])
    assert callee["health"] == "healthy"


def test_security_summary_says_how_much_traffic_is_plain_text(collector):
    summary = graph(collector, WORKLOAD)["security"]
    # Known: gateway 104, details 50 (20 plain), payments 10, unmeshed 2 (plain), legacy 7,
    # batch-job 3; the 45 rps that reached no pod have no destination report.
    assert summary["plaintext_share"] == pytest.approx(22 / 176, abs=0.001)
    assert summary["plaintext_rps"] == pytest.approx(22.0, rel=0.01)
    assert summary["unknown_security_rps"] == pytest.approx(45.0, rel=0.01)


def test_api_graph_carries_mtls_and_the_security_summary(prom):
    from app import create_app
    from wiring.settings import Settings

    settings = Settings(prometheus_url=prom.url, default_namespaces=(sc.NS,))
    client = create_app(settings).server.test_client()
    before = queries_received(prom.url)
    r = client.get(f"/api/graph?namespace={sc.NS}&graph=workload&window=5m&at={int(sc.END)}")
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    got = edges_of(body)
    assert got[IDS[WORKLOAD]["details"]]["mtls"] == pytest.approx(0.6, abs=0.01)
    assert got[IDS[WORKLOAD]["no_route_inside"]]["mtls"] is None
    assert body["security"]["plaintext_share"] == pytest.approx(22 / 176, abs=0.001)
    assert body["queries"] == queries_received(prom.url) - before == 3


# --------------------------------------------------------------------------------- two clusters

EAST_PP = sc.workload(sc.NS, "productpage-v1", "productpage", "v1", "east")
WEST_GW = sc.workload(
    "istio-system", "istio-ingressgateway", "istio-ingressgateway", "latest", "west"
)
WEST_DETAILS = sc.workload(sc.NS, "details-v1", "details", "v1", "west")
WEST_FRONTEND = sc.workload("shop", "frontend-v1", "frontend", "v1", "west")


def cluster_series() -> tuple[list, list]:
    """(east's Prometheus, west's): each holds only the reports of its own proxies."""
    pp = {"service": "productpage", "service_ns": sc.NS}
    details = {"service": "details", "service_ns": sc.NS}
    no_route = {
        "service": "unknown",
        "service_ns": "unknown",
        "host": "reviews.bookinfo.svc.cluster.local",
        "code": "503",
        "flags": "NR",
    }
    east = [
        # west's gateway -> east's productpage: the destination's report lives in east.
        sc.requests(sc.labels(WEST_GW, EAST_PP, "destination", **pp), 100),
        # east's productpage -> west's details: the caller's report lives in east.
        sc.requests(sc.labels(EAST_PP, WEST_DETAILS, "source", **details), 50),
    ]
    west = [
        sc.requests(sc.labels(WEST_GW, EAST_PP, "source", **pp), 100),
        sc.requests(sc.labels(EAST_PP, WEST_DETAILS, "destination", **details), 30),
        sc.requests(
            sc.labels(EAST_PP, WEST_DETAILS, "destination", security="none", **details), 20
        ),
        sc.requests(sc.labels(WEST_FRONTEND, sc.NO_POD, "source", **no_route), 40),
    ]
    return east, west


@pytest.fixture(scope="module")
def clusters(tmp_path_factory) -> Iterator[dict[str, PrometheusServer]]:
    require_prometheus()
    east, west = cluster_series()
    servers = {
        "east": load(PrometheusServer(tmp_path_factory.mktemp("east")), east),
        "west": load(PrometheusServer(tmp_path_factory.mktemp("west")), west),
    }
    try:
        yield servers
    finally:
        for s in servers.values():
            s.close()


def test_two_clusters_each_holding_its_own_proxies_reports(clusters):
    source = ClusterPrometheus({n: PrometheusCollector(s.url) for n, s in clusters.items()})
    east, west = clusters["east"], clusters["west"]
    for view in GraphView:
        body = graph(source, view)
        got = edges_of(body)
        pp = "east:bookinfo/productpage-v1" if view is WORKLOAD else "east:bookinfo/productpage"
        if view is VAPP:
            pp += "/v1"
        gateway = next(e for (s, t), e in got.items() if t == pp and "istio-ingressgateway" in s)
        # Entering from elsewhere: the destination's report, in east; never twice.
        sel = 'reporter="destination",source_workload="istio-ingressgateway"'
        assert gateway["rps"] == pytest.approx(rate(east, sel), rel=0.01)
        assert gateway["rps"] == pytest.approx(100.0, rel=0.01)
        details = next(e for (s, t), e in got.items() if s == pp and "details" in t)
        # Starting inside: the caller's report in east; mTLS from the destination's, in west.
        assert details["rps"] == pytest.approx(rate(east, 'reporter="source"'), rel=0.01)
        assert details["mtls"] == pytest.approx(
            rate(
                west,
                'reporter="destination",connection_security_policy="mutual_tls",'
                'source_workload="productpage-v1"',
            )
            / rate(west, 'reporter="destination",source_workload="productpage-v1"'),
            abs=0.01,
        )
        assert details["cross_cluster"] is True
        storm = next(e for (s, t), e in got.items() if "frontend" in s)
        assert storm["target"] == "bookinfo/reviews"  # no cluster: it reached no pod
        assert storm["rps"] == pytest.approx(40.0, rel=0.01)
        assert storm["error_rate"] == 1.0
        assert len(got) == 3


def test_the_callers_cluster_down_the_edge_still_shows_from_the_destination_report(clusters):
    """East's Prometheus is down: productpage -> details (its caller's report lives there) is
    drawn from west's destination report instead, once, and the graph says east is missing."""
    dead = PrometheusCollector("http://127.0.0.1:9", timeout_s=2.0)
    source = ClusterPrometheus({"east": dead, "west": PrometheusCollector(clusters["west"].url)})
    telemetry = source.graph_telemetry(GraphQuery((sc.NS,), WORKLOAD, 300, sc.END))
    assert [p.cluster for p in telemetry.partial] == ["east"]
    got = edges_of(graph_json(build_graph(telemetry)))
    details = got[("east:bookinfo/productpage-v1", "west:bookinfo/details-v1")]
    assert details["rps"] == pytest.approx(50.0, rel=0.01)
    assert details["mtls"] == pytest.approx(0.6, abs=0.01)
