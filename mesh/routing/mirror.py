"""Mirroring: copy a percentage of the default route's live traffic to a version without live
traffic (responses to mirrored requests are dropped), or stop mirroring.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from mesh.errors import BadRequest
from mesh.routing.edit import RouteEdit
from mesh.routing.fields import shown, version_field


@dataclass(frozen=True, slots=True)
class MirrorTraffic:
    """Copy a percentage of the default route's live traffic to a version (0 or no version: stop)."""

    version: str | None
    percentage: float
    name = "mirror"

    @classmethod
    def parse(cls, p: Mapping) -> MirrorTraffic:
        version = version_field(p, "version")
        raw = p.get("percentage", 0 if version is None else None)
        if raw is None:
            raise BadRequest(
                "the mirrored percentage is missing: give a number from 0 to 100 (0 stops "
                "mirroring)",
                field="percentage",
            )
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise BadRequest(
                f"the mirrored percentage must be a number from 0 to 100; got {shown(raw)}",
                field="percentage",
            )
        if not 0 <= raw <= 100:
            raise BadRequest(
                f"the mirrored percentage must be from 0 to 100; got {shown(raw)}",
                field="percentage",
            )
        if raw > 0 and version is None:
            raise BadRequest("version is required to mirror traffic", field="version")
        return cls(version if raw > 0 else None, float(raw))


def _do_mirror(e: RouteEdit, a: MirrorTraffic) -> str:
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


# The planner's entry for each action defined here.
HANDLERS = {
    MirrorTraffic: _do_mirror,
}
