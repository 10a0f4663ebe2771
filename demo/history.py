"""The demo's past: a few weeks' worth of release work on Bookinfo's reviews, compressed into the
last hours, by several people. A real mesh has a history; a demo whose audit trail is empty, or
lists only "demo-user", looks like nothing ever happened in it.

`seed_history` writes that story into both places a real cluster would hold it: the traffic
state's split timeline (so the charts show the old splits) and the audit trail (so the markers,
the releases page and the review say who changed what, and why). The story ends at the spec's
default split, so the mesh now is exactly the spec's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from demo.routes import DemoRouteStore, seed_objects
from demo.state import TrafficState
from mesh.errors import NotFound
from mesh.releases.audit import AuditEntry, AuditObject

NAMESPACE, SERVICE = "bookinfo", "reviews"


@dataclass(frozen=True, slots=True)
class Step:
    """One past weight change: how long before now, by whom, to what split and why."""

    ago_s: float
    who: str
    weights: Mapping[str, int]
    reason: str


# Before the first step reviews was v1 alone. Three people, one of them rolling a step back.
# v2 is the newest version to get traffic, so it is the canary now, as in the spec.
STORY: tuple[Step, ...] = (
    Step(6 * 3600, "maria.garcia", {"v1": 90, "v3": 10}, "Canary v3 (red stars) at 10%"),
    Step(5 * 3600, "maria.garcia", {"v1": 50, "v3": 50}, "v3 clean for an hour: half"),
    Step(
        5 * 3600 - 600,
        "sre.lee",
        {"v1": 90, "v3": 10},
        "p99 rose at half: back to 10% while we look (INC-2231)",
    ),
    Step(3 * 3600, "j.okafor", {"v1": 80, "v2": 10, "v3": 10}, "Start v2 (black stars) at 10% too"),
)
FIRST: Mapping[str, int] = {"v1": 100}


def _summary(before: Mapping[str, int], after: Mapping[str, int]) -> str:
    """As mesh.routing.plan.summarize words a set_weights change."""
    moved = [
        f"{v} {before.get(v, 0)}%→{after.get(v, 0)}%"
        for v in dict.fromkeys([*before, *after])
        if before.get(v, 0) != after.get(v, 0)
    ]
    return f"{SERVICE} set weights: " + ", ".join(moved)


def story_entries(
    now: float, versions: Sequence[str], story: Sequence[Step] = STORY
) -> list[AuditEntry]:
    """The story's audit entries, oldest first, each with the VirtualService before and after."""
    out = []
    before = dict(FIRST)
    for k, step in enumerate(story, start=1):
        after = dict(step.weights)
        vs_before, _dr = seed_objects(NAMESPACE, SERVICE, versions, before)
        vs_after, _dr = seed_objects(NAMESPACE, SERVICE, versions, after)
        out.append(
            AuditEntry(
                when=now - step.ago_s,
                who=step.who,
                action="set_weights",
                reason=step.reason,
                namespace=NAMESPACE,
                service=SERVICE,
                change_id=f"demo-history-{k}",
                summary=_summary(before, after),
                objects=(AuditObject("VirtualService", SERVICE, vs_before, vs_after, ""),),
            )
        )
        before = after
    return out


def seed_history(
    state: TrafficState, store: DemoRouteStore, now: float, story: Sequence[Step] = STORY
) -> list[AuditEntry]:
    """Write the story into the split timeline and the audit trail; a mesh whose reviews is not
    routed by a VirtualService with the story's versions (ambient mode, another spec) is left
    as it is, and nothing is returned."""
    versions = tuple(state.spec.versions(NAMESPACE, SERVICE))
    wanted = {v for step in story for v in step.weights} | set(FIRST)
    if not wanted <= set(versions) or not story:
        return []
    try:
        routes = store.get_service(NAMESPACE, SERVICE)
    except NotFound:  # no such service in this spec: nothing to tell
        return []
    if routes.virtual_service is None:
        return []
    final = {v: w for v, w in story[-1].weights.items() if w}
    if final != {v: w for v, w in state.split_at(NAMESPACE, SERVICE, now).items() if w}:
        return []  # the story must end where the mesh is now
    entries = story_entries(now, versions, story)
    state.set_split(NAMESPACE, SERVICE, FIRST, at=now - story[0].ago_s - 86400.0)
    for step in story:
        state.set_split(NAMESPACE, SERVICE, step.weights, at=now - step.ago_s)
    store.record(entries)
    return entries
