"""Find and hide expressions on the graph (`rps > 10`, `health = failure`, `ns = team-03`,
`p95 > 500`), as users of Kiali's graph find/hide fields expect on a mesh too big to read.

An expression is clauses joined by `and` or `,`, all of which must hold. A clause names a field
of a node or an edge; an element a field does not apply to (p95 of a node) never matches, so
`p95 > 500` finds slow edges and leaves every node alone. Parsing is strict: a bad expression
raises BadRequest naming the parameter, before any backend is asked.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx

from mesh.errors import BadRequest
from mesh.health import HEALTH_STATES

MAX_LENGTH = 300
MAX_CLAUSES = 10

LATENCY = ("p50", "p95", "p99")  # in ms
NUMERIC = ("rps", "error", *LATENCY)  # error is a percentage
TEXT = ("health", "ns", "name", "protocol", "kind")
ALIASES = {"namespace": "ns", "errors": "error", "error%": "error", "%error": "error"}
NUMERIC_OPS = (">=", "<=", "!=", ">", "<", "=")
TEXT_OPS = ("=", "!=")

_CLAUSE = re.compile(r"\s*([A-Za-z0-9_%]+)\s*(>=|<=|!=|=|>|<)\s*([A-Za-z0-9._:/*-]+)\s*")
_SPLIT = re.compile(r",|\band\b", re.IGNORECASE)
_PROTOCOLS = ("http", "grpc", "tcp")


@dataclass(frozen=True, slots=True)
class Clause:
    field: str
    op: str
    value: float | str


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression; `text` is what the user typed, kept for the answer and the URL."""

    text: str
    clauses: tuple[Clause, ...]

    @property
    def reads_latency(self) -> bool:
        """Whether a clause reads p50, p95 or p99, which a graph has only once its latency
        buckets are in (views/graph.py draws the rest before)."""
        return any(c.field in LATENCY for c in self.clauses)


def parse(text: str, param: str) -> Expression:
    """The expression in `text`; BadRequest(field=param) saying what is wrong and where."""
    if len(text) > MAX_LENGTH:
        raise BadRequest(f"{param} is longer than {MAX_LENGTH} characters", field=param)
    parts = _SPLIT.split(text)
    if len(parts) > MAX_CLAUSES:
        raise BadRequest(f"{param} has more than {MAX_CLAUSES} conditions", field=param)
    clauses = tuple(_clause(part, param) for part in parts)
    return Expression(text.strip(), clauses)


def _clause(part: str, param: str) -> Clause:
    if not part.strip():
        raise BadRequest(f"{param} has an empty condition (two separators in a row?)", field=param)
    found = _CLAUSE.fullmatch(part)
    if found is None:
        raise BadRequest(
            f"{param}: cannot read {part.strip()!r}; write a field, an operator and a value, "
            "such as rps > 10, health = failure, ns = team-03 or p95 > 500",
            field=param,
        )
    name, op, raw = found.group(1).lower(), found.group(2), found.group(3)
    name = ALIASES.get(name, name)
    if name in NUMERIC:
        try:
            value: float | str = float(raw)
        except ValueError:
            raise BadRequest(f"{param}: {name} needs a number, got {raw!r}", field=param) from None
        return Clause(name, op, value)
    if name not in TEXT:
        known = ", ".join(NUMERIC + TEXT)
        raise BadRequest(f"{param}: unknown field {name!r}; use one of {known}", field=param)
    if op not in TEXT_OPS:
        raise BadRequest(f"{param}: {name} takes = or !=, not {op}", field=param)
    value = raw.lower() if name in ("health", "protocol", "kind") else raw
    if name == "health" and value not in HEALTH_STATES:
        states = ", ".join(HEALTH_STATES)
        raise BadRequest(f"{param}: health is one of {states}, got {raw!r}", field=param)
    if name == "protocol" and value not in _PROTOCOLS:
        raise BadRequest(f"{param}: protocol is one of http, grpc, tcp", field=param)
    return Clause(name, op, value)


# ---------------------------------------------------------------------------------------------
# The fields of nodes and edges


