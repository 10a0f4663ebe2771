"""The typed front door: one way to ask Services for a role (`need`/`find`), one error when the
server was started without it (NotConfigured), answered by the API and the pages exactly as each
role always was, and the demo's fault switches behind DemoControls."""

from __future__ import annotations

import threading

import pytest

from app import create_app
from dashboards.components.banner import error_banner
from dashboards.trace_search import trace_banner
from demo.mesh import DemoMesh
from demo.trace_source import DemoTraceStore
from mesh.errors import MeshdashError, NotConfigured
from mesh.sources import (
    CanarySource,
    DemoControls,
    InventorySource,
    RolloutStore,
    RouteStore,
    SeriesSource,
    TraceSource,
)
from mesh.telemetry_records import GraphTelemetry
from wiring.services import (
    CANARY,
    DEMO,
    INVENTORY,
    ROLLOUTS,
    ROUTES,
    SERIES,
    TRACES,
    Role,
    Services,
    build_services,
)
from wiring.settings import Settings

NOW = 1_795_000_000.0
LIVE = Settings(prometheus_url="http://127.0.0.1:1")

# What the API answered for each missing role before the front door (checked against the
# previous commit's answers): the statuses and bodies must not change.
TRACES_CAUSE = "no trace backend is configured (start meshdash with --jaeger URL)"
ANSWERS: dict[str, tuple[int, dict]] = {
    "traces": (
        503,
        {"error": f"jaeger: {TRACES_CAUSE}", "backend": "jaeger", "cause": TRACES_CAUSE},
    ),
    "series": (
        502,
        {
            "error": "metrics: no time-series source is configured",
            "backend": "metrics",
            "cause": "no time-series source is configured",
        },
    ),
    "canary": (
        502,
        {
            "error": "canary: no source of per-version counts is configured",
            "backend": "canary",
            "cause": "no source of per-version counts is configured",
        },
    ),
    "inventory": (
        502,
        {
            "error": "telemetry: no source of request metrics is configured",
            "backend": "telemetry",
            "cause": "no source of request metrics is configured",
        },
    ),
    "routes": (
        404,
        {"error": "routing is not configured: start meshdash with --kube to read Istio routes"},
    ),
    "rollouts": (
        404,
        {"error": "guided rollouts need routing: start meshdash with --kube (or --demo)"},
    ),
}


class GraphOnly:
    """A telemetry source that answers graphs and nothing else."""

    name = "graph-only"

    def graph_telemetry(self, query):
        return GraphTelemetry(query=query)


class Everything(GraphOnly):
    """A telemetry source that also answers ranges and canary counts (as Prometheus does)."""

    name = "everything"

    def series_telemetry(self, query):
        raise AssertionError("not asked in these tests")

    def canary_telemetry(self, query):
        raise AssertionError("not asked in these tests")


class Named:
    """A stand-in source: implements the Protocol of its role, answers nothing."""

    def __init__(self, name: str) -> None:
        self.name = name


class Series(Named):
    def series_telemetry(self, query):
        raise AssertionError("not asked")


class Canary(Named):
    def canary_telemetry(self, query):
        raise AssertionError("not asked")


ROLES: list[tuple[Role, str]] = [
    (TRACES, "traces"),
    (ROUTES, "routes"),
    (ROLLOUTS, "rollouts"),
    (SERIES, "series"),
    (CANARY, "canary"),
    (INVENTORY, "inventory"),
    (DEMO, "demo"),
]


def bare() -> Services:
    return Services(settings=LIVE, telemetry=GraphOnly(), clock=lambda: NOW)


@pytest.mark.parametrize(("role", "name"), ROLES, ids=[n for _, n in ROLES])
def test_a_configured_role_is_its_source(role, name):
    source = {"series": Series, "canary": Canary}.get(name, Named)(name)
    svc = Services(settings=LIVE, telemetry=GraphOnly(), **{name: source})
    assert svc.need(role) is source
    assert svc.find(role) is source


@pytest.mark.parametrize(("role", "name"), ROLES, ids=[n for _, n in ROLES])
def test_a_missing_role_is_one_error_naming_it(role, name):
    svc = bare()
    assert svc.find(role) is None
    with pytest.raises(NotConfigured) as caught:
        svc.need(role)
    assert caught.value.role == name
    assert isinstance(caught.value, MeshdashError)  # every page and the API catch it


def test_ranges_and_canary_counts_come_from_a_telemetry_source_that_offers_them():
    rich = Everything()
    svc = Services(settings=LIVE, telemetry=rich)
    assert svc.need(SERIES) is rich and svc.need(CANARY) is rich
    own = Series("own")
    assert Services(settings=LIVE, telemetry=rich, series=own).need(SERIES) is own
    # Only series and canary fall back: a telemetry source is never a trace source or store.
    assert svc.find(TRACES) is None and svc.find(ROUTES) is None and svc.find(INVENTORY) is None
    # A source in the field that does not implement its Protocol does not count.
    with pytest.raises(NotConfigured):
        Services(settings=LIVE, telemetry=GraphOnly(), series=Named("no ranges")).need(SERIES)


@pytest.mark.parametrize("role", sorted(ANSWERS))
def test_not_configured_is_answered_as_each_role_always_was(role):
    from api.errors import error_body

    assert error_body(NotConfigured(role)) == (ANSWERS[role][1], ANSWERS[role][0])


