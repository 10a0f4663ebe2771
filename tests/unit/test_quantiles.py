"""Many histograms' quantiles at once, exactly as one at a time (which tests/unit/test_metrics.py
and tests/integration check against PromQL)."""

from __future__ import annotations

import math
import random

from mesh.quantiles import ISTIO_BUCKETS_MS, histogram_quantiles, many_histogram_quantiles


def test_many_histograms_at_once_equal_one_by_one_to_the_last_bit():
    """many_histogram_quantiles (numpy, per shared bounds) is histogram_quantiles, exactly,
    including the histograms it hands back to it: repeated or missing bounds, no +Inf, NaN,
    counts that fall, none observed, a single bucket, no bucket."""
    rng = random.Random(16)
    bounds = (*ISTIO_BUCKETS_MS, math.inf)
    histograms = []
    for _ in range(3000):
        kind = rng.random()
        running, buckets = 0.0, []
        for upper in bounds:
            if kind < 0.1:
                step = 0.0
            elif kind < 0.2:
                step = rng.choice([0.0, 0.0, 1e-9, 3.0])
            else:
                step = rng.random() * rng.choice([0.0, 1.0, 1e6])
            running += step
            buckets.append((upper, running))
        mutation = rng.random()
        if mutation < 0.05:
            buckets[rng.randrange(len(buckets))] = (buckets[0][0], rng.random())  # repeated
        elif mutation < 0.10:
            buckets[3] = (buckets[3][0], buckets[3][1] - 5)  # falls
        elif mutation < 0.12:
            buckets[2] = (buckets[2][0], math.nan)
        elif mutation < 0.14:
            buckets = buckets[:1]
        elif mutation < 0.16:
            buckets = []
        elif mutation < 0.18:
            buckets = buckets[:-1]  # no +Inf
        elif mutation < 0.20:
            buckets = [(0.0, 0.5), *buckets]  # a bucket at 0
        rng.shuffle(buckets)
        histograms.append(buckets)

    def same(a, b):
        return all(x == y or (x is None and y is None) for x, y in zip(a, b, strict=True))

    for qs in [(0.5, 0.95, 0.99), (0.25, 1.0), (-1.0, 2.0, math.nan)]:
        many = many_histogram_quantiles(qs, histograms)
        one_by_one = [histogram_quantiles(qs, h) for h in histograms]
        assert [same(a, b) for a, b in zip(many, one_by_one, strict=True)] == [True] * len(many)
    assert (
        sum(v is not None for row in many_histogram_quantiles((0.5,), histograms) for v in row)
        > 2000
    )
