"""The traffic graph: a networkx.DiGraph built from telemetry records, then enriched.

As Kiali does (graph/telemetry/istio/appender/), a base graph is built once from traffic and a
list of small appenders each adds one thing (latency, TCP bytes, share, node rates, error rates,
health, outsiders). Each appender mutates the graph in place and can be tested alone.

Node ids per view: `unknown` for callers outside the mesh; `namespace/workload` (workload view),
`namespace/app` (app view, and the source side of the service view), `namespace/app/version`
(versioned-app view), `namespace/service` (service view). A destination whose workload is
unknown (503 NR: no route, no healthy upstream) becomes a service node in every view, in the
namespace of its host, because the request never reached a workload. A workload without app
labels is named by its workload in the app views (as Istio's canonical service does), and in
the service view when its calls name no service: never a service "unknown".

Each request counts once (mesh/graph/reporters.py picks the report per edge before the graph is
built); the destination's reports also give each edge its mTLS share (add_security).

Clusters (Istio's `source_cluster` / `destination_cluster`; "unknown" or absent means none): every
node carries its `cluster`. When the telemetry names more than one cluster, the id of each node
with a cluster is prefixed with it and a colon, `east:bookinfo/reviews-v1`; namespaces cannot
hold a colon, so the id stays unambiguous. Single-cluster meshes keep the ids above exactly.
Edges whose ends sit in two different clusters carry `cross_cluster: true`.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import networkx as nx

from mesh.graph.reporters import KNOWN_POLICIES, MUTUAL_TLS, counted_once, destination_reports
from mesh.health import (
    DEGRADED,
    FAILURE,
    HEALTHY,
    IDLE,
    HealthThresholds,
    health,
)
from mesh.outcomes import CLIENT_ERROR, ERROR, OK, classify
from mesh.telemetry_records import (
    UNKNOWN,
    Endpoint,
    GraphTelemetry,
    GraphView,
    LatencyQuantiles,
    RequestRate,
    TcpRate,
)

Appender = Callable[[nx.DiGraph], None]

NODE_FIELDS: tuple[str, ...] = (
    "id", "kind", "cluster", "namespace", "workload", "app", "version", "service",
    "rps_in", "rps_out", "error_rate_in", "error_rate_4xx_in", "health", "outsider",
)  # fmt: skip
EDGE_FIELDS: tuple[str, ...] = (
    "id", "source", "target", "protocol", "rps", "error_rate", "error_rate_4xx", "share",
    "p50_ms", "p95_ms", "p99_ms", "bps", "sent_bps", "received_bps", "health", "cross_cluster",
    "mtls", "responses",
)  # fmt: skip
PROTOCOLS: tuple[str, ...] = ("http", "grpc", "tcp")

# Rounding in graph_json: decimals kept, but never fewer than _SIGNIFICANT significant digits,
# so a rate of 0.0033 rps (one request in five minutes) keeps its precision.
_DECIMALS: dict[str, int] = {
    "rps": 4, "rps_in": 4, "rps_out": 4, "share": 4,
    "error_rate": 6, "error_rate_4xx": 6, "error_rate_in": 6, "error_rate_4xx_in": 6,
    "p50_ms": 3, "p95_ms": 3, "p99_ms": 3,
    "bps": 2, "sent_bps": 2, "received_bps": 2, "mtls": 4,
}  # fmt: skip
# At most this many failing or flagged outcomes per edge in `responses`, the largest first.
MAX_RESPONSES = 8
_SIGNIFICANT = 5
# |value| from which `decimals` decimals keep _SIGNIFICANT digits, per number of decimals.
_ENOUGH_DIGITS: dict[int, float] = {d: 10.0 ** (_SIGNIFICANT - 1 - d) for d in range(16)}
_NODE_TEXT = ("cluster", "namespace", "workload", "app", "version", "service")


# ---------------------------------------------------------------------------------------------
# Node identity


def _absent(value: str) -> bool:
    return not value or value == UNKNOWN


def cluster_of(ep: Endpoint) -> str:
    """The endpoint's cluster, or "" when Istio did not know it."""
    return "" if _absent(ep.cluster) else ep.cluster


def telemetry_clusters(telemetry: GraphTelemetry) -> frozenset[str]:
    """The clusters of the graph: those of the records that make edges (a latency record only
    adds to an edge made by requests), and those the source serves (telemetry.clusters)."""
    found: set[str] = set(telemetry.clusters)
    for records in (telemetry.requests, telemetry.tcp):
        for r in records:
            found.add(cluster_of(r.source))
            found.add(cluster_of(r.destination))
    found.discard("")
    return frozenset(found)


