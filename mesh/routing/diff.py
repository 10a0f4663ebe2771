"""The YAML diff a person reviews before a change is applied, and the 409 that shows what
someone else changed since the objects were read (nothing is ever overwritten silently).
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping, Sequence

import yaml

from mesh.errors import Conflict
from mesh.routing.annotation import LAST_CHANGE_ANNOTATION, parse_last_change
from mesh.routing.objects import Obj, Write, resource_version

# Metadata the API server manages: never part of a diff a person reads.
_SERVER_METADATA = (
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
)


def clean_for_diff(obj: Mapping | None, *, keep_annotation: bool = False) -> Obj | None:
    """The object as a person reviews it: without server-managed metadata and status."""
    if obj is None:
        return None
    out = copy.deepcopy(dict(obj))
    out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for key in _SERVER_METADATA:
            meta.pop(key, None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            if not keep_annotation:
                annotations.pop(LAST_CHANGE_ANNOTATION, None)
            annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
            if not annotations:
                meta.pop("annotations")
    return out


def to_yaml(obj: Mapping | None) -> str:
    if obj is None:
        return ""
    return yaml.safe_dump(
        obj, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000
    )


def yaml_diff(
    before: Mapping | None, after: Mapping | None, label: str, *, keep_annotation: bool = False
) -> str:
    """Unified diff of two objects' YAML; "" when they read the same."""
    a = to_yaml(clean_for_diff(before, keep_annotation=keep_annotation)).splitlines(keepends=True)
    b = to_yaml(clean_for_diff(after, keep_annotation=keep_annotation)).splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(
            a,
            b,
            fromfile=f"a/{label}" if before is not None else "/dev/null",
            tofile=f"b/{label}" if after is not None else "/dev/null",
        )
    )


def plan_diff(writes: Sequence[Write]) -> str:
    return "".join(yaml_diff(w.before, w.after, f"{w.kind}/{w.namespace}/{w.name}") for w in writes)


def conflict_error(write: Write, current: dict | None) -> Conflict:
    """A 409 for `write`: who changed the object (from its annotation), and the diff since read."""
    label = f"{write.kind}/{write.namespace}/{write.name}"
    old_rv = resource_version(write.before)
    if current is None:
        if write.before is None:
            message = f"{label} could not be created"
        else:
            message = f"{label} was deleted since it was read (resourceVersion {old_rv})"
    elif write.before is None:
        message = f"{label} was created by someone else meanwhile"
    else:
        message = (
            f"{label} changed since it was read (resourceVersion {old_rv} → "
            f"{resource_version(current)})"
        )
    change = parse_last_change(current)
    if (
        change
        and current is not None
        and write.before is not None
        and change != parse_last_change(write.before)
    ):
        message += f", last by {change.get('who', '?')} at {change.get('when', '?')} ({change.get('action', '?')})"
    message += "; nothing was overwritten: review the difference and try again"
    return Conflict(
        message,
        current=clean_for_diff(current, keep_annotation=True),
        diff=yaml_diff(write.before, current, label, keep_annotation=True),
    )
