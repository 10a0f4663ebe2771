""" "Why is it red?": from a failing node (or a whole namespace) to the hops where failures start.

Pure functions over the graph view's JSON (nodes and edges with rps, error_rate, p95_ms), so the
answer comes from the same figures the topology shows, with no query of its own.

Errors. A node's inbound failing requests (error rps) are compared with its failing outbound
calls: each failing call can explain at most one failing request of its own, so
`own = max(0, errors in - errors out)` is what the node's callees cannot explain. The errors of
the investigated node are then pushed down the graph: at each node its own share stays there,
the rest flows to its callees in proportion to their failing calls. Where the flow stops is an
origin; its score is the share of the investigated node's errors it explains. Nodes the flow
only passes through are victims. The bound is generous to the callees (a caller that absorbs a
callee's failures still counts them), so a node that fails by itself while calling a failing
callee may be called a victim: the trace confirmation is there to show such a disagreement.

The flow cannot see past a callee whose own calls are not in the graph: a host outside the mesh
(no workload reported it) or a namespace that is not selected. When such a callee takes the
largest share, the answer says it cannot tell, and names the callee.

Latency. A node whose p95 is mostly the time its callees take (their p95, weighted by calls per
request) is a victim of slowness downstream; the walk follows the callee that adds most, and
stops at the node whose own time dominates.

Traces. In each sampled failing trace, the failure starts at the deepest erroring span whose
children did not fail; those spans are counted by service and operation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mesh.traces.analysis import build_tree
from mesh.traces.records import Span, Trace

MIN_SHARE = 0.05  # an origin explains at least this share of the errors investigated
MIN_FAILED_REQUESTS = 5  # fewer failing requests in the window is not enough data
VICTIM_SHARE = 0.5  # a node whose callees explain at least half its errors / time is a victim
TRACE_EXAMPLES = 3

NO_TRAFFIC = "no_traffic"
NO_ERRORS = "no_errors"
TOO_FEW = "not_enough_data"
FOUND = "found"
UNDETERMINED = "undetermined"


@dataclass(frozen=True, slots=True)
class NodeErrors:
    """One node's request accounting in the window (requests per second)."""

    id: str
    rps_in: float
    errors_in: float
    errors_out: float
    blind: str  # why its own calls are not in the graph, or "" when they are

    @property
    def entry(self) -> bool:
        """Receives nothing the graph sees (a gateway, a caller outside the mesh)."""
        return self.rps_in <= 0

    @property
    def own(self) -> float:
        """Failing requests its failing calls cannot explain."""
        return max(0.0, self.errors_in - self.errors_out)

    @property
    def own_share(self) -> float:
        if self.entry:
            return 0.0
        return self.own / self.errors_in if self.errors_in > 0 else 1.0

    @property
    def error_rate(self) -> float:
        return self.errors_in / self.rps_in if self.rps_in > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Origin:
    id: str
    score: float  # share of the investigated errors that start here
    error_rate: float
    own_share: float  # share of its own errors its callees cannot explain
    determined: bool  # False: a callee outside what the graph sees; it may only pass them on
    blind: str
    path: tuple[str, ...]
    evidence: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Victim:
    id: str
    error_rate: float
    explained_share: float  # share of its errors its failing callees account for
    failing_callees: tuple[tuple[str, float], ...]  # (callee id, error rate of the call)


@dataclass(frozen=True, slots=True)
class ErrorFinding:
    status: str
    roots: tuple[str, ...]
    failing_rps: float
    failing_requests: float  # in the window
    origins: tuple[Origin, ...]
    victims: tuple[Victim, ...]
    path: tuple[str, ...]  # from the investigated node(s) to the first origin
    path_edges: tuple[tuple[str, str], ...]
    undetermined: str | None


@dataclass(frozen=True, slots=True)
class LatencyFinding:
    origin: str | None
    p95_ms: float | None  # the origin's inbound p95
    own_ms: float | None  # what its callees do not account for
    path: tuple[str, ...]
    victims: tuple[tuple[str, float, float], ...]  # (id, p95 ms, ms spent in callees)
    undetermined: str | None


