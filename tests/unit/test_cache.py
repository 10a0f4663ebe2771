"""The shared cache: single flight, TTL, key alignment, errors, per-backend bounds, Redis sharing."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest
from flask_caching.backends import SimpleCache

from collectors.cache import (
    BackendLimiter,
    BoundedSimpleCache,
    CachedSeries,
    CachedTelemetry,
    CachedTraces,
    SharedCache,
    align,
)
from mesh.errors import BackendTimeout, BackendUnavailable, BadRequest
from mesh.series import SeriesQuery, Target
from mesh.sources import TelemetrySource
from mesh.telemetry_records import Endpoint, GraphQuery, GraphTelemetry, GraphView, RequestRate
from mesh.traces.records import TraceQuery
from ops.self_metrics import Metrics
from tests.conftest import free_port
from wiring.settings import Settings

A = Endpoint(namespace="shop", workload="web-v1", app="web", version="v1")
B = Endpoint(namespace="shop", workload="cart-v1", app="cart", version="v1", service="cart")
T0 = 1_795_881_075.0  # a multiple of 15


@dataclass
class StubTelemetry:
    """A TelemetrySource that counts calls, can block until released, and can fail."""

    name: str = "prometheus"
    calls: list[GraphQuery] = field(default_factory=list)
    gate: threading.Event | None = None
    fail: Exception | None = None
    active: int = 0
    max_active: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        with self.lock:
            self.calls.append(query)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if self.gate is not None:
                assert self.gate.wait(10), "test gate never opened"
            if self.fail is not None:
                raise self.fail
            return GraphTelemetry(
                query=query,
                requests=(RequestRate(A, B, "http", "200", "", 12.5),),
                queries_sent=3,
            )
        finally:
            with self.lock:
                self.active -= 1


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_cache(
    *, interval: int = 15, limit: int = 8, wait: float = 5.0, clock=None, redis=None, store=None
) -> SharedCache:
    metrics = Metrics()
    return SharedCache(
        store or SimpleCache(threshold=100),
        metrics=metrics,
        limiter=BackendLimiter(limit, metrics, wait),
        interval_s=interval,
        error_ttl_s=2.0,
        wait_s=10.0,
        redis=redis,
        clock=clock or Clock(T0),
    )


def q(at: float = T0, namespaces: tuple[str, ...] = ("shop",)) -> GraphQuery:
    return GraphQuery(namespaces, GraphView.WORKLOAD, 300, at)


def counter(cache: SharedCache, name: str, **labels: str) -> float:
    value = cache.metrics.registry.get_sample_value(name, labels)
    return value or 0.0


def test_wrapper_is_a_telemetry_source():
    assert isinstance(CachedTelemetry(StubTelemetry(), make_cache()), TelemetrySource)


def test_concurrent_identical_calls_cost_one_backend_call():
    inner = StubTelemetry(gate=threading.Event())
    cache = make_cache()
    source = CachedTelemetry(inner, cache)
    results: list[GraphTelemetry] = []
    threads = [
        threading.Thread(target=lambda: results.append(source.graph_telemetry(q())))
        for _ in range(16)
    ]
    for t in threads:
        t.start()
    time.sleep(0.2)  # every thread is now waiting on the first one's call
    inner.gate.set()
    for t in threads:
        t.join(10)
    assert len(inner.calls) == 1
    assert len(results) == 16
    assert all(r == results[0] for r in results)
    assert results[0].requests[0].rps == 12.5
    assert counter(cache, "meshdash_cache_misses_total", call="graph_telemetry") == 1
    assert counter(cache, "meshdash_cache_hits_total", call="graph_telemetry") == 15
    assert counter(cache, "meshdash_cache_coalesced_total", call="graph_telemetry") >= 1


def test_entry_expires_after_the_ttl():
    clock = Clock(T0)
    inner = StubTelemetry()
    source = CachedTelemetry(inner, make_cache(clock=clock), ttl_s=15)
    source.graph_telemetry(q())
    clock.now = T0 + 14.9
    source.graph_telemetry(q())
    assert len(inner.calls) == 1
    clock.now = T0 + 15.0
    source.graph_telemetry(q())
    assert len(inner.calls) == 2


def test_at_is_rounded_down_to_the_refresh_interval_and_the_backend_gets_it():
    inner = StubTelemetry()
    source = CachedTelemetry(inner, make_cache(interval=15))
    first = source.graph_telemetry(q(T0 + 3))
    source.graph_telemetry(q(T0 + 14.999))  # same interval: a hit
    assert [c.at for c in inner.calls] == [T0]
    assert first.query.at == T0  # the numbers describe the interval start
    source.graph_telemetry(q(T0 + 15))  # next interval: a new call
    source.graph_telemetry(q(T0 - 0.001))  # previous interval
    assert [c.at for c in inner.calls] == [T0, T0 + 15, T0 - 15]


def test_key_holds_window_view_and_namespaces_in_any_order():
    inner = StubTelemetry()
    source = CachedTelemetry(inner, make_cache())
    source.graph_telemetry(q(namespaces=("shop", "bank")))
    source.graph_telemetry(q(namespaces=("bank", "shop")))  # same set: a hit
    source.graph_telemetry(q(namespaces=("shop",)))
    source.graph_telemetry(GraphQuery(("shop",), GraphView.APP, 300, T0))
    source.graph_telemetry(GraphQuery(("shop",), GraphView.WORKLOAD, 600, T0))
    assert len(inner.calls) == 4
    assert inner.calls[0].namespaces == ("bank", "shop")


def test_backend_errors_are_served_from_the_cache_for_two_seconds_only():
    clock = Clock(T0)
    inner = StubTelemetry(fail=BackendUnavailable("prometheus", "connection refused"))
    cache = make_cache(clock=clock)
    source = CachedTelemetry(inner, cache)
    for _ in range(3):
        with pytest.raises(BackendUnavailable) as err:
            source.graph_telemetry(q())
        assert (err.value.backend, err.value.cause) == ("prometheus", "connection refused")
    assert len(inner.calls) == 1
    inner.fail = None
    clock.now = T0 + 2.0  # the backend is back: the next refresh sees it
    assert source.graph_telemetry(q()).requests
    assert len(inner.calls) == 2
    assert counter(cache, "meshdash_backend_errors_total", backend="prometheus",
                   call="graph_telemetry", outcome="unavailable") == 1  # fmt: skip


def test_errors_other_than_backend_errors_are_never_cached():
    inner = StubTelemetry(fail=BadRequest("no"))
    source = CachedTelemetry(inner, make_cache())
    for _ in range(2):
        with pytest.raises(BadRequest):
            source.graph_telemetry(q())
    assert len(inner.calls) == 2


def test_concurrency_per_backend_is_bounded_and_excess_waits_become_504():
    inner = StubTelemetry(gate=threading.Event())
    cache = make_cache(limit=2, wait=0.3)
    source = CachedTelemetry(inner, cache)
    errors: list[Exception] = []

    def call(i: int) -> None:
        try:
            source.graph_telemetry(q(T0 + 15 * i))  # distinct keys: no single flight
        except BackendTimeout as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    time.sleep(0.6)  # past the 0.3 s wait for a slot
    inner.gate.set()
    for t in threads:
        t.join(10)
    assert inner.max_active == 2
    assert len(inner.calls) == 2
    assert len(errors) == 3
    assert all(e.backend == "prometheus" and e.status == 504 for e in errors)
    assert "2 requests already in flight" in errors[0].cause


def test_other_backends_are_not_held_up_by_a_saturated_one():
    slow = StubTelemetry(gate=threading.Event())
    fast = StubTelemetry(name="prometheus-west")
    cache = make_cache(limit=1, wait=0.2)
    t = threading.Thread(target=CachedTelemetry(slow, cache).graph_telemetry, args=(q(),))
    t.start()
    time.sleep(0.05)
    assert CachedTelemetry(fast, cache).graph_telemetry(q()).requests
    slow.gate.set()
    t.join(10)


def test_align_shifts_range_queries_together_and_keeps_their_length():
    series = SeriesQuery("shop", "cart", Target.SERVICE, T0 - 3600 + 7, T0 + 7, 30, 60)
    aligned = align(series, 15)
    assert (aligned.start, aligned.end) == (T0 - 3600, T0)
    traces = TraceQuery("cart.shop", start_us=int(T0 - 60) * 10**6 + 5, end_us=int(T0) * 10**6 + 5)
    aligned_t = align(traces, 15)
    assert (aligned_t.start_us, aligned_t.end_us) == (int(T0 - 60) * 10**6, int(T0) * 10**6)
    assert align("not a dataclass", 15) == "not a dataclass"


@dataclass
class StubSeriesAndTraces:
    name: str = "jaeger"
    calls: list = field(default_factory=list)

    def series_telemetry(self, query):
        self.calls.append(query)
        return ("series", query)

    def get_trace(self, trace_id):
        self.calls.append(trace_id)
        return ("trace", trace_id)

    def services(self):
        self.calls.append("services")
        return ("cart.shop",)

    def ready(self):
        return {"ok": True, "detail": "fine", "version": "1.2"}


def test_other_wrappers_cache_by_call_and_pass_ready_through():
    inner = StubSeriesAndTraces()
    cache = make_cache()
    series = CachedSeries(inner, cache)
    traces = CachedTraces(inner, cache)
    sq = SeriesQuery("shop", "cart", Target.SERVICE, T0 - 600, T0 + 1, 30, 60)
    assert series.series_telemetry(sq) == series.series_telemetry(sq)
    assert traces.get_trace("abc") == ("trace", "abc")
    traces.get_trace("abc")
    traces.services()
    traces.services()
    assert inner.calls == [align(sq, 15), "abc", "services"]
    assert traces.ready()["version"] == "1.2"


class BrokenStore(SimpleCache):
    def get(self, key):
        raise ConnectionError("redis went away")

    def set(self, key, value, timeout=None):
        raise ConnectionError("redis went away")


def test_a_failing_store_costs_queries_not_pages():
    inner = StubTelemetry()
    cache = make_cache(store=BrokenStore())
    source = CachedTelemetry(inner, cache)
    assert source.graph_telemetry(q()).requests
    assert source.graph_telemetry(q()).requests
    assert len(inner.calls) == 2
    # One failed look; then the store is skipped for STORE_RETRY_S (a hung Redis would
    # otherwise cost every request a socket timeout, holding its thread).
    assert counter(cache, "meshdash_cache_errors_total", operation="get") == 1
    assert counter(cache, "meshdash_cache_errors_total", operation="set") == 0
    cache._store_skip_until = 0.0  # the retry time has come: the store is asked again
    assert source.graph_telemetry(q()).requests
    assert counter(cache, "meshdash_cache_errors_total", operation="get") == 2


MB = 1024 * 1024


def test_the_in_process_cache_is_bounded_by_bytes_not_only_by_entries():
    """Issue 17, finding 4: 500 entries of a few MB each used to be kept whole."""
    store = BoundedSimpleCache(max_bytes=8 * MB, threshold=500, default_timeout=60)
    for i in range(40):  # 40 answers of 1 MB: five times the bound, far below 500 entries
        assert store.set(f"k{i}", b"x" * MB, timeout=60 + i)  # later keys expire later
        assert store.size_bytes() <= 8 * MB
    assert store.get("k39") == b"x" * MB  # the newest answer is served
    assert store.get("k0") is None  # the ones expiring first went first
    kept = [i for i in range(40) if store.has(f"k{i}")]
    assert kept == list(range(40 - len(kept), 40)) and 5 <= len(kept) <= 8


def test_one_answer_larger_than_the_whole_bound_is_not_cached():
    store = BoundedSimpleCache(max_bytes=2 * MB, threshold=500, default_timeout=60)
    assert store.set("small", {"rps": 1.0})
    assert store.set("huge", b"x" * (3 * MB)) is False
    assert store.get("huge") is None and store.get("small") == {"rps": 1.0}
    assert store.size_bytes() < 2 * MB


def test_shared_cache_calls_keep_the_store_within_its_bytes():
    store = BoundedSimpleCache(max_bytes=4 * MB, threshold=500, default_timeout=60)
    cache = make_cache(store=store)
    for i in range(12):
        value = cache.call("graph", (f"view{i}",), lambda _view: b"y" * MB, backend="prometheus")
        assert value == b"y" * MB
        assert store.size_bytes() <= 4 * MB


def test_from_settings_uses_settings():
    cache = SharedCache.from_settings(
        Settings(
            prometheus_url="http://127.0.0.1:1",
            refresh_interval_s=30,
            backend_concurrency=3,
            prometheus_timeout_s=12.0,
        ),
        Metrics(),
    )
    assert (cache.interval_s, cache.limiter.limit, cache.redis) == (30, 3, None)
    assert cache.limiter.wait_s("prometheus") == 12.0  # a slot is waited for as long as a query
    assert cache.ready()["ok"] is True
    assert isinstance(cache.store, BoundedSimpleCache)
    assert cache.store.max_bytes == Settings().cache_max_bytes


# --- several workers sharing one Redis ------------------------------------------------------------


def worker_cache(url: str, interval: int = 15) -> SharedCache:
    """What one gunicorn worker builds from its settings."""
    settings = Settings(
        prometheus_url="http://127.0.0.1:1", cache_redis_url=url, refresh_interval_s=interval
    )
    return SharedCache.from_settings(settings, Metrics())


def test_unreachable_redis_degrades_to_direct_calls():
    cache = worker_cache(f"redis://127.0.0.1:{free_port()}/0")
    inner = StubTelemetry()
    assert CachedTelemetry(inner, cache).graph_telemetry(q()).requests
    ready = cache.ready()
    assert ready["ok"] is False and "redis at 127.0.0.1" in ready["detail"]


def test_memo_keeps_a_partial_value_only_as_long_as_ttl_of_says():
    """A graph missing a cluster is shared briefly, so the cluster shows again soon after it
    recovers; a whole graph is shared for the refresh interval."""
    clock = Clock(T0)
    cache = make_cache(interval=60, clock=clock)
    builds: list[str] = []

    def build(value: str):
        def fn() -> str:
            builds.append(value)
            return value

        return fn

    def short_if_partial(v: str) -> float | None:
        return 2.0 if v == "partial" else None

    assert cache.memo("view", (q(),), build("partial"), short_if_partial) == "partial"
    clock.now += 1
    assert cache.memo("view", (q(),), build("whole"), short_if_partial) == "partial"
    clock.now += 1.5  # past the 2 s, well inside the 60 s interval
    assert cache.memo("view", (q(),), build("whole"), short_if_partial) == "whole"
    clock.now += 30
    assert cache.memo("view", (q(),), build("other"), short_if_partial) == "whole"
    assert builds == ["partial", "whole"]
