"""A trace's JSON for the API and the pages (summaries, spans with their Istio facts, services, the
trace's head)."""

from __future__ import annotations

from typing import Any

from mesh.traces.analysis import (
    TraceAnalysis,
    istio_info,
)
from mesh.traces.path import trace_path
from mesh.traces.records import Span, TraceSummary


def _us(ms: float | None) -> int | None:
    return None if ms is None else round(ms * 1000)


def summary_json(s: TraceSummary) -> dict[str, Any]:
    return {
        "trace_id": s.trace_id,
        "start": s.start_us / 1e6,
        "start_us": s.start_us,
        "duration_ms": s.duration_us / 1000,
        "span_count": s.span_count,
        "error_count": s.error_count,
        "error": s.error_count > 0,
        "services": list(s.services),
        "root_service": s.root_service,
        "root_operation": s.root_operation,
        "versions": list(s.versions),
        "warnings": s.warnings,
    }


def _tags_json(tags) -> list[dict[str, Any]]:
    return [{"key": t.key, "value": t.value, "type": t.type} for t in tags]


def istio_json(span: Span) -> dict[str, str] | None:
    info = istio_info(span)
    if info is None:
        return None
    return {
        "app": info.app,
        "namespace": info.namespace,
        "version": info.version,
        "workload": info.workload,
        "pod": info.pod,
        "ip": info.ip,
        "proxy": info.proxy,
        "status_code": info.status_code,
        "response_flags": info.response_flags,
        "upstream_cluster": info.upstream_cluster,
        "waypoint": info.waypoint,
    }


def span_json(
    a: TraceAnalysis, i: int, critical: set[int], *, details: bool = True
) -> dict[str, Any]:
    """One span for the API (details=True) or the waterfall (compact)."""
    s = a.trace.spans[i]
    p = a.tree.parent[i]
    row: dict[str, Any] = {
        "span_id": s.span_id,
        "parent_id": a.trace.spans[p].span_id if p >= 0 else None,
        "depth": a.tree.depth[i],
        "service": s.service,
        "operation": s.operation,
        "start_ms": (s.start_us - a.start_us) / 1000,
        "duration_ms": s.duration_us / 1000,
        "self_ms": a.self_us[i] / 1000,
        "kind": s.kind,
        "error": s.is_error,
        "critical": i in critical,
        "follows_from": a.tree.follows[i],
    }
    if details:
        row.update(
            {
                "start_us": s.start_us,
                "tags": _tags_json(s.tags),
                "logs": [
                    {"timestamp_us": lg.timestamp_us, "fields": _tags_json(lg.fields)}
                    for lg in s.logs
                ],
                "process": {"service": s.process.service, "tags": _tags_json(s.process.tags)},
                "references": [
                    {"ref_type": r.ref_type.value, "trace_id": r.trace_id, "span_id": r.span_id}
                    for r in s.references
                ],
                "istio": istio_json(s),
                "warnings": list(s.warnings),
            }
        )
    return row


def services_json(a: TraceAnalysis) -> list[dict[str, Any]]:
    """Per service: self time as a share of all self time (parallel spans make the sum exceed
    the trace duration, so a share of the duration would pass 100%), and critical-path time as
    a share of the critical path (the trace duration for a single root)."""
    all_self = sum(st.self_us for st in a.services) or 1
    all_critical = sum(st.critical_us for st in a.services) or 1
    return [
        {
            "service": st.service,
            "spans": st.spans,
            "errors": st.errors,
            "self_ms": st.self_us / 1000,
            "total_ms": st.total_us / 1000,
            "critical_ms": st.critical_us / 1000,
            "self_share": st.self_us / all_self,
            "critical_share": st.critical_us / all_critical,
        }
        for st in a.services
    ]


def trace_head(a: TraceAnalysis) -> dict[str, Any]:
    """Everything /api/traces/<id> says about a trace but its spans."""
    return {
        "trace_id": a.trace.trace_id,
        "start_us": a.start_us,
        "start": a.start_us / 1e6,
        "duration_ms": a.duration_us / 1000,
        "span_count": len(a.trace.spans),
        "error_count": sum(a.errors),
        "max_depth": max(a.tree.depth, default=0),
        "warnings": list(a.warnings),
        "critical_path": list(a.critical_span_ids()),
        "critical_sections": [
            {
                "span_id": a.trace.spans[c.span].span_id,
                "start_ms": (c.start_us - a.start_us) / 1000,
                "end_ms": (c.end_us - a.start_us) / 1000,
            }
            for c in a.critical
        ],
        "services": services_json(a),
        "path": trace_path(a.trace, a.tree),
    }
