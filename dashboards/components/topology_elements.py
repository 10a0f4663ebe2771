"""Turn the graph view's JSON into cytoscape elements and stylesheet; pure data in, data out."""

from __future__ import annotations

import math
from typing import Any

from dashboards.components import format as fmt

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
    if several_namespaces or node.get("outsider"):
        return f"{name}\n{node.get('namespace', '')}"
    return name


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


def _width(rps: float | None, top: float) -> float:
    if not rps or rps <= 0 or top <= 0:
        return 1.5
    return round(1.5 + 4.5 * math.log1p(rps) / math.log1p(top), 2)


def elements(
    graph: dict[str, Any], highlight: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Cytoscape elements; namespaces become compound boxes when more than one is shown."""
    nodes = graph.get("nodes", [])
    edges = graph.get("edges", [])
    namespaces = sorted({n.get("namespace") for n in nodes if n.get("namespace")})
    several = len(namespaces) > 1
    out: list[dict[str, Any]] = []
    if several:
        out += [
            {"data": {"id": f"ns:{ns}", "label": ns, "kind": "namespace"}, "classes": "namespace"}
            for ns in namespaces
        ]
    for node in nodes:
        data = {k: v for k, v in node.items() if v is not None}
        data["label"] = node_label(node, graph.get("graph", "workload"), several)
        if several and node.get("namespace"):
            data["parent"] = f"ns:{node['namespace']}"
        classes = [node.get("health", "idle"), node.get("kind", "workload")]
        if node.get("outsider"):
            classes.append("outsider")
        if highlight:
            classes.append("path" if node["id"] in highlight else "faded")
        out.append({"data": data, "classes": " ".join(classes)})
    top = max((e.get("rps") or 0 for e in edges), default=0)
    for edge in edges:
        data = {k: v for k, v in edge.items() if v is not None}
        data["id"] = f"{edge['source']}->{edge['target']}"
        data.update(edge_texts(edge))
        data["width"] = _width(edge.get("rps"), top)
        classes = [edge.get("health", "idle"), edge.get("protocol", "http")]
        if highlight:
            on_path = edge["source"] in highlight and edge["target"] in highlight
            classes.append("path" if on_path else "faded")
        out.append({"data": data, "classes": " ".join(classes)})
    return out


def stylesheet(edge_label: str) -> list[dict[str, Any]]:
    label_field = {"rps": "label_rps", "share": "label_share", "p95": "label_p95"}.get(edge_label)
    style: list[dict[str, Any]] = [
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
                "border-color": fmt.HEALTH_COLORS["idle"],
            },
        },
        {"selector": "node.app", "style": {"shape": "round-rectangle"}},
        {"selector": "node.service", "style": {"shape": "round-triangle", "width": 38}},
        {"selector": "node.unknown", "style": {"shape": "diamond", "background-color": "#eef1f4"}},
        {"selector": "node.outsider", "style": {"border-style": "dashed"}},
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
                "line-color": fmt.HEALTH_COLORS["idle"],
                "target-arrow-color": fmt.HEALTH_COLORS["idle"],
                "font-size": 10,
                "color": "#323f4b",
                "text-rotation": "autorotate",
                "text-background-color": "#ffffff",
                "text-background-opacity": 0.9,
                "text-background-padding": 2,
            },
        },
        {"selector": "edge.tcp", "style": {"line-style": "dashed"}},
    ]
    for health, colour in fmt.HEALTH_COLORS.items():
        style.append({"selector": f"node.{health}", "style": {"border-color": colour}})
        style.append(
            {
                "selector": f"edge.{health}",
                "style": {"line-color": colour, "target-arrow-color": colour},
            }
        )
    if label_field:
        style.append({"selector": "edge", "style": {"label": f"data({label_field})"}})
    style += [
        {"selector": ".faded", "style": {"opacity": 0.25}},
        {
            "selector": "node.path",
            "style": {"underlay-color": "#1e66f5", "underlay-opacity": 0.25, "underlay-padding": 8},
        },
        {
            "selector": "edge.path",
            "style": {"line-color": "#1e66f5", "target-arrow-color": "#1e66f5"},
        },
        {
            "selector": ":selected",
            "style": {"overlay-color": "#1e66f5", "overlay-opacity": 0.18, "overlay-padding": 6},
        },
    ]
    return style
