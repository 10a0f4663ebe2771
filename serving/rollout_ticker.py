"""The background driver of guided rollouts: one daemon thread per app process.

Every `rollout_tick_s` it offers each running rollout one step (the use case's
GuidedRollouts.tick_all, usecases/guided_rollout.py); the rollout's lease decides which process
actually drives it, so any number of workers and replicas may run this thread. Started only where writes are enabled and routing is configured.
"""

from __future__ import annotations

import logging

from ops.background import BackgroundLoop
from usecases.assemble import guided_rollouts
from usecases.guided_rollout import holder_id
from wiring.services import Services

log = logging.getLogger("meshdash.rollouts")


def start_rollout_driver(services: Services) -> BackgroundLoop | None:
    """Start the loop, or None when this process must not drive rollouts."""
    every = services.settings.rollout_tick_s
    if not services.settings.writes_allowed or services.rollouts is None or every <= 0:
        return None

    driver = guided_rollouts(services)

    def tick() -> bool:
        driver.tick_all(holder_id())
        return False  # runs until the process ends

    return BackgroundLoop("meshdash-rollouts", tick, lambda _round: every, log=log).start()
