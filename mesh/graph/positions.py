"""Node positions computed on the server for large graphs, sent as preset positions so the
browser draws at once instead of running a layout for seconds on its main thread.

Nodes are grouped as the page boxes them (dashboards/topology/elements.py): one box per
namespace when several show, inside one box per cluster when several show; namespace nodes and
callers outside the mesh sit outside every box. Each group is laid out alone (a force layout
snapped to a grid; past SPRING_MAX nodes in all, a grid in breadth-first order, because the force
layout costs about 0.1 s per 50-node group and would double a 1,000-workload graph's answer
time), then the groups are packed in rows with a gap, so compound boxes never overlap. The
namespace graph's namespace nodes go on a circle instead: they are joined nearly pair by pair, and
on a ring no edge passes through a node and every label has room.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx

SPACING = 150.0  # px between neighbouring nodes: a node is 34 px and its label wider
GAP = 160.0  # px between nodes of two boxes: both boxes' padding, labels and a title
SPRING_MAX = 300
ASPECT = 2.0  # width over height of the packed boxes: the graph pane is about twice as wide
RING_SPACING = 260.0  # px along the circle between namespace nodes: their two-line labels
SEED = 7

RING = ("", "\0ring")  # the group of the namespace graph's namespace nodes

Point = tuple[float, float]
Box = tuple[float, float]  # width, height


def _group_keys(
    nodes: list[Mapping[str, Any]], several_clusters: bool
) -> dict[str, tuple[str, str]]:
    """(cluster, namespace) box of each node; ("", "") for nodes outside every box."""
    several_ns = len({n.get("namespace") for n in nodes if n.get("namespace")}) > 1
    out: dict[str, tuple[str, str]] = {}
    for n in nodes:
        free = n.get("kind") in ("unknown", "namespace") or n["id"] == "unknown"
        cluster = (n.get("cluster") or "") if several_clusters and not free else ""
        ns = (n.get("namespace") or "") if several_ns and not free else ""
        out[n["id"]] = (cluster, ns)
    return out


def _inner(ids: list[str], edges: list[tuple[str, str]], spring: bool) -> dict[str, Point]:
    """One group's positions, from (0, 0), at least SPACING apart."""
    if len(ids) == 1:
        return {ids[0]: (0.0, 0.0)}
    if not spring:
        return _grid(ids, edges)
    g = nx.Graph()
    g.add_nodes_from(sorted(ids))
    g.add_edges_from(edges)
    raw = nx.spring_layout(g, seed=SEED, iterations=60)
    scale = SPACING * math.sqrt(len(ids)) / 2.0
    return _spread({n: (float(x) * scale, float(y) * scale) for n, (x, y) in raw.items()})


def _ring(ids: list[str]) -> dict[str, Point]:
    """Namespace nodes on an ellipse wider than tall, as the graph pane is (a circle would be
    fitted to the pane's height, its labels too small to draw), in name order, about
    RING_SPACING apart along it."""
    if len(ids) == 1:
        return {ids[0]: (0.0, 0.0)}
    rx = max(RING_SPACING * len(ids) / (2 * math.pi) * 1.1, RING_SPACING * 0.8)
    ry = rx * 0.62
    step = 2 * math.pi / len(ids)
    return {
        n: (rx * math.cos(i * step - math.pi / 2), ry * math.sin(i * step - math.pi / 2))
        for i, n in enumerate(sorted(ids))
    }


def _spread(points: dict[str, Point]) -> dict[str, Point]:
    """Snap a force layout onto a grid of SPACING cells, nearest free cell first, so no two
    nodes (and their labels) land on each other."""
    taken: set[tuple[int, int]] = set()
    out: dict[str, Point] = {}
    for n, (x, y) in sorted(points.items()):
        cx, cy = round(x / SPACING), round(y / SPACING)
        ring = 0
        while True:
            free = [
                (cx + dx, cy + dy)
                for dx in range(-ring, ring + 1)
                for dy in range(-ring, ring + 1)
                if max(abs(dx), abs(dy)) == ring and (cx + dx, cy + dy) not in taken
            ]
            if free:
                cell = min(
                    free, key=lambda c: ((c[0] * SPACING - x) ** 2 + (c[1] * SPACING - y) ** 2, c)
                )
                taken.add(cell)
                out[n] = (cell[0] * SPACING, cell[1] * SPACING)
                break
            ring += 1
    return out


