"""/api/metrics through the real app factory, with a series source written for the test."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from app import create_app
from mesh.errors import BackendDataError, BackendTimeout, BackendUnavailable
from mesh.quantiles import ISTIO_BUCKETS_MS, cumulative_buckets
from mesh.series import BucketSeries, RequestSeries, SeriesQuery, SeriesTelemetry, TcpSeries
from wiring.services import Services
from wiring.settings import Settings

NOW = 1_795_881_075.0


def _points(q: SeriesQuery, value) -> tuple[tuple[float, float], ...]:
    out = []
    for i, t in enumerate(q.timestamps()):
        v = value(i)
        if v is not None:
            out.append((t, v))
    return tuple(out)


@dataclass
class FakeSeries:
    """Reviews with v1 (no errors) and v2 (5xx only in the second half), calling ratings."""

    name: str = "test-series"
    calls: list[SeriesQuery] = field(default_factory=list)
    fail: Exception | None = None

    def series_telemetry(self, query: SeriesQuery) -> SeriesTelemetry:
        self.calls.append(query)
        if self.fail:
            raise self.fail
        n = len(query.timestamps())
        per_bucket = [0.0] * (len(ISTIO_BUCKETS_MS) + 1)
        per_bucket[6] = 3.0  # 50-100 ms
        cum = cumulative_buckets(ISTIO_BUCKETS_MS, per_bucket)
        return SeriesTelemetry(
            query=query,
            inbound=(
                RequestSeries("v1", "http", "200", "", _points(query, lambda i: 3.0)),
                RequestSeries("v2", "http", "200", "", _points(query, lambda i: 1.0)),
                RequestSeries(
                    "v2", "http", "503", "", _points(query, lambda i: 1.0 if i >= n // 2 else 0.0)
                ),
            ),
            inbound_buckets=tuple(
                BucketSeries(le, _points(query, lambda i, c=c: c), version="v1") for le, c in cum
            ),
            inbound_tcp=(),
            outbound=(
                RequestSeries(
                    "v2", "http", "200", "", _points(query, lambda i: 1.0), "bookinfo/ratings"
                ),
            ),
            outbound_tcp=(TcpSeries((), (), destination="bookinfo/mysql"),),
            queries_sent=6,
        )


class GraphOnly:
    name = "graph-only"

    def graph_telemetry(self, query):  # pragma: no cover - never reached in these tests
        raise AssertionError("the metrics view must not ask the graph source")


@pytest.fixture
def source():
    return FakeSeries()


@pytest.fixture
def client(source):
    settings = Settings(prometheus_url="http://127.0.0.1:1", default_namespaces=("bookinfo",))
    svc = Services(settings=settings, telemetry=GraphOnly(), series=source, clock=lambda: NOW)
    return create_app(settings, svc).server.test_client()


def test_metrics_json_shape_and_figures(client, source):
    r = client.get("/api/metrics?namespace=bookinfo&service=reviews&window=30m")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["namespace"] == "bookinfo" and body["service"] == "reviews"
    assert body["window"] == "30m" and body["step"] == "10s"
    assert body["end"] == int(NOW // 10 * 10) and body["start"] == body["end"] - 1800
    assert body["versions"] == ["v1", "v2"]
    s = body["series"]
    assert set(s) >= {"rps", "success_rate", "p50_ms", "p95_ms", "p99_ms", "codes"}
    assert s["rps"]["v1"][0] == [body["start"], 3.0]
    assert len(s["rps"]["v1"]) == 181
    # v2 fails half of its requests in the second half only; success rates are fractions.
    assert s["success_rate"]["v2"][0][1] == 1.0 and s["success_rate"]["v2"][-1][1] == 0.5
    assert s["codes"]["5xx"]["v2"][-1][1] == 1.0 and "v1" not in s["codes"]["5xx"]
    # Latency only for the version with buckets; nothing invented for the other.
    assert "v2" not in s["p95_ms"] and 50 < s["p95_ms"]["v1"][0][1] < 100
    ratings = next(o for o in body["outbound"] if o["service"] == "ratings")
    assert ratings["rps"] == 1.0 and ratings["error_rate"] == 0.0
    assert ratings["rps_by_version"] == {"v2": 1.0}
    assert body["summary"]["v1"]["share"] == pytest.approx(3 / (3 + 1 + 91 / 181))
    assert body["has_traffic"] is True and body["queries"] == 6
    assert source.calls[0].rate_s == 60


def test_explicit_step_and_at(client, source):
    r = client.get(
        "/api/metrics?namespace=bookinfo&service=reviews&window=1h&step=1m&at=1795880000"
    )
    assert r.status_code == 200, r.get_json()
    q = source.calls[0]
    assert (q.step_s, q.end, q.start) == (60, 1795880000 // 60 * 60, 1795880000 // 60 * 60 - 3600)
    assert len(r.get_json()["series"]["rps"]["v1"]) == 61


def test_workload_target(client, source):
    r = client.get("/api/metrics?namespace=bookinfo&workload=reviews-v2&window=5m")
    assert r.status_code == 200
    assert r.get_json()["workload"] == "reviews-v2"
    assert source.calls[0].target == "workload" and source.calls[0].name == "reviews-v2"


@pytest.mark.parametrize(
    "query, field",
    [
        ("service=reviews", "namespace"),
        ("namespace=bookinfo", "service"),
        ("namespace=Bad_NS&service=reviews", "namespace"),
        ('namespace=bookinfo&service=reviews"}or vector(1)', "service"),
        ("namespace=bookinfo&service=reviews&workload=reviews-v1", "service"),
        ("namespace=bookinfo&service=reviews&window=forever", "window"),
        ("namespace=bookinfo&service=reviews&window=1h&step=1s", "step"),
        ("namespace=bookinfo&service=reviews&window=5m&step=10m", "step"),
        ("namespace=bookinfo&service=reviews&at=yesterday", "at"),
    ],
)
def test_bad_input_is_400_and_never_reaches_the_backend(client, source, query, field):
    r = client.get("/api/metrics?" + query)
    assert r.status_code == 400
    assert r.get_json()["field"] == field
    assert source.calls == []


@pytest.mark.parametrize(
    "exc, status",
    [
        (BackendUnavailable("prometheus", "connection refused"), 502),
        (BackendDataError("prometheus", "NaN in a rate"), 502),
        (BackendTimeout("prometheus", "no answer within 10s"), 504),
    ],
)
def test_backend_failures_are_json_502_504(client, source, exc, status):
    source.fail = exc
    r = client.get("/api/metrics?namespace=bookinfo&service=reviews")
    assert r.status_code == status
    assert r.get_json()["backend"] == "prometheus"


def test_no_traffic_is_empty_series_not_zeros(source):
    class Silent(FakeSeries):
        def series_telemetry(self, query):
            return SeriesTelemetry(query=query, queries_sent=6)

    settings = Settings(prometheus_url="http://127.0.0.1:1")
    svc = Services(settings=settings, telemetry=GraphOnly(), series=Silent(), clock=lambda: NOW)
    body = (
        create_app(settings, svc)
        .server.test_client()
        .get("/api/metrics?namespace=bookinfo&service=reviews")
        .get_json()
    )
    assert body["has_traffic"] is False
    assert body["series"]["rps"] == {} and body["outbound"] == []
    assert body["summary"]["all"]["rps"] is None


def test_no_series_source_is_a_502():
    settings = Settings(prometheus_url="http://127.0.0.1:1")
    svc = Services(settings=settings, telemetry=GraphOnly(), clock=lambda: NOW)
    r = (
        create_app(settings, svc)
        .server.test_client()
        .get("/api/metrics?namespace=bookinfo&service=reviews")
    )
    assert r.status_code == 502