def _in_cluster(
    found: tuple[str, dict[str, str]], ep: Endpoint, several_clusters: bool
) -> tuple[str, dict[str, str]]:
    """Add the endpoint's cluster to the node's attributes, and to its id when the graph holds
    several clusters (the same workload name in two clusters is two nodes then)."""
    node_id, attrs = found
    cluster = cluster_of(ep) if attrs.get("kind") != "unknown" else ""
    if not cluster:
        return node_id, attrs
    attrs["cluster"] = cluster
    return (f"{cluster}:{node_id}" if several_clusters else node_id), attrs


def host_parts(host: str) -> tuple[str, str]:
    """(service, namespace) from a host such as `reviews.bookinfo.svc.cluster.local` or
    `reviews.bookinfo:9080`; ("", "") when the host names no namespace (`reviews:9080`, an IP)
    or lies outside the cluster (`api.pay.example.com`: only `name.ns[.svc[.domain]]` is a
    Kubernetes service's host)."""
    labels = host.split(":", 1)[0].split(".")
    if len(labels) < 2 or (len(labels) > 2 and labels[2] != "svc"):
        return "", ""
    name, namespace = labels[0], labels[1]
    if not name or not namespace or name.isdigit() or namespace.isdigit():
        return "", ""
    return name, namespace


def _service_node(ep: Endpoint) -> tuple[str, dict[str, str]]:
    """A service node. A request that reached no pod often knows its service only by the host
    it asked for: the node is then named by the host, in the host's namespace."""
    host_name, host_namespace = host_parts(ep.host) if ep.host else ("", "")
    namespace = ep.service_namespace or ep.namespace
    if _absent(namespace):
        namespace = host_namespace or UNKNOWN
    if _absent(ep.service):
        service = host_name or UNKNOWN
    elif host_parts(ep.service)[0]:  # a cluster host: its first label names the service
        service = ep.service.split(".", 1)[0]
    else:  # a plain name, or a host outside the cluster (a ServiceEntry) kept whole
        service = ep.service
    return f"{namespace}/{service}", {"kind": "service", "namespace": namespace, "service": service}


def source_node(
    ep: Endpoint, view: GraphView, several_clusters: bool = False
) -> tuple[str, dict[str, str]]:
    """The node id and identity attributes of an edge's source in `view`."""
    return _in_cluster(_source_node(ep, view), ep, several_clusters)


def destination_node(
    ep: Endpoint, view: GraphView, several_clusters: bool = False
) -> tuple[str, dict[str, str]]:
    """The node id and identity attributes of an edge's destination in `view`."""
    return _in_cluster(_destination_node(ep, view), ep, several_clusters)


def _source_node(ep: Endpoint, view: GraphView) -> tuple[str, dict[str, str]]:
    if ep.is_unknown:
        return UNKNOWN, {"kind": "unknown"}
    ns = ep.namespace
    if view is GraphView.WORKLOAD:
        name = ep.workload or ep.app or UNKNOWN
        attrs = {"kind": "workload", "namespace": ns, "workload": name, "app": ep.app}
        return f"{ns}/{name}", {**attrs, "version": ep.version}
    app = _app_name(ep)
    if view is GraphView.VERSIONED_APP and not _absent(ep.version):
        attrs = {"kind": "app", "namespace": ns, "app": app, "version": ep.version}
        return f"{ns}/{app}/{ep.version}", attrs
    return f"{ns}/{app}", {"kind": "app", "namespace": ns, "app": app}


def _app_name(ep: Endpoint) -> str:
    """The canonical service, else the workload's name (Istio's own fallback), else unknown."""
    if not _absent(ep.app):
        return ep.app
    return ep.workload if not _absent(ep.workload) else UNKNOWN


def _destination_node(ep: Endpoint, view: GraphView) -> tuple[str, dict[str, str]]:
    ns = ep.namespace
    if view is GraphView.SERVICE:
        if _absent(ep.service) and not _absent(ep.workload):  # called with no service name
            return _workload_node(ep)
        return _service_node(ep)
    if view is GraphView.WORKLOAD:
        if _absent(ep.workload):
            return _service_node(ep)
        return _workload_node(ep)
    if _absent(ep.app) and _absent(ep.workload):
        return _service_node(ep)
    app = _app_name(ep)
    service = "" if _absent(ep.service) else ep.service
    attrs = {"kind": "app", "namespace": ns, "app": app, "service": service}
    if view is GraphView.VERSIONED_APP and not _absent(ep.version):
        return f"{ns}/{app}/{ep.version}", {**attrs, "version": ep.version}
    return f"{ns}/{app}", attrs


