"""The one Services object app.py builds: the backends, the settings and the clock.

Pages and the API ask it for data; nothing else holds backend clients.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from config import Settings
from mesh.sources import TelemetrySource
from ops.metrics import Metrics


@dataclass(frozen=True)
class Services:
    settings: Settings
    telemetry: TelemetrySource
    traces: Any = None  # TraceSource, when a Jaeger (or the demo) is configured
    routes: Any = None  # RouteStore, when Kubernetes (or the demo) is configured
    demo: Any = None  # the simulator, in demo mode only
    series: Any = None  # SeriesSource (range queries): Prometheus, or the demo's traffic model
    canary: Any = None  # CanarySource (per-version window counts): Prometheus, or the demo
    clock: Callable[[], float] = field(default=time.time)
    cache: Any = None  # collectors.cache.SharedCache in live mode: store, single flight, bounds
    metrics: Metrics = field(default_factory=Metrics)  # meshdash_* metrics, one registry per app

    @property
    def mode(self) -> str:
        return "demo" if self.demo is not None else "live"


def build_services(settings: Settings) -> Services:
    """Wire real collectors or the simulator from the settings."""
    if settings.demo:
        from demo.canary_source import DemoCanarySource
        from demo.mesh import DemoMesh
        from demo.series_source import DemoSeriesSource

        sim = DemoMesh.bookinfo()
        from demo.routes import DemoRouteStore

        DemoRouteStore.attach(sim)  # sim.routes: in-memory Istio objects the traffic follows
        from demo.jaeger_server import attach_demo_jaeger

        attach_demo_jaeger(sim)  # sim.traces: the real JaegerCollector, over loopback HTTP
        return Services(
            settings=settings,
            telemetry=sim.telemetry,
            traces=getattr(sim, "traces", None),
            routes=getattr(sim, "routes", None),
            demo=sim,
            series=DemoSeriesSource(sim.model),
            canary=DemoCanarySource(sim.model),
        )
    from collectors.prometheus_canary import PrometheusCanarySource
    from collectors.prometheus_series import PrometheusSeries

    if not settings.prometheus_url:
        raise SystemExit("meshdash: --prometheus URL is required outside demo mode")
    from collectors.http import build_session as _build_session

    def build_session(backend: str):
        try:
            return _build_session(settings, backend)
        except ValueError as e:  # a contradictory or missing setting: stop at startup
            raise SystemExit(f"meshdash: {e}") from None

    # The graph collector plus range queries, sharing one HTTP session that carries the
    # configured credentials, headers and TLS options (collectors/http.py).
    telemetry = PrometheusSeries(
        settings.prometheus_url,
        timeout_s=settings.prometheus_timeout_s,
        session=build_session("prometheus"),
    )
    from collectors.jaeger import JaegerCollector

    traces = None
    if settings.jaeger_url:
        traces = JaegerCollector(
            settings.jaeger_url,
            timeout_s=settings.jaeger_timeout_s,
            session=build_session("jaeger"),
        )
    routes = None
    if settings.kube_enabled:
        from collectors.kube import KubeRouteStore

        routes = KubeRouteStore.from_settings(settings)
    # Every backend call goes through the shared cache (single flight, TTL of one refresh
    # interval) or, for routes, at least through the per-backend bound; see collectors/cache.py.
    from collectors.cache import (
        BoundedRoutes,
        CachedCanary,
        CachedSeries,
        CachedTelemetry,
        CachedTraces,
        SharedCache,
    )

    metrics = Metrics()
    cache = SharedCache.from_settings(settings, metrics)
    return Services(
        settings=settings,
        telemetry=CachedTelemetry(telemetry, cache),
        traces=CachedTraces(traces, cache) if traces is not None else None,
        routes=BoundedRoutes(routes, cache) if routes is not None else None,
        series=CachedSeries(telemetry, cache),
        canary=CachedCanary(PrometheusCanarySource(telemetry), cache),
        cache=cache,
        metrics=metrics,
    )