@dataclass(frozen=True, slots=True)
class TraceOrigin:
    """Where failing traces start: a service and operation, the graph node, example traces."""

    service: str
    operation: str
    node: str | None
    count: int
    traces: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# Accounting


def _requests(edges: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in edges if e.get("protocol") != "tcp" and (e.get("rps") or 0) > 0]


def _error_rps(edge: Mapping[str, Any]) -> float:
    return (edge.get("rps") or 0.0) * (edge.get("error_rate") or 0.0)


def blind_reason(node: Mapping[str, Any]) -> str:
    """Why the graph cannot show this node's own calls ("" when it can)."""
    ns = node.get("namespace") or ""
    name = node.get("service") or node.get("workload") or node.get("app") or node["id"]
    if node.get("kind") == "unknown":
        return f"{node['id']} is a caller outside the mesh"
    if not ns or ns == "unknown":
        return (
            f"{name} is outside the mesh (no workload reported it), so its own calls are not "
            "measured"
        )
    if node.get("outsider"):
        return f"{name} is in namespace {ns}, which is not selected: add it to see its calls"
    return ""


def accounting(
    nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]]
) -> dict[str, NodeErrors]:
    """Every node's inbound rps, inbound and outbound failing rps, and blindness."""
    rps_in: dict[str, float] = defaultdict(float)
    err_in: dict[str, float] = defaultdict(float)
    err_out: dict[str, float] = defaultdict(float)
    for e in _requests(edges):
        rps_in[e["target"]] += e["rps"]
        err_in[e["target"]] += _error_rps(e)
        err_out[e["source"]] += _error_rps(e)
    return {
        n["id"]: NodeErrors(
            n["id"], rps_in[n["id"]], err_in[n["id"]], err_out[n["id"]], blind_reason(n)
        )
        for n in nodes
    }


def _mass(acc: NodeErrors) -> float:
    """The failing requests a node stands for: what it receives, or for an entry what it sends."""
    return acc.errors_out if acc.entry else acc.errors_in


def error_roots(
    nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]]
) -> tuple[str, ...]:
    """For a whole namespace: the failing nodes no failing call reaches (where failing
    requests enter the part of the mesh shown), sorted by id."""
    acc = accounting(nodes, edges)
    reached = {e["target"] for e in _requests(edges) if _error_rps(e) > 0}
    return tuple(sorted(n for n, a in acc.items() if n not in reached and _mass(a) > 0))


def _order(start: Iterable[str], succ: Mapping[str, list[str]]) -> tuple[list[str], set]:
    """Nodes reachable from `start` in topological order, and the back edges left out (a call
    cycle is cut where the depth-first walk closes it)."""
    post: list[str] = []
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    for root in start:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, i = stack.pop()
            children = succ.get(node, [])
            if i < len(children):
                stack.append((node, i + 1))
                child = children[i]
                if state.get(child) == 1:
                    back.add((node, child))
                elif child not in state:
                    state[child] = 1
                    stack.append((child, 0))
            else:
                state[node] = 2
                post.append(node)
    return post[::-1], back


# ---------------------------------------------------------------------------------------------
# Errors


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%" if x >= 0.001 or x == 0 else f"{x * 100:.2f}%"


def _rps(x: float) -> str:
    return f"{x:.3g} rps"


