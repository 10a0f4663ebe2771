"""Health from request outcomes: Kiali's thresholds, boundaries, gRPC and code 0."""

from __future__ import annotations

import pytest

from mesh.health import (
    DEGRADED,
    FAILURE,
    HEALTHY,
    IDLE,
    HealthThresholds,
    health,
)


def test_defaults_are_kialis():
    t = HealthThresholds()
    assert (t.error_degraded, t.error_failure) == (0.0, 0.10)
    assert (t.client_error_degraded, t.client_error_failure) == (0.10, 0.20)


@pytest.mark.parametrize(
    ("rps", "r5", "r4", "state"),
    [
        (0.0, 0.0, 0.0, IDLE),
        (0.0, 0.5, 0.5, IDLE),  # no traffic wins over stale ratios
        (10.0, 0.0, 0.0, HEALTHY),
        (10.0, 1e-6, 0.0, DEGRADED),  # any 5xx at all degrades
        (10.0, 0.0999, 0.0, DEGRADED),
        (10.0, 0.10, 0.0, FAILURE),  # failure AT 10%
        (10.0, 0.3 / 3.0, 0.0, FAILURE),  # 0.09999999999999999 in floats is still 10%
        (10.0, 0.0, 0.0999, HEALTHY),  # 4xx below 10% is fine
        (10.0, 0.0, 0.10, DEGRADED),  # degraded AT 10% 4xx
        (10.0, 0.0, 0.1999, DEGRADED),
        (10.0, 0.0, 0.20, FAILURE),  # failure AT 20% 4xx
        (10.0, 0.05, 0.25, FAILURE),  # the worse of the two
        (10.0, 1.0, 0.0, FAILURE),
    ],
)
def test_health_boundaries(rps, r5, r4, state):
    assert health(rps, r5, r4, HealthThresholds()) == state


def test_thresholds_are_configurable():
    lenient = HealthThresholds(error_degraded=0.05, error_failure=0.5)
    assert health(10.0, 0.01, 0.0, lenient) == HEALTHY
    assert health(10.0, 0.05, 0.0, lenient) == DEGRADED
    assert health(10.0, 0.5, 0.0, lenient) == FAILURE


def test_zero_thresholds_never_flag_a_clean_edge():
    strict = HealthThresholds(0.0, 0.0, 0.0, 0.0)
    assert health(5.0, 0.0, 0.0, strict) == HEALTHY
    assert health(5.0, 0.01, 0.0, strict) == FAILURE


@pytest.mark.parametrize(
    "kwargs",
    [
        {"error_failure": 1.5},
        {"error_degraded": -0.1},
        {"error_degraded": 0.3, "error_failure": 0.2},
        {"client_error_degraded": 0.5, "client_error_failure": 0.2},
    ],
)
def test_nonsense_thresholds_are_refused(kwargs):
    with pytest.raises(ValueError):
        HealthThresholds(**kwargs)


def test_health_ignores_non_finite_ratios():
    assert health(float("nan"), 0.0, 0.0) == IDLE
    assert health(1.0, float("nan"), 0.0) == HEALTHY
