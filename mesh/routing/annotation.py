"""The last-change annotation meshdash puts on every object it writes (who, when, action, reason).

It lets the next reader, and a 409 message, say who changed an object last.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from mesh.routing.objects import Obj, meta_of

LAST_CHANGE_ANNOTATION = "meshdash.io/last-change"


def parse_last_change(obj: Mapping | None) -> Obj | None:
    raw = (meta_of(obj).get("annotations") or {}).get(LAST_CHANGE_ANNOTATION)
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def annotate(obj: Mapping, change: Mapping[str, Any]) -> Obj:
    """A copy of `obj` carrying the last change (who, when, action, reason) as an annotation."""
    out = copy.deepcopy(dict(obj))
    meta = out.setdefault("metadata", {})
    annotations = meta.get("annotations")
    annotations = dict(annotations) if isinstance(annotations, Mapping) else {}
    annotations[LAST_CHANGE_ANNOTATION] = json.dumps(
        dict(change), sort_keys=True, separators=(",", ":")
    )
    meta["annotations"] = annotations
    return out
