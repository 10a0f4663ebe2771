"""The guided rollout's driver as one pure step: (plan, progress, evidence, now) -> what to do.

Rules, first match wins:
1. A rollout that is not running does nothing.
2. The route's resourceVersion is not the one the driver last wrote: someone else changed the
   weights; pause and say so (a person decides, the driver never overwrites them).
3. Before the first write: set the first step's weights.
4. The step has not baked yet: wait until it has.
5. The verdict for the time since the step's weight change:
   - promote or continue: the next step's weights (the last step done means promoted);
   - rollback: roll back or pause, as the plan says;
   - hold, too little traffic, or no verdict at all: wait, and pause once that has lasted
     longer than the plan's max_hold_s (missing evidence never promotes).
The caller applies the action through the same safe write path as the buttons and stores the
new progress; this module writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from mesh.releases.rollout_plan import Progress, RolloutPlan

ADVANCE = ("promote", "continue")


@dataclass(frozen=True, slots=True)
class Evidence:
    """The verdict on the canary since the step began; verdict "unavailable" when none."""

    verdict: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SetStep:
    step: int  # the index of plan.steps to write
    why: str


@dataclass(frozen=True, slots=True)
class Wait:
    until: float
    why: str


@dataclass(frozen=True, slots=True)
class Pause:
    why: str


@dataclass(frozen=True, slots=True)
class RollBack:
    why: str


@dataclass(frozen=True, slots=True)
class Idle:
    """Nothing to do: the rollout is paused or finished."""


Decision = SetStep | Wait | Pause | RollBack | Idle


def needs_evidence(plan: RolloutPlan, progress: Progress, now: float) -> bool:
    """Whether decide() will look at the verdict (so callers query Prometheus only then)."""
    return (
        progress.state == "running"
        and progress.step >= 0
        and now >= progress.step_started + plan.bake_s
    )


def decide(
    plan: RolloutPlan,
    progress: Progress,
    evidence: Evidence | None,
    now: float,
    current_rv: str,
) -> Decision:
    """The next action; see the module docstring for the rules."""
    if progress.state != "running":
        return Idle()
    if progress.resource_version and current_rv != progress.resource_version:
        return Pause(
            f"the route was changed by someone else (resourceVersion {current_rv or 'deleted'}, "
            f"the rollout last wrote {progress.resource_version}); paused so a person decides"
        )
    if progress.step < 0:
        return SetStep(0, "rollout started")
    baked = progress.step_started + plan.bake_s
    if now < baked:
        return Wait(baked, f"step {progress.step + 1} bakes until its check")
    verdict = evidence.verdict if evidence is not None else "unavailable"
    if verdict in ADVANCE:
        if progress.step + 1 >= len(plan.steps):
            return Idle()
        return SetStep(progress.step + 1, f"verdict {verdict}")
    if verdict == "rollback":
        if plan.on_failure == "rollback":
            return RollBack("the verdict is rollback")
        return Pause("the verdict is rollback; the plan says pause for a person")
    since = progress.hold_since if progress.hold_since is not None else now
    if now - since >= plan.max_hold_s:
        return Pause(
            f"the verdict stayed {verdict.replace('_', ' ')} for {int(now - since)} s, longer "
            f"than the plan's {plan.max_hold_s} s"
        )
    return Wait(now, f"verdict {verdict.replace('_', ' ')}: waiting for better evidence")
