"""Where time goes by version: per-service self time in requests served by the baseline vs the
canary, from traces.

Pure. A trace belongs to the version whose Envoy SERVER span for the reviewed service it holds
(the client span beside it says who called, not who answered), or in ambient mode the span of
the waypoint that served it (analysis.waypoint_target: one span per hop); a trace that reached two
versions of the service, or none of the compared ones, is left out. Each kept trace goes
through mesh.traces.analysis.analyze (the same adjusters, tree and self-time rule as the trace page),
and every service's self time is averaged over the version's traces: "a request served by v3
spends 180 ms in reviews and 2 ms in ratings, against 8 ms and nothing for v1".

Like with like: a tail-sampling collector keeps slow and failing traces more often, and what is
"slow" differs by version (a version calling one more service is slow more often), so averaging
every kept trace shows version effects that are not real. When the traces say how they were
sampled (`sampler.type` on the root span, as head samplers tag them), only the randomly sampled
ones are compared; otherwise the figures are marked as a biased sample. Each service's per-trace
self times are compared with a Mann-Whitney test; a difference is claimed only with at least
MIN_TRACES traces per version, p < ALPHA after a Bonferroni correction for the number of
services compared, and a median gap of at least MIN_GAP_MS and MIN_RATIO.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mesh.canary.statistics import upper_tail
from mesh.traces.analysis import (
    analyze,
    canonical_trace_id,
    istio_info,
    split_service,
    waypoint_target,
)
from mesh.traces.records import Span, Trace, indexed_tags

SAMPLER_TAG = "sampler.type"
RANDOM_SAMPLERS = frozenset({"probabilistic", "ratelimiting", "const", "lowerbound"})
MIN_TRACES = 15
ALPHA = 0.05
MIN_GAP_MS = 1.0
MIN_RATIO = 0.2


@dataclass(frozen=True, slots=True)
class ServiceShare:
    service: str  # "reviews", or "istio-ingressgateway.istio-system" outside the namespace
    self_ms: float  # mean self time per trace of the version
    spans: float  # mean spans per trace


@dataclass(frozen=True, slots=True)
class VersionTime:
    version: str
    traces: int
    duration_ms: float  # mean whole-trace duration
    served_ms: float  # mean duration of the reviewed service's server span
    services: tuple[ServiceShare, ...]  # most self time first
    # service -> self time (ms) in each trace, 0 where the trace did not reach it
    samples: dict[str, tuple[float, ...]] = field(default_factory=dict)
    left_out: int = 0  # traces kept by a biased rule (slow, failing), not compared
    random_only: bool = False  # the traces told how they were sampled: random ones only


def sampler(trace: Trace) -> str | None:
    """How the trace was sampled, from `sampler.type` (a head sampler tags the root span; the
    root first, then any span); None when the trace does not say."""
    ordered = sorted(trace.spans, key=lambda s: bool(s.references))
    for span in ordered:
        for tag in indexed_tags(span):
            if tag.key == SAMPLER_TAG:
                return str(tag.value)
    return None


def _answers(span: Span) -> bool:
    """The Envoy span that stands for the destination's answer: a sidecar's SERVER span, or in
    ambient mode the destination's waypoint's span (the one span of that hop, whatever kind
    it carries)."""
    return span.kind == "server" or waypoint_target(span) is not None


def server_version(trace: Trace, namespace: str, service: str) -> str | None:
    """The version of `service` that answered in this trace; None when none or several did."""
    found: set[str] = set()
    for span in trace.spans:
        if not _answers(span):
            continue
        info = istio_info(span)
        if info is None or info.app != service or (info.namespace and info.namespace != namespace):
            continue
        if info.version:
            found.add(info.version)
    return found.pop() if len(found) == 1 else None


def _served_us(trace: Trace, namespace: str, service: str) -> int:
    """The longest server span of the service: its answer time in this request."""
    best = 0
    for span in trace.spans:
        info = istio_info(span) if _answers(span) else None
        if info is not None and info.app == service and info.namespace in ("", namespace):
            best = max(best, span.duration_us)
    return best


def short_service(name: str, namespace: str) -> str:
    """`reviews` for reviews.bookinfo in bookinfo; other namespaces keep their suffix."""
    app, ns = split_service(name)
    return app if ns == namespace else name


def time_by_version(
    traces: Iterable[Trace], namespace: str, service: str, versions: Sequence[str]
) -> tuple[VersionTime, ...]:
    """One VersionTime per requested version (in that order), from the traces it served."""
    wanted = list(dict.fromkeys(versions))
    seen: set[str] = set()
    self_us: dict[str, dict[str, int]] = {v: defaultdict(int) for v in wanted}
    spans: dict[str, dict[str, int]] = {v: defaultdict(int) for v in wanted}
    count = dict.fromkeys(wanted, 0)
    duration = dict.fromkeys(wanted, 0)
    served = dict.fromkeys(wanted, 0)
    per_trace: dict[str, list[dict[str, int]]] = {v: [] for v in wanted}
    left_out = dict.fromkeys(wanted, 0)
    mine: list[tuple[str, Trace]] = []
    for trace in traces:
        tid = canonical_trace_id(trace.trace_id)
        if tid in seen:
            continue
        seen.add(tid)
        version = server_version(trace, namespace, service)
        if version in count:
            mine.append((version, trace))
    told = any(sampler(t) is not None for _, t in mine)
    for version, trace in mine:
        if told and sampler(trace) not in RANDOM_SAMPLERS:
            left_out[version] += 1
            continue
        a = analyze(trace)
        count[version] += 1
        duration[version] += a.duration_us
        served[version] += _served_us(a.trace, namespace, service)
        row: dict[str, int] = defaultdict(int)
        for st in a.services:
            name = short_service(st.service, namespace)
            self_us[version][name] += st.self_us
            spans[version][name] += st.spans
            row[name] += st.self_us
        per_trace[version].append(row)
    out = []
    for v in wanted:
        n = count[v]
        shares = tuple(
            sorted(
                (
                    ServiceShare(name, us / n / 1000.0, spans[v][name] / n)
                    for name, us in self_us[v].items()
                ),
                key=lambda s: (-s.self_ms, s.service),
            )
        )
        out.append(
            VersionTime(
                version=v,
                traces=n,
                duration_ms=duration[v] / n / 1000.0 if n else 0.0,
                served_ms=served[v] / n / 1000.0 if n else 0.0,
                services=shares,
                samples={
                    name: tuple(r.get(name, 0) / 1000.0 for r in per_trace[v])
                    for name in self_us[v]
                },
                left_out=left_out[v],
                random_only=told,
            )
        )
    return tuple(out)


def rank_sum_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Mann-Whitney p-value (normal approximation, tie-corrected): do the two sets of
    per-trace self times come from one distribution?"""
    n_a, n_b = len(a), len(b)
    if not n_a or not n_b:
        return 1.0
    pooled = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks_a = 0.0
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j < len(pooled) and pooled[j][0] == pooled[i][0]:
            j += 1
        rank = (i + 1 + j) / 2.0
        ranks_a += rank * sum(1 for k in range(i, j) if pooled[k][1] == 0)
        t = j - i
        ties += t**3 - t
        i = j
    u = ranks_a - n_a * (n_a + 1) / 2.0
    n = n_a + n_b
    var = n_a * n_b / 12.0 * ((n + 1) - ties / (n * (n - 1)) if n > 1 else 0.0)
    if var <= 0:
        return 1.0
    z = (abs(u - n_a * n_b / 2.0) - 0.5) / math.sqrt(var)
    return min(1.0, 2.0 * upper_tail(max(z, 0.0)))


