"""The shape of one audit record: who changed which routing object, when, why, from what to what.

Pure: the JSON Lines file (collectors/audit_log.py) and the demo's in-memory log both store
exactly `AuditEntry.to_json()`, so the page and /api/audit read one format: one entry per user
action, listing every object it changed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mesh.errors import BadRequest
from mesh.releases.rollout_step import RolloutStep


def iso_time(when: float) -> str:
    """UTC ISO 8601 with seconds, as people read it in the annotation and the log."""
    return dt.datetime.fromtimestamp(when, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_TEXT_KEYS = ("who", "action", "reason", "namespace", "service", "change_id", "summary")


@dataclass(frozen=True, slots=True)
class AuditObject:
    """One routing object a change wrote: its state before and after, and its new version."""

    kind: str
    name: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    resource_version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "before": self.before,
            "after": self.after,
            "resource_version": self.resource_version,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AuditObject:
        if not isinstance(raw, Mapping):
            raise ValueError("an audit object is a JSON object")
        text = {k: raw.get(k, "") for k in ("kind", "name", "resource_version")}
        if not all(isinstance(v, str) for v in text.values()):
            raise ValueError("audit object fields must be text")
        before, after = raw.get("before"), raw.get("after")
        if not all(v is None or isinstance(v, dict) for v in (before, after)):
            raise ValueError("before/after must be objects or null")
        return cls(before=before, after=after, **text)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One user action: who did what to which service, when and why, with every object it
    wrote (a retire writes the VirtualService and the DestinationRule: one entry, two objects).

    `verdict` is the canary verdict at the moment of a take-over or step-up ({"verdict",
    "headline", "baseline", "canary"}), and `override` says the person went against it.
    `rollout` says which guided rollout step the change was (None for a person's own change).
    Lines written before this shape held one object each, with its fields at the top level;
    from_json still reads them, and merge_entries joins the lines of one change.
    """

    when: float
    who: str
    action: str
    reason: str
    namespace: str
    service: str
    change_id: str
    objects: tuple[AuditObject, ...] = ()
    summary: str = ""
    verdict: dict[str, Any] | None = None
    override: bool = False
    rollout: RolloutStep | None = None

    def object_of(self, kind: str) -> AuditObject | None:
        return next((o for o in self.objects if o.kind == kind), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "when": self.when,
            "time": iso_time(self.when),
            "who": self.who,
            "action": self.action,
            "reason": self.reason,
            "namespace": self.namespace,
            "service": self.service,
            "change_id": self.change_id,
            "summary": self.summary,
            "objects": [o.to_json() for o in self.objects],
            "verdict": self.verdict,
            "override": self.override,
            "rollout": self.rollout.to_json() if self.rollout else None,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AuditEntry:
        """Parse one stored line (either shape); a line that is not an entry raises ValueError."""
        if not isinstance(raw, Mapping):
            raise ValueError("an audit entry is a JSON object")
        when = raw.get("when")
        if isinstance(when, bool) or not isinstance(when, int | float) or not math.isfinite(when):
            raise ValueError("an audit entry needs a numeric `when`")
        text = {k: raw.get(k, "") for k in _TEXT_KEYS}
        if not all(isinstance(v, str) for v in text.values()):
            raise ValueError("audit entry fields must be text")
        if "objects" in raw:
            items = raw.get("objects")
            if not isinstance(items, list):
                raise ValueError("objects must be a list")
            objects = tuple(AuditObject.from_json(o) for o in items)
        else:  # a line of the one-object shape
            objects = (AuditObject.from_json(raw),)
        verdict = raw.get("verdict")
        if verdict is not None and not isinstance(verdict, dict):
            raise ValueError("verdict must be an object or null")
        override = raw.get("override", False)
        if not isinstance(override, bool):
            raise ValueError("override must be true or false")
        rollout = RolloutStep.from_json(raw.get("rollout"))
        return cls(
            when=float(when),
            objects=objects,
            verdict=verdict,
            override=override,
            rollout=rollout,
            **text,
        )

    def summary_json(self) -> dict[str, Any]:
        """The entry without the full objects: what a history list shows."""
        out = self.to_json()
        out["objects"] = [
            {"kind": o.kind, "name": o.name, "resource_version": o.resource_version}
            for o in self.objects
        ]
        return out


def merge_entries(entries: Iterable[AuditEntry]) -> list[AuditEntry]:
    """One entry per change: lines sharing a change_id (the old one-object shape wrote one per
    object) become one entry listing every object, in the order the entries came."""
    out: list[AuditEntry] = []
    index: dict[str, int] = {}
    for e in entries:
        key = e.change_id
        if key and key in index:
            first = out[index[key]]
            known = {(o.kind, o.name) for o in first.objects}
            extra = tuple(o for o in e.objects if (o.kind, o.name) not in known)
            out[index[key]] = replace(
                first,
                objects=(*first.objects, *extra),
                verdict=first.verdict or e.verdict,
                override=first.override or e.override,
            )
            continue
        if key:
            index[key] = len(out)
        out.append(e)
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


def in_write_order(entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """Oldest first, in the order the objects changed. Two replicas may append their records in
    the other order than their writes landed; among the entries that changed the same object,
    that object's resourceVersion (which the API server only raises) decides. Each object's
    entries keep the positions they hold; only which of them sits where changes."""
    out = list(entries)
    slots: dict[tuple[str, str, str], list[int]] = {}
    for i, e in enumerate(out):
        first = e.objects[0] if e.objects else None
        if first is not None and first.resource_version.isdigit():
            slots.setdefault((e.namespace, first.kind, first.name), []).append(i)
    for positions in slots.values():
        if len(positions) < 2:
            continue
        ordered = sorted(
            (out[i] for i in positions), key=lambda e: int(e.objects[0].resource_version)
        )
        for i, e in zip(positions, ordered, strict=True):
            out[i] = e
    return out
