"""The release write: one routing action previewed or applied, for /api/routes, the releases
page's buttons and the guided rollout's steps.

authorize -> read the objects -> check they are the versions previewed -> plan (pure) -> the
verdict guard -> annotate -> server-side dry run of every write -> [apply in make-before-break
order -> one audit entry]. A preview answers `base`, the resourceVersions it was computed from;
sending `base` back with the confirmation turns any change made in between into a 409 showing
that change, instead of applying a different edit than the one the person reviewed.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from access.security import Identity
from mesh.errors import AuditNotShared, BadRequest, Conflict, Forbidden
from mesh.releases.audit import AuditEntry, AuditObject, change_annotation
from mesh.releases.rollout_step import RolloutStep
from mesh.routing.annotation import annotate
from mesh.routing.diff import clean_for_diff, conflict_error
from mesh.routing.gateway_api import HTTP_ROUTE
from mesh.routing.objects import DESTINATION_RULE, VIRTUAL_SERVICE, Write, name_of, resource_version
from mesh.routing.plan import Action, Plan, plan_change
from mesh.routing.selection import ServiceRoutes
from mesh.sources import RouteStore
from usecases.release_guard import Guard, enforce

T = TypeVar("T")
KINDS = (VIRTUAL_SERVICE, DESTINATION_RULE, HTTP_ROUTE)


class WriteCounter(Protocol):
    def count_write(self, action: str, outcome: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """One action on one service, parsed and validated (views.routes.parse_change)."""

    namespace: str
    service: str
    action: Action
    reason: str = ""
    dry_run: bool = True
    override: bool = False  # go ahead against a hold/rollback verdict (needs a reason)
    base: Mapping[str, str] = field(default_factory=dict)  # kind -> resourceVersion previewed
    rollout: RolloutStep | None = None  # the guided rollout step this write is, for the audit


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    request: ChangeRequest
    user: str
    plan: Plan
    base: dict[str, str]  # the resourceVersions the plan was computed from
    guard: Guard | None = None  # None when the plan writes nothing
    applied: tuple[tuple[Write, dict], ...] = ()  # each write and the object the server kept
    change_id: str = ""
    audit_message: str = ""  # "" when the shared audit trail has the entry


def new_change_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class ReleaseWrite:
    """The collaborators: the route store (also the audit trail; asked for after the
    identity is authorized), who may write, the verdict guard, the clock and the metrics."""

    routes: Callable[[], RouteStore]
    authorize: Callable[[Identity | None], Identity]
    guard: Callable[[ServiceRoutes, Plan], Guard]
    clock: Callable[[], float]
    metrics: WriteCounter
    new_id: Callable[[], str] = new_change_id

    def counted(self, action: str, run: Callable[[], T]) -> T:
        """Run an applying write (its parsing included), counted by outcome in
        meshdash_write_actions_total."""
        try:
            out = run()
        except Conflict:
            self.metrics.count_write(action, "conflict")
            raise
        except Forbidden:
            self.metrics.count_write(action, "forbidden")
            raise
        except BadRequest:
            self.metrics.count_write(action, "invalid")
            raise
        except Exception:
            self.metrics.count_write(action, "error")
            raise
        self.metrics.count_write(action, "ok")
        return out

    def change(self, request: ChangeRequest, identity: Identity | None) -> ChangeOutcome:
        """Preview (dry_run) or apply one action; see the module docstring."""
        who = self.authorize(identity)
        store = self.routes()
        routes = store.get_service(request.namespace, request.service)
        _check_base(store, routes, request.base)
        plan = plan_change(routes, request.action)
        outcome = ChangeOutcome(
            request,
            who.user,
            plan,
            {kind: resource_version(obj) for kind, obj in routes.objects()},
        )
        if not plan.writes:
            return outcome
        guard = self.guard(routes, plan)
        outcome = replace(outcome, guard=guard)
        if not request.dry_run:
            enforce(guard, request.override, request.reason)
        now = self.clock()
        change_id = self.new_id()
        note = change_annotation(
            who=who.user,
            when=now,
            action=request.action.name,
            reason=request.reason,
            change_id=change_id,
        )
        writes = [replace(w, after=annotate(w.after, note)) for w in plan.writes]
        for w in writes:  # the server validates the whole change before anything is applied
            store.write(w, dry_run=True)
        if request.dry_run:
            return outcome
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
            entry = AuditEntry(
                when=now,
                who=who.user,
                action=request.action.name,
                reason=request.reason,
                namespace=request.namespace,
                service=request.service,
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
                override=guard.needs_override and request.override,
                rollout=request.rollout,
            )
            unrecorded = _record(store, [entry] if applied else [])
        return replace(
            outcome, applied=tuple(applied), change_id=change_id, audit_message=unrecorded
        )


def _check_base(store: RouteStore, routes: ServiceRoutes, base: Mapping[str, str]) -> None:
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


def _record(store: RouteStore, entries: list[AuditEntry]) -> str:
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
