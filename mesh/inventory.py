"""The mesh as lists: services, workloads and apps with their health, and namespaces rolled up.

Pure roll-ups of per-reporter request rows, so the overview, the lists and their API share one
rule set. Counting each request once works per namespace, as Kiali's namespace rules do
(DESIGN.md "Reporters"), applied to each row's destination namespace:

- a call that starts in the namespace it reaches is counted from `reporter="source"`;
- a call entering from another namespace, or from an unmeshed caller (namespace "unknown"),
  from `reporter="destination"`;
- a call no workload answered (destination_workload "unknown": no route, no healthy upstream)
  from `reporter="source"`, since no destination proxy saw it;
- ambient mode: a waypoint's report (`reporter="waypoint"`) is a destination-side report, and
  a destination-side report also stands in where the caller's report of the same edge is
  missing (an ambient caller has no proxy). mesh/graph/reporters.destination_side_counts
  decides, for the graph and these lists alike, so a mixed mesh counts each request once.
  An edge here is a row's labels without the reporter and the outcome; the overview groups by
  the calling workload for it (a list by every label), so in the overview one caller's calls
  to a service count as one edge even when its versions run in both data planes.

A namespace's figures therefore do not change with which other namespaces are listed.
Health follows mesh/health.py; an entity that receives nothing but sends is judged on what it
sends, as graph nodes are; one whose series exist but carried nothing in the window is idle.
"""

from __future__ import annotations

import difflib
import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from mesh.graph.reporters import destination_side_counts
from mesh.health import (
    DEGRADED,
    FAILURE,
    HEALTHY,
    IDLE,
    HealthThresholds,
    health,
)
from mesh.outcomes import CLIENT_ERROR, ERROR, classify
from mesh.quantiles import histogram_quantile
from mesh.telemetry_records import UNKNOWN

SOURCE = "source"
DESTINATION = "destination"
# Worst first: the order lists and the overview sort by.
HEALTH_RANK: dict[str, int] = {FAILURE: 0, DEGRADED: 1, HEALTHY: 2, IDLE: 3}


class Kind(StrEnum):
    SERVICE = "service"
    WORKLOAD = "workload"
    APP = "app"


KINDS: tuple[str, ...] = tuple(k.value for k in Kind)


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One `sum by` sample of istio_requests_total, still per reporter. Labels the query did
    not group by are empty strings."""

    reporter: str
    source_namespace: str
    destination_service_namespace: str
    response_code: str
    grpc_status: str
    rps: float
    source_workload: str = ""
    source_app: str = ""
    source_version: str = ""
    destination_service: str = ""
    destination_namespace: str = ""  # destination_workload_namespace
    destination_workload: str = ""
    destination_app: str = ""
    destination_version: str = ""


@dataclass(frozen=True, slots=True)
class BucketRow:
    """Summed rate of one latency bucket (`le`, ms) of one entity, destination reporter."""

    namespace: str
    name: str
    le: float
    rate: float


@dataclass(frozen=True, slots=True)
class InventoryQuery:
    """What one overview or list refresh asks for. No namespaces means every namespace;
    kind None means the overview (requests only, no latency)."""

    namespaces: tuple[str, ...]
    kind: Kind | None
    window_s: int
    at: float


@dataclass(frozen=True, slots=True)
class InventoryTelemetry:
    query: InventoryQuery
    requests: tuple[RequestRow, ...] = ()
    buckets: tuple[BucketRow, ...] = ()
    queries_sent: int = 0


@dataclass(frozen=True, slots=True)
class Entity:
    """One row of a list: a service, a workload or an app, in one namespace."""

    kind: str
    namespace: str
    name: str
    rps_in: float
    error_rate: float  # 5xx, code 0 and gRPC 1-16, over inbound (outbound when nothing comes in)
    error_rate_4xx: float
    rps_out: float
    p95_ms: float | None
    versions: tuple[str, ...]
    health: str


@dataclass(frozen=True, slots=True)
class NamespaceSummary:
    """One row of the overview."""

    namespace: str
    health: str  # the worst of its services; idle when none carried traffic
    counts: Mapping[str, int]  # services per health state
    services: int
    rps_in: float  # entering from other namespaces and from outside the mesh
    rps_served: float  # answered by its services, calls from inside the namespace included
    error_rate: float  # over rps_served
    error_rate_4xx: float
    rps_out: float  # leaving for other namespaces
    sent_error_rate: float = 0.0  # over every call its workloads make (what a gateway is judged on)
    in_kubernetes: bool | None = None  # None: Kubernetes not asked
    has_traffic: bool = True


def _known(value: str) -> bool:
    return bool(value) and value != UNKNOWN


def _edge(r: RequestRow) -> tuple[str, ...]:
    """Who called whom, as far as the query's labels say: the row without reporter and outcome."""
    return (
        r.source_namespace,
        r.source_workload,
        r.source_app,
        r.source_version,
        r.destination_service_namespace,
        r.destination_service,
        r.destination_namespace,
        r.destination_workload,
        r.destination_app,
        r.destination_version,
    )


