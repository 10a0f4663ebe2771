"""Health of a window's figures (a service's or a destination's over the chosen window).

The same rule as the graph's (mesh.health.health with the configured thresholds), applied to
figures that may be missing: no rate is no traffic (idle), a missing ratio is no errors.
"""

from __future__ import annotations

from mesh.health import HealthThresholds, health


def window_health(
    rps: float | None,
    error_rate: float | None,
    client_error_rate: float | None,
    thresholds: HealthThresholds,
) -> str:
    return health(rps or 0.0, error_rate or 0.0, client_error_rate or 0.0, thresholds)


def success_health(
    rps: float | None,
    success_rate: float | None,
    client_error_rate: float | None,
    thresholds: HealthThresholds,
) -> str:
    """The same from a success rate (1 − the error ratio); no success rate is no errors."""
    error_rate = None if success_rate is None else 1 - success_rate
    return window_health(rps, error_rate, client_error_rate, thresholds)


def failing_success_below(thresholds: HealthThresholds) -> float:
    """The success rate under which a window is a failure (the line drawn on success charts)."""
    return 1.0 - thresholds.error_failure
