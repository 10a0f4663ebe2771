"""The small interfaces every backend implements: real collectors, the demo and test doubles.

Pages and the API only ever see these, through the Services object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol, TypeVar, runtime_checkable

from mesh.canary.records import CanaryQuery, CanaryTelemetry
from mesh.inventory import InventoryQuery, InventoryTelemetry
from mesh.releases.audit import AuditEntry
from mesh.releases.rollout_plan import Progress, RolloutPlan
from mesh.routing.objects import Write
from mesh.routing.selection import ServiceRoutes
from mesh.series import SeriesQuery, SeriesTelemetry
from mesh.telemetry_records import GraphQuery, GraphTelemetry
from mesh.traces.records import Trace, TraceQuery

T = TypeVar("T")


@runtime_checkable
class TelemetrySource(Protocol):
    """Istio request/latency/TCP telemetry (Prometheus, or the demo simulator)."""

    name: str

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        """Edge rates, latency quantiles and TCP bytes for one graph view at one instant."""
        ...


@runtime_checkable
class StagedTelemetry(Protocol):
    """A TelemetrySource whose latency answer comes last and takes longest (Prometheus sums
    the buckets: 75,000 series at 1,000 workloads): it hands the rest over first, so the
    caller builds the graph while the buckets are still summed."""

    def graph_telemetry_staged(
        self, query: GraphQuery, first: Callable[[GraphTelemetry], T]
    ) -> tuple[GraphTelemetry, T]:
        """graph_telemetry(query), and first(the same without latencies), called as soon as
        the requests and TCP bytes are in."""
        ...


def traffic_only(telemetry: GraphTelemetry) -> GraphTelemetry:
    """The telemetry without its latencies: what StagedTelemetry hands over first."""
    return replace(telemetry, latencies=())


def telemetry_staged(
    source: TelemetrySource, query: GraphQuery, first: Callable[[GraphTelemetry], T]
) -> tuple[GraphTelemetry, T]:
    """graph_telemetry and first(its traffic_only part): early from a StagedTelemetry source,
    else once the whole telemetry is in."""
    if isinstance(source, StagedTelemetry):
        return source.graph_telemetry_staged(query, first)
    telemetry = source.graph_telemetry(query)
    return telemetry, first(traffic_only(telemetry))


@runtime_checkable
class SeriesSource(Protocol):
    """Range queries for one service or workload (Prometheus, or the demo's traffic model).

    Separate from TelemetrySource so a backend can offer instant graphs without history.
    """

    name: str

    def series_telemetry(self, query: SeriesQuery) -> SeriesTelemetry:
        """Raw per-version request, latency-bucket and TCP series over query's window.

        The number of backend queries is fixed: it never grows with versions or destinations.
        """
        ...


@runtime_checkable
class TraceSource(Protocol):
    """Distributed traces (Jaeger through its query API, or the demo's simulated traces)."""

    name: str

    def services(self) -> tuple[str, ...]:
        """Service names as the tracer reports them (Istio: `app.namespace`)."""
        ...

    def operations(self, service: str) -> tuple[str, ...]: ...

    def find_traces(self, query: TraceQuery) -> list[Trace]:
        """Whole traces matching the query, at most query.limit; none is an empty list."""
        ...

    def get_trace(self, trace_id: str) -> Trace:
        """One trace; raises mesh.errors.NotFound when the id is unknown."""
        ...


@runtime_checkable
class RouteStore(Protocol):
    """Istio routing objects (Kubernetes, or the demo's in-memory store) and their audit trail.

    Writes replace an object carrying the resourceVersion of `write.before` (or create it when
    `before` is None); a stale version raises mesh.errors.Conflict with the current object and a
    diff. `dry_run=True` validates on the server side and stores nothing.
    """

    name: str

    def list_services(self, namespace: str) -> list[ServiceRoutes]:
        """Every service in the namespace that has versions or routing objects."""
        ...

    def get_service(self, namespace: str, service: str) -> ServiceRoutes:
        """One service's objects; raises NotFound when it has neither versions nor objects."""
        ...

    def write(self, write: Write, *, dry_run: bool) -> dict:
        """Create or replace one object; returns the object as stored (or as it would be)."""
        ...

    def snapshot(self, kind: str, namespace: str, name: str, resource_version: str) -> dict | None:
        """An object as it was at `resource_version`, when still known (for conflict diffs)."""
        ...

    def record(self, entries: Sequence[AuditEntry]) -> None:
        """Append applied changes to the audit log."""
        ...

    def history(
        self, *, namespace: str | None = None, service: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Audit entries, newest first."""
        ...


@runtime_checkable
class CanarySource(Protocol):
    """Per-version request counts and latency buckets of one service over one window, for the
    canary analysis (Prometheus increase() queries, or the demo's traffic model)."""

    name: str

    def canary_telemetry(self, query: CanaryQuery) -> CanaryTelemetry:
        """Counts for query.baseline and query.canary only, from a fixed number of queries."""
        ...


@runtime_checkable
class InventorySource(Protocol):
    """Request rates (and, for lists, latency) per namespace, service, workload or app, for the
    overview and the inventory lists (Prometheus, or the demo's traffic model)."""

    name: str

    def inventory_telemetry(self, query: InventoryQuery) -> InventoryTelemetry: ...


class StoredRollout(Protocol):
    """A guided rollout as stored: its plan, its progress and the version a save must carry."""

    @property
    def plan(self) -> RolloutPlan: ...

    @property
    def progress(self) -> Progress: ...

    @property
    def version(self) -> str: ...


@runtime_checkable
class RolloutStore(Protocol):
    """Guided rollouts (a ConfigMap per service and a Lease in Kubernetes, or in memory for the
    demo): every save carries the version it read, a stale one raises mesh.errors.Conflict."""

    name: str

    def load(self, namespace: str, service: str) -> StoredRollout | None: ...

    def list(self, namespace: str | None = None) -> Sequence[StoredRollout]:
        """Every stored rollout, of one namespace or of all."""
        ...

    def save(self, plan: RolloutPlan, progress: Progress, version: str | None) -> str:
        """Create (version None) or replace the rollout carrying `version`; the new version."""
        ...

    def acquire(self, namespace: str, service: str, holder: str, now: float) -> bool:
        """Hold (or renew) the lease that lets one process drive the rollout."""
        ...


class DemoFault(Protocol):
    """A simulated workload's fault: 1.0 and 0.0 mean healthy."""

    @property
    def latency_factor(self) -> float: ...

    @property
    def error_rate(self) -> float: ...


@runtime_checkable
class DemoControls(Protocol):
    """The demo's switches a page may turn: make a simulated workload slow or failing.

    Only the simulator implements it; pages and views see nothing else of it.
    """

    def workload_of(self, namespace: str, app: str, version: str) -> str | None:
        """The simulated workload serving `version` of `app`, or None."""
        ...

    def fault(self, namespace: str, workload: str) -> DemoFault:
        """The workload's fault now."""
        ...

    def set_fault(
        self,
        namespace: str,
        workload: str,
        latency_factor: float = 1.0,
        error_rate: float = 0.0,
        at: float | None = None,
    ) -> float:
        """Make the workload slow and/or failing from `at` (now); returns when it starts."""
        ...


@runtime_checkable
class Readiness(Protocol):
    """Optional on any source: can this backend serve now? Used by /readyz, never cached.

    Returns {"ok": bool, "detail": str, "version": str | None, "reachable": bool | None,
    "authenticated": bool | None} (collectors.backend_status.ready_answer / not_ready): detail names the cause a person
    can act on ("connection refused", "401 from the server"), never a credential; version is the
    backend's build where it exposes one (Prometheus /api/v1/status/buildinfo, Kubernetes /version).
    It should answer within the backend's timeout and report failures rather than raise.
    """

    def ready(self) -> dict[str, object]: ...
