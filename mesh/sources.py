"""The small interfaces every backend implements: real collectors, the demo and test doubles.

Pages and the API only ever see these, through the Services object.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from mesh.records import GraphQuery, GraphTelemetry
from mesh.series import SeriesQuery, SeriesTelemetry
from mesh.trace_records import Trace, TraceQuery


@runtime_checkable
class TelemetrySource(Protocol):
    """Istio request/latency/TCP telemetry (Prometheus, or the demo simulator)."""

    name: str

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        """Edge rates, latency quantiles and TCP bytes for one graph view at one instant."""
        ...


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
    """Distributed traces (Jaeger through its query API, or the demo's own Jaeger endpoint)."""

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
