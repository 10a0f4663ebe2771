"""Guided rollouts: one code path for /api/rollouts, the releases page and the background driver.

A person starts a rollout (plan validated whole, nothing written on a bad field); the driver
(`tick`) then applies mesh.releases.rollout_driver's decisions. Every weight change goes through
views.routes.change_route, the buttons' path (server-side dry run, resourceVersion, one audit
entry), as "PERSON (by rollout)" with the verdict in the reason. Before each write the intended
change is stored (PendingWrite), so a driver that dies mid-step is picked up by the next one
without repeating or skipping the write. Only the holder of the rollout's lease drives it.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from access.security import Identity, authorize_write
from mesh import validate
from mesh.errors import BadRequest, Conflict, Forbidden, MeshdashError, NotFound
from mesh.releases.rollout_driver import (
    Evidence,
    Idle,
    Pause,
    RollBack,
    SetStep,
    Wait,
    decide,
    needs_evidence,
)
from mesh.releases.rollout_plan import (
    FINISHED,
    PendingWrite,
    Progress,
    RolloutPlan,
    StepRecord,
    parse_plan,
    start_progress,
)
from mesh.routing.objects import resource_version
from mesh.routing.selection import ServiceRoutes
from mesh.routing.state import read_routes
from views.canary import canary_model, parse_canary_params
from views.release_context import subset_versions
from views.routes import change_route, store_of
from wiring.services import Services

log = logging.getLogger("meshdash.rollouts")
COMMANDS = ("pause", "resume", "abort", "skip")
MIN_WINDOW_S = 30


def holder_id() -> str:
    """This process, as a lease holder (read per call: gunicorn forks workers after import)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def store(services: Services) -> Any:
    if services.rollouts is None:
        raise NotFound("guided rollouts need routing: start meshdash with --kube (or --demo)")
    return services.rollouts


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


def _routes_checked(services: Services, namespace: str, service: str) -> ServiceRoutes:
    routes = store_of(services).get_service(namespace, service)
    if routes.owner:
        raise Forbidden(f"{namespace}/{service} is managed by {routes.owner}; change it there")
    return routes


def _split(routes: ServiceRoutes) -> dict[str, int]:
    return {d.subset: d.weight for d in read_routes(routes).split}


def start_rollout(
    services: Services, namespace: str, service: str, payload: Any, identity: Identity | None
) -> dict[str, Any]:
    """Validate the plan, refuse a second running rollout (409), store it and take the first
    step now, so a person sees the first write (or why it failed) in the answer."""
    namespace, service = _names(namespace, service)
    who = authorize_write(identity, services.settings)
    rollouts = store(services)
    routes = _routes_checked(services, namespace, service)
    now = services.clock()
    plan = parse_plan(
        payload,
        namespace=namespace,
        service=service,
        versions=tuple(subset_versions(routes)),
        started_by=who.user,
        now=now,
    )
    existing = rollouts.load(namespace, service)
    if existing is not None and existing.progress.state not in FINISHED:
        raise Conflict(
            f"a rollout of {namespace}/{service} is already {existing.progress.state} "
            f"(step {existing.progress.step + 1} of {len(existing.plan.steps)}); "
            "abort it before starting another"
        )
    rollouts.save(plan, start_progress(now), existing.version if existing else None)
    services.metrics.count_rollout("started")
    tick(services, namespace, service, holder_id())
    return rollout_detail(services, namespace, service)


def rollout_detail(services: Services, namespace: str, service: str) -> dict[str, Any]:
    namespace, service = _names(namespace, service)
    found = store(services).load(namespace, service)
    if found is None:
        raise NotFound(f"no guided rollout of {namespace}/{service}")
    return rollout_json(found.plan, found.progress, services.clock())


