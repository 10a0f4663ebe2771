"""The header canary: requests matching a header, cookie or URI go to one version, in a match
route placed before the weighted default; and removing such a route.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mesh.errors import BadRequest
from mesh.routing.edit import RouteEdit
from mesh.routing.fields import int_field, str_field, version_field
from mesh.routing.objects import Obj, as_list, is_service_host, spec_of
from mesh.routing.state import default_route_index, host_of

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
        canary = version_field(p, "canary", required=True)
        kind = str_field(p, "kind", required=True)
        if kind not in MATCH_KINDS:
            raise BadRequest(f"kind must be one of {', '.join(MATCH_KINDS)}", field="kind")
        match_type = str_field(p, "match", required=False) or "exact"
        if match_type not in MATCH_TYPES:
            raise BadRequest(f"match must be one of {', '.join(MATCH_TYPES)}", field="match")
        value = str_field(p, "value", required=True)
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
            header = str_field(p, "name", required=True)
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
        return cls(int_field(p.get("index"), "index", 0, 10_000))


def _do_match(e: RouteEdit, a: MatchCanary) -> str:
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


def _do_remove_match(e: RouteEdit, a: RemoveMatch) -> str:
    vs = e.vs
    http = as_list(spec_of(vs).get("http"))
    index, _ = default_route_index(vs, e.ns, e.svc)
    if a.index >= len(http) or a.index == index:
        raise BadRequest(f"http route {a.index} is not a match route of {e.svc}", field="index")
    route = http[a.index] if isinstance(http[a.index], Mapping) else {}
    entries = [x for x in as_list(route.get("route")) if isinstance(x, Mapping)]
    if (
        not route.get("match")
        or not entries
        or not all(is_service_host(host_of(x), e.ns, e.svc) for x in entries)
    ):
        raise BadRequest(f"http route {a.index} is not a match route of {e.svc}", field="index")
    del vs["spec"]["http"][a.index]
    return ""


# The planner's entry for each action defined here.
HANDLERS = {
    MatchCanary: _do_match,
    RemoveMatch: _do_remove_match,
}
