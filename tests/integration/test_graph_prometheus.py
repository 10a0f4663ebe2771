"""The graph from a REAL Prometheus matches PromQL's own answer, edge by edge.

The session's Prometheus (tests/integration/conftest.py) holds several simulated meshes. For each
namespace selection and view, PrometheusCollector + build_graph must agree with expectations
computed here independently: edges enumerated with `group by`, then one simple query per edge
and figure (rate, error rate, histogram_quantile), at the same time and window. Tolerances are
the issue's: rps within 2 %, error rate within 0.2 percentage points, p95 within 5 %.
"""

from __future__ import annotations

import math
import re

import pytest
import requests

from collectors import promql
from collectors.prometheus import PrometheusCollector
from mesh.errors import BackendUnavailable
from mesh.graph.build import build_graph, graph_json
from mesh.telemetry_records import GraphQuery, GraphView
from tests.conftest import free_port
from tests.integration.prom_received import queries_received

pytestmark = pytest.mark.integration

WINDOW = "5m"
WINDOW_S = 300

# Which labels name an edge's two ends in each view (written out here, not taken from mesh/).
ENDS: dict[GraphView, tuple[tuple[str, ...], tuple[str, ...]]] = {
    GraphView.WORKLOAD: (
        ("source_workload_namespace", "source_workload"),
        ("destination_workload_namespace", "destination_workload"),
    ),
    GraphView.APP: (
        ("source_workload_namespace", "source_canonical_service"),
        ("destination_workload_namespace", "destination_canonical_service"),
    ),
    GraphView.VERSIONED_APP: (
        ("source_workload_namespace", "source_canonical_service", "source_canonical_revision"),
        (
            "destination_workload_namespace",
            "destination_canonical_service",
            "destination_canonical_revision",
        ),
    ),
    GraphView.SERVICE: (
        ("source_workload_namespace", "source_canonical_service"),
        ("destination_service_namespace", "destination_service_name"),
    ),
}
SELECTIONS = [("bookinfo",), ("shop",), ("payments",), ("shop", "payments", "data")]
ERROR_CODES = 'response_code=~"5..|0"'
GRPC_ERROR = 'grpc_response_status=~"[1-9]|1[0-6]"'


def value(prometheus, text: str, at: float) -> float:
    v = prometheus.query_value(text, at)
    return 0.0 if v is None else v


