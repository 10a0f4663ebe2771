"""Where time goes by version: per-service self time in requests served by the baseline vs the
canary, from traces.

Pure. A trace belongs to the version whose Envoy SERVER span for the reviewed service it holds
(the client span beside it says who called, not who answered); a trace that reached two
versions of the service, or none of the compared ones, is left out. Each kept trace goes
through mesh.traces.analyze (the same adjusters, tree and self-time rule as the trace page),
and every service's self time is averaged over the version's traces: "a request served by v3
spends 180 ms in reviews and 2 ms in ratings, against 8 ms and nothing for v1".

Traces are a sample (a tail-sampling collector keeps slow and failing ones more often), so the
figures say where time goes, not how often; the page prints the number of traces behind each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mesh.trace_records import Trace
from mesh.traces import analyze, canonical_trace_id, istio_info, split_service


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


def server_version(trace: Trace, namespace: str, service: str) -> str | None:
    """The version of `service` that answered in this trace; None when none or several did."""
    found: set[str] = set()
    for span in trace.spans:
        if span.kind != "server":
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
        info = istio_info(span) if span.kind == "server" else None
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
    for trace in traces:
        tid = canonical_trace_id(trace.trace_id)
        if tid in seen:
            continue
        seen.add(tid)
        version = server_version(trace, namespace, service)
        if version not in count:
            continue
        a = analyze(trace)
        count[version] += 1
        duration[version] += a.duration_us
        served[version] += _served_us(a.trace, namespace, service)
        for st in a.services:
            name = short_service(st.service, namespace)
            self_us[version][name] += st.self_us
            spans[version][name] += st.spans
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
            )
        )
    return tuple(out)


def version_time_json(rows: Sequence[VersionTime]) -> dict[str, Any]:
    """JSON-ready, with the union of services in a stable order (most self time overall first)."""
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
                "spans": {s.service: s.spans for s in r.services},
            }
            for r in rows
        ],
    }
