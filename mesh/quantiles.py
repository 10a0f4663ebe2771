"""Rates and histogram quantiles with Prometheus's exact semantics, so the demo, the canary
analysis and PromQL itself agree to the last digit."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence

# Istio's default request-duration buckets, in milliseconds (DESIGN.md).
ISTIO_BUCKETS_MS: tuple[float, ...] = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
    300000, 600000, 1800000, 3600000,
)  # fmt: skip


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """PromQL histogram_quantile over (upper_bound, cumulative_count) pairs.

    Linear interpolation inside the bucket, the lowest bucket starting at 0, and the +Inf bucket
    answered with the highest finite bound, exactly as Prometheus does. Returns None where
    Prometheus returns NaN (no +Inf bucket, fewer than two buckets, or no observations).
    """
    return histogram_quantiles((q,), buckets)[0]


def histogram_quantiles(
    qs: Sequence[float], buckets: Iterable[tuple[float, float]]
) -> tuple[float | None, ...]:
    """histogram_quantile for each of `qs` over the same buckets, which are merged, sorted and
    made monotonic once (the graph asks p50, p95 and p99 of every edge)."""
    merged: dict[float, float] = {}
    for upper, count in buckets:
        merged[upper] = merged.get(upper, 0.0) + count
    ordered = sorted(merged.items())
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]):
        return tuple(_outside(q) for q in qs)
    bounds = [b for b, _ in ordered]
    counts = _monotonic([c for _, c in ordered])
    return tuple(_quantile(q, bounds, counts) for q in qs)


def _outside(q: float) -> float | None:
    """What Prometheus answers for q outside [0, 1] whatever the buckets, else NaN (None)."""
    if math.isnan(q) or 0 <= q <= 1:
        return None
    return -math.inf if q < 0 else math.inf


def _quantile(q: float, bounds: Sequence[float], counts: Sequence[float]) -> float | None:
    if math.isnan(q) or q < 0 or q > 1:
        return _outside(q)
    total = counts[-1]
    if total == 0 or math.isnan(total):
        return None
    rank = q * total
    b = bisect.bisect_left(counts, rank)
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start = 0.0 if b == 0 else bounds[b - 1]
    end = bounds[b]
    count = counts[b] - (counts[b - 1] if b > 0 else 0.0)
    rank -= counts[b - 1] if b > 0 else 0.0
    return start + (end - start) * (rank / count)


def _monotonic(counts: Sequence[float]) -> list[float]:
    """Prometheus forces cumulative counts to be non-decreasing before interpolating."""
    out: list[float] = []
    highest = -math.inf
    for c in counts:
        highest = max(highest, c)
        out.append(highest)
    return out


def cumulative_buckets(
    bounds: Sequence[float], per_bucket: Sequence[float]
) -> list[tuple[float, float]]:
    """Turn per-bucket counts (the last one for +Inf) into Prometheus's cumulative form."""
    if len(per_bucket) != len(bounds) + 1:
        raise ValueError("per_bucket needs one count per bound plus one for +Inf")
    out: list[tuple[float, float]] = []
    running = 0.0
    for upper, c in zip((*bounds, math.inf), per_bucket, strict=True):
        running += c
        out.append((upper, running))
    return out
