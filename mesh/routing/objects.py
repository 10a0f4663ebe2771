"""Istio networking objects as the API server returns them: kinds, the API group, safe field
access, which service a host names, and the Write a RouteStore performs.

Every reader here tolerates any shape (a missing or mistyped field reads as empty), because the
objects come from a cluster that other tools also edit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

GROUP = "networking.istio.io"
VERSION = "v1"
VIRTUAL_SERVICE = "VirtualService"
DESTINATION_RULE = "DestinationRule"
PLURALS: dict[str, str] = {
    VIRTUAL_SERVICE: "virtualservices",
    DESTINATION_RULE: "destinationrules",
}
WIZARD_LABEL = "kiali_wizard"  # what Kiali's wizard puts on the objects it creates


def service_of_host(host: str, namespace: str) -> str | None:
    """The service a destination host names in `namespace`: "reviews", "reviews.bookinfo",
    "reviews.bookinfo.svc" and "reviews.bookinfo.svc.<cluster domain>" all name reviews."""
    if not isinstance(host, str) or not host:
        return None
    parts = host.split(".")
    if parts[0] in ("", "*"):
        return None
    if len(parts) == 1:
        return host
    if parts[1] != namespace:
        return None
    if len(parts) == 2 or parts[2] == "svc":
        return parts[0]
    return None


def is_service_host(host: Any, namespace: str, service: str) -> bool:
    """Whether `host` names `service` in `namespace` (any of its short or long forms)."""
    return service_of_host(host, namespace) == service


def spec_of(obj: Mapping | None) -> Mapping:
    """The object's spec, or {} when it is missing or not a mapping."""
    spec = obj.get("spec") if isinstance(obj, Mapping) else None
    return spec if isinstance(spec, Mapping) else {}


def meta_of(obj: Mapping | None) -> Mapping:
    """The object's metadata, or {} when it is missing or not a mapping."""
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    return meta if isinstance(meta, Mapping) else {}


def name_of(obj: Mapping | None) -> str:
    """metadata.name, or "" when there is none."""
    return str(meta_of(obj).get("name") or "")


def resource_version(obj: Mapping | None) -> str:
    """metadata.resourceVersion, or "": the version a replace must carry."""
    return str(meta_of(obj).get("resourceVersion") or "")


def as_list(value: Any) -> list:
    """`value` when it is a list, else []: a hand-edited object may hold anything."""
    return value if isinstance(value, list) else []


def route_lists(vs: Mapping) -> Iterable[tuple[str, int, Mapping]]:
    """(protocol, index, route) for every http, tcp and tls route of a VirtualService."""
    spec = spec_of(vs)
    for proto in ("http", "tcp", "tls"):
        for i, route in enumerate(as_list(spec.get(proto))):
            if isinstance(route, Mapping):
                yield proto, i, route


def destinations_in(route: Mapping) -> Iterable[Mapping]:
    """Every destination a route sends traffic (or mirrored traffic) to."""
    for entry in as_list(route.get("route")):
        if isinstance(entry, Mapping) and isinstance(entry.get("destination"), Mapping):
            yield entry["destination"]
    if isinstance(route.get("mirror"), Mapping):
        yield route["mirror"]
    for m in as_list(route.get("mirrors")):
        if isinstance(m, Mapping) and isinstance(m.get("destination"), Mapping):
            yield m["destination"]


@dataclass(frozen=True, slots=True)
class Write:
    """One object to create or replace; `before` carries the resourceVersion the replace uses."""

    kind: str
    namespace: str
    name: str
    before: Obj | None
    after: Obj

    @property
    def op(self) -> str:
        return "create" if self.before is None else "replace"
