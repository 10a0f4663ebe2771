"""The "Why is it red?" view: one code path for /api/investigate and the topology page.

It reads the graph of the same view (views/graph.py, through its cache: no PromQL of its own)
and, when traces are configured, makes one trace search for failing traces through the node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from mesh.errors import BadRequest, MeshdashError
from mesh.investigation import (
    ErrorFinding,
    LatencyFinding,
    Origin,
    TraceOrigin,
    Victim,
    agreement,
    find_error_origins,
    find_latency_origin,
    trace_origins,
)
from mesh.traces.analysis import istio_info, join_service
from mesh.traces.records import Span, TraceQuery
from views.graph import GraphParams, graph_view, parse_graph_params
from views.params import get_one
from wiring.services import TRACES, Services

# A graph node id: [cluster:]namespace/name[/version], or `unknown`.
_NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,400}$")
TRACE_LIMIT = 20


@dataclass(frozen=True, slots=True)
class InvestigateParams:
    graph: GraphParams
    node: str | None  # None: every failing entry of the namespaces


def parse_investigate_params(args: Any, default_namespaces: tuple[str, ...]) -> InvestigateParams:
    """The graph's parameters plus `node`; BadRequest names the field before any backend."""
    graph = parse_graph_params(args, default_namespaces)
    node = get_one(args, "node")
    if node is not None and not _NODE_ID.match(node):
        raise BadRequest(f"node {node[:80]!r} is not a graph node id", field="node")
    return InvestigateParams(graph, node or None)


def investigate_view(services: Services, params: InvestigateParams) -> dict[str, Any]:
    """Origins and victims from the graph's figures, confirmed by one trace search."""
    graph = graph_view(services, params.graph)
    nodes, edges = graph["nodes"], graph["edges"]
    finding = find_error_origins(nodes, edges, params.node, params.graph.window_s)
    slow_from = params.node or (finding.roots[0] if finding.roots else None)
    latency = find_latency_origin(nodes, edges, slow_from) if slow_from else None
    traces = _confirm(services, graph, finding, params.graph.window_s)
    examples = _examples(traces.get("origins", []))
    return {
        "node": params.node,
        "namespaces": graph["namespaces"],
        "graph": graph["graph"],
        "window": graph["window"],
        "at": graph["at"],
        "status": finding.status,
        "roots": list(finding.roots),
        "failing_rps": round(finding.failing_rps, 6),
        "failing_requests": round(finding.failing_requests),
        "origins": [_origin_json(o, examples.get(o.id, [])) for o in finding.origins],
        "victims": [_victim_json(v) for v in finding.victims],
        "path": list(finding.path),
        "path_edges": [list(e) for e in finding.path_edges],
        "undetermined": finding.undetermined,
        "latency": _latency_json(latency),
        "traces": traces,
        "partial": graph.get("partial", []),
        "source": graph.get("source"),
    }


def _origin_json(o: Origin, traces: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": o.id,
        "score": round(o.score, 4),
        "explains_share": round(o.score, 4),
        "error_rate": round(o.error_rate, 6),
        "own_share": round(o.own_share, 4),
        "determined": o.determined,
        "unseen": o.blind or None,
        "path": list(o.path),
        "evidence": [dict(e) for e in o.evidence],
        "traces": traces,
    }


def _victim_json(v: Victim) -> dict[str, Any]:
    return {
        "id": v.id,
        "error_rate": round(v.error_rate, 6),
        "explained_share": round(v.explained_share, 4),
        "failing_callees": [{"id": c, "error_rate": round(r, 6)} for c, r in v.failing_callees],
    }