class Expected:
    """PromQL's own per-edge answers for one namespace selection and view."""

    def __init__(self, prometheus, at: float, namespaces: tuple[str, ...], view: GraphView):
        self.prom, self.at, self.view = prometheus, at, view
        self.src_keys, self.dst_keys = ENDS[view]
        self.namespaces = set(namespaces)

    def _groups(self, metric: str, matchers: str, extra: tuple[str, ...]) -> list[dict[str, str]]:
        labels = ",".join(dict.fromkeys((*self.src_keys, *self.dst_keys, *extra)))
        found = self.prom.query(f"group by ({labels}) ({metric}{{{matchers}}})", self.at)
        return [r["metric"] for r in found]

    def edges(self, metric: str) -> dict[tuple[str, str], str]:
        """(source id, target id) -> the PromQL matchers selecting exactly that edge's series."""
        out: dict[tuple[str, str], str] = {}
        where = ("source_workload_namespace", "destination_service_namespace")
        for m in self._groups(metric, 'reporter="source"', where):
            if not ({m.get(k, "") for k in where} & self.namespaces):
                continue
            pair = ("/".join(m[k] for k in self.src_keys), "/".join(m[k] for k in self.dst_keys))
            sel = [f'{k}="{m[k]}"' for k in (*self.src_keys, *self.dst_keys)]
            # Kiali's rules (issue 23): traffic entering the selection from elsewhere counts
            # from the destination's report, traffic starting inside from the caller's.
            inside = m.get("source_workload_namespace") in self.namespaces
            reporter = 'reporter="source"' if inside else 'reporter="destination"'
            out[pair] = ",".join([reporter, *sel])
        unknown = 'reporter="destination",source_workload="unknown"'
        for m in self._groups(metric, unknown, ("destination_service_namespace",)):
            if m.get("destination_service_namespace") not in self.namespaces:
                continue
            pair = ("unknown", "/".join(m[k] for k in self.dst_keys))
            out[pair] = ",".join([unknown, *(f'{k}="{m[k]}"' for k in self.dst_keys)])
        return out

    def rps(self, sel: str) -> float:
        return value(self.prom, f"sum(rate(istio_requests_total{{{sel}}}[{WINDOW}]))", self.at)

    def error_rps(self, sel: str) -> float:
        http = f"sum(rate(istio_requests_total{{{sel},{ERROR_CODES}}}[{WINDOW}]))"
        grpc = f'sum(rate(istio_requests_total{{{sel},response_code!~"5..|0",{GRPC_ERROR}}}[{WINDOW}]))'
        return value(self.prom, http, self.at) + value(self.prom, grpc, self.at)

    def p95(self, sel: str) -> float | None:
        dst = sel.replace('reporter="source"', 'reporter="destination"')
        for s in (dst, sel):
            text = (
                "histogram_quantile(0.95, sum by (le) "
                f"(rate(istio_request_duration_milliseconds_bucket{{{s}}}[{WINDOW}])))"
            )
            v = self.prom.query_value(text, self.at)
            if v is not None and not math.isnan(v):
                return v
        return None

    def tcp(self, sel: str) -> tuple[float, float]:
        # Caller-oriented: what the caller sent is what the server's proxy *received*.
        sent = f"sum(rate(istio_tcp_received_bytes_total{{{sel}}}[{WINDOW}]))"
        received = f"sum(rate(istio_tcp_sent_bytes_total{{{sel}}}[{WINDOW}]))"
        return value(self.prom, sent, self.at), value(self.prom, received, self.at)


@pytest.fixture(scope="module")
def collector(prometheus):
    c = PrometheusCollector(prometheus.url, timeout_s=20.0)
    yield c
    c.close()


def graph(collector, at, namespaces, view=GraphView.WORKLOAD):
    before = queries_received(collector.url)
    telemetry = collector.graph_telemetry(GraphQuery(tuple(namespaces), view, WINDOW_S, at))
    assert telemetry.queries_sent == queries_received(collector.url) - before == 3
    return build_graph(telemetry)


def edge_of(body, source, target):
    found = [e for e in body["edges"] if (e["source"], e["target"]) == (source, target)]
    assert found, f"no edge {source} -> {target} in {[e['id'] for e in body['edges']]}"
    return found[0]


# --------------------------------------------------------------------------------- PromQL's answer


@pytest.mark.parametrize("view", list(GraphView), ids=lambda v: v.value)
@pytest.mark.parametrize("namespaces", SELECTIONS, ids="+".join)
def test_graph_matches_promql_edge_by_edge(prometheus, collector, scenario_time, namespaces, view):
    body = graph_json(graph(collector, scenario_time, namespaces, view))
    expected = Expected(prometheus, scenario_time, namespaces, view)
    requests_edges = expected.edges("istio_requests_total")
    tcp_edges = expected.edges("istio_tcp_sent_bytes_total")
    assert requests_edges, "the scenario must have request traffic in this selection"
    got = {(e["source"], e["target"]): e for e in body["edges"]}
    assert set(got) == set(requests_edges) | set(tcp_edges)

    for pair, sel in requests_edges.items():
        edge = got[pair]
        rps = expected.rps(sel)
        assert edge["rps"] == pytest.approx(rps, rel=0.02), pair
        error_rate = expected.error_rps(sel) / rps if rps else 0.0
        assert edge["error_rate"] == pytest.approx(error_rate, abs=0.002), pair
        p95 = expected.p95(sel)
        if p95 is None:
            assert edge["p95_ms"] is None, pair
        else:
            assert edge["p95_ms"] == pytest.approx(p95, rel=0.05), pair
    for pair, sel in tcp_edges.items():
        sent, received = expected.tcp(sel)
        assert got[pair]["sent_bps"] == pytest.approx(sent, rel=0.02), pair
        assert got[pair]["received_bps"] == pytest.approx(received, rel=0.02), pair

    # Node inbound rates are the sums of PromQL's edge rates.
    inbound: dict[str, float] = {}
    for (_, target), sel in requests_edges.items():
        inbound[target] = inbound.get(target, 0.0) + expected.rps(sel)
    for node in body["nodes"]:
        assert node["rps_in"] == pytest.approx(inbound.get(node["id"], 0.0), rel=0.02, abs=1e-9)