def counted_once(rows: Iterable[RequestRow]) -> list[RequestRow]:
    """The rows that count each request exactly once (module docstring)."""
    rows = list(rows)
    edges = [_edge(r) for r in rows]
    by_caller = {e for r, e in zip(rows, edges, strict=True) if r.reporter == SOURCE}
    by_sidecar = {e for r, e in zip(rows, edges, strict=True) if r.reporter == DESTINATION}
    out = []
    for r, e in zip(rows, edges, strict=True):
        inside = r.source_namespace == r.destination_service_namespace
        if r.reporter == SOURCE:
            if inside or r.destination_workload == UNKNOWN:
                out.append(r)
        elif destination_side_counts(r.reporter, inside, e in by_caller, e in by_sidecar):
            out.append(r)
    return out


@dataclass(slots=True)
class _Tally:
    rps_in: float = 0.0
    error_in: float = 0.0
    client_error_in: float = 0.0
    rps_out: float = 0.0
    error_out: float = 0.0
    client_error_out: float = 0.0
    versions: set[str] = field(default_factory=set)


@functools.lru_cache(maxsize=1024)
def _outcome(response_code: str, grpc_status: str) -> str:
    return classify(response_code, grpc_status)


def _add(t: _Tally, r: RequestRow, inbound: bool) -> None:
    outcome = _outcome(r.response_code, r.grpc_status)
    if inbound:
        t.rps_in += r.rps
        t.error_in += r.rps if outcome == ERROR else 0.0
        t.client_error_in += r.rps if outcome == CLIENT_ERROR else 0.0
    else:
        t.rps_out += r.rps
        t.error_out += r.rps if outcome == ERROR else 0.0
        t.client_error_out += r.rps if outcome == CLIENT_ERROR else 0.0


def _inbound_key(r: RequestRow, kind: Kind) -> tuple[str, str] | None:
    if kind is Kind.SERVICE:
        key = (r.destination_service_namespace, r.destination_service)
    elif kind is Kind.WORKLOAD:
        key = (r.destination_namespace, r.destination_workload)
    else:
        key = (r.destination_namespace, r.destination_app)
    return key if _known(key[0]) and _known(key[1]) else None


def _outbound_key(r: RequestRow, kind: Kind) -> tuple[str, str] | None:
    if kind is Kind.SERVICE:
        return None  # a service receives; its workloads send
    name = r.source_workload if kind is Kind.WORKLOAD else r.source_app
    key = (r.source_namespace, name)
    return key if _known(key[0]) and _known(key[1]) else None


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole > 0 else 0.0


def _judge(t: _Tally, thresholds: HealthThresholds) -> tuple[str, float, float]:
    """Health and the error ratios it was judged on: inbound, else outbound."""
    if t.rps_in > 0:
        e, c = _ratio(t.error_in, t.rps_in), _ratio(t.client_error_in, t.rps_in)
        return health(t.rps_in, e, c, thresholds), e, c
    if t.rps_out > 0:
        e, c = _ratio(t.error_out, t.rps_out), _ratio(t.client_error_out, t.rps_out)
        return health(t.rps_out, e, c, thresholds), e, c
    return IDLE, 0.0, 0.0


def p95_by_entity(buckets: Iterable[BucketRow]) -> dict[tuple[str, str], float | None]:
    """p95 per (namespace, name) from summed bucket rates, as PromQL's histogram_quantile."""
    grouped: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for b in buckets:
        grouped[b.namespace, b.name].append((b.le, b.rate))
    return {key: histogram_quantile(0.95, pairs) for key, pairs in grouped.items()}


def entities(
    telemetry: InventoryTelemetry,
    kind: Kind,
    thresholds: HealthThresholds = HealthThresholds(),  # noqa: B008 - frozen, immutable
) -> list[Entity]:
    """Every entity of `kind` in the query's namespaces (all when none), worst first."""
    return _entities(telemetry, counted_once(telemetry.requests), kind, thresholds)


