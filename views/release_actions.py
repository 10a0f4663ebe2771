"""Which release buttons would do something: each one's action planned (pure, nothing written)
against the objects as they are now; a button whose plan is refused or changes nothing is
offered disabled, with the reason as its tooltip. No button offers a no-op."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh.errors import BadRequest, Forbidden
from mesh.routing.plan import parse_action, plan_change
from usecases.assemble import route_store
from wiring.services import Services


def button_states(
    services: Services, namespace: str, service: str, payloads: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """Button key -> "" when its action would change something, else why it would not."""
    routes = route_store(services).get_service(namespace, service)
    out: dict[str, str] = {}
    for key, payload in payloads.items():
        try:
            plan = plan_change(routes, parse_action(payload))
        except (BadRequest, Forbidden) as exc:
            out[key] = exc.message if hasattr(exc, "message") else str(exc)
            continue
        out[key] = "" if plan.writes else "nothing to change"
    return out
