"""Focus: one node and what lies within N hops of it, calls in either direction, so a node in a
mesh of thousands can be read with its neighbourhood. Figures stay the whole graph's."""

from __future__ import annotations

import networkx as nx

MAX_HOPS = 6


def focused(g: nx.DiGraph, node: str, hops: int) -> nx.DiGraph:
    """The subgraph within `hops` calls of `node` (callers and callees alike), with every edge
    between the nodes kept; an empty graph when the node is not in this refresh's graph."""
    if node not in g:
        return nx.DiGraph(**g.graph)
    near = nx.single_source_shortest_path_length(g.to_undirected(as_view=True), node, cutoff=hops)
    return g.subgraph(near).copy()
