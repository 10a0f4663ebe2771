"""Istio routing as data: read a service's versions and split, and turn an action into new objects.

Pure: objects in (VirtualService/DestinationRule dicts as the API server returns them), objects
and a unified YAML diff out. Conventions are DESIGN.md's "Routing conventions":
- the route being shifted is the default (last, match-less) http route of the service's
  VirtualService; nothing else is touched, and everything the action does not concern stays
  equal (every edit works on a deep copy and sets only the keys it is about);
- weights are integers 0..100 summing to 100 over the route's destinations (mirrors are not
  destinations); a lone destination without `weight` takes 100, beside weighted destinations a
  missing `weight` is 0 (Istio's Go types drop `weight: 0`);
- a DestinationRule subset is added before a route names it and a route entry is removed before
  its subset ("make before break"), expressed as the order of `Plan.writes`;
- objects owned by a controller (Flagger, Argo Rollouts, KubeSphere) are read-only.
An invalid request raises BadRequest (a controller-owned object: Forbidden) and changes nothing.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from mesh import validate
from mesh.errors import BadRequest, Conflict, Forbidden

Obj = dict[str, Any]

GROUP = "networking.istio.io"
VERSION = "v1"
VIRTUAL_SERVICE = "VirtualService"
DESTINATION_RULE = "DestinationRule"
PLURALS: dict[str, str] = {
    VIRTUAL_SERVICE: "virtualservices",
    DESTINATION_RULE: "destinationrules",
}
LAST_CHANGE_ANNOTATION = "meshdash.io/last-change"
WIZARD_LABEL = "kiali_wizard"  # what Kiali's wizard puts on the objects it creates
DEFAULT_STEP = 10
MAX_INT32 = 2**31 - 1

# Metadata the API server manages: never part of a diff a person reads.
_SERVER_METADATA = (
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
)


# ---------------------------------------------------------------------------------------------
# What a store hands the model


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


# ---------------------------------------------------------------------------------------------
# Hosts and object selection


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


def _is_service_host(host: Any, namespace: str, service: str) -> bool:
    return service_of_host(host, namespace) == service


def _spec(obj: Mapping | None) -> Mapping:
    spec = obj.get("spec") if isinstance(obj, Mapping) else None
    return spec if isinstance(spec, Mapping) else {}


def _meta(obj: Mapping | None) -> Mapping:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    return meta if isinstance(meta, Mapping) else {}


def name_of(obj: Mapping | None) -> str:
    return str(_meta(obj).get("name") or "")


def resource_version(obj: Mapping | None) -> str:
    return str(_meta(obj).get("resourceVersion") or "")


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _mesh_bound(vs: Mapping) -> bool:
    """A VirtualService applies to sidecars when it names no gateway or names "mesh"."""
    gateways = _list(_spec(vs).get("gateways"))
    return not gateways or "mesh" in gateways


def pick_virtual_service(objects: Iterable[Obj], namespace: str, service: str) -> Obj | None:
    """The VirtualService that routes the mesh's calls to `service` (the one named after it
    first, as Kiali names them)."""
    found = [
        vs
        for vs in objects
        if _mesh_bound(vs)
        and any(_is_service_host(h, namespace, service) for h in _list(_spec(vs).get("hosts")))
    ]
    found.sort(key=lambda o: (name_of(o) != service, name_of(o)))
    return found[0] if found else None


def pick_destination_rule(objects: Iterable[Obj], namespace: str, service: str) -> Obj | None:
    found = [dr for dr in objects if _is_service_host(_spec(dr).get("host"), namespace, service)]
    found.sort(key=lambda o: (name_of(o) != service, name_of(o)))
    return found[0] if found else None


def service_names(
    namespace: str,
    virtual_services: Iterable[Obj],
    destination_rules: Iterable[Obj],
    versions_by_app: Mapping[str, Sequence[str]],
) -> list[str]:
    """Every service that has versions (Deployments) or routing objects in the namespace."""
    names = set(versions_by_app)
    for vs in virtual_services:
        if _mesh_bound(vs):
            names.update(
                s
                for s in (service_of_host(h, namespace) for h in _list(_spec(vs).get("hosts")))
                if s
            )
    for dr in destination_rules:
        s = service_of_host(_spec(dr).get("host"), namespace)
        if s:
            names.add(s)
    return sorted(names)


def _route_lists(vs: Mapping) -> Iterable[tuple[str, int, Mapping]]:
    spec = _spec(vs)
    for proto in ("http", "tcp", "tls"):
        for i, route in enumerate(_list(spec.get(proto))):
            if isinstance(route, Mapping):
                yield proto, i, route


def _destinations_in(route: Mapping) -> Iterable[Mapping]:
    """Every destination a route sends traffic (or mirrored traffic) to."""
    for entry in _list(route.get("route")):
        if isinstance(entry, Mapping) and isinstance(entry.get("destination"), Mapping):
            yield entry["destination"]
    if isinstance(route.get("mirror"), Mapping):
        yield route["mirror"]
    for m in _list(route.get("mirrors")):
        if isinstance(m, Mapping) and isinstance(m.get("destination"), Mapping):
            yield m["destination"]


def subset_references(vs: Mapping, namespace: str, service: str) -> list[tuple[str, str]]:
    """(VirtualService name, subset) for every destination of `vs` that is `service`."""
    out = []
    for _proto, _i, route in _route_lists(vs):
        for dest in _destinations_in(route):
            if _is_service_host(dest.get("host"), namespace, service) and dest.get("subset"):
                out.append((name_of(vs), str(dest["subset"])))
    return out


def find_owner(
    virtual_service: Mapping | None,
    destination_rule: Mapping | None,
    *,
    namespace: str,
    service: str,
    rollouts: Iterable[Mapping] = (),
    strategies: Iterable[Mapping] = (),
) -> str | None:
    """The controller that would revert any edit of these objects, named for the user."""
    for obj in (virtual_service, destination_rule):
        for ref in _list(_meta(obj).get("ownerReferences")):
            if not isinstance(ref, Mapping):
                continue
            if ref.get("kind") == "Canary":
                return f"Flagger Canary {namespace}/{ref.get('name', '')}"
            if ref.get("controller"):
                return f"{ref.get('kind', 'controller')} {namespace}/{ref.get('name', '')}"
    vs_name, dr_name = name_of(virtual_service), name_of(destination_rule)
    for rollout in rollouts:
        canary = _spec(rollout).get("strategy", {}) or {}
        canary = canary.get("canary", {}) if isinstance(canary, Mapping) else {}
        routing = canary.get("trafficRouting", {}) if isinstance(canary, Mapping) else {}
        istio = routing.get("istio", {}) if isinstance(routing, Mapping) else {}
        if not isinstance(istio, Mapping):
            continue
        named = [istio.get("virtualService"), *_list(istio.get("virtualServices"))]
        vs_names = {str(v.get("name", "")).split(".")[0] for v in named if isinstance(v, Mapping)}
        dr = istio.get("destinationRule")
        dr_names = {str(dr.get("name", "")).split(".")[0]} if isinstance(dr, Mapping) else set()
        if (vs_name and vs_name in vs_names) or (dr_name and dr_name in dr_names):
            return f"Argo Rollouts Rollout {namespace}/{name_of(rollout)}"
    for strategy in strategies:
        labels = _meta(strategy).get("labels") or {}
        if isinstance(labels, Mapping) and labels.get("app") == service:
            return f"KubeSphere Strategy {namespace}/{name_of(strategy)}"
    return None


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
) -> ServiceRoutes:
    """Assemble one service's ServiceRoutes from everything a store listed in the namespace."""
    vs = pick_virtual_service(virtual_services, namespace, service)
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
        ),
        other_references=tuple(sorted(set(others))),
    )


