"""What the topology page keeps of its graph in the browser: a small Store, never the graph.

A 1,000-workload graph is 1.9 MB of JSON; every callback that took it as an Input or State
posted it back to the server, and the page's first paint waited on that. The Store holds the
view's arguments with the instant resolved (the key to ask the server again: the view's memo
answers within the refresh interval, and rebuilds the same instant after) and the few facts
the small callbacks read (clusters, server positions, the legend's).
"""

from __future__ import annotations

from typing import Any

from dashboards.topology.legend import graph_facts
from views.graph import graph_view, parse_graph_params
from wiring.services import services


def store_of(args: dict[str, Any], graph: dict[str, Any]) -> dict[str, Any]:
    """The Store for a graph built from `args` (whose `at` must be set: "now" moves)."""
    return {
        "args": args,
        "nodes": len(graph["nodes"]),
        "edges": len(graph["edges"]),
        "positions": bool(graph.get("positions")),
        "clusters": list(graph.get("clusters") or []),
        "legend": graph_facts(graph),
    }


def graph_of(store: dict[str, Any] | None) -> dict[str, Any] | None:
    """The graph the page draws, asked again of the server by the Store's arguments; None
    before any graph. Raises what graph_view raises (a backend failing on a rebuild)."""
    if not store:
        return None
    svc = services()
    params = parse_graph_params(store["args"], svc.settings.default_namespaces, shaped=True)
    return graph_view(svc, params)
