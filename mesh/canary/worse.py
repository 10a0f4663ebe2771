"""When a canary's figure counts as worse than its baseline's, to point it out.

This only tints figures for the eye; the verdict's gates (mesh.canary) decide. A drop in success
rate of more than 0.1 percentage point, or a latency quantile more than 10% above the
baseline's, is worth a look; smaller differences are noise at a glance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SUCCESS_DROP = 0.001  # fraction: 0.1 percentage point
LATENCY_RISE = 1.1  # ratio: 10% slower
LATENCY_KEYS: tuple[str, ...] = ("p50_ms", "p95_ms", "p99_ms")
# The figures compared, in the order the review's figure rows show them.
FIGURE_KEYS: tuple[str, ...] = (
    "requests",
    "success_rate",
    "errors",
    "client_errors",
    *LATENCY_KEYS,
)


def worse_than_baseline(baseline: Mapping[str, Any], canary: Mapping[str, Any]) -> dict[str, bool]:
    """Figure key -> whether the canary's is worse; a missing figure is never worse."""

    def slower(key: str) -> bool:
        b, c = baseline.get(key), canary.get(key)
        return b is not None and c is not None and c > b * LATENCY_RISE

    sb, sc = baseline.get("success_rate"), canary.get("success_rate")
    out = dict.fromkeys(FIGURE_KEYS, False)
    out["success_rate"] = sb is not None and sc is not None and sc < sb - SUCCESS_DROP
    for key in LATENCY_KEYS:
        out[key] = slower(key)
    return out
