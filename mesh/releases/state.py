"""Where a release stands: the last weight change, the window the verdict may use, which pair of
versions is being released, and whether there is anything to judge at all.

Pure: takes the weight markers (mesh.releases.markers, from the audit log), the VirtualService as read
now, and the live split by version. The verdict follows the live split: evidence from before
the last weight change describes another split and is not counted for this one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mesh.releases.audit import iso_time
from mesh.releases.markers import WeightMarker
from mesh.routing.annotation import parse_last_change

OTHERS_GRACE_S = 5.0  # a managedFields time this close to meshdash's own change is that change
MIN_WINDOW_S = 1


@dataclass(frozen=True, slots=True)
class LastChange:
    """The newest change of the service's split at or before the analysis instant."""

    when: float
    action: str
    who: str
    source: str  # "audit", "annotation" (meshdash, not in this audit log), "virtualservice"
    after: tuple[tuple[str, int], ...] = ()  # the split it left, by version; () when unknown

    def json(self) -> dict[str, Any]:
        return {
            "when": self.when,
            "time": iso_time(self.when),
            "action": self.action,
            "who": self.who,
            "source": self.source,
        }


def _parse_time(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return None


def last_change(
    markers: Sequence[WeightMarker],
    virtual_service: Mapping[str, Any] | None,
    at: float,
    audited_ids: frozenset[str] = frozenset(),
) -> LastChange | None:
    """The newest weight change at or before `at`, from three places:

    - the audit log's weight markers (what changed, who, which action);
    - the VirtualService's `meshdash.io/last-change` annotation when its change is not in the
      audit log read here (another meshdash, a lost log): counted as a weight change, since it
      may have been one;
    - the VirtualService's managedFields times, for writes by others (kubectl, GitOps) after
      meshdash's own last change: any of them may have moved weight.
    """
    found: list[LastChange] = [
        LastChange(m.when, m.action, m.who, "audit", m.after) for m in markers if m.when <= at
    ]
    note = parse_last_change(virtual_service)
    own = _parse_time(note.get("when")) if note else None
    if note and own is not None and own <= at and str(note.get("change_id", "")) not in audited_ids:
        found.append(
            LastChange(own, str(note.get("action", "")), str(note.get("who", "")), "annotation")
        )
    meta = (virtual_service or {}).get("metadata") or {}
    for mf in meta.get("managedFields") or []:
        t = _parse_time(mf.get("time")) if isinstance(mf, Mapping) else None
        if t is None or t > at or (own is not None and t <= own + OTHERS_GRACE_S):
            continue
        found.append(LastChange(t, "edit", str(mf.get("manager", "")), "virtualservice"))
    return max(found, key=lambda c: c.when) if found else None


def window_since(at: float, window_s: int, change: LastChange | None) -> int:
    """The analysis window in whole seconds: the requested one, cut at the last weight change."""
    if change is None or change.when <= at - window_s:
        return window_s
    return max(int(at - change.when), MIN_WINDOW_S)


def release_pair(
    split: Mapping[str, int], markers: Sequence[WeightMarker]
) -> tuple[str | None, str | None]:
    """(baseline, canary) of the release in progress. The canary is the version the split is
    moving traffic to: among the versions with weight, the one the newest change raised (by
    the most); without such a change, the second busiest. The baseline is the busiest other
    version with weight. With one live version the canary is None: nothing is being released."""
    order = list(split)
    live = sorted((v for v, w in split.items() if w > 0), key=lambda v: (-split[v], order.index(v)))
    if len(live) < 2:
        return (live[0] if live else None), None
    canary = None
    for m in sorted(markers, key=lambda m: m.when, reverse=True):
        gains = {v: m.weight(v, after=True) - m.weight(v, after=False) for v in live}
        best = max(live, key=lambda v: gains[v])
        if gains[best] > 0:
            canary = best
            break
    canary = canary or live[1]
    baseline = next(v for v in live if v != canary)
    return baseline, canary


def _clock(t: float) -> str:
    return dt.datetime.fromtimestamp(t, tz=dt.UTC).strftime("%H:%M")


ACTION_WORDS = {"rollback": "rolled back", "take_over": "took over", "retire": "retired"}


def nothing_to_judge(
    split: Mapping[str, int], baseline: str, canary: str, change: LastChange | None
) -> str | None:
    """A sentence saying why no release is running for the pair, or None when there is one.

    The canary at 0 % is not being released (rolled back, retired, never started); at 100 %
    it has taken over. Either way no verdict applies and no action would change anything.
    """
    if not split:
        return None
    weight = split.get(canary, 0)
    if 0 < weight < 100:
        return None
    when = f" at {_clock(change.when)} UTC" if change else ""
    holder = [v for v, w in split.items() if w == 100]
    now = " / ".join(f"{v} {w} %" for v, w in split.items() if w > 0) or "no weights"
    if weight >= 100:
        return f"{canary} took over all traffic{when}; nothing to judge: the release is complete."
    action = change.action if change else ""
    if action == "rollback" and holder:
        return f"Rolled back to {holder[0]}{when}; nothing to judge: {canary} gets no traffic."
    if action == "retire":
        return f"A version was retired{when}; nothing to judge: {canary} gets no traffic ({now})."
    if action == "take_over" and holder:
        return f"{holder[0]} took over all traffic{when}; nothing to judge: {canary} gets none."
    return f"Nothing to judge: {canary} gets no traffic in the current split ({now})."
