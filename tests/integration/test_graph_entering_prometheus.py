"""The topology's "Requests" figure on a REAL Prometheus: the traffic entering the shown
namespaces equals PromQL's own sum of the reports that count for it (DESIGN.md "Reporters"):
the destination's reports of calls from outside the namespaces (gateways, other namespaces,
unmeshed callers), plus the callers' reports of requests from outside that reached no pod of a
host inside them, plus, when a gateway's namespace is shown, what the gateway sends on. Not the sum of every edge, which counts a user request once per hop."""

from __future__ import annotations

import pytest

from collectors.prometheus import PrometheusCollector
from mesh.graph.build import build_graph
from mesh.graph.entering import entering_summary
from mesh.telemetry_records import GraphQuery, GraphView

pytestmark = pytest.mark.integration

WINDOW = "5m"
SELECTIONS = [
    ("bookinfo",),
    ("shop",),
    ("payments",),
    ("shop", "payments", "data"),
    ("istio-system", "bookinfo"),
]
ERRORS = 'response_code=~"5..|0"'
GRPC_ERRORS = 'response_code!~"5..|0",grpc_response_status=~"[1-9]|1[0-6]"'


@pytest.fixture(scope="module")
def collector(prometheus):
    c = PrometheusCollector(prometheus.url, timeout_s=20.0)
    yield c
    c.close()


def promql_entering(prometheus, at: float, namespaces: tuple[str, ...], extra: str = "") -> float:
    """PromQL's sum, written here from DESIGN.md's rules, not from mesh/."""
    ns = "|".join(namespaces)
    outside = f'source_workload_namespace!~"{ns}"'
    entered = (
        f'reporter="destination",destination_service_namespace=~"{ns}",{outside}'
        f"{',' + extra if extra else ''}"
    )
    no_pod = (
        f'reporter="source",destination_workload="unknown",'
        f'destination_service=~"[^.]+[.]({ns})([.].*)?",{outside}'
        f"{',' + extra if extra else ''}"
    )
    # A shown gateway's callers are not reported: what it sends on into the namespaces entered.
    through_gateway = (
        f'reporter="source",source_workload_namespace=~"{ns}",source_workload=~".*gateway.*",'
        f'destination_service_namespace=~"{ns}",destination_workload!~".*gateway.*"'
        f"{',' + extra if extra else ''}"
    )
    text = (
        f"sum(rate(istio_requests_total{{{entered}}}[{WINDOW}])) or vector(0)",
        f"sum(rate(istio_requests_total{{{no_pod}}}[{WINDOW}])) or vector(0)",
        f"sum(rate(istio_requests_total{{{through_gateway}}}[{WINDOW}])) or vector(0)",
    )
    return sum(prometheus.query_value(t, at) or 0.0 for t in text)


@pytest.mark.parametrize("view", [GraphView.WORKLOAD, GraphView.SERVICE], ids=lambda v: v.value)
@pytest.mark.parametrize("namespaces", SELECTIONS, ids="+".join)
def test_entering_equals_the_promql_sum(prometheus, collector, scenario_time, namespaces, view):
    telemetry = collector.graph_telemetry(GraphQuery(namespaces, view, 300, scenario_time))
    got = entering_summary(build_graph(telemetry), namespaces)
    rps = promql_entering(prometheus, scenario_time, namespaces)
    assert rps > 0, "the scenario must send traffic into this selection"
    assert got["rps"] == pytest.approx(rps, rel=0.02)
    errors = promql_entering(prometheus, scenario_time, namespaces, ERRORS)
    errors += promql_entering(prometheus, scenario_time, namespaces, GRPC_ERRORS)
    assert got["error_rate"] == pytest.approx(errors / rps, abs=0.002)
    # And it is not the sum over every edge, which counts one request once per hop (payments
    # only receives: there the two agree).
    assert got["all_edges_rps"] >= got["rps"]
    if "bookinfo" in namespaces or "shop" in namespaces:
        assert got["all_edges_rps"] > got["rps"] * 1.2
