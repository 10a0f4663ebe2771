"""Which guided rollout step an audited weight change was: stored on the audit entry as fields,
so charts and reports mark the step ("rollout step 2/3: v2 50%", started by whom) without
reading it back out of a free-text reason a person could also have typed.

Pure: built by the driver (usecases/guided_rollout.py), stored with the entry
(mesh/releases/audit.py), read by the markers (mesh/releases/markers.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BACK_TO_BASELINE = 0  # `step` of the write that put all traffic back on the baseline


@dataclass(frozen=True, slots=True)
class RolloutStep:
    """One write of a guided rollout: step `step` of `steps` (1-based; 0: back to baseline)."""

    step: int
    steps: int
    canary: str
    baseline: str
    started_by: str
    verdict: str  # the verdict that justified it ("started", "promote", "rollback", "skipped" ...)
    by: str = ""  # the person who made this step by hand (skip, abort), "" for the driver

    @property
    def title(self) -> str:
        """What the step was, in a few words: "rollout step 2/3" or "rollout rolled back"."""
        if self.step != BACK_TO_BASELINE:
            return f"rollout step {self.step}/{self.steps}"
        return "rollout aborted" if self.verdict == "aborted" else "rollout rolled back"

    def label(self, weights: Mapping[str, int]) -> str:
        """The chart's annotation: the step and the weight it gave the version it moves."""
        version = self.canary if self.step != BACK_TO_BASELINE else self.baseline
        return f"{self.title}: {version} {int(weights.get(version, 0))}%"

    @property
    def credit(self) -> str:
        """Who is behind it: the person who started the rollout, and who forced this step."""
        text = f"started by {self.started_by or 'someone'}"
        return f"{text}; this step by {self.by}" if self.by else text

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "steps": self.steps,
            "canary": self.canary,
            "baseline": self.baseline,
            "started_by": self.started_by,
            "verdict": self.verdict,
            "by": self.by,
        }

    @classmethod
    def from_json(cls, raw: Any) -> RolloutStep | None:
        """The stored fields; None for null; ValueError for anything else malformed."""
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise ValueError("rollout must be an object or null")
        numbers = {k: raw.get(k) for k in ("step", "steps")}
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in numbers.values()):
            raise ValueError("rollout step and steps must be whole numbers")
        text = {k: raw.get(k, "") for k in ("canary", "baseline", "started_by", "verdict", "by")}
        if not all(isinstance(v, str) for v in text.values()):
            raise ValueError("rollout fields must be text")
        step, steps = numbers["step"], numbers["steps"]
        if not (0 <= step <= steps and steps >= 1):
            raise ValueError("rollout step must be between 0 and steps")
        return cls(step=step, steps=steps, **text)
