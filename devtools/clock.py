"""A clock a test moves, for the demo (`build_services(settings, clock=...)`).

Why: the demo's traffic, traces, verdicts and guided rollouts all read their time from one
clock. A test that needs a 1m window lying wholly after a weight change, or a rollout's bake
periods to pass, moves this clock (or lets it run faster) instead of sleeping for real minutes.
It starts at the real time, so what the pages show still looks like now.
"""

from __future__ import annotations

import threading
import time


class MovableClock:
    """Epoch seconds: the real time since the start times `speed`, plus every `advance`."""

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive; got {speed}")
        self.speed = float(speed)
        self._origin = time.time() if start is None else float(start)
        self._real_origin = time.monotonic()
        self._offset = 0.0
        self._guard = threading.Lock()

    def __call__(self) -> float:
        elapsed = (time.monotonic() - self._real_origin) * self.speed
        return self._origin + elapsed + self._offset

    def advance(self, seconds: float) -> float:
        """Move the time forward (never back: the demo's history is written in order)."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward; got {seconds}")
        with self._guard:
            self._offset += float(seconds)
        return self()

    def advance_to(self, when: float) -> float:
        """Move the time forward to `when` if it is not there yet."""
        with self._guard:
            behind = when - self()
            if behind > 0:
                self._offset += behind
        return self()
