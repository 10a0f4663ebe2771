"""The topology's legend: every mark the graph draws, explained, and only those it is drawing.

Health colours are always shown; node shapes, borders, boxes and edge styles appear when the
graph holds them (TCP edges, cross-cluster calls, callers from outside the mesh, ...), so the
legend never explains what is not on screen and always explains what is.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from dash import html

from mesh.graph.gateways import is_gateway_node
from presentation import palette

# A node's kind -> (CSS class of its swatch, words). Shapes as elements.py's stylesheet draws.
NODE_SHAPES: dict[str, tuple[str, str]] = {
    "workload": ("md-lg-circle", "Workload"),
    "app": ("md-lg-roundrect", "App"),
    "service": ("md-lg-triangle", "Service"),
    "unknown": ("md-lg-diamond", "Caller outside the mesh (unknown)"),
}


@dataclass(frozen=True, slots=True)
class LegendFacts:
    """What the graph on screen holds, as far as the legend cares."""

    kinds: frozenset[str] = frozenset()  # of the nodes drawn plain (not gateway or waypoint)
    service_graph: bool = False
    gateway: bool = False
    waypoint: bool = False
    outsider: bool = False
    several_namespaces: bool = False
    several_clusters: bool = False
    edges: bool = False
    tcp: bool = False
    cross_cluster: bool = False
    security: bool = False
    mtls_unknown: bool = False


def legend_facts(
    graph: dict[str, Any] | None, security: bool = False, waypoints: bool = False
) -> LegendFacts:
    """Read the graph view's JSON (None: nothing drawn yet) and the display toggles."""
    if not graph:
        return LegendFacts(security=security)
    nodes, edges = graph.get("nodes") or [], graph.get("edges") or []
    namespaces = {n.get("namespace") for n in nodes if n.get("namespace")}
    return LegendFacts(
        kinds=frozenset(
            n.get("kind") or "workload"
            for n in nodes
            if not (n.get("waypoint") or is_gateway_node(n))
        ),
        service_graph=graph.get("graph") == "service",
        gateway=any(is_gateway_node(n) for n in nodes),
        waypoint=waypoints and any(n.get("waypoint") for n in nodes),
        outsider=any(n.get("outsider") for n in nodes),
        several_namespaces=len(namespaces) > 1,
        several_clusters=len(set(graph.get("clusters") or [])) > 1,
        edges=bool(edges),
        tcp=any(e.get("protocol") == "tcp" for e in edges),
        cross_cluster=any(e.get("cross_cluster") for e in edges),
        security=security,
        mtls_unknown=security and any(e.get("mtls") is None for e in edges),
    )


def graph_facts(graph: dict[str, Any] | None) -> dict[str, Any]:
    """The facts that depend on the graph only, as JSON for the page's small Store
    (dashboards/topology/graph_store.py); `facts_of` applies the display toggles."""
    facts = legend_facts(graph, security=True, waypoints=True)
    out = {f.name: getattr(facts, f.name) for f in fields(LegendFacts)}
    return {**out, "kinds": sorted(facts.kinds)}


def facts_of(stored: dict[str, Any] | None, security: bool, waypoints: bool) -> LegendFacts:
    """legend_facts of the graph `graph_facts` read, under these display toggles."""
    if not stored:
        return LegendFacts(security=security)
    return LegendFacts(
        **{
            **stored,
            "kinds": frozenset(stored["kinds"]),
            "security": security,
            "waypoint": waypoints and stored["waypoint"],
            "mtls_unknown": security and stored["mtls_unknown"],
        }
    )


def _item(swatch: Any, words: str, title: str | None = None, **kw: Any) -> html.Span:
    return html.Span([swatch, words], className="md-legend-item", title=title, **kw)


def _group(name: str, items: list[html.Span]) -> html.Div:
    return html.Div(
        [html.Span(name, className="md-legend-group-name"), *items],
        className="md-legend-group",
    )


def _health() -> html.Div:
    items = [
        _item(html.I(className="md-lg-health", style={"borderColor": c}), palette.HEALTH_LABELS[h])
        for h, c in palette.HEALTH_COLORS.items()
    ]
    return _group("Health (border, line)", items)


def _nodes(f: LegendFacts) -> html.Div | None:
    words = dict(NODE_SHAPES)
    if not f.service_graph:  # outside the service graph, a service node is a lost request
        words["service"] = ("md-lg-triangle", "Service: requests that reached no pod")
    items = [
        _item(html.B(className=f"md-lg-shape {css}"), text, id=f"topo-legend-{kind}")
        for kind, (css, text) in words.items()
        if kind in f.kinds
    ]

    if f.gateway:
        items.append(
            _item(
                html.B(className="md-lg-shape md-lg-pentagon"),
                "Gateway",
                "Named as Istio names its gateways (istio-ingressgateway, *-egressgateway, "
                "Gateway API's <name>-istio)",
            )
        )
    if f.waypoint:
        items.append(
            _item(
                html.B(className="md-legend-waypoint"),
                "Waypoint proxy",
                "An ambient waypoint proxy (L7 for the services it serves); its edges are "
                "ztunnel's L4 bytes to and from its own pods",
                id="topo-legend-waypoint",
            )
        )
    if f.outsider:
        items.append(
            _item(
                html.B(className="md-lg-shape md-lg-circle md-lg-dashed"),
                "Dashed border: in a namespace not chosen",
                "It calls into the chosen namespaces, or they call it",
                id="topo-legend-outsider",
            )
        )
    if f.several_namespaces:
        items.append(_item(html.B(className="md-lg-box"), "Box: namespace"))
    if f.several_clusters:
        items.append(_item(html.B(className="md-lg-box md-lg-cluster-box"), "Blue box: cluster"))
    return _group("Nodes", items) if items else None


def _edges(f: LegendFacts) -> html.Div | None:
    if not f.edges:
        return None
    items = [
        _item(
            html.B(className="md-lg-width"),
            "Thicker: more requests/s",
            "Edge width grows with the edge's request rate, relative to the busiest edge",
        ),
        _item(html.B(className="md-lg-line"), "HTTP, gRPC"),
    ]
    if f.tcp:
        items.append(
            _item(
                html.B(className="md-lg-line md-lg-tcp"),
                "TCP (label: bytes/s)",
                id="topo-legend-tcp",
            )
        )
    if f.cross_cluster:
        items.append(
            _item(
                html.B(className="md-legend-dash"),
                "Cross-cluster call",
                "Long dashes and a hollow arrow head: the caller and callee sit in different "
                "clusters",
                id="topo-legend-cross",
            )
        )
    if f.security:
        items.append(
            _item(
                html.B(className="md-legend-dotted"),
                "Plain text (no mTLS) · solid: all mTLS",
                "Share of the edge's requests (bytes for TCP) its destination received "
                "without mutual TLS; 'mTLS unknown' where no destination report says",
                id="topo-legend-plaintext",
            )
        )
    if f.mtls_unknown:
        items.append(
            _item(
                html.B(className="md-lg-line"),
                "'mTLS unknown': no destination report",
                "The callee's proxy did not report (no sidecar, or no pod): never drawn as secure",
            )
        )
    return _group("Edges", items)


def legend(f: LegendFacts) -> list:
    """The legend's groups, for the `topo-legend` container."""
    return [g for g in (_health(), _nodes(f), _edges(f)) if g is not None]