def find_error_origins(
    nodes: Sequence[Mapping[str, Any]],
    edges: Sequence[Mapping[str, Any]],
    node: str | None,
    window_s: float,
) -> ErrorFinding:
    """Origins and victims of the failing requests of `node` (None: of every failing entry)."""
    acc = accounting(nodes, edges)
    if node is not None and (
        node not in acc or (acc[node].rps_in <= 0 and _out_rps(edges, node) <= 0)
    ):
        return _empty(NO_TRAFFIC, (node,), f"{node} had no traffic in this window: not enough data")
    roots = (node,) if node is not None else error_roots(nodes, edges)
    total = sum(_mass(acc[r]) for r in roots)
    if total <= 0:
        what = node or "these namespaces"
        reason = f"no failing requests (5xx, no response, gRPC errors) in {what} in this window"
        client = next((n for n in nodes if n["id"] == node), {}).get("error_rate_4xx_in") or 0.0
        if client > 0:
            reason += (
                f"; its {_pct(client)} client errors (4xx) are refusals of what callers sent, "
                "so there is no failing hop below it to find"
            )
        return _empty(NO_ERRORS, roots, reason)
    failed = total * window_s
    if failed < MIN_FAILED_REQUESTS:
        return _empty(
            TOO_FEW,
            roots,
            f"only about {failed:.0f} failing requests in the window: not enough data to tell "
            "where they start",
            total,
            failed,
        )
    requests = _requests(edges)
    failing_out: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for e in requests:
        if _error_rps(e) > 0:
            failing_out[e["source"]].append(e)
    succ = {s: [e["target"] for e in es] for s, es in failing_out.items()}
    order, back = _order(roots, succ)
    mass: dict[str, float] = defaultdict(float)
    for r in roots:
        mass[r] += _mass(acc[r])
    own: dict[str, float] = defaultdict(float)
    flow: dict[tuple[str, str], float] = defaultdict(float)
    for n in order:
        m = mass[n]
        a = acc[n]
        outs = [e for e in failing_out.get(n, []) if (n, e["target"]) not in back]
        out_total = sum(_error_rps(e) for e in outs)
        if m <= 0:
            continue
        if (a.blind and not a.entry) or out_total <= 0:
            # The flow stops: no failing call the graph sees, or none it can see at all (an
            # entry's calls into the namespaces shown are all there, whatever its namespace).
            own[n] += m
            continue
        keep = m * a.own_share
        own[n] += keep
        for e in outs:
            share = (m - keep) * _error_rps(e) / out_total
            flow[n, e["target"]] += share
            mass[e["target"]] += share
    by_node = {n["id"]: n for n in nodes}
    ranked = sorted(
        ((n, v / total) for n, v in own.items() if v / total >= MIN_SHARE),
        key=lambda item: (-item[1], item[0]),
    )
    origins = tuple(
        _origin(n, score, acc, failing_out, flow, roots, by_node) for n, score in ranked
    )
    origin_ids = {o.id for o in origins}
    victims = tuple(
        _victim(acc[n], failing_out.get(n, []))
        for n in order
        if mass[n] >= MIN_SHARE * total and n not in origin_ids  # what it passes on matters
    )
    undetermined = None
    status = FOUND
    if not origins:
        status = UNDETERMINED
        undetermined = (
            f"the failing requests spread over {len(own)} nodes and none explains "
            f"{_pct(MIN_SHARE)} of them"
        )
    elif not origins[0].determined:
        status = UNDETERMINED
        undetermined = (
            f"the failures reach {origins[0].id}, which explains {_pct(origins[0].score)} of "
            f"them, but {origins[0].blind}: it may fail by itself or pass on a failure further "
            "down, meshdash cannot tell which"
        )
    path = origins[0].path if origins else ()
    path_edges = _path_edges(path, flow)
    return ErrorFinding(
        status, roots, total, failed, origins, victims, path, path_edges, undetermined
    )


def _out_rps(edges: Sequence[Mapping[str, Any]], node: str) -> float:
    return sum(e["rps"] for e in _requests(edges) if e["source"] == node)


def _empty(
    status: str, roots: tuple[str, ...], reason: str, total: float = 0.0, failed: float = 0.0
) -> ErrorFinding:
    return ErrorFinding(status, roots, total, failed, (), (), (), (), reason)


