"""The shape of one audit record: who changed which routing object, when, why, from what to what.

Pure: the JSON Lines file (collectors/audit_log.py) and the demo's in-memory log both store
exactly `AuditEntry.to_json()`, so the page and /api/audit read one format.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mesh.errors import BadRequest


def iso_time(when: float) -> str:
    """UTC ISO 8601 with seconds, as people read it in the annotation and the log."""
    return dt.datetime.fromtimestamp(when, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One applied write. A change that wrote two objects gives two entries with one change_id."""

    when: float
    who: str
    action: str
    reason: str
    kind: str
    namespace: str
    name: str
    service: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    resource_version: str
    change_id: str
    summary: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "when": self.when,
            "time": iso_time(self.when),
            "who": self.who,
            "action": self.action,
            "reason": self.reason,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "service": self.service,
            "before": self.before,
            "after": self.after,
            "resource_version": self.resource_version,
            "change_id": self.change_id,
            "summary": self.summary,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AuditEntry:
        """Parse one stored line; a line that is not an entry raises ValueError."""
        if not isinstance(raw, Mapping):
            raise ValueError("an audit entry is a JSON object")
        when = raw.get("when")
        if isinstance(when, bool) or not isinstance(when, int | float) or not math.isfinite(when):
            raise ValueError("an audit entry needs a numeric `when`")
        text = {
            k: raw.get(k, "")
            for k in (
                "who",
                "action",
                "reason",
                "kind",
                "namespace",
                "name",
                "service",
                "resource_version",
                "change_id",
                "summary",
            )
        }
        if not all(isinstance(v, str) for v in text.values()):
            raise ValueError("audit entry fields must be text")
        before, after = raw.get("before"), raw.get("after")
        if not all(v is None or isinstance(v, dict) for v in (before, after)):
            raise ValueError("before/after must be objects or null")
        return cls(when=float(when), before=before, after=after, **text)

    def summary_json(self) -> dict[str, Any]:
        """The entry without the full objects: what a history list shows."""
        out = self.to_json()
        out.pop("before")
        out.pop("after")
        return out


def change_annotation(
    *, who: str, when: float, action: str, reason: str, change_id: str
) -> dict[str, str]:
    """The `meshdash.io/last-change` annotation's content."""
    return {
        "who": who,
        "when": iso_time(when),
        "action": action,
        "reason": reason,
        "change_id": change_id,
    }


MAX_REASON = 500


def clean_reason(value: Any) -> str:
    """A change reason: optional text, one line, bounded so the annotation stays small."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest("reason must be text", field="reason")
    value = " ".join(value.split())
    if len(value) > MAX_REASON:
        raise BadRequest(f"reason must be at most {MAX_REASON} characters", field="reason")
    return value
