"""DemoMesh: the embedded simulator as one object the Services hold in demo mode.

It owns the spec, the mutable TrafficState and the pure TrafficModel, and exposes the backends
the app reads: `.telemetry` (DemoTelemetry) now; `.traces` and `.routes` start as None and are
set when the app wires the trace store (demo/trace_source.py) and the routing simulator
(demo/routes.py). It is also the demo's DemoControls (mesh.sources): the fault switches pages
turn, and nothing else of the simulator reaches them.
The model is a function of time with the spec's defaults holding for all the past, so charts
over the last hours work at once, without pre-generating anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from demo.bookinfo import bookinfo_spec
from demo.openmetrics import WriteStats, write_openmetrics
from demo.spec import MeshSpec
from demo.state import Fault, TrafficState
from demo.telemetry import DemoTelemetry
from demo.traffic import NOISE, TICK_S, TrafficModel
from mesh.sources import RouteStore, TraceSource


class DemoMesh:
    """A simulated mesh with its state, its model and its backends."""

    def __init__(
        self,
        spec: MeshSpec,
        *,
        clock: Callable[[], float] = time.time,
        tick_s: float = TICK_S,
        noise: float = NOISE,
        seed: int = 0,
        history_start: float | None = None,
    ) -> None:
        self.spec = spec
        self.clock = clock
        self.state = TrafficState(spec, clock=clock)
        self.model = TrafficModel(
            spec, self.state, tick_s=tick_s, noise=noise, seed=seed, history_start=history_start
        )
        self.telemetry = DemoTelemetry(self.model)
        self.traces: TraceSource | None = None  # demo/trace_source.DemoTraceStore, once wired
        self.routes: RouteStore | None = None  # demo/routes.DemoRouteStore, once attached

    @classmethod
    def bookinfo(
        cls,
        clock: Callable[[], float] = time.time,
        reviews_split: Mapping[str, int] | None = None,
        ambient: bool = False,
    ) -> DemoMesh:
        """Bookinfo in namespace `bookinfo`, reviews split v1 80 / v2 10 / v3 10 by default;
        `ambient`: in Istio's ambient mode (waypoint-reported L7 telemetry)."""
        return cls(bookinfo_spec(reviews_split=reviews_split, ambient=ambient), clock=clock)

    @property
    def namespaces(self) -> tuple[str, ...]:
        return self.spec.namespaces()

    # ---- DemoControls (mesh.sources) ------------------------------------------------------

    def workload_of(self, namespace: str, app: str, version: str) -> str | None:
        """The simulated workload serving `version` of `app`, or None."""
        for w in self.spec.workloads:
            if w.namespace == namespace and w.app == app and w.version == version:
                return w.name
        return None

    def fault(self, namespace: str, workload: str) -> Fault:
        """The workload's fault now."""
        return self.state.fault_at(namespace, workload, self.clock())

    def set_fault(
        self,
        namespace: str,
        workload: str,
        latency_factor: float = 1.0,
        error_rate: float = 0.0,
        at: float | None = None,
    ) -> float:
        """Make the workload slow and/or failing from `at` (now); factor 1 and rate 0 heal it."""
        return self.state.set_fault(namespace, workload, latency_factor, error_rate, at)

    def now(self) -> float:
        return self.clock()

    def write_openmetrics(
        self,
        path: str | Path,
        start: float,
        end: float,
        step: float = 15.0,
        *,
        full_labels: bool = True,
    ) -> WriteStats:
        """The series this mesh's sidecars would have exported over [start, end]."""
        return write_openmetrics(self.model, path, start, end, step, full_labels=full_labels)
