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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from mesh import validate
from mesh.errors import BadRequest, NotFound
from mesh.traces.analysis import (
    SpanTree,
    TraceAnalysis,
    analyze,
    build_tree,
    canonical_trace_id,
    istio_info,
    join_service,
    split_service,
    summarize,
)
from mesh.traces.records import Span, Trace, TraceQuery, TraceSummary
from views.params import get_one, instant_of, namespace_of, service_of, window_of
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


# --------------------------------------------------------------------------------------------
# One trace


def parse_trace_id(value: str | None) -> str:
    if not value or not _TRACE_ID.match(value):
        raise BadRequest(f"trace id {value!r} is not 1 to 32 hexadecimal digits", field="trace")
    return canonical_trace_id(value)


def load_trace(services: Services, trace_id: str) -> Trace:
    return services.need(TRACES).get_trace(trace_id)


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


def span_node(span: Span) -> str | None:
    """The workload-graph node id (`namespace/workload`) a span ran in, when Istio says so."""
    info = istio_info(span)
    if info is not None and info.namespace and info.workload:
        return f"{info.namespace}/{info.workload}"
    app, ns = split_service(span.service)
    return f"{ns}/{app}" if ns and info is not None else None


_NODE_TAGS = frozenset(
    {"node_id", "istio.canonical_service", "istio.canonical_revision", "istio.namespace"}
)


def span_nodes(spans: Sequence[Span]) -> list[str | None]:
    """span_node of every span. The answer depends only on the service and four tags, which the
    sidecars of one pod repeat on every span, so a 50,000-span trace asks istio_info a few hundred
    times instead of 50,000."""
    cache: dict[tuple, str | None] = {}
    out: list[str | None] = []
    for s in spans:
        key = (s.process.service, *[(t.key, t.value) for t in s.tags if t.key in _NODE_TAGS])
        try:
            node = cache.get(key, _UNSEEN)
        except TypeError:  # an unhashable tag value: no caching for that span
            out.append(span_node(s))
            continue
        if node is _UNSEEN:
            node = cache[key] = span_node(s)
        out.append(node)
    return out


_UNSEEN = object()


def trace_path(trace: Trace, tree: SpanTree | None = None) -> dict[str, list]:
    """Workload nodes a trace went through, in first-visit order, and the edges between them
    (caller -> callee, from the span tree, skipping spans that stay in one workload)."""
    tree = tree if tree is not None and tree.trace is trace else build_tree(trace)
    spans = trace.spans
    node_of = span_nodes(spans)
    nodes: list[str] = []
    edges: list[tuple[str, str]] = []
    seen_nodes: set[str] = set()
    seen_edges: set[tuple[str, str]] = set()
    nearest: list[str | None] = [None] * len(spans)  # closest node at or above each span
    for i in tree.order:
        p = tree.parent[i]
        above = nearest[p] if p >= 0 else None
        here = node_of[i] or above
        nearest[i] = here
        if node_of[i] and node_of[i] not in seen_nodes:
            seen_nodes.add(node_of[i])
            nodes.append(node_of[i])
        if above and node_of[i] and above != node_of[i]:
            e = (above, node_of[i])
            if e not in seen_edges:
                seen_edges.add(e)
                edges.append(e)
    return {"nodes": nodes, "edges": [list(e) for e in edges]}


def page_link(path: str, **params: Any) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "", [])}
    return f"{path}?{urlencode(clean, doseq=True)}" if clean else path


def trace_path_nodes(trace: Trace) -> list[str]:
    """The workload node ids of a trace's path, for `/?highlight=`."""
    return trace_path(trace)["nodes"]


def topology_highlight_link(path: dict[str, list], namespaces: list[str] | None = None) -> str:
    """`/?namespace=...&highlight=a/b,c/d`: the topology with a trace's path highlighted."""
    nodes = path.get("nodes") or []
    ns = namespaces or sorted({n.split("/", 1)[0] for n in nodes if "/" in n})
    return page_link("/", namespace=ns, highlight=",".join(nodes))


def traces_search_link(
    namespace: str, service: str, lookback: str = DEFAULT_LOOKBACK, **extra: Any
) -> str:
    """`/traces?namespace=NS&service=SVC&lookback=WINDOW`: from a topology node to its traces."""
    return page_link("/traces", namespace=namespace, service=service, lookback=lookback, **extra)


# --------------------------------------------------------------------------------------------
# The trace page: compact, column-oriented rows for the browser's virtualised waterfall

LARGE_TRACE_SPANS = 1_000  # beyond this, deep subtrees off the critical path start collapsed
WATERFALL_MAX_SPANS = 200_000  # beyond this, the page shows a summary instead of a waterfall
COLLAPSE_DEPTH = 2


def trace_page_view(services: Services, trace_id: str) -> dict[str, Any]:
    """What the trace page needs: the header figures, the per-service breakdown, the path, and
    the waterfall as columns (waterfall_columns), which the browser draws only the rows in view
    of, so a 100,000-span trace opens like a small one.

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
        "path": trace_path(a.trace, a.tree),
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


def waterfall_columns(a: TraceAnalysis, critical: set[int]) -> dict[str, Any]:
    """One entry per span in pre-order (the waterfall's rows): span id, parent row, depth,
    service and operation (indexes into `services` and `ops`), start and duration in ms from
    the trace start (µs precision), error and critical flags, child count; the critical
    sections as [row, from ms, to ms]; and, for a large trace, the rows that start collapsed.
    Columns of small numbers keep 50,000 spans near 3 MB of JSON, a third of the span objects.
    """
    spans = a.trace.spans
    tree = a.tree
    order = tree.order
    n = len(order)
    row_of = [0] * len(spans)
    for row, i in enumerate(order):
        row_of[i] = row
    service_names = [st.service for st in a.services]
    service_ix = {name: k for k, name in enumerate(service_names)}
    ops: dict[str, int] = {}
    t0 = a.start_us
    ordered = [spans[i] for i in order]
    errors = a.errors or tuple(s.is_error for s in spans)
    collapsed: list[int] = []
    if n > LARGE_TRACE_SPANS:
        collapsed = [
            row
            for row, i in enumerate(order)
            if tree.depth[i] >= COLLAPSE_DEPTH and tree.children[i] and i not in critical
        ]
    return {
        "id": [s.span_id for s in ordered],
        "parent": [row_of[tree.parent[i]] if tree.parent[i] >= 0 else -1 for i in order],
        "depth": [tree.depth[i] for i in order],
        "svc": [service_ix[s.process.service] for s in ordered],
        "op": [ops.setdefault(s.operation, len(ops)) for s in ordered],
        "s": [round((s.start_us - t0) / 1000, 3) for s in ordered],
        "d": [round(s.duration_us / 1000, 3) for s in ordered],
        "err": [1 if errors[i] else 0 for i in order],
        "kids": [len(tree.children[i]) for i in order],
        "crit": [1 if i in critical else 0 for i in order],
        "services": service_names,
        "ops": list(ops),
        "sections": [
            [row_of[c.span], round((c.start_us - t0) / 1000, 3), round((c.end_us - t0) / 1000, 3)]
            for c in a.critical
        ],
        "collapsed": collapsed,
        "duration_ms": a.duration_us / 1000,
    }


def _section_row(a: TraceAnalysis, c) -> dict[str, Any]:
    s = a.trace.spans[c.span]
    return {
        "span_id": s.span_id,
        "service": s.service,
        "operation": s.operation,
        "start_ms": (c.start_us - a.start_us) / 1000,
        "end_ms": (c.end_us - a.start_us) / 1000,
    }


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
