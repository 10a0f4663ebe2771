"""The canary verdict on a REAL Prometheus, backfilled from the simulator with known canaries.

One module-scoped Prometheus holds four scenarios, each its own namespace with a `loadgen`
calling service `api` (versions v1 and v2) over the last 30 minutes before END; the analysis
asks for the 10 minutes ending at END:

- canary-errors: v2 answers 5 % of requests with 503             -> rollback, success gate
- canary-slow: v2 3x slower, p99 above 500 ms                    -> rollback, latency gate
- canary-slower: v2 3x slower, p99 still under 500 ms            -> hold, latency vs baseline
- canary-equal: identical versions, plus a caller without sidecar -> promote
- canary-quiet: v2 receives about 20 requests in the window      -> insufficient_traffic
- canary-fixed: v2 fails 20 % at 10 %, then a weight change to 50/50 five minutes before END
  and v2 is healthy from then on                                  -> judged on the after part
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from app import create_app
from collectors.prometheus import PrometheusCollector
from collectors.prometheus_canary import PrometheusCanarySource
from demo.canary_source import DemoCanarySource
from demo.openmetrics import write_series
from demo.series import mesh_series
from demo.spec import Call, ErrorModel, LatencyModel, MeshSpec, Workload
from demo.state import TrafficState
from demo.traffic import TrafficModel
from devtools.promserver import PrometheusServer, require_prometheus
from mesh.canary.records import CanaryQuery, version_figures
from mesh.canary.verdict import Verdict, analyze_telemetry
from tests.integration.prom_received import queries_received
from views.canary import canary_view, parse_canary_params
from wiring.services import Services
from wiring.settings import Settings

pytestmark = pytest.mark.integration

END = 1767225600.0 - 86400  # a fixed past day, apart from other modules' data
START = END - 1800
STEP = 15.0
WINDOW_S = 600
FIXED_AT = END - 300  # canary-fixed's weight change


@dataclass(frozen=True)
class Scenario:
    namespace: str
    model: TrafficModel


def _scenario(
    namespace: str,
    *,
    rps: float = 10.0,
    split: tuple[int, int] = (50, 50),
    v2_slowdown: float = 1.0,
    v2_errors: float = 0.0,
    median_ms: float = 100.0,
    unknown_rps: float = 0.0,
    fixed_at: float | None = None,
) -> Scenario:
    def version(v: str) -> Workload:
        latency = LatencyModel(median_ms, 0.5)
        return Workload(namespace, f"api-{v}", "api", v, "api", latency=latency)

    workloads = [Workload(namespace, "loadgen", "loadgen", "v1"), version("v1"), version("v2")]
    calls = [
        Call(namespace, "loadgen", namespace, "api", rps=rps, errors=ErrorModel(http_5xx=0.001))
    ]
    if unknown_rps:
        workloads.append(Workload("outside", "cron", "cron", "v1", meshed=False))
        calls.append(Call("outside", "cron", namespace, "api", rps=unknown_rps))
    spec = MeshSpec(
        tuple(workloads),
        tuple(calls),
        splits=((namespace, "api", (("v1", split[0]), ("v2", split[1]))),),
    )
    state = TrafficState(spec, clock=lambda: END)
    if v2_slowdown != 1.0 or v2_errors:
        state.set_fault(
            namespace, "api-v2", latency_factor=v2_slowdown, error_rate=v2_errors, at=START
        )
    if fixed_at is not None:  # the weight change; v2 healthy from then on
        state.set_split(namespace, "api", {"v1": 50, "v2": 50}, at=fixed_at)
        state.set_fault(namespace, "api-v2", at=fixed_at)
    return Scenario(namespace, TrafficModel(spec, state, history_start=START))


SCENARIOS = {
    s.namespace: s
    for s in (
        _scenario("canary-errors", v2_errors=0.05),
        # v1: median 100 ms, p99 ~ 320 ms; v2 three times slower: p99 ~ 960 ms.
        _scenario("canary-slow", v2_slowdown=3.0),
        # v1: median 10 ms; v2 3x: p99 ~ 96 ms, within the 500 ms SLO.
        _scenario("canary-slower", v2_slowdown=3.0, median_ms=10.0),
        _scenario("canary-equal", unknown_rps=1.0),
        # 3.4 rps at 1 %: v2 gets about 20 requests in 10 minutes.
        _scenario("canary-quiet", rps=3.4, split=(99, 1)),
        _scenario("canary-fixed", split=(90, 10), v2_errors=0.2, fixed_at=FIXED_AT),
    )
}


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory):
    require_prometheus()
    workdir = tmp_path_factory.mktemp("canary-prometheus")
    server = PrometheusServer(workdir)
    began = time.monotonic()
    om = workdir / "canary.om"
    with open(om, "w", encoding="utf-8") as out:
        series = (s for sc in SCENARIOS.values() for s in mesh_series(sc.model, START, END, STEP))
        write_series(series, out, tmpdir=str(workdir))
    server.load_openmetrics(om)
    server.start()
    server.startup_s = time.monotonic() - began  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def source(prom):
    collector = PrometheusCollector(prom.url, timeout_s=20)
    yield PrometheusCanarySource(collector)
    collector.close()


def _analysis(source, namespace: str):
    before = queries_received(source.collector.url)
    telemetry = source.canary_telemetry(CanaryQuery(namespace, "api", "v1", "v2", WINDOW_S, END))
    assert telemetry.queries_sent == queries_received(source.collector.url) - before == 2
    return analyze_telemetry(telemetry), telemetry


def test_five_percent_errors_rolls_back_naming_the_success_gate(source):
    a, _ = _analysis(source, "canary-errors")
    assert a.verdict is Verdict.ROLLBACK
    assert len(a.reasons) == 1
    assert a.reasons[0].startswith("success gate failed: canary 94.")
    assert a.reasons[0].endswith("< 99.0%")


def test_three_times_slower_past_the_slo_rolls_back_naming_latency(source):
    a, _ = _analysis(source, "canary-slow")
    assert a.verdict is Verdict.ROLLBACK
    assert a.reasons == tuple(r for r in a.reasons if r.startswith("latency gate failed"))
    assert a.canary.p99_ms > 500 > a.baseline.p99_ms
    assert a.canary.p99_ms / a.baseline.p99_ms == pytest.approx(3.0, rel=0.35)  # bucket-coarse


def test_three_times_slower_within_the_slo_holds_naming_latency(source):
    a, _ = _analysis(source, "canary-slower")
    assert a.verdict is Verdict.HOLD
    (reason,) = a.reasons
    assert reason.startswith("latency vs baseline failed: canary significantly slower")
    assert a.latency.prob_slower > 0.8 and a.latency.p_value < 1e-6


def test_equal_canary_with_enough_traffic_promotes(source):
    a, _ = _analysis(source, "canary-equal")
    assert a.verdict is Verdict.PROMOTE, a.reasons
    assert a.canary.requests > 3000
    assert 0.45 < a.latency.prob_slower < 0.55


def test_twenty_requests_is_not_enough_traffic_yet(source):
    a, _ = _analysis(source, "canary-quiet")
    assert a.verdict is Verdict.INSUFFICIENT_TRAFFIC
    assert 10 <= a.canary.requests <= 30
    assert "not enough traffic yet" in a.reasons[0]


def test_requests_are_counted_once_including_callers_outside_the_mesh(prom, source):
    # The destination proxy sees every request exactly once: meshed callers and the unknown one.
    _, telemetry = _analysis(source, "canary-equal")
    for v in ("v1", "v2"):
        expected = prom.query_value(
            'sum(increase(istio_requests_total{reporter="destination",'
            f'destination_service_namespace="canary-equal",destination_canonical_revision="{v}"}}[10m]))',
            END,
        )
        assert version_figures(telemetry, v).requests == pytest.approx(expected, rel=1e-9)


def test_quantiles_match_promql_and_counts_match_the_model(prom, source):
    _, telemetry = _analysis(source, "canary-slow")
    exact = DemoCanarySource(SCENARIOS["canary-slow"].model).canary_telemetry(telemetry.query)
    for v in ("v1", "v2"):
        p99 = prom.query_value(
            "histogram_quantile(0.99, sum by (le) (increase(istio_request_duration_milliseconds_bucket"
            f'{{reporter="destination",destination_service_namespace="canary-slow",'
            f'destination_canonical_revision="{v}"}}[10m])))',
            END,
        )
        got = version_figures(telemetry, v)
        assert got.p99_ms == pytest.approx(p99, rel=1e-9)
        # Prometheus extrapolates increase() and the series carry integer counters: within 2 %.
        assert got.requests == pytest.approx(version_figures(exact, v).requests, rel=0.02)
    # The demo source agrees with Prometheus on the verdict too.
    assert analyze_telemetry(exact).verdict is Verdict.ROLLBACK


def test_api_end_to_end_on_prometheus(prom, source):
    class GraphAndCanary:
        name = "prometheus"

        def graph_telemetry(self, query):
            return source.collector.graph_telemetry(query)

        def canary_telemetry(self, query):
            return source.canary_telemetry(query)

    settings = Settings(prometheus_url=prom.url)
    svc = Services(settings=settings, telemetry=GraphAndCanary(), clock=lambda: END)
    client = create_app(settings, svc).server.test_client()
    before = queries_received(prom.url)
    r = client.get(f"/api/canary/canary-errors/api?baseline=v1&canary=v2&window=10m&at={END:.0f}")
    assert r.status_code == 200
    body = r.get_json()
    assert body["verdict"] == "rollback"
    assert body["reasons"][0].startswith("success gate failed")
    assert body["queries"] == queries_received(prom.url) - before == 2
    # Same body through the view the pages will use.
    view = canary_view(
        Services(settings=settings, telemetry=None, canary=source, clock=lambda: END),
        parse_canary_params(
            {"baseline": "v1", "canary": "v2", "at": f"{END:.0f}"}, "canary-errors", "api"
        ),
    )
    assert view["verdict"] == body["verdict"] and view["canary"] == body["canary"]


def test_prometheus_down_is_502(prom):
    collector = PrometheusCollector("http://127.0.0.1:9", timeout_s=2)
    svc = Services(
        settings=Settings(prometheus_url="http://127.0.0.1:9"),
        telemetry=None,
        canary=PrometheusCanarySource(collector),
        clock=lambda: END,
    )
    from mesh.errors import BackendUnavailable

    with pytest.raises(BackendUnavailable):
        canary_view(
            svc, parse_canary_params({"baseline": "v1", "canary": "v2"}, "canary-errors", "api")
        )


class OneChangeRoutes:
    """The canary-fixed service's routing as a RouteStore shows it: the 50/50 split now, and
    the audit entry of the weight change that made it (90/10 -> 50/50 at FIXED_AT)."""

    name = "test"

    @staticmethod
    def _vs(weights: dict[str, int]) -> dict:
        route = [
            {"destination": {"host": "api", "subset": v}, "weight": w} for v, w in weights.items()
        ]
        return {
            "kind": "VirtualService",
            "metadata": {"name": "api", "namespace": "canary-fixed", "resourceVersion": "2"},
            "spec": {"hosts": ["api"], "http": [{"route": route}]},
        }

    def get_service(self, namespace, service):
        from mesh.routing.selection import ServiceRoutes

        dr = {
            "kind": "DestinationRule",
            "metadata": {"name": "api", "namespace": namespace},
            "spec": {
                "host": "api",
                "subsets": [{"name": v, "labels": {"version": v}} for v in ("v1", "v2")],
            },
        }
        return ServiceRoutes(
            namespace, service, self._vs({"v1": 50, "v2": 50}), dr, ("v1", "v2"), "version"
        )

    def history(self, *, namespace=None, service=None, limit=100):
        from mesh.releases.audit import AuditEntry, AuditObject

        change = AuditObject(
            "VirtualService",
            "api",
            self._vs({"v1": 90, "v2": 10}),
            self._vs({"v1": 50, "v2": 50}),
            "2",
        )
        return [
            AuditEntry(
                when=FIXED_AT,
                who="alice",
                action="even_split",
                reason="v2 fixed",
                namespace="canary-fixed",
                service="api",
                change_id="c1",
                objects=(change,),
            )
        ]


def test_bad_before_a_weight_change_and_healthy_after_is_judged_on_the_after_part(source):
    # The whole 10-minute window would roll back: v2 failed 20 % before the change.
    whole, _ = _analysis(source, "canary-fixed")
    assert whole.verdict is Verdict.ROLLBACK
    svc = Services(
        settings=Settings(),
        telemetry=None,
        canary=source,
        routes=OneChangeRoutes(),
        clock=lambda: END,
    )
    params = parse_canary_params(
        {"baseline": "v1", "canary": "v2", "window": "10m", "at": f"{END:.0f}"},
        "canary-fixed",
        "api",
    )
    body = canary_view(svc, params)
    window = body["analysis_window"]
    assert window["since_change"] is True and window["seconds"] == 300
    assert window["last_change"]["source"] == "audit"
    # Only the 5 minutes after the change count: v2 healthy, at half the traffic.
    assert body["verdict"] != "rollback", body["reasons"]
    assert body["verdict"] in ("promote", "continue")
    assert body["canary"]["success_rate"] > 0.99
    assert body["canary"]["requests"] == pytest.approx(10.0 * 0.5 * 300, rel=0.1)