# --------------------------------------------------------------------------------- scenarios


def test_bookinfo_fifty_fifty_split_is_visible_in_shares(collector, scenario_time):
    body = graph_json(graph(collector, scenario_time, ["bookinfo"], GraphView.VERSIONED_APP))
    v1 = edge_of(body, "bookinfo/productpage/v1", "bookinfo/reviews/v1")
    v2 = edge_of(body, "bookinfo/productpage/v1", "bookinfo/reviews/v2")
    details = edge_of(body, "bookinfo/productpage/v1", "bookinfo/details/v1")
    # productpage calls details and reviews once per request: reviews gets half its calls,
    # split 50/50 between v1 and v2.
    assert v1["share"] == pytest.approx(0.25, abs=0.01)
    assert v2["share"] == pytest.approx(0.25, abs=0.01)
    assert details["share"] == pytest.approx(0.5, abs=0.01)
    assert v1["share"] / (v1["share"] + v2["share"]) == pytest.approx(0.5, abs=0.01)
    assert not any(n["id"] == "bookinfo/reviews/v3" for n in body["nodes"])  # 0 %: no traffic
    # reviews-v2 calls ratings, v1 does not.
    edge_of(body, "bookinfo/reviews/v2", "bookinfo/ratings/v1")
    assert not [e for e in body["edges"] if e["source"] == "bookinfo/reviews/v1"]


def test_grpc_errors_under_http_200_count_as_errors(prometheus, collector, scenario_time):
    body = graph_json(graph(collector, scenario_time, ["shop"]))
    edge = edge_of(body, "shop/frontend-v1", "shop/cartservice-v1")
    assert edge["protocol"] == "grpc"
    assert edge["error_rate"] == pytest.approx(0.05, abs=0.005)
    assert edge["health"] == "degraded"  # 5 %: above 0, below the 10 % failure threshold
    # PromQL confirms the failures carry HTTP 200 and gRPC status 14, nothing else.
    sel = 'reporter="source",source_workload="frontend-v1",destination_workload="cartservice-v1"'
    ok_http = value(
        prometheus,
        f'sum(rate(istio_requests_total{{{sel},response_code="200",grpc_response_status="14"}}[5m]))',
        scenario_time,
    )
    other = value(
        prometheus,
        f'sum(rate(istio_requests_total{{{sel},response_code!="200"}}[5m]))',
        scenario_time,
    )
    assert ok_http == pytest.approx(edge["rps"] * edge["error_rate"], rel=0.02)
    assert other == 0.0
    node = next(n for n in body["nodes"] if n["id"] == "shop/cartservice-v1")
    assert node["error_rate_in"] == pytest.approx(edge["error_rate"], rel=1e-3)


def test_tcp_edges_carry_bytes_in_caller_orientation(collector, scenario_time):
    body = graph_json(graph(collector, scenario_time, ["data"]))
    edge = edge_of(body, "data/reporting-v1", "data/mysql-v1")
    assert edge["protocol"] == "tcp"
    assert edge["rps"] == 0.0 and edge["share"] is None and edge["p95_ms"] is None
    # reporting-v1 reads a lot: ~2 kB/s up, ~1.5 MB/s down (the simulator's figures).
    assert edge["sent_bps"] == pytest.approx(2_000, rel=0.1)
    assert edge["received_bps"] == pytest.approx(1_500_000, rel=0.1)
    assert edge["bps"] == pytest.approx(edge["sent_bps"] + edge["received_bps"], rel=1e-6)
    assert edge["health"] == "healthy"
    # Callers from another namespace are outsiders in this selection.
    payments = next(n for n in body["nodes"] if n["id"] == "payments/payments-v1")
    assert payments["outsider"] is True


