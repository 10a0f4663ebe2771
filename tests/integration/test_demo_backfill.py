"""A real Prometheus backfilled from the simulator answers PromQL as the model says.

This is what lets the demo stand in for a cluster: the demo graph (DemoTelemetry) equals what a
collector computes from the same series in Prometheus.
"""

from __future__ import annotations

import math
from collections import defaultdict

import pytest
import requests

from collectors.prometheus import PrometheusCollector
from demo.telemetry import quantiles
from devtools.promserver import PrometheusServer, require_prometheus
from mesh.graph.reporters import counted_once
from mesh.quantiles import histogram_quantile
from mesh.telemetry_records import GraphQuery, GraphView

pytestmark = pytest.mark.integration

W = "5m"
WINDOW_S = 300


def model_edge(scenarios, at: float, source: str, destination: str):
    """The model's window for an edge, destination given as namespace/workload."""
    for mesh in scenarios.meshes:
        for w in mesh.model.window(at, WINDOW_S):
            d = w.edge.destination
            if (w.edge.source.name, f"{d.namespace}/{d.name}") == (source, destination):
                return w
    raise AssertionError(f"no edge {source} -> {destination} in the model")


def test_the_fixture_loads_quickly(prometheus):
    assert prometheus.startup_s < 60
    assert prometheus.data_max_s is not None


def test_reviews_v2_rate_matches_the_model(prometheus, scenarios, scenario_time):
    got = prometheus.query_value(
        f'sum(rate(istio_requests_total{{reporter="source",destination_workload_namespace="bookinfo",destination_workload="reviews-v2"}}[{W}]))',
        scenario_time,
    )
    expected = model_edge(scenarios, scenario_time, "productpage-v1", "bookinfo/reviews-v2").rps
    assert expected == pytest.approx(10.0, rel=0.03)  # 50/50 of 20 rps
    assert got == pytest.approx(expected, rel=0.02)


def test_histogram_quantile_equals_mesh_metrics_on_the_same_bucket_rates(prometheus, scenario_time):
    for ns, workload in (
        ("bookinfo", "reviews-v2"),
        ("payments", "payments-v2"),
        ("shop", "cartservice-v1"),
        ("bookinfo", "details-v1"),
    ):
        selector = (
            f'reporter="destination",destination_workload_namespace="{ns}",'
            f'destination_workload="{workload}"'
        )
        buckets_q = (
            f"sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{selector}}}[{W}]))"
        )
        pairs = [
            (float(r["metric"]["le"]), float(r["value"][1]))
            for r in prometheus.query(buckets_q, scenario_time)
        ]
        assert len(pairs) == 20
        for q in (0.5, 0.95, 0.99):
            promql = prometheus.query_value(f"histogram_quantile({q}, {buckets_q})", scenario_time)
            ours = histogram_quantile(q, pairs)
            assert ours is not None and promql is not None
            assert ours == pytest.approx(promql, rel=1e-6), (workload, q)


def test_canary_latency_matches_the_model_and_v2_is_slower(prometheus, scenarios, scenario_time):
    p95 = {}
    for version in ("v1", "v2"):
        workload = f"payments-{version}"
        got = prometheus.query_value(
            "histogram_quantile(0.95, sum by (le) (rate(istio_request_duration_milliseconds_bucket"
            f'{{reporter="destination",destination_workload_namespace="payments",'
            f'destination_workload="{workload}"}}[{W}])))',
            scenario_time,
        )
        w = model_edge(scenarios, scenario_time, "frontend-v1", f"payments/{workload}")
        expected = quantiles(w.buckets["destination"])[1]
        assert got == pytest.approx(expected, rel=0.05)
        p95[version] = got
    assert p95["v2"] > 2 * p95["v1"]


def test_unknown_callers_are_reported_by_the_destination_only(prometheus, scenarios, scenario_time):
    by_reporter = {
        r["metric"]["reporter"]: float(r["value"][1])
        for r in prometheus.query(
            f'sum by (reporter) (rate(istio_requests_total{{source_workload="unknown",'
            f'destination_service_namespace="shop"}}[{W}]))',
            scenario_time,
        )
    }
    assert set(by_reporter) == {"destination"}
    expected = model_edge(scenarios, scenario_time, "unknown", "shop/frontend-v1").rps
    assert by_reporter["destination"] == pytest.approx(expected, rel=0.02)


