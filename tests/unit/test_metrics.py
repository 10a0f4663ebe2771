"""histogram_quantile against answers worked out by hand from PromQL's bucketQuantile rules."""

from __future__ import annotations

import math

import pytest

from mesh.quantiles import ISTIO_BUCKETS_MS, cumulative_buckets, histogram_quantile

INF = math.inf
SIMPLE = [(1.0, 10.0), (5.0, 30.0), (INF, 40.0)]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.5, 3.0),  # rank 20 in (1, 5]: 1 + 4 * (20 - 10) / 20
        (0.1, 0.4),  # first bucket starts at 0: 0 + 1 * 4 / 10
        (0.0, 0.0),  # rank 0 lands in the first bucket at its start
        (0.25, 1.0),  # rank 10 is exactly the first bucket's count: its upper bound
        (0.75, 5.0),  # rank 30 is exactly the second bucket's count
        (0.95, 5.0),  # rank 38 falls in +Inf: the highest finite bound
        (1.0, 5.0),
    ],
)
def test_interpolation_in_the_bucket(q, expected):
    assert histogram_quantile(q, SIMPLE) == pytest.approx(expected)


def test_out_of_range_quantiles_are_infinite_as_in_promql():
    assert histogram_quantile(-0.1, SIMPLE) == -INF
    assert histogram_quantile(1.5, SIMPLE) == INF
    assert histogram_quantile(math.nan, SIMPLE) is None


@pytest.mark.parametrize(
    "buckets",
    [
        [],  # no series at all
        [(1.0, 0.0), (5.0, 0.0), (INF, 0.0)],  # no observation in the window
        [(1.0, 3.0), (5.0, 4.0)],  # no +Inf bucket
        [(INF, 9.0)],  # only +Inf: fewer than two buckets
    ],
)
def test_nan_cases_are_none(buckets):
    assert histogram_quantile(0.5, buckets) is None


def test_unsorted_duplicate_and_non_monotonic_buckets_are_cleaned_like_prometheus():
    # Buckets arrive unordered; two series with le="1" add up; a lower cumulative count after a
    # higher one (a scrape race) is raised to stay monotonic.
    buckets = [(INF, 20.0), (1.0, 5.0), (5.0, 8.0), (1.0, 5.0)]
    # merged: 1 -> 10, 5 -> 8 (raised to 10), +Inf -> 20; rank 10 is the first bucket's count.
    assert histogram_quantile(0.5, buckets) == pytest.approx(1.0)
    # rank 15 lies beyond the last finite bucket: the highest finite bound.
    assert histogram_quantile(0.75, buckets) == pytest.approx(5.0)


def test_empty_bucket_in_the_middle():
    buckets = [(1.0, 10.0), (5.0, 10.0), (10.0, 20.0), (INF, 20.0)]
    # rank 15 skips the empty (1, 5] bucket and interpolates in (5, 10]: 5 + 5 * 5 / 10.
    assert histogram_quantile(0.75, buckets) == pytest.approx(7.5)


def test_non_positive_lowest_bound_is_returned_as_is():
    assert histogram_quantile(0.1, [(-1.0, 5.0), (1.0, 10.0), (INF, 10.0)]) == -1.0


def test_istio_buckets_p50_p95_p99():
    # 100 requests: 50 in (10, 25] ms, 45 in (25, 50], 5 in (50, 100].
    per_bucket = [0.0] * (len(ISTIO_BUCKETS_MS) + 1)
    per_bucket[ISTIO_BUCKETS_MS.index(25)] = 50
    per_bucket[ISTIO_BUCKETS_MS.index(50)] = 45
    per_bucket[ISTIO_BUCKETS_MS.index(100)] = 5
    buckets = cumulative_buckets(ISTIO_BUCKETS_MS, per_bucket)
    assert buckets[-1] == (INF, 100.0)
    assert histogram_quantile(0.5, buckets) == pytest.approx(25.0)
    assert histogram_quantile(0.95, buckets) == pytest.approx(50.0)
    assert histogram_quantile(0.99, buckets) == pytest.approx(90.0)  # 50 + 50 * 4 / 5


def test_scaling_counts_does_not_change_quantiles():
    # Rates are counts divided by the window: quantiles of rates equal quantiles of counts.
    rates = [(b, c / 300.0) for b, c in SIMPLE]
    assert histogram_quantile(0.5, rates) == pytest.approx(3.0)


def test_cumulative_buckets():
    assert cumulative_buckets((1.0, 5.0), (2.0, 3.0, 4.0)) == [(1.0, 2.0), (5.0, 5.0), (INF, 9.0)]
    with pytest.raises(ValueError):
        cumulative_buckets((1.0, 5.0), (2.0, 3.0))
