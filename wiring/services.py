"""The one Services object app.py builds: the backends, the settings and the clock.

Pages and the API ask it for data; nothing else holds backend clients. A source that may be
missing is asked for by its role: `services.need(TRACES)` returns the TraceSource or raises the one
error, mesh.errors.NotConfigured("traces"), which the API and the pages answer as they always
have for that role; `services.find(TRACES)` is None instead, for parts that are left out calmly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from collectors.cache import SharedCache
from mesh.errors import NotConfigured
from mesh.sources import (
    CanarySource,
    DemoControls,
    InventorySource,
    RolloutStore,
    RouteStore,
    SeriesSource,
    TelemetrySource,
    TraceSource,
)
from ops.self_metrics import Metrics
from wiring.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class Role(Generic[T]):
    """A source Services may hold: the field it sits in (also the NotConfigured role name).

    `protocol`: when set, the telemetry source plays the role too if it implements the protocol
    (a Prometheus answers graphs, ranges and canary counts alike), and either candidate must.
    """

    name: str
    protocol: type | None = None


TRACES: Role[TraceSource] = Role("traces")
ROUTES: Role[RouteStore] = Role("routes")
ROLLOUTS: Role[RolloutStore] = Role("rollouts")
SERIES: Role[SeriesSource] = Role("series", SeriesSource)
CANARY: Role[CanarySource] = Role("canary", CanarySource)
INVENTORY: Role[InventorySource] = Role("inventory")
DEMO: Role[DemoControls] = Role("demo")


@dataclass(frozen=True)
class Services:
    settings: Settings
    telemetry: TelemetrySource
    traces: TraceSource | None = None  # Jaeger, or the demo's simulated traces
    routes: RouteStore | None = None  # Kubernetes, or the demo's in-memory Istio objects
    demo: DemoControls | None = None  # the simulator's fault switches, in demo mode only
    series: SeriesSource | None = None  # range queries: Prometheus, or the demo's traffic model
    canary: CanarySource | None = None  # per-version window counts: Prometheus, or the demo
    clock: Callable[[], float] = field(default=time.time)
    cache: SharedCache | None = None  # live mode: store, single flight, bounds
    metrics: Metrics = field(default_factory=Metrics)  # meshdash_* metrics, one registry per app
    inventory: InventorySource | None = None  # overview and lists: Prometheus, or the demo
    rollouts: RolloutStore | None = None  # guided rollouts, when routes are configured

    @property
    def mode(self) -> str:
        return "demo" if self.demo is not None else "live"

    def find(self, role: Role[T]) -> T | None:
        """The source playing `role`, or None when this server was started without one."""
        own = getattr(self, role.name)
        if role.protocol is None:
            return own
        for candidate in (own, self.telemetry):
            if candidate is not None and isinstance(candidate, role.protocol):
                return candidate
        return None

    def need(self, role: Role[T]) -> T:
        """The source playing `role`; NotConfigured(role) when there is none."""
        found = self.find(role)
        if found is None:
            raise NotConfigured(role.name)
        return found


def build_services(settings: Settings, clock: Callable[[], float] = time.time) -> Services:
    """Wire real collectors or the simulator from the settings.

    `clock` is the demo's time, for the simulator and the use cases alike: a test moves it
    instead of waiting for real minutes to pass. Live mode always reads the real clock.
    """
    if settings.demo:
        from demo.canary_source import DemoCanarySource
        from demo.history import seed_history
        from demo.inventory_source import DemoInventory
        from demo.mesh import DemoMesh
        from demo.series_source import DemoSeriesSource

        sim = DemoMesh.bookinfo(ambient=settings.demo_ambient, clock=clock)
        from collectors.rollout_store import MemoryRolloutStore
        from demo.routes import DemoRouteStore
        from demo.trace_source import DemoTraceStore

        DemoRouteStore.attach(sim)  # sim.routes: in-memory Istio objects the traffic follows
        # A past by several people: the split timeline and the audit trail agree on it.
        seed_history(sim.state, sim.routes, sim.clock())
        # The simulator's traces, read in process: no endpoint, no HTTP round trip to itself.
        sim.traces = DemoTraceStore(sim.spec, sim.state, seed=sim.model.seed, clock=sim.clock)
        return Services(
            settings=settings,
            telemetry=sim.telemetry,
            traces=sim.traces,
            routes=sim.routes,
            demo=sim,
            series=DemoSeriesSource(sim.model),
            canary=DemoCanarySource(sim.model),
            inventory=DemoInventory(sim.model),
            rollouts=MemoryRolloutStore(),
            clock=clock,
        )
    from collectors.prometheus_series import PrometheusSeries

    if settings.prometheus_url and settings.prometheus_clusters:
        raise SystemExit(
            "meshdash: set either the Prometheus URL (one global endpoint) or "
            "prometheus_clusters (one per cluster), not both"
        )
    if not settings.prometheus_url and not settings.prometheus_clusters:
        raise SystemExit("meshdash: --prometheus URL is required outside demo mode")
    from collectors.http import build_session as _build_session

    def build_session(backend: str):
        try:
            return _build_session(settings, backend)
        except ValueError as e:  # a contradictory or missing setting: stop at startup
            raise SystemExit(f"meshdash: {e}") from None

    if settings.prometheus_clusters:
        return _per_cluster_services(settings, build_session)
    # The graph collector plus range queries, sharing one HTTP session that carries the
    # configured credentials, headers and TLS options (collectors/http.py).
    telemetry = PrometheusSeries(
        settings.prometheus_url,
        timeout_s=settings.prometheus_timeout_s,
        session=build_session("prometheus"),
        max_series=settings.prometheus_max_series,
    )
    return _services(settings, build_session, telemetry, telemetry)


def _services(
    settings: Settings,
    build_session: Callable[[str], Any],
    telemetry: Any,
    series: Any,
    graph_sources: Callable[[Any], Any] | None = None,
) -> Services:
    """Jaeger, Kubernetes and the shared cache around the Prometheus side already built.

    `telemetry` answers the graph, `series` the service history and canary counts;
    `graph_sources(cache)` builds the graph source when it needs the cache itself (per cluster).
    """
    from collectors.jaeger import JaegerCollector
    from collectors.prometheus_canary import PrometheusCanarySource

    traces = None
    if settings.jaeger_url:
        traces = JaegerCollector(
            settings.jaeger_url,
            timeout_s=settings.jaeger_timeout_s,
            session=build_session("jaeger"),
            max_spans=settings.jaeger_max_spans,
        )
    routes = rollouts = None
    if settings.kube_enabled:
        from collectors.kube import KubeRouteStore

        routes = KubeRouteStore.from_settings(settings)
        from collectors.rollout_store import KubeRolloutStore

        rollouts = KubeRolloutStore(
            routes.api_client,
            timeout_s=settings.kube_timeout_s,
            lease_s=settings.rollout_lease_s,
        )
    # Every backend call goes through the shared cache (single flight, TTL of one refresh
    # interval) or, for routes, at least through the per-backend bound; see collectors/cache.py.
    from collectors.cache import (
        BoundedRoutes,
        CachedCanary,
        CachedSeries,
        CachedSource,
        CachedTelemetry,
        CachedTraces,
        SharedCache,
        align_args,
    )
    from collectors.prometheus_inventory import PrometheusInventory

    metrics = Metrics()
    cache = SharedCache.from_settings(settings, metrics)
    inventory = CachedSource(
        PrometheusInventory(series), cache, cached={"inventory_telemetry": align_args}
    )
    graph = graph_sources(cache) if graph_sources else CachedTelemetry(telemetry, cache)
    return Services(
        settings=settings,
        telemetry=graph,
        traces=CachedTraces(traces, cache) if traces is not None else None,
        routes=BoundedRoutes(routes, cache) if routes is not None else None,
        series=CachedSeries(series, cache),
        canary=CachedCanary(PrometheusCanarySource(series), cache),
        cache=cache,
        metrics=metrics,
        inventory=inventory,
        rollouts=rollouts,
    )


def _per_cluster_services(settings: Settings, build_session: Callable[[str], Any]) -> Services:
    """One Prometheus per cluster (collectors/prometheus_clusters.py), all sharing the
    Prometheus credentials, headers and TLS options; each cluster's graph answers are cached
    under their own scope, so one cluster failing never evicts or blocks another's."""
    from collectors.cache import CachedTelemetry
    from collectors.prometheus_clusters import ClusterPrometheus
    from collectors.prometheus_series import PrometheusSeries
    from mesh import validate
    from mesh.errors import BadRequest

    collectors: dict[str, Any] = {}
    for name, url in settings.prometheus_clusters.items():
        try:
            cluster = validate.cluster(name, field="prometheus_clusters")
            collectors[cluster] = PrometheusSeries(
                url,
                timeout_s=settings.prometheus_timeout_s,
                session=build_session("prometheus"),
                max_series=settings.prometheus_max_series,
            )
        except BadRequest as e:
            raise SystemExit(f"meshdash: prometheus_clusters[{name!r}]: {e.message}") from None
    plain = ClusterPrometheus(collectors)

    def graph_sources(cache: Any) -> ClusterPrometheus:
        cached = {
            name: CachedTelemetry(c, cache, scope=f"prometheus:{name}")
            for name, c in collectors.items()
        }
        return ClusterPrometheus(collectors, cached)

    return _services(settings, build_session, plain, plain, graph_sources)


SERVICES_KEY = "meshdash.services"


def services() -> Services:
    """The app's one Services object, as stored on the Flask app by create_app: pages and API
    handlers reach it here, outside both, so neither imports the other."""
    from flask import current_app

    return current_app.extensions[SERVICES_KEY]
