"""Validation of user input before it reaches the model or a backend.

Names follow Kubernetes rules, so a valid name can never carry PromQL or URL syntax.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A window parsed once: its shortest exact text ("10m", what answers and links show) and
    its whole seconds (what queries use), so no layer converts between the two again."""

    text: str
    seconds: int

    @classmethod
    def of(cls, seconds: int) -> TimeWindow:
        return cls(format_duration(seconds), seconds)


def window_seconds(seconds: int, field: str = "window") -> TimeWindow:
    """A window meshdash computes itself (a step's bake time so far), held to the same
    bounds as a request's."""
    if not 0 < seconds <= MAX_WINDOW_S:
        raise BadRequest(f"{field} '{seconds}s' must be between 1s and 7d", field=field)
    return TimeWindow.of(seconds)


def time_window(value: str, field: str = "window") -> TimeWindow:
    """A Prometheus-style duration as a TimeWindow; BadRequest naming `field` otherwise."""
    return TimeWindow.of(duration_seconds(value, field=field))


EARLIEST = 946684800  # 2000-01-01: no mesh telemetry is older
FUTURE_SLACK_S = 86400  # a clock a day ahead of meshdash's is plausible; more is a typo


def unix_seconds(value: str | float, field: str = "at") -> float:
    """A UNIX time in seconds as written: a finite number, not before 2000. How far ahead it
    may be depends on the clock, checked once by `not_future` where the clock is known."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{field} {value!r} is not a UNIX time in seconds", field=field) from None
    if not math.isfinite(t) or t < EARLIEST:
        raise BadRequest(f"{field} {value!r} is outside the range of plausible times", field=field)
    return t


def not_future(t: float, now: float, field: str = "at") -> float:
    """`t`, if it is at most a day after `now` (the service's clock)."""
    if t > now + FUTURE_SLACK_S:
        raise BadRequest(f"{field} {t!r} is outside the range of plausible times", field=field)
    return t


def at_or_now(t: float | None, now: float, field: str = "at") -> float:
    """The instant a request asks about: `t` checked against the real clock, or now."""
    return now if t is None else not_future(t, now, field)
