"""Issue 21 on a REAL Prometheus: the service history and the canary analysis of an ambient
mesh (L7 only from waypoints) and a mixed one count each request once, equal to PromQL's
answer on the report that counts; latency from the destination side (sidecar, else waypoint).
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator

import pytest

from collectors.prometheus import PrometheusCollector
from collectors.prometheus_canary import PrometheusCanarySource
from collectors.prometheus_series import PrometheusSeries
from demo.openmetrics import write_series
from devtools.promserver import PrometheusServer, require_prometheus
from mesh.canary.records import CanaryQuery
from mesh.series import Target, series_query
from tests.integration import ambient_scenario as sc
from tests.integration.prom_received import RANGE, queries_received

pytestmark = pytest.mark.integration

NS = sc.NS
WINDOW_S = 600
VERSION = "destination_canonical_revision"


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[dict[str, PrometheusServer]]:
    require_prometheus()
    out: dict[str, PrometheusServer] = {}
    try:
        for name, series in (("ambient", sc.ambient_series()), ("mixed", sc.mixed_series())):
            server = PrometheusServer(tmp_path_factory.mktemp(name))
            buf = io.StringIO()
            write_series(series, buf)
            server.load_openmetrics(buf.getvalue())
            server.start()
            out[name] = server
        yield out
    finally:
        for server in out.values():
            server.close()


def by_version(prom: PrometheusServer, text: str) -> dict[str, float]:
    return {s["metric"][VERSION]: float(s["value"][1]) for s in prom.query(text, sc.END)}


def last_rps_by_version(prom: PrometheusServer, service: str) -> tuple[dict[str, float], int]:
    collector = PrometheusSeries(prom.url, timeout_s=20.0)
    before = queries_received(prom.url, RANGE)
    try:
        q = series_query(NS, service, Target.SERVICE, WINDOW_S, sc.END)
        telemetry = collector.series_telemetry(q)
    finally:
        collector.close()
    assert telemetry.queries_sent == queries_received(prom.url, RANGE) - before == 6
    got: dict[str, float] = defaultdict(float)
    for s in telemetry.inbound:
        at = dict(s.points)
        got[s.version] += at.get(q.end, 0.0)
    return dict(got), q.rate_s


# (server, service, the reports that count, PromQL matchers)
HISTORY = [
    ("ambient", "reviews", 'reporter="waypoint"'),
    ("mixed", "reviews", 'reporter="source"'),  # sidecar caller beside the waypoint: once
    ("mixed", "ratings", 'reporter=~"destination|waypoint"'),  # ambient callers
]


@pytest.mark.parametrize(("server", "service", "counted"), HISTORY)
def test_service_history_counts_each_request_once(servers, server, service, counted):
    prom = servers[server]
    got, rate_s = last_rps_by_version(prom, service)
    expected = by_version(
        prom,
        f"sum by ({VERSION}) (rate(istio_requests_total{{{counted},"
        f'destination_service_name="{service}"}}[{rate_s}s]))',
    )
    assert expected and set(got) == set(expected)
    for version, value in expected.items():
        assert got[version] == pytest.approx(value, rel=1e-6), version


def canary(prom: PrometheusServer, service: str, baseline: str, candidate: str):
    collector = PrometheusCollector(prom.url, timeout_s=20.0)
    before = queries_received(prom.url)
    try:
        source = PrometheusCanarySource(collector)
        telemetry = source.canary_telemetry(
            CanaryQuery(NS, service, baseline, candidate, WINDOW_S, sc.END)
        )
    finally:
        collector.close()
    assert telemetry.queries_sent == queries_received(prom.url) - before == 2
    return telemetry


CANARY = [
    ("ambient", "reviews", "v1", "v2", 'reporter="waypoint"', 'reporter="waypoint"'),
    ("mixed", "reviews", "v1", "v2", 'reporter="source"', 'reporter="waypoint"'),
    ("mixed", "ratings", "v1", "v2", 'reporter=~"destination|waypoint"', None),
]


@pytest.mark.parametrize(("server", "service", "base", "cand", "counted", "latency"), CANARY)
def test_canary_analysis_counts_and_times_each_request_once(
    servers, server, service, base, cand, counted, latency
):
    prom = servers[server]
    telemetry = canary(prom, service, base, cand)
    got: dict[str, float] = defaultdict(float)
    for o in telemetry.outcomes:
        got[o.version] += o.count
    where = f'destination_service_name="{service}"'
    expected = by_version(
        prom, f"sum by ({VERSION}) (increase(istio_requests_total{{{counted},{where}}}[10m]))"
    )
    assert expected and set(got) == set(expected)
    for version, value in expected.items():
        assert got[version] == pytest.approx(value, rel=1e-6), version
    if latency is None:
        return
    # Buckets from the destination side: here the waypoint's, never the caller's slower ones.
    rows = prom.query(
        f"sum by ({VERSION}, le) (increase("
        f"istio_request_duration_milliseconds_bucket{{{latency},{where}}}[10m]))",
        sc.END,
    )
    want = {(r["metric"][VERSION], float(r["metric"]["le"])): float(r["value"][1]) for r in rows}
    have = {(b.version, b.le): b.count for b in telemetry.buckets}
    assert want and set(have) == set(want)
    for key, value in want.items():
        assert have[key] == pytest.approx(value, rel=1e-6), key
