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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from mesh.records import Endpoint

SOURCE = "source"
DESTINATION = "destination"
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
    out: list[R] = []
    for r in records:
        # The caller's reports always count: the query reads them only where they should.
        if r.reporter == SOURCE or not starts_inside(r.source, selected):
            out.append(r)
        elif (r.source, r.destination) not in reported_by_caller:
            out.append(r)  # the caller's report is missing here: the destination's stands in
    return tuple(out)


def destination_reports(records: Sequence[R]) -> tuple[R, ...]:
    """The reports that know whether mTLS was used (connection_security_policy)."""
    return tuple(r for r in records if r.reporter == DESTINATION)