def _grid(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, Point]:
    """A square grid in breadth-first order, so callers sit near their callees."""
    g = nx.Graph()
    g.add_nodes_from(sorted(ids))
    g.add_edges_from(edges)
    order: list[str] = []
    for component in sorted(nx.connected_components(g), key=lambda c: (-len(c), min(c))):
        start = min(component)
        order += [start] + [t for _, t in nx.bfs_edges(g, start, sort_neighbors=sorted)]
    side = math.ceil(math.sqrt(len(order)))
    return {n: ((i % side) * SPACING, (i // side) * SPACING) for i, n in enumerate(order)}


def _bounds(points: Iterable[Point]) -> tuple[float, float, float, float]:
    xs, ys = zip(*points, strict=True)
    return min(xs), min(ys), max(xs), max(ys)


def pack(sizes: Mapping[Any, Box]) -> dict[Any, Point]:
    """Top-left corners for boxes of the given sizes, in rows about ASPECT times as wide as the
    whole is tall, largest first, GAP apart: no two boxes overlap."""
    if not sizes:
        return {}
    area = sum((w + GAP) * (h + GAP) for w, h in sizes.values())
    row_width = max(math.sqrt(area * ASPECT), max(w for w, _ in sizes.values()))
    out: dict[Any, Point] = {}
    x = y = row_h = 0.0
    for key in sorted(sizes, key=lambda k: (-sizes[k][1], -sizes[k][0], str(k))):
        w, h = sizes[key]
        if x > 0 and x + w > row_width:
            x, y, row_h = 0.0, y + row_h + GAP, 0.0
        out[key] = (x, y)
        x += w + GAP
        row_h = max(row_h, h)
    return out


def _place(groups: Mapping[Any, dict[str, Point]]) -> dict[Any, dict[str, Point]]:
    """Move each group's points to its packed place (relative to the group's own corner)."""
    bounds = {k: _bounds(pts.values()) for k, pts in groups.items()}
    corners = pack({k: (b[2] - b[0], b[3] - b[1]) for k, b in bounds.items()})
    return {
        k: {
            n: (x - bounds[k][0] + corners[k][0], y - bounds[k][1] + corners[k][1])
            for n, (x, y) in pts.items()
        }
        for k, pts in groups.items()
    }


def positions(
    nodes: list[Mapping[str, Any]], edges: list[Mapping[str, Any]], several_clusters: bool
) -> dict[str, dict[str, float]]:
    """{node id: {"x", "y"}} for every node, boxes apart; {} for an empty graph."""
    if not nodes:
        return {}
    keys = _group_keys(nodes, several_clusters)
    members: dict[tuple[str, str], list[str]] = defaultdict(list)
    for node_id, key in keys.items():
        members[key].append(node_id)
    inner_edges: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for e in edges:
        s, t = e["source"], e["target"]
        if s in keys and t in keys and keys[s] == keys[t] and s != t:
            inner_edges[keys[s]].append((s, t))
    ring = {n["id"] for n in nodes if n.get("kind") == "namespace"}
    if ring:  # the namespace graph: its namespaces on their own ring, beside the rest
        members[RING] = sorted(ring)
        members[("", "")] = [n for n in members[("", "")] if n not in ring]
    spring = len(nodes) <= SPRING_MAX
    laid = {
        k: _ring(ids) if k == RING else _inner(sorted(ids), inner_edges[k], spring)
        for k, ids in members.items()
        if ids
    }
    # Namespaces inside their cluster first, then the clusters (and the free nodes) side by side.
    by_cluster: dict[str, dict[tuple[str, str], dict[str, Point]]] = defaultdict(dict)
    for key, pts in laid.items():
        by_cluster[key[0] if key != ("", "") else "\0free"][key] = pts
    clusters = {
        c: {n: p for pts in _place(groups).values() for n, p in pts.items()}
        for c, groups in by_cluster.items()
    }
    placed = _place(clusters)
    return {
        n: {"x": round(x, 1), "y": round(y, 1)}
        for pts in placed.values()
        for n, (x, y) in pts.items()
    }
