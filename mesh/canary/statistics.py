"""The two comparisons' statistics: errors as proportions, latency as ranks of histogram buckets.

Pure numbers in, numbers out; mesh/canary/gates.py turns them into pass, fail or inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

_STD_NORMAL = NormalDist()


def upper_tail(z: float) -> float:
    """P(Z > z) for a standard normal, accurate far into the tail (unlike 1 - cdf)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    z = _STD_NORMAL.inv_cdf(0.5 + confidence / 2.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z / denom * math.sqrt(max(p * (1.0 - p) / n + z * z / (4.0 * n * n), 0.0))
    return max(centre - half, 0.0), min(centre + half, 1.0)


@dataclass(frozen=True, slots=True)
class ProportionTest:
    """Canary error rate minus baseline error rate (positive: the canary errs more).

    Interval: Newcombe's hybrid score interval (1998, method 10) from two Wilson intervals.
    Error rates sit near 0, where the Wald interval collapses to zero width at zero errors and
    covers far less than 95%; Newcombe's keeps close to nominal coverage there and needs no
    continuity fudge. p-value: two-sided z test with the pooled standard error, the textbook
    test of equal proportions (approximate when fewer than ~5 errors are expected).
    """

    baseline_rate: float | None
    canary_rate: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    z: float | None
    p_value: float | None
    confidence: float = 0.95
    method: str = "newcombe-wilson interval; pooled two-proportion z test"


def two_proportion_test(
    baseline_errors: float,
    baseline_n: float,
    canary_errors: float,
    canary_n: float,
    confidence: float = 0.95,
) -> ProportionTest:
    """Compare error proportions; fields are None where a version has no requests."""
    if baseline_n <= 0 or canary_n <= 0:
        rate_b = baseline_errors / baseline_n if baseline_n > 0 else None
        rate_c = canary_errors / canary_n if canary_n > 0 else None
        return ProportionTest(rate_b, rate_c, None, None, None, None, None, confidence)
    p_b = baseline_errors / baseline_n
    p_c = canary_errors / canary_n
    diff = p_c - p_b
    lo_b, hi_b = wilson_interval(baseline_errors, baseline_n, confidence)
    lo_c, hi_c = wilson_interval(canary_errors, canary_n, confidence)
    ci_low = diff - math.sqrt((p_c - lo_c) ** 2 + (hi_b - p_b) ** 2)
    ci_high = diff + math.sqrt((hi_c - p_c) ** 2 + (p_b - lo_b) ** 2)
    pooled = (baseline_errors + canary_errors) / (baseline_n + canary_n)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / baseline_n + 1.0 / canary_n))
    if se == 0.0:  # no errors at all (or only errors): no evidence of a difference
        z, p = 0.0, 1.0
    else:
        z = diff / se
        p = min(1.0, 2.0 * upper_tail(abs(z)))
    return ProportionTest(p_b, p_c, diff, ci_low, ci_high, z, p, confidence)


@dataclass(frozen=True, slots=True)
class RankTest:
    """Mann-Whitney U on histogram buckets: is a canary request slower than a baseline one?

    Why this test: the histogram only says which bucket each request fell into, so latency is
    ordinal data with massive ties; a rank test needs no distribution shape, uses every request
    (not only the tail, unlike comparing p99s), and handles ties exactly: all requests in one
    bucket are tied. It is computed from the counts in O(buckets), never expanding requests.

    u: pairs (baseline, canary) where the canary request is slower, ties counted half.
    prob_slower: u / (n_baseline * n_canary), the probability of superiority (Vargha-Delaney
        A; 0.5 means no difference).
    p_value: one-sided, alternative "canary slower", normal approximation with the tie-corrected
        variance and a continuity correction (as scipy.stats.mannwhitneyu, method="asymptotic").
    prob_slower_upper: one-sided upper confidence bound of prob_slower at 1 - alpha, from the
        null standard deviation: exact when the versions match, close near 0.5.
    """

    n_baseline: float
    n_canary: float
    u: float
    z: float
    p_value: float
    prob_slower: float
    prob_slower_upper: float
    method: str = "mann-whitney u on histogram buckets (tie-corrected, one-sided: canary slower)"


def rank_test(
    baseline: Sequence[tuple[float, float]],
    canary: Sequence[tuple[float, float]],
    alpha: float = 0.05,
) -> RankTest | None:
    """Mann-Whitney U from per-bucket counts (upper bound, count); None without observations.

    Versions with different bucket layouts are compared on the bounds they share (merging
    buckets only adds ties, which the variance accounts for).
    """
    a, b = _aligned(baseline, canary)
    n_a, n_c = sum(a), sum(b)
    if n_a <= 0 or n_c <= 0:
        return None
    u = 0.0
    below = 0.0  # baseline requests in faster buckets
    tie_term = 0.0
    for count_a, count_c in zip(a, b, strict=True):
        u += count_c * (below + count_a / 2.0)
        below += count_a
        t = count_a + count_c
        tie_term += t**3 - t
    n = n_a + n_c
    mean = n_a * n_c / 2.0
    variance = n_a * n_c / 12.0 * ((n + 1.0) - (tie_term / (n * (n - 1.0)) if n > 1 else 0.0))
    sd = math.sqrt(max(variance, 0.0))
    ps = u / (n_a * n_c)
    if sd == 0.0:  # every request in one bucket: the histogram cannot tell them apart
        return RankTest(n_a, n_c, u, 0.0, 1.0, ps, ps)
    z = (u - mean - 0.5) / sd
    z_alpha = _STD_NORMAL.inv_cdf(1.0 - alpha)
    upper = min(1.0, ps + z_alpha * sd / (n_a * n_c))
    return RankTest(n_a, n_c, u, z, upper_tail(z), ps, upper)


def _aligned(
    baseline: Sequence[tuple[float, float]], canary: Sequence[tuple[float, float]]
) -> tuple[list[float], list[float]]:
    """Both versions' per-bucket counts on the bounds they share (+Inf always shared)."""
    shared = sorted(({le for le, _ in baseline} & {le for le, _ in canary}) | {math.inf})

    def regroup(buckets: Sequence[tuple[float, float]]) -> list[float]:
        out = [0.0] * len(shared)
        i = 0
        for le, count in sorted(buckets):
            while shared[i] < le:
                i += 1
            out[i] += count
        return out

    return regroup(baseline), regroup(canary)
