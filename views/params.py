"""Reading request parameters the same way for the API (Flask args) and pages (URL query)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mesh import validate
from mesh.errors import BadRequest
from mesh.graph.find_hide import Expression, parse
from mesh.validate import TimeWindow

MAX_NAMESPACES = 100  # namespaces in one graph or list: one regex matcher, bounded


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


def namespace_of(args: Any, defaults: tuple[str, ...] = ()) -> str:
    """The one namespace= of a view (the first configured one when absent), validated."""
    value = get_one(args, "namespace") or (defaults[0] if defaults else None)
    if not value:
        raise BadRequest("namespace is required", field="namespace")
    return validate.namespace(value)


def service_of(args: Any) -> str:
    """The service= of a view, validated."""
    value = get_one(args, "service")
    if not value:
        raise BadRequest("service is required", field="service")
    return validate.service_name(value)


def namespaces_of(args: Any, defaults: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The namespace= list of the graph and the lists (the configured ones when absent):
    validated, each once, in the order given."""
    namespaces = get_list(args, "namespace") or list(defaults)
    if len(namespaces) > MAX_NAMESPACES:
        raise BadRequest(f"at most {MAX_NAMESPACES} namespaces at once", field="namespace")
    clean = tuple(dict.fromkeys(validate.namespace(ns) for ns in namespaces))
    if not clean:
        raise BadRequest("choose at least one namespace", field="namespace")
    return clean


# --- a time as a person types it on a page ---------------------------------------------------

_TYPED_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def typed_instant(value: str | None, now: float, field: str = "at") -> float | None:
    """A UTC time typed on a page ("2026-12-04 21:05", seconds optional, a "T" for the space
    allowed) or a UNIX time, as UNIX seconds checked against the service's clock; None
    for an empty box (now). Pages show the readable form and keep UNIX seconds in the URL."""
    text = (value or "").strip().removesuffix("Z").removesuffix(" UTC").strip()
    if not text:
        return None
    for fmt in _TYPED_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return validate.not_future(validate.unix_seconds(parsed.timestamp(), field), now, field)
    try:
        float(text)
    except ValueError:
        raise BadRequest(
            f"{field} {value!r} is not a time; write it as YYYY-MM-DD HH:MM[:SS] (UTC)",
            field=field,
        ) from None
    return validate.not_future(validate.unix_seconds(text, field), now, field)


def typed_text(at: float | str | None) -> str:
    """A UNIX time as the page's time box shows it (UTC, to the second); "" for now or junk."""
    if at is None or at == "":
        return ""
    try:
        return datetime.fromtimestamp(float(at), tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def expression_of(args: Any, key: str) -> Expression | None:
    """A find= or hide= expression of the graph (mesh/graph/find_hide.py), None when absent.
    Commas join conditions, so the raw value is read whole, not split as a list."""
    if hasattr(args, "getlist"):
        raw = args.getlist(key)
    else:
        value = args.get(key) if isinstance(args, Mapping) else None
        raw = value if isinstance(value, list | tuple) else ([] if value is None else [value])
    if len(raw) > 1:
        raise BadRequest(f"{key} was given more than once", field=key)
    if raw and not isinstance(raw[0], str):
        raise BadRequest(f"{key} must be text", field=key)
    return parse(raw[0], key) if raw and raw[0].strip() else None


_NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,300}")


def node_id_of(args: Any, key: str) -> str | None:
    """A graph node id (focus=): `ns/workload`, `cluster:ns/app/v1`, `namespace:ns`, `unknown`."""
    value = get_one(args, key)
    if value is None:
        return None
    if not _NODE_ID.fullmatch(value):
        raise BadRequest(f"{key} {value!r} is not a node of the graph", field=key)
    return value


def int_of(args: Any, key: str, default: int, low: int, high: int) -> int:
    """A bounded whole number (hops=)."""
    value = get_one(args, key)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadRequest(f"{key} must be a whole number from {low} to {high}", field=key)
    return int(value)
