"""Strict JSON for every collector.

Why strict JSON: Python's json module reads NaN, Infinity and 1e999 as floats, although JSON has
no such values and Go backends (Prometheus, Jaeger, the Kubernetes API) never send them. If one
arrives, something between us and the backend is broken; reading it as a number would put an
invented weight on a route or a NaN duration in a trace, so it is refused where it arrives.
"""

from __future__ import annotations

import json
import math
from typing import Any


class NotFiniteError(ValueError):
    """The JSON holds NaN, Infinity or a number too large for a float."""


def _no_constant(name: str) -> Any:
    raise NotFiniteError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotFiniteError(f"{text[:20]} overflows a float")
    return value


def loads_strict(raw: bytes | str) -> Any:
    """json.loads refusing NaN/Infinity/overflowing numbers (NotFiniteError, a ValueError),
    and nesting too deep for the parser (ValueError rather than a RecursionError, a 500)."""
    try:
        return json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
