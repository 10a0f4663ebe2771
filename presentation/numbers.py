"""Numbers as meshdash writes them on every page and in every report, so the same figure reads
the same everywhere. Anything that is not a finite number (missing, NaN, Inf) is a dash: a
figure that is not there is never shown as a zero.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "–"


def is_number(value: Any) -> bool:
    """A figure that can be shown: a finite int or float (a bool is not a figure)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bad(value: Any) -> bool:
    return not is_number(value)


def rps(value: float | None) -> str:
    if _bad(value):
        return MISSING
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
    """A fraction as a percentage; a share too small to show is "<0.1%", never "0.0%"."""
    if _bad(fraction):
        return MISSING
    if 0 < fraction < 10 ** -(digits + 2):
        return f"<{10**-digits:g}%"
    return f"{fraction * 100:.{digits}f}%"


def ms(value: float | None) -> str:
    if _bad(value):
        return MISSING
    if value < 10:
        return f"{value:.2f} ms"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s"


def bytes_per_s(value: float | None) -> str:
    if _bad(value):
        return MISSING
    for unit, size in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B/s"


def count(value: float | None) -> str:
    """A number of requests: whole, with thousands separated (increase() is fractional)."""
    return MISSING if _bad(value) else f"{round(value):,}"


def p_value(p: float | None) -> str:
    if _bad(p):
        return "p n/a"
    return "p<0.0001" if p < 1e-4 else f"p={p:.4f}"