# ---------------------------------------------------------------------------------------------
# Reading


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


def _weight_value(entry: Mapping) -> int:
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
    return [_weight_value(e) for e in entries]


def _subset_of(entry: Mapping) -> str:
    dest = entry.get("destination")
    return str(dest.get("subset") or "") if isinstance(dest, Mapping) else ""


def _host_of(entry: Mapping) -> str:
    dest = entry.get("destination")
    return str(dest.get("host") or "") if isinstance(dest, Mapping) else ""


def _destinations(entries: Sequence[Mapping]) -> tuple[Destination, ...]:
    weights = effective_weights(entries)
    return tuple(
        Destination(_subset_of(e), w, _host_of(e)) for e, w in zip(entries, weights, strict=True)
    )


def _default_route(vs: Mapping | None, namespace: str, service: str) -> tuple[int | None, str]:
    """Index of the route being shifted, or None and the reason there is none."""
    if vs is None:
        return None, "no VirtualService yet"
    http = _list(_spec(vs).get("http"))
    if not http:
        return None, f"VirtualService {name_of(vs)} has no http routes"
    last = http[-1]
    if not isinstance(last, Mapping) or last.get("match"):
        return None, (
            f"VirtualService {name_of(vs)} has no default route: its last http route has a match"
        )
    entries = _list(last.get("route"))
    if not entries or not all(isinstance(e, Mapping) for e in entries):
        return None, f"the default route of VirtualService {name_of(vs)} has no destinations"
    foreign = [h for h in map(_host_of, entries) if not _is_service_host(h, namespace, service)]
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


def _percent(value: Any, default: float = 100.0) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


def _mirror_rules(route: Mapping) -> list[Mapping]:
    out = []
    mirror = route.get("mirror")
    if isinstance(mirror, Mapping):
        pct = route.get("mirrorPercentage")
        if isinstance(pct, Mapping) and "value" in pct:
            value = _percent(pct["value"])
        elif "mirrorPercent" in route or "mirror_percent" in route:
            value = _percent(route.get("mirrorPercent", route.get("mirror_percent")), 0.0)
        else:
            value = 100.0
        out.append(
            {
                "subset": str(mirror.get("subset") or ""),
                "percentage": value,
                "host": str(mirror.get("host") or ""),
            }
        )
    for m in _list(route.get("mirrors")):
        if isinstance(m, Mapping) and isinstance(m.get("destination"), Mapping):
            pct = m.get("percentage")
            value = _percent(pct["value"]) if isinstance(pct, Mapping) and "value" in pct else 100.0
            dest = m["destination"]
            out.append(
                {
                    "subset": str(dest.get("subset") or ""),
                    "percentage": value,
                    "host": str(dest.get("host") or ""),
                }
            )
    return out


def parse_last_change(obj: Mapping | None) -> Obj | None:
    raw = (_meta(obj).get("annotations") or {}).get(LAST_CHANGE_ANNOTATION)
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_routes(routes: ServiceRoutes) -> RouteState:
    """What the objects say: versions, the split of the default route, matches, mirrors, policy."""
    vs, dr = routes.virtual_service, routes.destination_rule
    ns, svc = routes.namespace, routes.service
    index, problem = _default_route(vs, ns, svc)
    http = _list(_spec(vs).get("http"))
    split = _destinations(_list(http[index].get("route"))) if index is not None else ()
    matches = []
    mirrors = []
    for i, route in enumerate(http):
        if not isinstance(route, Mapping):
            continue
        entries = [e for e in _list(route.get("route")) if isinstance(e, Mapping)]
        if route.get("match") and any(_is_service_host(_host_of(e), ns, svc) for e in entries):
            conditions = [
                c
                for m in _list(route["match"])
                if isinstance(m, Mapping)
                for c in describe_match(m)
            ]
            matches.append(
                MatchRule(
                    index=i,
                    name=str(route.get("name") or ""),
                    conditions=tuple(conditions),
                    destinations=_destinations(entries),
                    match=tuple(copy.deepcopy(m) for m in _list(route["match"])),
                )
            )
        if i == index:
            mirrors = [
                MirrorRule(m["subset"], m["percentage"], m["host"]) for m in _mirror_rules(route)
            ]
    subsets = tuple(
        str(s.get("name"))
        for s in _list(_spec(dr).get("subsets"))
        if isinstance(s, Mapping) and s.get("name")
    )
    policy = _spec(dr).get("trafficPolicy")
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
    )


