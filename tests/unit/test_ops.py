"""/healthz, /readyz and /metrics through the real app factory, with sources written for the test."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from collectors.cache import CachedTelemetry, SharedCache
from mesh.errors import BackendAuthError
from mesh.telemetry_records import GraphQuery, GraphTelemetry
from ops.self_metrics import Metrics
from wiring.services import Services
from wiring.settings import Settings

LIVE = {"prometheus_url": "http://127.0.0.1:1", "default_namespaces": ("shop",)}


@dataclass
class Source:
    """A source with a readiness answer chosen by the test (or none at all)."""

    name: str
    answer: dict | None = None
    raises: Exception | None = None
    hang_s: float = 0.0
    calls: list = field(default_factory=list)

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        self.calls.append(query)
        return GraphTelemetry(query=query, queries_sent=3)

    def ready(self) -> dict:
        if self.hang_s:
            time.sleep(self.hang_s)
        if self.raises is not None:
            raise self.raises
        return self.answer or {"ok": True, "detail": "answering", "version": "2.42.0"}


@dataclass
class NoReadiness:
    name: str = "jaeger"


def client_for(telemetry=None, traces=None, routes=None, cache=None, **settings):
    s = Settings(**{**LIVE, **settings})
    metrics = Metrics()
    svc = Services(
        settings=s,
        telemetry=telemetry if telemetry is not None else Source("prometheus"),
        traces=traces,
        routes=routes,
        cache=cache,
        metrics=metrics,
        clock=lambda: 1795881075.0,
    )
    return create_app(s, svc).server.test_client()


def test_healthz_is_200_without_asking_any_backend():
    prom = Source("prometheus", raises=RuntimeError("must not be called"))
    r = client_for(prom).get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok"}


def test_readyz_reports_each_backend_with_version():
    prom = Source("prometheus")
    jaeger = Source("jaeger", answer={"ok": True, "detail": "v2 API", "version": "2.9.0"})
    r = client_for(prom, traces=jaeger).get("/readyz")
    assert r.status_code == 200
    body = r.get_json()
    assert body["ready"] is True
    assert body["backends"]["prometheus"] == {
        "ok": True,
        "detail": "answering",
        "version": "2.42.0",
        "reachable": None,  # this test source does not say; the real collectors do
        "authenticated": None,
        "roles": ["telemetry"],
        "required": True,
    }
    assert body["backends"]["jaeger"]["version"] == "2.9.0"
    assert body["backends"]["jaeger"]["required"] is False


def test_readyz_is_503_when_a_required_backend_fails():
    prom = Source("prometheus", answer={"ok": False, "detail": "connection refused"})
    r = client_for(prom).get("/readyz")
    assert r.status_code == 503
    assert r.get_json()["backends"]["prometheus"]["detail"] == "connection refused"


def test_readyz_stays_200_when_an_optional_backend_fails_and_says_so():
    jaeger = Source("jaeger", raises=BackendAuthError("jaeger", "401 from the server"))
    r = client_for(traces=jaeger).get("/readyz")
    assert r.status_code == 200
    assert r.get_json()["backends"]["jaeger"] == {
        "ok": False,
        "detail": "401 from the server",
        "version": None,
        "reachable": True,  # it answered, and refused the credentials
        "authenticated": False,
        "roles": ["traces"],
        "required": False,
    }


def test_required_roles_come_from_settings():
    jaeger = Source("jaeger", answer={"ok": False, "detail": "connection refused"})
    r = client_for(traces=jaeger, ready_required=("telemetry", "traces")).get("/readyz")
    assert r.status_code == 503


def test_a_crashing_check_is_reported_without_its_message():
    prom = Source("prometheus", raises=RuntimeError("password=hunter2 in a stack"))
    r = client_for(prom).get("/readyz")
    assert r.status_code == 503
    detail = r.get_json()["backends"]["prometheus"]["detail"]
    assert detail == "readiness check failed: RuntimeError"


def test_a_hanging_check_misses_the_deadline_instead_of_hanging_the_probe():
    prom = Source("prometheus", hang_s=2.0)
    start = time.perf_counter()
    r = client_for(prom, ready_timeout_s=0.3).get("/readyz")
    assert time.perf_counter() - start < 1.5
    assert r.status_code == 503
    assert r.get_json()["backends"]["prometheus"]["detail"] == "no answer within 0.3s"


def test_a_source_without_readiness_is_reported_as_serving():
    r = client_for(traces=NoReadiness()).get("/readyz")
    assert r.status_code == 200
    jaeger = r.get_json()["backends"]["jaeger"]
    assert jaeger["ok"] is True and "no readiness check" in jaeger["detail"]


def test_roles_sharing_one_backend_are_checked_once_and_the_cache_is_listed():
    settings = Settings(**LIVE)
    metrics = Metrics()
    cache = SharedCache.from_settings(settings, metrics)
    prom = Source("prometheus")
    svc = Services(
        settings=settings,
        telemetry=CachedTelemetry(prom, cache),
        series=prom,
        canary=prom,
        cache=cache,
        metrics=metrics,
    )
    body = create_app(settings, svc).server.test_client().get("/readyz").get_json()
    assert set(body["backends"]) == {"prometheus", "cache"}
    assert body["backends"]["prometheus"]["roles"] == ["telemetry", "series", "canary"]
    assert body["backends"]["cache"] == {
        "ok": True,
        "detail": "in-process cache",
        "version": None,
        "reachable": True,
        "authenticated": None,
        "roles": ["cache"],
        "required": False,
    }


def families(client) -> dict:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.mimetype == "text/plain"
    return {f.name: f for f in text_string_to_metric_families(r.get_data(as_text=True))}


def samples(family, **labels):
    return [s for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]


def test_metrics_expose_request_backend_and_cache_series():
    settings = Settings(**LIVE)
    metrics = Metrics()
    cache = SharedCache.from_settings(settings, metrics)
    prom = Source("prometheus")
    svc = Services(
        settings=settings,
        telemetry=CachedTelemetry(prom, cache),
        cache=cache,
        metrics=metrics,
        clock=lambda: 1795881075.0,
    )
    client = create_app(settings, svc).server.test_client()
    for _ in range(3):
        assert client.get("/api/graph?namespace=shop").status_code == 200
    assert client.get("/api/graph?namespace=Not_Valid").status_code == 400
    metrics.count_write("set_weights", "ok")
    fams = families(client)
    assert all(name.startswith("meshdash_") for name in fams)
    http = fams["meshdash_http_request_duration_seconds"]
    count = samples(http, route="/api/graph", status="200", method="GET")
    assert [s.value for s in count if s.name.endswith("_count")] == [3.0]
    assert [s.value for s in samples(http, route="/api/graph", status="400") if
            s.name.endswith("_count")] == [1.0]  # fmt: skip
    assert len(prom.calls) == 1
    assert samples(fams["meshdash_cache_misses"], call="graph_telemetry")[0].value == 1.0
    # Later viewers get the encoded view, before the telemetry is even looked up.
    assert samples(fams["meshdash_cache_misses"], call="graph_view_json")[0].value == 1.0
    assert samples(fams["meshdash_cache_hits"], call="graph_view_json")[0].value == 2.0
    backend = fams["meshdash_backend_request_duration_seconds"]
    done = samples(backend, backend="prometheus", call="graph_telemetry", outcome="ok")
    assert [s.value for s in done if s.name.endswith("_count")] == [1.0]
    assert samples(fams["meshdash_write_actions"], action="set_weights", outcome="ok")[0].value == 1


def test_paths_are_labelled_by_route_template_not_by_what_users_type():
    client = client_for()
    client.get("/no/such/page/12345")
    client.get("/api/nothing-here-999")
    http = families(client)["meshdash_http_request_duration_seconds"]
    routes = {s.labels["route"] for s in http.samples}
    assert not any("12345" in r or "999" in r for r in routes)
    assert "/api/<path:rest>" in routes


def test_each_app_has_its_own_registry():
    a, b = client_for(), client_for()
    for _ in range(2):
        a.get("/healthz")
    b.get("/healthz")
    fa = families(a)["meshdash_http_request_duration_seconds"]
    fb = families(b)["meshdash_http_request_duration_seconds"]
    [na] = [s.value for s in samples(fa, route="/healthz") if s.name.endswith("_count")]
    [nb] = [s.value for s in samples(fb, route="/healthz") if s.name.endswith("_count")]
    assert (na, nb) == (2.0, 1.0)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_ops_paths_are_not_swallowed_by_the_page_router(path):
    r = client_for().get(path)
    assert not r.get_data(as_text=True).lstrip().startswith("<!DOCTYPE html>")
