"""DemoMesh: the embedded simulator as one object the Services hold in demo mode.

It owns the spec, the mutable TrafficState and the pure TrafficModel, and exposes the backends
the app reads: `.telemetry` (DemoTelemetry) now; `.traces` and `.routes` start as None and are
set by the trace and routing simulators (demo/traces*.py, demo/routes.py) when they attach.
The model is a function of time with the spec's defaults holding for all the past, so charts
over the last hours work at once, without pre-generating anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from demo.bookinfo import bookinfo_spec
from demo.openmetrics import WriteStats, write_openmetrics
from demo.spec import MeshSpec
from demo.state import TrafficState
from demo.telemetry import DemoTelemetry
from demo.traffic import NOISE, TICK_S, TrafficModel


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
        self.traces: Any = None  # a TraceSource, attached by the trace simulator
        self.routes: Any = None  # a RouteStore, attached by the routing simulator

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
