"""The canary sources: PromQL text and parsing (Prometheus), and the demo's traffic model."""

from __future__ import annotations

import math

import pytest

from collectors.prometheus import PrometheusCollector
from collectors.prometheus_canary import (
    PrometheusCanarySource,
    buckets_query,
    parse_buckets,
    parse_outcomes,
    requests_query,
)
from demo.bookinfo import bookinfo_spec
from demo.canary_source import DemoCanarySource
from demo.spec import Call, ErrorModel, LatencyModel, MeshSpec, Workload
from demo.state import TrafficState
from demo.traffic import TrafficModel
from mesh.canary.records import CanaryQuery, version_figures
from mesh.canary.verdict import Verdict, analyze_telemetry
from mesh.errors import BackendDataError, BackendUnavailable, BadRequest
from mesh.sources import CanarySource

AT = 1_800_000_000.0
QUERY = CanaryQuery("bookinfo", "reviews", "v1", "v2", 600, AT)


class FakeCollector:
    """Records query text and answers with canned vectors."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent: list[tuple[str, float]] = []

    def query(self, text, at):
        self.sent.append((text, at))
        return self.answers.pop(0)


def _sample(value, **labels):
    return {"metric": labels, "value": [AT, str(value)]}


def test_requests_query_counts_each_request_once_for_both_versions_only():
    text = requests_query(QUERY)
    assert text.startswith(
        "sum by (destination_canonical_revision,response_code,grpc_response_status) ("
    )
    assert 'increase(istio_requests_total{reporter="source",' in text
    assert 'reporter="destination",source_workload="unknown",' in text
    assert 'destination_service_namespace="bookinfo",destination_service_name="reviews"' in text
    assert 'destination_canonical_revision=~"v1|v2"' in text
    # Ambient callers (destination sidecar) and callees (waypoint), each pair once (issue 21).
    assert 'reporter="destination",source_workload!="unknown",' in text
    assert 'reporter="waypoint",' in text
    assert text.count("unless on (") == 2
    assert requests_query(QUERY, tagged=True).count("[10m]") == 2


def test_buckets_query_prefers_the_destination_reporter():
    text = buckets_query(QUERY)
    dst, src = text.split(" or ")
    assert dst.startswith("sum by (destination_canonical_revision,le) (increase(")
    assert 'istio_request_duration_milliseconds_bucket{reporter=~"destination|waypoint"' in dst
    assert 'reporter="source"' in src


def test_versions_are_validated_and_regex_escaped():
    q = CanaryQuery("bookinfo", "reviews", "1.2.3", "1.2.4-rc.1", 600, AT)
    assert (
        'destination_canonical_revision=~"1\\\\.2\\\\.3|1\\\\.2\\\\.4-rc\\\\.1"'
        in requests_query(q)
    )
    for bad in (
        CanaryQuery("bookinfo", "reviews", 'v1"}', "v2", 600, AT),
        CanaryQuery("bookinfo", "reviews", "v1", "v2|.*", 600, AT),
        CanaryQuery("Bookinfo", "reviews", "v1", "v2", 600, AT),
    ):
        with pytest.raises(BadRequest):
            requests_query(bad)


def test_source_sends_two_queries_at_the_requested_time_and_parses_them():
    fake = FakeCollector(
        [
            _sample(990.4, destination_canonical_revision="v1", response_code="200"),
            _sample(
                3.0,
                destination_canonical_revision="v2",
                response_code="200",
                grpc_response_status="14",
            ),
        ],
        [
            _sample(500, destination_canonical_revision="v2", le="25"),
            _sample(600, destination_canonical_revision="v2", le="+Inf"),
        ],
    )
    source = PrometheusCanarySource(fake)
    assert isinstance(source, CanarySource)
    t = source.canary_telemetry(QUERY)
    assert [at for _, at in fake.sent] == [AT, AT]
    assert t.queries_sent == len(fake.sent) == 2
    v2 = version_figures(t, "v2")
    assert (v2.requests, v2.errors) == (3.0, 3.0)  # gRPC UNAVAILABLE under HTTP 200
    assert v2.buckets == ((25.0, 500.0), (math.inf, 100.0))
    assert version_figures(t, "v1").requests == 990.4


def test_parse_refuses_unusable_samples():
    with pytest.raises(BackendDataError):
        parse_outcomes([{"metric": {}}])
    with pytest.raises(BackendDataError):
        parse_outcomes([_sample(-1.0, destination_canonical_revision="v1")])
    with pytest.raises(BackendDataError):
        parse_buckets([_sample(1.0, destination_canonical_revision="v1", le="fast")])
    with pytest.raises(BackendDataError):  # NaN is broken data, not "nothing counted"
        parse_outcomes([_sample("NaN", destination_canonical_revision="v1")])


def test_backend_failures_keep_their_type():
    source = PrometheusCanarySource(PrometheusCollector("http://127.0.0.1:9", timeout_s=2))
    with pytest.raises(BackendUnavailable):
        source.canary_telemetry(QUERY)


# -- the demo ---------------------------------------------------------------------------------


def _twin_spec(rps: float = 40.0) -> MeshSpec:
    """A caller and a service with two identical versions, split 50/50."""

    def version(v: str) -> Workload:
        return Workload("shop", f"cart-{v}", "cart", v, "cart", latency=LatencyModel(20.0, 0.5))

    caller = Workload("shop", "frontend", "frontend", "v1")
    call = Call("shop", "frontend", "shop", "cart", rps=rps, errors=ErrorModel(http_5xx=0.001))
    return MeshSpec(
        (caller, version("v1"), version("v2")),
        (call,),
        splits=(("shop", "cart", (("v1", 50), ("v2", 50))),),
    )


def _demo(spec: MeshSpec) -> tuple[TrafficState, DemoCanarySource]:
    state = TrafficState(spec, clock=lambda: AT)
    return state, DemoCanarySource(TrafficModel(spec, state, noise=0.0))


def test_demo_counts_are_the_window_integral_for_the_two_versions():
    spec = _twin_spec(rps=40.0)
    _state, source = _demo(spec)
    assert isinstance(source, CanarySource)
    t = source.canary_telemetry(CanaryQuery("shop", "cart", "v1", "v2", 600, AT))
    for v in ("v1", "v2"):
        f = version_figures(t, v)
        assert f.requests == pytest.approx(40.0 * 0.5 * 600)  # 12,000 each
        assert f.errors == pytest.approx(12.0)
        assert f.latency_count == pytest.approx(f.requests)
        assert f.p50_ms == pytest.approx(version_figures(t, "v1").p50_ms)
    assert analyze_telemetry(t).verdict is Verdict.PROMOTE


def test_demo_fault_makes_the_canary_roll_back_from_when_it_started():
    spec = _twin_spec()
    state, source = _demo(spec)
    state.set_fault("shop", "cart-v2", latency_factor=30.0, at=AT - 300)
    t = source.canary_telemetry(CanaryQuery("shop", "cart", "v1", "v2", 600, AT))
    a = analyze_telemetry(t)
    assert a.verdict is Verdict.ROLLBACK
    assert a.reasons[0].startswith("latency gate failed")
    before = source.canary_telemetry(CanaryQuery("shop", "cart", "v1", "v2", 300, AT - 300))
    assert analyze_telemetry(before).verdict is Verdict.PROMOTE


def test_demo_error_fault_rolls_back_naming_the_success_gate():
    spec = _twin_spec()
    state, source = _demo(spec)
    state.set_fault("shop", "cart-v2", error_rate=0.05, at=AT - 3600)
    a = analyze_telemetry(source.canary_telemetry(CanaryQuery("shop", "cart", "v1", "v2", 600, AT)))
    assert a.verdict is Verdict.ROLLBACK
    assert a.reasons[0].startswith("success gate failed: canary 94.9")


def test_demo_bookinfo_shift_moves_the_canary_counts():
    spec = bookinfo_spec()
    state, source = _demo(spec)
    q = CanaryQuery("bookinfo", "reviews", "v1", "v3", 600, AT)
    before = version_figures(source.canary_telemetry(q), "v3").requests
    state.set_split("bookinfo", "reviews", {"v1": 50, "v3": 50}, at=AT - 600)
    after = version_figures(source.canary_telemetry(q), "v3").requests
    assert after == pytest.approx(before * 5)  # 10% -> 50% of the same reviews traffic
