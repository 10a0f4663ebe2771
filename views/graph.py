"""The topology view: one code path for /api/graph and the topology page."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import msgspec
import networkx as nx

from mesh import validate
from mesh.errors import BadRequest
from mesh.graph.build import (
    TrafficGraph,
    graph_clusters,
    graph_json,
    keep_clusters,
    security_summary,
    traffic_part,
    with_latencies,
    with_latency_json,
)
from mesh.graph.entering import entering_summary
from mesh.graph.find_hide import EDGE_QUIET, Expression
from mesh.graph.focus import MAX_HOPS
from mesh.graph.waypoints import is_waypoint_node, without_waypoints
from mesh.health import HealthThresholds
from mesh.sources import telemetry_staged
from mesh.telemetry_records import GraphQuery, GraphTelemetry, GraphView
from views.graph_shape import GraphShape, apply_shape, shaped_json
from views.params import (
    choice,
    expression_of,
    get_list,
    get_one,
    instant_of,
    int_of,
    namespaces_of,
    node_id_of,
    window_of,
)
from wiring.services import Services

VIEWS: tuple[str, ...] = tuple(v.value for v in GraphView)
MAX_CLUSTERS = 50
WAYPOINT_CHOICES = ("hide", "show")
NAMESPACE_GRAPH = "namespace"
GRAPH_CHOICES: tuple[str, ...] = (*VIEWS, NAMESPACE_GRAPH)


@dataclass(frozen=True, slots=True)
class GraphParams:
    namespaces: tuple[str, ...]
    view: GraphView
    window: str
    window_s: int
    at: float | None  # None: now, resolved when the view is computed
    clusters: tuple[str, ...] = ()  # show only these clusters (and their callers and callees)
    waypoints: bool = False  # draw ambient waypoint proxies as nodes (`waypoints=show`)
    # Views for big meshes (views/graph_shape.py): namespace graph, find, hide, focus.
    shape: GraphShape = field(default_factory=GraphShape)


def parse_graph_params(
    args: Any, default_namespaces: tuple[str, ...], shaped: bool = False
) -> GraphParams:
    """Validate everything before any backend sees it; raise BadRequest with the reason.

    `shaped`: also read the big-mesh parameters (graph=namespace, expand, find, hide, focus,
    hops, hide_edges) as /api/graph and the topology page do; other views built on the
    graph (investigation, review) keep the plain workload graphs."""
    clean = namespaces_of(args, default_namespaces)
    shape = _shape_of(args) if shaped else GraphShape()
    if shape.namespace_graph or shape.auto:
        view = GraphView.WORKLOAD
    else:
        view = GraphView(choice(args, "graph", VIEWS, GraphView.WORKLOAD.value))
    window = window_of(args, "5m")
    at = instant_of(args, "at")
    clusters = get_list(args, "cluster")
    if len(clusters) > MAX_CLUSTERS:
        raise BadRequest(f"at most {MAX_CLUSTERS} clusters at once", field="cluster")
    chosen = tuple(sorted({validate.cluster(c) for c in clusters}))
    waypoints = choice(args, "waypoints", WAYPOINT_CHOICES, "hide") == "show"
    return GraphParams(clean, view, window.text, window.seconds, at, chosen, waypoints, shape)


def _shape_of(args: Any) -> GraphShape:
    """The big-mesh parameters; no graph= at all means "the namespace graph if the mesh is
    above the threshold" (GraphShape.auto)."""
    graph = choice(args, "graph", GRAPH_CHOICES, GraphView.WORKLOAD.value)
    expand = tuple(
        dict.fromkeys(validate.namespace(ns, field="expand") for ns in get_list(args, "expand"))
    )
    quiet = tuple(dict.fromkeys(get_list(args, "hide_edges")))
    for state in quiet:
        if state not in EDGE_QUIET:
            raise BadRequest(
                f"hide_edges takes {' and '.join(EDGE_QUIET)}, got {state!r}", field="hide_edges"
            )
    find: Expression | None = expression_of(args, "find")
    return GraphShape(
        shaped=True,
        namespace_graph=graph == NAMESPACE_GRAPH,
        auto=get_one(args, "graph") is None,
        expand=expand,
        find=find,
        hide=expression_of(args, "hide"),
        focus=node_id_of(args, "focus"),
        hops=int_of(args, "hops", 1, 1, MAX_HOPS),
        hide_edges=quiet,
    )


def thresholds_of(services: Services) -> HealthThresholds:
    s = services.settings
    return HealthThresholds(
        error_degraded=s.health_5xx_degraded,
        error_failure=s.health_5xx_failure,
        client_error_degraded=s.health_4xx_degraded,
        client_error_failure=s.health_4xx_failure,
    )


def graph_view(services: Services, params: GraphParams) -> dict[str, Any]:
    """Ask the telemetry source once, build the model, and return the JSON-ready graph.

    A graph missing some cluster's part (`partial` non-empty) is answered with status 200: the
    rest is right, and the answer names what is missing and why. In live mode the built graph
    is shared too (services.cache.memo): many viewers of one view within a refresh interval
    cost one query set and one build.
    """
    return _shared_view(services, params, _query(services, params))


def graph_view_json(services: Services, params: GraphParams) -> bytes:
    """graph_view as the JSON text /api/graph sends, encoded once per view and refresh interval
    in live mode: under many viewers, encoding was a fifth of what each request cost."""
    query = _query(services, params)

    def encode() -> tuple[bytes, bool]:
        body = _shared_view(services, params, query)
        # msgspec, sorted keys: the same JSON as json.dumps(sort_keys=True), ~5x faster (0.23 s
        # of a 5,000-workload answer with the standard module).
        text = msgspec.json.encode(body, order="sorted")
        return text, bool(body["partial"])

    cache = getattr(services, "cache", None)
    if cache is None:
        return encode()[0]
    key = _memo_key(services, params, query)
    short = _partial_ttl(services)
    return cache.memo("graph_view_json", key, encode, lambda v: short if v[1] else None)[0]


