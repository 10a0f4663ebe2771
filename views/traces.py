"""The traces view: one code path for /api/traces, /api/traces/<id> and the trace pages.

Parameters are the same query keys for the API and the page URL:
namespace, service, operation, tags (logfmt: `error=true http.status_code=503`), error=true,
min_duration_ms, max_duration_ms (a span of the service lasting that long, as in Jaeger),
lookback (5m .. 7d), limit, end (UNIX seconds).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mesh import validate
from mesh.errors import BadRequest, NotFound
from mesh.traces.analysis import (
    adjust,
    analyze,
    canonical_trace_id,
    join_service,
    split_service,
    summarize,
)
from mesh.traces.path import (
    trace_path,
)
from mesh.traces.records import Trace, TraceQuery
from views.params import get_one, instant_of, namespace_of, service_of, window_of
from views.trace_json import (
    _us,
    services_json,
    span_json,
    summary_json,
    trace_head,
)
from views.trace_waterfall import (
    WATERFALL_MAX_SPANS,
    _section_row,
    waterfall_columns,
)
from wiring.services import TRACES, Services

DEFAULT_LOOKBACK = "1h"
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
MAX_TAGS = 20
_TRACE_ID = re.compile(r"^[0-9a-fA-F]{1,32}$")
_TAG_KEY = re.compile(r"^[A-Za-z0-9_.:/@-]{1,128}$")
_OPERATION_MAX = 512


@dataclass(frozen=True, slots=True)
class TraceSearchParams:
    namespace: str
    service: str
    operation: str
    tags: tuple[tuple[str, str], ...]
    error_only: bool
    min_duration_ms: float | None
    max_duration_ms: float | None
    lookback: str
    lookback_s: int
    limit: int
    end: float | None  # None: now


def _float_ms(args: Any, key: str) -> float | None:
    raw = get_one(args, key)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{key} {raw!r} is not a number of milliseconds", field=key) from None
    if not (value >= 0 and value < 86_400_000):
        raise BadRequest(f"{key} must be between 0 and 86400000 ms", field=key)
    return value


def parse_tags(text: str) -> tuple[tuple[str, str], ...]:
    """Jaeger UI's logfmt: `key=value` pairs separated by spaces; quote values with spaces."""
    if not text or not text.strip():
        return ()
    try:
        parts = shlex.split(text)
    except ValueError as exc:
        raise BadRequest(f"tags: {exc}", field="tags") from None
    if len(parts) > MAX_TAGS:
        raise BadRequest(f"at most {MAX_TAGS} tags", field="tags")
    out: dict[str, str] = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq or not _TAG_KEY.match(key):
            raise BadRequest(f"tags: {part!r} is not key=value", field="tags")
        if len(value) > 256 or any(ord(c) < 32 for c in value):
            raise BadRequest(f"tags: the value of {key} is too long or not printable", field="tags")
        out[key] = value
    return tuple(out.items())


def format_tags(tags: tuple[tuple[str, str], ...]) -> str:
    return " ".join(f"{k}={shlex.quote(v)}" for k, v in tags)


