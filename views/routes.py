"""Release control: one code path for /api/routes, /api/audit and the releases page.

A page calls these directly (with `security.current_identity` / `security.require_writer`
inside its callback); the API calls them from api/routes.py. Every change goes:
parse and validate the request -> read the objects -> plan (mesh.routing.plan, pure) -> annotate ->
server-side dry run of every write -> [apply in make-before-break order -> audit].
`dry_run` defaults to True, so a POST without it only previews. A preview answers `base`, the
resourceVersions it was computed from; sending `base` back with the confirmation turns any
change made in between into a 409 showing that change, instead of applying a different edit
than the one the person reviewed.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from access.security import Identity, authorize_write, write_status
from mesh import validate
from mesh.errors import AuditNotShared, BadRequest, Conflict, Forbidden, NotFound
from mesh.releases.audit import (
    AuditEntry,
    AuditObject,
    change_annotation,
    clean_reason,
    merge_entries,
)
from mesh.routing.annotation import annotate
from mesh.routing.diff import clean_for_diff, conflict_error
from mesh.routing.gateway_api import HTTP_ROUTE
from mesh.routing.objects import DESTINATION_RULE, VIRTUAL_SERVICE, Write, name_of, resource_version
from mesh.routing.plan import ACTIONS, parse_action, plan_change, plan_json
from mesh.routing.selection import ServiceRoutes
from mesh.routing.state import read_routes, state_json
from views import release_guard
from views.params import get_one
from wiring.services import Services

MAX_AUDIT = 500
KINDS = (VIRTUAL_SERVICE, DESTINATION_RULE, HTTP_ROUTE)


def store_of(services: Services) -> Any:
    """The RouteStore, or NotFound saying how to configure one."""
    if services.routes is None:
        raise NotFound("routing is not configured: start meshdash with --kube to read Istio routes")
    return services.routes


def parse_namespace(args: Any, default_namespaces: tuple[str, ...]) -> str:
    value = get_one(args, "namespace") or (default_namespaces[0] if default_namespaces else None)
    if value is None:
        raise BadRequest("namespace is required", field="namespace")
    return validate.namespace(value)


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
    store = store_of(services)
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
    routes = store_of(services).get_service(namespace, service)
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
    entries = store_of(services).history(namespace=namespace, service=service, limit=limit)
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


def _check_base(store: Any, routes: ServiceRoutes, base: Mapping[str, str]) -> None:
    """409 when an object changed between the preview and the confirmation."""
    for kind, current in routes.objects():
        if kind not in base or base[kind] == resource_version(current):
            continue
        name = name_of(current) or routes.service
        previewed = store.snapshot(kind, routes.namespace, name, base[kind]) if base[kind] else None
        if base[kind] and previewed is None:
            label = f"{kind}/{routes.namespace}/{name}"
            raise Conflict(
                f"{label} changed since the preview (resourceVersion {base[kind]} → "
                f"{resource_version(current) or 'deleted'}); nothing was written: preview again",
                current=clean_for_diff(current, keep_annotation=True),
            )
        write = Write(kind, routes.namespace, name, previewed, current or {})
        raise conflict_error(write, current)


def _audit_copy(obj: Mapping | None) -> dict | None:
    if obj is None:
        return None
    out = copy.deepcopy(dict(obj))
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return out


def change_route(
    services: Services,
    namespace: str,
    service: str,
    payload: Any,
    identity: Identity | None,
) -> dict[str, Any]:
    """Preview or apply one action (see _apply); applied writes are counted by outcome in
    meshdash_write_actions_total."""
    applying = isinstance(payload, Mapping) and payload.get("dry_run", True) is False
    name = payload.get("action") if isinstance(payload, Mapping) else None
    action = name if isinstance(name, str) and name in ACTIONS else "unknown"
    if not applying:
        return _apply(services, namespace, service, payload, identity)
    try:
        body = _apply(services, namespace, service, payload, identity)
    except Conflict:
        services.metrics.count_write(action, "conflict")
        raise
    except Forbidden:
        services.metrics.count_write(action, "forbidden")
        raise
    except BadRequest:
        services.metrics.count_write(action, "invalid")
        raise
    except Exception:
        services.metrics.count_write(action, "error")
        raise
    services.metrics.count_write(action, "ok")
    return body


def _apply(
    services: Services,
    namespace: str,
    service: str,
    payload: Any,
    identity: Identity | None,
) -> dict[str, Any]:
    """Preview (dry_run, the default) or apply one action; see the module docstring."""
    namespace, service = validate.namespace(namespace), validate.service_name(service)
    if not isinstance(payload, Mapping):
        raise BadRequest("the request body must be a JSON object")
    action = parse_action(payload)
    reason = clean_reason(payload.get("reason"))
    dry_run = payload.get("dry_run", True)
    if not isinstance(dry_run, bool):
        raise BadRequest("dry_run must be true or false", field="dry_run")
    override = release_guard.parse_override(payload)
    base = _parse_base(payload.get("base"))
    who = authorize_write(identity, services.settings)
    store = store_of(services)
    routes = store.get_service(namespace, service)
    _check_base(store, routes, base)
    plan = plan_change(routes, action)
    body = plan_json(plan)
    body.update(
        dry_run=dry_run,
        applied=False,
        user=who.user,
        reason=reason,
        base={kind: resource_version(obj) for kind, obj in routes.objects()},
    )
    if not plan.writes:
        return body
    guard = release_guard.check(services, routes, plan)
    body.update(verdict=guard.verdict, override_needed=guard.needs_override)
    if not dry_run:
        release_guard.enforce(guard, override, reason)
    now = services.clock()
    change_id = uuid.uuid4().hex[:12]
    note = change_annotation(
        who=who.user, when=now, action=action.name, reason=reason, change_id=change_id
    )
    writes = [replace(w, after=annotate(w.after, note)) for w in plan.writes]
    for w in writes:  # the server validates the whole change before anything is applied
        store.write(w, dry_run=True)
    if dry_run:
        return body
    applied: list[tuple[Write, dict]] = []
    try:
        for w in writes:
            applied.append((w, store.write(w, dry_run=False)))
    except Conflict as exc:
        if applied:
            done = ", ".join(f"{w.kind} {w.name}" for w, _ in applied)
            raise Conflict(
                f"{exc} ({done} was already applied and is in the audit log)",
                current=exc.current,
                diff=exc.diff,
            ) from None
        raise
    finally:
        # One entry for the action, listing every object it wrote.
        unrecorded = _record(
            store,
            [
                AuditEntry(
                    when=now,
                    who=who.user,
                    action=action.name,
                    reason=reason,
                    namespace=namespace,
                    service=service,
                    change_id=change_id,
                    summary=plan.summary,
                    objects=tuple(
                        AuditObject(
                            kind=w.kind,
                            name=w.name,
                            before=_audit_copy(w.before),
                            after=_audit_copy(result),
                            resource_version=resource_version(result),
                        )
                        for w, result in applied
                    ),
                    verdict=guard.verdict,
                    override=guard.needs_override and override,
                )
            ]
            if applied
            else [],
        )
    body.update(
        applied=True,
        change_id=change_id,
        resource_versions={w.kind: resource_version(result) for w, result in applied},
        audit={"recorded": not unrecorded, "message": unrecorded},
    )
    return body


def _record(store: Any, entries: list[AuditEntry]) -> str:
    """Record applied writes; "" when the shared trail has them, else what to tell the person
    (the change is applied either way, and the store keeps retrying the record)."""
    try:
        store.record(entries)
    except AuditNotShared as exc:
        return (
            "The change is applied in the cluster, but its audit record could not be written to "
            f"the shared audit trail yet ({exc}). It is kept on this replica and retried; until "
            "then other replicas do not list it."
        )
    return ""