def _dest_json(d: Destination) -> Obj:
    return {"subset": d.subset, "weight": d.weight, "host": d.host}


def state_json(state: RouteState) -> Obj:
    return {
        "namespace": state.namespace,
        "service": state.service,
        "versions": list(state.known_versions),
        "deployed_versions": list(state.versions),
        "subsets": list(state.subsets),
        "split": [_dest_json(d) for d in state.split],
        "weights": state.weights,
        "routed": state.default_index is not None,
        "problem": state.problem,
        "matches": [
            {
                "index": m.index,
                "name": m.name,
                "conditions": list(m.conditions),
                "destinations": [_dest_json(d) for d in m.destinations],
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
    }


# ---------------------------------------------------------------------------------------------
# Actions: parsed and validated before any object is looked at


def _str_field(payload: Mapping, key: str, *, required: bool = False) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        if required:
            raise BadRequest(f"{key} is required", field=key)
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be text", field=key)
    return value


def _version_field(payload: Mapping, key: str, *, required: bool = False) -> str | None:
    value = _str_field(payload, key, required=required)
    return None if value is None else validate.label_value(value, field=key)


def _int_field(value: Any, key: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise BadRequest(f"{key} must be a whole number, got {value!r}", field=key)
    if not lo <= value <= hi:
        raise BadRequest(f"{key} must be between {lo} and {hi}, got {value}", field=key)
    return value


@dataclass(frozen=True, slots=True)
class SetWeights:
    """Exact weights for the default route (subsets not named get 0 and stay listed)."""

    weights: tuple[tuple[str, int], ...]
    name = "set_weights"

    @classmethod
    def parse(cls, p: Mapping) -> SetWeights:
        raw = p.get("weights")
        if not isinstance(raw, Mapping) or not raw:
            raise BadRequest(
                'weights must be an object such as {"v1": 90, "v2": 10}', field="weights"
            )
        weights = []
        for subset, w in raw.items():
            if not isinstance(subset, str):
                raise BadRequest("weights keys must be version names", field="weights")
            if subset:
                validate.label_value(subset, field="weights")
            weights.append((subset, _int_field(w, f"weight of {subset or 'the service'}", 0, 100)))
        total = sum(w for _, w in weights)
        if total != 100:
            raise BadRequest(f"weights must sum to 100, got {total}", field="weights")
        return cls(tuple(weights))


@dataclass(frozen=True, slots=True)
class StepCanary:
    """Move `step` points to the canary (negative: back to the stable version)."""

    canary: str | None = None
    step: int = DEFAULT_STEP
    stable: str | None = None
    name = "step_canary"

    @classmethod
    def parse(cls, p: Mapping) -> StepCanary:
        step = _int_field(p.get("step", DEFAULT_STEP), "step", -100, 100)
        if step == 0:
            raise BadRequest("step must not be 0", field="step")
        return cls(_version_field(p, "canary"), step, _version_field(p, "stable"))


@dataclass(frozen=True, slots=True)
class EvenSplit:
    versions: tuple[str, ...] = ()
    name = "even_split"

    @classmethod
    def parse(cls, p: Mapping) -> EvenSplit:
        raw = p.get("versions") or ()
        if isinstance(raw, str):
            raw = [v.strip() for v in raw.split(",") if v.strip()]
        if not isinstance(raw, list | tuple):
            raise BadRequest("versions must be a list of version names", field="versions")
        versions = tuple(validate.label_value(v, field="versions") for v in raw)
        if len(set(versions)) != len(versions):
            raise BadRequest("versions must not repeat", field="versions")
        if len(versions) == 1:
            raise BadRequest("an even split needs at least two versions", field="versions")
        return cls(versions)


@dataclass(frozen=True, slots=True)
class TakeOver:
    """The canary takes all traffic; the old version keeps its subset and its route entry."""

    canary: str | None = None
    name = "take_over"

    @classmethod
    def parse(cls, p: Mapping) -> TakeOver:
        return cls(_version_field(p, "canary"))


@dataclass(frozen=True, slots=True)
class Rollback:
    stable: str | None = None
    name = "rollback"

    @classmethod
    def parse(cls, p: Mapping) -> Rollback:
        return cls(_version_field(p, "stable"))


@dataclass(frozen=True, slots=True)
class Retire:
    """Remove a version's route entry, then its subset; only once another version has it all."""

    version: str | None = None
    name = "retire"

    @classmethod
    def parse(cls, p: Mapping) -> Retire:
        return cls(_version_field(p, "version"))


@dataclass(frozen=True, slots=True)
class BlueGreen:
    """Switch all traffic from the live version to the idle one in one step."""

    target: str | None = None
    name = "blue_green"

    @classmethod
    def parse(cls, p: Mapping) -> BlueGreen:
        return cls(_version_field(p, "target"))


_HEADER_NAME = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]{1,256}$")
_COOKIE_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,256}$")
MATCH_KINDS = ("header", "cookie", "uri")
MATCH_TYPES = ("exact", "prefix", "regex")


@dataclass(frozen=True, slots=True)
class MatchCanary:
    """Requests matching a header, cookie or URI go to the canary, before the weighted default."""

    canary: str
    kind: str
    match_type: str
    value: str
    header: str = ""  # header or cookie name
    name = "match_canary"

    @classmethod
    def parse(cls, p: Mapping) -> MatchCanary:
        canary = _version_field(p, "canary", required=True)
        kind = _str_field(p, "kind", required=True)
        if kind not in MATCH_KINDS:
            raise BadRequest(f"kind must be one of {', '.join(MATCH_KINDS)}", field="kind")
        match_type = _str_field(p, "match", required=False) or "exact"
        if match_type not in MATCH_TYPES:
            raise BadRequest(f"match must be one of {', '.join(MATCH_TYPES)}", field="match")
        value = _str_field(p, "value", required=True)
        if len(value) > 1024 or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise BadRequest("value must be at most 1024 printable characters", field="value")
        if match_type == "regex":
            try:
                re.compile(value)
            except re.error as exc:
                raise BadRequest(
                    f"value is not a valid regular expression: {exc}", field="value"
                ) from None
        header = ""
        if kind in ("header", "cookie"):
            header = _str_field(p, "name", required=True)
            pattern = _HEADER_NAME if kind == "header" else _COOKIE_NAME
            if not pattern.match(header):
                what = "a lowercase HTTP header name" if kind == "header" else "a cookie name"
                raise BadRequest(f"name {header!r} is not {what}", field="name")
        elif kind == "uri" and match_type != "regex" and not value.startswith("/"):
            raise BadRequest("a URI match starts with /", field="value")
        return cls(canary, kind, match_type, value, header)

    def match(self) -> Obj:
        """The HTTPMatchRequest; a cookie is matched inside the Cookie header, as KubeSphere does."""
        if self.kind == "uri":
            return {"uri": {self.match_type: self.value}}
        if self.kind == "header":
            return {"headers": {self.header: {self.match_type: self.value}}}
        name = re.escape(self.header)
        if self.match_type == "exact":
            cookie = f"{name}={re.escape(self.value)}"
        elif self.match_type == "prefix":
            cookie = f"{name}={re.escape(self.value)}[^;]*"
        else:
            cookie = f"{name}=(?:{self.value})"
        return {"headers": {"cookie": {"regex": rf"^(.*?;\s*)?({cookie})(;.*)?$"}}}


@dataclass(frozen=True, slots=True)
class RemoveMatch:
    index: int
    name = "remove_match"

    @classmethod
    def parse(cls, p: Mapping) -> RemoveMatch:
        return cls(_int_field(p.get("index"), "index", 0, 10_000))


@dataclass(frozen=True, slots=True)
class MirrorTraffic:
    """Copy a percentage of the default route's live traffic to a version (0 or no version: stop)."""

    version: str | None
    percentage: float
    name = "mirror"

    @classmethod
    def parse(cls, p: Mapping) -> MirrorTraffic:
        version = _version_field(p, "version")
        raw = p.get("percentage", 0 if version is None else None)
        if raw is None:
            raise BadRequest("percentage is required (0 stops mirroring)", field="percentage")
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise BadRequest("percentage must be a number", field="percentage")
        if not 0 <= raw <= 100:
            raise BadRequest(f"percentage must be between 0 and 100, got {raw}", field="percentage")
        if raw > 0 and version is None:
            raise BadRequest("version is required to mirror traffic", field="version")
        return cls(version if raw > 0 else None, float(raw))


_DURATION = re.compile(r"^(\d+(\.\d+)?(h|ms|m|s))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_DURATION_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}

# payload field -> (path inside trafficPolicy, validator kind, low bound)
POLICY_FIELDS: dict[str, dict[str, tuple[tuple[str, ...], str, int]]] = {
    "connectionPool": {
        "maxConnections": (("connectionPool", "tcp", "maxConnections"), "int", 1),
        "http1MaxPendingRequests": (
            ("connectionPool", "http", "http1MaxPendingRequests"),
            "int",
            1,
        ),
        "maxRequestsPerConnection": (
            ("connectionPool", "http", "maxRequestsPerConnection"),
            "int",
            0,
        ),
    },
    "outlierDetection": {
        "consecutive5xxErrors": (("outlierDetection", "consecutive5xxErrors"), "int", 0),
        "interval": (("outlierDetection", "interval"), "duration", 0),
        "baseEjectionTime": (("outlierDetection", "baseEjectionTime"), "duration", 0),
        "maxEjectionPercent": (("outlierDetection", "maxEjectionPercent"), "percent", 0),
    },
}


def _duration(value: Any, key: str) -> str:
    if not isinstance(value, str) or not _DURATION.match(value):
        raise BadRequest(
            f"{key} must be a duration such as 500ms, 10s or 1m; got {value!r}", field=key
        )
    seconds = sum(float(n) * _DURATION_UNIT[u] for n, u in _DURATION_PART.findall(value))
    if seconds < 0.001 or seconds > 86400 * 365:
        raise BadRequest(f"{key} must be at least 1ms", field=key)
    return value


@dataclass(frozen=True, slots=True)
class TrafficPolicy:
    """Connection pool and outlier detection on the DestinationRule; a null value removes a field."""

    settings: tuple[tuple[tuple[str, ...], Any], ...]
    name = "traffic_policy"

    @classmethod
    def parse(cls, p: Mapping) -> TrafficPolicy:
        out: list[tuple[tuple[str, ...], Any]] = []
        for section, fields in POLICY_FIELDS.items():
            given = p.get(section)
            if given is None:
                continue
            if not isinstance(given, Mapping):
                raise BadRequest(f"{section} must be an object", field=section)
            extra = set(given) - set(fields)
            if extra:
                raise BadRequest(
                    f"{section} accepts {', '.join(fields)}; unknown: {', '.join(sorted(extra))}",
                    field=section,
                )
            for key, value in given.items():
                path, kind, low = fields[key]
                if value is None:
                    out.append((path, None))
                elif kind == "int":
                    out.append((path, _int_field(value, key, low, MAX_INT32)))
                elif kind == "percent":
                    out.append((path, _int_field(value, key, 0, 100)))
                else:
                    out.append((path, _duration(value, key)))
        if not out:
            raise BadRequest(
                "give at least one connectionPool or outlierDetection field", field="policy"
            )
        return cls(tuple(out))


Action = (
    SetWeights
    | StepCanary
    | EvenSplit
    | TakeOver
    | Rollback
    | Retire
    | BlueGreen
    | MatchCanary
    | RemoveMatch
    | MirrorTraffic
    | TrafficPolicy
)
ACTIONS: dict[str, type] = {
    cls.name: cls
    for cls in (
        SetWeights,
        StepCanary,
        EvenSplit,
        TakeOver,
        Rollback,
        Retire,
        BlueGreen,
        MatchCanary,
        RemoveMatch,
        MirrorTraffic,
        TrafficPolicy,
    )
}
# Actions a person confirms twice, as Argo Rollouts' buttons ask.
CONFIRM = {
    TakeOver.name: "all traffic moves to {version}; the other versions stay deployed and routable",
    Retire.name: "{version} is removed from the route and its subset deleted",
    BlueGreen.name: "all traffic switches to {version} at once",
}


def parse_action(payload: Mapping) -> Action:
    """The action named in a request body, validated on its own (before objects are read)."""
    if not isinstance(payload, Mapping):
        raise BadRequest("the request body must be a JSON object")
    name = payload.get("action")
    if not isinstance(name, str) or name not in ACTIONS:  # a list or object is unhashable
        raise BadRequest(
            f"action must be one of {', '.join(ACTIONS)}; got {str(name)[:40]!r}", field="action"
        )
    return ACTIONS[name].parse(payload)


# ---------------------------------------------------------------------------------------------
# Planning


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


@dataclass(frozen=True, slots=True)
class Plan:
    action: str
    namespace: str
    service: str
    summary: str
    writes: tuple[Write, ...]  # in the order they must be applied (make before break)
    diff: str
    split_before: tuple[Destination, ...]
    split_after: tuple[Destination, ...]
    confirm: str = ""  # a second confirmation the page asks for, "" when none

    @property
    def changed(self) -> bool:
        return bool(self.writes)


class _Edit:
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
            for s in _list(_spec(self.dr).get("subsets"))
            if isinstance(s, Mapping) and s.get("name")
        ]

    def known(self) -> list[str]:
        return list(dict.fromkeys([*self.subsets(), *self.routes.versions]))

    def default_route(self) -> Obj:
        vs = self.ensure_vs()
        index, problem = _default_route(vs, self.ns, self.svc)
        if index is None:
            raise BadRequest(f"{self.svc}: {problem}; meshdash shifts only the default route")
        return vs["spec"]["http"][index]

    def entries(self) -> list[Obj]:
        return self.default_route()["route"]

    def split(self) -> list[tuple[str, int]]:
        entries = self.entries()
        subsets = [_subset_of(e) for e in entries]
        dupes = sorted({s for s in subsets if subsets.count(s) > 1})
        if dupes:
            raise BadRequest(
                f"{self.svc}: the default route names {', '.join(dupes) or 'the service'} more than once; "
                "edit it by hand"
            )
        return list(zip(subsets, effective_weights(entries), strict=True))

    def host(self) -> str:
        entries = self.entries()
        return _host_of(entries[0]) if entries else self.svc

    # -- checks -------------------------------------------------------------------------
    def require_known(self, version: str, *, field: str = "version") -> None:
        routed = [s for s, _ in self.split()] if self._has_default() else []
        if version not in self.known() and version not in routed:
            known = ", ".join(self.known()) or "none"
            raise BadRequest(f"{self.svc} has no version {version!r} (known: {known})", field=field)

    def _has_default(self) -> bool:
        return self.vs is not None and _default_route(self.vs, self.ns, self.svc)[0] is not None

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
            new_entries = [e for e in new_entries if _subset_of(e) or target.get("", 0) > 0]
        wanted = [target.get(_subset_of(e), 0) for e in new_entries]
        old_effective = {
            _subset_of(e): w for e, w in zip(entries, effective_weights(entries), strict=True)
        }
        for entry, w in zip(new_entries, wanted, strict=True):
            if "weight" in entry:
                if _weight_value(entry) != w or not isinstance(entry["weight"], int):
                    entry["weight"] = w
                continue
            implied = 100 if len(new_entries) == 1 else 0
            if w != implied or old_effective.get(_subset_of(entry), w) != w:
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
        for s in _list(_spec(dr).get("subsets"))
        if isinstance(s, Mapping) and s.get("name")
    ]


