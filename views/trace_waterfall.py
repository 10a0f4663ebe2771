"""The trace page's waterfall as compact columns for the browser's virtualised rows
(assets/trace_waterfall.js), one array per field, with sections for collapsed subtrees."""

from __future__ import annotations

from typing import Any

from mesh.traces.analysis import (
    TraceAnalysis,
)

LARGE_TRACE_SPANS = 1_000  # beyond this, deep subtrees off the critical path start collapsed


WATERFALL_MAX_SPANS = 200_000  # beyond this, the page shows a summary instead of a waterfall


COLLAPSE_DEPTH = 2


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
        # whole µs / 1000 is already the nearest float to its 3-decimal ms: no round() needed
        "s": [(s.start_us - t0) / 1000 for s in ordered],
        "d": [s.duration_us / 1000 for s in ordered],
        "err": [1 if errors[i] else 0 for i in order],
        "kids": [len(tree.children[i]) for i in order],
        "crit": [1 if i in critical else 0 for i in order],
        "services": service_names,
        "ops": list(ops),
        "sections": [
            [row_of[c.span], (c.start_us - t0) / 1000, (c.end_us - t0) / 1000] for c in a.critical
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
