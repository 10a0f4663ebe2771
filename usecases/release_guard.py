"""Promotion against the evidence is explicit: a take-over or step-up while the canary's verdict
is hold or rollback is refused (409 with the verdict) unless the request says `override: true`
and gives a reason; the audit entry records the verdict at that moment and the override.

The pair judged is read from the plan itself: the version gaining the most weight is the canary,
the busiest other version before the change the baseline. A verdict that cannot be computed
(no metrics source, a failing Prometheus) does not block the write; it is recorded as such.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mesh.canary.verdict_text import headline, sentences
from mesh.errors import BadRequest, Conflict, MeshdashError
from mesh.routing.plan import Plan
from mesh.routing.selection import ServiceRoutes
from mesh.validate import TimeWindow
from usecases.canary_verdict import CanaryVerdict, question
from usecases.release_context import subset_versions

WINDOW = TimeWindow("10m", 600)  # the verdict the review shows by default (views.canary)
GUARDED = ("take_over", "step_canary", "blue_green")  # exact weights and 50/50 are set points
AGAINST = ("hold", "rollback")


class AgainstVerdict(Conflict):
    """409: the write would promote a canary the evidence says to hold or roll back."""

    def __init__(self, message: str, verdict: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.verdict = dict(verdict)


@dataclass(frozen=True, slots=True)
class Guard:
    verdict: dict[str, Any] | None  # {"verdict", "headline", "reasons", "baseline", "canary"}
    needs_override: bool


def _by_version(split: Any, names: Mapping[str, str], service: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in split:
        v = names.get(d.subset, d.subset) or service
        out[v] = out.get(v, 0) + d.weight
    return out


def promoted_pair(plan: Plan, routes: ServiceRoutes) -> tuple[str, str] | None:
    """(baseline, canary) when the plan moves weight toward a canary, else None."""
    if plan.action not in GUARDED or not plan.writes:
        return None
    names = subset_versions(routes)
    before = _by_version(plan.split_before, names, routes.service)
    after = _by_version(plan.split_after, names, routes.service)
    gains = {v: after.get(v, 0) - before.get(v, 0) for v in after}
    if not gains or max(gains.values()) <= 0:
        return None
    canary = max(gains, key=lambda v: gains[v])
    others = [v for v, w in before.items() if v != canary and w > 0]
    if not others:
        return None
    return max(others, key=lambda v: before[v]), canary


@dataclass(frozen=True)
class ReleaseGuard:
    """The verdict a write is checked against, now."""

    verdict: CanaryVerdict
    clock: Callable[[], float]

    def __call__(self, routes: ServiceRoutes, plan: Plan) -> Guard:
        """The verdict on the version this plan promotes, and whether the write needs an
        override."""
        pair = promoted_pair(plan, routes)
        if pair is None:
            return Guard(None, False)
        baseline, canary = pair
        try:
            params = question(routes.namespace, routes.service, baseline, canary, WINDOW)
            a = self.verdict.judge(params, self.clock()).analysis
        except MeshdashError as exc:
            text = str(getattr(exc, "message", None) or exc)
            why = f"no verdict could be computed: {text}"
            return Guard(
                {
                    "verdict": "unavailable",
                    "headline": why,
                    "reasons": [why],
                    "baseline": baseline,
                    "canary": canary,
                },
                False,
            )
        verdict = {
            "verdict": a.verdict.value,
            "headline": headline(a),
            "reasons": list(sentences(a)),
            "baseline": baseline,
            "canary": canary,
        }
        return Guard(verdict, a.verdict.value in AGAINST)


def enforce(guard: Guard, override: bool, reason: str) -> None:
    """Refuse a write against a hold/rollback verdict without an explicit, reasoned override."""
    if not guard.needs_override or guard.verdict is None:
        return
    v = guard.verdict
    if not override:
        raise AgainstVerdict(
            f"The verdict on {v['canary']} is {v['verdict'].replace('_', ' ')} "
            f"({v['headline']}). Nothing was written: to go ahead anyway, send override: true "
            "with a reason.",
            v,
        )
    if not reason:
        raise BadRequest(
            f"Overriding the {v['verdict']} verdict on {v['canary']} needs a reason, recorded in "
            "the audit log; none was given.",
            field="reason",
        )
