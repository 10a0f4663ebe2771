"""Validation of one field of an action's request body, shared by every action's parser.

Each helper raises BadRequest naming the field, so the API answers 400 with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh import validate
from mesh.errors import BadRequest

MAX_INT32 = 2**31 - 1


def str_field(payload: Mapping, key: str, *, required: bool = False) -> str | None:
    """A text field of the request body; None when absent or empty and not required."""
    value = payload.get(key)
    if value is None or value == "":
        if required:
            raise BadRequest(f"{key} is required", field=key)
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be text", field=key)
    return value


def version_field(payload: Mapping, key: str, *, required: bool = False) -> str | None:
    """A version name (a Kubernetes label value) from the request body."""
    value = str_field(payload, key, required=required)
    return None if value is None else validate.label_value(value, field=key)


def shown(value: Any) -> str:
    """A value given in a request, as a person reads it in a refusal (never Python's None)."""
    if value is None or value == "":
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return f"{value:g}"
    text = str(value)
    return repr(text[:40]) if isinstance(value, str) else f"a {type(value).__name__}"


def int_field(value: Any, key: str, lo: int, hi: int, *, field: str | None = None) -> int:
    """A whole number between lo and hi; a float such as 10.0 is accepted as 10.

    The refusal names what was given and what is accepted: "weight of v1 must be a whole
    number from 0 to 100; got -10" (`field` names the request field when `key` is a phrase).
    """
    rule = f"a whole number from {lo} to {hi}"
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise BadRequest(f"{key} must be {rule}; got {shown(value)}", field=field or key)
    if not lo <= value <= hi:
        raise BadRequest(f"{key} must be {rule}; got {value}", field=field or key)
    return value
