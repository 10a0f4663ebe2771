"""The working copies an action edits, and the writes that result, in make-before-break order.

Every edit works on deep copies of the service's VirtualService and DestinationRule and sets
only the keys it is about, so every other route, match, retry, timeout and unknown key stays
equal. A DestinationRule subset is written before a route names it, and a route entry is
removed before its subset (the other order gives 503s with the NR/UH flags).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

from mesh.errors import BadRequest
from mesh.routing.objects import (
    DESTINATION_RULE,
    GROUP,
    VERSION,
    VIRTUAL_SERVICE,
    WIZARD_LABEL,
    Obj,
    Write,
    as_list,
    name_of,
    spec_of,
)
from mesh.routing.selection import ServiceRoutes
from mesh.routing.state import (
    default_route_index,
    effective_weights,
    host_of,
    subset_of,
    weight_value,
)


class RouteEdit:
    """Deep copies of the service's two objects; an action mutates only the keys it is about."""

    def __init__(self, routes: ServiceRoutes, wizard: str) -> None:
        self.routes = routes
        self.ns, self.svc = routes.namespace, routes.service
        self.vs: Obj | None = copy.deepcopy(routes.virtual_service)
        self.dr: Obj | None = copy.deepcopy(routes.destination_rule)
        self.wizard = wizard
        self.vs_created = False

    # -- objects --------------------------------------------------------------------------
    def _new(self, kind: str) -> Obj:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "metadata": {
                "name": self.svc,
                "namespace": self.ns,
                "labels": {WIZARD_LABEL: self.wizard},
            },
            "spec": {},
        }

    def ensure_vs(self) -> Obj:
        """The VirtualService; created as Kiali's wizard would, with a default route to the
        service as a whole, so that nothing changes for traffic until the action says so."""
        if self.vs is None:
            self.vs = self._new(VIRTUAL_SERVICE)
            self.vs["spec"] = {
                "hosts": [self.svc],
                "http": [{"route": [{"destination": {"host": self.svc}}]}],
            }
            self.vs_created = True
        return self.vs

    def ensure_dr(self) -> Obj:
        if self.dr is None:
            self.dr = self._new(DESTINATION_RULE)
            self.dr["spec"] = {"host": self.svc}
            if self.routes.versions:
                self.dr["spec"]["subsets"] = [self._subset(v) for v in self.routes.versions]
        return self.dr

    def _subset(self, version: str) -> Obj:
        return {"name": version, "labels": {self.routes.version_label: version}}

    # -- reading the working copies -----------------------------------------------------
    def subsets(self) -> list[str]:
        return [
            str(s.get("name"))
            for s in as_list(spec_of(self.dr).get("subsets"))
            if isinstance(s, Mapping) and s.get("name")
        ]

    def known(self) -> list[str]:
        return list(dict.fromkeys([*self.subsets(), *self.routes.versions]))

    def default_route(self) -> Obj:
        vs = self.ensure_vs()
        index, problem = default_route_index(vs, self.ns, self.svc)
        if index is None:
            raise BadRequest(f"{self.svc}: {problem}; meshdash shifts only the default route")
        return vs["spec"]["http"][index]

    def entries(self) -> list[Obj]:
        return self.default_route()["route"]

    def split(self) -> list[tuple[str, int]]:
        entries = self.entries()
        subsets = [subset_of(e) for e in entries]
        dupes = sorted({s for s in subsets if subsets.count(s) > 1})
        if dupes:
            raise BadRequest(
                f"{self.svc}: the default route names {', '.join(dupes) or 'the service'} more than once; "
                "edit it by hand"
            )
        return list(zip(subsets, effective_weights(entries), strict=True))

    def host(self) -> str:
        entries = self.entries()
        return host_of(entries[0]) if entries else self.svc

    # -- checks -------------------------------------------------------------------------
    def require_known(self, version: str, *, field: str = "version") -> None:
        routed = [s for s, _ in self.split()] if self._has_default() else []
        if version not in self.known() and version not in routed:
            known = ", ".join(self.known()) or "none"
            raise BadRequest(f"{self.svc} has no version {version!r} (known: {known})", field=field)

    def _has_default(self) -> bool:
        return (
            self.vs is not None and default_route_index(self.vs, self.ns, self.svc)[0] is not None
        )

    def ensure_subset(self, version: str, *, field: str = "version") -> None:
        """A subset that will receive traffic must exist: add it from a Deployment version."""
        if version == "" or version in self.subsets():
            return
        if version not in self.routes.versions:
            known = ", ".join(self.known()) or "none"
            raise BadRequest(
                f"{self.svc} has no subset or deployed version {version!r} (known: {known})",
                field=field,
            )
        dr = self.ensure_dr()
        if version not in self.subsets():
            dr["spec"].setdefault("subsets", []).append(self._subset(version))

    # -- edits ----------------------------------------------------------------------------
    def set_split(self, target: Mapping[str, int]) -> None:
        """Give the default route exactly these weights; listed versions not in `target` get 0.

        A destination whose effective weight does not change is left as it is (a missing
        weight that still reads the same stays missing)."""
        entries = self.entries()
        current = dict(self.split())
        for subset, w in target.items():
            if w > 0:
                self.ensure_subset(subset, field="weights")
            elif subset not in current:
                self.require_known(subset, field="weights")
        host = self.host()
        new_entries = list(entries)
        for subset, w in target.items():
            if subset not in current and w > 0:
                new_entries.append({"destination": {"host": host, "subset": subset}, "weight": w})
        if self.vs_created:
            new_entries = [e for e in new_entries if subset_of(e) or target.get("", 0) > 0]
        wanted = [target.get(subset_of(e), 0) for e in new_entries]
        old_effective = {
            subset_of(e): w for e, w in zip(entries, effective_weights(entries), strict=True)
        }
        for entry, w in zip(new_entries, wanted, strict=True):
            if "weight" in entry:
                if weight_value(entry) != w or not isinstance(entry["weight"], int):
                    entry["weight"] = w
                continue
            implied = 100 if len(new_entries) == 1 else 0
            if w != implied or old_effective.get(subset_of(entry), w) != w:
                entry["weight"] = w
        self.default_route()["route"] = new_entries

    def mutate_dr(self) -> Obj:
        return self.ensure_dr()

    # -- result ---------------------------------------------------------------------------
    def writes(self) -> tuple[Write, ...]:
        out: list[Write] = []
        old_vs, old_dr = self.routes.virtual_service, self.routes.destination_rule
        vs_write = dr_write = None
        if self.vs is not None and self.vs != old_vs:
            vs_write = Write(
                VIRTUAL_SERVICE, self.ns, name_of(self.vs), copy.deepcopy(old_vs), self.vs
            )
        if self.dr is not None and self.dr != old_dr:
            dr_write = Write(
                DESTINATION_RULE, self.ns, name_of(self.dr), copy.deepcopy(old_dr), self.dr
            )
        removed = set(_names(old_dr)) - set(self.subsets())
        # Make before break: subsets are added before a route names them, and a route entry is
        # removed before its subset.
        order = (vs_write, dr_write) if removed else (dr_write, vs_write)
        out.extend(w for w in order if w is not None)
        return tuple(out)


def _names(dr: Mapping | None) -> list[str]:
    return [
        str(s.get("name"))
        for s in as_list(spec_of(dr).get("subsets"))
        if isinstance(s, Mapping) and s.get("name")
    ]


def pick_version(
    value: str | None, default: str | None, what: str, candidates: Sequence[str]
) -> str:
    """The version named, else the one the route implies, else a 400 listing the candidates."""
    if value is not None:
        return value
    if default is None:
        listed = ", ".join(candidates) or "none"
        raise BadRequest(f"name the {what} version (candidates: {listed})", field=what)
    return default