def test_unknown_caller_is_the_unknown_node(prometheus, collector, scenario_time):
    body = graph_json(graph(collector, scenario_time, ["shop"]))
    unknown = next(n for n in body["nodes"] if n["id"] == "unknown")
    assert unknown["kind"] == "unknown"
    edge = edge_of(body, "unknown", "shop/frontend-v1")
    # Only the destination reporter sees it; the source reporter has no such series.
    sel = 'source_workload="unknown",destination_workload="frontend-v1"'
    dst = value(
        prometheus,
        f'sum(rate(istio_requests_total{{reporter="destination",{sel}}}[5m]))',
        scenario_time,
    )
    src = prometheus.query(f'istio_requests_total{{reporter="source",{sel}}}', scenario_time)
    assert src == []
    assert edge["rps"] == pytest.approx(dst, rel=0.02)
    assert edge["rps"] == pytest.approx(2.0, rel=0.1)
    # Counted once: frontend's inbound is the gateway's plus the unknown caller's, not more.
    frontend = next(n for n in body["nodes"] if n["id"] == "shop/frontend-v1")
    gateway = edge_of(body, "istio-system/istio-ingressgateway", "shop/frontend-v1")
    assert frontend["rps_in"] == pytest.approx(edge["rps"] + gateway["rps"], rel=1e-3)


def test_canary_pair_across_namespaces(collector, scenario_time):
    body = graph_json(graph(collector, scenario_time, ["shop", "payments"]))
    v1 = edge_of(body, "shop/frontend-v1", "payments/payments-v1")
    v2 = edge_of(body, "shop/frontend-v1", "payments/payments-v2")
    assert v1["rps"] / (v1["rps"] + v2["rps"]) == pytest.approx(0.7, abs=0.02)
    assert v2["p95_ms"] > v1["p95_ms"]  # v2 is the slow version (60 ms vs 20 ms median)
    assert not any(n["outsider"] for n in body["nodes"] if n["namespace"] in ("shop", "payments"))
    only_shop = graph_json(graph(collector, scenario_time, ["shop"]))
    outsider = next(n for n in only_shop["nodes"] if n["id"] == "payments/payments-v2")
    assert outsider["outsider"] is True


def test_empty_namespace_is_an_empty_graph(collector, scenario_time, quiet_namespace):
    before = queries_received(collector.url)
    telemetry = collector.graph_telemetry(
        GraphQuery((quiet_namespace,), GraphView.WORKLOAD, WINDOW_S, scenario_time)
    )
    assert telemetry.queries_sent == queries_received(collector.url) - before == 3
    assert graph_json(build_graph(telemetry)) == {"nodes": [], "edges": []}


def test_unreachable_prometheus_is_backend_unavailable(scenario_time):
    collector = PrometheusCollector(f"http://127.0.0.1:{free_port()}", timeout_s=5.0)
    with pytest.raises(BackendUnavailable) as err:
        collector.graph_telemetry(GraphQuery(("bookinfo",), GraphView.WORKLOAD, 300, scenario_time))
    assert "connection refused" in str(err.value)


@pytest.mark.parametrize(
    "namespaces", [("bookinfo",), ("shop", "payments", "data", "bookinfo", "quiet")]
)
def test_exactly_three_http_queries_per_refresh(prometheus, scenario_time, namespaces):
    sent: list[str] = []
    session = requests.Session()
    session.hooks["response"].append(lambda r, *a, **k: sent.append(r.request.url))
    collector = PrometheusCollector(prometheus.url, session=session)
    for view in GraphView:
        sent.clear()
        telemetry = collector.graph_telemetry(GraphQuery(namespaces, view, WINDOW_S, scenario_time))
        assert len(sent) == telemetry.queries_sent == 3
        assert all("/api/v1/query?" in url for url in sent)
    collector.close()


