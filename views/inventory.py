"""The overview and the lists: one code path for /api/namespaces, /api/list and their pages.

Also namespace discovery (`discover_namespaces`): the namespaces with traffic, merged with
Kubernetes' list when --kube is on, for any page's namespace picker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from mesh import validate
from mesh.errors import BackendError, BadRequest, NamespaceNotFound
from mesh.inventory import (
    KINDS,
    SORT_KEYS,
    Entity,
    InventoryQuery,
    InventoryTelemetry,
    Kind,
    NamespaceSummary,
    entities,
    filter_entities,
    namespace_summaries,
    namespaces_seen,
    nearest,
    sort_entities,
    unknown_namespaces,
    with_kubernetes,
)
from views.graph import thresholds_of
from views.params import choice, get_one, instant_of, namespaces_of, window_of
from wiring.services import INVENTORY, ROUTES, Services

DEFAULT_WINDOW = "5m"
MAX_FILTER = 100


@dataclass(frozen=True, slots=True)
class Window:
    window: str
    window_s: int
    at: float | None  # None: now


@dataclass(frozen=True, slots=True)
class ListParams:
    kind: Kind
    namespaces: tuple[str, ...]
    when: Window
    sort: str = "health"
    descending: bool = False
    filter: str = ""


@dataclass(frozen=True, slots=True)
class Discovery:
    """Namespaces a picker can offer: those with traffic, and Kubernetes' (None: not asked)."""

    with_traffic: tuple[str, ...]
    kubernetes: tuple[str, ...] | None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted({*self.with_traffic, *(self.kubernetes or ())}))


def parse_window(args: Any) -> Window:
    window = window_of(args, DEFAULT_WINDOW)
    return Window(window.text, window.seconds, instant_of(args, "at"))


def parse_list_params(args: Any) -> ListParams:
    """Validate everything before any backend sees it; raise BadRequest with the field."""
    kind = Kind(choice(args, "kind", KINDS, Kind.SERVICE.value))
    clean = namespaces_of(args)
    sort = choice(args, "sort", SORT_KEYS, "health")
    order = choice(args, "order", ("asc", "desc"), "asc")
    text = get_one(args, "filter", "") or ""
    if len(text) > MAX_FILTER:
        raise BadRequest(f"filter must be at most {MAX_FILTER} characters", field="filter")
    return ListParams(kind, clean, parse_window(args), sort, order == "desc", text)


def _ask(services: Services, query: InventoryQuery) -> InventoryTelemetry:
    return services.need(INVENTORY).inventory_telemetry(query)


def _at(services: Services, when: Window) -> float:
    now = services.clock()
    return validate.at_or_now(when.at, now)


def kube_namespaces(services: Services) -> tuple[str, ...] | None:
    """Kubernetes' namespaces when it is configured and can list them; None otherwise."""
    lister = getattr(services.find(ROUTES), "list_namespaces", None)
    if not services.settings.kube_enabled or lister is None:
        return None
    return tuple(lister())


def _overview_telemetry(services: Services, when: Window) -> InventoryTelemetry:
    return _ask(services, InventoryQuery((), None, when.window_s, _at(services, when)))


def discover_namespaces(services: Services, when: Window | None = None) -> Discovery:
    """The namespaces with traffic in the window (the overview's one query, shared through the
    cache) and, with --kube, every namespace Kubernetes knows."""
    when = when or Window(DEFAULT_WINDOW, validate.duration_seconds(DEFAULT_WINDOW), None)
    telemetry = _overview_telemetry(services, when)
    return Discovery(tuple(sorted(namespaces_seen(telemetry.requests))), kube_namespaces(services))


def page_link(path: str, **params: Any) -> str:
    """A page URL carrying the view's state (the pages' links module does the same; views sit
    below the pages, so they keep their own)."""
    clean = {k: v for k, v in params.items() if v not in (None, "", [])}
    return f"{path}?{urlencode(clean, doseq=True)}" if clean else path


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _at_param(when: Window) -> int | None:
    """The `at` links carry, so a look at the past stays in the past."""
    return None if when.at is None else int(when.at)


def summary_json(s: NamespaceSummary, when: Window) -> dict[str, Any]:
    window, at = when.window, _at_param(when)
    return {
        "namespace": s.namespace,
        "health": s.health,
        "services": s.services,
        "counts": dict(s.counts),
        "rps_in": _round(s.rps_in, 4),
        "rps_served": _round(s.rps_served, 4),
        "rps_out": _round(s.rps_out, 4),
        "error_rate": _round(s.error_rate, 6),
        "error_rate_4xx": _round(s.error_rate_4xx, 6),
        "sent_error_rate": _round(s.sent_error_rate, 6),
        "has_traffic": s.has_traffic,
        "in_kubernetes": s.in_kubernetes,
        "links": {
            "topology": page_link("/", namespace=s.namespace, window=window, at=at),
            "list": page_link("/list", namespace=s.namespace, kind="service", window=window, at=at),
        },
    }