def _entities(
    telemetry: InventoryTelemetry,
    counted: Iterable[RequestRow],
    kind: Kind,
    thresholds: HealthThresholds,
) -> list[Entity]:
    wanted = frozenset(telemetry.query.namespaces)
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for r in counted:
        inbound = _inbound_key(r, kind)
        if inbound is not None:
            t = tallies[inbound]
            _add(t, r, inbound=True)
            if _known(r.destination_version):
                t.versions.add(r.destination_version)
        outbound = _outbound_key(r, kind)
        if outbound is not None:
            t = tallies[outbound]
            _add(t, r, inbound=False)
            if _known(r.source_version):
                t.versions.add(r.source_version)
    p95 = p95_by_entity(telemetry.buckets)
    out = []
    for (ns, name), t in tallies.items():
        if wanted and ns not in wanted:
            continue
        state, e, c = _judge(t, thresholds)
        out.append(
            Entity(
                kind=kind.value,
                namespace=ns,
                name=name,
                rps_in=t.rps_in,
                error_rate=e,
                error_rate_4xx=c,
                rps_out=t.rps_out,
                p95_ms=p95.get((ns, name)) if t.rps_in > 0 else None,
                versions=tuple(sorted(t.versions)),
                health=state,
            )
        )
    return sort_entities(out)


def namespaces_seen(rows: Iterable[RequestRow]) -> frozenset[str]:
    """Every namespace the rows name, as caller or as callee."""
    found: set[str] = set()
    for r in rows:
        found.update((r.source_namespace, r.destination_service_namespace))
    return frozenset(ns for ns in found if _known(ns))


def namespace_summaries(
    telemetry: InventoryTelemetry,
    thresholds: HealthThresholds = HealthThresholds(),  # noqa: B008 - frozen, immutable
) -> list[NamespaceSummary]:
    """Per namespace: its services by health, what enters it and its error ratios, worst first."""
    counted = counted_once(telemetry.requests)  # once for both roll-ups below
    services = _entities(replace(telemetry, buckets=()), counted, Kind.SERVICE, thresholds)
    by_ns: dict[str, list[Entity]] = defaultdict(list)
    for e in services:
        by_ns[e.namespace].append(e)
    sent: dict[str, _Tally] = defaultdict(_Tally)
    entering: dict[str, float] = defaultdict(float)
    leaving: dict[str, float] = defaultdict(float)
    for r in counted:
        _add(sent[r.source_namespace], r, inbound=False)
        if r.source_namespace != r.destination_service_namespace:
            entering[r.destination_service_namespace] += r.rps
            leaving[r.source_namespace] += r.rps
    wanted = frozenset(telemetry.query.namespaces)
    names = namespaces_seen(telemetry.requests)
    out = []
    for ns in sorted(names):
        if wanted and ns not in wanted:
            continue
        rows = by_ns.get(ns, [])
        counts = {state: 0 for state in HEALTH_RANK}
        rps = errors = client_errors = 0.0
        for e in rows:
            counts[e.health] += 1
            rps += e.rps_in
            errors += e.error_rate * e.rps_in
            client_errors += e.error_rate_4xx * e.rps_in
        worst = min((e.health for e in rows), key=HEALTH_RANK.__getitem__, default=IDLE)
        if worst == IDLE:  # nothing enters it (a gateway's namespace): judge what it sends
            worst = _judge(sent[ns], thresholds)[0]
        out.append(
            NamespaceSummary(
                namespace=ns,
                health=worst,
                counts=counts,
                services=len(rows),
                rps_in=entering[ns],
                rps_served=rps,
                error_rate=_ratio(errors, rps),
                error_rate_4xx=_ratio(client_errors, rps),
                rps_out=leaving[ns],
                sent_error_rate=_ratio(sent[ns].error_out, sent[ns].rps_out),
            )
        )
    return sort_summaries(out)


def sort_summaries(rows: Iterable[NamespaceSummary]) -> list[NamespaceSummary]:
    """Worst first: by health, then failing services, degraded ones, error rate, traffic."""
    return sorted(
        rows,
        key=lambda s: (
            HEALTH_RANK[s.health],
            -s.counts.get(FAILURE, 0),
            -s.counts.get(DEGRADED, 0),
            -s.error_rate,
            not s.has_traffic,
            -s.rps_served,
            s.namespace,
        ),
    )


