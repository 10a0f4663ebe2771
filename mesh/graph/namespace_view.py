"""The namespace graph: each namespace one node, for meshes too big to draw workload by workload.

Built from the workload graph of the same refresh, so every figure is a sum of figures already
counted once (mesh/graph/reporters.py). Per pair of namespaces, requests, errors, client errors
and bytes are added up and the ratios recomputed from the sums; the mTLS share is recomputed
from the parts that know theirs (weighted by requests, by bytes for TCP-only parts); latency
quantiles cannot be added, so an edge made of several parts has none. Traffic inside a
namespace is kept on its node (`rps_internal`), not drawn as a loop.

A namespace's health is the worst of its members' (each judged by mesh/health.py's rule), as
mesh/inventory.py rolls namespaces up: one failing workload turns its namespace red. An
`expand`ed namespace shows its own nodes in place while the others stay namespace nodes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

import networkx as nx

from mesh.graph.build import add_share, traffic_health, worse
from mesh.health import IDLE, HealthThresholds

NAMESPACE_KIND = "namespace"
_SUMS = ("rps", "error_rps", "client_error_rps", "bps", "sent_bps", "received_bps")


def namespace_node_id(namespace: str, cluster: str = "", several_clusters: bool = False) -> str:
    """`namespace:NAME` (prefixed by the cluster as node ids are when several clusters show):
    never a workload id (those hold a slash) nor `unknown`."""
    base = f"namespace:{namespace}"
    return f"{cluster}:{base}" if several_clusters and cluster else base


def _group(g: nx.DiGraph, expand: frozenset[str], several: bool) -> dict[str, str]:
    """The node each graph node is drawn as: its namespace's node, or itself when its
    namespace is expanded, when it has no namespace or is a caller outside the mesh."""
    out = {}
    for n, d in g.nodes(data=True):
        ns = d.get("namespace") or ""
        if d.get("kind") == "unknown" or not ns or ns in expand:
            out[n] = n
        else:
            out[n] = namespace_node_id(ns, d.get("cluster") or "", several)
    return out


def _merge_edge(parts: list[dict[str, Any]], thresholds: HealthThresholds) -> dict[str, Any]:
    if len(parts) == 1:
        return dict(parts[0])  # one part: its own figures, latency included
    merged: dict[str, Any] = {k: sum(p.get(k) or 0.0 for p in parts) for k in _SUMS}
    rps = merged["rps"]
    merged["error_rate"] = merged["error_rps"] / rps if rps > 0 else 0.0
    merged["error_rate_4xx"] = merged["client_error_rps"] / rps if rps > 0 else 0.0
    merged["protocol"] = _protocol(parts, by_bytes=rps <= 0)
    merged["mtls"] = _mtls(parts, by_bytes=rps <= 0)
    merged["p50_ms"] = merged["p95_ms"] = merged["p99_ms"] = None
    merged["cross_cluster"] = any(p.get("cross_cluster") for p in parts)
    merged["no_pod"] = any(p.get("no_pod") for p in parts)
    responses: dict[tuple[str, str, str], float] = defaultdict(float)
    for p in parts:
        for key, value in (p.get("responses") or {}).items():
            responses[key] += value
    merged["responses"] = dict(responses)
    merged["health"] = traffic_health(
        rps, merged["error_rps"], merged["client_error_rps"], merged["bps"], thresholds
    )
    merged["parts"] = len(parts)
    return merged


def _protocol(parts: Iterable[dict[str, Any]], by_bytes: bool) -> str:
    """The protocol carrying most of the requests (of the bytes when there are none)."""
    carried: Counter[str] = Counter()
    for p in parts:
        carried[p.get("protocol") or "http"] += (p.get("bps") if by_bytes else p.get("rps")) or 0.0
    return min(carried, key=lambda k: (-carried[k], k))


def _mtls(parts: Iterable[dict[str, Any]], by_bytes: bool) -> float | None:
    """The share over the parts that know theirs; None when none does (unknown, never 0)."""
    total = secure = 0.0
    for p in parts:
        share = p.get("mtls")
        weight = (p.get("bps") or 0.0) if by_bytes else (p.get("rps") or 0.0)
        if share is None or weight <= 0:
            continue
        total += weight
        secure += weight * share
    return secure / total if total > 0 else None


def _namespace_node(
    node_id: str, members: list[dict[str, Any]], internal: list[dict[str, Any]]
) -> dict[str, Any]:
    first = members[0]
    states = Counter(m.get("health") or IDLE for m in members)
    rolled = IDLE
    for state in states:
        rolled = worse(rolled, state)
    internal_rps = sum(e.get("rps") or 0.0 for e in internal)
    internal_errors = sum(e.get("error_rps") or 0.0 for e in internal)
    return {
        "id": node_id,
        "kind": NAMESPACE_KIND,
        "cluster": first.get("cluster"),
        "namespace": first.get("namespace"),
        "health": rolled,
        "outsider": all(m.get("outsider") for m in members),
        "members": len(members),
        "members_by_health": {
            s: states.get(s, 0) for s in ("failure", "degraded", "healthy", "idle")
        },
        "rps_internal": internal_rps,
        "error_rate_internal": internal_errors / internal_rps if internal_rps > 0 else 0.0,
    }


def namespace_graph(
    g: nx.DiGraph,
    expand: Iterable[str] = (),
    thresholds: HealthThresholds = HealthThresholds(),  # noqa: B008 - frozen, immutable
) -> nx.DiGraph:
    """The namespace graph of a built (workload) graph; namespaces in `expand` stay open."""
    several = len(g.graph.get("clusters", ())) > 1
    group = _group(g, frozenset(expand), several)
    out = nx.DiGraph(**g.graph)
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for n, d in g.nodes(data=True):
        if group[n] == n:
            out.add_node(n, **d)
        else:
            members[group[n]].append(d)
    parts: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    internal: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s, t, d in g.edges(data=True):
        a, b = group[s], group[t]
        if a == b and a != s:
            internal[a].append(d)
        else:
            parts[a, b].append(d)
    for node_id, found in members.items():
        out.add_node(node_id, **_namespace_node(node_id, found, internal.get(node_id, [])))
    for (a, b), found in parts.items():
        merged = _merge_edge(found, thresholds)
        out.add_edge(a, b, **{**merged, "id": f"{a}->{b}", "source": a, "target": b})
    add_share(out)
    _namespace_rates(out)
    return out


def _namespace_rates(g: nx.DiGraph) -> None:
    """What enters and leaves each namespace node from the other nodes drawn."""
    for n, d in g.nodes(data=True):
        if d.get("kind") != NAMESPACE_KIND:
            continue
        inbound = [e for _, _, e in g.in_edges(n, data=True)]
        rps_in = sum(e.get("rps") or 0.0 for e in inbound)
        d["rps_in"] = rps_in
        d["rps_out"] = sum(e.get("rps") or 0.0 for _, _, e in g.out_edges(n, data=True))
        errors = sum(e.get("error_rps") or 0.0 for e in inbound)
        client = sum(e.get("client_error_rps") or 0.0 for e in inbound)
        d["error_rate_in"] = errors / rps_in if rps_in > 0 else 0.0
        d["error_rate_4xx_in"] = client / rps_in if rps_in > 0 else 0.0


NAMESPACE_FIELDS = ("members", "members_by_health", "rps_internal", "error_rate_internal")


def namespace_fields(g: nx.DiGraph) -> dict[str, dict[str, Any]]:
    """The namespace nodes' own JSON fields (what the graph's node fields do not hold)."""
    out = {}
    for n, d in g.nodes(data=True):
        if d.get("kind") == NAMESPACE_KIND:
            out[n] = {
                "members": d["members"],
                "members_by_health": dict(d["members_by_health"]),
                "rps_internal": round(d["rps_internal"], 6),
                "error_rate_internal": round(d["error_rate_internal"], 8),
            }
    return out
