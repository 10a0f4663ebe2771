"""What Istio's validating webhook would refuse in a VirtualService or DestinationRule, and the
Gateway API CRD's schema in an HTTPRoute.

The demo store runs these checks on every write, as a cluster's webhook would on a dry run.
"""

from __future__ import annotations

from collections.abc import Mapping

from mesh.routing.gateway_api import HTTP_ROUTE, http_route_problems
from mesh.routing.objects import DESTINATION_RULE, VIRTUAL_SERVICE, as_list, name_of, spec_of
from mesh.routing.state import percent_value


def istio_problems(kind: str, obj: Mapping) -> list[str]:
    """What Istio's validating webhook would refuse in an object (a subset of its rules)."""
    problems: list[str] = []
    spec = spec_of(obj)
    if not name_of(obj):
        problems.append("metadata.name is required")
    if kind == VIRTUAL_SERVICE:
        hosts = as_list(spec.get("hosts"))
        if not hosts or not all(isinstance(h, str) and h for h in hosts):
            problems.append("spec.hosts needs at least one host")
        for i, route in enumerate(as_list(spec.get("http"))):
            if not isinstance(route, Mapping):
                problems.append(f"http[{i}] must be an object")
                continue
            entries = as_list(route.get("route"))
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
            if isinstance(pct, Mapping) and not 0 <= percent_value(pct.get("value"), -1.0) <= 100:
                problems.append(f"http[{i}].mirrorPercentage must be between 0 and 100")
    elif kind == DESTINATION_RULE:
        if not isinstance(spec.get("host"), str) or not spec.get("host"):
            problems.append("spec.host is required")
        names = [
            s.get("name") if isinstance(s, Mapping) else None for s in as_list(spec.get("subsets"))
        ]
        if not all(isinstance(n, str) and n for n in names):
            problems.append("every subset needs a name")
        elif len(set(names)) != len(names):
            problems.append("subset names must be unique")
    elif kind == HTTP_ROUTE:
        problems.extend(http_route_problems(obj))
    else:
        problems.append(f"unknown kind {kind}")
    return problems