def _latency_json(f: LatencyFinding | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {
        "origin": f.origin,
        "p95_ms": f.p95_ms,
        "own_ms": None if f.own_ms is None else round(f.own_ms, 3),
        "path": list(f.path),
        "victims": [{"id": n, "p95_ms": p, "downstream_ms": round(d, 3)} for n, p, d in f.victims],
        "undetermined": f.undetermined,
    }


# ---------------------------------------------------------------------------------------------
# Trace confirmation


def _search_target(graph: dict[str, Any], finding: ErrorFinding) -> tuple[str, str] | None:
    """(namespace, app) of the node whose failing traces are sampled: the investigated node,
    or the busiest failing entry of the namespaces that is itself in the mesh."""
    by_id = {n["id"]: n for n in graph["nodes"]}
    for root in finding.roots:
        n = by_id.get(root, {})
        app = n.get("app") or n.get("service")
        if n.get("namespace") and n.get("namespace") != "unknown" and app and app != "unknown":
            return n["namespace"], app
    return None


def _confirm(
    services: Services, graph: dict[str, Any], finding: ErrorFinding, window_s: int
) -> dict[str, Any]:
    """One trace search (error=true) through the node; where each failing trace starts."""
    traces = services.find(TRACES)
    if traces is None:
        return {"origins": [], "unavailable": "no trace backend is configured"}
    if not finding.origins:
        return {"origins": [], "unavailable": None}
    target = _search_target(graph, finding)
    if target is None:
        return {"origins": [], "unavailable": "the failing node is not traced by the mesh"}
    namespace, app = target
    end = float(graph["at"])
    query = TraceQuery(
        service=join_service(app, namespace),
        start_us=int((end - window_s) * 1e6),
        end_us=int(end * 1e6),
        tags=(("error", "true"),),
        limit=TRACE_LIMIT,
    )
    searched = {"namespace": namespace, "service": app, "error": True, "limit": TRACE_LIMIT}
    try:
        found = traces.find_traces(query)
    except MeshdashError as exc:  # metrics still answer; say why the traces do not
        return {"origins": [], "searched": searched, "unavailable": f"trace search failed: {exc}"}
    node_ids = [n["id"] for n in graph["nodes"]]
    origins = trace_origins(found, lambda span: node_of(span, graph["graph"], node_ids, graph))
    return {
        "searched": searched,
        "sampled": len(found),
        "origins": [_trace_origin_json(o, namespace, app) for o in origins],
        "disagreement": agreement(finding, origins),
        "unavailable": None if found else "no failing traces were sampled in this window",
    }


def _trace_origin_json(o: TraceOrigin, namespace: str, app: str) -> dict[str, Any]:
    return {
        "service": o.service,
        "operation": o.operation,
        "node": o.node,
        "count": o.count,
        "traces": [_trace_link(t, namespace, app) for t in o.traces],
    }


def _trace_link(trace_id: str, namespace: str, app: str) -> dict[str, str]:
    query = urlencode({"trace": trace_id, "namespace": namespace, "service": app})
    return {"trace_id": trace_id, "href": f"/traces/view?{query}"}


def _examples(origins: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for o in origins:
        if o["node"]:
            out.setdefault(o["node"], []).extend(o["traces"])
    return out


def _match(candidate: str, node_ids: list[str]) -> str | None:
    """The graph node with this id, also behind a cluster prefix (`east:ns/name`)."""
    hits = [n for n in node_ids if n == candidate or n.endswith(":" + candidate)]
    return hits[0] if len(hits) == 1 else None


def node_of(span: Span, view: str, node_ids: list[str], graph: dict[str, Any]) -> str | None:
    """The graph node a span's failure belongs to, in the graph's view.

    A server span is the workload that answered. A client span that failed with no failing
    child never reached a traced server: the failure belongs to the host it called.
    """
    info = istio_info(span)
    if info is None:
        return None
    if span.kind == "client":
        host = span.operation.split(":", 1)[0].split("/", 1)[0]
        return _host_node(host, graph)
    ns, app = info.namespace, info.app
    if view == "workload":
        return _match(f"{ns}/{info.workload}", node_ids)
    if view == "versioned-app" and info.version:
        return _match(f"{ns}/{app}/{info.version}", node_ids)
    return _match(f"{ns}/{app}", node_ids)


def _host_node(host: str, graph: dict[str, Any]) -> str | None:
    """The node a called host stands for: an in-mesh `svc.ns.svc.cluster.local` maps to the
    one node serving it (None when several versions do), anything else to the node named for
    the host (a service outside the mesh)."""
    parts = host.split(".")
    mesh_host = len(parts) >= 2 and host.endswith(".svc.cluster.local")
    hits = [
        n["id"]
        for n in graph["nodes"]
        if (
            mesh_host
            and n.get("namespace") == parts[1]
            and (n.get("service") == parts[0] or n.get("app") == parts[0])
        )
        or (not mesh_host and n.get("service") == host)
    ]
    return hits[0] if len(hits) == 1 else None
