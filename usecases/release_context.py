"""A service's release as the routing shows it now: the live split by version, the known
versions, the weight markers of the audit log and the last weight change.

The canary verdict needs it (its window starts at the last weight change, and a version at 0 %
or 100 % is not being released) and so does the write guard (usecases/release_guard.py).
Reading fails with the routing backend's typed error: a verdict that cannot see the split cannot
say which evidence belongs to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mesh.errors import NotFound
from mesh.releases.markers import WeightMarker, weight_markers
from mesh.releases.state import LastChange, last_change
from mesh.routing.selection import ServiceRoutes
from mesh.routing.state import read_routes
from mesh.sources import RouteStore

AUDIT_LOOKBACK = 500  # entries read for one service's markers (views.routes.MAX_AUDIT)


@dataclass(frozen=True, slots=True)
class ReleaseContext:
    routed: bool  # False: no routing configured, or no objects for the service
    split: dict[str, int] = field(default_factory=dict)  # version -> weight, live
    versions: tuple[str, ...] = ()  # every version the routing or the deployments name
    markers: tuple[WeightMarker, ...] = ()
    change: LastChange | None = None
    history: tuple[Any, ...] = ()  # the service's audit entries, newest first
    subset_versions: dict[str, str] = field(default_factory=dict)


def subset_versions(routes: ServiceRoutes) -> dict[str, str]:
    """DestinationRule subset name -> the version label it selects (an HTTPRoute's split is by
    version already)."""
    if routes.http_route is not None:
        return {v: v for _backend, v in routes.backends}
    dr = routes.destination_rule or {}
    out: dict[str, str] = {}
    for s in (dr.get("spec") or {}).get("subsets") or []:
        if isinstance(s, Mapping) and s.get("name"):
            labels = s.get("labels") or {}
            out[str(s["name"])] = str(labels.get(routes.version_label) or s["name"])
    return out


def split_by_version(routes: ServiceRoutes, names: Mapping[str, str]) -> dict[str, int]:
    split: dict[str, int] = {}
    for d in read_routes(routes).split:
        version = names.get(d.subset, d.subset) or routes.service
        split[version] = split.get(version, 0) + d.weight
    return split


def release_context(
    store: RouteStore | None, namespace: str, service: str, at: float
) -> ReleaseContext:
    """The routing facts at `at` (the split is the live one: routing keeps no history); not
    routed when there is no route store or it has nothing for the service."""
    if store is None:
        return ReleaseContext(routed=False)
    try:
        routes = store.get_service(namespace, service)
    except NotFound:
        return ReleaseContext(routed=False)
    names = subset_versions(routes)
    split = split_by_version(routes, names)
    history = store.history(namespace=namespace, service=service, limit=AUDIT_LOOKBACK)
    markers = weight_markers(
        history, namespace, service, end=at, subset_versions=names, backends=routes.backends
    )
    ids = frozenset(e.change_id for e in history if e.change_id)
    route = routes.virtual_service or routes.http_route
    change = last_change(markers, route, at, ids)
    versions = tuple(dict.fromkeys([*routes.versions, *names.values(), *split]))
    return ReleaseContext(
        routed=bool(route or routes.destination_rule or routes.versions),
        split=split if route else {},
        versions=versions,
        markers=markers,
        change=change,
        history=tuple(history),
        subset_versions=names,
    )
