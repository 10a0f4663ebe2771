"""SharedCache.memo behind graph_view: many viewers of one view within a refresh interval cost one
query set AND one graph build; failures are never kept; different views never share a body."""

from __future__ import annotations

import json
import threading

import pytest

import views.graph as graph_module
from collectors.cache import CachedTelemetry
from mesh.errors import BackendUnavailable
from tests.unit.test_cache import T0, Clock, StubTelemetry, make_cache
from views.graph import graph_view, graph_view_json, parse_graph_params
from wiring.services import Services
from wiring.settings import Settings


@pytest.fixture
def live(monkeypatch):
    """Services as build_services wires them in live mode, on a stub source, with a build counter."""
    clock = Clock(T0 + 3)
    cache = make_cache(clock=clock)
    stub = StubTelemetry()
    services = Services(
        settings=Settings(prometheus_url="http://127.0.0.1:9", refresh_interval_s=15),
        telemetry=CachedTelemetry(stub, cache),
        cache=cache,
        clock=clock,
        metrics=cache.metrics,
    )
    builds: list[int] = []
    real = graph_module.traffic_part

    def counting(*args, **kwargs):
        builds.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(graph_module, "traffic_part", counting)
    return services, stub, builds, clock


def view(services, **query):
    return graph_view(services, parse_graph_params(query, ("shop",)))


def test_one_query_set_and_one_build_per_interval(live):
    services, stub, builds, clock = live
    first = view(services, namespace=["shop"])
    for _ in range(20):
        clock.now += 0.5  # still inside the interval that began at T0
        assert view(services, namespace=["shop"]) == first
    assert len(stub.calls) == 1 and len(builds) == 1
    assert first["at"] == T0  # the figures describe the interval's start
    clock.now = T0 + 15  # the next interval: one more of each
    view(services, namespace=["shop"])
    assert len(stub.calls) == 2 and len(builds) == 2


def test_concurrent_viewers_share_one_build(live):
    services, stub, builds, _ = live
    stub.gate = threading.Event()
    out: list[dict] = []
    threads = [
        threading.Thread(target=lambda: out.append(view(services, namespace=["shop"])))
        for _ in range(10)
    ]
    for t in threads:
        t.start()
    stub.gate.set()
    for t in threads:
        t.join(10)
    assert len(out) == 10 and all(o == out[0] for o in out)
    assert len(stub.calls) == 1 and len(builds) == 1


def test_each_viewer_gets_its_own_copy(live):
    """A caller that edits its answer (a page adding a key) must not change anyone else's."""
    services, *_ = live
    mine = view(services, namespace=["shop"])
    mine["nodes"].clear()
    mine["extra"] = True
    again = view(services, namespace=["shop"])
    assert again["nodes"] and "extra" not in again


def test_different_views_never_share_a_body(live):
    services, stub, builds, _ = live
    a = view(services, namespace=["shop", "pay"])
    b = view(services, namespace=["pay", "shop"])
    assert a["namespaces"] == ["shop", "pay"] and b["namespaces"] == ["pay", "shop"]
    assert len(stub.calls) == 1  # one query set: the same namespaces, in any order
    assert view(services, namespace=["shop"], graph="app")["graph"] == "app"
    assert view(services, namespace=["shop"], window="10m")["window"] == "10m"
    assert len(builds) == 4


def test_failures_are_not_kept(live):
    services, stub, builds, _ = live
    stub.fail = BackendUnavailable("prometheus", "connection refused")
    services.cache.error_ttl_s = 0
    with pytest.raises(BackendUnavailable):
        view(services, namespace=["shop"])
    stub.fail = None
    assert view(services, namespace=["shop"])["nodes"]  # recovers on the next request
    assert len(builds) == 1


def test_the_api_text_is_encoded_once_and_says_the_same(live):
    services, stub, builds, clock = live
    params = parse_graph_params({"namespace": ["shop"]}, ("shop",))
    text = graph_view_json(services, params)
    for _ in range(5):
        clock.now += 1
        assert graph_view_json(services, params) == text
    assert json.loads(text) == graph_view(services, params)
    assert len(stub.calls) == 1 and len(builds) == 1
    hits = services.metrics.cache_hits.labels("graph_view_json")._value.get()
    assert hits == 5
