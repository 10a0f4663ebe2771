"""Canary verdict: is the canary at least as good as the baseline, and may it take all traffic?

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
weight, or all of it) is not judged at all: usecases/canary_verdict.py sets NOTHING_TO_JUDGE with the state.

The gates and the comparisons' rules are in mesh/canary/gates.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from mesh.canary.config import CanaryConfig
from mesh.canary.gates import (
    GateKind,
    GateResult,
    GateStatus,
    errors_comparison,
    latency_comparison,
    latency_gate,
    not_judged_gates,
    success_gate,
    traffic_gate,
)
from mesh.canary.records import CanaryTelemetry, VersionFigures, version_figures
from mesh.canary.statistics import ProportionTest, RankTest, rank_test, two_proportion_test


class Verdict(StrEnum):
    PROMOTE = "promote"
    CONTINUE = "continue"
    HOLD = "hold"
    ROLLBACK = "rollback"
    INSUFFICIENT_TRAFFIC = "insufficient_traffic"
    NOTHING_TO_JUDGE = "nothing_to_judge"  # no release in progress: rolled back, taken over


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
    traffic = traffic_gate(canary, cfg)
    baseline_traffic = traffic_gate(baseline, cfg, role="baseline")
    gates = [traffic, baseline_traffic]
    if traffic.status is GateStatus.PASS and baseline_traffic.status is GateStatus.PASS:
        gates += [
            success_gate(canary, cfg),
            latency_gate(canary, cfg),
            errors_comparison(baseline, errors, cfg),
            latency_comparison(baseline, canary, latency, cfg),
        ]
    else:
        gates += not_judged_gates(canary, cfg, baseline)
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