def _pick(value: str | None, default: str | None, what: str, candidates: Sequence[str]) -> str:
    if value is not None:
        return value
    if default is None:
        listed = ", ".join(candidates) or "none"
        raise BadRequest(f"name the {what} version (candidates: {listed})", field=what)
    return default


def _do_set_weights(e: _Edit, a: SetWeights) -> str:
    e.set_split(dict(a.weights))
    return ""


def _do_step(e: _Edit, a: StepCanary) -> str:
    split = e.split()
    routed = [s for s, _ in split]
    canary = _pick(a.canary, routed[-1] if len(routed) > 1 else None, "canary", e.known())
    e.require_known(canary, field="canary")
    weights = dict(split)
    total = sum(weights.values())
    if total != 100:
        raise BadRequest(f"the current weights sum to {total}, not 100: set the weights explicitly")
    weights.setdefault(canary, 0)
    others = [s for s in weights if s != canary]
    if not others and a.stable is None:
        raise BadRequest(
            f"{canary} is the only version in the route; name the stable version", field="stable"
        )
    if a.stable is not None:
        if a.stable == canary:
            raise BadRequest("stable and canary must differ", field="stable")
        e.require_known(a.stable, field="stable")
        stable = a.stable
        weights.setdefault(stable, 0)
    else:
        stable = others[0]
    if a.step > 0:
        amount = min(a.step, 100 - weights[canary])
        if amount == 0:
            raise BadRequest(f"{canary} already receives all traffic", field="step")
        left = amount
        for s in [stable, *[o for o in others if o != stable]]:
            take = min(left, weights[s])
            weights[s] -= take
            left -= take
        weights[canary] += amount
    else:
        amount = min(-a.step, weights[canary])
        if amount == 0:
            raise BadRequest(f"{canary} receives no traffic to step back", field="step")
        weights[canary] -= amount
        weights[stable] += amount
    e.set_split(weights)
    return ""