def _reaching(target: str, flow: Mapping[tuple[str, str], float]) -> set[str]:
    """Nodes from which failures flow into `target` (itself included)."""
    into: dict[str, list[str]] = defaultdict(list)
    for (s, t), v in flow.items():
        if v > 0:
            into[t].append(s)
    seen = {target}
    stack = [target]
    while stack:
        for s in into.get(stack.pop(), []):
            if s not in seen:
                seen.add(s)
                stack.append(s)
    return seen


def _origin(
    n: str,
    score: float,
    acc: Mapping[str, NodeErrors],
    failing_out: Mapping[str, list[Mapping[str, Any]]],
    flow: Mapping[tuple[str, str], float],
    roots: tuple[str, ...],
    by_node: Mapping[str, Mapping[str, Any]],
) -> Origin:
    a = acc[n]
    reaching = _reaching(n, flow)
    # Path order: the flow's own order, roots first (a walk down from each root).
    path = _walk_down(roots, reaching, flow)
    callees = sorted(failing_out.get(n, []), key=lambda e: -_error_rps(e))
    evidence: list[dict[str, Any]] = [
        {
            "kind": "own_errors",
            "text": f"fails {_pct(a.error_rate)} of its {_rps(a.rps_in)} inbound requests",
            "error_rate": a.error_rate,
            "rps": a.rps_in,
        }
    ]
    if a.blind and not a.entry:
        evidence.append({"kind": "unseen_callees", "text": a.blind})
    elif callees:
        listed = ", ".join(f"{e['target']} {_pct(e['error_rate'] or 0.0)}" for e in callees[:3])
        evidence.append(
            {
                "kind": "callees",
                "text": f"its failing calls ({listed}) explain at most "
                f"{_pct(1 - a.own_share)} of its errors",
                "explained_share": 1 - a.own_share,
                "callees": [
                    {"id": e["target"], "error_rate": e["error_rate"], "rps": e["rps"]}
                    for e in callees
                ],
            }
        )
    else:
        evidence.append(
            {"kind": "callees", "text": "none of its calls fail", "explained_share": 0.0}
        )
    if len(roots) == 1 and roots[0] != n:
        root = by_node.get(roots[0], {}).get("id", roots[0])
        evidence.append(
            {
                "kind": "explains",
                "text": f"explains {_pct(score)} of the failing requests of {root}",
                "share": score,
            }
        )
    else:
        evidence.append(
            {
                "kind": "explains",
                "text": f"explains {_pct(score)} of the failing requests",
                "share": score,
            }
        )
    blind = "" if a.entry else a.blind
    return Origin(
        n, score, a.error_rate, a.own_share if not blind else 1.0, not blind, blind,
        tuple(path), tuple(evidence),
    )  # fmt: skip


def _walk_down(
    roots: tuple[str, ...], keep: set[str], flow: Mapping[tuple[str, str], float]
) -> list[str]:
    succ: dict[str, list[str]] = defaultdict(list)
    for (s, t), v in sorted(flow.items()):
        if v > 0 and s in keep and t in keep:
            succ[s].append(t)
    order, _ = _order([r for r in roots if r in keep], succ)
    return order


def _path_edges(
    path: tuple[str, ...], flow: Mapping[tuple[str, str], float]
) -> tuple[tuple[str, str], ...]:
    on = set(path)
    return tuple(sorted((s, t) for (s, t), v in flow.items() if v > 0 and s in on and t in on))


def _victim(a: NodeErrors, outs: Sequence[Mapping[str, Any]]) -> Victim:
    callees = tuple(
        (e["target"], e["error_rate"] or 0.0) for e in sorted(outs, key=lambda e: -_error_rps(e))
    )
    return Victim(a.id, a.error_rate, 1.0 - a.own_share if not a.entry else 1.0, callees)


# ---------------------------------------------------------------------------------------------
# Latency


