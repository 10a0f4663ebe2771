"""The small interfaces every backend implements: real collectors, the demo and test doubles.

Pages and the API only ever see these, through the Services object.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from mesh.records import GraphQuery, GraphTelemetry


@runtime_checkable
class TelemetrySource(Protocol):
    """Istio request/latency/TCP telemetry (Prometheus, or the demo simulator)."""

    name: str

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        """Edge rates, latency quantiles and TCP bytes for one graph view at one instant."""
        ...
