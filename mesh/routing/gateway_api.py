"""Gateway API routing (HTTPRoute, as Istio's ambient mode and GAMMA mesh routing use it): which
HTTPRoute belongs to a service, which version each backend Service is, and the route read as a
person reads a VirtualService split.

An HTTPRoute attaches to a service through a parentRef of kind Service (group "", or no group, as
Istio's Bookinfo samples write it). Its versions are the Services its backendRefs name, each with
its `version` label (metadata.labels, else the selector that picks the version's pods). The
weights shifted are those of the default rule: the last rule without matches. Gateway API weights
are proportional and a missing weight is 1; a lone backendRef with a positive weight takes all
traffic, so it reads as 100. meshdash writes every weight explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mesh.routing.objects import Obj, as_list, meta_of, name_of, spec_of

GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_VERSIONS = ("v1", "v1beta1")
HTTP_ROUTE = "HTTPRoute"
HTTP_ROUTE_PLURAL = "httproutes"
APP_KEYS = ("app", "app.kubernetes.io/name")
MIRROR_FILTER = "RequestMirror"
MAX_ITEMS = 16  # the CRD's maxItems for rules, and for backendRefs in a rule
MAX_WEIGHT = 1_000_000


def _service_kind(ref: Mapping) -> bool:
    """A reference to a core Service: kind Service (the default) and group "" (or none given)."""
    return ref.get("kind", "Service") == "Service" and ref.get("group") in (None, "", "core")


def parent_services(route: Mapping, namespace: str) -> list[str]:
    """The services an HTTPRoute is attached to (GAMMA: parentRefs of kind Service)."""
    out = []
    for ref in as_list(spec_of(route).get("parentRefs")):
        if not isinstance(ref, Mapping) or "kind" not in ref or not _service_kind(ref):
            continue  # no kind means a Gateway parent: north-south, not the mesh's route
        if ref.get("namespace") not in (None, namespace) or not isinstance(ref.get("name"), str):
            continue
        out.append(ref["name"])
    return out


def pick_http_route(routes: Iterable[Obj], namespace: str, service: str) -> Obj | None:
    """The HTTPRoute attached to `service` (the one named after it first)."""
    found = [r for r in routes if service in parent_services(r, namespace)]
    found.sort(key=lambda o: (name_of(o) != service, name_of(o)))
    return found[0] if found else None


def attached_services(routes: Iterable[Obj], namespace: str) -> set[str]:
    """Every service some HTTPRoute in the namespace is attached to."""
    return {s for r in routes for s in parent_services(r, namespace)}


def _label(obj: Mapping, keys: Sequence[str]) -> str:
    labels = meta_of(obj).get("labels")
    selector = spec_of(obj).get("selector")
    for source in (labels, selector):
        if isinstance(source, Mapping):
            for key in keys:
                if isinstance(source.get(key), str) and source[key]:
                    return source[key]
    return ""


def backend_versions(
    services: Iterable[Mapping], app: str, route: Mapping | None, version_label: str = "version"
) -> tuple[tuple[str, str], ...]:
    """(backend Service, version) for every per-version Service of `app` and every Service the
    route names; a Service with no version label is its own version (its name)."""
    named = {r.get("name") for r in backend_refs_of(route)}
    out = []
    for svc in sorted(services, key=name_of):
        name = name_of(svc)
        if not name or name == app:
            continue
        if (_label(svc, APP_KEYS) == app and _label(svc, (version_label,))) or name in named:
            out.append((name, _label(svc, (version_label,)) or name))
    return tuple(out)


def backend_refs_of(route: Mapping | None) -> list[Mapping]:
    """Every backendRef of every rule (what a retire must not leave named)."""
    return [
        ref
        for rule in as_list(spec_of(route).get("rules"))
        if isinstance(rule, Mapping)
        for ref in as_list(rule.get("backendRefs"))
        if isinstance(ref, Mapping)
    ]


def default_rule_index(route: Mapping | None, namespace: str) -> tuple[int | None, str]:
    """Index of the rule being shifted (the last one without matches), or None and why not."""
    if route is None:
        return None, "no HTTPRoute"
    name = name_of(route)
    rules = as_list(spec_of(route).get("rules"))
    index = next(
        (
            i
            for i in range(len(rules) - 1, -1, -1)
            if isinstance(rules[i], Mapping) and not rules[i].get("matches")
        ),
        None,
    )
    if index is None:
        return None, f"HTTPRoute {name} has no default rule (every rule has matches)"
    refs = as_list(rules[index].get("backendRefs"))
    if not refs or not all(isinstance(r, Mapping) for r in refs):
        return None, f"the default rule of HTTPRoute {name} has no backendRefs"
    foreign = [
        str(r.get("name"))
        for r in refs
        if not _service_kind(r) or r.get("namespace") not in (None, namespace)
    ]
    if foreign:
        return None, (
            f"the default rule of HTTPRoute {name} also sends traffic to {', '.join(foreign)} "
            "(not a Service of this namespace)"
        )
    return index, ""


def ref_weight(ref: Mapping) -> int:
    """The written weight; missing is 1 (Gateway API's default), unreadable is 0."""
    w = ref.get("weight", 1)
    if isinstance(w, bool) or not isinstance(w, int | float):
        return 0
    return int(w)


def effective_ref_weights(refs: Sequence[Mapping]) -> list[int]:
    """A lone backendRef with a positive weight takes all traffic (100); else the weights."""
    weights = [ref_weight(r) for r in refs]
    if len(weights) == 1 and weights[0] > 0:
        return [100]
    return weights


def describe_route_match(match: Mapping) -> list[str]:
    """An HTTPRouteMatch's conditions, in the words describe_match uses for Istio."""
    out = []
    path = match.get("path")
    if isinstance(path, Mapping):
        kind = {"Exact": "exact", "PathPrefix": "prefix", "RegularExpression": "regex"}.get(
            str(path.get("type", "PathPrefix")), str(path.get("type"))
        )
        out.append(f"uri {kind} {path.get('value', '/')}")
    for header in as_list(match.get("headers")):
        if isinstance(header, Mapping):
            kind = "regex" if header.get("type") == "RegularExpression" else "exact"
            out.append(f"header {header.get('name', '')} {kind} {header.get('value', '')}")
    for param in as_list(match.get("queryParams")):
        if isinstance(param, Mapping):
            kind = "regex" if param.get("type") == "RegularExpression" else "exact"
            out.append(f"query {param.get('name', '')} {kind} {param.get('value', '')}")
    if match.get("method"):
        out.append(f"method exact {match['method']}")
    return out


def mirror_filters(rule: Mapping) -> list[tuple[str, float]]:
    """(backend Service, percent) of the rule's RequestMirror filters (100 when not given)."""
    out = []
    for f in as_list(rule.get("filters")):
        if not isinstance(f, Mapping) or f.get("type") != MIRROR_FILTER:
            continue
        spec = f.get("requestMirror")
        ref = spec.get("backendRef") if isinstance(spec, Mapping) else None
        if not isinstance(ref, Mapping):
            continue
        pct: Any = spec.get("percent")
        fraction = spec.get("fraction")
        if isinstance(fraction, Mapping) and isinstance(fraction.get("numerator"), int):
            denominator = fraction.get("denominator", 100) or 100
            pct = 100.0 * fraction["numerator"] / denominator
        value = float(pct) if isinstance(pct, int | float) and not isinstance(pct, bool) else 100.0
        out.append((str(ref.get("name") or ""), value))
    return out


def http_route_owner(
    route: Mapping | None,
    *,
    namespace: str,
    rollouts: Iterable[Mapping] = (),
) -> str | None:
    """The controller that drives this HTTPRoute's weights: an ownerReference (Flagger's Canary,
    any controller), or an Argo Rollout whose Gateway API plugin names the route."""
    for ref in as_list(meta_of(route).get("ownerReferences")):
        if not isinstance(ref, Mapping):
            continue
        if ref.get("kind") == "Canary":
            return f"Flagger Canary {namespace}/{ref.get('name', '')}"
        if ref.get("controller"):
            return f"{ref.get('kind', 'controller')} {namespace}/{ref.get('name', '')}"
    name = name_of(route)
    for rollout in rollouts:
        strategy = spec_of(rollout).get("strategy")
        canary = strategy.get("canary") if isinstance(strategy, Mapping) else None
        routing = canary.get("trafficRouting") if isinstance(canary, Mapping) else None
        plugins = routing.get("plugins") if isinstance(routing, Mapping) else None
        if not isinstance(plugins, Mapping):
            continue
        for plugin in plugins.values():
            if not isinstance(plugin, Mapping):
                continue
            named = [plugin.get("httpRoute"), *as_list(plugin.get("httpRoutes"))]
            names = {n.get("name") if isinstance(n, Mapping) else n for n in named if n is not None}
            if name and name in names:
                return f"Argo Rollouts Rollout {namespace}/{name_of(rollout)}"
    return None


def http_route_problems(obj: Mapping) -> list[str]:
    """What the HTTPRoute CRD's schema refuses in a weight edit: rules and backendRefs lists of at
    most 16, a name on every backendRef, and integer weights from 0 to 1000000."""
    problems = []
    rules = spec_of(obj).get("rules", [])
    if not isinstance(rules, list) or len(rules) > MAX_ITEMS:
        return [f"spec.rules must be a list of at most {MAX_ITEMS} rules"]
    for i, rule in enumerate(rules):
        refs = rule.get("backendRefs", []) if isinstance(rule, Mapping) else None
        if not isinstance(refs, list) or len(refs) > MAX_ITEMS:
            problems.append(f"rules[{i}].backendRefs must be a list of at most {MAX_ITEMS}")
            continue
        for j, ref in enumerate(refs):
            if not isinstance(ref, Mapping) or not ref.get("name"):
                problems.append(f"rules[{i}].backendRefs[{j}] needs a name")
                continue
            w = ref.get("weight", 1)
            if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= MAX_WEIGHT:
                problems.append(
                    f"rules[{i}].backendRefs[{j}].weight must be an integer from 0 to {MAX_WEIGHT}"
                )
    return problems
