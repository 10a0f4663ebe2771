"""The simulator's mutable runtime state: version weights, mirroring and faults over time.

Everything else in the demo is a pure function of (spec, state, t). The state keeps TIMELINES,
not just current values, so a chart over the last hour still shows the split that held at each
moment, and a change takes effect exactly at its timestamp. Before a timeline's first entry the
spec's defaults hold. One TrafficState belongs to one DemoMesh (held by the Services object);
a lock makes it safe for Flask's threads.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from demo.spec import MeshSpec, check_weights

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Fault:
    """A workload made slow (server time multiplied) or failing (extra 5xx share)."""

    latency_factor: float = 1.0
    error_rate: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latency_factor) and self.latency_factor > 0):
            raise ValueError("latency_factor must be positive")
        if not (0.0 <= self.error_rate <= 1.0):
            raise ValueError("error_rate must be between 0 and 1")


NO_FAULT = Fault()


@dataclass(frozen=True, slots=True)
class Mirror:
    """A copy of `percent` % of a service's requests sent to one version (Istio `mirror`)."""

    version: str
    percent: float


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    """The state at one instant, resolved for every service; hashable so flows can be cached."""

    splits: tuple[tuple[tuple[str, str], tuple[tuple[str, int], ...]], ...]
    faults: tuple[tuple[tuple[str, str], Fault], ...]
    mirrors: tuple[tuple[tuple[str, str], Mirror], ...]

    def split(self, namespace: str, service: str) -> dict[str, int]:
        for key, weights in self.splits:
            if key == (namespace, service):
                return dict(weights)
        return {}

    def fault(self, namespace: str, workload: str) -> Fault:
        for key, fault in self.faults:
            if key == (namespace, workload):
                return fault
        return NO_FAULT

    def mirror(self, namespace: str, service: str) -> Mirror | None:
        for key, mirror in self.mirrors:
            if key == (namespace, service):
                return mirror
        return None


class _Timeline(Generic[V]):
    """Values that take effect at given times; a later call at the same time wins."""

    def __init__(self) -> None:
        self._times: list[float] = []
        self._values: list[V] = []

    def set(self, at: float, value: V) -> None:
        i = bisect.bisect_right(self._times, at)
        self._times.insert(i, at)
        self._values.insert(i, value)

    def at(self, t: float, default: V) -> V:
        i = bisect.bisect_right(self._times, t)
        return self._values[i - 1] if i else default

    def times(self) -> list[float]:
        return list(self._times)

    def items(self) -> list[tuple[float, V]]:
        return list(zip(self._times, self._values, strict=True))