def find_latency_origin(
    nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]], node: str
) -> LatencyFinding:
    """Follow the slowness of `node` down to the node whose own time dominates its p95."""
    requests = _requests(edges)
    inbound: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    outbound: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for e in requests:
        inbound[e["target"]].append(e)
        outbound[e["source"]].append(e)
    blind = {n["id"]: blind_reason(n) for n in nodes}

    def p95_in(n: str) -> float | None:
        timed = [e for e in inbound.get(n, []) if e.get("p95_ms") is not None]
        if not timed:
            return None
        return max(timed, key=lambda e: (e["rps"], e["source"]))["p95_ms"]

    def spent_below(n: str, rps: float) -> list[tuple[float, str]]:
        per = [
            ((e["rps"] / rps) * e["p95_ms"], e["target"])
            for e in outbound.get(n, [])
            if e.get("p95_ms") is not None and rps > 0
        ]
        return sorted(per, key=lambda x: (-x[0], x[1]))

    path: list[str] = [node]
    victims: list[tuple[str, float, float]] = []
    current = node
    rps = sum(e["rps"] for e in inbound.get(node, [])) or sum(
        e["rps"] for e in outbound.get(node, [])
    )
    p95 = p95_in(node)
    if p95 is None and not outbound.get(node):
        return LatencyFinding(None, None, None, (node,), (), "no latency measured in this window")
    while True:
        below = spent_below(current, rps)
        downstream = sum(x for x, _ in below)
        if blind.get(current):
            return LatencyFinding(
                current, p95, None, tuple(path), tuple(victims),
                f"the time is spent in {current}, but {blind[current]}",
            )  # fmt: skip
        if not below or (p95 is not None and downstream < VICTIM_SHARE * p95):
            own = None if p95 is None else max(0.0, p95 - downstream)
            return LatencyFinding(current, p95, own, tuple(path), tuple(victims), None)
        if p95 is not None:
            victims.append((current, p95, min(downstream, p95)))
        nxt = below[0][1]
        if nxt in path:
            return LatencyFinding(
                current, p95, None, tuple(path), tuple(victims), "the calls form a cycle here"
            )
        path.append(nxt)
        current = nxt
        rps = sum(e["rps"] for e in inbound.get(current, []))
        p95 = p95_in(current)


# ---------------------------------------------------------------------------------------------
# Traces


def failure_start(trace: Trace) -> Span | None:
    """The deepest erroring span whose children did not fail (earliest on a tie), or None."""
    tree = build_tree(trace)
    spans = trace.spans
    best: int | None = None
    for i in tree.order:
        if not spans[i].is_error:
            continue
        if any(spans[c].is_error for c in tree.children[i]):
            continue
        if best is None or (tree.depth[i], -spans[i].start_us) > (
            tree.depth[best],
            -spans[best].start_us,
        ):
            best = i
    return None if best is None else spans[best]


def trace_origins(
    traces: Iterable[Trace], node_of: Callable[[Span], str | None]
) -> tuple[TraceOrigin, ...]:
    """Per (service, operation) where failing traces start: how many, and example trace ids."""
    counts: dict[tuple[str, str], list[str]] = defaultdict(list)
    nodes: dict[tuple[str, str], str | None] = {}
    for trace in traces:
        span = failure_start(trace)
        if span is None:
            continue
        key = (span.service, span.operation)
        counts[key].append(trace.trace_id)
        nodes.setdefault(key, node_of(span))
    ranked = sorted(counts.items(), key=lambda item: (-len(item[1]), item[0]))
    return tuple(
        TraceOrigin(s, op, nodes[s, op], len(ids), tuple(ids[:TRACE_EXAMPLES]))
        for (s, op), ids in ranked
    )


def agreement(finding: ErrorFinding, found: Sequence[TraceOrigin]) -> str | None:
    """A sentence when metrics and traces point at different places, None when they agree
    (or when either has nothing to say)."""
    if not finding.origins or not found:
        return None
    top = max(found, key=lambda o: o.count)
    if top.node == finding.origins[0].id:
        return None
    where = top.node or f"{top.service} {top.operation}"
    return (
        f"traces disagree: most sampled failing traces ({top.count} of "
        f"{sum(o.count for o in found)}) start at {where}, metrics point at "
        f"{finding.origins[0].id}"
    )