def _do_even(e: _Edit, a: EvenSplit) -> str:
    routed = [s for s, _ in e.split()]
    versions = list(a.versions) or routed
    if len(versions) < 2:
        raise BadRequest(
            f"name at least two versions to split evenly (candidates: {', '.join(e.known())})",
            field="versions",
        )
    base, rest = divmod(100, len(versions))
    target = dict.fromkeys(routed, 0)
    for i, v in enumerate(versions):
        target[v] = base + (rest if i == len(versions) - 1 else 0)  # remainder last, as Kiali
    e.set_split(target)
    return ""


def _all_to(e: _Edit, version: str) -> None:
    target = {s: 0 for s, _ in e.split()}
    target[version] = 100
    e.set_split(target)


def _do_take_over(e: _Edit, a: TakeOver) -> str:
    routed = [s for s, _ in e.split()]
    canary = _pick(a.canary, routed[-1] if len(routed) > 1 else None, "canary", e.known())
    e.require_known(canary, field="canary")
    _all_to(e, canary)
    return canary


def _do_rollback(e: _Edit, a: Rollback) -> str:
    routed = [s for s, _ in e.split()]
    stable = _pick(a.stable, routed[0] if routed and routed[0] else None, "stable", e.known())
    e.require_known(stable, field="stable")
    _all_to(e, stable)
    return stable


