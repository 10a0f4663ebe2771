"""Canary analysis: is the canary at least as good as the baseline, and may it take all traffic?

Pure: takes per-version request counts by outcome and request-duration histogram bucket counts
for one service over one window (the increase of Istio's counters), and returns figures, two
statistical comparisons, SLO gates and a verdict. Collectors and the demo produce the inputs.

Decision table (first matching row wins; each gate adds a one-line reason naming it):

| row | condition                                                           | verdict              |
|-----|---------------------------------------------------------------------|----------------------|
| 1   | traffic gate: canary or baseline served fewer than `min_requests`   | insufficient_traffic |
| 2   | an SLO gate (success, latency) failed on the canary                 | rollback             |
| 3   | a comparison (errors, latency) found the canary significantly worse | hold                 |
|     | than the baseline, yet within its SLOs                              |                      |
| 4   | an SLO gate has no data, or a comparison is inconclusive: neither   | continue             |
|     | worse nor shown to be no worse                                      |                      |
| 5   | otherwise: enough traffic, SLOs met, shown no worse than baseline   | promote              |

Below the minimum sample on either side nothing is judged, so missing evidence never passes by
default (Flagger halts an analysis whose query returns nothing; so does this). A comparison that
cannot be made for want of a histogram is "not_judged" and does not block; the headline then
says the verdict rests on the SLO gates alone. A release that is not running (the canary has no
weight, or all of it) is not judged at all: views/canary.py sets NOTHING_TO_JUDGE with the state.

The comparisons (see ProportionTest and RankTest for the tests and why):
- errors vs baseline: FAIL when the canary's error rate is higher and the pooled two-proportion
  z test gives p < alpha; PASS when the upper end of the Newcombe 95% interval of the increase
  is at most `max_error_increase` (non-inferiority); otherwise INCONCLUSIVE.
- latency vs baseline: FAIL when the one-sided Mann-Whitney p < alpha and P(canary slower) is
  at least `slower_effect`; PASS when the upper confidence bound of P(canary slower) is below
  `slower_effect`; otherwise INCONCLUSIVE.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from statistics import NormalDist
from typing import Any

from mesh.errors import BadRequest
from mesh.quantiles import histogram_quantile

_STD_NORMAL = NormalDist()


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CanaryConfig:
    """Gates and test settings for one service. Defaults follow Flagger (success >= 99%,
    p99 <= 500 ms); the statistical margins are meshdash's own.

    max_error_increase: the canary is "shown no worse" on errors when the upper end of the 95%
        interval of (canary error rate - baseline error rate) is at most this (a fraction: 0.01
        is one percentage point).
    slower_effect: probability of superiority from which "slower" matters. 0.56 is Vargha and
        Delaney's "small" effect: a random canary request is slower than a random baseline
        request 56% of the time (ties counted half). Below it, even a significant difference
        is too small to hold a release for; with 10^5 requests almost any shift is significant.
    """

    min_requests: int = 100
    min_success_rate: float = 0.99
    max_p99_ms: float = 500.0
    alpha: float = 0.05
    max_error_increase: float = 0.01
    slower_effect: float = 0.56

    def __post_init__(self) -> None:
        checks = (
            ("min_requests", self.min_requests >= 1, "at least 1"),
            ("min_success_rate", 0.0 <= self.min_success_rate <= 1.0, "between 0 and 1"),
            ("max_p99_ms", 0.0 < self.max_p99_ms < math.inf, "a positive number of ms"),
            ("alpha", 0.0 < self.alpha < 0.5, "between 0 and 0.5"),
            ("max_error_increase", 0.0 <= self.max_error_increase <= 1.0, "between 0 and 1"),
            ("slower_effect", 0.5 < self.slower_effect < 1.0, "between 0.5 and 1"),
        )
        for name, ok, rule in checks:
            if not ok:
                raise BadRequest(f"{name} must be {rule}; got {getattr(self, name)!r}", field=name)

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, Any], base: CanaryConfig | None = None
    ) -> CanaryConfig:
        """Per-service overrides (from settings or query parameters) on top of `base`."""
        start = asdict(base or cls())
        unknown = sorted(set(values) - set(start))
        if unknown:
            raise BadRequest(f"unknown canary setting(s): {', '.join(unknown)}", field=unknown[0])
        merged: dict[str, Any] = dict(start)
        for name, raw in values.items():
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise BadRequest(f"{name} must be a number; got {raw!r}", field=name) from None
            if not math.isfinite(value):
                raise BadRequest(f"{name} must be a finite number; got {raw!r}", field=name)
            if name == "min_requests":
                if value != int(value):
                    raise BadRequest(f"min_requests must be whole; got {raw!r}", field=name)
                value = int(value)
            merged[name] = value
        return cls(**merged)


# --------------------------------------------------------------------------------------------
# Per-version figures
# --------------------------------------------------------------------------------------------


def is_server_error(response_code: str, grpc_status: str) -> bool:
    """DESIGN.md: HTTP 5xx or 0 (no response), or a gRPC status 1-16 even under HTTP 200."""
    if grpc_status.isdigit() and 1 <= int(grpc_status) <= 16:
        return True
    return response_code == "0" or (len(response_code) == 3 and response_code.startswith("5"))


def is_client_error(response_code: str) -> bool:
    """4xx: counted apart and not against the canary (as Flagger's request-success-rate)."""
    return len(response_code) == 3 and response_code.startswith("4")


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
        if is_server_error(o.response_code, o.grpc_status):
            errors += o.count
        elif is_client_error(o.response_code):
            client += o.count
    cumulative = [(b.le, b.count) for b in telemetry.buckets if b.version == version]
    quantiles = [histogram_quantile(q, cumulative) for q in (0.5, 0.95, 0.99)]
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


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Gates and verdict
# --------------------------------------------------------------------------------------------


class Verdict(StrEnum):
    PROMOTE = "promote"
    CONTINUE = "continue"
    HOLD = "hold"
    ROLLBACK = "rollback"
    INSUFFICIENT_TRAFFIC = "insufficient_traffic"
    NOTHING_TO_JUDGE = "nothing_to_judge"  # no release in progress: rolled back, taken over


class GateStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NO_DATA = "no_data"
    INCONCLUSIVE = "inconclusive"  # comparisons only: neither worse nor shown no worse
    NOT_JUDGED = "not_judged"  # below the minimum sample, or a comparison that cannot be made


class GateKind(StrEnum):
    TRAFFIC = "traffic"
    SLO = "slo"
    COMPARISON = "comparison"


@dataclass(frozen=True, slots=True)
class GateResult:
    name: str  # "traffic", "success", "latency", "errors vs baseline", "latency vs baseline"
    kind: GateKind
    status: GateStatus
    observed: float | None
    threshold: float | None
    reason: str  # one line, naming the gate


@dataclass(frozen=True, slots=True)
class CanaryAnalysis:
    config: CanaryConfig
    baseline: VersionFigures
    canary: VersionFigures
    errors: ProportionTest
    latency: RankTest | None
    gates: tuple[GateResult, ...]
    verdict: Verdict
    reasons: tuple[str, ...] = field(default=())
    withheld: str = ""  # why a promote was not given (the evidence could not be placed)


def analyze(
    baseline: VersionFigures, canary: VersionFigures, config: CanaryConfig | None = None
) -> CanaryAnalysis:
    """Run the gates and apply the decision table in the module docstring."""
    cfg = config or CanaryConfig()
    errors = two_proportion_test(baseline.errors, baseline.requests, canary.errors, canary.requests)
    latency = rank_test(baseline.buckets, canary.buckets, cfg.alpha)
    traffic = _traffic_gate(canary, cfg)
    baseline_traffic = _traffic_gate(baseline, cfg, role="baseline")
    gates = [traffic, baseline_traffic]
    if traffic.status is GateStatus.PASS and baseline_traffic.status is GateStatus.PASS:
        gates += [
            _success_gate(canary, cfg),
            _latency_gate(canary, cfg),
            _errors_comparison(baseline, errors, cfg),
            _latency_comparison(baseline, canary, latency, cfg),
        ]
    else:
        gates += _not_judged(canary, cfg, baseline)
    verdict, reasons = decide(gates)
    return CanaryAnalysis(cfg, baseline, canary, errors, latency, tuple(gates), verdict, reasons)


def analyze_telemetry(
    telemetry: CanaryTelemetry, config: CanaryConfig | None = None
) -> CanaryAnalysis:
    q = telemetry.query
    return analyze(
        version_figures(telemetry, q.baseline), version_figures(telemetry, q.canary), config
    )


def settled(analysis: CanaryAnalysis, state: str) -> CanaryAnalysis:
    """No release in progress (the canary has no weight, or all of it): the figures stay for
    reference, the verdict says what state the release is in and asks for nothing."""
    return replace(analysis, verdict=Verdict.NOTHING_TO_JUDGE, reasons=(state,))


def withhold_promote(analysis: CanaryAnalysis, why: str) -> CanaryAnalysis:
    """A promote the evidence cannot back (e.g. the split could not be read, so the window could
    not start at the last weight change) becomes continue, saying why; other verdicts stand."""
    if analysis.verdict is not Verdict.PROMOTE:
        return analysis
    return replace(
        analysis, verdict=Verdict.CONTINUE, reasons=(why, *analysis.reasons), withheld=why
    )


def decide(gates: Sequence[GateResult]) -> tuple[Verdict, tuple[str, ...]]:
    """The decision table: the verdict and the one-line reasons that led to it."""

    def lines(kinds: tuple[GateKind, ...], statuses: tuple[GateStatus, ...]) -> tuple[str, ...]:
        return tuple(g.reason for g in gates if g.kind in kinds and g.status in statuses)

    slo, cmp_ = (GateKind.SLO,), (GateKind.COMPARISON,)
    if reasons := lines((GateKind.TRAFFIC,), (GateStatus.FAIL,)):
        return Verdict.INSUFFICIENT_TRAFFIC, reasons
    if reasons := lines(slo, (GateStatus.FAIL,)):
        return Verdict.ROLLBACK, reasons
    if reasons := lines(cmp_, (GateStatus.FAIL,)):
        return Verdict.HOLD, reasons
    waiting = lines(slo, (GateStatus.NO_DATA,)) + lines(cmp_, (GateStatus.INCONCLUSIVE,))
    if waiting:
        return Verdict.CONTINUE, waiting
    return Verdict.PROMOTE, tuple(g.reason for g in gates)


def _traffic_gate(figures: VersionFigures, cfg: CanaryConfig, role: str = "canary") -> GateResult:
    """The minimum sample for one side ("canary": gate "traffic"; "baseline": "baseline
    traffic"): without it the comparison has no evidence and nothing is judged."""
    n = figures.requests
    name = "traffic" if role == "canary" else f"{role} traffic"
    if n < cfg.min_requests:
        reason = (
            f"{name} gate: not enough traffic yet: {role} {figures.version} served "
            f"{_count(n)} requests, at least {cfg.min_requests} needed"
        )
        status = GateStatus.FAIL
    else:
        reason = (
            f"{name} gate passed: {role} {figures.version} served {_count(n)} requests "
            f"≥ {cfg.min_requests}"
        )
        status = GateStatus.PASS
    return GateResult(name, GateKind.TRAFFIC, status, n, float(cfg.min_requests), reason)


def _success_gate(canary: VersionFigures, cfg: CanaryConfig) -> GateResult:
    rate = canary.success_rate
    assert rate is not None  # the traffic gate passed, so the canary has requests
    observed, limit = _pct_pair(rate, cfg.min_success_rate)
    if rate >= cfg.min_success_rate:
        status, line = GateStatus.PASS, f"success gate passed: canary {observed} ≥ {limit}"
    else:
        status, line = GateStatus.FAIL, f"success gate failed: canary {observed} < {limit}"
    return GateResult("success", GateKind.SLO, status, rate, cfg.min_success_rate, line)


def _latency_gate(canary: VersionFigures, cfg: CanaryConfig) -> GateResult:
    p99 = canary.p99_ms
    limit = _ms(cfg.max_p99_ms)
    if p99 is None:
        line = (
            f"latency gate has no data: no request-duration histogram for canary {canary.version}"
        )
        return GateResult("latency", GateKind.SLO, GateStatus.NO_DATA, None, cfg.max_p99_ms, line)
    if p99 <= cfg.max_p99_ms:
        status, line = GateStatus.PASS, f"latency gate passed: canary p99 {_ms(p99)} ≤ {limit}"
    else:
        status, line = GateStatus.FAIL, f"latency gate failed: canary p99 {_ms(p99)} > {limit}"
    return GateResult("latency", GateKind.SLO, status, p99, cfg.max_p99_ms, line)


def _errors_comparison(
    baseline: VersionFigures, test: ProportionTest, cfg: CanaryConfig
) -> GateResult:
    name = "errors vs baseline"
    if baseline.requests < cfg.min_requests or test.difference is None:
        line = (
            f"{name} not judged: baseline {baseline.version} served {_count(baseline.requests)} "
            f"requests (< {cfg.min_requests})"
        )
        return GateResult(
            name, GateKind.COMPARISON, GateStatus.NOT_JUDGED, None, cfg.max_error_increase, line
        )
    assert test.ci_high is not None and test.p_value is not None and test.ci_low is not None
    canary_pct, baseline_pct = _pct_pair(test.canary_rate or 0.0, test.baseline_rate or 0.0)
    rates = f"canary {canary_pct} vs baseline {baseline_pct} errors"
    ci = f"95% CI {_pts(test.ci_low)} to {_pts(test.ci_high)} pts, {_p(test.p_value)}"
    margin = _pts(cfg.max_error_increase)
    if test.difference > 0 and test.p_value < cfg.alpha:
        status, line = GateStatus.FAIL, f"{name} failed: canary significantly worse: {rates} ({ci})"
    elif test.ci_high <= cfg.max_error_increase:
        status = GateStatus.PASS
        line = f"{name} passed: {rates}; any increase is within the {margin}-pt margin ({ci})"
    else:
        status = GateStatus.INCONCLUSIVE
        line = f"{name} inconclusive: {rates}; cannot yet rule out an increase above {margin} pts ({ci})"
    return GateResult(
        name, GateKind.COMPARISON, status, test.difference, cfg.max_error_increase, line
    )


def _latency_comparison(
    baseline: VersionFigures, canary: VersionFigures, test: RankTest | None, cfg: CanaryConfig
) -> GateResult:
    name = "latency vs baseline"
    kind = GateKind.COMPARISON
    if canary.latency_count <= 0:
        line = f"{name} not judged: no request-duration histogram for canary {canary.version}"
        return GateResult(name, kind, GateStatus.NOT_JUDGED, None, cfg.slower_effect, line)
    if test is None or baseline.latency_count < cfg.min_requests:
        line = (
            f"{name} not judged: baseline {baseline.version} has "
            f"{_count(baseline.latency_count)} timed requests (< {cfg.min_requests})"
        )
        return GateResult(name, kind, GateStatus.NOT_JUDGED, None, cfg.slower_effect, line)
    ps = f"P(canary slower)={test.prob_slower:.3f}"
    stats = f"upper bound {test.prob_slower_upper:.3f}, {_p(test.p_value)}"
    p50s = f"p50 {_ms(canary.p50_ms)} vs {_ms(baseline.p50_ms)}"
    if test.p_value < cfg.alpha and test.prob_slower >= cfg.slower_effect:
        status = GateStatus.FAIL
        line = f"{name} failed: canary significantly slower: {ps} ≥ {cfg.slower_effect:.2f} ({p50s}, {stats})"
    elif test.prob_slower_upper < cfg.slower_effect:
        status = GateStatus.PASS
        line = f"{name} passed: {ps}, below {cfg.slower_effect:.2f} ({p50s}, {stats})"
    else:
        status = GateStatus.INCONCLUSIVE
        line = f"{name} inconclusive: {ps}; cannot yet rule out P(canary slower) ≥ {cfg.slower_effect:.2f} ({stats})"
    return GateResult(name, kind, status, test.prob_slower, cfg.slower_effect, line)


def _not_judged(
    canary: VersionFigures, cfg: CanaryConfig, baseline: VersionFigures
) -> list[GateResult]:
    """Below the minimum sample the figures are shown, but no gate is judged on them."""
    short = canary if canary.requests < cfg.min_requests else baseline
    role = "canary" if short is canary else "baseline"
    why = f"({role} {short.version}: {_count(short.requests)} requests, fewer than {cfg.min_requests})"
    success = canary.success_rate
    p99 = canary.p99_ms
    return [
        GateResult(
            "success",
            GateKind.SLO,
            GateStatus.NOT_JUDGED,
            success,
            cfg.min_success_rate,
            f"success gate not judged: canary {_pct(success)} {why}",
        ),
        GateResult(
            "latency",
            GateKind.SLO,
            GateStatus.NOT_JUDGED,
            p99,
            cfg.max_p99_ms,
            f"latency gate not judged: canary p99 {_ms(p99)} {why}",
        ),
    ]


# --------------------------------------------------------------------------------------------
# Formatting and JSON
# --------------------------------------------------------------------------------------------


def _count(n: float) -> str:
    return f"{round(n):d}"


def _pct(rate: float | None, decimals: int = 1) -> str:
    return "n/a" if rate is None else f"{rate * 100:.{decimals}f}%"


def _pct_pair(a: float, b: float) -> tuple[str, str]:
    """Both as percentages with enough decimals that different values never print the same."""
    for decimals in range(1, 5):
        sa, sb = _pct(a, decimals), _pct(b, decimals)
        if sa != sb or a == b:
            return sa, sb
    return _pct(a, 5), _pct(b, 5)


def _pts(fraction: float) -> str:
    return f"{fraction * 100:+.2f}"


def _ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f} ms" if value >= 10 else f"{value:.2f} ms"


