"""Turn the graph view's JSON into cytoscape elements and stylesheet; pure data in, data out."""

from __future__ import annotations

import math
from typing import Any

from mesh.graph.gateways import is_gateway_node
from presentation import numbers as fmt
from presentation import palette

# What of a node or an edge the browser holds: what the stylesheet, a tap (the side panel asks
# the server for the rest) and assets/topology_scale.js read. Every figure and list a graph
# answer carries, sent for all 5,000 elements of a large graph, was most of its 2.7 MB.
NODE_DATA = ("id", "kind", "namespace", "cluster", "health")
EDGE_DATA = ("source", "target", "protocol", "health", "rps")

EDGE_LABELS: dict[str, str] = {
    "rps": "Request rate",
    "share": "% of caller's traffic",
    "p95": "p95 latency",
    "none": "No labels",
}


def node_label(node: dict[str, Any], view: str, several_namespaces: bool) -> str:
    if node.get("kind") == "unknown" or node["id"] == "unknown":
        return "unknown (outside mesh)"
    if view == "workload":
        name = node.get("workload") or node.get("service") or node["id"]
    elif view == "versioned-app":
        name = f"{node.get('app') or node.get('service')} {node.get('version') or ''}".strip()
    elif view == "service":
        name = node.get("service") or node.get("app") or node["id"]
    else:
        name = node.get("app") or node.get("service") or node["id"]
    if node.get("outsider") and not several_namespaces:
        return f"{name}\n{node.get('namespace', '')}"
    return name  # with several namespaces, the node's box names its namespace


def edge_texts(edge: dict[str, Any]) -> dict[str, str]:
    if edge.get("protocol") == "tcp":
        traffic = fmt.bytes_per_s(edge.get("bps"))
        return {"label_rps": traffic, "label_share": traffic, "label_p95": traffic}
    share = edge.get("share")
    return {
        "label_rps": fmt.rps(edge.get("rps")),
        "label_share": "–" if share is None else f"{share * 100:.0f}%",
        "label_p95": fmt.ms(edge.get("p95_ms")),
    }


def security_class(edge: dict[str, Any]) -> str:
    """How the edge travels: all over mutual TLS, partly or wholly in plain text, or unknown
    (no destination report says): unknown is never drawn as secure."""
    share = edge.get("mtls")
    if share is None:
        return "mtls-unknown"
    return "mtls-full" if share >= 1.0 else "plaintext"


def security_text(edge: dict[str, Any]) -> str:
    """The edge's security label under the Security display: only what needs a look."""
    share = edge.get("mtls")
    if share is None:
        return "mTLS unknown"
    if share >= 1.0:
        return ""
    plain = 1.0 - share
    return "plain text" if plain >= 0.995 else f"{plain * 100:.0f}% plain text"


def _width(rps: float | None, top: float) -> float:
    if not rps or rps <= 0 or top <= 0:
        return 1.5
    return round(1.5 + 4.5 * math.log1p(rps) / math.log1p(top), 2)


def _boxes(
    nodes: list[dict[str, Any]], all_clusters: list[str]
) -> tuple[list[dict[str, Any]], dict[str, str], bool]:
    """Compound boxes: one per cluster when the graph spans several, each holding one box per
    namespace when several namespaces are shown; nodes without a cluster (callers outside the
    mesh) sit outside every cluster box. Returns (boxes, parent box by node id, several
    namespaces).

    Whether there are cluster boxes follows `all_clusters` (every cluster the answer knows,
    also those a filter hides or whose Prometheus is down), not the nodes drawn: cytoscape drops
    a box's children with the box, so a node must keep its box from one refresh to the next."""
    clusters = sorted({n.get("cluster") for n in nodes if n.get("cluster")})
    multi = len(set(all_clusters) | set(clusters)) > 1
    namespaces = sorted({n.get("namespace") for n in nodes if n.get("namespace")})
    several = len(namespaces) > 1
    boxes: list[dict[str, Any]] = [
        {
            "data": {"id": f"cl:{c}", "label": f"cluster {c}", "kind": "cluster", "cluster": c},
            "classes": "cluster",
        }
        for c in (clusters if multi else [])
    ]
    seen: set[str] = set()
    parent: dict[str, str] = {}
    for node in nodes:
        ns, cluster = node.get("namespace"), node.get("cluster") if multi else ""
        cluster_box = f"cl:{cluster}" if cluster else ""
        if several and ns:
            box = f"ns:{cluster}:{ns}" if cluster else f"ns:{ns}"
            if box not in seen:
                seen.add(box)
                data = {"id": box, "label": ns, "kind": "namespace"}
                if cluster_box:
                    data["parent"] = cluster_box
                boxes.append({"data": data, "classes": "namespace"})
            parent[node["id"]] = box
        elif cluster_box:
            parent[node["id"]] = cluster_box
    return boxes, parent, several


