"""The demo's RouteStore: Istio routing objects in memory, and the simulated traffic follows them.

Same semantics as the Kubernetes API (collectors/kube.py): one monotonically increasing
resourceVersion counter, a replace carrying a stale version raises Conflict with the diff, a
create of an existing name conflicts, dry runs validate and store nothing. Seeded with
Bookinfo-like VirtualServices and DestinationRules (one subset per simulated version, the
spec's default split). After every applied write, the split and mirror that mesh.routing.state reads
from the new objects are handed to the simulator's TrafficState, so the topology, per-version
rates and traces follow within a refresh.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from mesh import validate
from mesh.errors import BadRequest, NotFound
from mesh.releases.audit import AuditEntry
from mesh.routing.diff import conflict_error
from mesh.routing.gateway_api import (
    GATEWAY_GROUP,
    HTTP_ROUTE,
    parent_services,
)
from mesh.routing.objects import (
    DESTINATION_RULE,
    GROUP,
    VERSION,
    VIRTUAL_SERVICE,
    Write,
    resource_version,
    service_of_host,
)
from mesh.routing.selection import ServiceRoutes, service_names, service_routes
from mesh.routing.state import RouteState, read_routes
from mesh.routing.validation import istio_problems

log = logging.getLogger("meshdash.demo.routes")
VERSION_LABEL = "version"
SNAPSHOTS = 2000
SERVICE = "Service"  # core/v1 per-version Services: read-only here, the HTTPRoutes' backends
PORT = 9080  # Bookinfo's port


class MemoryAuditLog:
    """The demo's audit trail: the same entries as the JSON Lines file, kept in memory."""

    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []
        self._lock = threading.Lock()

    def record(self, entries: Sequence[AuditEntry]) -> None:
        with self._lock:
            self._entries.extend(entries)

    def history(
        self, *, namespace: str | None = None, service: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        with self._lock:
            entries = list(reversed(self._entries))
        out = [
            e
            for e in entries
            if (not namespace or e.namespace == namespace) and (not service or e.service == service)
        ]
        return out[: max(limit, 0)]


def seed_objects(
    namespace: str, service: str, versions: Sequence[str], weights: dict[str, int]
) -> tuple[dict, dict]:
    """A DestinationRule with a subset per version and a VirtualService with the split, written
    as Istio's Bookinfo samples write them (a lone destination carries no weight)."""
    dr = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": DESTINATION_RULE,
        "metadata": {"name": service, "namespace": namespace},
        "spec": {
            "host": service,
            "subsets": [{"name": v, "labels": {VERSION_LABEL: v}} for v in versions],
        },
    }
    routed = [v for v in versions if weights.get(v, 0) > 0]
    if len(routed) == 1:
        route = [{"destination": {"host": service, "subset": routed[0]}}]
    else:
        route = [
            {"destination": {"host": service, "subset": v}, "weight": weights[v]} for v in routed
        ]
    vs = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": VIRTUAL_SERVICE,
        "metadata": {"name": service, "namespace": namespace},
        "spec": {"hosts": [service], "http": [{"route": route}]},
    }
    return vs, dr


def seed_http_route(
    namespace: str, service: str, versions: Sequence[str], weights: dict[str, int]
) -> list[dict]:
    """One Service per version and an HTTPRoute attached to the service with the split, as
    Istio's Gateway API Bookinfo samples write them (the ambient mode's way of splitting)."""
    services = [
        {
            "apiVersion": "v1",
            "kind": SERVICE,
            "metadata": {
                "name": f"{service}-{v}",
                "namespace": namespace,
                "labels": {"app": service, VERSION_LABEL: v},
            },
            "spec": {
                "ports": [{"port": PORT, "name": "http"}],
                "selector": {"app": service, VERSION_LABEL: v},
            },
        }
        for v in versions
    ]
    refs = [
        {"name": f"{service}-{v}", "port": PORT, "weight": weights[v]}
        for v in versions
        if weights.get(v, 0) > 0
    ]
    route = {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": HTTP_ROUTE,
        "metadata": {"name": service, "namespace": namespace},
        "spec": {
            "parentRefs": [{"group": "", "kind": "Service", "name": service, "port": PORT}],
            "rules": [{"backendRefs": refs}],
        },
    }
    return [*services, route]


def _largest_remainder(shares: dict[str, float]) -> dict[str, int]:
    """Whole percentages summing to 100 that are closest to `shares` (which sum to 100)."""
    floors = {k: int(v) for k, v in shares.items()}
    left = 100 - sum(floors.values())
    for k in sorted(shares, key=lambda k: (floors[k] - shares[k], k))[:left]:
        floors[k] += 1
    return floors


