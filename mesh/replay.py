"""Replay: the instants a time range is stepped through, and moving along them.

Pure, so the topology's replay control and its tests agree on where a step lands: a range
(start, end] in whole seconds and a step size give the instants, the last one the end itself,
at most MAX_STEPS of them so a click never asks for hundreds of graphs.
"""

from __future__ import annotations

from dataclasses import dataclass

from mesh import validate
from mesh.errors import BadRequest

MAX_STEPS = 240
# The step sizes offered; any duration from MIN_STEP_S up is accepted from a URL.
STEP_CHOICES: tuple[str, ...] = ("10s", "30s", "1m", "5m", "15m", "1h")
MIN_STEP_S = 10
# Seconds each step stays on screen while playing.
SPEEDS: dict[str, float] = {"slow": 4.0, "normal": 2.0, "fast": 1.0}


@dataclass(frozen=True, slots=True)
class Replay:
    """A range to step through: every `step_s` from `start` (exclusive) up to `end`."""

    start: int
    end: int
    step_s: int

    @property
    def instants(self) -> tuple[int, ...]:
        """The instants shown, oldest first; the last is `end` even when the step does not
        divide the range (the first then covers less than a step)."""
        count = -(-(self.end - self.start) // self.step_s)  # ceil
        return tuple(self.end - k * self.step_s for k in range(count - 1, -1, -1))


def plan(start: float, end: float, step: str, now: float) -> Replay:
    """A replay from typed bounds, each checked: BadRequest names the field at fault."""
    step_s = validate.duration_seconds(step, field="replay_step")
    if step_s < MIN_STEP_S:
        raise BadRequest(f"replay_step must be at least {MIN_STEP_S}s", field="replay_step")
    first = int(
        validate.not_future(validate.unix_seconds(start, "replay_from"), now, "replay_from")
    )
    last = int(validate.not_future(validate.unix_seconds(end, "replay_to"), now, "replay_to"))
    if first >= last:
        raise BadRequest("the replay must start before it ends", field="replay_from")
    replay = Replay(first, last, step_s)
    if len(replay.instants) > MAX_STEPS:
        raise BadRequest(
            f"{len(replay.instants)} steps: at most {MAX_STEPS}; choose a larger step or a "
            "shorter range",
            field="replay_step",
        )
    return replay


def index_of(instants: tuple[int, ...], at: float | None) -> int:
    """The step showing `at`: the last instant at or before it (the first when earlier, the
    last when `at` is None, i.e. now or past the end)."""
    if at is None:
        return len(instants) - 1
    before = [i for i, t in enumerate(instants) if t <= at]
    return before[-1] if before else 0


def moved(instants: tuple[int, ...], index: int, delta: int) -> int:
    """`index` moved by `delta`, held inside the range."""
    return min(max(index + delta, 0), len(instants) - 1)
