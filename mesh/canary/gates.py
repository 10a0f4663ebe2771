"""The gates of a canary analysis: minimum traffic, the SLOs, and the two comparisons with the
baseline. Each gate answers pass, fail, no data, inconclusive or not judged, with a one-line
reason naming it; mesh/canary/verdict.py decides from them.

The comparisons (see statistics.ProportionTest and statistics.RankTest for the tests and why):
- errors vs baseline: FAIL when the canary's error rate is higher and the pooled two-proportion
  z test gives p < alpha; PASS when the upper end of the Newcombe 95% interval of the increase
  is at most `max_error_increase` (non-inferiority); otherwise INCONCLUSIVE.
- latency vs baseline: FAIL when the one-sided Mann-Whitney p < alpha and P(canary slower) is
  at least `slower_effect`; PASS when the upper confidence bound of P(canary slower) is below
  `slower_effect`; otherwise INCONCLUSIVE.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mesh.canary.config import CanaryConfig
from mesh.canary.records import VersionFigures
from mesh.canary.statistics import ProportionTest, RankTest
from mesh.canary.wording import count, ms, p_value_text, pct, pct_pair, pts


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


def traffic_gate(figures: VersionFigures, cfg: CanaryConfig, role: str = "canary") -> GateResult:
    """The minimum sample for one side ("canary": gate "traffic"; "baseline": "baseline
    traffic"): without it the comparison has no evidence and nothing is judged."""
    n = figures.requests
    name = "traffic" if role == "canary" else f"{role} traffic"
    if n < cfg.min_requests:
        reason = (
            f"{name} gate: not enough traffic yet: {role} {figures.version} served "
            f"{count(n)} requests, at least {cfg.min_requests} needed"
        )
        status = GateStatus.FAIL
    else:
        reason = (
            f"{name} gate passed: {role} {figures.version} served {count(n)} requests "
            f"≥ {cfg.min_requests}"
        )
        status = GateStatus.PASS
    return GateResult(name, GateKind.TRAFFIC, status, n, float(cfg.min_requests), reason)


def success_gate(canary: VersionFigures, cfg: CanaryConfig) -> GateResult:
    rate = canary.success_rate
    assert rate is not None  # the traffic gate passed, so the canary has requests
    observed, limit = pct_pair(rate, cfg.min_success_rate)
    if rate >= cfg.min_success_rate:
        status, line = GateStatus.PASS, f"success gate passed: canary {observed} ≥ {limit}"
    else:
        status, line = GateStatus.FAIL, f"success gate failed: canary {observed} < {limit}"
    return GateResult("success", GateKind.SLO, status, rate, cfg.min_success_rate, line)


def latency_gate(canary: VersionFigures, cfg: CanaryConfig) -> GateResult:
    p99 = canary.p99_ms
    limit = ms(cfg.max_p99_ms)
    if p99 is None:
        line = (
            f"latency gate has no data: no request-duration histogram for canary {canary.version}"
        )
        return GateResult("latency", GateKind.SLO, GateStatus.NO_DATA, None, cfg.max_p99_ms, line)
    if p99 <= cfg.max_p99_ms:
        status, line = GateStatus.PASS, f"latency gate passed: canary p99 {ms(p99)} ≤ {limit}"
    else:
        status, line = GateStatus.FAIL, f"latency gate failed: canary p99 {ms(p99)} > {limit}"
    return GateResult("latency", GateKind.SLO, status, p99, cfg.max_p99_ms, line)


def errors_comparison(
    baseline: VersionFigures, test: ProportionTest, cfg: CanaryConfig
) -> GateResult:
    name = "errors vs baseline"
    if baseline.requests < cfg.min_requests or test.difference is None:
        line = (
            f"{name} not judged: baseline {baseline.version} served {count(baseline.requests)} "
            f"requests (< {cfg.min_requests})"
        )
        return GateResult(
            name, GateKind.COMPARISON, GateStatus.NOT_JUDGED, None, cfg.max_error_increase, line
        )
    assert test.ci_high is not None and test.p_value is not None and test.ci_low is not None
    canary_pct, baseline_pct = pct_pair(test.canary_rate or 0.0, test.baseline_rate or 0.0)
    rates = f"canary {canary_pct} vs baseline {baseline_pct} errors"
    ci = f"95% CI {pts(test.ci_low)} to {pts(test.ci_high)} pts, {p_value_text(test.p_value)}"
    margin = pts(cfg.max_error_increase)
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


def latency_comparison(
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
            f"{count(baseline.latency_count)} timed requests (< {cfg.min_requests})"
        )
        return GateResult(name, kind, GateStatus.NOT_JUDGED, None, cfg.slower_effect, line)
    ps = f"P(canary slower)={test.prob_slower:.3f}"
    stats = f"upper bound {test.prob_slower_upper:.3f}, {p_value_text(test.p_value)}"
    p50s = f"p50 {ms(canary.p50_ms)} vs {ms(baseline.p50_ms)}"
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


def not_judged_gates(
    canary: VersionFigures, cfg: CanaryConfig, baseline: VersionFigures
) -> list[GateResult]:
    """Below the minimum sample the figures are shown, but no gate is judged on them."""
    short = canary if canary.requests < cfg.min_requests else baseline
    role = "canary" if short is canary else "baseline"
    why = (
        f"({role} {short.version}: {count(short.requests)} requests, fewer than {cfg.min_requests})"
    )
    success = canary.success_rate
    p99 = canary.p99_ms
    return [
        GateResult(
            "success",
            GateKind.SLO,
            GateStatus.NOT_JUDGED,
            success,
            cfg.min_success_rate,
            f"success gate not judged: canary {pct(success)} {why}",
        ),
        GateResult(
            "latency",
            GateKind.SLO,
            GateStatus.NOT_JUDGED,
            p99,
            cfg.max_p99_ms,
            f"latency gate not judged: canary p99 {ms(p99)} {why}",
        ),
    ]
