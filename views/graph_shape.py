"""The graph's views for big meshes, in the order they apply: the namespace graph (also when the
mesh is above the opening threshold), focus, hide, quiet edges, then find; and the server's
positions for large graphs. The rules live in mesh/graph/; this module only chains them and
says in the answer what was done, so /api/graph and the topology page agree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

from mesh.graph.find_hide import Expression, found, hidden, without_quiet_edges
from mesh.graph.focus import focused
from mesh.graph.namespace_view import namespace_fields, namespace_graph
from mesh.graph.positions import positions
from mesh.health import HealthThresholds

# Graphs with more edges than this many times graph_server_layout_above are laid out on the
# server too, whatever their node count.
EDGES_PER_NODE = 4


@dataclass(frozen=True, slots=True)
class GraphShape:
    """What of the built graph to show; the default shows it all, as built."""

    shaped: bool = False  # the caller reads these parameters (/api/graph, the topology page)
    namespace_graph: bool = False  # graph=namespace
    auto: bool = False  # no graph= given: the namespace graph when the mesh is too big
    expand: tuple[str, ...] = ()  # namespaces shown workload by workload in the namespace graph
    find: Expression | None = None
    hide: Expression | None = None
    focus: str | None = None  # a node id
    hops: int = 1
    hide_edges: tuple[str, ...] = ()  # edge health states not drawn: idle, healthy


def apply_shape(
    g: nx.DiGraph, shape: GraphShape, settings: Any, thresholds: HealthThresholds
) -> tuple[nx.DiGraph, dict[str, Any]]:
    """The graph to draw and the answer's fields saying how it was made."""
    if not shape.shaped:
        return g, {}
    fields: dict[str, Any] = {"opened_as_namespace_graph": None}
    as_namespaces = shape.namespace_graph
    limit = int(settings.graph_namespace_above)
    if shape.auto and g.number_of_nodes() > limit:
        as_namespaces = True
        fields["opened_as_namespace_graph"] = {
            "nodes": g.number_of_nodes(),
            "threshold": limit,
            "reason": f"{g.number_of_nodes():,} nodes is more than the {limit:,} a readable "
            "workload graph holds (MESHDASH_GRAPH_NAMESPACE_ABOVE)",
        }
    if as_namespaces:
        g = namespace_graph(g, shape.expand, thresholds)
        fields["graph"] = "namespace"
    fields["expand"] = list(shape.expand) if as_namespaces else []
    fields["focus"] = None
    if shape.focus:
        fields["focus"] = {"node": shape.focus, "hops": shape.hops, "found": shape.focus in g}
        g = focused(g, shape.focus, shape.hops)
    fields["hide"] = shape.hide.text if shape.hide else None
    if shape.hide:
        g = hidden(g, shape.hide)
    fields["hide_edges"] = list(shape.hide_edges)
    g = without_quiet_edges(g, shape.hide_edges)
    fields["find"] = None
    if shape.find:
        nodes, edges = found(g, shape.find)
        fields["find"] = {
            "expression": shape.find.text,
            "nodes": sorted(nodes),
            "edges": [{"source": s, "target": t} for s, t in sorted(edges)],
        }
    return g, fields


def shaped_json(
    g: nx.DiGraph, body: dict[str, Any], fields: dict[str, Any], settings: Any
) -> dict[str, Any]:
    """graph_json's nodes and edges with the namespace nodes' own fields, and `shape`: the
    fields above plus `positions` ({id: {x, y}}) when the browser should not lay the graph out
    itself (None otherwise): it is large, or its edges are (a layered layout's time grows with
    them: 1.5-2.5 s in the browser for a 20-namespace graph's 297 edges), or it is the namespace
    graph, whose few nodes are joined nearly pair by pair."""
    if not fields:
        return {**body, "shape": {}}
    extra = namespace_fields(g)
    nodes = [{**n, **extra[n["id"]]} if n["id"] in extra else n for n in body["nodes"]]
    placed = None
    above = int(settings.graph_server_layout_above)
    namespace_graph = fields.get("graph") == "namespace"
    if len(nodes) > above or len(body["edges"]) > EDGES_PER_NODE * above or namespace_graph:
        placed = positions(nodes, body["edges"], len(g.graph.get("clusters", ())) > 1)
    return {"nodes": nodes, "edges": body["edges"], "shape": {**fields, "positions": placed}}