def parse_search_params(args: Any) -> TraceSearchParams:
    """Validate everything before a backend sees it; raise BadRequest with the reason."""
    ns = namespace_of(args)
    service = service_of(args)
    operation = get_one(args, "operation", "") or ""
    if len(operation) > _OPERATION_MAX or any(ord(c) < 32 for c in operation):
        raise BadRequest("operation is too long or not printable", field="operation")
    raw_tags = args.get("tags") if hasattr(args, "get") else None
    if isinstance(raw_tags, list | tuple):
        raw_tags = " ".join(str(t) for t in raw_tags)
    tags = parse_tags(raw_tags or "")
    error = (get_one(args, "error", "") or "").lower()
    if error not in ("", "true", "false", "1", "0", "on", "off"):
        raise BadRequest("error must be true or false", field="error")
    error_only = error in ("true", "1", "on")
    if error_only:
        tags = (*tuple(t for t in tags if t[0] != "error"), ("error", "true"))
    dmin = _float_ms(args, "min_duration_ms")
    dmax = _float_ms(args, "max_duration_ms")
    if dmin is not None and dmax is not None and dmax < dmin:
        raise BadRequest("max_duration_ms is below min_duration_ms", field="max_duration_ms")
    lookback = window_of(args, DEFAULT_LOOKBACK, key="lookback")
    limit_raw = get_one(args, "limit", str(DEFAULT_LIMIT)) or str(DEFAULT_LIMIT)
    try:
        limit = int(limit_raw)
    except ValueError:
        raise BadRequest(f"limit {limit_raw!r} is not a whole number", field="limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    end = instant_of(args, "end")
    return TraceSearchParams(
        ns,
        service,
        operation,
        tags,
        error_only,
        dmin,
        dmax,
        lookback.text,
        lookback.seconds,
        limit,
        end,
    )


def jaeger_service(services: Services, namespace: str, service: str) -> str:
    """The name the tracer uses: Istio's `app.namespace`, or a bare `app` (older Istio)."""
    qualified = join_service(service, namespace)
    known = set(services.need(TRACES).services())
    if qualified in known or service not in known:
        return qualified
    return service


def search_view(services: Services, params: TraceSearchParams) -> dict[str, Any]:
    """Trace summaries, newest first.

    Filters mean what they mean in Jaeger, so a link to Jaeger UI would show the same traces:
    a trace matches when one span of the service (with the operation, if given) carries the
    tags and lasts between min_duration_ms and max_duration_ms.
    """
    source = services.need(TRACES)
    now = services.clock()
    end = validate.at_or_now(params.end, now, field="end")
    start = end - params.lookback_s
    name = jaeger_service(services, params.namespace, params.service)
    query = TraceQuery(
        service=name,
        start_us=int(start * 1e6),
        end_us=int(end * 1e6),
        operation=params.operation,
        tags=params.tags,
        min_duration_us=_us(params.min_duration_ms),
        max_duration_us=_us(params.max_duration_ms),
        limit=params.limit,
    )
    rows = [summary_json(summarize(t)) for t in source.find_traces(query)]
    rows.sort(key=lambda r: (-r["start_us"], r["trace_id"]))
    return {
        "namespace": params.namespace,
        "service": params.service,
        "jaeger_service": name,
        "operation": params.operation,
        "tags": dict(params.tags),
        "lookback": params.lookback,
        "limit": params.limit,
        "start": start,
        "end": end,
        "traces": rows[: params.limit],
        "source": getattr(source, "name", "traces"),
    }


# --------------------------------------------------------------------------------------------
# One trace


def parse_trace_id(value: str | None) -> str:
    if not value or not _TRACE_ID.match(value):
        raise BadRequest(f"trace id {value!r} is not 1 to 32 hexadecimal digits", field="trace")
    return canonical_trace_id(value)


def load_trace(services: Services, trace_id: str) -> Trace:
    return services.need(TRACES).get_trace(trace_id)


def trace_view(
    services: Services, trace_id: str, *, details: bool = True, max_spans: int | None = None
) -> dict[str, Any]:
    """Spans in waterfall order with depth, parent, self time and service (the first max_spans
    of them, when given); the critical path; the per-service breakdown; the path through the
    topology."""
    a = analyze(load_trace(services, trace_id))
    critical = {c.span for c in a.critical}
    order = a.tree.order if max_spans is None else a.tree.order[:max_spans]
    return {**trace_head(a), "spans": [span_json(a, i, critical, details=details) for i in order]}


SPANS_PER_PIECE = 500


def trace_view_json(services: Services, trace_id: str) -> Iterator[str]:
    """trace_view as JSON text in pieces of SPANS_PER_PIECE spans: a 100,000-span trace's answer
    (~250 MB as one document) never exists whole in the server's memory. The trace is loaded and
    analysed before this returns, so an unknown id or a failing Jaeger still answers 404/502."""
    a = analyze(load_trace(services, trace_id))
    critical = {c.span for c in a.critical}
    head = json.dumps(trace_head(a), default=str)
    order = a.tree.order

    def pieces() -> Iterator[str]:
        yield head[:-1] + ', "spans": ['
        for k in range(0, len(order), SPANS_PER_PIECE):
            rows = (span_json(a, i, critical) for i in order[k : k + SPANS_PER_PIECE])
            yield ("," if k else "") + ",".join(json.dumps(r, default=str) for r in rows)
        yield "]}"

    return pieces()


def span_detail(services: Services, trace_id: str, span_id: str) -> dict[str, Any]:
    """Everything about one span (tags, logs, process, Istio's pod/IP/version)."""
    trace = load_trace(services, trace_id)
    a = analyze(trace)
    critical = {c.span for c in a.critical}
    for i, s in enumerate(a.trace.spans):
        if s.span_id == span_id:
            return span_json(a, i, critical, details=True)
    raise NotFound(f"span {span_id} is not in trace {trace_id}")


# --------------------------------------------------------------------------------------------
# Links with the topology


# --------------------------------------------------------------------------------------------
# The trace page: compact, column-oriented rows for the browser's virtualised waterfall


def trace_page_view(services: Services, trace_id: str) -> dict[str, Any]:
    """What the trace page draws first: the header figures, the per-service breakdown and the
    waterfall as columns (waterfall_columns), which the browser draws only the rows in view of,
    so a 100,000-span trace opens like a small one. The path through the topology reads five
    Istio tags of every span: it comes after the first rows (trace_path_view).

    The bound: past WATERFALL_MAX_SPANS the columns alone would pass 15 MB, so the page shows the
    critical path and the longest self times instead (a bounded answer whatever the trace).
    """
    trace = load_trace(services, trace_id)
    a = analyze(trace)
    spans = a.trace.spans
    n = len(spans)
    critical = {c.span for c in a.critical}
    root = spans[a.tree.roots[0]] if a.tree.roots else None
    out: dict[str, Any] = {
        "trace_id": a.trace.trace_id,
        "start": a.start_us / 1e6,
        "duration_ms": a.duration_us / 1000,
        "span_count": n,
        "error_count": sum(a.errors),
        "max_depth": max(a.tree.depth, default=0),
        "root_service": root.service if root else "",
        "root_operation": root.operation if root else "",
        "service_count": len(a.services),
        "warnings": list(a.warnings),
        "services": services_json(a),
        "critical_count": len(critical),
        "summary_only": n > WATERFALL_MAX_SPANS,
    }
    if n > WATERFALL_MAX_SPANS:
        out["critical_sections"] = [_section_row(a, c) for c in a.critical[:200]]
        top = sorted(range(n), key=lambda i: -a.self_us[i])[:25]
        out["top_self"] = [span_json(a, i, critical, details=False) for i in top]
        return out
    out["waterfall"] = waterfall_columns(a, critical)
    return out


def trace_path_view(services: Services, trace_id: str) -> dict[str, list]:
    """The workload nodes and edges a trace went through (trace_path), on the trace as the
    page shows it (adjusted: waypoint spans under the service they served)."""
    return trace_path(adjust(load_trace(services, trace_id)))


def service_catalog(services: Services) -> dict[str, list[str]]:
    """Namespaces and their apps, from the tracer's `app.namespace` service names."""
    out: dict[str, set[str]] = {}
    for name in services.need(TRACES).services():
        app, ns = split_service(name)
        if ns:
            out.setdefault(ns, set()).add(app)
    return {ns: sorted(apps) for ns, apps in sorted(out.items())}


def operations_of(services: Services, namespace: str, service: str) -> list[str]:
    name = jaeger_service(services, validate.namespace(namespace), validate.service_name(service))
    return list(services.need(TRACES).operations(name))
