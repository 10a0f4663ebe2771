"""Which VirtualService and DestinationRule belong to a service, assembled into ServiceRoutes.

A store lists every object in a namespace; this picks the mesh-bound VirtualService and the
DestinationRule for one service (the one named after it first, as Kiali names them), and notes
the subsets other VirtualServices still name and the controller that owns the objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mesh.routing.gateway_api import (
    HTTP_ROUTE,
    attached_services,
    backend_versions,
    http_route_owner,
    pick_http_route,
)
from mesh.routing.objects import (
    DESTINATION_RULE,
    VIRTUAL_SERVICE,
    Obj,
    as_list,
    destinations_in,
    is_service_host,
    name_of,
    route_lists,
    service_of_host,
    spec_of,
)
from mesh.routing.owner import find_owner


@dataclass(frozen=True, slots=True)
class ServiceRoutes:
    """The raw objects for one service, as a RouteStore read them, plus the facts around them.

    `other_references` lists (VirtualService name, subset) pairs from *other* VirtualServices in
    the namespace (gateway routes, for instance) that send traffic to this service: a subset they
    name cannot be retired.
    """

    namespace: str
    service: str
    virtual_service: Obj | None = None
    destination_rule: Obj | None = None
    versions: tuple[str, ...] = ()  # Deployments' version labels for this app
    version_label: str = "version"
    owner: str | None = None  # e.g. "Flagger Canary bookinfo/reviews": edits are refused
    other_references: tuple[tuple[str, str], ...] = ()
    http_route: Obj | None = None  # Gateway API: the HTTPRoute attached to the service
    backends: tuple[tuple[str, str], ...] = ()  # (backend Service, its version label)

    @property
    def api(self) -> str | None:
        """Which API routes the service: "VirtualService", "HTTPRoute", "both" (refused), or None."""
        if self.http_route is not None:
            return "both" if self.virtual_service is not None else HTTP_ROUTE
        return VIRTUAL_SERVICE if self.virtual_service is not None else None

    @property
    def split_kind(self) -> str:
        """The kind of the object holding the split being shifted."""
        return HTTP_ROUTE if self.api == HTTP_ROUTE else VIRTUAL_SERVICE

    @property
    def split_object(self) -> Obj | None:
        """The object holding the split: its resourceVersion tells a change by someone else."""
        return self.http_route if self.api == HTTP_ROUTE else self.virtual_service

    def objects(self) -> tuple[tuple[str, Obj | None], ...]:
        """(kind, object) of every object a change may write; the HTTPRoute only when there is one,
        so a VirtualService service's answers keep their two kinds."""
        out: tuple[tuple[str, Obj | None], ...] = (
            (VIRTUAL_SERVICE, self.virtual_service),
            (DESTINATION_RULE, self.destination_rule),
        )
        if self.http_route is not None:
            out += ((HTTP_ROUTE, self.http_route),)
        return out


def _mesh_bound(vs: Mapping) -> bool:
    """A VirtualService applies to sidecars when it names no gateway or names "mesh"."""
    gateways = as_list(spec_of(vs).get("gateways"))
    return not gateways or "mesh" in gateways


def pick_virtual_service(objects: Iterable[Obj], namespace: str, service: str) -> Obj | None:
    """The VirtualService that routes the mesh's calls to `service` (the one named after it
    first, as Kiali names them)."""
    found = [
        vs
        for vs in objects
        if _mesh_bound(vs)
        and any(is_service_host(h, namespace, service) for h in as_list(spec_of(vs).get("hosts")))
    ]
    found.sort(key=lambda o: (name_of(o) != service, name_of(o)))
    return found[0] if found else None


def pick_destination_rule(objects: Iterable[Obj], namespace: str, service: str) -> Obj | None:
    found = [dr for dr in objects if is_service_host(spec_of(dr).get("host"), namespace, service)]
    found.sort(key=lambda o: (name_of(o) != service, name_of(o)))
    return found[0] if found else None


def service_names(
    namespace: str,
    virtual_services: Iterable[Obj],
    destination_rules: Iterable[Obj],
    versions_by_app: Mapping[str, Sequence[str]],
    http_routes: Iterable[Obj] = (),
) -> list[str]:
    """Every service that has versions (Deployments) or routing objects in the namespace."""
    names = set(versions_by_app) | attached_services(http_routes, namespace)
    for vs in virtual_services:
        if _mesh_bound(vs):
            names.update(
                s
                for s in (service_of_host(h, namespace) for h in as_list(spec_of(vs).get("hosts")))
                if s
            )
    for dr in destination_rules:
        s = service_of_host(spec_of(dr).get("host"), namespace)
        if s:
            names.add(s)
    return sorted(names)


def subset_references(vs: Mapping, namespace: str, service: str) -> list[tuple[str, str]]:
    """(VirtualService name, subset) for every destination of `vs` that is `service`."""
    out = []
    for _proto, _i, route in route_lists(vs):
        for dest in destinations_in(route):
            if is_service_host(dest.get("host"), namespace, service) and dest.get("subset"):
                out.append((name_of(vs), str(dest["subset"])))
    return out


def service_routes(
    namespace: str,
    service: str,
    *,
    virtual_services: Sequence[Obj],
    destination_rules: Sequence[Obj],
    versions_by_app: Mapping[str, Sequence[str]],
    version_label: str = "version",
    rollouts: Sequence[Mapping] = (),
    strategies: Sequence[Mapping] = (),
    http_routes: Sequence[Obj] = (),
    backend_services: Sequence[Mapping] = (),
) -> ServiceRoutes:
    """Assemble one service's ServiceRoutes from everything a store listed in the namespace
    (`http_routes` and the core `backend_services` for Gateway API routing)."""
    vs = pick_virtual_service(virtual_services, namespace, service)
    hr = pick_http_route(http_routes, namespace, service)
    dr = pick_destination_rule(destination_rules, namespace, service)
    others: list[tuple[str, str]] = []
    for other in virtual_services:
        if other is not vs:
            others.extend(subset_references(other, namespace, service))
    return ServiceRoutes(
        namespace=namespace,
        service=service,
        virtual_service=vs,
        destination_rule=dr,
        versions=tuple(versions_by_app.get(service, ())),
        version_label=version_label,
        owner=find_owner(
            vs, dr, namespace=namespace, service=service, rollouts=rollouts, strategies=strategies
        )
        or http_route_owner(hr, namespace=namespace, rollouts=rollouts),
        other_references=tuple(sorted(set(others))),
        http_route=hr,
        backends=backend_versions(backend_services, service, hr, version_label)
        if hr is not None
        else (),
    )
