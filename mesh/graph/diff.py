"""What the canary changed in the mesh: the traffic graph before it started against the graph now.

Pure: takes two graphs as mesh.graph.build.graph_json returns them (the same JSON /api/graph
answers) and lists the nodes and edges that appeared, disappeared, or changed by more than a
threshold in request rate, error rate or p95 latency. A new version that calls a service the
old one never called (reviews-v2 -> ratings) shows up as an appeared edge; a version that got
slower shows as a changed p95 on the edges into it.

An element "carries traffic" in a window when it moved at least `min_rps` requests per second
(or any TCP bytes): a graph can list an edge with a rate of zero, and a trickle below the floor
is noise, not a dependency.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mesh.errors import BadRequest


class Change(StrEnum):
    APPEARED = "appeared"
    DISAPPEARED = "disappeared"
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class DiffThresholds:
    """How big a change must be to be listed.

    rps_ratio: relative change in request rate against the rate before (0.25: up or down by a
        quarter or more; 2 to 2.5 rps counts, 2 to 2.4 or 2 to 1.6 does not). Sampling noise in
        a short window is around 5-10%.
    error_rate_pts: absolute change in the 5xx ratio (0.01 = one percentage point).
    p95_ratio and p95_min_ms: p95 moved by this fraction AND by at least this many ms (a 1 ms
        hop that becomes 2 ms is +100% but nobody's problem).
    min_rps: below this an element carries no traffic (see the module docstring).
    """

    rps_ratio: float = 0.25
    error_rate_pts: float = 0.01
    p95_ratio: float = 0.5
    p95_min_ms: float = 5.0
    min_rps: float = 0.01

    def __post_init__(self) -> None:
        for name in ("rps_ratio", "error_rate_pts", "p95_ratio", "p95_min_ms", "min_rps"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise BadRequest(f"{name} must be a non-negative number; got {value!r}", field=name)


@dataclass(frozen=True, slots=True)
class MetricDelta:
    metric: str  # "rps", "error_rate" or "p95_ms"
    before: float | None
    after: float | None
    significant: bool  # crossed its threshold

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def ratio(self) -> float | None:
        """Relative change (after / before - 1); None when before is 0 or missing."""
        if self.before is None or self.after is None or self.before == 0:
            return None
        return self.after / self.before - 1.0

    @property
    def worse(self) -> bool:
        """More errors or more latency is worse; a rate change is neither."""
        d = self.delta
        return self.metric in ("error_rate", "p95_ms") and d is not None and d > 0


@dataclass(frozen=True, slots=True)
class ElementDiff:
    kind: str  # "node" or "edge"
    id: str
    label: str  # "reviews-v2 → ratings-v1"
    change: Change
    metrics: tuple[MetricDelta, ...]

    @property
    def significant(self) -> tuple[MetricDelta, ...]:
        return tuple(m for m in self.metrics if m.significant)

    @property
    def worse(self) -> bool:
        return any(m.worse for m in self.significant)


@dataclass(frozen=True, slots=True)
class GraphDiff:
    elements: tuple[ElementDiff, ...]  # appeared, then disappeared, then changed
    unchanged_nodes: int
    unchanged_edges: int
    thresholds: DiffThresholds

    def of(self, change: Change, kind: str | None = None) -> tuple[ElementDiff, ...]:
        return tuple(
            e for e in self.elements if e.change is change and (kind is None or e.kind == kind)
        )


Graph = Mapping[str, Sequence[Mapping[str, Any]]]  # {"nodes": [...], "edges": [...]}


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def node_label(node: Mapping[str, Any], home: str | None = None) -> str:
    """A node as a person names it: the workload (or app, version, service), with its
    namespace when that is not the one under review."""
    if node.get("kind") == "unknown":
        return "unknown (outside the mesh)"
    name = node.get("workload") or ""
    if not name:
        app, version = node.get("app") or "", node.get("version") or ""
        name = f"{app} {version}".strip() if app else node.get("service") or node.get("id", "")
    ns = node.get("namespace") or ""
    return f"{name} ({ns})" if ns and home and ns != home else str(name)


def _node_rps(node: Mapping[str, Any]) -> float:
    """Traffic through a node: what it receives, or for a pure caller (the ingress) what it sends."""
    rps_in = _num(node.get("rps_in")) or 0.0
    return rps_in if rps_in > 0 else (_num(node.get("rps_out")) or 0.0)


def _carries(rps: float, bps: float | None, t: DiffThresholds) -> bool:
    return rps >= t.min_rps or (bps or 0.0) > 0


def _rps_delta(before: float | None, after: float | None, t: DiffThresholds) -> MetricDelta:
    significant = False
    if before is not None and after is not None:
        moved = max(before, after) >= t.min_rps
        significant = moved and (before == 0 or abs(after / before - 1.0) >= t.rps_ratio)
    return MetricDelta("rps", before, after, significant)


def _error_delta(before: float | None, after: float | None, t: DiffThresholds) -> MetricDelta:
    significant = (
        before is not None and after is not None and abs(after - before) >= t.error_rate_pts
    )
    return MetricDelta("error_rate", before, after, significant)


def _p95_delta(before: float | None, after: float | None, t: DiffThresholds) -> MetricDelta:
    significant = False
    if before is not None and after is not None and before > 0:
        moved = abs(after - before)
        significant = moved >= t.p95_min_ms and moved / before >= t.p95_ratio
    return MetricDelta("p95_ms", before, after, significant)


def _edge_metrics(
    b: Mapping[str, Any] | None, a: Mapping[str, Any] | None, t: DiffThresholds
) -> tuple[MetricDelta, ...]:
    def get(side, key):
        return None if side is None else _num(side.get(key))

    return (
        _rps_delta(get(b, "rps"), get(a, "rps"), t),
        _error_delta(get(b, "error_rate"), get(a, "error_rate"), t),
        _p95_delta(get(b, "p95_ms"), get(a, "p95_ms"), t),
    )


def _node_metrics(
    b: Mapping[str, Any] | None, a: Mapping[str, Any] | None, t: DiffThresholds
) -> tuple[MetricDelta, ...]:
    rps_b = None if b is None else _node_rps(b)
    rps_a = None if a is None else _node_rps(a)
    err_b = None if b is None else _num(b.get("error_rate_in"))
    err_a = None if a is None else _num(a.get("error_rate_in"))
    # A node's inbound error rate only means something when it receives traffic.
    if b is not None and not (_num(b.get("rps_in")) or 0.0) > 0:
        err_b = None
    if a is not None and not (_num(a.get("rps_in")) or 0.0) > 0:
        err_a = None
    return (_rps_delta(rps_b, rps_a, t), _error_delta(err_b, err_a, t))


def _classify(
    carried_before: bool, carried_after: bool, metrics: tuple[MetricDelta, ...]
) -> Change | None:
    if carried_after and not carried_before:
        return Change.APPEARED
    if carried_before and not carried_after:
        return Change.DISAPPEARED
    if carried_before and any(m.significant for m in metrics):
        return Change.CHANGED
    return None


def _order(e: ElementDiff) -> tuple:
    rank = {Change.APPEARED: 0, Change.DISAPPEARED: 1, Change.CHANGED: 2}[e.change]
    rps = next((m for m in e.metrics if m.metric == "rps"), None)
    size = max((rps.before or 0.0, rps.after or 0.0)) if rps else 0.0
    return (rank, e.kind != "edge", not e.worse, -size, e.label)


def diff_graphs(
    before: Graph,
    after: Graph,
    thresholds: DiffThresholds | None = None,
    home_namespace: str | None = None,
) -> GraphDiff:
    """Compare two graph_json bodies of the same view; see the module docstring."""
    t = thresholds or DiffThresholds()
    nodes_b = {n["id"]: n for n in before.get("nodes", ())}
    nodes_a = {n["id"]: n for n in after.get("nodes", ())}
    labels = {
        node_id: node_label(n, home_namespace) for node_id, n in {**nodes_b, **nodes_a}.items()
    }
    out: list[ElementDiff] = []
    unchanged_nodes = unchanged_edges = 0

    edges_b = {(e["source"], e["target"]): e for e in before.get("edges", ())}
    edges_a = {(e["source"], e["target"]): e for e in after.get("edges", ())}
    touched_b: set[str] = set()  # nodes at either end of an edge carrying traffic
    touched_a: set[str] = set()
    for key in sorted(set(edges_b) | set(edges_a)):
        b, a = edges_b.get(key), edges_a.get(key)
        metrics = _edge_metrics(b, a, t)
        carried_b = b is not None and _carries(_num(b.get("rps")) or 0.0, _num(b.get("bps")), t)
        carried_a = a is not None and _carries(_num(a.get("rps")) or 0.0, _num(a.get("bps")), t)
        if carried_b:
            touched_b.update(key)
        if carried_a:
            touched_a.update(key)
        change = _classify(carried_b, carried_a, metrics)
        if change is None:
            unchanged_edges += carried_b or carried_a
            continue
        source, target = key
        label = f"{labels.get(source, source)} → {labels.get(target, target)}"
        out.append(ElementDiff("edge", f"{source}->{target}", label, change, metrics))

    for node_id in sorted(set(nodes_b) | set(nodes_a)):
        b, a = nodes_b.get(node_id), nodes_a.get(node_id)
        metrics = _node_metrics(b, a, t)
        # TCP-only nodes have no request rate: they carry traffic through their edges' bytes.
        carried_b = b is not None and (_node_rps(b) >= t.min_rps or node_id in touched_b)
        carried_a = a is not None and (_node_rps(a) >= t.min_rps or node_id in touched_a)
        change = _classify(carried_b, carried_a, metrics)
        if change is None:
            unchanged_nodes += carried_b or carried_a
            continue
        out.append(ElementDiff("node", node_id, labels[node_id], change, metrics))

    out.sort(key=_order)
    return GraphDiff(tuple(out), unchanged_nodes, unchanged_edges, t)


def _metric_json(m: MetricDelta) -> dict[str, Any]:
    return {
        "metric": m.metric,
        "before": m.before,
        "after": m.after,
        "delta": m.delta,
        "ratio": m.ratio,
        "significant": m.significant,
        "worse": m.worse,
    }


def diff_json(diff: GraphDiff) -> dict[str, Any]:
    """JSON-ready: every listed element with all its metrics, and the thresholds used."""
    t = diff.thresholds
    return {
        "elements": [
            {
                "kind": e.kind,
                "id": e.id,
                "label": e.label,
                "change": e.change.value,
                "worse": e.worse,
                "metrics": [_metric_json(m) for m in e.metrics],
            }
            for e in diff.elements
        ],
        "counts": {
            change.value: {
                "nodes": len(diff.of(change, "node")),
                "edges": len(diff.of(change, "edge")),
            }
            for change in Change
        },
        "unchanged": {"nodes": diff.unchanged_nodes, "edges": diff.unchanged_edges},
        "thresholds": {
            "rps_ratio": t.rps_ratio,
            "error_rate_pts": t.error_rate_pts,
            "p95_ratio": t.p95_ratio,
            "p95_min_ms": t.p95_min_ms,
            "min_rps": t.min_rps,
        },
    }
