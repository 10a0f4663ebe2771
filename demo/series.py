"""The Istio-standard series the demo's sidecars would export, with Istio's labels and reporters.

One edge yields, per reporter (source only for a meshed caller; destination always) and per
outcome: istio_requests_total and the istio_request_duration_milliseconds histogram; a tcp edge
yields istio_tcp_{sent,received}_bytes_total and istio_tcp_connections_{opened,closed}_total.
Istio names the TCP byte counters from the proxy's point of view: *received* is what the client
sent in the request direction, *sent* is the response direction (see mesh.telemetry_records.TcpRate).

Counters are integers (floors of the model's exact cumulative counts), bucket counts are
cumulative in `le` and monotone in time, and a series starts at its first request, as a real
Envoy stat does, so an edge that never carried traffic has no series at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from demo.spec import Outcome, Workload
from demo.traffic import Edge, EdgeCounters, TrafficModel

REQUESTS = "istio_requests"
DURATION = "istio_request_duration_milliseconds"
TCP_SENT = "istio_tcp_sent_bytes"  # server -> client (response direction)
TCP_RECEIVED = "istio_tcp_received_bytes"  # client -> server (request direction)
TCP_OPENED = "istio_tcp_connections_opened"
TCP_CLOSED = "istio_tcp_connections_closed"

FAMILIES: dict[str, str] = {
    REQUESTS: "counter",
    DURATION: "histogram",
    TCP_SENT: "counter",
    TCP_RECEIVED: "counter",
    TCP_OPENED: "counter",
    TCP_CLOSED: "counter",
}


@dataclass(frozen=True, slots=True)
class CounterSeries:
    family: str  # the sample name is family + "_total"
    labels: dict[str, str]
    times: np.ndarray
    values: np.ndarray  # int64, non-decreasing


@dataclass(frozen=True, slots=True)
class HistogramSeries:
    family: str
    labels: dict[str, str]
    times: np.ndarray
    buckets: np.ndarray  # int64 (n, len(ISTIO_BUCKETS_MS) + 1), cumulative, last is +Inf
    sums: np.ndarray  # float milliseconds


def _principal(w: Workload, mtls: bool) -> str:
    return w.principal if (mtls and w.meshed) else "unknown"


def secure_edge(edge: Edge, mtls: bool = True) -> bool:
    """Whether the edge's requests travel over mutual TLS: the mesh enables it, the caller has
    a sidecar, and the destination accepts it (Workload.mtls False: plain text toward it)."""
    return mtls and edge.source.meshed and edge.destination.mtls


def edge_labels(edge: Edge, reporter: str, mtls: bool = True, full: bool = True) -> dict[str, str]:
    """Istio's standard labels of one edge as one reporter sees it (empty values left out,
    as Prometheus drops them). `full=False` keeps only what meshdash queries, for big benches."""
    s, d = edge.source, edge.destination
    labels = {
        "reporter": reporter,
        "source_workload": s.name,
        "source_workload_namespace": s.namespace,
        "source_canonical_service": s.app,
        "source_canonical_revision": s.version,
        "destination_workload": d.name,
        "destination_workload_namespace": d.namespace,
        "destination_canonical_service": d.app,
        "destination_canonical_revision": d.version,
        "destination_service": f"{edge.service}.{edge.namespace}.svc.cluster.local",
        "destination_service_name": edge.service,
        "destination_service_namespace": edge.namespace,
        "request_protocol": edge.protocol,
        # The graph groups by the clusters too (mesh/viewkeys.CLUSTER_LABELS), so even the
        # short label set keeps them.
        "source_cluster": s.cluster,
        "destination_cluster": d.cluster,
        # The client proxy cannot tell the policy; the server's knows whether mTLS was used
        # (the graph's mTLS share reads it, so even the short label set keeps it).
        "connection_security_policy": "unknown"
        if reporter == "source"
        else ("mutual_tls" if secure_edge(edge, mtls) else "none"),
    }
    if full:
        secure = secure_edge(edge, mtls)
        labels |= {
            "source_app": s.app,
            "source_version": s.version,
            "source_principal": _principal(s, secure),
            "destination_app": d.app,
            "destination_version": d.version,
            "destination_principal": _principal(d, secure),
        }
    return {k: v for k, v in labels.items() if v != ""}


def request_labels(
    edge: Edge, reporter: str, outcome: Outcome, mtls: bool = True, full: bool = True
) -> dict[str, str]:
    labels = edge_labels(edge, reporter, mtls, full)
    labels["response_code"] = outcome.response_code
    if outcome.grpc_status:
        labels["grpc_response_status"] = outcome.grpc_status
    labels["response_flags"] = outcome.response_flags  # the graph groups by it too
    return labels


def tcp_labels(edge: Edge, reporter: str, mtls: bool = True, full: bool = True) -> dict[str, str]:
    labels = edge_labels(edge, reporter, mtls, full)
    if full:
        labels["response_flags"] = "-"
    return labels


def ambient_reporter(edge: Edge, reporter: str, ambient: frozenset[str]) -> str | None:
    """The reporter label one of the model's two reports carries in a mesh whose `ambient`
    namespaces run without sidecars, or None when no proxy would report it.

    L7 only: an ambient caller has no proxy, so no caller's report; an ambient callee's
    report comes from its waypoint (server-side, as a sidecar's). TCP is ztunnel's, which
    reports from both sides like sidecars do.
    """
    if edge.is_tcp or not ambient:
        return reporter
    if reporter == "source":
        return None if edge.source.namespace in ambient else reporter
    return "waypoint" if edge.destination.namespace in ambient else reporter


def _birth(values: np.ndarray) -> int | None:
    """Index of the first sample with a count, or None when the series never exists."""
    nz = np.flatnonzero(values >= 1)
    return int(nz[0]) if nz.size else None


def edge_series(
    counters: EdgeCounters,
    mtls: bool = True,
    full: bool = True,
    ambient: frozenset[str] = frozenset(),
) -> Iterator[CounterSeries | HistogramSeries]:
    """Every series of one edge, integer counters from the model's exact cumulative counts
    (`ambient`: the namespaces whose L7 reports come from waypoints, see ambient_reporter)."""
    edge, times = counters.edge, counters.times
    if edge.is_tcp:
        assert counters.connections is not None
        assert counters.sent_bytes is not None and counters.received_bytes is not None
        opened = np.floor(counters.connections).astype(np.int64)
        # A connection lasts about one step: what opened by the previous sample has closed.
        closed = np.concatenate([[0], opened[:-1]]).astype(np.int64)
        sent = np.floor(counters.received_bytes).astype(np.int64)  # server -> client
        received = np.floor(counters.sent_bytes).astype(np.int64)  # client -> server
        start = _birth(np.maximum(np.maximum(opened, sent), received))
        if start is None:
            return
        for reporter in edge.reporters:
            labels = tcp_labels(edge, reporter, mtls, full)
            for family, values in (
                (TCP_SENT, sent),
                (TCP_RECEIVED, received),
                (TCP_OPENED, opened),
                (TCP_CLOSED, closed),
            ):
                yield CounterSeries(family, labels, times[start:], values[start:])
        return
    for outcome, cumulative in counters.requests.items():
        count = np.floor(cumulative).astype(np.int64)
        start = _birth(count)
        if start is None:
            continue
        for reporter in edge.reporters:
            said = ambient_reporter(edge, reporter, ambient)
            if said is None:
                continue
            labels = request_labels(edge, reporter, outcome, mtls, full) | {"reporter": said}
            yield CounterSeries(REQUESTS, labels, times[start:], count[start:])
            finite = np.floor(counters.buckets[(reporter, outcome)]).astype(np.int64)
            # Floors of a share of the count never exceed the count; clip guards float noise.
            finite = np.minimum(finite, count[:, None])
            buckets = np.concatenate([finite, count[:, None]], axis=1)[start:]
            sums = counters.sum_ms[(reporter, outcome)][start:]
            yield HistogramSeries(DURATION, labels, times[start:], buckets, sums)


def mesh_series(
    model: TrafficModel,
    start: float,
    end: float,
    step: float = 15.0,
    mtls: bool | None = None,
    full: bool = True,
) -> Iterator[CounterSeries | HistogramSeries]:
    """All series of the mesh sampled every `step` seconds over [start, end], edge by edge."""
    use_mtls = model.spec.mtls if mtls is None else mtls
    ambient = frozenset(model.spec.ambient_namespaces)
    for counters in model.counters(start, end, step):
        yield from edge_series(counters, use_mtls, full, ambient)