# --------------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    "text", ['quote"inside', "back\\slash", "new\nline", "a.b|c*(d)[e]{1}^$?+", "ünï\tcode"]
)
def test_quoting_and_regex_escaping_agree_with_prometheus(prometheus, scenario_time, text):
    # The real lexer must read quote(text) back as exactly text ...
    labelled = f'label_replace(vector(1), "v", {promql.quote(text)}, "", "")'
    (sample,) = prometheus.query(labelled, scenario_time)
    assert sample["metric"]["v"] == text
    # ... and real RE2 must match any_of([text]) against text and nothing else.
    for candidate, matches in ((text, True), (re.sub(r"[^a-z]", "x", text), False)):
        probe = (
            f'label_replace(label_replace(vector(1), "v", {promql.quote(candidate)}, "", ""), '
            f'"hit", "yes", "v", {promql.quote(promql.any_of([text, "other"]))})'
        )
        (sample,) = prometheus.query(probe, scenario_time)
        assert (sample["metric"].get("hit") == "yes") is matches, candidate


# --------------------------------------------------------------------------------- through the API


@pytest.mark.parametrize(
    "view", [GraphView.WORKLOAD, GraphView.VERSIONED_APP], ids=lambda v: v.value
)
def test_api_graph_matches_promql(prometheus, scenario_time, view):
    from app import create_app
    from wiring.settings import Settings

    settings = Settings(prometheus_url=prometheus.url, default_namespaces=("bookinfo",))
    client = create_app(settings).server.test_client()
    namespaces = ("shop", "payments", "data")
    query = "&".join(f"namespace={ns}" for ns in namespaces)
    r = client.get(f"/api/graph?{query}&graph={view.value}&window={WINDOW}&at={int(scenario_time)}")
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["at"] == int(scenario_time)
    expected = Expected(prometheus, scenario_time, namespaces, view)
    requests_edges = expected.edges("istio_requests_total")
    got = {(e["source"], e["target"]): e for e in body["edges"]}
    assert set(requests_edges) <= set(got)
    for pair, sel in requests_edges.items():
        rps = expected.rps(sel)
        assert got[pair]["rps"] == pytest.approx(rps, rel=0.02), pair
        assert got[pair]["error_rate"] == pytest.approx(expected.error_rps(sel) / rps, abs=0.002)
        p95 = expected.p95(sel)
        assert got[pair]["p95_ms"] == pytest.approx(p95, rel=0.05), pair


# --------------------------------------------------------------------------------- reporters, by hand

HAND_END = 1767222000.0  # 2025-12-31T23:00:00Z, inside one 2 h block


def _edge(
    src: str, dst: str, dst_app: str, service: str, reporter: str, code: str
) -> dict[str, str]:
    return {
        "reporter": reporter,
        "source_workload_namespace": "bookinfo",
        "source_workload": src,
        "source_canonical_service": src.rsplit("-", 1)[0],
        "source_canonical_revision": "v1",
        "destination_workload_namespace": "bookinfo" if dst != "unknown" else "unknown",
        "destination_workload": dst,
        "destination_canonical_service": dst_app,
        "destination_canonical_revision": "v1" if dst != "unknown" else "unknown",
        "destination_service_namespace": "bookinfo",
        "destination_service_name": service,
        "request_protocol": "http",
        "response_code": code,
    }