def with_kubernetes(
    summaries: Sequence[NamespaceSummary], kube: Iterable[str] | None
) -> list[NamespaceSummary]:
    """Merge Kubernetes' namespace list: flag each row, and add the namespaces with no traffic."""
    if kube is None:
        return list(summaries)
    known = frozenset(kube)
    out = [replace(s, in_kubernetes=s.namespace in known) for s in summaries]
    seen = {s.namespace for s in summaries}
    for ns in sorted(known - seen):
        counts = {state: 0 for state in HEALTH_RANK}
        out.append(
            NamespaceSummary(
                ns, IDLE, counts, 0, 0.0, 0.0, 0.0, 0.0, 0.0, in_kubernetes=True, has_traffic=False
            )
        )
    return sort_summaries(out)


# --------------------------------------------------------------------------------- lists


SORT_KEYS: tuple[str, ...] = ("health", "name", "namespace", "rps", "error_rate", "p95")


def sort_entities(rows: Iterable[Entity], key: str = "health", descending: bool = False) -> list:
    """`health` is worst first (then error rate, traffic); other keys sort by that column, with
    missing figures (no p95) last whichever the direction."""
    rows = list(rows)
    worst_first = sorted(
        rows, key=lambda e: (HEALTH_RANK[e.health], -e.error_rate, -e.rps_in, e.namespace, e.name)
    )
    if key == "health":
        return worst_first[::-1] if descending else worst_first
    if key in ("name", "namespace"):
        return sorted(worst_first, key=lambda e: getattr(e, key), reverse=descending)
    value = {"rps": "rps_in", "error_rate": "error_rate", "p95": "p95_ms"}[key]
    present = [e for e in worst_first if getattr(e, value) is not None]
    missing = [e for e in worst_first if getattr(e, value) is None]
    return sorted(present, key=lambda e: getattr(e, value), reverse=descending) + missing


def filter_entities(rows: Iterable[Entity], text: str) -> list[Entity]:
    """Rows whose name, namespace, health or a version holds every word of `text`."""
    words = text.lower().split()
    if not words:
        return list(rows)

    def haystack(e: Entity) -> str:
        return " ".join((e.name, e.namespace, e.health, *e.versions)).lower()

    return [e for e in rows if all(w in haystack(e) for w in words)]


# --------------------------------------------------------------------------------- discovery


def nearest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The known names closest to a mistyped one (difflib's ratio, most similar first)."""
    return difflib.get_close_matches(name, sorted(set(candidates)), n=n, cutoff=0.5)


def unknown_namespaces(
    requested: Iterable[str], with_traffic: Iterable[str], kube: Iterable[str] | None
) -> list[str]:
    """Requested namespaces neither seen in traffic nor known to Kubernetes, in request order."""
    known = set(with_traffic) | set(kube or ())
    return [ns for ns in dict.fromkeys(requested) if ns not in known]


_OUTCOME = ("response_code", "grpc_response_status")
# RequestRow field <- Istio label: the shape of an inventory row, for every source
ROW_LABELS: dict[str, str] = {
    "reporter": "reporter",
    "source_namespace": "source_workload_namespace",
    "destination_service_namespace": "destination_service_namespace",
    "response_code": "response_code",
    "grpc_status": "grpc_response_status",
    "source_workload": "source_workload",
    "source_app": "source_canonical_service",
    "source_version": "source_canonical_revision",
    "destination_service": "destination_service_name",
    "destination_namespace": "destination_workload_namespace",
    "destination_workload": "destination_workload",
    "destination_app": "destination_canonical_service",
    "destination_version": "destination_canonical_revision",
}
# The overview groups by the calling workload too: a caller's report and a destination-side
# report (sidecar's or waypoint's) of one caller's calls must be told apart from another
# caller's into the same service (an ambient caller has no report of its own), or a mixed
# ambient mesh would count some requests twice and lose others (module docstring). Not by the
# answering workload (it would multiply the rows by the versions): only the requests no
# workload answered keep it, as "unknown" (requests_query).
OVERVIEW_LABELS: tuple[str, ...] = (
    "reporter",
    "source_workload_namespace",
    "source_workload",
    "destination_service_namespace",
    "destination_service_name",
    *_OUTCOME,
)
LIST_LABELS: tuple[str, ...] = tuple(ROW_LABELS.values())
# The labels naming one entity of each kind on the destination side: (namespace, name).
ENTITY_LABELS: dict[Kind, tuple[str, str]] = {
    Kind.SERVICE: ("destination_service_namespace", "destination_service_name"),
    Kind.WORKLOAD: ("destination_workload_namespace", "destination_workload"),
    Kind.APP: ("destination_workload_namespace", "destination_canonical_service"),
}
