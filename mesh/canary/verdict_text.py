"""The verdict in plain words: a headline and one sentence per reason, as a reviewer says them.

Pure: reads a CanaryAnalysis. The gates' own reasons keep the statistics (intervals, p-values);
pages show these sentences first and the statistics one click away, and the report puts the
statistics in its appendix.
"""

from __future__ import annotations

from mesh.canary.gates import GateKind, GateResult, GateStatus
from mesh.canary.verdict import CanaryAnalysis, Verdict
from mesh.canary.wording import ms, pct_pair

LABELS: dict[str, str] = {
    Verdict.PROMOTE: "Promote",
    Verdict.CONTINUE: "Continue",
    Verdict.HOLD: "Hold",
    Verdict.ROLLBACK: "Roll back",
    Verdict.INSUFFICIENT_TRAFFIC: "Not enough traffic yet",
    Verdict.NOTHING_TO_JUDGE: "Nothing to judge",
}


def _fails(rate: float | None, other: float | None = None) -> tuple[str, str]:
    a, b = pct_pair(rate or 0.0, other if other is not None else (rate or 0.0))
    return a.replace("%", " %"), b.replace("%", " %")


def sentence(a: CanaryAnalysis, g: GateResult) -> str | None:
    """One gate as a sentence; None for a gate with nothing to say (passed comparisons are
    summed up by the promote sentence)."""
    b, c, cfg = a.baseline, a.canary, a.config
    if g.kind is GateKind.TRAFFIC:
        figures = c if g.name == "traffic" else b
        role = "canary" if g.name == "traffic" else "baseline"
        if g.status is GateStatus.FAIL:
            return (
                f"The {role} {figures.version} served {round(figures.requests):d} requests in the "
                f"window; at least {cfg.min_requests} are needed to judge it."
            )
        return None
    if g.name == "success" and g.status is GateStatus.FAIL:
        got, limit = _fails(c.error_rate, 1.0 - cfg.min_success_rate)
        return f"{c.version} fails {got} of requests; at most {limit} is allowed."
    if g.name == "latency" and g.status is GateStatus.FAIL:
        return f"{c.version} answers 1 request in 100 slower than {ms(c.p99_ms)}; the limit is {ms(cfg.max_p99_ms)}."
    if g.name == "latency" and g.status is GateStatus.NO_DATA:
        return f"No request-duration histogram for {c.version}: its p99 cannot be checked yet."
    if g.name == "errors vs baseline":
        got, base = _fails(c.error_rate, b.error_rate)
        if g.status is GateStatus.FAIL:
            return f"{c.version} fails {got} of requests against {base} for {b.version}."
        if g.status is GateStatus.INCONCLUSIVE:
            return (
                f"Too early to tell whether {c.version} fails more often than {b.version} "
                f"({got} against {base})."
            )
        if g.status is GateStatus.NOT_JUDGED:
            return f"Error rates of {c.version} and {b.version} were not compared (not judged)."
    if g.name == "latency vs baseline":
        p50 = f"median {ms(c.p50_ms)} against {ms(b.p50_ms)}"
        if g.status is GateStatus.FAIL:
            return f"{c.version} is slower than {b.version}: {p50}."
        if g.status is GateStatus.INCONCLUSIVE:
            return f"Too early to tell whether {c.version} is slower than {b.version} ({p50})."
        if g.status is GateStatus.NOT_JUDGED:
            return f"Latency of {c.version} and {b.version} was not compared (not judged)."
    return None


def slo_only(a: CanaryAnalysis) -> bool:
    """True when the traffic gates passed but no comparison with the baseline could be made."""
    comparisons = [g for g in a.gates if g.kind is GateKind.COMPARISON]
    return bool(comparisons) and all(g.status is GateStatus.NOT_JUDGED for g in comparisons)


def sentences(a: CanaryAnalysis) -> tuple[str, ...]:
    """The reasons of the verdict in plain words, the decisive ones first."""
    if a.verdict is Verdict.NOTHING_TO_JUDGE:
        return a.reasons
    decisive = {
        Verdict.INSUFFICIENT_TRAFFIC: (GateKind.TRAFFIC,),
        Verdict.ROLLBACK: (GateKind.SLO,),
        Verdict.HOLD: (GateKind.COMPARISON,),
    }.get(a.verdict)
    out: list[str] = []
    for g in a.gates:
        if decisive is not None and g.kind not in decisive:
            continue
        if a.verdict is Verdict.HOLD and g.status is not GateStatus.FAIL:
            continue
        text = sentence(a, g)
        if text:
            out.append(text)
    if a.verdict is Verdict.PROMOTE:
        out.insert(0, _promote_sentence(a))
    if a.withheld:
        out.insert(0, a.withheld)
    return tuple(out)


def _promote_sentence(a: CanaryAnalysis) -> str:
    c, b = a.canary, a.baseline
    got, base = _fails(c.error_rate, b.error_rate)
    line = (
        f"{c.version} meets its SLOs (fails {got} of requests, 99 % answered within {ms(c.p99_ms)})"
    )
    shown, skipped = [], []
    for g in a.gates:
        if g.name == "errors vs baseline":
            target = shown if g.status is GateStatus.PASS else skipped
            target.append(f"fails no more often than {b.version} ({got} against {base})")
        elif g.name == "latency vs baseline":
            target = shown if g.status is GateStatus.PASS else skipped
            target.append(
                f"is not slower than {b.version} (median {ms(c.p50_ms)} against {ms(b.p50_ms)})"
                if g.status is GateStatus.PASS
                else f"latency against {b.version}"
            )
    if shown:
        line += ", " + " and ".join(shown)
    if any(g.name == "errors vs baseline" and g.status is not GateStatus.PASS for g in a.gates):
        skipped = [s if s.startswith("latency") else f"errors against {b.version}" for s in skipped]
    if skipped:
        line += "; not judged: " + ", ".join(skipped)
    return line + "."


def headline(a: CanaryAnalysis) -> str:
    """The verdict and its first reason in one line, e.g. "Hold: v2 fails 2.1 % of requests
    against 0.3 % for v1." A verdict resting on the SLO gates alone says so."""
    lines = sentences(a)
    label = LABELS.get(a.verdict, a.verdict.value)
    if a.verdict is Verdict.NOTHING_TO_JUDGE:  # the state sentence says it all
        return lines[0] if lines else label
    if slo_only(a) and a.verdict in (Verdict.PROMOTE, Verdict.CONTINUE):
        label += " on SLO gates alone"
    if not lines:
        return label
    first = lines[0]
    if first.startswith(("The ", "Too ", "No ")):  # a sentence's capital, not a name's
        first = first[0].lower() + first[1:]
    return f"{label}: {first}"
