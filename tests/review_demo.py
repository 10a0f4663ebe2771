"""A demo Services object for review tests: a clock the test moves, traces in process, and a
reviews split of the test's choosing (the shipped demo starts at v1 80 / v2 10 / v3 10).

With v3 at 0% from the start, giving it weight is a canary start in the audit log, and the
graph diff shows reviews-v3 -> ratings-v1 appear: the story issue 6 asks for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from access.security import Identity
from demo.bookinfo import bookinfo_spec
from demo.canary_source import DemoCanarySource
from demo.mesh import DemoMesh
from demo.routes import DemoRouteStore
from demo.series_source import DemoSeriesSource
from demo.trace_source import DemoTraceStore
from views.routes import change_route
from wiring.services import Services
from wiring.settings import Settings

WITHOUT_V3: dict[str, int] = {"v1": 90, "v2": 10, "v3": 0}


class Clock:
    """A settable clock: tests put `now` where the story needs it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def demo_services(
    *,
    clock: Callable[[], float] = time.time,
    reviews_split: Mapping[str, int] | None = None,
    settings: Settings | None = None,
) -> Services:
    """build_services' demo wiring, with the traces read in process (no HTTP server)."""
    sim = DemoMesh(bookinfo_spec(reviews_split=reviews_split), clock=clock)
    DemoRouteStore.attach(sim)
    sim.traces = DemoTraceStore(sim.spec, sim.state, seed=sim.model.seed, clock=clock)
    return Services(
        settings=settings or Settings(),
        telemetry=sim.telemetry,
        traces=sim.traces,
        routes=sim.routes,
        demo=sim,
        series=DemoSeriesSource(sim.model),
        canary=DemoCanarySource(sim.model),
        clock=clock,
    )


def shift(services: Services, weights: Mapping[str, int], reason: str = "") -> dict:
    """Apply a weight change as a person on the releases page would (audited)."""
    payload = {"action": "set_weights", "weights": dict(weights), "dry_run": False}
    if reason:
        payload["reason"] = reason
    return change_route(services, "bookinfo", "reviews", payload, Identity("alice", source="demo"))
