"""The canary statistics against hand-computed values, brute force and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from mesh.canary.records import per_bucket
from mesh.canary.statistics import rank_test, two_proportion_test, upper_tail, wilson_interval

INF = math.inf


def test_wilson_interval_hand_computed():
    # 56 successes of 70, z = 1.959964 (z² = 3.841459):
    #   p = 0.8, denominator = 1 + 3.841459/70 = 1.054878
    #   centre = (0.8 + 3.841459/140) / 1.054878 = 0.827439 / 1.054878 = 0.784393
    #   half = 1.959964/1.054878 * sqrt(0.16/70 + 3.841459/19600)
    #        = 1.857999 * sqrt(0.00228571 + 0.00019599) = 1.857999 * 0.0498167 = 0.092559
    #   -> (0.691834, 0.876953)
    lo, hi = wilson_interval(56, 70)
    assert lo == pytest.approx(0.691834, abs=2e-6)
    assert hi == pytest.approx(0.876953, abs=2e-6)


def test_wilson_interval_with_no_events_is_not_degenerate():
    # 0 of 100: Wald gives [0, 0]; Wilson's upper bound is z²/(n + z²) = 3.841459/103.841459.
    lo, hi = wilson_interval(0, 100)
    assert lo == 0.0
    assert hi == pytest.approx(3.841459 / 103.841459, rel=1e-6)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_two_proportion_newcombe_interval_and_pooled_z_hand_computed():
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 - 48/80.
    # Here the canary failed 56 of 70 requests and the baseline 48 of 80.
    #   d = 0.8 - 0.6 = 0.2
    #   Wilson 56/70 = (0.691834, 0.876953) [above]; Wilson 48/80 = (0.490455, 0.700382):
    #     p=0.6, den = 1 + 3.841459/80 = 1.048018, centre = (0.6 + 0.024009)/1.048018 = 0.595422
    #     half = 1.959964/1.048018 * sqrt(0.24/80 + 3.841459/25600) = 1.870164*0.056128 = 0.104968
    #   L = d - sqrt((0.8-0.691834)² + (0.700382-0.6)²) = 0.2 - sqrt(0.011700 + 0.010077) = 0.052431
    #   U = d + sqrt((0.876953-0.8)² + (0.6-0.490455)²) = 0.2 + sqrt(0.005922 + 0.012000) = 0.333873
    #   Newcombe's published method-10 interval: 0.0524 to 0.3339.
    # Pooled z: p = 104/150 = 0.693333, SE = sqrt(p(1-p)(1/70 + 1/80)) = sqrt(0.212622*0.0267857)
    #   = 0.0754667, z = 0.2/0.0754667 = 2.650172, two-sided p = erfc(2.650172/√2) = 0.008045.
    t = two_proportion_test(baseline_errors=48, baseline_n=80, canary_errors=56, canary_n=70)
    assert t.difference == pytest.approx(0.2)
    assert t.ci_low == pytest.approx(0.052431, abs=2e-6)
    assert t.ci_high == pytest.approx(0.333873, abs=2e-6)
    assert round(t.ci_low, 4) == 0.0524 and round(t.ci_high, 4) == 0.3339
    assert t.z == pytest.approx(2.650172, abs=2e-6)
    assert t.p_value == pytest.approx(0.008045, abs=2e-6)


def test_two_proportion_zero_events_both_sides():
    # Newcombe example (h): 0/10 - 0/20 -> method 10 gives -0.1611 to 0.2775; no evidence, p = 1.
    t = two_proportion_test(baseline_errors=0, baseline_n=20, canary_errors=0, canary_n=10)
    assert t.difference == 0.0
    assert round(t.ci_low, 4) == -0.1611 and round(t.ci_high, 4) == 0.2775
    assert t.p_value == 1.0


def test_two_proportion_p_value_matches_scipy_chi_square():
    # The pooled two-sided z test is the 2x2 chi-square test without Yates' correction (z² = χ²).
    table = np.array([[30, 970], [12, 1188]])
    chi2, p, _, _ = scipy.stats.chi2_contingency(table, correction=False)
    t = two_proportion_test(baseline_errors=12, baseline_n=1200, canary_errors=30, canary_n=1000)
    assert t.z**2 == pytest.approx(chi2, rel=1e-9)
    assert t.p_value == pytest.approx(p, rel=1e-9)


def test_two_proportion_without_requests_has_no_result():
    t = two_proportion_test(baseline_errors=0, baseline_n=0, canary_errors=1, canary_n=10)
    assert t.difference is None and t.p_value is None and t.ci_low is None
    assert t.canary_rate == pytest.approx(0.1)


def test_upper_tail_is_accurate_far_out():
    assert upper_tail(0.0) == 0.5
    assert upper_tail(1.959963984540054) == pytest.approx(0.025, rel=1e-12)
    assert upper_tail(10.0) == pytest.approx(7.619853024160527e-24, rel=1e-9)


# The small histogram worked by hand: per-bucket counts with Istio bounds.
BASELINE = [(10.0, 3.0), (25.0, 5.0), (50.0, 2.0), (INF, 0.0)]
CANARY = [(10.0, 1.0), (25.0, 3.0), (50.0, 4.0), (INF, 2.0)]


def test_rank_test_hand_computed():
    # U (canary slower, ties half) = Σ canary_i * (baseline below i + baseline_i / 2)
    #   = 1*(0 + 1.5) + 3*(3 + 2.5) + 4*(8 + 1) + 2*(10 + 0) = 1.5 + 16.5 + 36 + 20 = 74
    # PS = 74 / (10*10) = 0.74
    # ties t_i = 4, 8, 6, 2 -> Σ(t³ - t) = 60 + 504 + 210 + 6 = 780, N = 20
    # var = 10*10/12 * (21 - 780/(20*19)) = 8.333333 * 18.947368 = 157.894737, sd = 12.565617
    # z = (74 - 50 - 0.5) / 12.565617 = 1.870183, one-sided p = 0.030729
    r = rank_test(BASELINE, CANARY)
    assert r is not None
    assert r.u == 74.0
    assert r.prob_slower == pytest.approx(0.74)
    assert r.z == pytest.approx(1.870183, abs=1e-6)
    assert r.p_value == pytest.approx(0.030729, abs=1e-6)


def _expand(buckets):
    """One observation per request, at its bucket's upper bound (a finite stand-in for +Inf)."""
    values = [le if math.isfinite(le) else 1e12 for le, _ in buckets]
    return np.repeat(values, [int(c) for _, c in buckets])


