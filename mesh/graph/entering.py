"""The traffic entering the shown namespaces: what the graph's callers from outside ask of them.

Summing every edge counts one user request once per hop (the gateway's call, then productpage's
calls to details and reviews, ...), so a mesh receiving 20 rps would read 64 rps. An on-call
engineer asks "how much comes in, and how much of it fails": the requests on edges from a caller
outside the shown namespaces (an ingress gateway, another namespace, an unmeshed caller) into a
node inside them, and, when a gateway's namespace is shown too, what the gateway sends on into
them. Each edge already counts each request once (mesh/graph/reporters.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx

from mesh.graph.gateways import is_gateway_node
from mesh.telemetry_records import UNKNOWN


def inside(node: dict[str, Any], namespaces: frozenset[str]) -> bool:
    """A node of a shown namespace; the unknown caller (outside the mesh) never is."""
    return node.get("kind") != UNKNOWN and node.get("namespace") in namespaces


def enters(source: dict[str, Any], target: dict[str, Any], shown: frozenset[str]) -> bool:
    """A call into the shown namespaces from outside them, or from one of their own gateways:
    Istio does not report a gateway's callers, so what a shown gateway sends on is what came in
    through it."""
    if not inside(target, shown):
        return False
    if is_gateway_node(target):
        return not inside(source, shown)
    return not inside(source, shown) or is_gateway_node(source)


def entering_edges(g: nx.DiGraph, namespaces: Iterable[str]) -> list[tuple[str, str]]:
    """The request edges from outside the shown namespaces (or from their gateways) into them."""
    shown = frozenset(namespaces)
    return [
        (s, t)
        for s, t, d in g.edges(data=True)
        if d.get("rps", 0.0) > 0 and enters(g.nodes[s], g.nodes[t], shown)
    ]


def entering_summary(g: nx.DiGraph, namespaces: Iterable[str]) -> dict[str, Any]:
    """Requests per second entering the shown namespaces, their 5xx/gRPC and 4xx ratios, how
    many edges carry them, and the rate over every edge for comparison. Ratios are None when
    nothing enters: there is nothing to divide, which is not 0 %."""
    shown = tuple(sorted(set(namespaces)))
    edges = [g.edges[e] for e in entering_edges(g, shown)]
    rps = sum(d["rps"] for d in edges)
    errors = sum(d.get("error_rps", 0.0) for d in edges)
    client = sum(d.get("client_error_rps", 0.0) for d in edges)
    return {
        "namespaces": list(shown),
        "rps": round(rps, 4),
        "error_rate": round(errors / rps, 6) if rps > 0 else None,
        "error_rate_4xx": round(client / rps, 6) if rps > 0 else None,
        "edges": len(edges),
        "all_edges_rps": round(sum(d.get("rps", 0.0) for _, _, d in g.edges(data=True)), 4),
    }
