"""Reading a service's routing: versions, the weights of the default route, match routes,
mirrors and the DestinationRule's traffic policy, as a person reads them.

Weights are read as Istio applies them: a lone destination without `weight` takes 100; beside
weighted destinations a missing `weight` is 0 (Istio's Go types drop `weight: 0`). The route
being shifted is the default (last, match-less) http route of the service's VirtualService.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mesh.routing import gateway_api
from mesh.routing.annotation import parse_last_change
from mesh.routing.objects import (
    DESTINATION_RULE,
    VIRTUAL_SERVICE,
    Obj,
    as_list,
    is_service_host,
    name_of,
    resource_version,
    spec_of,
)
from mesh.routing.selection import ServiceRoutes


@dataclass(frozen=True, slots=True)
class Destination:
    subset: str  # "" when the destination names no subset (every version of the service)
    weight: int
    host: str


@dataclass(frozen=True, slots=True)
class MatchRule:
    index: int  # position in spec.http
    name: str
    conditions: tuple[str, ...]  # "header end-user exact jason", ...
    destinations: tuple[Destination, ...]
    match: tuple[Obj, ...]


@dataclass(frozen=True, slots=True)
class MirrorRule:
    subset: str
    percentage: float
    host: str


@dataclass(frozen=True, slots=True)
class RouteState:
    """A service's routing as a person reads it."""

    namespace: str
    service: str
    versions: tuple[str, ...]
    subsets: tuple[str, ...]
    split: tuple[Destination, ...]  # the default route; empty when there is none
    default_index: int | None
    problem: str  # why the split cannot be shifted; "" when it can
    matches: tuple[MatchRule, ...]
    mirrors: tuple[MirrorRule, ...]
    policy: Obj  # the DestinationRule's top-level trafficPolicy
    owner: str | None
    virtual_service: str | None
    destination_rule: str | None
    resource_versions: dict[str, str]
    last_change: Obj | None
    api: str | None = None  # "VirtualService", "HTTPRoute", "both" (refused), None: no route
    http_route: str | None = None

    @property
    def weights(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.split:
            out[d.subset] = out.get(d.subset, 0) + d.weight
        return out

    @property
    def known_versions(self) -> tuple[str, ...]:
        """Subsets first (in DestinationRule order), then Deployment versions without one."""
        return tuple(dict.fromkeys((*self.subsets, *self.versions)))


def weight_value(entry: Mapping) -> int:
    """The destination's written weight as an int; missing or unreadable reads as 0."""
    w = entry.get("weight")
    if isinstance(w, bool) or w is None:
        return 0
    try:
        return int(w)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
        return 0


def effective_weights(entries: Sequence[Mapping]) -> list[int]:
    """Weights as Istio applies them: a lone destination takes 100, a missing weight beside
    weighted destinations is 0."""
    if len(entries) == 1:
        return [100]
    return [weight_value(e) for e in entries]


def subset_of(entry: Mapping) -> str:
    """The route entry's destination subset, "" when it names the whole service."""
    dest = entry.get("destination")
    return str(dest.get("subset") or "") if isinstance(dest, Mapping) else ""


def host_of(entry: Mapping) -> str:
    """The route entry's destination host, "" when there is none."""
    dest = entry.get("destination")
    return str(dest.get("host") or "") if isinstance(dest, Mapping) else ""


def _destinations(entries: Sequence[Mapping]) -> tuple[Destination, ...]:
    weights = effective_weights(entries)
    return tuple(
        Destination(subset_of(e), w, host_of(e)) for e, w in zip(entries, weights, strict=True)
    )


def default_route_index(vs: Mapping | None, namespace: str, service: str) -> tuple[int | None, str]:
    """Index of the route being shifted, or None and the reason there is none."""
    if vs is None:
        return None, "no VirtualService yet"
    http = as_list(spec_of(vs).get("http"))
    if not http:
        return None, f"VirtualService {name_of(vs)} has no http routes"
    last = http[-1]
    if not isinstance(last, Mapping) or last.get("match"):
        return None, (
            f"VirtualService {name_of(vs)} has no default route: its last http route has a match"
        )
    entries = as_list(last.get("route"))
    if not entries or not all(isinstance(e, Mapping) for e in entries):
        return None, f"the default route of VirtualService {name_of(vs)} has no destinations"
    foreign = [h for h in map(host_of, entries) if not is_service_host(h, namespace, service)]
    if foreign:
        return None, (
            f"the default route of VirtualService {name_of(vs)} also sends traffic to "
            f"{', '.join(sorted(set(foreign)))}"
        )
    return len(http) - 1, ""


def _describe_string_match(value: Any) -> str:
    if isinstance(value, Mapping):
        for kind in ("exact", "prefix", "regex"):
            if kind in value:
                return f"{kind} {value[kind]}"
    return json.dumps(value, sort_keys=True)


def describe_match(match: Mapping) -> list[str]:
    """Human-readable conditions of one HTTPMatchRequest, as Kiali lists them."""
    out = []
    for name, value in (match.get("headers") or {}).items():
        out.append(f"header {name} {_describe_string_match(value)}")
    for key in ("uri", "scheme", "method", "authority"):
        if key in match:
            out.append(f"{key} {_describe_string_match(match[key])}")
    for key in sorted(set(match) - {"headers", "uri", "scheme", "method", "authority"}):
        out.append(f"{key} {json.dumps(match[key], sort_keys=True)}")
    return out


def percent_value(value: Any, default: float = 100.0) -> float:
    """A finite float from `value`, else `default` (mirror percentages may be anything)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


def mirror_rules(route: Mapping) -> list[Mapping]:
    """The route's mirrors (`mirror` with its percentage forms, and `mirrors`) as dicts."""
    out = []
    mirror = route.get("mirror")
    if isinstance(mirror, Mapping):
        pct = route.get("mirrorPercentage")
        if isinstance(pct, Mapping) and "value" in pct:
            value = percent_value(pct["value"])
        elif "mirrorPercent" in route or "mirror_percent" in route:
            value = percent_value(route.get("mirrorPercent", route.get("mirror_percent")), 0.0)
        else:
            value = 100.0
        out.append(
            {
                "subset": str(mirror.get("subset") or ""),
                "percentage": value,
                "host": str(mirror.get("host") or ""),
            }
        )
    for m in as_list(route.get("mirrors")):
        if isinstance(m, Mapping) and isinstance(m.get("destination"), Mapping):
            pct = m.get("percentage")
            value = (
                percent_value(pct["value"])
                if isinstance(pct, Mapping) and "value" in pct
                else 100.0
            )
            dest = m["destination"]
            out.append(
                {
                    "subset": str(dest.get("subset") or ""),
                    "percentage": value,
                    "host": str(dest.get("host") or ""),
                }
            )
    return out


def read_routes(routes: ServiceRoutes) -> RouteState:
    """What the objects say: versions, the split of the default route, matches, mirrors, policy.

    A service with both a VirtualService and an HTTPRoute reads as its VirtualService, with the
    problem naming both: which one the mesh applies depends on the data plane, so nothing is
    shifted until one is removed."""
    if routes.http_route is not None and routes.virtual_service is None:
        return _read_http_route(routes)
    state = _read_virtual_service(routes)
    if routes.http_route is None:
        return state
    return replace(
        state,
        problem=both_problem(routes),
        api=routes.api,
        http_route=name_of(routes.http_route),
    )


def both_problem(routes: ServiceRoutes) -> str:
    """The refusal when a VirtualService and an HTTPRoute both route one service, with the split
    each one says (the page shows the VirtualService's bar, so the reader sees both)."""

    def said(state: RouteState) -> str:
        shares = ", ".join(f"{d.subset or routes.service} {d.weight}%" for d in state.split)
        return f" ({shares})" if shares else ""

    vs, hr = _read_virtual_service(routes), _read_http_route(routes)
    return (
        f"both VirtualService {name_of(routes.virtual_service)}{said(vs)} and HTTPRoute "
        f"{name_of(routes.http_route)}{said(hr)} route {routes.service}; meshdash does not guess "
        "which one applies: remove one of them"
    )


def _read_http_route(routes: ServiceRoutes) -> RouteState:
    """An HTTPRoute's default rule as a split by version (gateway_api's rules)."""
    route, ns = routes.http_route, routes.namespace
    version_of = dict(routes.backends)
    index, problem = gateway_api.default_rule_index(route, ns)
    rules = as_list(spec_of(route).get("rules"))

    def destinations(refs: list[Mapping]) -> tuple[Destination, ...]:
        weights = gateway_api.effective_ref_weights(refs)
        names = [str(r.get("name") or "") for r in refs]
        return tuple(
            Destination(version_of.get(n, n), w, n) for n, w in zip(names, weights, strict=True)
        )

    split: tuple[Destination, ...] = ()
    matches, mirrors = [], []
    for i, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            continue
        refs = [r for r in as_list(rule.get("backendRefs")) if isinstance(r, Mapping)]
        if i == index:
            split = destinations(refs)
            mirrors = [
                MirrorRule(version_of.get(n, n), pct, n)
                for n, pct in gateway_api.mirror_filters(rule)
            ]
        elif rule.get("matches"):
            found = [m for m in as_list(rule["matches"]) if isinstance(m, Mapping)]
            matches.append(
                MatchRule(
                    index=i,
                    name=str(rule.get("name") or ""),
                    conditions=tuple(c for m in found for c in gateway_api.describe_route_match(m)),
                    destinations=destinations(refs),
                    match=tuple(copy.deepcopy(m) for m in found),
                )
            )
    return RouteState(
        namespace=ns,
        service=routes.service,
        versions=routes.versions,
        subsets=tuple(dict.fromkeys(v for _n, v in routes.backends)),
        split=split,
        default_index=index,
        problem=problem,
        matches=tuple(matches),
        mirrors=tuple(mirrors),
        policy={},
        owner=routes.owner,
        virtual_service=None,
        destination_rule=name_of(routes.destination_rule) or None,
        resource_versions={gateway_api.HTTP_ROUTE: resource_version(route)},
        last_change=parse_last_change(route),
        api=gateway_api.HTTP_ROUTE,
        http_route=name_of(route),
    )


def _read_virtual_service(routes: ServiceRoutes) -> RouteState:
    vs, dr = routes.virtual_service, routes.destination_rule
    ns, svc = routes.namespace, routes.service
    index, problem = default_route_index(vs, ns, svc)
    http = as_list(spec_of(vs).get("http"))
    split = _destinations(as_list(http[index].get("route"))) if index is not None else ()
    matches = []
    mirrors = []
    for i, route in enumerate(http):
        if not isinstance(route, Mapping):
            continue
        entries = [e for e in as_list(route.get("route")) if isinstance(e, Mapping)]
        if route.get("match") and any(is_service_host(host_of(e), ns, svc) for e in entries):
            conditions = [
                c
                for m in as_list(route["match"])
                if isinstance(m, Mapping)
                for c in describe_match(m)
            ]
            matches.append(
                MatchRule(
                    index=i,
                    name=str(route.get("name") or ""),
                    conditions=tuple(conditions),
                    destinations=_destinations(entries),
                    match=tuple(copy.deepcopy(m) for m in as_list(route["match"])),
                )
            )
        if i == index:
            mirrors = [
                MirrorRule(m["subset"], m["percentage"], m["host"]) for m in mirror_rules(route)
            ]
    subsets = tuple(
        str(s.get("name"))
        for s in as_list(spec_of(dr).get("subsets"))
        if isinstance(s, Mapping) and s.get("name")
    )
    policy = spec_of(dr).get("trafficPolicy")
    rvs = {}
    if vs is not None:
        rvs[VIRTUAL_SERVICE] = resource_version(vs)
    if dr is not None:
        rvs[DESTINATION_RULE] = resource_version(dr)
    return RouteState(
        namespace=ns,
        service=svc,
        versions=routes.versions,
        subsets=subsets,
        split=split,
        default_index=index,
        problem=problem if vs is not None else "",
        matches=tuple(matches),
        mirrors=tuple(mirrors),
        policy=copy.deepcopy(dict(policy)) if isinstance(policy, Mapping) else {},
        owner=routes.owner,
        virtual_service=name_of(vs) or None,
        destination_rule=name_of(dr) or None,
        resource_versions=rvs,
        last_change=parse_last_change(vs) or parse_last_change(dr),
        api=routes.api,
    )


def destination_json(d: Destination) -> Obj:
    """One destination as the API and the pages show it."""
    return {"subset": d.subset, "weight": d.weight, "host": d.host}


def state_json(state: RouteState) -> Obj:
    return {
        "namespace": state.namespace,
        "service": state.service,
        "versions": list(state.known_versions),
        "deployed_versions": list(state.versions),
        "subsets": list(state.subsets),
        "split": [destination_json(d) for d in state.split],
        "weights": state.weights,
        "routed": state.default_index is not None,
        "problem": state.problem,
        "matches": [
            {
                "index": m.index,
                "name": m.name,
                "conditions": list(m.conditions),
                "destinations": [destination_json(d) for d in m.destinations],
                "match": list(m.match),
            }
            for m in state.matches
        ],
        "mirrors": [
            {"subset": m.subset, "percentage": m.percentage, "host": m.host} for m in state.mirrors
        ],
        "policy": state.policy,
        "owner": state.owner,
        "virtual_service": state.virtual_service,
        "destination_rule": state.destination_rule,
        "resource_versions": state.resource_versions,
        "last_change": state.last_change,
        "api": state.api,
        "http_route": state.http_route,
    }
