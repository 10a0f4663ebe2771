"""The demo's ambient switch (issue 21): Bookinfo without sidecars exports waypoint-reported L7
series, and the demo graph equals what the Prometheus collector computes from those series once
they are backfilled into a real Prometheus.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from collectors.prometheus import PrometheusCollector
from demo.bookinfo import bookinfo_spec
from demo.mesh import DemoMesh
from demo.openmetrics import write_series
from demo.series import mesh_series
from devtools.promserver import PrometheusServer, require_prometheus
from mesh.graph.build import build_graph, graph_json
from mesh.telemetry_records import GraphQuery, GraphView
from tests.integration.prom_received import queries_received

pytestmark = pytest.mark.integration

END = 1767222000.0
START = END - 1200


@pytest.fixture(scope="module")
def mesh() -> DemoMesh:
    return DemoMesh(bookinfo_spec(ambient=True), clock=lambda: END, history_start=START - 3600)


@pytest.fixture(scope="module")
def prom(tmp_path_factory, mesh) -> Iterator[PrometheusServer]:
    require_prometheus()
    server = PrometheusServer(tmp_path_factory.mktemp("demo-ambient"))
    buf = io.StringIO()
    write_series(mesh_series(mesh.model, START, END, 15.0), buf)
    server.load_openmetrics(buf.getvalue())
    server.start()
    try:
        yield server
    finally:
        server.close()


def test_ambient_bookinfo_reports_l7_from_waypoints_only(prom):
    reporters = {
        r["metric"]["reporter"]
        for r in prom.query(
            'count by (reporter) (istio_requests_total{source_workload_namespace="bookinfo"})', END
        )
    }
    assert reporters == {"waypoint"}  # no sidecar inside: no caller's or destination's report
    # The ingress gateway is still an Envoy: its own report of its calls stays.
    gateway = prom.query(
        'count by (reporter) (istio_requests_total{source_workload="istio-ingressgateway"})', END
    )
    assert {r["metric"]["reporter"] for r in gateway} == {"source", "waypoint"}


@pytest.mark.parametrize("view", [GraphView.WORKLOAD, GraphView.SERVICE], ids=str)
def test_the_ambient_demo_graph_equals_the_collectors(prom, mesh, view):
    query = GraphQuery(("bookinfo",), view, 300, END)
    demo = {
        (e["source"], e["target"]): e
        for e in graph_json(build_graph(mesh.telemetry.graph_telemetry(query)))["edges"]
    }
    collector = PrometheusCollector(prom.url, timeout_s=20.0)
    before = queries_received(prom.url)
    try:
        telemetry = collector.graph_telemetry(query)
    finally:
        collector.close()
    assert telemetry.queries_sent == queries_received(prom.url) - before == 3
    live = {(e["source"], e["target"]): e for e in graph_json(build_graph(telemetry))["edges"]}
    assert set(demo) == set(live) and len(live) >= 4
    tcp = {key for key, edge in live.items() if edge["protocol"] == "tcp"}
    # ztunnel's L4 to and from the waypoint's own pod: bytes, the same in both.
    assert tcp and all("waypoint" in key[0] + key[1] for key in tcp)
    for key in tcp:
        assert demo[key]["bps"] == pytest.approx(live[key]["bps"], rel=0.02), key
    for key, edge in live.items():
        if key in tcp:
            continue
        assert edge["rps"] > 0, key
        # Only the integer rounding of the exported counters separates the two.
        assert demo[key]["rps"] == pytest.approx(edge["rps"], rel=0.02), key
        assert demo[key]["error_rate"] == pytest.approx(edge["error_rate"], abs=0.002), key
        assert demo[key]["p95_ms"] == pytest.approx(edge["p95_ms"], rel=0.05), key
