"""Guided rollouts: one code path for /api/rollouts and the releases page.

Here the request is parsed and the answer shaped; starting, steering and driving a rollout is
the use case usecases/guided_rollout.py (the background ticker calls it directly).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from access.security import Identity
from mesh import validate
from mesh.errors import BadRequest
from mesh.releases.rollout_plan import Progress, RolloutPlan
from usecases import assemble
from wiring.services import ROLLOUTS, Services

COMMANDS = ("pause", "resume", "abort", "skip")


def _names(namespace: str, service: str) -> tuple[str, str]:
    return validate.namespace(namespace), validate.service_name(service)


def rollout_json(plan: RolloutPlan, progress: Progress, now: float) -> dict[str, Any]:
    """What the page and GET /api/rollouts/NS/SVC show."""
    step = progress.step
    # The weights the rollout last wrote (after a rollback: the baseline's 100 %).
    weights = dict(progress.history[-1].weights) if progress.history else {}
    next_check = progress.step_started + plan.bake_s if progress.state == "running" else None
    return {
        **plan.to_json(),
        "state": progress.state,
        "step": step + 1,  # 1-based for people; 0 before the first write
        "steps_total": len(plan.steps),
        "weights": weights,
        "why": progress.why,
        "next_check": next_check if step >= 0 else None,
        "time_left_s": max(0, int(next_check - now)) if next_check and step >= 0 else None,
        "holding_since": progress.hold_since,
        "history": [h.to_json() for h in progress.history],
    }


def start_rollout(
    services: Services, namespace: str, service: str, payload: Any, identity: Identity | None
) -> dict[str, Any]:
    """Start a rollout; the answer shows its first step (or why it failed)."""
    namespace, service = _names(namespace, service)
    assemble.guided_rollouts(services).start(namespace, service, payload, identity)
    return rollout_detail(services, namespace, service)


def rollout_detail(services: Services, namespace: str, service: str) -> dict[str, Any]:
    namespace, service = _names(namespace, service)
    found = assemble.guided_rollouts(services).load(namespace, service)
    return rollout_json(found.plan, found.progress, services.clock())


def rollouts_list(services: Services, namespace: str) -> dict[str, Any]:
    namespace = validate.namespace(namespace)
    now = services.clock()
    return {
        "namespace": namespace,
        "rollouts": [
            rollout_json(s.plan, s.progress, now) for s in services.need(ROLLOUTS).list(namespace)
        ],
    }


def parse_command(command: str) -> str:
    if command not in COMMANDS:
        raise BadRequest(f"command must be one of {', '.join(COMMANDS)}", field="command")
    return command


def control(
    services: Services,
    namespace: str,
    service: str,
    command: str,
    payload: Mapping[str, Any] | None,
    identity: Identity | None,
) -> dict[str, Any]:
    """A person's pause, resume, skip or abort ({"rollback": true} puts all traffic back on the
    baseline)."""
    namespace, service = _names(namespace, service)
    command = parse_command(command)
    payload = payload or {}
    rollback = payload.get("rollback", False)
    if not isinstance(rollback, bool):
        raise BadRequest("rollback must be true or false", field="rollback")
    assemble.guided_rollouts(services).control(namespace, service, command, rollback, identity)
    return rollout_detail(services, namespace, service)