def _do_blue_green(e: _Edit, a: BlueGreen) -> str:
    split = e.split()
    live = [s for s, w in split if w == 100]
    if not live:
        shares = ", ".join(f"{s or e.svc} {w}%" for s, w in split)
        raise BadRequest(
            f"a blue-green switch needs one version with all traffic; now {shares}. "
            "Use take over or set the weights."
        )
    idle = [s for s, _ in split if s != live[0]]
    target = _pick(
        a.target,
        idle[0] if len(idle) == 1 else None,
        "target",
        [v for v in e.known() if v != live[0]],
    )
    if target == live[0]:
        raise BadRequest(f"{target} already receives all traffic", field="target")
    e.require_known(target, field="target")
    _all_to(e, target)
    return target


def _do_retire(e: _Edit, a: Retire) -> str:
    index, _problem = _default_route(e.vs, e.ns, e.svc)
    split = e.split() if index is not None else []
    zero = [s for s, w in split if w == 0]
    version = _pick(
        a.version, zero[0] if len(zero) == 1 and len(split) == 2 else None, "version", e.known()
    )
    e.require_known(version)
    weights = dict(split)
    if weights.get(version, 0) > 0:
        raise BadRequest(
            f"{version} still receives {weights[version]}% of traffic; take over all traffic with "
            "another version first",
            field="version",
        )
    if not any(w == 100 for s, w in split if s != version):
        raise BadRequest(
            f"retiring {version} needs another version to have taken all traffic first",
            field="version",
        )
    if len(set(e.known())) <= 1:
        raise BadRequest(f"{version} is the last version of {e.svc}", field="version")
    users = [
        f"{proto}[{i}]"
        for proto, i, route in _route_lists(e.vs or {})
        if not (proto == "http" and i == index)
        for d in _destinations_in(route)
        if _is_service_host(d.get("host"), e.ns, e.svc) and d.get("subset") == version
    ]
    route = e.default_route()
    users += [
        "the mirror of the default route"
        for m in _mirror_rules(route)
        if m["subset"] == version and _is_service_host(m["host"], e.ns, e.svc)
    ]
    users += [f"VirtualService {name}" for name, s in e.routes.other_references if s == version]
    if users:
        raise BadRequest(
            f"{version} is still named by {', '.join(users)}; remove those routes first",
            field="version",
        )
    if version in weights:
        route["route"] = [entry for entry in route["route"] if _subset_of(entry) != version]
    if version in e.subsets():
        e.dr["spec"]["subsets"] = [
            s
            for s in e.dr["spec"]["subsets"]
            if not (isinstance(s, Mapping) and s.get("name") == version)
        ]
    return version


def _do_match(e: _Edit, a: MatchCanary) -> str:
    e.require_known(a.canary, field="canary")
    e.ensure_subset(a.canary, field="canary")
    e.default_route()  # everyone else stays on the weighted default: it must exist
    host = e.host()
    http = e.vs["spec"]["http"]
    match = [a.match()]
    destination = [{"destination": {"host": host, "subset": a.canary}}]
    for route in http[:-1]:
        if isinstance(route, Mapping) and route.get("match") == match:
            if route.get("route") != destination:
                route["route"] = destination
            return a.canary
    http.insert(len(http) - 1, {"match": match, "route": destination})
    return a.canary


def _do_remove_match(e: _Edit, a: RemoveMatch) -> str:
    vs = e.vs
    http = _list(_spec(vs).get("http"))
    index, _ = _default_route(vs, e.ns, e.svc)
    if a.index >= len(http) or a.index == index:
        raise BadRequest(f"http route {a.index} is not a match route of {e.svc}", field="index")
    route = http[a.index] if isinstance(http[a.index], Mapping) else {}
    entries = [x for x in _list(route.get("route")) if isinstance(x, Mapping)]
    if (
        not route.get("match")
        or not entries
        or not all(_is_service_host(_host_of(x), e.ns, e.svc) for x in entries)
    ):
        raise BadRequest(f"http route {a.index} is not a match route of {e.svc}", field="index")
    del vs["spec"]["http"][a.index]
    return ""


