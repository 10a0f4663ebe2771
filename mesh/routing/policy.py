"""Circuit breaking on the DestinationRule: connection pool limits and outlier detection.

Only the fields in POLICY_FIELDS are set or removed (a null value removes a field and every
container the removal leaves empty); the rest of the trafficPolicy stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mesh.errors import BadRequest
from mesh.routing.edit import RouteEdit
from mesh.routing.fields import MAX_INT32, int_field
from mesh.routing.objects import Obj

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
                    out.append((path, int_field(value, key, low, MAX_INT32)))
                elif kind == "percent":
                    out.append((path, int_field(value, key, 0, 100)))
                else:
                    out.append((path, _duration(value, key)))
        if not out:
            raise BadRequest(
                "give at least one connectionPool or outlierDetection field", field="policy"
            )
        return cls(tuple(out))


def _do_policy(e: RouteEdit, a: TrafficPolicy) -> str:
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


# The planner's entry for each action defined here.
HANDLERS = {
    TrafficPolicy: _do_policy,
}