def _workload_node(ep: Endpoint) -> tuple[str, dict[str, str]]:
    ns = ep.namespace
    app = "" if _absent(ep.app) else ep.app
    service = "" if _absent(ep.service) else ep.service
    attrs = {"kind": "workload", "namespace": ns, "workload": ep.workload, "app": app}
    return f"{ns}/{ep.workload}", {**attrs, "version": ep.version, "service": service}


def _new_node(node_id: str, attrs: Mapping[str, str]) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": node_id,
        "kind": attrs.get("kind", "workload"),
        **{k: attrs.get(k, "") for k in _NODE_TEXT},
        "rps_in": 0.0,
        "rps_out": 0.0,
        "error_rate_in": 0.0,
        "error_rate_4xx_in": 0.0,
        "health": IDLE,
        "outsider": False,
    }
    return node


def _merge_node(g: nx.DiGraph, node_id: str, attrs: Mapping[str, str]) -> None:
    """Add a node, or fill identity fields the node learned from its other side."""
    if node_id not in g:
        g.add_node(node_id, **_new_node(node_id, attrs))
        return
    node = g.nodes[node_id]
    for key in _NODE_TEXT:
        if not node[key] and attrs.get(key):
            node[key] = attrs[key]
    # In the service view a caller app and the service of the same name share one node: it is
    # a service node, as every node in Kiali's service graph is.
    if attrs.get("kind") == "service":
        node["kind"] = "service"
        node["service"] = attrs.get("service", node["service"])


def _new_edge(source: str, target: str) -> dict[str, Any]:
    return {
        "id": f"{source}->{target}",
        "source": source,
        "target": target,
        "protocol": "tcp",
        "rps": 0.0,
        "error_rps": 0.0,
        "client_error_rps": 0.0,
        "error_rate": 0.0,
        "error_rate_4xx": 0.0,
        "share": None,
        "p50_ms": None,
        "p95_ms": None,
        "p99_ms": None,
        "bps": None,
        "sent_bps": None,
        "received_bps": None,
        "health": IDLE,
        "cross_cluster": False,
        "mtls": None,
        "responses": {},
        "no_pod": False,  # carries requests that reached no workload (see add_health)
    }


def _several_clusters(g: nx.DiGraph) -> bool:
    return len(g.graph.get("clusters", ())) > 1


_VIEWS: dict[str, GraphView] = {v.value: v for v in GraphView}


def _view(g: nx.DiGraph) -> GraphView:
    name = g.graph.get("view", GraphView.WORKLOAD.value)
    return _VIEWS.get(name) or GraphView(name)  # a dict first: Enum's call costs ~25 µs an edge


class _NodeIds:
    """source_node / destination_node of one build, once per Endpoint object: the collector
    shares one object per label set, and a 5,000-workload build asked 60,000 times for 10,000
    endpoints. Keyed by identity (hashing an Endpoint hashes its eight fields); the object is
    kept with its answer, so an identity is never reused while cached."""

    __slots__ = ("_dst", "_several", "_src", "_view")

    def __init__(self, view: GraphView, several: bool) -> None:
        self._view, self._several = view, several
        self._src: dict[int, tuple[Endpoint, tuple[str, dict[str, str]]]] = {}
        self._dst: dict[int, tuple[Endpoint, tuple[str, dict[str, str]]]] = {}

    def source(self, ep: Endpoint) -> tuple[str, dict[str, str]]:
        found = self._src.get(id(ep))
        if found is None or found[0] is not ep:
            found = self._src[id(ep)] = (ep, source_node(ep, self._view, self._several))
        return found[1]

    def destination(self, ep: Endpoint) -> tuple[str, dict[str, str]]:
        found = self._dst.get(id(ep))
        if found is None or found[0] is not ep:
            found = self._dst[id(ep)] = (ep, destination_node(ep, self._view, self._several))
        return found[1]


_IDS = "_node_ids"  # g.graph's key for the build's _NodeIds, removed when the build ends


def _node_ids(g: nx.DiGraph) -> _NodeIds:
    ids = g.graph.get(_IDS)
    if ids is None:
        ids = g.graph[_IDS] = _NodeIds(_view(g), _several_clusters(g))
    return ids


