"""What one canary analysis reads: the query, per-version outcome counts and histogram buckets
(the increase of Istio's counters over the window), and the per-version figures folded from them.

Pure. Collectors and the demo produce the inputs; an outcome is an error or a client error by the
one rule of mesh/outcomes.py, as on the graph and the history charts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from mesh.outcomes import CLIENT_ERROR, ERROR, classify
from mesh.quantiles import histogram_quantiles


@dataclass(frozen=True, slots=True)
class CanaryQuery:
    """One analysis: a service's baseline and canary versions over `window_s` seconds ending at
    `at` (UNIX seconds). Versions are `destination_canonical_revision` values."""

    namespace: str
    service: str
    baseline: str
    canary: str
    window_s: int
    at: float


@dataclass(frozen=True, slots=True)
class OutcomeCount:
    """Requests to one version with one outcome in the window, each request counted once.

    `count` is Prometheus's increase(): extrapolated, so it may be fractional.
    """

    version: str
    response_code: str  # "200", "503", "0" (no response)
    grpc_status: str  # "" when absent
    count: float


@dataclass(frozen=True, slots=True)
class BucketCount:
    """Increase of istio_request_duration_milliseconds_bucket{le=...} for one version: the
    CUMULATIVE number of requests that took at most `le` ms (math.inf for +Inf)."""

    version: str
    le: float
    count: float


@dataclass(frozen=True, slots=True)
class CanaryTelemetry:
    """Everything one analysis needs, from a fixed small number of queries."""

    query: CanaryQuery
    outcomes: tuple[OutcomeCount, ...] = ()
    buckets: tuple[BucketCount, ...] = ()
    queries_sent: int = 0


@dataclass(frozen=True, slots=True)
class VersionFigures:
    """One version's figures over the window. Rates are fractions; None means no data."""

    version: str
    requests: float
    errors: float  # server errors (5xx, 0, gRPC 1-16)
    client_errors: float  # 4xx, reported only
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    # Non-cumulative histogram: (upper bound in ms, requests in that bucket), +Inf last.
    buckets: tuple[tuple[float, float], ...] = ()

    @property
    def success_rate(self) -> float | None:
        return None if self.requests <= 0 else 1.0 - self.errors / self.requests

    @property
    def error_rate(self) -> float | None:
        return None if self.requests <= 0 else self.errors / self.requests

    @property
    def latency_count(self) -> float:
        return sum(c for _, c in self.buckets)


def per_bucket(cumulative: Iterable[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Cumulative (le, count) pairs to per-bucket counts, sorted by bound.

    Duplicate bounds are summed and counts forced non-decreasing first, as PromQL does before
    interpolating (increase() extrapolates each bucket separately, so they can disagree slightly).
    """
    merged: dict[float, float] = {}
    for le, count in cumulative:
        if not math.isnan(count):
            merged[le] = merged.get(le, 0.0) + max(count, 0.0)
    out: list[tuple[float, float]] = []
    running = 0.0
    for le in sorted(merged):
        level = max(running, merged[le])
        out.append((le, level - running))
        running = level
    return tuple(out)


def version_figures(telemetry: CanaryTelemetry, version: str) -> VersionFigures:
    """Fold one version's outcome counts and histogram buckets into figures."""
    requests = errors = client = 0.0
    for o in telemetry.outcomes:
        if o.version != version:
            continue
        requests += o.count
        outcome = classify(o.response_code, o.grpc_status)
        if outcome == ERROR:
            errors += o.count
        elif outcome == CLIENT_ERROR:
            client += o.count
    cumulative = [(b.le, b.count) for b in telemetry.buckets if b.version == version]
    quantiles = histogram_quantiles((0.5, 0.95, 0.99), cumulative)
    return VersionFigures(
        version=version,
        requests=requests,
        errors=errors,
        client_errors=client,
        p50_ms=quantiles[0],
        p95_ms=quantiles[1],
        p99_ms=quantiles[2],
        buckets=per_bucket(cumulative),
    )