def _do_mirror(e: _Edit, a: MirrorTraffic) -> str:
    if a.version is None and e.vs is None:
        return ""
    route = e.default_route()
    if "mirrors" in route:
        raise BadRequest(f"{e.svc}'s default route uses `mirrors`; edit it by hand")
    if a.version is None:
        for key in ("mirror", "mirrorPercentage", "mirrorPercent", "mirror_percent"):
            route.pop(key, None)
        return ""
    e.require_known(a.version)
    live = dict(e.split()).get(a.version, 0)
    if live > 0:
        raise BadRequest(
            f"{a.version} already receives {live}% of live traffic; mirror to a version without "
            "live traffic",
            field="version",
        )
    e.ensure_subset(a.version)
    mirror = dict(route["mirror"]) if isinstance(route.get("mirror"), Mapping) else {}
    mirror["host"] = e.host()
    mirror["subset"] = a.version
    if route.get("mirror") != mirror:
        route["mirror"] = mirror
    pct = a.percentage if not a.percentage.is_integer() else int(a.percentage)
    if route.get("mirrorPercentage") != {"value": pct}:
        route["mirrorPercentage"] = {"value": pct}
    route.pop("mirrorPercent", None)
    route.pop("mirror_percent", None)
    return a.version


def _do_policy(e: _Edit, a: TrafficPolicy) -> str:
    dr = e.mutate_dr()
    spec = dr["spec"]
    for path, value in a.settings:
        if value is None:
            _remove_path(spec, ("trafficPolicy", *path))
        else:
            node = spec
            for key in ("trafficPolicy", *path[:-1]):
                if not isinstance(node.get(key), dict):
                    node[key] = {}
                node = node[key]
            if node.get(path[-1]) != value:
                node[path[-1]] = value
    return ""


def _remove_path(root: Obj, path: tuple[str, ...]) -> None:
    """Delete a leaf and then every container this removal left empty."""
    chain = [root]
    for key in path[:-1]:
        node = chain[-1].get(key)
        if not isinstance(node, dict):
            return
        chain.append(node)
    if path[-1] not in chain[-1]:
        return
    del chain[-1][path[-1]]
    for depth in range(len(path) - 1, 0, -1):
        if chain[depth]:
            break
        del chain[depth - 1][path[depth - 1]]


_HANDLERS = {
    SetWeights: _do_set_weights,
    StepCanary: _do_step,
    EvenSplit: _do_even,
    TakeOver: _do_take_over,
    Rollback: _do_rollback,
    Retire: _do_retire,
    BlueGreen: _do_blue_green,
    MatchCanary: _do_match,
    RemoveMatch: _do_remove_match,
    MirrorTraffic: _do_mirror,
    TrafficPolicy: _do_policy,
}


def plan_change(routes: ServiceRoutes, action: Action) -> Plan:
    """New objects, their write order and a YAML diff for `action`; raises before any change."""
    if routes.owner:
        raise Forbidden(
            f"{routes.namespace}/{routes.service} is managed by {routes.owner}; change it there "
            "(the controller would revert an edit made here)"
        )
    if action.name == RemoveMatch.name and routes.virtual_service is None:
        raise BadRequest(f"{routes.service} has no VirtualService", field="index")
    wizard = "request_routing" if isinstance(action, MatchCanary) else "traffic_shifting"
    edit = _Edit(routes, wizard)
    before = read_routes(routes)
    version = _HANDLERS[type(action)](edit, action)
    writes = edit.writes()
    after = read_routes(
        ServiceRoutes(
            routes.namespace,
            routes.service,
            edit.vs,
            edit.dr,
            routes.versions,
            routes.version_label,
        )
    )
    confirm = CONFIRM.get(action.name, "").format(version=version) if writes else ""
    return Plan(
        action=action.name,
        namespace=routes.namespace,
        service=routes.service,
        summary=summarize(routes.service, action, before, after, bool(writes)),
        writes=writes,
        diff=plan_diff(writes),
        split_before=before.split,
        split_after=after.split,
        confirm=confirm,
    )