def ensure_edge(g: nx.DiGraph, source: Endpoint, destination: Endpoint) -> tuple[str, str]:
    """Add (or find) the nodes and the edge a record maps to in the graph's view."""
    ids = _node_ids(g)
    s, s_attrs = ids.source(source)
    t, t_attrs = ids.destination(destination)
    _merge_node(g, s, s_attrs)
    _merge_node(g, t, t_attrs)
    if not g.has_edge(s, t):
        g.add_edge(s, t, **_new_edge(s, t))
        s_cluster, t_cluster = s_attrs.get("cluster", ""), t_attrs.get("cluster", "")
        g.succ[s][t]["cross_cluster"] = bool(s_cluster and t_cluster and s_cluster != t_cluster)
    return s, t


# ---------------------------------------------------------------------------------------------
# Base graph


Counted = tuple[tuple[RequestRate, ...], tuple[TcpRate, ...]]


def _counted(telemetry: GraphTelemetry) -> Counted:
    """The requests and TCP records that count, each request once (reporters.counted_once)."""
    namespaces = telemetry.query.namespaces
    return counted_once(telemetry.requests, namespaces), counted_once(telemetry.tcp, namespaces)


def traffic_graph(telemetry: GraphTelemetry, counted: Counted | None = None) -> nx.DiGraph:
    """Nodes and edges with request counters (rps, error_rps, client_error_rps, protocol).

    TCP records add their edges too (bytes come later, from add_tcp_bytes). An edge's protocol
    is the request protocol carrying most of its rps, or "tcp" when it carries no requests.
    """
    q = telemetry.query
    g = nx.DiGraph(
        view=q.view.value,
        namespaces=tuple(q.namespaces),
        window_s=q.window_s,
        at=q.at,
        clusters=tuple(sorted(telemetry_clusters(telemetry))),
    )
    # Plain dicts, not Counters: a Counter costs 25 µs to make, and a big graph makes 20,000.
    protocols: dict[tuple[str, str], dict[str, float]] = {}
    services: dict[str, dict[str, float]] = {}
    requests, tcp = counted if counted is not None else _counted(telemetry)
    # Records of one endpoint pair (one per outcome) share their nodes and edge: map them once,
    # keyed by the endpoint objects' identity (the records hold them for the whole loop).
    pairs: dict[tuple[int, int], tuple[str, str]] = {}
    for r in requests:
        found = pairs.get((id(r.source), id(r.destination)))
        if found is None:
            found = ensure_edge(g, r.source, r.destination)
            pairs[id(r.source), id(r.destination)] = found
        s, t = found
        edge = g.succ[s][t]
        edge["rps"] += r.rps
        if r.destination.workload == UNKNOWN:
            edge["no_pod"] = True
        outcome = classify(r.response_code, r.grpc_status)
        if outcome == ERROR:
            edge["error_rps"] += r.rps
        elif outcome == CLIENT_ERROR:
            edge["client_error_rps"] += r.rps
        flags = "" if r.response_flags == "-" else r.response_flags
        if outcome != OK or flags:
            key = (r.response_code, r.grpc_status, flags)
            edge["responses"][key] = edge["responses"].get(key, 0.0) + r.rps
        protocol = (r.protocol or "http").lower()
        protocol = protocol if protocol in PROTOCOLS else "http"
        counts = protocols.get(found)
        if counts is None:
            counts = protocols[found] = {}
        counts[protocol] = counts.get(protocol, 0.0) + r.rps
        if not _absent(r.destination.service) and g.nodes[t]["kind"] != "service":
            named = services.setdefault(t, {})
            named[r.destination.service] = named.get(r.destination.service, 0.0) + r.rps
    for rec in tcp:
        ensure_edge(g, rec.source, rec.destination)
    for (s, t), counts in protocols.items():
        # Most rps wins; ties go to the first name alphabetically, so output is stable.
        g.edges[s, t]["protocol"] = min(counts, key=lambda p: (-counts[p], p))
    for node_id, counts in services.items():
        g.nodes[node_id]["service"] = min(counts, key=lambda name: (-counts[name], name))
    return g


# ---------------------------------------------------------------------------------------------
# Appenders


