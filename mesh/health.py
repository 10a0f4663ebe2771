"""Health of an edge or a node from its error and client-error ratios, with Kiali's default
thresholds. Which request counts as an error or a client error is mesh/outcomes.py's rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HEALTHY = "healthy"
DEGRADED = "degraded"
FAILURE = "failure"
IDLE = "idle"
HEALTH_STATES: tuple[str, ...] = (HEALTHY, DEGRADED, FAILURE, IDLE)

# Ratios are quotients of averaged float rates: 0.3/3.0 is 0.09999999999999999. Without this
# slack an edge at exactly 10% errors would miss the "failure at 10%" boundary.
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    """Ratios (fractions 0..1) at which a status is reached; Kiali's defaults.

    A ratio reaches a threshold when it is at least the threshold AND above zero, so the 5xx
    default of 0 reads "degraded as soon as any request fails" and a clean edge stays healthy.
    """

    error_degraded: float = 0.0
    error_failure: float = 0.10
    client_error_degraded: float = 0.10
    client_error_failure: float = 0.20

    def __post_init__(self) -> None:
        for name in (
            "error_degraded",
            "error_failure",
            "client_error_degraded",
            "client_error_failure",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a fraction between 0 and 1, got {value!r}")
        if self.error_failure < self.error_degraded:
            raise ValueError("error_failure must not be below error_degraded")
        if self.client_error_failure < self.client_error_degraded:
            raise ValueError("client_error_failure must not be below client_error_degraded")


def _reaches(ratio: float, threshold: float) -> bool:
    return ratio > 0.0 and ratio >= threshold - _EPSILON


def health(
    rps: float,
    ratio_5xx: float,
    ratio_4xx: float,
    thresholds: HealthThresholds = HealthThresholds(),
) -> str:
    """The worse of the error and client-error statuses; "idle" when there was no request."""
    if not math.isfinite(rps) or rps <= 0.0:
        return IDLE
    r5 = ratio_5xx if math.isfinite(ratio_5xx) else 0.0
    r4 = ratio_4xx if math.isfinite(ratio_4xx) else 0.0
    if _reaches(r5, thresholds.error_failure) or _reaches(r4, thresholds.client_error_failure):
        return FAILURE
    if _reaches(r5, thresholds.error_degraded) or _reaches(r4, thresholds.client_error_degraded):
        return DEGRADED
    return HEALTHY
