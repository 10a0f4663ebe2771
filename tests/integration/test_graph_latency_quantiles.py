"""The graph's p50/p95/p99, computed by the collector from one bucket query, equal a real
Prometheus's histogram_quantile over the same buckets, for every edge and every graph type.

Issue 16: the collector fetches `sum by (le, edge)` once and computes the quantiles itself
(mesh/quantiles.py) instead of asking PromQL for three histogram_quantile, which evaluate the
bucket rates once each. This checks the two agree to 1e-6 on the integration scenarios and on
buckets built for PromQL's edge cases: only the +Inf bucket, no request in the window (zero
rates), cumulative counts that decrease (PromQL forces them monotonic), a rank on a bucket
boundary, and everything in the +Inf bucket.
"""

from __future__ import annotations

import math

import pytest

from collectors.prometheus import QUANTILES, Endpoints, PrometheusCollector, latency_expression
from devtools.promserver import PrometheusServer, require_prometheus
from mesh.telemetry_records import Endpoint, GraphQuery, GraphView

pytestmark = pytest.mark.integration

WINDOW_S = 300
END = 1767225000
STEP = 15

# Cumulative per-second rates per `le`, per destination workload (the caller is always a-v1).
BOUNDS = ("5", "10", "25", "50", "+Inf")
EDGE_CASES: dict[str, tuple[float, ...] | dict[str, float]] = {
    "plain": (1.0, 3.0, 6.0, 8.0, 10.0),
    "inf-only": {"+Inf": 4.0},
    "idle": (0.0, 0.0, 0.0, 0.0, 0.0),
    "non-monotonic": (2.0, 7.0, 5.0, 9.0, 10.0),
    "on-boundary": (5.0, 5.0, 5.0, 10.0, 10.0),
    "all-above": (0.0, 0.0, 0.0, 0.0, 3.0),
}


def _labels(destination: str, le: str) -> str:
    pairs = {
        "reporter": "destination",
        "source_workload_namespace": "lat",
        "source_workload": "a-v1",
        "source_canonical_service": "a",
        "source_canonical_revision": "v1",
        "source_cluster": "c1",
        "destination_service_namespace": "lat",
        "destination_service_name": destination,
        "destination_service": f"{destination}.lat.svc.cluster.local",
        "destination_workload_namespace": "lat",
        "destination_workload": f"{destination}-v1",
        "destination_canonical_service": destination,
        "destination_canonical_revision": "v1",
        "destination_cluster": "c1",
        "le": le,
    }
    return ",".join(f'{k}="{v}"' for k, v in pairs.items())


def edge_case_openmetrics() -> str:
    """Counters growing at the rates above for the whole window before END."""
    name = "istio_request_duration_milliseconds_bucket"
    lines = [f"# TYPE {name} unknown"]
    for destination, rates in EDGE_CASES.items():
        per_le = rates if isinstance(rates, dict) else dict(zip(BOUNDS, rates, strict=True))
        for le, rate in per_le.items():
            labels = _labels(destination, le)
            for t in range(END - 2 * WINDOW_S, END + 1, STEP):
                lines.append(f"{name}{{{labels}}} {rate * (t - END + 2 * WINDOW_S)} {t}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def edge_prometheus(tmp_path_factory: pytest.TempPathFactory):
    require_prometheus()
    server = PrometheusServer(tmp_path_factory.mktemp("latency-edges"))
    server.load_openmetrics(edge_case_openmetrics())
    server.start()
    try:
        yield server
    finally:
        server.close()


def promql_quantiles(
    server: PrometheusServer, query: GraphQuery
) -> dict[tuple[Endpoint, Endpoint], list[float | None]]:
    """PromQL's own histogram_quantile over the collector's bucket query, per edge."""
    endpoints = Endpoints(query.view)
    found: dict[tuple[Endpoint, Endpoint], list[float | None]] = {}
    for slot, q in enumerate(QUANTILES):
        for sample in server.query(
            f"histogram_quantile({q}, ({latency_expression(query)}))", query.at
        ):
            key = endpoints.key(tuple(sample["metric"].get(n, "") for n in endpoints.names))
            value = float(sample["value"][1])
            values = found.setdefault(endpoints.pair(key), [None, None, None])
            values[slot] = None if math.isnan(value) else value
    return found


def assert_equal_to_promql(server: PrometheusServer, query: GraphQuery) -> int:
    expected = promql_quantiles(server, query)
    got = PrometheusCollector(server.url, timeout_s=30.0).graph_telemetry(query)
    computed = {(lat.source, lat.destination): lat for lat in got.latencies}
    assert computed.keys() == expected.keys()
    for edge, (p50, p95, p99) in expected.items():
        lat = computed[edge]
        for mine, theirs in zip((lat.p50_ms, lat.p95_ms, lat.p99_ms), (p50, p95, p99), strict=True):
            if theirs is None:
                assert mine is None, edge
            else:
                assert mine == pytest.approx(theirs, rel=1e-6, abs=1e-9), edge
    return len(expected)


@pytest.mark.parametrize("view", list(GraphView))
def test_every_scenario_edge_equals_promql_histogram_quantile(
    prometheus, scenarios, scenario_time, view
):
    everywhere = tuple(sorted({ns for mesh in scenarios.meshes for ns in mesh.namespaces}))
    edges = assert_equal_to_promql(
        prometheus, GraphQuery(everywhere, view, WINDOW_S, scenario_time)
    )
    assert edges > 5  # the scenarios have latency on many edges in every view


@pytest.mark.parametrize("view", list(GraphView))
def test_edge_cases_equal_promql_histogram_quantile(edge_prometheus, view):
    query = GraphQuery(("lat",), view, WINDOW_S, float(END))
    assert assert_equal_to_promql(edge_prometheus, query) == len(EDGE_CASES)


def test_edge_cases_are_what_a_reader_expects(edge_prometheus):
    """The same figures in words: no request is "no data" (None), never a zero."""
    got = PrometheusCollector(edge_prometheus.url, timeout_s=30.0).graph_telemetry(
        GraphQuery(("lat",), GraphView.WORKLOAD, WINDOW_S, float(END))
    )
    by_name = {lat.destination.app: lat for lat in got.latencies}
    assert (by_name["idle"].p50_ms, by_name["idle"].p99_ms) == (None, None)
    assert by_name["inf-only"].p50_ms is None  # one bucket: PromQL's NaN
    assert by_name["all-above"].p99_ms == pytest.approx(50.0)  # the highest finite bound
    assert by_name["on-boundary"].p50_ms == pytest.approx(5.0)
    # 7 then 5: forced to 7, so the median (rank 5) lies in the 5-10 bucket.
    assert by_name["non-monotonic"].p50_ms == pytest.approx(5 + 5 * (5 - 2) / (7 - 2))