def add_tcp_bytes(g: nx.DiGraph, tcp: Iterable[TcpRate]) -> None:
    """sent_bps / received_bps (caller-oriented, see TcpRate) and bps = their sum, per edge."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for rec in tcp:
        key = ensure_edge(g, rec.source, rec.destination)
        sums[key][0] += rec.sent_bps
        sums[key][1] += rec.received_bps
    for (s, t), (sent, received) in sums.items():
        edge = g.edges[s, t]
        edge["sent_bps"] = sent
        edge["received_bps"] = received
        edge["bps"] = sent + received


def _fields(ep: Endpoint) -> tuple[str, ...]:
    # dataclasses.astuple deep-copies every field: 50x slower on a 4,000-edge graph.
    return (
        ep.namespace,
        ep.workload,
        ep.app,
        ep.version,
        ep.service,
        ep.service_namespace,
        ep.cluster,
        ep.host,
    )


def _endpoint_key(source: Endpoint, destination: Endpoint) -> tuple[tuple[str, ...], ...]:
    return (_fields(source), _fields(destination))


PairWeights = dict[tuple[tuple[str, ...], ...], float]


def pair_weights(requests: Iterable[RequestRate]) -> PairWeights:
    """Request rate per endpoint pair: which latency record an edge keeps (add_latency)."""
    weight: PairWeights = defaultdict(float)
    for r in requests:
        weight[_endpoint_key(r.source, r.destination)] += r.rps
    return weight


def add_latency(g: nx.DiGraph, latencies: Iterable[LatencyQuantiles], weight: PairWeights) -> None:
    """p50/p95/p99 per edge.

    Quantiles cannot be added up, so when several latency records land on one edge (e.g. a
    workload reached through two services) the edge keeps the record of the endpoint pair with
    the most request traffic (`weight`, pair_weights of the requests counted once); equal
    traffic keeps the first pair in label order. Records for edges without request traffic are
    ignored: a quantile without requests is meaningless.
    """
    ids = _node_ids(g)
    candidates: list[tuple[float, tuple[tuple[str, ...], ...], tuple[str, str], LatencyQuantiles]]
    candidates = []
    for rec in latencies:
        s, _ = ids.source(rec.source)
        t, _ = ids.destination(rec.destination)
        if g.has_edge(s, t):
            key = _endpoint_key(rec.source, rec.destination)
            candidates.append((-weight.get(key, 0.0), key, (s, t), rec))
    candidates.sort(key=lambda c: (c[0], c[1]))
    chosen: dict[tuple[str, str], LatencyQuantiles] = {}
    for _, _, edge_key, rec in candidates:
        chosen.setdefault(edge_key, rec)
    for (s, t), rec in chosen.items():
        edge = g.edges[s, t]
        edge["p50_ms"], edge["p95_ms"], edge["p99_ms"] = rec.p50_ms, rec.p95_ms, rec.p99_ms


def add_share(g: nx.DiGraph) -> None:
    """Each edge's fraction of its source's outgoing request rps (None without requests)."""
    total: dict[str, float] = defaultdict(float)
    for s, _, d in g.edges(data=True):
        total[s] += d["rps"]
    for s, _, d in g.edges(data=True):
        carries_requests = d["protocol"] != "tcp" or d["rps"] > 0
        d["share"] = d["rps"] / total[s] if total[s] > 0 and carries_requests else None


_NODE_SUMS = (
    ("rps", "rps_in", "rps_out"),
    ("error_rps", "error_rps_in", "error_rps_out"),
    ("client_error_rps", "client_error_rps_in", "client_error_rps_out"),
    ("bps", "bps_in", "bps_out"),
)


def add_node_rates(g: nx.DiGraph) -> None:
    """rps_in / rps_out and the inbound and outbound error counters and bytes of every node."""
    for _, node in g.nodes(data=True):
        for _, inbound, outbound in _NODE_SUMS:
            node[inbound] = 0.0
            node[outbound] = 0.0
    nodes = g.nodes
    for s, t, d in g.edges(data=True):
        source, target = nodes[s], nodes[t]
        for edge_key, inbound, outbound in _NODE_SUMS:
            value = d[edge_key] or 0.0
            target[inbound] += value
            source[outbound] += value


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole > 0 else 0.0


def add_error_rates(g: nx.DiGraph) -> None:
    """Error and client-error ratios of edges and of nodes' inbound traffic (0 when idle)."""
    for _, _, d in g.edges(data=True):
        d["error_rate"] = _ratio(d["error_rps"], d["rps"])
        d["error_rate_4xx"] = _ratio(d["client_error_rps"], d["rps"])
    for _, node in g.nodes(data=True):
        node["error_rate_in"] = _ratio(node.get("error_rps_in", 0.0), node["rps_in"])
        node["error_rate_4xx_in"] = _ratio(node.get("client_error_rps_in", 0.0), node["rps_in"])


def traffic_health(
    rps: float, error_rps: float, client_error_rps: float, bps: float, t: HealthThresholds
) -> str:
    """Health by the request ratios; TCP-only traffic (bytes, no requests) is healthy."""
    if rps > 0:
        return health(rps, error_rps / rps, client_error_rps / rps, t)
    return HEALTHY if bps > 0 else IDLE


