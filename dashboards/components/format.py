"""Number formatting shared by every page, so the same figure reads the same everywhere."""

from __future__ import annotations

import math

HEALTH_COLORS: dict[str, str] = {
    "healthy": "#2e7d32",
    "degraded": "#e09b00",
    "failure": "#c62828",
    "idle": "#8a939c",
}
HEALTH_LABELS: dict[str, str] = {
    "healthy": "Healthy",
    "degraded": "Degraded",
    "failure": "Failure",
    "idle": "Idle",
}


def _bad(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def rps(value: float | None) -> str:
    if _bad(value):
        return "–"
    if value == 0:
        return "0 rps"
    if value < 0.01:
        return "<0.01 rps"
    if value < 10:
        return f"{value:.2f} rps"
    if value < 1000:
        return f"{value:.1f} rps"
    return f"{value / 1000:.1f}k rps"


def percent(fraction: float | None, digits: int = 1) -> str:
    if _bad(fraction):
        return "–"
    if 0 < fraction < 10 ** -(digits + 2):
        return f"<{10**-digits:g}%"
    return f"{fraction * 100:.{digits}f}%"


def ms(value: float | None) -> str:
    if _bad(value):
        return "–"
    if value < 10:
        return f"{value:.2f} ms"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s"


def bytes_per_s(value: float | None) -> str:
    if _bad(value):
        return "–"
    for unit, size in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B/s"
