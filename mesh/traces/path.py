"""Which workload-graph nodes a trace passed through, and the edges between them (the link from a
trace to the topology). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from mesh.traces.analysis import (
    SpanTree,
    build_tree,
    istio_info,
    split_service,
)
from mesh.traces.records import Span, Trace, indexed_tags


def span_node(span: Span) -> str | None:
    """The workload-graph node id (`namespace/workload`) a span ran in, when Istio says so."""
    info = istio_info(span)
    if info is not None and info.namespace and info.workload:
        return f"{info.namespace}/{info.workload}"
    app, ns = split_service(span.service)
    return f"{ns}/{app}" if ns and info is not None else None


# A waypoint's span names its destination through its operation and upstream cluster too.
_NODE_TAGS = frozenset(
    {
        "node_id",
        "istio.canonical_service",
        "istio.canonical_revision",
        "istio.namespace",
        "upstream_cluster",
    }
)


def span_nodes(spans: Sequence[Span]) -> list[str | None]:
    """span_node of every span. The answer depends only on the service, the operation (a
    waypoint's) and five tags, which the proxies of one pod repeat on every span, so a
    50,000-span trace asks istio_info a few hundred times instead of 50,000. The IP inside
    `node_id` (`sidecar~IP~pod.ns~domain`) names no node, so it is left out of the key."""
    cache: dict[tuple, str | None] = {}
    out: list[str | None] = []
    for s in spans:
        key = (
            s.process.service,
            s.operation,
            *[
                (t.key, _without_ip(t.value) if t.key == "node_id" else t.value)
                for t in indexed_tags(s)
                if t.key in _NODE_TAGS
            ],
        )
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


def _without_ip(node_id: object) -> object:
    if not isinstance(node_id, str):
        return node_id
    parts = node_id.split("~", 2)
    return node_id if len(parts) < 3 else (parts[0], parts[2])


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


def trace_path_nodes(trace: Trace) -> list[str]:
    """The workload node ids of a trace's path, for `/?highlight=`."""
    return trace_path(trace)["nodes"]