_SEVERITY = {IDLE: 0, HEALTHY: 1, DEGRADED: 2, FAILURE: 3}


def worse(a: str, b: str) -> str:
    """The more severe of two health states."""
    return a if _SEVERITY.get(a, 0) >= _SEVERITY.get(b, 0) else b


def add_health(g: nx.DiGraph, thresholds: HealthThresholds) -> None:
    """Edge health from its requests; node health from its inbound traffic.

    TCP carries no status codes, so TCP-only traffic is healthy when bytes flow. A node that
    receives nothing (the ingress gateway, `unknown`) is judged on what it sends instead, or
    it would always show idle while it drives the mesh.

    Requests that reached no pod (no route, no healthy upstream) fail before any workload could
    answer them: they also count against the caller, whose health is the worse of its inbound
    health and theirs, so a caller failing that way never stays green.
    """
    for _, _, d in g.edges(data=True):
        d["health"] = traffic_health(
            d["rps"], d["error_rps"], d["client_error_rps"], d["bps"] or 0.0, thresholds
        )
    for _, n in g.nodes(data=True):
        inbound = (n.get("error_rps_in", 0.0), n.get("client_error_rps_in", 0.0))
        outbound = (n.get("error_rps_out", 0.0), n.get("client_error_rps_out", 0.0))
        if n["rps_in"] > 0 or n.get("bps_in", 0.0) > 0:
            n["health"] = traffic_health(n["rps_in"], *inbound, n.get("bps_in", 0.0), thresholds)
        else:
            n["health"] = traffic_health(n["rps_out"], *outbound, n.get("bps_out", 0.0), thresholds)
    for s in g.nodes:
        lost = [d for _, _, d in g.out_edges(s, data=True) if d.get("no_pod")]
        if not lost:
            continue
        rps = sum(d["rps"] for d in lost)
        errors = sum(d["error_rps"] for d in lost)
        client = sum(d["client_error_rps"] for d in lost)
        node = g.nodes[s]
        node["health"] = worse(node["health"], traffic_health(rps, errors, client, 0.0, thresholds))


def mark_outsiders(g: nx.DiGraph, namespaces: Iterable[str]) -> None:
    """Nodes from namespaces that were not asked for (they call in, or are called)."""
    wanted = frozenset(namespaces)
    for _, n in g.nodes(data=True):
        n["outsider"] = n["kind"] != "unknown" and n["namespace"] not in wanted


def add_security(
    g: nx.DiGraph, requests: Iterable[RequestRate], tcp: Iterable[TcpRate] = ()
) -> None:
    """Each edge's mTLS share: of the requests (of the bytes, for a TCP edge) its destination
    reported, the part with connection_security_policy="mutual_tls". None where no destination
    report names a policy (an unmeshed destination, a request that reached no pod, series
    without the label): unknown, never 0 and never 1."""
    ids = _node_ids(g)
    pairs: dict[tuple[Endpoint, Endpoint], tuple[str, str]] = {}
    sums: dict[tuple[str, str, bool], list[float]] = defaultdict(lambda: [0.0, 0.0])

    def add(source: Endpoint, destination: Endpoint, tcp: bool, amount: float, sec: str) -> None:
        found = pairs.get((source, destination))
        if found is None:
            found = pairs[source, destination] = (
                ids.source(source)[0],
                ids.destination(destination)[0],
            )
        if not g.has_edge(*found) or sec not in KNOWN_POLICIES:
            return  # a report without the policy (older Istio, custom metrics) cannot say
        acc = sums[(*found, tcp)]
        acc[0] += amount
        if sec == MUTUAL_TLS:
            acc[1] += amount

    for r in destination_reports(tuple(requests)):
        add(r.source, r.destination, False, r.rps, r.security)
    for rec in destination_reports(tuple(tcp)):
        add(rec.source, rec.destination, True, rec.sent_bps + rec.received_bps, rec.security)
    for s, t, d in g.edges(data=True):
        by_bytes = d["protocol"] == "tcp" and d["rps"] == 0
        total, secure = sums.get((s, t, by_bytes), (0.0, 0.0))
        d["mtls"] = secure / total if total > 0 else None


