"""Each use case built from the app's one Services object: the views and the rollout ticker ask
here, tests build the use cases from fakes instead.

A source that is not configured is asked for (Services.need: NotConfigured) only when the use
case needs it, so a request learns first what it would learn first without it (a bad field, no
write access).
"""

from __future__ import annotations

from access.security import authorize_write
from usecases.canary_verdict import CanaryVerdict
from usecases.guided_rollout import GuidedRollouts
from usecases.release_guard import ReleaseGuard
from usecases.release_write import ReleaseWrite
from wiring.services import CANARY, ROLLOUTS, ROUTES, Services


def canary_verdict(services: Services) -> CanaryVerdict:
    return CanaryVerdict(
        source=lambda: services.need(CANARY),
        routes=services.find(ROUTES),  # a Services without routing has none
        gates=services.settings.canary_gates,
    )


def release_write(services: Services) -> ReleaseWrite:
    return ReleaseWrite(
        routes=lambda: services.need(ROUTES),
        authorize=lambda identity: authorize_write(identity, services.settings),
        guard=ReleaseGuard(canary_verdict(services), services.clock),
        clock=services.clock,
        metrics=services.metrics,
    )


def guided_rollouts(services: Services) -> GuidedRollouts:
    return GuidedRollouts(
        rollouts=lambda: services.need(ROLLOUTS),
        routes=lambda: services.need(ROUTES),
        release=release_write(services),
        verdict=canary_verdict(services),
        authorize=lambda identity: authorize_write(identity, services.settings),
        clock=services.clock,
        metrics=services.metrics,
    )
