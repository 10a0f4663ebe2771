"""Typed telemetry records: what collectors (and the demo) hand to the model.

Records are grouped by the labels of the requested graph view, so fields that the view does not
group by are empty strings. Rates are per second, averaged over the query window.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

UNKNOWN = "unknown"


class GraphView(StrEnum):
    WORKLOAD = "workload"
    APP = "app"
    VERSIONED_APP = "versioned-app"
    SERVICE = "service"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One end of an edge, as Istio labels name it.

    For a source: namespace=source_workload_namespace, workload=source_workload,
    app=source_canonical_service, version=source_canonical_revision, service="".
    For a destination: namespace=destination_workload_namespace (or destination_service_namespace
    when the workload is unknown), workload=destination_workload,
    app=destination_canonical_service, version=destination_canonical_revision,
    service=destination_service_name, service_namespace=destination_service_namespace,
    host=destination_service.
    A caller outside the mesh has workload == "unknown".
    """

    namespace: str = ""
    workload: str = ""
    app: str = ""
    version: str = ""
    service: str = ""
    service_namespace: str = ""
    cluster: str = ""
    host: str = ""  # destination_service: the host the caller asked for (destinations only)

    @property
    def is_unknown(self) -> bool:
        return self.workload == UNKNOWN or (not self.workload and self.app == UNKNOWN)


@dataclass(frozen=True, slots=True)
class RequestRate:
    """Requests per second on one edge with one outcome, counted once (see DESIGN.md reporters)."""

    source: Endpoint
    destination: Endpoint
    protocol: str  # "http", "grpc", ...
    response_code: str  # "200", "503", "0" (no response)
    grpc_status: str  # "" when absent, "0" OK, "1".."16" errors
    rps: float
    # Which proxy reported it ("source" or "destination"; mesh/graph/reporters.py picks one per edge
    # so each request counts once), Envoy's response_flags ("-", "NR", "UH", ...), and the
    # destination report's connection_security_policy ("mutual_tls", "none"; "" or "unknown"
    # on source reports, which cannot tell).
    reporter: str = "source"
    response_flags: str = ""
    security: str = ""


@dataclass(frozen=True, slots=True)
class LatencyQuantiles:
    """Latency quantiles of one edge in milliseconds; None when the window saw no request."""

    source: Endpoint
    destination: Endpoint
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True, slots=True)
class TcpRate:
    """TCP bytes per second on one edge, oriented from the caller's side.

    sent_bps flows source -> destination (Istio's istio_tcp_received_bytes_total: the proxy
    names it from its own point of view), received_bps flows back (istio_tcp_sent_bytes_total).
    """

    source: Endpoint
    destination: Endpoint
    sent_bps: float
    received_bps: float
    reporter: str = "source"  # as RequestRate
    security: str = ""  # as RequestRate


@dataclass(frozen=True, slots=True)
class GraphQuery:
    """What one graph refresh asks for. `at` is a UNIX time in seconds; window in seconds."""

    namespaces: tuple[str, ...]
    view: GraphView
    window_s: int
    at: float


@dataclass(frozen=True, slots=True)
class MissingPart:
    """One metrics endpoint (a cluster's Prometheus) that failed while the others answered, so
    the graph lacks that cluster's part. `cause` is the BackendError's text, free of secrets."""

    backend: str
    cluster: str
    cause: str


@dataclass(frozen=True, slots=True)
class GraphTelemetry:
    """Everything one graph refresh needs, from one small fixed set of queries.

    queries_sent counts the queries each metrics endpoint received (the same for one global
    endpoint as for every per-cluster one); `partial` names the endpoints that failed.
    """

    query: GraphQuery
    requests: tuple[RequestRate, ...] = ()
    latencies: tuple[LatencyQuantiles, ...] = ()
    tcp: tuple[TcpRate, ...] = ()
    queries_sent: int = 0
    partial: tuple[MissingPart, ...] = ()
    # Clusters the source serves whatever the data says (its per-cluster endpoints), so node ids
    # keep their cluster while one of them is down.
    clusters: tuple[str, ...] = ()
    endpoints: int = 1  # metrics endpoints asked, each sent queries_sent queries
