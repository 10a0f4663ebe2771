"""Release control: one code path for /api/routes, /api/audit and the releases page.

A page calls these directly (with `security.current_identity` / `security.require_writer`
inside its callback); the API calls them from api/routes.py. Here the request is parsed and
the answer shaped; the write itself (authorize, plan, guard, dry run, apply, audit) is the use
case usecases/release_write.py. `dry_run` defaults to True, so a POST without it only previews.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from access.security import Identity, write_status
from mesh import validate
from mesh.errors import BadRequest
from mesh.releases.audit import clean_reason, merge_entries
from mesh.routing.objects import resource_version
from mesh.routing.plan import ACTIONS, parse_action, plan_json
from mesh.routing.selection import ServiceRoutes
from mesh.routing.state import read_routes, state_json
from usecases import assemble
from usecases.release_write import KINDS, ChangeOutcome, ChangeRequest
from views.params import get_one, namespace_of
from wiring.services import ROUTES, Services

MAX_AUDIT = 500


def parse_namespace(args: Any, default_namespaces: tuple[str, ...]) -> str:
    return namespace_of(args, default_namespaces)


def parse_audit_params(args: Any) -> dict[str, Any]:
    namespace = get_one(args, "namespace")
    service = get_one(args, "service")
    raw_limit = get_one(args, "limit", "50")
    try:
        limit = int(raw_limit)
    except (TypeError, ValueError):
        raise BadRequest("limit must be a whole number", field="limit") from None
    if not 1 <= limit <= MAX_AUDIT:
        raise BadRequest(f"limit must be between 1 and {MAX_AUDIT}", field="limit")
    return {
        "namespace": validate.namespace(namespace) if namespace else None,
        "service": validate.service_name(service) if service else None,
        "limit": limit,
    }


def _permission(services: Services, identity: Identity | None) -> tuple[bool, str]:
    return write_status(identity, services.settings)


def _service_json(routes: ServiceRoutes, allowed: bool, why: str) -> dict[str, Any]:
    state = read_routes(routes)
    body = state_json(state)
    if routes.owner:
        allowed, why = False, f"managed by {routes.owner}; change it there"
    body["writable"] = allowed
    body["why_not"] = "" if allowed else why
    return body


def routes_list(
    services: Services, namespace: str, identity: Identity | None = None
) -> dict[str, Any]:
    """Every service of a namespace with its versions and split (the releases list)."""
    namespace = validate.namespace(namespace)
    store = services.need(ROUTES)
    allowed, why = _permission(services, identity)
    return {
        "namespace": namespace,
        "source": store.name,
        "user": identity.user if identity else None,
        "writable": allowed,
        "why_not": "" if allowed else why,
        "services": [_service_json(r, allowed, why) for r in store.list_services(namespace)],
    }


def route_detail(
    services: Services, namespace: str, service: str, identity: Identity | None = None
) -> dict[str, Any]:
    """One service: split, subsets, matches, mirroring, policy, writable (and why not), owner."""
    namespace, service = validate.namespace(namespace), validate.service_name(service)
    routes = services.need(ROUTES).get_service(namespace, service)
    allowed, why = _permission(services, identity)
    body = _service_json(routes, allowed, why)
    body["actions"] = list(ACTIONS)
    return body


def audit_list(
    services: Services,
    namespace: str | None = None,
    service: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Applied changes, newest first, one entry per action, without the full objects (see
    /api/audit). Lines of the older one-object shape are joined by their change_id."""
    entries = services.need(ROUTES).history(namespace=namespace, service=service, limit=limit)
    return {
        "namespace": namespace,
        "service": service,
        "entries": [e.summary_json() for e in merge_entries(entries)],
    }


def _parse_base(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(
        k in KINDS and isinstance(v, str) and len(v) <= 64 for k, v in raw.items()
    ):
        raise BadRequest(
            'base must map VirtualService/DestinationRule/HTTPRoute to the resourceVersion previewed, e.g. {"VirtualService": "12"}',
            field="base",
        )
    return dict(raw)


def parse_override(payload: Mapping[str, Any]) -> bool:
    value = payload.get("override", False)
    if not isinstance(value, bool):
        raise BadRequest(f"override must be true or false; got {value!r}", field="override")
    return value


def parse_change(namespace: str, service: str, payload: Any) -> ChangeRequest:
    """The release write's request from the path and the JSON body; BadRequest naming the
    field, before anything is read."""
    namespace, service = validate.namespace(namespace), validate.service_name(service)
    if not isinstance(payload, Mapping):
        raise BadRequest("the request body must be a JSON object")
    action = parse_action(payload)
    reason = clean_reason(payload.get("reason"))
    dry_run = payload.get("dry_run", True)
    if not isinstance(dry_run, bool):
        raise BadRequest("dry_run must be true or false", field="dry_run")
    override = parse_override(payload)
    base = _parse_base(payload.get("base"))
    return ChangeRequest(namespace, service, action, reason, dry_run, override, base)


def change_json(outcome: ChangeOutcome) -> dict[str, Any]:
    """The answer of POST /api/routes/NS/SVC: the plan, and what was applied and recorded."""
    request, guard = outcome.request, outcome.guard
    body = plan_json(outcome.plan)
    body.update(
        dry_run=request.dry_run,
        applied=False,
        user=outcome.user,
        reason=request.reason,
        base=outcome.base,
    )
    if guard is None:
        return body
    body.update(verdict=guard.verdict, override_needed=guard.needs_override)
    if not outcome.applied:
        return body
    body.update(
        applied=True,
        change_id=outcome.change_id,
        resource_versions={w.kind: resource_version(result) for w, result in outcome.applied},
        audit={"recorded": not outcome.audit_message, "message": outcome.audit_message},
    )
    return body


def change_route(
    services: Services,
    namespace: str,
    service: str,
    payload: Any,
    identity: Identity | None,
) -> dict[str, Any]:
    """Preview or apply one action; applied writes (and confirmations refused) are counted by
    outcome in meshdash_write_actions_total."""
    applying = isinstance(payload, Mapping) and payload.get("dry_run", True) is False
    name = payload.get("action") if isinstance(payload, Mapping) else None
    action = name if isinstance(name, str) and name in ACTIONS else "unknown"
    write = assemble.release_write(services)

    def run() -> ChangeOutcome:
        return write.change(parse_change(namespace, service, payload), identity)

    return change_json(write.counted(action, run) if applying else run())
