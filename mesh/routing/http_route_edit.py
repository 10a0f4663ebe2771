"""The working copy of a service's HTTPRoute that a weight action edits, with the same methods as
RouteEdit (split, set_split, known, require_known), so the weight actions of
mesh/routing/weights.py shift an HTTPRoute's default rule exactly as a VirtualService's default
route. Versions are named by their version label; each maps to its backend Service.

Only the default rule's backendRefs are touched; every other rule, match, filter, timeout and
unknown key stays as it was. Weights are always written explicitly (Gateway API's default is 1).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from mesh.errors import BadRequest
from mesh.routing.gateway_api import (
    HTTP_ROUTE,
    backend_refs_of,
    default_rule_index,
    effective_ref_weights,
    mirror_filters,
)
from mesh.routing.objects import Obj, Write, name_of
from mesh.routing.selection import ServiceRoutes


class HTTPRouteEdit:
    """A deep copy of the service's HTTPRoute; an action mutates only the default rule."""

    def __init__(self, routes: ServiceRoutes) -> None:
        if routes.http_route is None:
            raise ValueError("HTTPRouteEdit needs an HTTPRoute")
        self.routes = routes
        self.ns, self.svc = routes.namespace, routes.service
        self.route: Obj = copy.deepcopy(routes.http_route)
        self._version_of = dict(routes.backends)
        self._backend_of = {v: n for n, v in reversed(routes.backends)}

    # -- reading -----------------------------------------------------------------------------
    def default_rule(self) -> Obj:
        index, problem = default_rule_index(self.route, self.ns)
        if index is None:
            raise BadRequest(f"{self.svc}: {problem}; meshdash shifts only the default rule")
        return self.route["spec"]["rules"][index]

    def refs(self) -> list[Obj]:
        return self.default_rule()["backendRefs"]

    def version(self, ref: Mapping) -> str:
        name = str(ref.get("name") or "")
        return self._version_of.get(name, name)

    def split(self) -> list[tuple[str, int]]:
        refs = self.refs()
        versions = [self.version(r) for r in refs]
        dupes = sorted({v for v in versions if versions.count(v) > 1})
        if dupes:
            raise BadRequest(
                f"{self.svc}: the default rule of HTTPRoute {name_of(self.route)} names "
                f"{', '.join(dupes)} more than once; edit it by hand"
            )
        return list(zip(versions, effective_ref_weights(refs), strict=True))

    def known(self) -> list[str]:
        return list(dict.fromkeys([*self._backend_of, *(self.version(r) for r in self.refs())]))

    def require_known(self, version: str, *, field: str = "version") -> None:
        if version not in self.known():
            known = ", ".join(self.known()) or "none"
            raise BadRequest(
                f"{self.svc} has no backend Service for version {version!r} (known: {known})",
                field=field,
            )

    def rules(self) -> list:
        return self.route["spec"]["rules"]

    def backend_ref(self, version: str, *, field: str = "version") -> Obj:
        """A reference to `version`'s backend Service, on the port its siblings use."""
        self.require_known(version, field=field)
        ref: Obj = {"name": self._backend_of.get(version, version)}
        port = next((r["port"] for r in self.refs() if "port" in r), None)
        if port is not None:
            ref["port"] = port
        return ref

    # -- edits -----------------------------------------------------------------------------
    def set_split(self, target: Mapping[str, int]) -> None:
        """Give the default rule exactly these weights; listed versions not in `target` get 0,
        and a version not listed yet gets a backendRef to its Service (port as its siblings)."""
        refs = self.refs()
        routed = {self.version(r) for r in refs}
        for version in target:
            self.require_known(version, field="weights")
        for version, w in target.items():
            if version not in routed and w > 0:
                refs.append({**self.backend_ref(version, field="weights"), "weight": w})
        for ref in refs:
            w = target.get(self.version(ref), 0)
            if ref.get("weight", 1) != w or isinstance(ref.get("weight"), bool):
                ref["weight"] = w

    def retire(self, version: str) -> None:
        """Remove `version`'s backendRef from the default rule: only at 0% while another version
        has all traffic, and only when no other rule or mirror still names its Service."""
        self.require_known(version)
        weights = dict(self.split())
        if weights.get(version, 0) > 0:
            raise BadRequest(
                f"{version} still receives {weights[version]}% of traffic; take over all traffic "
                "with another version first",
                field="version",
            )
        if not any(w == 100 for v, w in weights.items() if v != version):
            raise BadRequest(
                f"retiring {version} needs another version to have taken all traffic first",
                field="version",
            )
        rule = self.default_rule()
        others = [
            r for r in backend_refs_of(self.route) if all(r is not x for x in rule["backendRefs"])
        ]
        users = [
            f"another rule of HTTPRoute {name_of(self.route)}"
            for r in others
            if self.version(r) == version
        ]
        users += [
            "the RequestMirror filter of the default rule"
            for name, _pct in mirror_filters(rule)
            if self._version_of.get(name, name) == version
        ]
        if users:
            raise BadRequest(
                f"{version} is still named by {', '.join(dict.fromkeys(users))}; remove that first",
                field="version",
            )
        if version not in weights:
            raise BadRequest(f"{version} is not in the default rule", field="version")
        rule["backendRefs"] = [r for r in rule["backendRefs"] if self.version(r) != version]

    # -- result -----------------------------------------------------------------------------
    def writes(self) -> tuple[Write, ...]:
        old = self.routes.http_route
        if self.route == old:
            return ()
        return (Write(HTTP_ROUTE, self.ns, name_of(self.route), copy.deepcopy(old), self.route),)
