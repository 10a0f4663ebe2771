"""/api/canary through the real app factory, with a canary source written for the test."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from app import create_app
from mesh.canary.records import BucketCount, CanaryQuery, CanaryTelemetry, OutcomeCount
from mesh.errors import BackendTimeout, BackendUnavailable, BadRequest
from mesh.quantiles import ISTIO_BUCKETS_MS, cumulative_buckets
from mesh.telemetry_records import GraphQuery, GraphTelemetry
from mesh.validate import TimeWindow
from views.canary import canary_view, parse_canary_params
from wiring.services import Services
from wiring.settings import Settings

NOW = 1795881075.0


def _rows(version: str, ok: float, failed: float, per_bucket: dict[float, float]):
    outcomes = [OutcomeCount(version, "200", "", ok), OutcomeCount(version, "503", "", failed)]
    per = [per_bucket.get(b, 0.0) for b in ISTIO_BUCKETS_MS] + [0.0]
    buckets = [BucketCount(version, le, c) for le, c in cumulative_buckets(ISTIO_BUCKETS_MS, per)]
    return outcomes, buckets


@dataclass
class RecordingSource:
    """A telemetry source that also answers canary queries (the CanarySource Protocol)."""

    name: str = "test"
    canary_errors: float = 1.0
    canary_requests: float = 2000.0
    calls: list[CanaryQuery] = field(default_factory=list)
    fail: Exception | None = None

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        return GraphTelemetry(query=query)

    def canary_telemetry(self, query: CanaryQuery) -> CanaryTelemetry:
        self.calls.append(query)
        if self.fail:
            raise self.fail
        n = self.canary_requests
        ob, bb = _rows(query.baseline, 3998.0, 2.0, {10: 2000.0, 25: 2000.0})
        oc, bc = _rows(
            query.canary, n - self.canary_errors, self.canary_errors, {10: n / 2, 25: n / 2}
        )
        return CanaryTelemetry(query, tuple(ob + oc), tuple(bb + bc), queries_sent=2)


@pytest.fixture
def source():
    return RecordingSource()


@pytest.fixture
def client(source):
    settings = Settings(prometheus_url="http://127.0.0.1:1", default_namespaces=("shop",))
    svc = Services(settings=settings, telemetry=source, clock=lambda: NOW)
    return create_app(settings, svc).server.test_client()


def test_equal_versions_promote_with_figures_tests_and_gates(client, source):
    r = client.get("/api/canary/shop/cart?baseline=v1&canary=v2&window=10m")
    assert r.status_code == 200
    body = r.get_json()
    assert body["verdict"] == "promote"
    assert (body["namespace"], body["service"], body["window"], body["at"]) == (
        "shop",
        "cart",
        "10m",
        int(NOW),
    )
    assert body["baseline"]["version"] == "v1" and body["canary"]["version"] == "v2"
    assert body["canary"]["requests"] == 2000.0
    assert body["canary"]["success_rate"] == pytest.approx(0.9995)
    assert body["canary"]["p99_ms"] == pytest.approx(10 + 15 * 0.98)
    assert [g["status"] for g in body["gates"]] == ["pass"] * 6
    assert body["reasons"] == [g["reason"] for g in body["gates"]]
    assert set(body["tests"]) == {"errors", "latency"}
    assert (body["queries"], body["source"]) == (2, "test")
    assert source.calls == [CanaryQuery("shop", "cart", "v1", "v2", 600, NOW)]
    json.dumps(body, allow_nan=False)


def test_five_percent_errors_roll_back_naming_the_success_gate(client, source):
    source.canary_errors = 100.0
    body = client.get("/api/canary/shop/cart?baseline=v1&canary=v2").get_json()
    assert body["verdict"] == "rollback"
    assert body["reasons"] == ["success gate failed: canary 95.0% < 99.0%"]


def test_twenty_requests_is_insufficient_traffic(client, source):
    source.canary_requests, source.canary_errors = 20.0, 0.0
    body = client.get("/api/canary/shop/cart?baseline=v1&canary=v2").get_json()
    assert body["verdict"] == "insufficient_traffic"
    assert "not enough traffic yet" in body["reasons"][0]


def test_gate_overrides_and_at_are_passed_through(client, source):
    r = client.get(
        "/api/canary/shop/cart?baseline=v1&canary=v2&window=30m&at=1795880000&max_p99_ms=20"
    )
    body = r.get_json()
    assert source.calls[-1].at == 1795880000.0 and source.calls[-1].window_s == 1800
    assert body["verdict"] == "rollback"
    assert body["reasons"] == ["latency gate failed: canary p99 25 ms > 20 ms"]
    assert body["config"]["max_p99_ms"] == 20.0


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/canary/shop/cart?canary=v2", "baseline"),
        ("/api/canary/shop/cart?baseline=v1", "canary"),
        ("/api/canary/shop/cart?baseline=v1&canary=v1", "canary"),
        ("/api/canary/Shop/cart?baseline=v1&canary=v2", "namespace"),
        ("/api/canary/shop/cart_x?baseline=v1&canary=v2", "service"),
        ("/api/canary/shop/cart?baseline=v1&canary=v2%22}", "canary"),
        ("/api/canary/shop/cart?baseline=v1&canary=v2&window=10x", "window"),
        ("/api/canary/shop/cart?baseline=v1&canary=v2&at=yesterday", "at"),
        ("/api/canary/shop/cart?baseline=v1&canary=v2&at=946684799", "at"),  # before 2000
        # two days after the service's clock (NOW): refused against that clock, not a fixed one
        (f"/api/canary/shop/cart?baseline=v1&canary=v2&at={NOW + 2 * 86400:.0f}", "at"),
        ("/api/canary/shop/cart?baseline=v1&canary=v2&min_success_rate=2", "min_success_rate"),
        ("/api/canary/shop/cart?baseline=v1&canary=v2&min_requests=0", "min_requests"),
    ],
)
def test_bad_input_is_400_before_any_backend_is_asked(client, source, url, field):
    r = client.get(url)
    assert r.status_code == 400
    assert r.get_json()["field"] == field
    assert source.calls == []


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (BackendUnavailable("prometheus", "connection refused"), 502),
        (BackendTimeout("prometheus", "no answer within 10 s"), 504),
    ],
)
def test_backend_failures_are_json_502_and_504(client, source, error, status):
    source.fail = error
    r = client.get("/api/canary/shop/cart?baseline=v1&canary=v2")
    assert r.status_code == status
    assert r.get_json()["backend"] == "prometheus"


def test_no_canary_source_is_502():
    class GraphOnly:
        name = "graph-only"

        def graph_telemetry(self, query):
            return GraphTelemetry(query=query)

    settings = Settings(prometheus_url="http://127.0.0.1:1")
    svc = Services(settings=settings, telemetry=GraphOnly(), clock=lambda: NOW)
    r = (
        create_app(settings, svc)
        .server.test_client()
        .get("/api/canary/shop/cart?baseline=v1&canary=v2")
    )
    assert r.status_code == 502
    assert "no source" in r.get_json()["error"]


def test_per_service_gates_from_settings_then_request_overrides(source):
    settings = SimpleNamespace(canary_gates={"shop/cart": {"min_requests": 5000}})
    svc = Services(settings=settings, telemetry=source, canary=None, routes=None, clock=lambda: NOW)
    params = parse_canary_params({"baseline": "v1", "canary": "v2"}, "shop", "cart")
    body = canary_view(svc, params)
    assert body["verdict"] == "insufficient_traffic"
    assert "at least 5000 needed" in body["reasons"][0]
    params = parse_canary_params(
        {"baseline": "v1", "canary": "v2", "min_requests": "100"}, "shop", "cart"
    )
    assert canary_view(svc, params)["verdict"] == "promote"
    other = parse_canary_params({"baseline": "v1", "canary": "v2"}, "shop", "payments")
    assert canary_view(svc, other)["config"]["min_requests"] == 100


def test_gates_configured_in_the_environment_apply_to_that_service_only(monkeypatch, source):
    monkeypatch.setenv("MESHDASH_CANARY_GATES", '{"shop/cart": {"min_requests": 5000}}')
    settings = Settings(prometheus_url="http://127.0.0.1:1", default_namespaces=("shop",))
    svc = Services(settings=settings, telemetry=source, clock=lambda: NOW)
    client = create_app(settings, svc).server.test_client()
    cart = client.get("/api/canary/shop/cart?baseline=v1&canary=v2").get_json()
    assert cart["verdict"] == "insufficient_traffic"
    assert cart["config"]["min_requests"] == 5000
    other = client.get("/api/canary/shop/payments?baseline=v1&canary=v2").get_json()
    assert other["verdict"] == "promote"


@pytest.mark.parametrize(
    "gates",
    [
        '{"shop/cart": {"max_p99_ms": -1}}',
        '{"shop/cart": {"p99": 300}}',
        '{"shop": {"max_p99_ms": 300}}',
        '{"shop/Cart!": {"max_p99_ms": 300}}',
    ],
)
def test_bad_configured_gates_stop_start_up_naming_the_key(monkeypatch, gates):
    monkeypatch.setenv("MESHDASH_CANARY_GATES", gates)
    with pytest.raises(ValueError, match="canary_gates"):
        Settings(prometheus_url="http://127.0.0.1:1")


def test_page_style_args_carry_namespace_and_service():
    params = parse_canary_params(
        {"namespace": "shop", "service": "cart", "baseline": "v1", "canary": "1.2.3"}
    )
    assert (params.namespace, params.service, params.canary, params.window) == (
        "shop",
        "cart",
        "1.2.3",
        TimeWindow("10m", 600),
    )
    with pytest.raises(BadRequest):
        parse_canary_params({"service": "cart", "baseline": "v1", "canary": "v2"})


def test_json_buckets_are_per_bucket_counts_with_prometheus_le(client):
    body = client.get("/api/canary/shop/cart?baseline=v1&canary=v2").get_json()
    buckets = body["canary"]["buckets"]
    assert len(buckets) == len(ISTIO_BUCKETS_MS) + 1
    assert buckets[2] == {"le": "5", "count": 0.0}
    assert buckets[3] == {"le": "10", "count": 1000.0}
    assert buckets[-1]["le"] == "+Inf"
    assert math.isclose(sum(b["count"] for b in buckets), 2000.0)
