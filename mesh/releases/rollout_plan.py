"""A guided rollout's plan and progress: what a person asked for, and how far the driver got.

Pure and frozen. The plan is validated whole before anything is read or written: a bad field is
a BadRequest naming it. Both round-trip through JSON, because they live in the cluster (a
ConfigMap beside the VirtualService) or the demo's store, never in a process.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from mesh import validate
from mesh.errors import BadRequest
from mesh.releases.audit import clean_reason

DEFAULT_STEPS = (10, 25, 50, 100)
DEFAULT_BAKE_S = 300
DEFAULT_MIN_REQUESTS = 100
DEFAULT_MAX_HOLD_S = 1800
ON_FAILURE = ("rollback", "pause")
STATES = ("running", "paused", "promoted", "rolled_back", "aborted")
FINISHED = ("promoted", "rolled_back", "aborted")
MAX_STEPS = 20
MAX_BAKE_S = 86_400


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    namespace: str
    service: str
    canary: str  # subset names, as the route names them
    baseline: str
    steps: tuple[int, ...]  # canary weight per step, increasing, the last one 100
    bake_s: int
    min_requests: int
    max_hold_s: int
    on_failure: str  # "rollback" | "pause"
    reason: str
    started_by: str
    started_at: float

    def weights(self, step: int) -> dict[str, int]:
        """The split a step sets: the canary's share, the rest on the baseline."""
        w = self.steps[step]
        return {self.baseline: 100 - w, self.canary: w}

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "service": self.service,
            "canary": self.canary,
            "baseline": self.baseline,
            "steps": list(self.steps),
            "bake_s": self.bake_s,
            "min_requests": self.min_requests,
            "max_hold_s": self.max_hold_s,
            "on_failure": self.on_failure,
            "reason": self.reason,
            "started_by": self.started_by,
            "started_at": self.started_at,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RolloutPlan:
        return cls(
            namespace=str(d["namespace"]),
            service=str(d["service"]),
            canary=str(d["canary"]),
            baseline=str(d["baseline"]),
            steps=tuple(int(s) for s in d["steps"]),
            bake_s=int(d["bake_s"]),
            min_requests=int(d["min_requests"]),
            max_hold_s=int(d["max_hold_s"]),
            on_failure=str(d["on_failure"]),
            reason=str(d.get("reason", "")),
            started_by=str(d.get("started_by", "")),
            started_at=float(d["started_at"]),
        )


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One thing the rollout did: the weights it left, and the verdict that justified it."""

    t: float
    weights: tuple[tuple[str, int], ...]
    verdict: str
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "weights": dict(self.weights),
            "verdict": self.verdict,
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> StepRecord:
        return cls(
            float(d["t"]),
            tuple((str(k), int(v)) for k, v in dict(d["weights"]).items()),
            str(d["verdict"]),
            tuple(str(r) for r in d.get("reasons", ())),
        )


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """A weight change the driver is about to make, stored before it is made: after a crash the
    next driver finds it and tells a write that landed (the route has these weights) from one
    that did not (the route still has resourceVersion `base`), so nothing is repeated or lost."""

    weights: tuple[tuple[str, int], ...]
    base: str
    state: str  # the rollout's state once written
    step: int
    record: StepRecord

    def to_json(self) -> dict[str, Any]:
        return {
            "weights": dict(self.weights),
            "base": self.base,
            "state": self.state,
            "step": self.step,
            "record": self.record.to_json(),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PendingWrite:
        return cls(
            tuple((str(k), int(v)) for k, v in dict(d["weights"]).items()),
            str(d["base"]),
            str(d["state"]),
            int(d["step"]),
            StepRecord.from_json(d["record"]),
        )


@dataclass(frozen=True, slots=True)
class Progress:
    state: str  # one of STATES
    step: int  # index into plan.steps of the weights in place; -1 before the first write
    step_started: float  # when that step's weights were written
    resource_version: str  # of the VirtualService the driver last wrote ("" before)
    hold_since: float | None = None  # first check of this step that said wait
    why: str = ""  # why paused or finished, in plain words
    history: tuple[StepRecord, ...] = ()
    pending: PendingWrite | None = None

    def with_record(self, record: StepRecord) -> Progress:
        return replace(self, history=(*self.history, record))

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "step": self.step,
            "step_started": self.step_started,
            "resource_version": self.resource_version,
            "hold_since": self.hold_since,
            "why": self.why,
            "history": [h.to_json() for h in self.history],
            "pending": None if self.pending is None else self.pending.to_json(),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Progress:
        hold = d.get("hold_since")
        return cls(
            state=str(d["state"]),
            step=int(d["step"]),
            step_started=float(d["step_started"]),
            resource_version=str(d.get("resource_version", "")),
            hold_since=None if hold is None else float(hold),
            why=str(d.get("why", "")),
            history=tuple(StepRecord.from_json(h) for h in d.get("history", ())),
            pending=PendingWrite.from_json(d["pending"]) if d.get("pending") else None,
        )


def start_progress(now: float) -> Progress:
    return Progress(state="running", step=-1, step_started=now, resource_version="")


def _whole(p: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = p.get(name, default)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise BadRequest(f"{name} must be a whole number; got {str(raw)[:40]!r}", field=name)
    if not low <= raw <= high:
        raise BadRequest(f"{name} must be between {low} and {high}; got {raw}", field=name)
    return raw


def _steps(raw: Any) -> tuple[int, ...]:
    if raw is None:
        return DEFAULT_STEPS
    if not isinstance(raw, list) or not raw or len(raw) > MAX_STEPS:
        raise BadRequest(
            f"steps must be a list of 1 to {MAX_STEPS} canary weights, e.g. [10, 25, 50, 100]",
            field="steps",
        )
    steps: list[int] = []
    for s in raw:
        if isinstance(s, bool) or not isinstance(s, int):
            raise BadRequest(f"steps must be whole numbers; got {str(s)[:20]!r}", field="steps")
        if not 1 <= s <= 100:
            raise BadRequest(f"each step must be between 1 and 100; got {s}", field="steps")
        if steps and s <= steps[-1]:
            raise BadRequest(f"steps must increase; {s} comes after {steps[-1]}", field="steps")
        steps.append(s)
    if steps[-1] != 100:
        raise BadRequest(
            f"the last step must be 100 (the canary takes all traffic); got {steps[-1]}",
            field="steps",
        )
    return tuple(steps)


def _version(p: Mapping[str, Any], name: str, known: Collection[str]) -> str:
    raw = p.get(name)
    if not isinstance(raw, str) or not raw:
        raise BadRequest(f"{name} (a version of the service, e.g. v2) is required", field=name)
    value = validate.label_value(raw, field=name)
    if value not in known:
        have = ", ".join(sorted(known)) or "none"
        raise BadRequest(f"{name} {value!r} is not a version of this service ({have})", field=name)
    return value


def parse_plan(
    payload: Any,
    *,
    namespace: str,
    service: str,
    versions: Collection[str],
    started_by: str,
    now: float,
) -> RolloutPlan:
    """The plan a request asks for, every field checked against the service's `versions`."""
    if not isinstance(payload, Mapping):
        raise BadRequest("the request body must be a JSON object")
    canary = _version(payload, "canary", versions)
    baseline = _version(payload, "baseline", versions)
    if canary == baseline:
        raise BadRequest("canary and baseline must be different versions", field="canary")
    steps = _steps(payload.get("steps"))
    bake_s = _whole(payload, "bake_s", DEFAULT_BAKE_S, 1, MAX_BAKE_S)
    min_requests = _whole(payload, "min_requests", DEFAULT_MIN_REQUESTS, 1, 10_000_000)
    max_hold_s = _whole(payload, "max_hold_s", DEFAULT_MAX_HOLD_S, 1, MAX_BAKE_S)
    on_failure = payload.get("on_failure", "rollback")
    if on_failure not in ON_FAILURE:
        raise BadRequest(
            f"on_failure must be rollback or pause; got {str(on_failure)[:20]!r}",
            field="on_failure",
        )
    return RolloutPlan(
        namespace=namespace,
        service=service,
        canary=canary,
        baseline=baseline,
        steps=steps,
        bake_s=bake_s,
        min_requests=min_requests,
        max_hold_s=max_hold_s,
        on_failure=str(on_failure),
        reason=clean_reason(payload.get("reason")),
        started_by=started_by,
        started_at=now,
    )
