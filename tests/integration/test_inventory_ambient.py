"""Issue 21 on a REAL Prometheus: the overview (/api/namespaces) and the lists (/api/list) of an
ambient mesh (L7 only from waypoints) and of a mixed one (a namespace moving to ambient) count
each request once, by the graph's reporter rule (mesh/graph/reporters.destination_side_counts),
in as many queries as for a sidecar mesh (1 for the overview, 2 for a list).

The meshes are tests/integration/ambient_scenario.py's, the graph tests' data. Every expectation
is PromQL's own answer on the report that counts, written out per row here:
- ambient: every request from the waypoint (`reporter="waypoint"`);
- mixed: productpage (sidecar) -> reviews (ambient) from the caller's report (the waypoint's
  report of the same requests is dropped); reviews-v1 (ambient) -> ratings-v1 (sidecar) from the
  destination sidecar's (no caller's report, it stands in); reviews-v2 -> ratings-v2 (both
  ambient) from the waypoint's; productpage -> details (both sidecars) from the caller's.
p95 is PromQL's histogram_quantile over the destination side's buckets (sidecar, else waypoint).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from app import create_app
from demo.openmetrics import write_series
from devtools.promserver import PrometheusServer, require_prometheus
from tests.integration import ambient_scenario as sc
from tests.integration.prom_received import queries_received
from wiring.settings import Settings

pytestmark = pytest.mark.integration

W = "5m"
NS = sc.NS
ERRORS = ('response_code=~"5..|0"', 'response_code!~"5..|0",grpc_response_status=~"[1-9]|1[0-6]"')
WAYPOINT = 'reporter="waypoint"'
CALLER = 'reporter="source"'
SIDECAR = 'reporter="destination"'

# (scenario, kind, entity name, the selectors of the reports that count for it)
ROWS = [
    ("ambient", "service", "reviews", [WAYPOINT]),
    ("ambient", "service", "ratings", [WAYPOINT]),
    ("ambient", "workload", "reviews-v1", [WAYPOINT]),
    ("ambient", "workload", "reviews-v2", [WAYPOINT]),
    ("ambient", "workload", "ratings-v1", [WAYPOINT]),
    ("mixed", "service", "reviews", [CALLER]),
    ("mixed", "service", "ratings", [SIDECAR, WAYPOINT]),
    ("mixed", "service", "details", [CALLER]),
    ("mixed", "workload", "reviews-v1", [CALLER]),
    ("mixed", "workload", "ratings-v1", [SIDECAR]),
    ("mixed", "workload", "ratings-v2", [WAYPOINT]),
    ("mixed", "workload", "details-v1", [CALLER]),
]
ENTITY = {"service": "destination_service_name", "workload": "destination_workload"}


@pytest.fixture(scope="module")
def proms(tmp_path_factory) -> Iterator[dict[str, PrometheusServer]]:
    require_prometheus()
    servers: dict[str, PrometheusServer] = {}
    try:
        for name, series in (("ambient", sc.ambient_series()), ("mixed", sc.mixed_series())):
            server = PrometheusServer(tmp_path_factory.mktemp(f"inventory-{name}"))
            buf = io.StringIO()
            write_series(series, buf)
            server.load_openmetrics(buf.getvalue())
            server.start()
            servers[name] = server
        yield servers
    finally:
        for server in servers.values():
            server.close()


def client(prom: PrometheusServer, tmp_path):
    settings = Settings(prometheus_url=prom.url, audit_log=tmp_path / "audit.jsonl")
    return create_app(settings).server.test_client()


def rate(prom: PrometheusServer, selectors: list[str], where: str, extra: str = "") -> float:
    total = 0.0
    for sel in selectors:
        inner = ",".join(p for p in (sel, where, extra) if p)
        total += prom.query_value(f"sum(rate(istio_requests_total{{{inner}}}[{W}]))", sc.END) or 0
    return total


def error_share(prom: PrometheusServer, selectors: list[str], where: str) -> float:
    rps = rate(prom, selectors, where)
    return sum(rate(prom, selectors, where, e) for e in ERRORS) / rps


def p95(prom: PrometheusServer, where: str) -> float | None:
    value = prom.query_value(
        "histogram_quantile(0.95, sum by (le) (rate(istio_request_duration_milliseconds_bucket"
        f'{{reporter=~"destination|waypoint",{where}}}[{W}])))',
        sc.END,
    )
    return None if value is None or value != value else value


@pytest.mark.parametrize(("scenario", "kind", "name", "selectors"), ROWS)
def test_each_list_row_equals_promql_on_the_report_that_counts(
    proms, tmp_path, scenario, kind, name, selectors
):
    prom = proms[scenario]
    before = queries_received(prom.url)
    body = (
        client(prom, tmp_path)
        .get(f"/api/list?kind={kind}&namespace={NS}&window={W}&at={sc.END:.0f}")
        .get_json()
    )
    assert queries_received(prom.url) - before == 2 == body["queries"]
    rows = {r["name"]: r for r in body["rows"]}
    where = f'destination_service_namespace="{NS}",{ENTITY[kind]}="{name}"'
    want = rate(prom, selectors, where)
    assert want > 0
    assert rows[name]["rps"] == pytest.approx(want, abs=1e-4)
    assert rows[name]["error_rate"] == pytest.approx(error_share(prom, selectors, where), abs=1e-6)
    want_p95 = p95(prom, where)
    assert want_p95 is not None
    assert rows[name]["p95_ms"] == pytest.approx(want_p95, abs=1e-3)


@pytest.mark.parametrize(
    ("scenario", "selectors"),
    [
        ("ambient", [WAYPOINT]),
        # the mixed namespace: each edge's counting report, one selector each (module docstring)
        ("mixed", None),
    ],
)
def test_the_namespace_row_equals_promql_on_the_reports_that_count(
    proms, tmp_path, scenario, selectors
):
    prom = proms[scenario]
    before = queries_received(prom.url)
    body = client(prom, tmp_path).get(f"/api/namespaces?window={W}&at={sc.END:.0f}").get_json()
    assert queries_received(prom.url) - before == 1 == body["queries"]
    [row] = [r for r in body["namespaces"] if r["namespace"] == NS]
    parts = (
        [(selectors, f'destination_service_namespace="{NS}"')]
        if selectors
        else [
            ([CALLER], 'destination_service_name="reviews"'),
            ([SIDECAR], 'destination_service_name="ratings"'),
            ([WAYPOINT], 'destination_service_name="ratings"'),
            ([CALLER], 'destination_service_name="details"'),
        ]
    )
    rps = sum(rate(prom, sel, where) for sel, where in parts)
    errors = sum(rate(prom, sel, where, e) for sel, where in parts for e in ERRORS)
    assert rps > 0
    assert row["rps_served"] == pytest.approx(rps, abs=1e-4)
    assert row["error_rate"] == pytest.approx(errors / rps, abs=1e-6)
    assert row["rps_in"] == 0  # nothing enters bookinfo from another namespace here