def elements(
    graph: dict[str, Any], highlight: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Cytoscape elements; clusters and namespaces become compound boxes when more than one
    is shown, and calls between clusters carry the `cross-cluster` class."""
    nodes = graph.get("nodes", [])
    edges = graph.get("edges", [])
    out, parents, several = _boxes(nodes, list(graph.get("clusters") or []))
    for node in nodes:
        data = {k: node[k] for k in NODE_DATA if node.get(k) not in (None, "")}
        data["label"] = node_label(node, graph.get("graph", "workload"), several)
        if node["id"] in parents:
            data["parent"] = parents[node["id"]]
        classes = [node.get("health", "idle"), node.get("kind", "workload")]
        if node.get("outsider"):
            classes.append("outsider")
        if node.get("waypoint"):
            classes.append("waypoint")
        elif is_gateway_node(node):
            classes.append("gateway")
        if highlight:
            classes.append("path" if node["id"] in highlight else "faded")
        out.append({"data": data, "classes": " ".join(classes)})
    top = max((e.get("rps") or 0 for e in edges), default=0)
    for edge in edges:
        data = {k: edge[k] for k in EDGE_DATA if edge.get(k) is not None}
        data["id"] = f"{edge['source']}->{edge['target']}"
        data.update(edge_texts(edge))
        data["label_security"] = security_text(edge)
        secure = security_class(edge)
        if secure != "mtls-full":  # only these edges' labels say it (security_style)
            for field in ("label_rps", "label_share", "label_p95"):
                data[f"{field}_security"] = " · ".join(
                    t for t in (data[field], data["label_security"]) if t
                )
        data["width"] = _width(edge.get("rps"), top)
        classes = [edge.get("health", "idle"), edge.get("protocol", "http"), secure]
        if edge.get("cross_cluster"):
            classes.append("cross-cluster")
        if highlight:
            on_path = edge["source"] in highlight and edge["target"] in highlight
            classes.append("path" if on_path else "faded")
        out.append({"data": data, "classes": " ".join(classes)})
    return out


def security_style(label_field: str | None) -> list[dict[str, Any]]:
    """The Security display: plain-text edges dotted, with their plain-text share added to the
    chosen edge label; full mTLS stays solid; unknown (no destination report) is said, never
    drawn as secure. Health colours stay as they are."""
    text = f"data({label_field}_security)" if label_field else "data(label_security)"
    return [
        {"selector": "edge.plaintext", "style": {"line-style": "dotted", "font-weight": "bold"}},
        {"selector": "edge.plaintext, edge.mtls-unknown", "style": {"label": text}},
    ]


def _base_style() -> list[dict[str, Any]]:
    """Shapes and lines by kind of node and edge, before health colours and labels."""
    return [
        {
            "selector": "node",
            "style": {
                "label": "data(label)",
                "text-wrap": "wrap",
                "text-valign": "bottom",
                "text-margin-y": 6,
                "font-size": 12,
                "font-family": "Inter, Segoe UI, Helvetica, Arial, sans-serif",
                "color": "#1f2933",
                "text-background-color": "#ffffff",
                "text-background-opacity": 0.85,
                "text-background-padding": 2,
                "width": 34,
                "height": 34,
                "background-color": "#ffffff",
                "border-width": 4,
                "border-color": palette.HEALTH_COLORS["idle"],
            },
        },
        {"selector": "node.app", "style": {"shape": "round-rectangle"}},
        {"selector": "node.service", "style": {"shape": "round-triangle", "width": 38}},
        {"selector": "node.unknown", "style": {"shape": "diamond", "background-color": "#eef1f4"}},
        # Where traffic enters or leaves the mesh (mesh/graph/gateways.py): a pentagon.
        {
            "selector": "node.gateway",
            "style": {"shape": "round-pentagon", "background-color": "#e3ecfa", "width": 38},
        },
        {"selector": "node.outsider", "style": {"border-style": "dashed"}},
        # An ambient waypoint proxy: infrastructure, not an application (views/graph.py marks it).
        {
            "selector": "node.waypoint",
            "style": {"shape": "hexagon", "background-color": "#e6e0f3", "width": 30, "height": 30},
        },
        {
            "selector": "node.namespace",
            "style": {
                "shape": "round-rectangle",
                "background-color": "#f4f6f8",
                "background-opacity": 0.6,
                "border-width": 1,
                "border-color": "#c3cad1",
                "border-style": "solid",
                "text-valign": "top",
                "text-halign": "center",
                "text-margin-y": -4,
                "font-size": 13,
                "font-weight": "bold",
                "color": "#52606d",
                "padding": 18,
                # Boxes take no taps: cytoscape would bubble a child's tap up to its box.
                "events": "no",
            },
        },
        {
            "selector": "edge",
            "style": {
                "curve-style": "bezier",
                "target-arrow-shape": "triangle",
                "arrow-scale": 1.1,
                "width": "data(width)",
                "line-color": palette.HEALTH_COLORS["idle"],
                "target-arrow-color": palette.HEALTH_COLORS["idle"],
                "font-size": 10,
                "color": "#323f4b",
                "text-rotation": "autorotate",
                "text-background-color": "#ffffff",
                "text-background-opacity": 0.9,
                "text-background-padding": 2,
            },
        },
        {
            "selector": "node.cluster",
            "style": {
                "shape": "round-rectangle",
                "background-color": "#e8f0fe",
                "background-opacity": 0.45,
                "border-width": 2,
                "border-color": "#7a9cc6",
                "border-style": "solid",
                "text-valign": "top",
                "text-halign": "center",
                "text-margin-y": -4,
                "font-size": 14,
                "font-weight": "bold",
                "color": "#1a3a7a",
                "text-background-color": "#ffffff",
                "text-background-opacity": 0.9,
                "text-background-padding": 3,
                "padding": 22,
                "events": "no",
            },
        },
        {"selector": "edge.tcp", "style": {"line-style": "dashed"}},
        # Calls between clusters: long dashes (TCP's are short) and a hollow arrow head, so they
        # read as different whatever the health colour.
        {
            "selector": "edge.cross-cluster",
            "style": {
                "line-style": "dashed",
                "line-dash-pattern": [10, 5],
                "target-arrow-fill": "hollow",
            },
        },
    ]


def _highlight_style() -> list[dict[str, Any]]:
    """Drawn over everything: faded, a highlighted path, the selection."""
    return [
        {"selector": ".faded", "style": {"opacity": 0.25}},
        {
            "selector": "node.path",
            "style": {
                "underlay-color": palette.ACCENT,
                "underlay-opacity": 0.25,
                "underlay-padding": 8,
            },
        },
        {
            "selector": "edge.path",
            "style": {"line-color": palette.ACCENT, "target-arrow-color": palette.ACCENT},
        },
        {
            "selector": ":selected",
            "style": {
                "overlay-color": palette.ACCENT,
                "overlay-opacity": 0.18,
                "overlay-padding": 6,
            },
        },
    ]


def stylesheet(edge_label: str, security: bool = False) -> list[dict[str, Any]]:
    label_field = {"rps": "label_rps", "share": "label_share", "p95": "label_p95"}.get(edge_label)
    style = _base_style()
    for health, colour in palette.HEALTH_COLORS.items():
        style.append({"selector": f"node.{health}", "style": {"border-color": colour}})
        style.append(
            {
                "selector": f"edge.{health}",
                "style": {"line-color": colour, "target-arrow-color": colour},
            }
        )
    if label_field:
        style.append({"selector": "edge", "style": {"label": f"data({label_field})"}})
    if security:
        style += security_style(label_field)
    return style + _highlight_style()
