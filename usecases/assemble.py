"""Each use case built from the app's one Services object: the views and the rollout ticker ask
here, tests build the use cases from fakes instead.

A backend that is not configured is asked for only when the use case needs it, so a request
learns first what it would learn first without it (a bad field, no write access).
"""

from __future__ import annotations

from typing import Any

from access.security import authorize_write
from mesh.errors import BackendUnavailable, NotFound
from mesh.sources import CanarySource, RouteStore
from usecases.canary_verdict import CanaryVerdict
from usecases.guided_rollout import GuidedRollouts
from usecases.release_guard import ReleaseGuard
from usecases.release_write import ReleaseWrite
from wiring.services import Services


def route_store(services: Services) -> RouteStore:
    """The RouteStore, or NotFound saying how to configure one."""
    if services.routes is None:
        raise NotFound("routing is not configured: start meshdash with --kube to read Istio routes")
    return services.routes


def rollout_store(services: Services) -> Any:
    """The RolloutStore, or NotFound saying how to configure one."""
    if services.rollouts is None:
        raise NotFound("guided rollouts need routing: start meshdash with --kube (or --demo)")
    return services.rollouts


def canary_source(services: Services) -> CanarySource:
    """Services.canary when wired, else a telemetry source that also offers canary counts."""
    for candidate in (getattr(services, "canary", None), services.telemetry):
        if candidate is not None and isinstance(candidate, CanarySource):
            return candidate
    raise BackendUnavailable("canary", "no source of per-version counts is configured")


def canary_verdict(services: Services) -> CanaryVerdict:
    return CanaryVerdict(
        source=lambda: canary_source(services),
        routes=getattr(services, "routes", None),  # a Services without routing has none
        gates=services.settings.canary_gates,
    )


def release_write(services: Services) -> ReleaseWrite:
    return ReleaseWrite(
        routes=lambda: route_store(services),
        authorize=lambda identity: authorize_write(identity, services.settings),
        guard=ReleaseGuard(canary_verdict(services), services.clock),
        clock=services.clock,
        metrics=services.metrics,
    )


def guided_rollouts(services: Services) -> GuidedRollouts:
    return GuidedRollouts(
        rollouts=lambda: rollout_store(services),
        routes=lambda: route_store(services),
        release=release_write(services),
        verdict=canary_verdict(services),
        authorize=lambda identity: authorize_write(identity, services.settings),
        clock=services.clock,
        metrics=services.metrics,
    )
