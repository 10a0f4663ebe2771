"""Reading request parameters the same way for the API (Flask args) and pages (URL query)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh import validate
from mesh.errors import BadRequest
from mesh.validate import TimeWindow


def get_list(args: Any, key: str) -> list[str]:
    """All values of a repeated key; also accepts comma-separated values ("a,b")."""
    if hasattr(args, "getlist"):
        raw = args.getlist(key)
    else:
        value = args.get(key) if isinstance(args, Mapping) else None
        raw = value if isinstance(value, list | tuple) else ([] if value is None else [value])
    out: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise BadRequest(f"{key} must be text", field=key)
        out.extend(part.strip() for part in item.split(",") if part.strip())
    return out


def get_one(args: Any, key: str, default: str | None = None) -> str | None:
    values = get_list(args, key)
    if not values:
        return default
    if len(values) > 1:
        raise BadRequest(f"{key} was given more than once", field=key)
    return values[0]


def choice(args: Any, key: str, allowed: tuple[str, ...], default: str) -> str:
    value = get_one(args, key, default)
    if value not in allowed:
        raise BadRequest(f"{key} must be one of {', '.join(allowed)}; got {value!r}", field=key)
    return value


def window_of(args: Any, default: str, key: str = "window") -> TimeWindow:
    """The window of every view (window=, the trace search's lookback=), parsed once."""
    return validate.time_window(get_one(args, key, default) or default, field=key)


def instant_of(args: Any, key: str = "at") -> float | None:
    """A time parameter (at=, before=, end=) as UNIX seconds, None when absent. Its distance
    from now is checked once, against the service's clock, by validate.at_or_now."""
    raw = get_one(args, key)
    return None if not raw else validate.unix_seconds(raw, field=key)
