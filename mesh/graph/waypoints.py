"""Waypoint proxies in an ambient mesh: recognised from telemetry and hidden by default.

A waypoint is infrastructure between a caller and its callee; its L7 reports already name the
real caller and callee (mesh/graph/reporters.py), so by default it is not drawn, as Kiali does. What
remains of it in the telemetry is ztunnel's L4 bytes to and from the waypoint's own pods; those
edges are drawn only when the user asks to see waypoints (`waypoints=show`).

Telemetry does not label a workload as a waypoint, so one is recognised by Istio's naming:
`istioctl waypoint apply` names the Gateway, its Deployment and its canonical service
"waypoint" by default, and custom waypoints are conventionally named "<something>-waypoint".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Protocol, TypeVar

from mesh.telemetry_records import Endpoint, GraphTelemetry


class EdgeRecord(Protocol):
    @property
    def source(self) -> Endpoint: ...
    @property
    def destination(self) -> Endpoint: ...


R = TypeVar("R", bound=EdgeRecord)

WAYPOINT = "waypoint"
_SUFFIX = "-" + WAYPOINT


def _named_waypoint(name: str) -> bool:
    return name == WAYPOINT or name.endswith(_SUFFIX)


def is_waypoint(ep: Endpoint) -> bool:
    """A waypoint proxy's own workload (or, in the service graph, its service)."""
    return any(_named_waypoint(n) for n in (ep.workload, ep.app, ep.service) if n)


def is_waypoint_node(node: Mapping[str, object]) -> bool:
    """A graph node (graph_json's) that is a waypoint proxy, so the page can draw it as one."""
    return any(
        isinstance(node.get(k), str) and _named_waypoint(str(node[k]))
        for k in ("workload", "app", "service")
    )


def without_waypoints(telemetry: GraphTelemetry) -> GraphTelemetry:
    """The telemetry without any record to or from a waypoint proxy (the default view).

    Each endpoint object is checked once (the collector shares one per label set: 10,000 for
    150,000 record ends at 5,000 workloads), and a mesh without waypoints comes back as is."""
    groups = (telemetry.requests, telemetry.latencies, telemetry.tcp)
    ends = {id(ep): ep for group in groups for r in group for ep in (r.source, r.destination)}
    waypoints = {key for key, ep in ends.items() if is_waypoint(ep)}
    if not waypoints:
        return telemetry

    def kept(records: tuple[R, ...]) -> tuple[R, ...]:
        return tuple(
            r
            for r in records
            if id(r.source) not in waypoints and id(r.destination) not in waypoints
        )

    return replace(
        telemetry,
        requests=kept(telemetry.requests),
        latencies=kept(telemetry.latencies),
        tcp=kept(telemetry.tcp),
    )