def node_value(node: Mapping[str, Any], name: str) -> float | str | None:
    """The node's value of a field; None where the field does not apply or is unknown.

    A node's rate is what it receives, or what it sends when it receives nothing (a gateway, a
    caller outside the mesh): the same rule as its health."""
    rps_in = node.get("rps_in") or 0.0
    if name == "rps":
        return rps_in if rps_in > 0 else node.get("rps_out") or 0.0
    if name == "error":
        return None if rps_in <= 0 else 100.0 * (node.get("error_rate_in") or 0.0)
    if name == "health":
        return node.get("health")
    if name == "ns":
        return node.get("namespace")
    if name == "kind":
        return node.get("kind")
    if name == "name":
        return node.get("workload") or node.get("app") or node.get("service") or node.get("id")
    return None  # latencies and protocols belong to edges


def edge_value(edge: Mapping[str, Any], name: str) -> float | str | tuple[str, ...] | None:
    """The edge's value of a field; `ns` is both ends' namespaces (a call into or out of it)."""
    if name == "rps":
        return edge.get("rps") or 0.0
    if name == "error":
        rps = edge.get("rps") or 0.0
        return None if rps <= 0 else 100.0 * (edge.get("error_rate") or 0.0)
    if name in ("p50", "p95", "p99"):
        return edge.get(f"{name}_ms")
    if name in ("health", "protocol"):
        return edge.get(name)
    if name == "ns":
        return tuple(edge.get("namespaces") or ())
    return None


def _holds(clause: Clause, value: float | str | tuple[str, ...] | None) -> bool:
    if value is None:
        return False
    if isinstance(value, tuple):  # several values (an edge's two namespaces): any may match
        found = any(_holds(Clause(clause.field, "=", clause.value), v) for v in value)
        return not found if clause.op == "!=" else found
    if isinstance(clause.value, float):
        if not isinstance(value, int | float):
            return False
        v, want = float(value), clause.value
        return {
            ">": v > want,
            ">=": v >= want,
            "<": v < want,
            "<=": v <= want,
            "=": v == want,
            "!=": v != want,
        }[clause.op]
    same = fnmatch.fnmatchcase(str(value), str(clause.value))
    return same if clause.op == "=" else not same


def node_matches(expr: Expression, node: Mapping[str, Any]) -> bool:
    return all(_holds(c, node_value(node, c.field)) for c in expr.clauses)


def edge_matches(expr: Expression, edge: Mapping[str, Any]) -> bool:
    return all(_holds(c, edge_value(edge, c.field)) for c in expr.clauses)


def _edge_fields(g: nx.DiGraph, s: str, t: str, d: Mapping[str, Any]) -> dict[str, Any]:
    spaces = tuple(
        dict.fromkeys(ns for ns in (g.nodes[s].get("namespace"), g.nodes[t].get("namespace")) if ns)
    )
    return {**d, "namespaces": spaces}


# ---------------------------------------------------------------------------------------------
# Applying them


def found(g: nx.DiGraph, expr: Expression) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """The nodes and edges an expression finds."""
    nodes = frozenset(n for n, d in g.nodes(data=True) if node_matches(expr, d))
    edges = frozenset(
        (s, t) for s, t, d in g.edges(data=True) if edge_matches(expr, _edge_fields(g, s, t, d))
    )
    return nodes, edges


def hidden(g: nx.DiGraph, expr: Expression) -> nx.DiGraph:
    """The graph without what the expression matches: a hidden node takes its edges along.
    Hiding never recounts: every figure left is the whole graph's."""
    nodes, edges = found(g, expr)
    out = g.copy()
    out.remove_edges_from(edges)
    out.remove_nodes_from(nodes)
    return out


EDGE_QUIET = ("idle", "healthy")


def without_quiet_edges(g: nx.DiGraph, states: tuple[str, ...]) -> nx.DiGraph:
    """The graph without edges in the given health states (idle, healthy), so the edges that
    need a look stand out. Nodes stay: a node is still there when its calls are fine."""
    wanted = frozenset(states)
    if not wanted:
        return g
    out = g.copy()
    out.remove_edges_from([(s, t) for s, t, d in g.edges(data=True) if d.get("health") in wanted])
    return out