class TrafficState:
    """Timelines of per-service weights and mirroring, and per-workload faults."""

    def __init__(self, spec: MeshSpec, clock: Callable[[], float] = time.time) -> None:
        self._spec = spec
        self._clock = clock
        self._lock = threading.Lock()
        self._splits: dict[tuple[str, str], _Timeline[dict[str, int]]] = {}
        self._mirrors: dict[tuple[str, str], _Timeline[Mirror | None]] = {}
        self._faults: dict[tuple[str, str], _Timeline[Fault]] = {}
        self._revision = 0

    @property
    def spec(self) -> MeshSpec:
        return self._spec

    @property
    def revision(self) -> int:
        """Increments on every change, so callers can cache what they derived."""
        with self._lock:
            return self._revision

    def _when(self, at: float | None) -> float:
        t = self._clock() if at is None else float(at)
        if not math.isfinite(t):
            raise ValueError("at must be a finite UNIX time")
        return t

    def _service_versions(self, namespace: str, service: str) -> set[str]:
        versions = set(self._spec.versions(namespace, service))
        if not versions:
            raise KeyError(f"no service {namespace}/{service} in the mesh")
        return versions

    # -- splits ---------------------------------------------------------------------------
    def set_split(
        self, namespace: str, service: str, weights: Mapping[str, int], at: float | None = None
    ) -> float:
        """Route `weights` (integers summing to 100; missing versions get 0) from `at` (now)."""
        versions = self._service_versions(namespace, service)
        clean = check_weights(weights, versions, f"{namespace}/{service}")
        full = {v: clean.get(v, 0) for v in self._spec.versions(namespace, service)}
        t = self._when(at)
        with self._lock:
            self._splits.setdefault((namespace, service), _Timeline()).set(t, full)
            self._revision += 1
        return t

    def split_at(self, namespace: str, service: str, t: float) -> dict[str, int]:
        default = self._spec.default_split(namespace, service)
        with self._lock:
            line = self._splits.get((namespace, service))
            return dict(line.at(t, default)) if line else dict(default)

    def split_history(self, namespace: str, service: str) -> list[tuple[float, dict[str, int]]]:
        """Every weight change of a service, oldest first (for change markers on charts)."""
        with self._lock:
            line = self._splits.get((namespace, service))
            return [(t, dict(w)) for t, w in line.items()] if line else []

    # -- mirroring ------------------------------------------------------------------------
    def set_mirror(
        self,
        namespace: str,
        service: str,
        version: str | None,
        percent: float = 100.0,
        at: float | None = None,
    ) -> float:
        """Copy `percent` % of the service's requests to `version`; None stops mirroring."""
        versions = self._service_versions(namespace, service)
        if version is not None and version not in versions:
            raise ValueError(f"{namespace}/{service} has no version {version!r}")
        if not 0.0 <= percent <= 100.0:
            raise ValueError("mirror percent must be between 0 and 100")
        value = None if version is None or percent == 0 else Mirror(version, float(percent))
        t = self._when(at)
        with self._lock:
            self._mirrors.setdefault((namespace, service), _Timeline()).set(t, value)
            self._revision += 1
        return t

    def mirror_at(self, namespace: str, service: str, t: float) -> Mirror | None:
        with self._lock:
            line = self._mirrors.get((namespace, service))
            return line.at(t, None) if line else None

    # -- faults ---------------------------------------------------------------------------
    def set_fault(
        self,
        namespace: str,
        workload: str,
        latency_factor: float = 1.0,
        error_rate: float = 0.0,
        at: float | None = None,
    ) -> float:
        """Make a workload slow and/or failing from `at` (now); factor 1 and rate 0 heal it."""
        self._spec.workload(namespace, workload)  # KeyError for an unknown workload
        fault = Fault(float(latency_factor), float(error_rate))
        t = self._when(at)
        with self._lock:
            self._faults.setdefault((namespace, workload), _Timeline()).set(t, fault)
            self._revision += 1
        return t

    def fault_at(self, namespace: str, workload: str, t: float) -> Fault:
        with self._lock:
            line = self._faults.get((namespace, workload))
            return line.at(t, NO_FAULT) if line else NO_FAULT

    # -- whole state ----------------------------------------------------------------------
    def change_times(self, t0: float, t1: float) -> tuple[float, ...]:
        """Distinct times in (t0, t1] at which anything changes, sorted."""
        with self._lock:
            lines = [*self._splits.values(), *self._mirrors.values(), *self._faults.values()]
            times = {t for line in lines for t in line.times() if t0 < t <= t1}
        return tuple(sorted(times))

    def snapshot(self, t: float) -> StateSnapshot:
        """Everything that holds at time t."""
        with self._lock:
            splits = []
            for key in self._spec.services():
                line = self._splits.get(key)
                default = self._spec.default_split(*key)
                weights = line.at(t, default) if line else default
                splits.append((key, tuple(sorted(weights.items()))))
            faults = []
            for key, fline in sorted(self._faults.items()):
                fault = fline.at(t, NO_FAULT)
                if fault != NO_FAULT:
                    faults.append((key, fault))
            mirrors = []
            for key, mline in sorted(self._mirrors.items()):
                mirror = mline.at(t, None)
                if mirror is not None:
                    mirrors.append((key, mirror))
        return StateSnapshot(tuple(splits), tuple(faults), tuple(mirrors))