def _partial_ttl(services: Services) -> float:
    """How long a graph missing a cluster's part is shared: as long as an error is cached, so
    the cluster shows again on the first refresh after it recovers."""
    return float(getattr(services.settings, "cache_error_ttl_s", 2.0))


def _query(services: Services, params: GraphParams) -> GraphQuery:
    now = services.clock()
    at = validate.at_or_now(params.at, now)
    return GraphQuery(params.namespaces, params.view, params.window_s, at)


def _memo_key(services: Services, params: GraphParams, query: GraphQuery) -> tuple[Any, ...]:
    """Everything the body depends on; the cache aligns the query's `at` to the interval."""
    return (
        query,
        params.namespaces,
        params.window,
        params.clusters,
        params.waypoints,
        thresholds_of(services),
        params.shape,
    )


def _shared_view(services: Services, params: GraphParams, query: GraphQuery) -> dict[str, Any]:
    cache = getattr(services, "cache", None)
    if cache is None:
        return _graph_body(services, params, query)
    key = _memo_key(services, params, query)
    short = _partial_ttl(services)
    return cache.memo(
        "graph_view",
        key,
        lambda: _graph_body(services, params, query),
        lambda body: short if body["partial"] else None,
    )


@dataclass(frozen=True)
class _Drawing:
    """What an answer draws of a built graph, and its summaries: none of it reads latency but
    the edges' quantiles, which with_latency_json fills in when it is made before they come."""

    full: nx.DiGraph
    shape_fields: dict[str, Any]
    body: dict[str, Any]  # shaped_json's
    security: dict[str, Any]
    entering: dict[str, Any]


def _drawing(
    full: nx.DiGraph, params: GraphParams, settings: Any, thresholds: HealthThresholds
) -> _Drawing:
    # The summaries read the whole graph: a namespace graph, find, hide or focus changes what
    # is drawn, not what enters the namespaces or how much of it runs in plain text.
    graph, shape_fields = apply_shape(full, params.shape, settings, thresholds)
    return _Drawing(
        full,
        shape_fields,
        shaped_json(graph, graph_json(graph), shape_fields, settings),
        security_summary(full),
        entering_summary(full, params.namespaces),
    )


def _drawn_before_latency(shape: GraphShape) -> bool:
    """Whether the answer can be drawn before the latency quantiles arrive: not a namespace
    graph (an edge of one part carries that part's quantiles under the namespaces' ids) nor one
    that may open as it (no graph= given: shape.auto), nor find or hide reading p50, p95, p99."""
    if shape.namespace_graph or shape.auto:
        return False
    return not any(e is not None and e.reads_latency for e in (shape.find, shape.hide))


def _graph_body(services: Services, params: GraphParams, query: GraphQuery) -> dict[str, Any]:
    thresholds = thresholds_of(services)
    settings = services.settings
    early = _drawn_before_latency(params.shape)

    def drawn(telemetry: GraphTelemetry) -> GraphTelemetry:
        return telemetry if params.waypoints else without_waypoints(telemetry)

    def before_latencies(part: GraphTelemetry) -> tuple[TrafficGraph, _Drawing | None]:
        traffic = traffic_part(drawn(part), thresholds)
        if not early:
            return traffic, None
        full = keep_clusters(traffic.graph, params.clusters)
        return traffic, _drawing(full, params, settings, thresholds)

    # The graph is built, and drawn where it can be, from the requests and TCP bytes while the
    # latency buckets, most of a refresh's time, are still summed; their quantiles are added
    # when they arrive.
    telemetry, (traffic, drawing) = telemetry_staged(services.telemetry, query, before_latencies)
    latencies = drawn(replace(telemetry, requests=(), tcp=())).latencies
    g = with_latencies(traffic, latencies)
    if drawing is None:
        drawing = _drawing(keep_clusters(g, params.clusters), params, settings, thresholds)
    else:
        with_latency_json(drawing.body["edges"], g)
    full, shape_fields, body = drawing.full, drawing.shape_fields, drawing.body
    return {
        "graph": shape_fields.get("graph") or params.view.value,
        "window": params.window,
        "at": int(telemetry.query.at),  # the cache may align `at` to the refresh interval
        "namespaces": list(params.namespaces),
        "nodes": [
            {**n, "waypoint": True} if params.waypoints and is_waypoint_node(n) else n
            for n in body["nodes"]
        ],
        "edges": body["edges"],
        # How much of the drawn traffic runs in plain text (no mutual TLS), from the
        # destinations' reports; null where no edge can say.
        "security": drawing.security,
        # The requests entering the shown namespaces from outside them (gateways, other
        # namespaces, unmeshed callers): the page's "Requests" card, not the sum of every edge.
        "entering": drawing.entering,
        "queries": telemetry.queries_sent,  # per metrics endpoint
        "endpoints": telemetry.endpoints,
        "source": services.telemetry.name,
        # Every cluster the telemetry names (also those a filter hides), and the filter.
        "clusters": list(graph_clusters(full)),
        "cluster_filter": list(params.clusters),
        "waypoints": "show" if params.waypoints else "hide",
        # Per-cluster endpoints that failed while others answered: the graph lacks their part.
        "partial": [
            {"backend": p.backend, "cluster": p.cluster, "cause": p.cause}
            for p in telemetry.partial
        ],
        **body["shape"],
    }