@pytest.fixture(scope="module")
def hand_prometheus(tmp_path_factory):
    """A second, tiny Prometheus with series written by hand: one edge that both proxies report
    with different latencies, and one 503 NR edge that only the caller's proxy reports."""
    import io

    import numpy as np

    from demo.openmetrics import write_series
    from demo.series import CounterSeries, HistogramSeries
    from devtools.promserver import PrometheusServer, require_prometheus
    from mesh.quantiles import ISTIO_BUCKETS_MS

    require_prometheus()
    times = HAND_END - 600 + 15 * np.arange(41, dtype=np.float64)
    counts = (times - times[0]).astype(np.int64)  # exactly 1 request per second

    def histogram(labels: dict[str, str], upper_ms: float) -> HistogramSeries:
        first = ISTIO_BUCKETS_MS.index(upper_ms)  # every request in the bucket ending here
        buckets = np.zeros((len(times), len(ISTIO_BUCKETS_MS) + 1), dtype=np.int64)
        buckets[:, first:] = counts[:, None]
        return HistogramSeries(
            "istio_request_duration_milliseconds", labels, times, buckets, counts * 1.0
        )

    details_src = _edge("productpage-v1", "details-v1", "details", "details", "source", "200")
    details_dst = {**details_src, "reporter": "destination"}
    no_route = _edge("productpage-v1", "unknown", "unknown", "reviews", "source", "503")
    series = [
        CounterSeries("istio_requests", details_src, times, counts),
        CounterSeries("istio_requests", details_dst, times, counts),
        CounterSeries("istio_requests", no_route, times, counts),
        histogram(details_src, 25),  # the caller sees network time on top: (10, 25] ms
        histogram(details_dst, 5),  # the server's own time: (1, 5] ms
        histogram(no_route, 1),  # Envoy answers 503 NR at once: (0.5, 1] ms
    ]
    buf = io.StringIO()
    write_series(series, buf)
    server = PrometheusServer(tmp_path_factory.mktemp("hand-prometheus"))
    server.load_openmetrics(buf.getvalue())
    server.start()
    try:
        yield server
    finally:
        server.close()


def test_latency_from_destination_reporter_and_no_route_from_source(hand_prometheus):
    collector = PrometheusCollector(hand_prometheus.url)
    telemetry = collector.graph_telemetry(
        GraphQuery(("bookinfo",), GraphView.WORKLOAD, 300, HAND_END)
    )
    body = graph_json(build_graph(telemetry))
    details = edge_of(body, "bookinfo/productpage-v1", "bookinfo/details-v1")
    assert details["rps"] == pytest.approx(1.0, rel=0.02)  # counted once, not once per reporter
    assert details["p95_ms"] == pytest.approx(1 + 4 * 0.95, rel=1e-6)  # destination's (1, 5]
    no_route = edge_of(body, "bookinfo/productpage-v1", "bookinfo/reviews")
    assert no_route["p95_ms"] == pytest.approx(0.5 + 0.5 * 0.95, rel=1e-6)  # source's (0.5, 1]
    assert (no_route["error_rate"], no_route["health"]) == (1.0, "failure")
    node = next(n for n in body["nodes"] if n["id"] == "bookinfo/reviews")
    assert (node["kind"], node["service"], node["health"]) == ("service", "reviews", "failure")
    # PromQL's own answers for the same edges agree.
    expected = Expected(hand_prometheus, HAND_END, ("bookinfo",), GraphView.WORKLOAD)
    sel = expected.edges("istio_requests_total")[("bookinfo/productpage-v1", "bookinfo/details-v1")]
    assert details["p95_ms"] == pytest.approx(expected.p95(sel), rel=0.05)
    collector.close()


def test_stopped_prometheus_is_backend_unavailable_then_recovers(hand_prometheus):
    collector = PrometheusCollector(hand_prometheus.url, timeout_s=5.0)
    query = GraphQuery(("bookinfo",), GraphView.WORKLOAD, 300, HAND_END)
    assert collector.graph_telemetry(query).requests
    hand_prometheus.stop()
    try:
        with pytest.raises(BackendUnavailable) as err:
            collector.graph_telemetry(query)
        assert "connection refused" in str(err.value)
    finally:
        hand_prometheus.start()
    # The same collector works again once Prometheus is back: no broken state is kept.
    assert collector.graph_telemetry(query).requests
    collector.close()
