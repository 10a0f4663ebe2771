"""The content-based canary and mirroring on an HTTPRoute: the same actions as for a
VirtualService (mesh/routing/match.py, mirror.py), written the Gateway API way.

A match rule is an HTTPRoute rule with `matches` (headers, a cookie inside the Cookie header, or
the path) sending everything to the canary's backend Service. Gateway API picks among rules by
how specific their matches are, not by list order, so a header or path match always wins over
the default rule (no matches); it is placed before the default rule for the reader. Mirroring is a
RequestMirror filter on the default rule, with its `percent`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mesh.errors import BadRequest
from mesh.routing.gateway_api import MIRROR_FILTER, default_rule_index
from mesh.routing.http_route_edit import HTTPRouteEdit
from mesh.routing.match import MatchCanary, RemoveMatch
from mesh.routing.mirror import MirrorTraffic
from mesh.routing.objects import Obj, as_list

PATH_TYPES = {"exact": "Exact", "prefix": "PathPrefix", "regex": "RegularExpression"}


def route_match(a: MatchCanary) -> Obj:
    """The HTTPRouteMatch for a content canary. Header matches have no prefix type in the Gateway
    API, so a prefix is an anchored regular expression; a cookie is matched inside the Cookie
    header with the same expression the VirtualService form uses."""
    if a.kind == "uri":
        return {"path": {"type": PATH_TYPES[a.match_type], "value": a.value}}
    if a.kind == "header":
        if a.match_type == "exact":
            return {"headers": [{"type": "Exact", "name": a.header, "value": a.value}]}
        value = a.value if a.match_type == "regex" else f"^{re.escape(a.value)}.*"
        return {"headers": [{"type": "RegularExpression", "name": a.header, "value": value}]}
    cookie = a.match()["headers"]["cookie"]["regex"]
    return {"headers": [{"type": "RegularExpression", "name": "cookie", "value": cookie}]}


def match_canary(e: HTTPRouteEdit, a: MatchCanary) -> str:
    """Requests matching go to the canary's Service; a rule with the same match is reused."""
    ref = e.backend_ref(a.canary, field="canary")
    e.default_rule()  # everyone else stays on the weighted default rule: it must exist
    matches = [route_match(a)]
    rules = e.rules()
    for rule in rules:
        if isinstance(rule, Mapping) and rule.get("matches") == matches:
            if rule.get("backendRefs") != [ref]:
                rule["backendRefs"] = [ref]
            return a.canary
    index, _ = default_rule_index(e.route, e.ns)
    rules.insert(
        index if index is not None else len(rules), {"matches": matches, "backendRefs": [ref]}
    )
    return a.canary


def remove_match(e: HTTPRouteEdit, a: RemoveMatch) -> str:
    """Remove the match rule at `index` (the index the route's state lists)."""
    rules = e.rules()
    index, _ = default_rule_index(e.route, e.ns)
    rule = rules[a.index] if a.index < len(rules) else None
    if a.index == index or not isinstance(rule, Mapping) or not rule.get("matches"):
        raise BadRequest(f"rule {a.index} is not a match rule of {e.svc}", field="index")
    del rules[a.index]
    return ""


def mirror(e: HTTPRouteEdit, a: MirrorTraffic) -> str:
    """Set (or, without a version, remove) the default rule's RequestMirror filter."""
    rule = e.default_rule()
    filters = as_list(rule.get("filters"))
    others = [f for f in filters if not (isinstance(f, Mapping) and f.get("type") == MIRROR_FILTER)]
    if len(filters) - len(others) > 1:
        raise BadRequest(
            f"{e.svc}'s default rule has several RequestMirror filters; edit it by hand"
        )
    if a.version is None:
        if len(others) != len(filters):
            if others:
                rule["filters"] = others
            else:
                rule.pop("filters", None)
        return ""
    live = dict(e.split()).get(a.version, 0)
    if live > 0:
        raise BadRequest(
            f"{a.version} already receives {live}% of live traffic; mirror to a version without "
            "live traffic",
            field="version",
        )
    spec: Obj = {"backendRef": e.backend_ref(a.version)}
    if a.percentage.is_integer():
        spec["percent"] = int(a.percentage)
    else:
        spec["fraction"] = {"numerator": round(a.percentage * 100), "denominator": 10000}
    wanted = {"type": MIRROR_FILTER, "requestMirror": spec}
    current = [f for f in filters if f not in others]
    if current != [wanted]:
        rule["filters"] = [*others, wanted]
    return a.version


# The planner's entry for each HTTPRoute action defined here.
HANDLERS = {
    MatchCanary: match_canary,
    RemoveMatch: remove_match,
    MirrorTraffic: mirror,
}
