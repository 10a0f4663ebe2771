"""meshdash's own metrics (`meshdash_*`), on a registry per app so tests can build many apps.

Collectors never need to import this: the cache/limiter wrappers in collectors/cache.py time
every backend call. Code that performs route writes calls `count_write`.

Under gunicorn with several workers, gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR and
`exposition` aggregates every worker's values, so one scrape sees the whole pod.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from mesh.errors import (
    BackendAuthError,
    BackendDataError,
    BackendQueryError,
    BackendTimeout,
    BackendUnavailable,
)

PREFIX = "meshdash_"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds. Pages should answer well under a second; backend calls may take up to their timeout.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BACKEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

OK = "ok"
SATURATED = "saturated"  # refused by the per-backend concurrency bound

# Bounded label values: one per typed error, never the free-text cause.
_OUTCOMES: tuple[tuple[type[Exception], str], ...] = (
    (BackendTimeout, "timeout"),
    (BackendUnavailable, "unavailable"),
    (BackendAuthError, "auth_error"),
    (BackendDataError, "data_error"),
    (BackendQueryError, "query_error"),
)


def outcome_of(exc: BaseException | None) -> str:
    """The `outcome` label for a backend call that raised exc (None: it succeeded)."""
    if exc is None:
        return OK
    for cls, label in _OUTCOMES:
        if isinstance(exc, cls):
            return label
    return "error"


class Metrics:
    """The metric objects of one app, and small helpers that keep label sets consistent."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_seconds = Histogram(
            "meshdash_http_request_duration_seconds",
            "Time to answer an HTTP request, by Flask route template, method and status.",
            ("route", "method", "status"),
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.backend_seconds = Histogram(
            "meshdash_backend_request_duration_seconds",
            "Time of one call to a backend (one collector call, which may be several queries).",
            ("backend", "call", "outcome"),
            buckets=BACKEND_BUCKETS,
            registry=r,
        )
        self.backend_errors = Counter(
            "meshdash_backend_errors",
            "Backend calls that failed, by typed error (timeout, unavailable, ...).",
            ("backend", "call", "outcome"),
            registry=r,
        )
        self.backend_inflight = Gauge(
            "meshdash_backend_inflight_requests",
            "Backend calls in flight now (bounded by MESHDASH_BACKEND_CONCURRENCY).",
            ("backend",),
            multiprocess_mode="livesum",
            registry=r,
        )
        self.cache_hits = Counter(
            "meshdash_cache_hits",
            "Collector calls answered without a backend call (cached, or shared in flight).",
            ("call",),
            registry=r,
        )
        self.cache_misses = Counter(
            "meshdash_cache_misses",
            "Collector calls that went to the backend.",
            ("call",),
            registry=r,
        )
        self.cache_coalesced = Counter(
            "meshdash_cache_coalesced",
            "Hits that waited for an identical call already in flight (single flight).",
            ("call",),
            registry=r,
        )
        self.cache_errors = Counter(
            "meshdash_cache_errors",
            "Failures of the cache store itself (Redis); calls then go to the backend directly.",
            ("operation",),
            registry=r,
        )
        self.write_actions = Counter(
            "meshdash_write_actions",
            "Route write actions (shift, promote, rollback, retire...), by outcome.",
            ("action", "outcome"),
            registry=r,
        )
        self.rollout_events = Counter(
            "meshdash_rollout_events",
            "Guided rollouts: started, step (weights written), paused, rolled_back, promoted.",
            ("event",),
            registry=r,
        )

    # --- helpers -------------------------------------------------------------------------------
    def observe_http(self, route: str, method: str, status: int, seconds: float) -> None:
        self.http_seconds.labels(route, method, str(status)).observe(seconds)

    def observe_backend(self, backend: str, seconds: float, outcome: str, call: str = "") -> None:
        self.backend_seconds.labels(backend, call, outcome).observe(seconds)
        if outcome != OK:
            self.backend_errors.labels(backend, call, outcome).inc()

    @contextmanager
    def time_backend(self, backend: str, call: str = "") -> Iterator[None]:
        """Time a block that calls a backend; the outcome label comes from what it raises."""
        self.backend_inflight.labels(backend).inc()
        start = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            self.observe_backend(backend, time.perf_counter() - start, outcome_of(exc), call)
            raise
        else:
            self.observe_backend(backend, time.perf_counter() - start, OK, call)
        finally:
            self.backend_inflight.labels(backend).dec()

    def count_cache(self, call: str, *, hit: bool, coalesced: bool = False) -> None:
        if hit:
            self.cache_hits.labels(call).inc()
            if coalesced:
                self.cache_coalesced.labels(call).inc()
        else:
            self.cache_misses.labels(call).inc()

    def count_cache_error(self, operation: str) -> None:
        self.cache_errors.labels(operation).inc()

    def count_write(self, action: str, outcome: str) -> None:
        """Call once per write action: outcome "ok", "conflict", "forbidden", "invalid", "error"."""
        self.write_actions.labels(action, outcome).inc()

    def count_rollout(self, event: str) -> None:
        self.rollout_events.labels(event).inc()

    def exposition(self) -> bytes:
        """The text format for /metrics: every gunicorn worker's values in multiprocess mode."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(self.registry)