def compare(base: VersionTime, canary: VersionTime) -> list[dict[str, Any]]:
    """Per service: the median self time on each side and what the traces support saying."""
    names = sorted(set(base.samples) | set(canary.samples))
    enough = base.traces >= MIN_TRACES and canary.traces >= MIN_TRACES
    out = []
    for name in names:
        a = base.samples.get(name) or (0.0,) * base.traces
        b = canary.samples.get(name) or (0.0,) * canary.traces
        med_a = statistics.median(a) if a else None
        med_b = statistics.median(b) if b else None
        row: dict[str, Any] = {
            "service": name,
            "baseline_ms": med_a,
            "canary_ms": med_b,
            "p_value": None,
        }
        if not enough or med_a is None or med_b is None:
            row["finding"] = "not enough traces"
        else:
            p = min(1.0, rank_sum_p(a, b) * len(names))  # Bonferroni over the services
            gap = med_b - med_a
            big = abs(gap) >= MIN_GAP_MS and abs(gap) >= MIN_RATIO * max(med_a, med_b)
            row["p_value"] = p
            row["finding"] = (
                ("slower" if gap > 0 else "faster") if p < ALPHA and big else "no clear difference"
            )
        out.append(row)
    return out


def version_time_json(rows: Sequence[VersionTime]) -> dict[str, Any]:
    """JSON-ready, with the union of services in a stable order (most self time overall first);
    with two versions, the per-service comparison (baseline first, canary second)."""
    totals: dict[str, float] = defaultdict(float)
    for r in rows:
        for s in r.services:
            totals[s.service] += s.self_ms
    order = sorted(totals, key=lambda name: (-totals[name], name))
    return {
        "services": order,
        "versions": [
            {
                "version": r.version,
                "traces": r.traces,
                "duration_ms": r.duration_ms,
                "served_ms": r.served_ms,
                "self_ms": {s.service: s.self_ms for s in r.services},
                "median_ms": {name: statistics.median(v) for name, v in r.samples.items() if v},
                "spans": {s.service: s.spans for s in r.services},
                "left_out": r.left_out,
            }
            for r in rows
        ],
        "sampling": (
            "randomly sampled traces only"
            if any(r.random_only for r in rows)
            else "every kept trace (how they were sampled is not told: may be biased)"
        ),
        "min_traces": MIN_TRACES,
        "comparison": compare(rows[0], rows[1]) if len(rows) == 2 else [],
    }