def test_grpc_errors_carry_status_14_with_http_200(prometheus, scenario_time):
    rows = prometheus.query(
        "sum by (response_code, grpc_response_status) (rate(istio_requests_total"
        f'{{reporter="source",destination_workload_namespace="shop",'
        f'destination_workload="cartservice-v1"}}[{W}]))',
        scenario_time,
    )
    rates = {
        (r["metric"]["response_code"], r["metric"]["grpc_response_status"]): float(r["value"][1])
        for r in rows
    }
    assert set(rates) == {("200", "0"), ("200", "14")}
    assert rates[("200", "14")] / sum(rates.values()) == pytest.approx(0.05, abs=0.002)


def test_tcp_bytes_match_the_model(prometheus, scenarios, scenario_time):
    w = model_edge(scenarios, scenario_time, "reporting-v1", "data/mysql-v1")
    for family, expected in (
        ("istio_tcp_received_bytes_total", w.sent_bps),  # client -> server
        ("istio_tcp_sent_bytes_total", w.received_bps),  # server -> client
    ):
        got = prometheus.query_value(
            f'sum(rate({family}{{reporter="source",source_workload_namespace="data",'
            f'source_workload="reporting-v1"}}[{W}]))',
            scenario_time,
        )
        assert got == pytest.approx(expected, rel=0.02), family


def test_what_has_no_traffic_has_no_series(prometheus, quiet_namespace, scenario_time):
    for selector in (
        f'{{destination_service_namespace="{quiet_namespace}"}}',
        f'{{source_workload_namespace="{quiet_namespace}"}}',
        '{destination_workload_namespace="bookinfo",destination_workload="reviews-v3"}',
        '{source_workload_namespace="bookinfo",source_workload="reviews-v1",'
        'destination_workload="ratings-v1"}',
    ):
        assert prometheus.query(f"count({selector})", scenario_time) == [], selector


@pytest.mark.parametrize("view", list(GraphView))
def test_demo_telemetry_equals_the_collector_promql(prometheus, scenarios, scenario_time, view):
    """The one query per family a collector sends, answered by Prometheus, equals DemoTelemetry."""
    everywhere = tuple(sorted({ns for mesh in scenarios.meshes for ns in mesh.namespaces}))
    whole = GraphQuery(everywhere, view, WINDOW_S, scenario_time)
    collected = PrometheusCollector(prometheus.url, timeout_s=30.0).graph_telemetry(whole)
    from_prometheus: dict[tuple, float] = defaultdict(float)
    for r in counted_once(collected.requests, everywhere):
        from_prometheus[(r.source, r.destination, r.protocol, r.response_code, r.grpc_status)] += (
            r.rps
        )
    from_demo: dict[tuple, float] = defaultdict(float)
    latency_demo = {}
    for mesh in scenarios.meshes:
        query = GraphQuery(mesh.namespaces, view, WINDOW_S, scenario_time)
        telemetry = mesh.telemetry.graph_telemetry(query)
        # Each request once, as the graph counts it (mesh/graph/reporters.py): every namespace of the
        # mesh is selected, so the caller's report, plus the callee's for unmeshed callers.
        for r in counted_once(telemetry.requests, query.namespaces):
            from_demo[(r.source, r.destination, r.protocol, r.response_code, r.grpc_status)] += (
                r.rps
            )
        for lat in telemetry.latencies:
            latency_demo[(lat.source, lat.destination)] = lat
    assert from_prometheus.keys() == from_demo.keys()
    for k, expected in from_demo.items():
        assert from_prometheus[k] == pytest.approx(expected, rel=0.02, abs=0.01), k

    found = collected.latencies
    assert len(found) == len(latency_demo)
    for lat in found:
        expected = latency_demo[(lat.source, lat.destination)]
        assert lat.p95_ms is not None and not math.isnan(lat.p95_ms)
        assert lat.p95_ms == pytest.approx(expected.p95_ms, rel=0.05), lat


def test_prometheus_server_restarts_on_the_same_port_with_its_data(tmp_path):
    """Fault tests stop the backend and bring it back: same URL, same data, extra scrape job."""
    require_prometheus()
    text = '# TYPE x counter\nx_total{a="b"} 0 1767225000\nx_total{a="b"} 60 1767225060\n# EOF\n'
    job = {"job_name": "extra", "static_configs": [{"targets": ["127.0.0.1:9"]}]}
    with PrometheusServer(tmp_path, scrape_configs=[job]) as server:
        server.load_openmetrics(text)
        server.start()
        url = server.url
        assert server.query_value("rate(x_total[1m])", 1767225060) == pytest.approx(1.0)
        server.stop()
        assert not server.running
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/-/ready", timeout=2)
        server.start()
        assert server.url == url
        assert server.query_value("rate(x_total[1m])", 1767225060) == pytest.approx(1.0)
        config = requests.get(f"{url}/api/v1/status/config", timeout=5).json()["data"]["yaml"]
        assert "job_name: extra" in config