def version_split(
    state: RouteState, subset_versions: dict[str, str], versions: Sequence[str]
) -> dict[str, int] | None:
    """The default route's weights per version label; a destination without subset spreads over
    every version (Istio balances across all endpoints). None when there is nothing to follow."""
    if not state.split or not versions:
        return None
    total = sum(d.weight for d in state.split)
    if total <= 0:
        return None
    shares: dict[str, float] = dict.fromkeys(versions, 0.0)
    for d in state.split:
        if d.subset:
            version = subset_versions.get(d.subset)
            if version not in shares:
                return None  # a subset the simulator has no workload for: leave traffic as is
            shares[version] += 100.0 * d.weight / total
        else:
            for v in versions:
                shares[v] += 100.0 * d.weight / total / len(versions)
    return _largest_remainder(shares)


class DemoRouteStore:
    """RouteStore over in-memory objects; `state` (a demo TrafficState) follows every apply."""

    name = "demo"

    def __init__(
        self,
        versions: dict[tuple[str, str], Sequence[str]],
        *,
        objects: Sequence[dict] = (),
        state: Any = None,
        audit: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._versions = {k: tuple(v) for k, v in versions.items()}
        self._state = state
        self._audit = audit if audit is not None else MemoryAuditLog()
        self._clock = clock
        self._lock = threading.RLock()
        self._rv = 0
        self._objects: dict[tuple[str, str, str], dict] = {}
        self._snapshots: OrderedDict[tuple[str, str, str, str], dict] = OrderedDict()
        for obj in objects:
            self._store(obj["kind"], copy.deepcopy(obj))
        for namespace, service in self._versions:
            self._follow(namespace, service)

    @classmethod
    def from_spec(
        cls,
        spec: Any,
        state: Any = None,
        *,
        audit: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> DemoRouteStore:
        """Seed one VirtualService and DestinationRule per simulated service from a MeshSpec; in
        an ambient namespace, per-version Services and an HTTPRoute instead."""
        versions = {key: tuple(spec.versions(*key)) for key in spec.services()}
        ambient = set(getattr(spec, "ambient_namespaces", ()))
        objects: list[dict] = []
        for (namespace, service), vs in versions.items():
            split = spec.default_split(namespace, service)
            if namespace in ambient:
                objects.extend(seed_http_route(namespace, service, vs, split))
            else:
                objects.extend(seed_objects(namespace, service, vs, split))
        return cls(versions, objects=objects, state=state, audit=audit, clock=clock)

    @classmethod
    def attach(cls, mesh: Any, *, audit: Any = None) -> DemoRouteStore:
        """Create the store for a DemoMesh and set it as `mesh.routes`."""
        store = cls.from_spec(mesh.spec, mesh.state, audit=audit, clock=mesh.clock)
        mesh.routes = store
        return store

    # -- storage ------------------------------------------------------------------------------
    def _store(self, kind: str, obj: dict) -> dict:
        with self._lock:
            self._rv += 1
            meta = obj.setdefault("metadata", {})
            meta["resourceVersion"] = str(self._rv)
            meta.setdefault("generation", 1)
            key = (kind, meta["namespace"], meta["name"])
            self._objects[key] = obj
            self._snapshots[(*key, meta["resourceVersion"])] = copy.deepcopy(obj)
            while len(self._snapshots) > SNAPSHOTS:
                self._snapshots.popitem(last=False)
            return copy.deepcopy(obj)

    def _of(self, kind: str, namespace: str) -> list[dict]:
        with self._lock:
            return [
                copy.deepcopy(o)
                for (k, ns, _n), o in sorted(self._objects.items())
                if (k, ns) == (kind, namespace)
            ]

    def snapshot(self, kind: str, namespace: str, name: str, resource_version: str) -> dict | None:
        with self._lock:
            obj = self._snapshots.get((kind, namespace, name, resource_version))
            return copy.deepcopy(obj) if obj else None

    # -- RouteStore -----------------------------------------------------------------------------
    def _listed(self, namespace: str) -> dict[str, list[dict]]:
        with self._lock:
            return {
                kind: self._of(kind, namespace)
                for kind in (VIRTUAL_SERVICE, DESTINATION_RULE, HTTP_ROUTE, SERVICE)
            }

    def _routes(self, namespace: str, service: str, objs: dict[str, list[dict]]) -> ServiceRoutes:
        by_app = {svc: v for (ns, svc), v in self._versions.items() if ns == namespace}
        return service_routes(
            namespace,
            service,
            virtual_services=objs[VIRTUAL_SERVICE],
            destination_rules=objs[DESTINATION_RULE],
            versions_by_app=by_app,
            http_routes=objs[HTTP_ROUTE],
            backend_services=objs[SERVICE],
        )

    def list_services(self, namespace: str) -> list[ServiceRoutes]:
        namespace = validate.namespace(namespace)
        objs = self._listed(namespace)
        by_app = {svc: v for (ns, svc), v in self._versions.items() if ns == namespace}
        names = service_names(
            namespace, objs[VIRTUAL_SERVICE], objs[DESTINATION_RULE], by_app, objs[HTTP_ROUTE]
        )
        return [self._routes(namespace, name, objs) for name in names]

    def get_service(self, namespace: str, service: str) -> ServiceRoutes:
        namespace, service = validate.namespace(namespace), validate.service_name(service)
        found = self._routes(namespace, service, self._listed(namespace))
        if (
            found.virtual_service is None
            and found.destination_rule is None
            and found.http_route is None
            and not found.versions
        ):
            raise NotFound(f"no service {namespace}/{service} with versions or routing objects")
        return found

    def write(self, write: Write, *, dry_run: bool) -> dict:
        """Create or replace with the API server's resourceVersion rules; dry runs store nothing."""
        problems = istio_problems(write.kind, write.after)
        if problems:
            raise BadRequest(f"{write.kind} {write.name} is invalid: {'; '.join(problems)}")
        key = (write.kind, write.namespace, write.name)
        with self._lock:
            current = self._objects.get(key)
            if write.before is None:
                if current is not None:
                    raise conflict_error(write, copy.deepcopy(current))
            elif current is None or resource_version(current) != resource_version(write.before):
                raise conflict_error(write, copy.deepcopy(current))
            obj = copy.deepcopy(write.after)
            obj["apiVersion"] = (
                f"{GATEWAY_GROUP}/v1" if write.kind == HTTP_ROUTE else f"{GROUP}/{VERSION}"
            )
            obj["kind"] = write.kind
            meta = obj.setdefault("metadata", {})
            meta["namespace"], meta["name"] = write.namespace, write.name
            if current is not None:
                gen = current["metadata"].get("generation", 1)
                meta["generation"] = gen + (obj.get("spec") != current.get("spec"))
            if dry_run:
                meta["resourceVersion"] = resource_version(current)
                return obj
            stored = self._store(write.kind, obj)
        for service in self._services_of(write.kind, stored):
            self._follow(write.namespace, service)
        return stored

    def _services_of(self, kind: str, obj: dict) -> list[str]:
        if kind == HTTP_ROUTE:
            return sorted(set(parent_services(obj, obj["metadata"]["namespace"])))
        spec = obj.get("spec") or {}
        hosts = (spec.get("hosts") or []) if kind == VIRTUAL_SERVICE else [spec.get("host")]
        ns = obj["metadata"]["namespace"]
        return sorted({s for s in (service_of_host(h, ns) for h in hosts) if s})

    def _follow(self, namespace: str, service: str) -> None:
        """Hand the simulator the split and mirror the objects now say."""
        if self._state is None or (namespace, service) not in self._versions:
            return
        versions = self._versions[(namespace, service)]
        try:
            routes = self.get_service(namespace, service)
        except NotFound:
            return
        state = read_routes(routes)
        subsets = {
            str(s.get("name")): str((s.get("labels") or {}).get(VERSION_LABEL, s.get("name")))
            for s in (routes.destination_rule or {}).get("spec", {}).get("subsets") or []
            if isinstance(s, dict)
        }
        if state.api == HTTP_ROUTE:  # an HTTPRoute's split is already by version label
            subsets = {v: v for _backend, v in routes.backends}
        weights = version_split(state, subsets, versions)
        if weights is not None and weights != self._state.split_at(
            namespace, service, self._clock()
        ):
            self._state.set_split(namespace, service, weights)
        mirror = next((m for m in state.mirrors if subsets.get(m.subset) in versions), None)
        current = self._state.mirror_at(namespace, service, self._clock())
        wanted = (subsets[mirror.subset], mirror.percentage) if mirror else None
        have = (current.version, current.percent) if current else None
        if wanted != have:
            self._state.set_mirror(
                namespace, service, wanted[0] if wanted else None, wanted[1] if wanted else 0.0
            )

    def record(self, entries: Sequence[AuditEntry]) -> None:
        self._audit.record(entries)

    def history(
        self, *, namespace: str | None = None, service: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        return self._audit.history(namespace=namespace, service=service, limit=limit)
