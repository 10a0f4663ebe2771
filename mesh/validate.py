"""Validation of user input before it reaches the model or a backend.

Names follow Kubernetes rules, so a valid name can never carry PromQL or URL syntax.
"""

from __future__ import annotations

import math
import re

from mesh.errors import BadRequest

# DNS-1123 label: namespaces and service names.
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# DNS-1123 subdomain: workload (Deployment) names may contain dots.
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
# Label value: versions (canonical revisions) such as "v1", "1.2.3", "latest".
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

WINDOWS: tuple[str, ...] = ("1m", "5m", "10m", "30m", "1h", "3h", "6h", "12h", "1d")
_DURATION = re.compile(r"^(\d{1,6})(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_WINDOW_S = 7 * 86400


def cluster(value: str, field: str = "cluster") -> str:
    """An Istio cluster id (its `source_cluster` / `destination_cluster` label): a label value
    of at most 63 characters, so it can carry neither PromQL nor URL syntax, nor a colon (the
    graph puts one between the cluster and the rest of a node id)."""
    if not isinstance(value, str) or not 0 < len(value) <= 63 or not _LABEL_VALUE.fullmatch(value):
        raise BadRequest(f"{field} {value!r} is not a valid cluster name", field=field)
    if value == "unknown":
        raise BadRequest(f"{field} 'unknown' means no cluster; name a real one", field=field)
    return value


def namespace(value: str, field: str = "namespace") -> str:
    if not isinstance(value, str) or len(value) > 63 or not _DNS1123_LABEL.fullmatch(value):
        raise BadRequest(f"{field} {value!r} is not a valid Kubernetes namespace name", field=field)
    return value


def service_name(value: str, field: str = "service") -> str:
    if not isinstance(value, str) or len(value) > 63 or not _DNS1123_LABEL.fullmatch(value):
        raise BadRequest(f"{field} {value!r} is not a valid Kubernetes service name", field=field)
    return value


def workload_name(value: str, field: str = "workload") -> str:
    if not isinstance(value, str) or len(value) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(value):
        raise BadRequest(f"{field} {value!r} is not a valid Kubernetes workload name", field=field)
    return value


def label_value(value: str, field: str = "version") -> str:
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        raise BadRequest(f"{field} {value!r} is not a valid Kubernetes label value", field=field)
    return value


def duration_seconds(value: str, field: str = "window") -> int:
    """Parse a Prometheus-style duration ("30s", "5m", "1h", "1d") into whole seconds."""
    m = _DURATION.fullmatch(value or "") if isinstance(value, str) else None
    if not m:
        raise BadRequest(
            f"{field} {value!r} is not a duration such as 30s, 5m, 1h or 1d", field=field
        )
    seconds = int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if seconds <= 0 or seconds > MAX_WINDOW_S:
        raise BadRequest(f"{field} {value!r} must be between 1s and 7d", field=field)
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest exact Prometheus duration for a whole number of seconds."""
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def unix_time(value: str | float | None, now: float, field: str = "at") -> float:
    """A UNIX time in seconds; None or "" means now. Refuses the far future and before 2000."""
    if value is None or value == "":
        return now
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{field} {value!r} is not a UNIX time in seconds", field=field) from None
    if not math.isfinite(t) or t < 946684800 or t > now + 86400:
        raise BadRequest(f"{field} {value!r} is outside the range of plausible times", field=field)
    return t