def appenders(
    telemetry: GraphTelemetry,
    thresholds: HealthThresholds,
    counted: Counted | None = None,
) -> list[Appender]:
    """The enrichment pipeline, in order: later steps read what earlier ones wrote. `counted`:
    the requests and TCP records counted once (reporters.counted_once), when already known.
    Latency is not among them: no step reads it, so the graph is built before it arrives and
    with_latencies adds it (TrafficGraph)."""
    _, tcp = counted if counted is not None else _counted(telemetry)
    return [
        partial(add_tcp_bytes, tcp=tcp),
        partial(add_security, requests=telemetry.requests, tcp=telemetry.tcp),
        add_share,
        add_node_rates,
        add_error_rates,
        partial(add_health, thresholds=thresholds),
        partial(mark_outsiders, namespaces=telemetry.query.namespaces),
    ]


@dataclass(frozen=True)
class TrafficGraph:
    """A refresh's graph before its latencies: everything but p50/p95/p99 (which no other step
    reads), built from the requests and TCP bytes while Prometheus still sums the latency
    buckets, the largest answer of a refresh by far. with_latencies finishes it."""

    graph: nx.DiGraph
    weights: PairWeights


def traffic_part(
    telemetry: GraphTelemetry,
    thresholds: HealthThresholds = HealthThresholds(),  # noqa: B008 - frozen, immutable
) -> TrafficGraph:
    """The graph of the telemetry's requests and TCP bytes (its latencies are not read)."""
    counted = _counted(telemetry)  # once for the base graph and the appenders
    g = traffic_graph(telemetry, counted)
    for step in appenders(telemetry, thresholds, counted):
        step(g)
    return TrafficGraph(g, pair_weights(counted[0]))


def with_latencies(part: TrafficGraph, latencies: Iterable[LatencyQuantiles]) -> nx.DiGraph:
    """The finished graph: `part` (no longer to be used) with each edge's latency quantiles."""
    g = part.graph
    add_latency(g, latencies, part.weights)
    g.graph.pop(_IDS, None)
    return g


def build_graph(
    telemetry: GraphTelemetry,
    thresholds: HealthThresholds = HealthThresholds(),  # noqa: B008 - frozen, immutable
) -> nx.DiGraph:
    """The graph of one refresh: the base traffic graph run through every appender."""
    return with_latencies(traffic_part(telemetry, thresholds), telemetry.latencies)


def keep_clusters(g: nx.DiGraph, clusters: Iterable[str]) -> nx.DiGraph:
    """The part of the graph in `clusters`: their nodes, every edge touching one, and the nodes
    at the other end of those edges, so a call into or out of the chosen clusters still shows
    where it goes. Figures are those of the whole graph: filtering hides, it never recounts."""
    wanted = frozenset(clusters)
    if not wanted:
        return g
    inside = {n for n, d in g.nodes(data=True) if d.get("cluster") in wanted}
    edges = [(s, t) for s, t in g.edges() if s in inside or t in inside]
    sub = g.subgraph(inside | {n for edge in edges for n in edge}).copy()
    sub.remove_edges_from([(s, t) for s, t in g.edges() if s not in inside and t not in inside])
    sub.graph.pop(_IDS, None)  # a build's own, when kept before its latencies (TrafficGraph)
    return sub


def graph_clusters(g: nx.DiGraph) -> tuple[str, ...]:
    """Every cluster the refresh's telemetry names, sorted (also when a filter hides some)."""
    return tuple(g.graph.get("clusters", ()))


# ---------------------------------------------------------------------------------------------
# Output


def _round(value: float, decimals: int) -> float:
    if value == 0:
        return 0.0
    if abs(value) >= _ENOUGH_DIGITS[decimals]:  # enough digits already
        return round(value, decimals)
    digits = max(decimals, _SIGNIFICANT - 1 - math.floor(math.log10(abs(value))))
    return round(value, digits)


def _responses_json(responses: Mapping[tuple[str, str, str], float]) -> list[dict[str, Any]]:
    """Failing or flagged outcomes of an edge, the largest first: code, gRPC status, Envoy's
    response flags ("NR", "UH,URX", ...) and their rate."""
    ordered = sorted(responses.items(), key=lambda item: (-item[1], item[0]))[:MAX_RESPONSES]
    return [
        {"code": code, "grpc": grpc, "flags": flags, "rps": _round(rps, 4)}
        for (code, grpc, flags), rps in ordered
    ]


def _plain(value: Any, decimals: int | None = None) -> Any:
    kind = type(value)
    if kind is float or kind is int:  # most values: checked first
        return _number(value, decimals)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return _number(value, decimals)
    return str(value)


def _number(value: float, decimals: int | None) -> float | None:
    if not math.isfinite(value):
        return None
    return float(value) if decimals is None else _round(float(value), decimals)


