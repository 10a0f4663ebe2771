"""The service/workload metrics view: one code path for /api/metrics and the service page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesh import validate
from mesh.errors import BadRequest
from mesh.series import (
    OutboundCall,
    Points,
    SeriesQuery,
    ServiceSeries,
    Target,
    build_service_series,
    series_query,
    sort_versions,
)
from mesh.telemetry_records import GraphQuery, GraphView
from views.params import get_one, instant_of, namespace_of, window_of
from wiring.services import SERIES, Services

DEFAULT_WINDOW = "30m"


@dataclass(frozen=True, slots=True)
class MetricsParams:
    namespace: str
    name: str
    target: Target
    window: str
    window_s: int
    step_s: int | None  # None: chosen from the window
    at: float | None  # None: now, resolved when the view is computed


def parse_metrics_params(args: Any) -> MetricsParams:
    """Validate every value before a backend sees it; exactly one of service= or workload=."""
    ns = namespace_of(args)
    service = get_one(args, "service")
    workload = get_one(args, "workload")
    if service and workload:
        raise BadRequest("give service or workload, not both", field="service")
    if service:
        target, name = Target.SERVICE, validate.service_name(service)
    elif workload:
        target, name = Target.WORKLOAD, validate.workload_name(workload)
    else:
        raise BadRequest("service (or workload) is required", field="service")
    window = window_of(args, DEFAULT_WINDOW)
    step_raw = get_one(args, "step")
    step_s = None if not step_raw else validate.duration_seconds(step_raw, field="step")
    at = instant_of(args, "at")
    if step_s is not None:
        # Refuse a bad step here, with the window, before anything is queried.
        series_query(ns, name, target, window.seconds, at=at or 0.0, step_s=step_s)
    return MetricsParams(ns, name, target, window.text, window.seconds, step_s, at)


def query_of(services: Services, params: MetricsParams) -> SeriesQuery:
    now = services.clock()
    at = validate.at_or_now(params.at, now)
    return series_query(
        params.namespace, params.name, params.target, params.window_s, at, params.step_s
    )


def metrics_model(services: Services, params: MetricsParams) -> ServiceSeries:
    source = services.need(SERIES)
    return build_service_series(source.series_telemetry(query_of(services, params)))


def metrics_view(services: Services, params: MetricsParams) -> dict[str, Any]:
    """Ask the series source once and return the JSON-ready view (the API's exact body)."""
    model = metrics_model(services, params)
    return metrics_json(model, params.window, services.need(SERIES).name)


def _t(t: float) -> float | int:
    return int(t) if float(t).is_integer() else t


def points_json(points: Points) -> list[list[float]]:
    return [[_t(t), v] for t, v in points]


def series_json(series: Any) -> dict[str, list[list[float]]]:
    return {key: points_json(series[key]) for key in sort_versions(series)}


def _outbound_json(call: OutboundCall) -> dict[str, Any]:
    return {
        "namespace": call.namespace,
        "service": call.service,
        "protocol": call.protocol,
        "rps": call.rps,
        "error_rate": call.error_rate,
        "client_error_rate": call.client_error_rate,
        "p95_ms": call.p95_ms,
        "bps": call.bps,
        "rps_by_version": {v: call.rps_by_version[v] for v in sort_versions(call.rps_by_version)},
        "series": {
            "rps": points_json(call.rps_series),
            "error_rate": points_json(call.error_rate_series),
            "bps": points_json(call.bps_series),
        },
    }


def metrics_json(model: ServiceSeries, window: str, source: str) -> dict[str, Any]:
    q = model.query
    return {
        "namespace": q.namespace,
        q.target.value: q.name,
        "target": q.target.value,
        "window": window,
        "step": validate.format_duration(q.step_s),
        "rate_interval": validate.format_duration(q.rate_s),
        "start": _t(q.start),
        "end": _t(q.end),
        "versions": list(model.versions),
        **({"services": list(model.services)} if q.target is Target.WORKLOAD else {}),
        "has_traffic": model.has_traffic,
        "series": {
            "rps": series_json(model.rps),
            "success_rate": series_json(model.success_rate),
            "p50_ms": series_json(model.latency_ms["p50"]),
            "p95_ms": series_json(model.latency_ms["p95"]),
            "p99_ms": series_json(model.latency_ms["p99"]),
            "codes": {cls: series_json(by_v) for cls, by_v in model.codes.items()},
            "tcp_in_bps": series_json(model.tcp_in_bps),
            "tcp_out_bps": series_json(model.tcp_out_bps),
        },
        "summary": {
            key: {
                "rps": f.rps,
                "share": f.share,
                "success_rate": f.success_rate,
                "client_error_rate": f.client_error_rate,
                "p50_ms": f.p50_ms,
                "p95_ms": f.p95_ms,
                "p99_ms": f.p99_ms,
            }
            for key, f in model.summary.items()
        },
        "outbound": [_outbound_json(c) for c in model.outbound],
        "queries": model.queries_sent,
        "source": source,
    }


def list_targets(services: Services, namespace: str, target: Target, window_s: int) -> list[str]:
    """Services (or workloads) seen in a namespace during the window, for the page's picker.

    One graph refresh of the telemetry source: its query count does not grow with the mesh.
    """
    ns = validate.namespace(namespace)
    view = GraphView.SERVICE if target is Target.SERVICE else GraphView.WORKLOAD
    tel = services.telemetry.graph_telemetry(GraphQuery((ns,), view, window_s, services.clock()))
    names: set[str] = set()
    records = [*tel.requests, *tel.tcp]
    for r in records:
        if target is Target.SERVICE:
            if r.destination.service and r.destination.service_namespace == ns:
                names.add(r.destination.service)
        else:
            for end in (r.source, r.destination):
                if end.namespace == ns and end.workload and not end.is_unknown:
                    names.add(end.workload)
    return sorted(names)
