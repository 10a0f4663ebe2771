"""Weight-change markers, read from the audit trail: what every time chart draws, and the
routing facts of a release review.

A VirtualService splits a service, so markers belong to a service; their version names come
from its DestinationRule subsets (a subset `canary` selecting version v2 is drawn as v2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mesh.errors import MeshdashError
from mesh.releases.audit import AuditEntry
from mesh.releases.markers import WeightMarker, weight_markers
from mesh.sources import RouteStore
from usecases.release_context import AUDIT_LOOKBACK, split_by_version, subset_versions


def markers_between(
    routes: Callable[[], RouteStore], namespace: str, service: str, start: float, end: float
) -> tuple[WeightMarker, ...]:
    """A service's markers in [start, end]; none when routing is not configured or cannot be
    read (a chart never fails for want of its markers)."""
    try:
        store = routes()
        history = store.history(namespace=namespace, service=service, limit=AUDIT_LOOKBACK)
        if not history:
            return ()
        routes = store.get_service(namespace, service)
    except MeshdashError:
        return ()
    names = subset_versions(routes)
    return tuple(
        weight_markers(
            history,
            namespace,
            service,
            start=start,
            end=end,
            subset_versions=names,
            backends=routes.backends,
        )
    )


@dataclass(frozen=True, slots=True)
class WeightHistory:
    split: dict[str, int]  # version -> weight, live
    markers: tuple[WeightMarker, ...]  # up to the time asked
    history: tuple[AuditEntry, ...]  # the service's audit entries, newest first


def weight_history(store: RouteStore, namespace: str, service: str, at: float) -> WeightHistory:
    """The live split, the markers up to `at` and the audit entries of one service; the
    routing backend's typed error when it cannot be read."""
    routes = store.get_service(namespace, service)
    names = subset_versions(routes)
    split = split_by_version(routes, names)
    history = store.history(namespace=namespace, service=service, limit=AUDIT_LOOKBACK)
    markers = weight_markers(
        history, namespace, service, end=at, subset_versions=names, backends=routes.backends
    )
    return WeightHistory(split, tuple(markers), tuple(history))