def _shares(split: Sequence[Destination], service: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in split:
        out[d.subset or service] = out.get(d.subset or service, 0) + d.weight
    return out


def summarize(
    service: str, action: Action, before: RouteState, after: RouteState, changed: bool
) -> str:
    """One line a reviewer reads in the audit log and the confirmation dialog."""
    if not changed:
        return f"{service}: nothing to change"
    parts = []
    old, new = _shares(before.split, service), _shares(after.split, service)
    moved = [
        f"{v} removed from the route" if v not in new else f"{v} {old.get(v, 0)}%→{new[v]}%"
        for v in dict.fromkeys([*old, *new])
        if old.get(v, 0) != new.get(v, 0) or (v in old) != (v in new)
    ]
    if moved:
        parts.append(", ".join(moved))
    gone = [s for s in before.subsets if s not in after.subsets]
    added = [s for s in after.subsets if s not in before.subsets]
    if added:
        parts.append(f"subset {', '.join(added)} added")
    if gone:
        parts.append(f"subset {', '.join(gone)} removed")
    if isinstance(action, MatchCanary):
        parts.append(f"{' '.join(describe_match(action.match()))} → {action.canary}")
    if isinstance(action, RemoveMatch):
        parts.append(f"match route {action.index} removed")
    if isinstance(action, MirrorTraffic):
        parts.append(
            f"mirror {action.percentage:g}% to {action.version}"
            if action.version
            else "mirroring stopped"
        )
    if isinstance(action, TrafficPolicy):
        parts.append(
            "traffic policy "
            + ", ".join(f"{p[-1]}={'unset' if v is None else v}" for p, v in action.settings)
        )
    return f"{service} {action.name.replace('_', ' ')}: " + "; ".join(parts or ["objects updated"])


# ---------------------------------------------------------------------------------------------
# Diffs and annotations


def clean_for_diff(obj: Mapping | None, *, keep_annotation: bool = False) -> Obj | None:
    """The object as a person reviews it: without server-managed metadata and status."""
    if obj is None:
        return None
    out = copy.deepcopy(dict(obj))
    out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for key in _SERVER_METADATA:
            meta.pop(key, None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            if not keep_annotation:
                annotations.pop(LAST_CHANGE_ANNOTATION, None)
            annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
            if not annotations:
                meta.pop("annotations")
    return out


def to_yaml(obj: Mapping | None) -> str:
    if obj is None:
        return ""
    return yaml.safe_dump(
        obj, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000
    )


def yaml_diff(
    before: Mapping | None, after: Mapping | None, label: str, *, keep_annotation: bool = False
) -> str:
    """Unified diff of two objects' YAML; "" when they read the same."""
    a = to_yaml(clean_for_diff(before, keep_annotation=keep_annotation)).splitlines(keepends=True)
    b = to_yaml(clean_for_diff(after, keep_annotation=keep_annotation)).splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(
            a,
            b,
            fromfile=f"a/{label}" if before is not None else "/dev/null",
            tofile=f"b/{label}" if after is not None else "/dev/null",
        )
    )


def plan_diff(writes: Sequence[Write]) -> str:
    return "".join(yaml_diff(w.before, w.after, f"{w.kind}/{w.namespace}/{w.name}") for w in writes)


def annotate(obj: Mapping, change: Mapping[str, Any]) -> Obj:
    """A copy of `obj` carrying the last change (who, when, action, reason) as an annotation."""
    out = copy.deepcopy(dict(obj))
    meta = out.setdefault("metadata", {})
    annotations = meta.get("annotations")
    annotations = dict(annotations) if isinstance(annotations, Mapping) else {}
    annotations[LAST_CHANGE_ANNOTATION] = json.dumps(
        dict(change), sort_keys=True, separators=(",", ":")
    )
    meta["annotations"] = annotations
    return out


def destination_json(d: Destination) -> Obj:
    return _dest_json(d)


def plan_json(plan: Plan) -> Obj:
    return {
        "action": plan.action,
        "namespace": plan.namespace,
        "service": plan.service,
        "summary": plan.summary,
        "changed": plan.changed,
        "confirm": plan.confirm,
        "diff": plan.diff,
        "writes": [
            {
                "kind": w.kind,
                "namespace": w.namespace,
                "name": w.name,
                "op": w.op,
                "base_resource_version": resource_version(w.before),
            }
            for w in plan.writes
        ],
        "before": [_dest_json(d) for d in plan.split_before],
        "after": [_dest_json(d) for d in plan.split_after],
    }


def istio_problems(kind: str, obj: Mapping) -> list[str]:
    """What Istio's validating webhook would refuse in an object (a subset of its rules)."""
    problems: list[str] = []
    spec = _spec(obj)
    if not name_of(obj):
        problems.append("metadata.name is required")
    if kind == VIRTUAL_SERVICE:
        hosts = _list(spec.get("hosts"))
        if not hosts or not all(isinstance(h, str) and h for h in hosts):
            problems.append("spec.hosts needs at least one host")
        for i, route in enumerate(_list(spec.get("http"))):
            if not isinstance(route, Mapping):
                problems.append(f"http[{i}] must be an object")
                continue
            entries = _list(route.get("route"))
            if not entries and not route.get("redirect") and not route.get("directResponse"):
                problems.append(f"http[{i}] needs a route, a redirect or a direct response")
            weights = []
            for j, entry in enumerate(entries):
                dest = entry.get("destination") if isinstance(entry, Mapping) else None
                if not isinstance(dest, Mapping) or not dest.get("host"):
                    problems.append(f"http[{i}].route[{j}] needs a destination host")
                w = entry.get("weight", 0) if isinstance(entry, Mapping) else 0
                if isinstance(w, bool) or not isinstance(w, int) or w < 0:
                    problems.append(f"http[{i}].route[{j}].weight must be a non-negative integer")
                    w = 0
                weights.append(w)
            if len(entries) > 1 and sum(weights) == 0:
                problems.append(f"http[{i}]: total destination weight is 0")
            pct = route.get("mirrorPercentage")
            if isinstance(pct, Mapping) and not 0 <= _percent(pct.get("value"), -1.0) <= 100:
                problems.append(f"http[{i}].mirrorPercentage must be between 0 and 100")
    elif kind == DESTINATION_RULE:
        if not isinstance(spec.get("host"), str) or not spec.get("host"):
            problems.append("spec.host is required")
        names = [
            s.get("name") if isinstance(s, Mapping) else None for s in _list(spec.get("subsets"))
        ]
        if not all(isinstance(n, str) and n for n in names):
            problems.append("every subset needs a name")
        elif len(set(names)) != len(names):
            problems.append("subset names must be unique")
    else:
        problems.append(f"unknown kind {kind}")
    return problems


def conflict_error(write: Write, current: dict | None) -> Conflict:
    """A 409 for `write`: who changed the object (from its annotation), and the diff since read."""
    label = f"{write.kind}/{write.namespace}/{write.name}"
    old_rv = resource_version(write.before)
    if current is None:
        if write.before is None:
            message = f"{label} could not be created"
        else:
            message = f"{label} was deleted since it was read (resourceVersion {old_rv})"
    elif write.before is None:
        message = f"{label} was created by someone else meanwhile"
    else:
        message = (
            f"{label} changed since it was read (resourceVersion {old_rv} → "
            f"{resource_version(current)})"
        )
    change = parse_last_change(current)
    if (
        change
        and current is not None
        and write.before is not None
        and change != parse_last_change(write.before)
    ):
        message += f", last by {change.get('who', '?')} at {change.get('when', '?')} ({change.get('action', '?')})"
    message += "; nothing was overwritten: review the difference and try again"
    return Conflict(
        message,
        current=clean_for_diff(current, keep_annotation=True),
        diff=yaml_diff(write.before, current, label, keep_annotation=True),
    )


__all__ = [
    "ACTIONS",
    "DESTINATION_RULE",
    "GROUP",
    "LAST_CHANGE_ANNOTATION",
    "PLURALS",
    "VIRTUAL_SERVICE",
    "Action",
    "Destination",
    "Plan",
    "RouteState",
    "ServiceRoutes",
    "Write",
    "annotate",
    "conflict_error",
    "effective_weights",
    "find_owner",
    "istio_problems",
    "parse_action",
    "pick_destination_rule",
    "pick_virtual_service",
    "plan_change",
    "plan_json",
    "read_routes",
    "service_names",
    "service_of_host",
    "service_routes",
    "state_json",
    "yaml_diff",
]