URLS = [
    ("/api/traces?namespace=bookinfo&service=reviews", "traces"),
    ("/api/traces/0123456789abcdef", "traces"),
    ("/api/routes?namespace=bookinfo", "routes"),
    ("/api/routes/bookinfo/reviews", "routes"),
    ("/api/audit?namespace=bookinfo", "routes"),
    ("/api/rollouts?namespace=bookinfo", "rollouts"),
    ("/api/rollouts/bookinfo/reviews", "rollouts"),
    ("/api/metrics?namespace=bookinfo&service=reviews", "series"),
    ("/api/canary/bookinfo/reviews?baseline=v1&canary=v2", "canary"),
    ("/api/namespaces", "inventory"),
]


def test_the_api_answers_every_missing_role_with_its_status_and_words():
    client = create_app(LIVE, bare()).server.test_client()
    for url, role in URLS:
        r = client.get(url)
        assert (r.status_code, r.get_json()) == ANSWERS[role], url


def test_pages_word_a_missing_role_as_before():
    note = trace_banner(NotConfigured("traces"))  # a set-up fact: calm, with the fix
    assert "md-banner-info" in note.className
    assert note.children.startswith("Tracing is not configured: start meshdash with --jaeger")
    metrics = error_banner(NotConfigured("series"))
    assert [c.children for c in metrics.children] == [
        "Metrics is failing: ",
        "no time-series source is configured",
    ]
    routes = error_banner(NotConfigured("routes"))
    assert [c.children for c in routes.children] == [
        "Cannot show this: ",
        "routing is not configured: start meshdash with --kube to read Istio routes",
    ]
    assert "md-banner-warning" in routes.className


def test_the_demo_reads_its_traces_in_process_and_exposes_only_its_switches():
    before = {t.name for t in threading.enumerate()}
    svc = build_services(Settings())
    started = {t.name for t in threading.enumerate()} - before
    assert not [n for n in started if "jaeger" in n]  # no HTTP endpoint to read itself back
    assert isinstance(svc.traces, DemoTraceStore) and isinstance(svc.traces, TraceSource)
    assert svc.need(TRACES).name == "jaeger"  # the name its answers have always carried
    assert isinstance(svc.routes, RouteStore) and isinstance(svc.rollouts, RolloutStore)
    assert isinstance(svc.series, SeriesSource) and isinstance(svc.canary, CanarySource)
    assert isinstance(svc.inventory, InventorySource)
    assert isinstance(svc.need(DEMO), DemoControls) and svc.mode == "demo"
    assert bare().mode == "live"
    with pytest.raises(NotConfigured) as caught:
        bare().need(DEMO)
    assert caught.value.status == 404 and "demo mode" in str(caught.value)


def test_demo_controls_make_a_workload_slow_failing_and_healthy_again():
    clock = [NOW]
    sim = DemoMesh.bookinfo(clock=lambda: clock[0])
    controls: DemoControls = sim
    assert controls.workload_of("bookinfo", "reviews", "v3") == "reviews-v3"
    assert controls.workload_of("bookinfo", "reviews", "v9") is None
    assert controls.workload_of("elsewhere", "reviews", "v3") is None
    healthy = controls.fault("bookinfo", "reviews-v3")
    assert (healthy.latency_factor, healthy.error_rate) == (1.0, 0.0)
    assert controls.set_fault("bookinfo", "reviews-v3", 10.0, 0.05) == NOW
    slow = controls.fault("bookinfo", "reviews-v3")
    assert (slow.latency_factor, slow.error_rate) == (10.0, 0.05)
    # The switch is the simulator's state: the traffic model sees it from then on.
    assert sim.state.fault_at("bookinfo", "reviews-v3", NOW) == slow
    assert sim.state.fault_at("bookinfo", "reviews-v3", NOW - 1).latency_factor == 1.0
    clock[0] += 60
    controls.set_fault("bookinfo", "reviews-v3")
    assert controls.fault("bookinfo", "reviews-v3").latency_factor == 1.0
    with pytest.raises(KeyError):
        controls.set_fault("bookinfo", "no-such-workload", 2.0)


def test_live_wiring_fills_each_role_with_a_source_of_its_protocol():
    """Prometheus and Jaeger configured, Kubernetes not: the roles they play are there (through
    the cache) and implement their Protocols; routing and rollouts are not configured."""
    svc = build_services(
        Settings(prometheus_url="http://127.0.0.1:1", jaeger_url="http://127.0.0.1:2")
    )
    assert isinstance(svc.need(TRACES), TraceSource) and svc.need(TRACES).name == "jaeger"
    assert isinstance(svc.need(SERIES), SeriesSource) and svc.need(SERIES).name == "prometheus"
    assert isinstance(svc.need(CANARY), CanarySource)
    assert isinstance(svc.need(INVENTORY), InventorySource)
    assert svc.find(ROUTES) is None and svc.find(ROLLOUTS) is None and svc.find(DEMO) is None
    assert svc.mode == "live"


def test_the_trace_search_page_says_tracing_is_not_configured_before_asking_for_a_service():
    """Without a trace backend the service list is empty: the page says why, and how to fix it,
    rather than asking for a service nobody can choose."""
    from tests.dashcalls import DashCalls, banners

    def first_search(svc: Services) -> list[str]:
        dash = DashCalls(create_app(svc.settings, svc).server.test_client())
        code, out, _ = dash.call(
            "ts-banner.children",
            {"ts-find.n_clicks": None, "ts-tags.value": ""},
            {"ts-namespace.value": "", "ts-service.value": None, "ts-lookback.value": "1h"},
        )
        assert code == 200
        return banners(out)

    [note] = first_search(bare())
    assert note.startswith("Tracing is not configured: start meshdash with --jaeger URL")
    with_traces = Services(settings=LIVE, telemetry=GraphOnly(), traces=Named("jaeger"))
    [hint] = first_search(with_traces)
    assert hint.startswith("Choose a service and press Find traces")