def overview_view(services: Services, when: Window) -> dict[str, Any]:
    """Every namespace with traffic (and Kubernetes' others), worst first: 1 query.

    Kubernetes failing does not hide the traffic: the answer names the failure in `failures`
    and lacks only the namespaces without traffic.
    """
    telemetry = _overview_telemetry(services, when)
    failures = []
    try:
        kube = kube_namespaces(services)
    except BackendError as e:
        kube = None
        failures.append(
            {"backend": e.backend, "cause": e.cause, "status": e.status, "section": "kubernetes"}
        )
    rows = with_kubernetes(namespace_summaries(telemetry, thresholds_of(services)), kube)
    return {
        "failures": failures,
        "window": when.window,
        "at": int(telemetry.query.at),
        "namespaces": [summary_json(s, when) for s in rows],
        "kubernetes": kube is not None,
        "queries": telemetry.queries_sent,
        "source": services.need(INVENTORY).name,
    }


def entity_link(e: Entity, when: Window) -> str:
    """The row's own page: a service's or a workload's history; an app in the app graph."""
    ns, window, at = e.namespace, when.window, _at_param(when)
    if e.kind == Kind.SERVICE:
        return page_link("/service", namespace=ns, service=e.name, window=window, at=at)
    if e.kind == Kind.WORKLOAD:
        return page_link("/workload", namespace=ns, workload=e.name, window=window, at=at)
    highlight = f"{ns}/{e.name}"
    return page_link("/", namespace=ns, window=window, at=at, graph="app", highlight=highlight)


def entity_json(e: Entity, when: Window) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "namespace": e.namespace,
        "name": e.name,
        "health": e.health,
        "rps": _round(e.rps_in, 4),
        "rps_out": _round(e.rps_out, 4),
        "error_rate": _round(e.error_rate, 6),
        "error_rate_4xx": _round(e.error_rate_4xx, 6),
        "p95_ms": _round(e.p95_ms, 3),
        "versions": list(e.versions),
        "link": entity_link(e, when),
    }


def _not_found(
    services: Services, missing: list[str], when: Window, kube: tuple[str, ...] | None
) -> NamespaceNotFound:
    known = discover_namespaces(services, when).names
    suggestions = sorted({s for ns in missing for s in nearest(ns, known)})
    why = f"no HTTP or gRPC requests in the last {when.window}"
    if kube is not None:
        why += ", and Kubernetes does not know it"
    return NamespaceNotFound(missing, suggestions, why)


def namespaces_not_found(
    services: Services, namespaces: tuple[str, ...], when: Window
) -> dict[str, Any] | None:
    """For a page that drew nothing: the chosen namespaces with no HTTP or gRPC traffic in the
    window that Kubernetes does not know either (when asked), why, and the nearest known names;
    None when every one exists (it is only quiet)."""
    discovery = discover_namespaces(services, when)
    missing = unknown_namespaces(namespaces, discovery.with_traffic, discovery.kubernetes)
    if not missing:
        return None
    found = _not_found(services, missing, when, discovery.kubernetes)
    return {"missing": found.missing, "suggestions": found.suggestions, "why": found.why}


def list_view(services: Services, params: ListParams) -> dict[str, Any]:
    """The rows of one kind in the chosen namespaces: 2 queries, plus 1 to suggest names when a
    namespace is not found."""
    query = InventoryQuery(
        params.namespaces, params.kind, params.when.window_s, _at(services, params.when)
    )
    telemetry = _ask(services, query)
    queries = telemetry.queries_sent
    seen = namespaces_seen(telemetry.requests)
    quiet = [ns for ns in params.namespaces if ns not in seen]
    kube = kube_namespaces(services) if quiet else None
    missing = unknown_namespaces(quiet, seen, kube)
    if missing:
        raise _not_found(services, missing, params.when, kube)
    rows = entities(telemetry, params.kind, thresholds_of(services))
    total = len(rows)
    shown = sort_entities(filter_entities(rows, params.filter), params.sort, params.descending)
    return {
        "kind": params.kind.value,
        "namespaces": list(params.namespaces),
        "window": params.when.window,
        "at": int(telemetry.query.at),
        "sort": params.sort,
        "order": "desc" if params.descending else "asc",
        "filter": params.filter,
        "total": total,
        "rows": [entity_json(e, params.when) for e in shown],
        "quiet": quiet,  # known to Kubernetes, but no traffic in the window
        "queries": queries,
        "source": services.need(INVENTORY).name,
    }
