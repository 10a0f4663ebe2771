"""Which of a request's two reports counts, per edge (DESIGN.md "Reporters", as Kiali).

Istio reports each request twice in a sidecar mesh, once by the caller's proxy and once by the
callee's, and a Prometheus may hold only one of them: gateways scraped elsewhere, one
Prometheus per cluster, another tenant's namespace. The graph queries read every report that
may count, with `reporter` in the `by` clause (collectors/prometheus.traffic_parts); this module
picks, after the query and after any per-cluster merge, the one report each request counts by:

- traffic starting inside the selected namespaces: the caller's report. Where an edge has no
  caller's report at all (that proxy is not scraped here), the destination's report of the same
  edge stands in, so the edge is still drawn, once;
- traffic entering from elsewhere, and every unmeshed caller: the destination's report;
- requests from elsewhere that reached no pod of a selected host: the caller's report (the
  query reads only those from the caller's side, and the destination never saw them).

Ambient mode (DESIGN.md): a waypoint proxy reports the L7 requests of the destinations it
serves, with `reporter="waypoint"` and the real caller and callee as source and destination; an
ambient caller has no proxy of its own, so there is no caller's report. A waypoint's report is
a destination-side report: it counts wherever the destination's would, and only where the edge
has neither a caller's nor a destination sidecar's report. So a mesh that mixes both data planes
(a sidecar caller of an ambient callee: caller's and waypoint's reports) counts each request
once. ztunnel's L4 reports are `reporter="source"`/`"destination"`, as a sidecar's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from mesh.telemetry_records import Endpoint

SOURCE = "source"
DESTINATION = "destination"
WAYPOINT = "waypoint"
REPORTERS = frozenset({SOURCE, DESTINATION, WAYPOINT})
MUTUAL_TLS = "mutual_tls"
# connection_security_policy values a destination report can say; "unknown" or absent cannot.
KNOWN_POLICIES = frozenset({MUTUAL_TLS, "none"})


class Report(Protocol):
    @property
    def source(self) -> Endpoint: ...
    @property
    def destination(self) -> Endpoint: ...
    @property
    def reporter(self) -> str: ...


R = TypeVar("R", bound=Report)


def starts_inside(source: Endpoint, selected: frozenset[str]) -> bool:
    """The caller is a meshed workload of a selected namespace."""
    return not source.is_unknown and source.namespace in selected


def counted_once(records: Sequence[R], namespaces: Iterable[str]) -> tuple[R, ...]:
    """The records that count, each request once, in their original order."""
    selected = frozenset(namespaces)
    reported_by_caller = {(r.source, r.destination) for r in records if r.reporter == SOURCE}
    reported_by_sidecar = {(r.source, r.destination) for r in records if r.reporter == DESTINATION}
    out: list[R] = []
    for r in records:
        edge = (r.source, r.destination)
        if r.reporter == SOURCE:
            # The caller's reports always count: the query reads them only where they should.
            out.append(r)
        elif destination_side_counts(
            r.reporter,
            starts_inside(r.source, selected),
            edge in reported_by_caller,
            edge in reported_by_sidecar,
        ):
            out.append(r)
    return tuple(out)


def destination_side_counts(
    reporter: str, inside: bool, caller_reported: bool, sidecar_reported: bool
) -> bool:
    """Whether a destination-side report (a destination sidecar's or a waypoint's) of one edge
    counts: a waypoint's never beside a destination sidecar's report of the same edge; either
    counts for traffic from elsewhere (`inside` False), or where the caller's report of the
    edge is missing and this one stands in. The graph and the overview and lists (mesh/
    inventory.py) both decide by it, so they count the same requests."""
    if reporter == WAYPOINT and sidecar_reported:
        return False
    if reporter not in (DESTINATION, WAYPOINT):
        return False
    return not inside or not caller_reported


def destination_reports(records: Sequence[R]) -> tuple[R, ...]:
    """The reports that know whether mTLS was used (connection_security_policy): the
    destination sidecar's, and the waypoint's in ambient mode."""
    return tuple(r for r in records if r.reporter in (DESTINATION, WAYPOINT))
