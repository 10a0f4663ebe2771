"""The gates' limits and the statistical settings of one service's canary analysis."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mesh.errors import BadRequest


@dataclass(frozen=True, slots=True)
class CanaryConfig:
    """Gates and test settings for one service. Defaults follow Flagger (success >= 99%,
    p99 <= 500 ms); the statistical margins are meshdash's own.

    max_error_increase: the canary is "shown no worse" on errors when the upper end of the 95%
        interval of (canary error rate - baseline error rate) is at most this (a fraction: 0.01
        is one percentage point).
    slower_effect: probability of superiority from which "slower" matters. 0.56 is Vargha and
        Delaney's "small" effect: a random canary request is slower than a random baseline
        request 56% of the time (ties counted half). Below it, even a significant difference
        is too small to hold a release for; with 10^5 requests almost any shift is significant.
    """

    min_requests: int = 100
    min_success_rate: float = 0.99
    max_p99_ms: float = 500.0
    alpha: float = 0.05
    max_error_increase: float = 0.01
    slower_effect: float = 0.56

    def __post_init__(self) -> None:
        checks = (
            ("min_requests", self.min_requests >= 1, "at least 1"),
            ("min_success_rate", 0.0 <= self.min_success_rate <= 1.0, "between 0 and 1"),
            ("max_p99_ms", 0.0 < self.max_p99_ms < math.inf, "a positive number of ms"),
            ("alpha", 0.0 < self.alpha < 0.5, "between 0 and 0.5"),
            ("max_error_increase", 0.0 <= self.max_error_increase <= 1.0, "between 0 and 1"),
            ("slower_effect", 0.5 < self.slower_effect < 1.0, "between 0.5 and 1"),
        )
        for name, ok, rule in checks:
            if not ok:
                raise BadRequest(f"{name} must be {rule}; got {getattr(self, name)!r}", field=name)

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, Any], base: CanaryConfig | None = None
    ) -> CanaryConfig:
        """Per-service overrides (from settings or query parameters) on top of `base`."""
        start = asdict(base or cls())
        unknown = sorted(set(values) - set(start))
        if unknown:
            raise BadRequest(f"unknown canary setting(s): {', '.join(unknown)}", field=unknown[0])
        merged: dict[str, Any] = dict(start)
        for name, raw in values.items():
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise BadRequest(f"{name} must be a number; got {raw!r}", field=name) from None
            if not math.isfinite(value):
                raise BadRequest(f"{name} must be a finite number; got {raw!r}", field=name)
            if name == "min_requests":
                if value != int(value):
                    raise BadRequest(f"min_requests must be whole; got {raw!r}", field=name)
                value = int(value)
            merged[name] = value
        return cls(**merged)