def _p(p: float) -> str:
    return "p<0.0001" if p < 1e-4 else f"p={p:.4f}"


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _figures_json(f: VersionFigures) -> dict[str, Any]:
    return {
        "version": f.version,
        "requests": f.requests,
        "errors": f.errors,
        "client_errors": f.client_errors,
        "success_rate": f.success_rate,
        "error_rate": f.error_rate,
        "p50_ms": _finite(f.p50_ms),
        "p95_ms": _finite(f.p95_ms),
        "p99_ms": _finite(f.p99_ms),
        "latency_count": f.latency_count,
        # le as a string ("+Inf" for the last) keeps the JSON valid and matches Prometheus.
        "buckets": [{"le": _le(le), "count": c} for le, c in f.buckets],
    }


def _le(le: float) -> str:
    return "+Inf" if math.isinf(le) else f"{le:g}"


def analysis_json(analysis: CanaryAnalysis) -> dict[str, Any]:
    """The analysis as JSON-ready data (no NaN or Inf)."""
    errors = asdict(analysis.errors)
    latency = None if analysis.latency is None else asdict(analysis.latency)
    return {
        "verdict": analysis.verdict.value,
        "reasons": list(analysis.reasons),
        "withheld": analysis.withheld or None,
        "baseline": _figures_json(analysis.baseline),
        "canary": _figures_json(analysis.canary),
        "tests": {"errors": errors, "latency": latency},
        "gates": [
            {
                "name": g.name,
                "kind": g.kind.value,
                "status": g.status.value,
                "observed": _finite(g.observed),
                "threshold": _finite(g.threshold),
                "reason": g.reason,
            }
            for g in analysis.gates
        ],
        "config": asdict(analysis.config),
    }