def rollouts_list(services: Services, namespace: str) -> dict[str, Any]:
    namespace = validate.namespace(namespace)
    now = services.clock()
    return {
        "namespace": namespace,
        "rollouts": [
            rollout_json(s.plan, s.progress, now) for s in store(services).list(namespace)
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
    baseline); each one is checked against the state it applies to."""
    namespace, service = _names(namespace, service)
    command = parse_command(command)
    payload = payload or {}
    rollback = payload.get("rollback", False)
    if not isinstance(rollback, bool):
        raise BadRequest("rollback must be true or false", field="rollback")
    who = authorize_write(identity, services.settings)
    rollouts = store(services)
    found = rollouts.load(namespace, service)
    if found is None:
        raise NotFound(f"no guided rollout of {namespace}/{service}")
    plan, progress = found.plan, found.progress
    if progress.state in FINISHED:
        raise Conflict(f"the rollout is {progress.state.replace('_', ' ')}; start a new one")
    now = services.clock()
    if command == "pause":
        rollouts.save(
            plan, replace(progress, state="paused", why=f"paused by {who.user}"), found.version
        )
        services.metrics.count_rollout("paused")
    elif command == "resume":
        if progress.state != "paused":
            raise Conflict("the rollout is running; only a paused rollout resumes")
        routes = _routes_checked(services, namespace, service)
        resumed = replace(
            progress,
            state="running",
            why=f"resumed by {who.user}",
            step_started=now,  # the step bakes again from now, on the weights as they are
            hold_since=None,
            resource_version=resource_version(routes.split_object) or "",
        )
        rollouts.save(plan, resumed, found.version)
    elif command == "skip":
        if progress.step + 1 >= len(plan.steps):
            raise Conflict("the rollout is at its last step; there is nothing to skip to")
        routes = _routes_checked(services, namespace, service)
        _write(services, found, routes, progress.step + 1, "running", "skipped", (), who.user)
    else:
        if rollback:
            routes = _routes_checked(services, namespace, service)
            _write(services, found, routes, -1, "aborted", "aborted", (), who.user)
        else:
            rollouts.save(
                plan,
                replace(progress, state="aborted", why=f"aborted by {who.user}; weights left"),
                found.version,
            )
    return rollout_detail(services, namespace, service)


# -- the driver -------------------------------------------------------------------------------


def _evidence(
    services: Services, plan: RolloutPlan, routes: ServiceRoutes, since: float
) -> Evidence:
    """The verdict the review page would show for the time since the step's weight change."""
    names = subset_versions(routes)
    window = max(MIN_WINDOW_S, int(services.clock() - since))
    args = {
        "baseline": names.get(plan.baseline, plan.baseline),
        "canary": names.get(plan.canary, plan.canary),
        "window": f"{window}s",
        "min_requests": str(plan.min_requests),
    }
    try:
        params = parse_canary_params(args, namespace=plan.namespace, service=plan.service)
        analysis = canary_model(services, params).analysis
    except MeshdashError as exc:
        return Evidence("unavailable", (f"no verdict could be computed: {exc}",))
    return Evidence(analysis.verdict.value, tuple(analysis.reasons))


def _write(
    services: Services,
    found: Any,
    routes: ServiceRoutes,
    step: int,
    state: str,
    verdict: str,
    reasons: tuple[str, ...],
    person: str = "",
) -> None:
    """Store the intent, write the weights through the buttons' path, store the outcome.
    step -1 means all traffic back on the baseline."""
    plan, progress = found.plan, found.progress
    now = services.clock()
    weights = plan.weights(step) if step >= 0 else {plan.baseline: 100, plan.canary: 0}
    base = resource_version(routes.split_object) or ""
    record = StepRecord(now, tuple(weights.items()), verdict, reasons)
    pending = PendingWrite(tuple(weights.items()), base, state, step, record)
    rollouts = store(services)
    version = rollouts.save(plan, replace(progress, pending=pending), found.version)
    what = f"step {step + 1} of {len(plan.steps)}" if step >= 0 else "all traffic to the baseline"
    reason = f"{'by ' + person + ' via' if person else 'by'} rollout: {what}, verdict {verdict}"
    if reasons:
        reason += f" ({reasons[0]})"
    identity = Identity(user=f"{person or plan.started_by} (by rollout)", source="rollout")
    try:
        body = change_route(
            services,
            plan.namespace,
            plan.service,
            {
                "action": "set_weights",
                "weights": weights,
                "dry_run": False,
                "base": {routes.split_kind: base},
                "reason": reason[:200],
            },
            identity,
        )
    except MeshdashError as exc:
        paused = replace(
            progress, state="paused", pending=None, why=f"a step could not be written: {exc}"
        )
        rollouts.save(plan, paused, version)
        services.metrics.count_rollout("paused")
        raise
    rv = (body.get("resource_versions") or {}).get(routes.split_kind, base)
    _finish(services, plan, progress, pending, rv, version, now)


def _finish(
    services: Services,
    plan: RolloutPlan,
    progress: Progress,
    pending: PendingWrite,
    rv: str,
    version: str,
    now: float,
) -> None:
    last = pending.step == len(plan.steps) - 1
    state = "promoted" if last and pending.state == "running" else pending.state
    if pending.step < 0 and pending.state == "running":
        state = "rolled_back"
    done = replace(
        progress,
        state=state,
        step=pending.step if pending.step >= 0 else progress.step,
        step_started=now,
        resource_version=rv,
        hold_since=None,
        pending=None,
        why={
            "promoted": "all traffic on the canary",
            "rolled_back": "the verdict was rollback",
        }.get(state, progress.why),
    ).with_record(pending.record)
    store(services).save(plan, done, version)
    services.metrics.count_rollout("step" if pending.step >= 0 else "rolled_back")
    if state == "promoted":
        services.metrics.count_rollout("promoted")


def _recover(services: Services, found: Any, routes: ServiceRoutes) -> bool:
    """A write stored as pending by a driver that then died: finish it if it landed, forget it
    if it did not (the next decision makes it again), pause if someone else changed the route.
    True when the rollout was stored anew."""
    plan, progress = found.plan, found.progress
    pending = progress.pending
    if pending is None:
        return False
    rv = resource_version(routes.split_object) or ""
    rollouts = store(services)
    if rv == pending.base:
        rollouts.save(plan, replace(progress, pending=None), found.version)
    elif all(_split(routes).get(s, 0) == w for s, w in pending.weights):
        _finish(services, plan, progress, pending, rv, found.version, services.clock())
    else:
        why = "the route changed while a step was being written, not to the step's weights"
        rollouts.save(plan, replace(progress, state="paused", pending=None, why=why), found.version)
        services.metrics.count_rollout("paused")
    return True


def tick(services: Services, namespace: str, service: str, holder: str) -> str:
    """One driver step for one rollout, if this holder has its lease; what it did, in words."""
    rollouts = store(services)
    now = services.clock()
    found = rollouts.load(namespace, service)
    if found is None or found.progress.state != "running":
        return "idle"
    if not rollouts.acquire(namespace, service, holder, now):
        return "another process drives it"
    routes = store_of(services).get_service(namespace, service)
    if _recover(services, found, routes):
        return "recovered an interrupted write"
    plan, progress = found.plan, found.progress
    evidence = (
        _evidence(services, plan, routes, progress.step_started)
        if needs_evidence(plan, progress, now)
        else None
    )
    decision = decide(plan, progress, evidence, now, resource_version(routes.split_object) or "")
    reasons = evidence.reasons if evidence else ()
    if isinstance(decision, SetStep):
        verdict = evidence.verdict if evidence else "started"
        _write(services, found, routes, decision.step, "running", verdict, reasons)
        return f"set step {decision.step + 1}"
    if isinstance(decision, RollBack):
        _write(services, found, routes, -1, "running", "rollback", reasons)
        return "rolled back"
    if isinstance(decision, Pause):
        rollouts.save(plan, replace(progress, state="paused", why=decision.why), found.version)
        services.metrics.count_rollout("paused")
        return "paused"
    if isinstance(decision, Wait) and evidence is not None and progress.hold_since is None:
        rollouts.save(plan, replace(progress, hold_since=now, why=decision.why), found.version)
    if isinstance(decision, Idle) and progress.step == len(plan.steps) - 1:
        rollouts.save(plan, replace(progress, state="promoted"), found.version)
    return "waiting"


def tick_all(services: Services, holder: str) -> None:
    """Drive every running rollout this process can lease; one failing never stops the rest."""
    for found in store(services).list():
        if found.progress.state != "running":
            continue
        try:
            tick(services, found.plan.namespace, found.plan.service, holder)
        except (MeshdashError, OSError) as exc:
            log.warning("rollout %s/%s: %s", found.plan.namespace, found.plan.service, exc)