def _converter(key: str) -> Callable[[Any], Any]:
    """graph_json's rule for one field, chosen once per field rather than once per value."""
    if key == "responses":
        return lambda value: _responses_json(value or {})
    decimals = _DECIMALS.get(key)
    if decimals is None:
        return _plain
    return lambda value: _plain(value, decimals)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    key: _converter(key) for key in (*NODE_FIELDS, *EDGE_FIELDS)
}
_NODE_COLUMNS = tuple((key, _CONVERTERS[key]) for key in NODE_FIELDS)
_EDGE_COLUMNS = tuple((key, _CONVERTERS[key]) for key in EDGE_FIELDS)


LATENCY_FIELDS = ("p50_ms", "p95_ms", "p99_ms")
_LATENCY_COLUMNS = tuple((key, _CONVERTERS[key]) for key in LATENCY_FIELDS)


def with_latency_json(edges: Iterable[dict[str, Any]], g: nx.DiGraph) -> None:
    """graph_json's latency fields of `edges` (graph_json's, of g or of a part of it with the
    same ids, made before with_latencies) from g's edges, now that they hold their quantiles:
    the rest of an answer is made while Prometheus still sums the buckets. An edge g has not
    keeps its fields."""
    for edge in edges:
        data = g.get_edge_data(edge["source"], edge["target"])
        if data is not None:
            for key, convert in _LATENCY_COLUMNS:
                edge[key] = convert(data[key])


def graph_json(g: nx.DiGraph) -> dict[str, list[dict[str, Any]]]:
    """JSON-ready nodes and edges: no NaN or infinity, rounded, sorted by id for stable output."""
    # Text needs no rule: a str value is kept without a call (half the fields, 200,000 values
    # at 5,000 workloads).
    nodes = [
        {
            k: v if (v := data.get(k)).__class__ is str else convert(v)
            for k, convert in _NODE_COLUMNS
        }
        for _, data in sorted(g.nodes(data=True), key=lambda item: item[0])
    ]
    edges = [
        {
            k: v if (v := data.get(k)).__class__ is str else convert(v)
            for k, convert in _EDGE_COLUMNS
        }
        for _, _, data in sorted(g.edges(data=True), key=lambda item: (item[0], item[1]))
    ]
    return {"nodes": nodes, "edges": edges}


def security_summary(g: nx.DiGraph) -> dict[str, Any]:
    """How much of the traffic runs in plain text, over the edges whose destination reported
    its security policy (`mtls` known): requests, and bytes for TCP-only edges. None when no
    edge can say: not enough data, never 0 %. `unknown_rps` is the traffic that cannot say."""
    known_rps = plain_rps = unknown_rps = known_bps = plain_bps = 0.0
    for _, _, d in g.edges(data=True):
        if d.get("mtls") is None:
            unknown_rps += d["rps"]
            continue
        if d["rps"] > 0:
            known_rps += d["rps"]
            plain_rps += d["rps"] * (1.0 - d["mtls"])
        elif d["bps"]:
            known_bps += d["bps"]
            plain_bps += d["bps"] * (1.0 - d["mtls"])
    return {
        "plaintext_rps": _round(plain_rps, 4) if known_rps > 0 else None,
        "plaintext_share": _round(plain_rps / known_rps, 4) if known_rps > 0 else None,
        "plaintext_bps": _round(plain_bps, 2) if known_bps > 0 else None,
        "plaintext_bps_share": _round(plain_bps / known_bps, 4) if known_bps > 0 else None,
        "unknown_security_rps": _round(unknown_rps, 4),
    }


def graph_summary(g: nx.DiGraph) -> dict[str, Any]:
    """Totals for a page header: request rate over all edges, its error ratios, TCP bytes."""
    rps = sum(d["rps"] for _, _, d in g.edges(data=True))
    errors = sum(d["error_rps"] for _, _, d in g.edges(data=True))
    client_errors = sum(d["client_error_rps"] for _, _, d in g.edges(data=True))
    bps = sum(d["bps"] or 0.0 for _, _, d in g.edges(data=True))
    states = Counter(n["health"] for _, n in g.nodes(data=True))

    return {
        "nodes": g.number_of_nodes(),
        "edges": g.number_of_edges(),
        "rps": _round(rps, 4),
        "error_rate": _round(_ratio(errors, rps), 6),
        "error_rate_4xx": _round(_ratio(client_errors, rps), 6),
        "bps": _round(bps, 2),
        **security_summary(g),
        "health": {
            state: states.get(state, 0) for state in ("healthy", "degraded", "failure", "idle")
        },
    }