def _brute_force_u(baseline, canary):
    x, y = _expand(baseline), _expand(canary)
    return sum((yi > xi) + 0.5 * (yi == xi) for yi in y for xi in x)


def test_rank_test_matches_brute_force_and_scipy_on_the_small_histogram():
    r = rank_test(BASELINE, CANARY)
    assert r.u == _brute_force_u(BASELINE, CANARY)
    ref = scipy.stats.mannwhitneyu(
        _expand(CANARY), _expand(BASELINE), alternative="greater", method="asymptotic"
    )
    assert r.u == pytest.approx(float(ref.statistic))
    assert r.p_value == pytest.approx(float(ref.pvalue), rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 12), min_size=4, max_size=4),
    st.lists(st.integers(0, 12), min_size=4, max_size=4),
)
def test_rank_test_matches_scipy_on_random_histograms(base_counts, canary_counts):
    bounds = (5.0, 25.0, 100.0, INF)
    base = list(zip(bounds, map(float, base_counts), strict=True))
    can = list(zip(bounds, map(float, canary_counts), strict=True))
    r = rank_test(base, can)
    if sum(base_counts) == 0 or sum(canary_counts) == 0:
        assert r is None
        return
    assert r.u == pytest.approx(_brute_force_u(base, can))
    if len({b for b, c in zip(bounds, np.add(base_counts, canary_counts), strict=True) if c}) > 1:
        ref = scipy.stats.mannwhitneyu(
            _expand(can), _expand(base), alternative="greater", method="asymptotic"
        )
        assert r.p_value == pytest.approx(float(ref.pvalue), rel=1e-9, abs=1e-15)


def test_rank_test_all_requests_in_one_bucket_are_all_ties():
    r = rank_test([(100.0, 50.0), (INF, 0.0)], [(100.0, 20.0), (INF, 0.0)])
    assert r.prob_slower == 0.5 and r.p_value == 1.0


def test_rank_test_direction_faster_canary_is_not_slower():
    r = rank_test(CANARY, BASELINE)  # swapped: the canary is now the faster one
    assert r.prob_slower == pytest.approx(0.26)
    assert r.p_value > 0.9


def test_rank_test_aligns_different_bucket_layouts_on_shared_bounds():
    # The canary has an extra 50 ms bound; it is merged into (25, 100] before ranking.
    base = [(25.0, 4.0), (100.0, 4.0), (INF, 0.0)]
    can = [(25.0, 1.0), (50.0, 2.0), (100.0, 3.0), (INF, 0.0)]
    r = rank_test(base, can)
    assert r.u == rank_test(base, [(25.0, 1.0), (100.0, 5.0), (INF, 0.0)]).u


def test_rank_test_needs_observations_on_both_sides():
    assert rank_test([(10.0, 0.0), (INF, 0.0)], CANARY) is None


def test_per_bucket_differences_cumulative_counts_and_repairs_extrapolation():
    # increase() extrapolates each bucket series separately, so a cumulative count can dip.
    cumulative = [(INF, 10.0), (10.0, 3.0), (25.0, 8.2), (50.0, 8.0)]
    assert per_bucket(cumulative) == (
        (10.0, 3.0),
        (25.0, pytest.approx(5.2)),
        (50.0, 0.0),
        (INF, pytest.approx(1.8)),
    )
