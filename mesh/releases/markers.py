"""Weight-change markers: when a service's traffic split changed, who changed it, from what to what.

Pure: reads audit entries (mesh.releases.audit.AuditEntry, the same records /api/audit lists) and
returns one marker per applied VirtualService write whose default-route weights differ before
and after. Charts draw them as vertical lines, so a step in a success-rate line can be read
against the shift that caused it; the release review also takes the canary's start from them.

Weights are keyed by subset name. Istio's Bookinfo and meshdash's own seeds name each subset
after its `version` label; where they differ, `subset_versions` (the DestinationRule's
subset -> version label map) translates them so markers speak in versions, as the charts do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mesh.releases.audit import AuditEntry, iso_time
from mesh.releases.rollout_step import RolloutStep
from mesh.routing.gateway_api import HTTP_ROUTE
from mesh.routing.objects import VIRTUAL_SERVICE
from mesh.routing.selection import ServiceRoutes
from mesh.routing.state import read_routes

Weights = tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class WeightMarker:
    """One applied weight change of one service."""

    when: float
    who: str
    action: str
    reason: str
    before: Weights  # (version, weight) in route order; () when there was no VirtualService
    after: Weights
    change_id: str = ""
    summary: str = ""
    rollout: RolloutStep | None = None  # the guided rollout step it was, versions as drawn

    def weight(self, version: str, *, after: bool = True) -> int:
        return dict(self.after if after else self.before).get(version, 0)

    @property
    def label(self) -> str:
        """The split after the change, as a chart annotation shows it: "v1 50 · v3 50"; a
        guided rollout's step says so: "rollout step 2/3: v2 50%"."""
        if self.rollout is not None:
            return self.rollout.label(dict(self.after))
        return " · ".join(f"{v} {w}" for v, w in self.after if w > 0) or "no weights"

    @property
    def description(self) -> str:
        """One line a reviewer reads in a hover or a report."""
        before = _split_text(self.before)
        line = f"{iso_time(self.when)} {self.who}: {before} → {_split_text(self.after)}"
        if self.rollout is not None:
            line += f" ({self.rollout.title}, {self.rollout.credit})"
        elif self.action:
            line += f" ({self.action})"
        if self.reason:
            line += f": {self.reason}"
        return line


def _split_text(weights: Weights) -> str:
    shown = [f"{v} {w}%" for v, w in weights if w > 0]
    return " / ".join(shown) if shown else "none"


def weights_of(
    virtual_service: Mapping[str, Any] | None,
    namespace: str,
    service: str,
    subset_versions: Mapping[str, str] | None = None,
    backends: Sequence[tuple[str, str]] = (),
) -> Weights:
    """The default route's weights (Istio's reading: a lone destination takes 100), by version.

    () when there is no VirtualService or it has no default route for the service. An HTTPRoute
    (its `kind` says so) reads by backend Service, which `backends` maps to versions.
    """
    if not isinstance(virtual_service, Mapping):
        return ()
    if virtual_service.get("kind") == HTTP_ROUTE:
        routes = ServiceRoutes(
            namespace, service, http_route=dict(virtual_service), backends=tuple(backends)
        )
    else:
        routes = ServiceRoutes(namespace, service, virtual_service=dict(virtual_service))
    state = read_routes(routes)
    names = subset_versions or {}
    out: dict[str, int] = {}
    for d in state.split:
        version = names.get(d.subset, d.subset) or service
        out[version] = out.get(version, 0) + d.weight
    return tuple(out.items())


def weight_markers(
    entries: Iterable[AuditEntry],
    namespace: str,
    service: str,
    *,
    start: float | None = None,
    end: float | None = None,
    subset_versions: Mapping[str, str] | None = None,
    backends: Sequence[tuple[str, str]] = (),
) -> tuple[WeightMarker, ...]:
    """Markers for the service's applied weight changes in [start, end], oldest first.

    Only VirtualService (or HTTPRoute) writes count, and only when the split differs before and after: a
    mirror, a header match or a traffic-policy change moves no weight and gets no marker.
    """
    keyed: list[tuple[tuple[float, int, int], WeightMarker]] = []
    for index, e in enumerate(entries):
        vs = e.object_of(VIRTUAL_SERVICE) or e.object_of(HTTP_ROUTE)
        if vs is None or e.namespace != namespace or e.service != service:
            continue
        if (start is not None and e.when < start) or (end is not None and e.when > end):
            continue
        before = weights_of(vs.before, namespace, service, subset_versions, backends)
        after = weights_of(vs.after, namespace, service, subset_versions, backends)
        if _nonzero(before) == _nonzero(after):
            continue
        step = e.rollout
        if step is not None and subset_versions:  # the plan names subsets; markers, versions
            step = replace(
                step,
                canary=subset_versions.get(step.canary, step.canary),
                baseline=subset_versions.get(step.baseline, step.baseline),
            )
        rv = int(vs.resource_version) if vs.resource_version.isdigit() else -1
        # Equal times (a skip right after a step): the object's resourceVersion, else the
        # history's own order (newest first), tells which change came first.
        keyed.append(
            (
                (e.when, rv, -index),
                WeightMarker(
                    when=e.when,
                    who=e.who,
                    action=e.action,
                    reason=e.reason,
                    before=before,
                    after=after,
                    change_id=e.change_id,
                    summary=e.summary,
                    rollout=step,
                ),
            )
        )
    keyed.sort(key=lambda pair: pair[0])
    return tuple(marker for _, marker in keyed)


def _nonzero(weights: Weights) -> dict[str, int]:
    return {v: w for v, w in weights if w > 0}


def canary_start(markers: Iterable[WeightMarker], canary: str) -> WeightMarker | None:
    """The change that started the current canary run.

    That is the newest change giving the canary weight from none (0 -> more). When the canary
    already had weight before every recorded change (a seeded 10%, say), it is the oldest change
    that raised its weight. None when no recorded change raised it.
    """
    ordered = sorted(markers, key=lambda m: m.when)
    started = [
        m
        for m in ordered
        if m.weight(canary, after=False) == 0 and m.weight(canary, after=True) > 0
    ]
    if started:
        return started[-1]
    raised = [m for m in ordered if m.weight(canary, after=True) > m.weight(canary, after=False)]
    return raised[0] if raised else None


def marker_json(m: WeightMarker) -> dict[str, Any]:
    return {
        "when": m.when,
        "time": iso_time(m.when),
        "who": m.who,
        "action": m.action,
        "reason": m.reason,
        "before": dict(m.before),
        "after": dict(m.after),
        "label": m.label,
        "description": m.description,
        "change_id": m.change_id,
        "summary": m.summary,
        "rollout": m.rollout.to_json() if m.rollout else None,
    }


def markers_json(markers: Iterable[WeightMarker]) -> list[dict[str, Any]]:
    return [marker_json(m) for m in markers]
