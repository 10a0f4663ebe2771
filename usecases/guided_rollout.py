"""Guided rollouts: start, steer and drive them (the background ticker, /api/rollouts and the
releases page all come here).

A person starts a rollout (plan validated whole, nothing written on a bad field); the driver
(`tick`) then applies mesh.releases.rollout_driver's decisions. Every weight change goes through
the release write (usecases/release_write.py, the buttons' path: server-side dry run,
resourceVersion, one audit entry), as "PERSON (by rollout)" with the verdict in the reason.
Before each write the intended change is stored (PendingWrite), so a driver that dies mid-step
is picked up by the next one without repeating or skipping the write. Only the holder of the
rollout's lease drives it.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from access.security import Identity
from mesh.errors import Conflict, Forbidden, MeshdashError, NotFound
from mesh.releases.audit import clean_reason
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
from mesh.releases.rollout_step import BACK_TO_BASELINE, RolloutStep
from mesh.routing.objects import resource_version
from mesh.routing.plan import parse_action
from mesh.routing.selection import ServiceRoutes
from mesh.routing.state import read_routes
from mesh.sources import RouteStore
from mesh.validate import window_seconds
from usecases.canary_verdict import CanaryVerdict, question
from usecases.release_context import subset_versions
from usecases.release_write import ChangeOutcome, ChangeRequest, ReleaseWrite

log = logging.getLogger("meshdash.rollouts")
MIN_WINDOW_S = 30


def holder_id() -> str:
    """This process, as a lease holder (read per call: gunicorn forks workers after import)."""
    return f"{socket.gethostname()}-{os.getpid()}"


class RolloutStore(Protocol):
    """Rollouts and their leases (collectors/rollout_store.py); `Stored` has .plan, .progress
    and .version."""

    def load(self, namespace: str, service: str) -> Any: ...
    def list(self, namespace: str | None = None) -> list[Any]: ...
    def save(self, plan: RolloutPlan, progress: Progress, version: str | None) -> str: ...
    def acquire(self, namespace: str, service: str, holder: str, now: float) -> bool: ...


class RolloutCounter(Protocol):
    def count_rollout(self, event: str) -> None: ...


def _split(routes: ServiceRoutes) -> dict[str, int]:
    return {d.subset: d.weight for d in read_routes(routes).split}


@dataclass(frozen=True)
class GuidedRollouts:
    """The collaborators: the rollout store and the route store (each asked for when needed:
    NotFound says how to configure it), the release write, the canary verdict, who may write,
    the clock and the metrics."""

    rollouts: Callable[[], RolloutStore]
    routes: Callable[[], RouteStore]
    release: ReleaseWrite
    verdict: CanaryVerdict
    authorize: Callable[[Identity | None], Identity]
    clock: Callable[[], float]
    metrics: RolloutCounter

    def load(self, namespace: str, service: str) -> Any:
        """The stored rollout; NotFound when there is none."""
        found = self.rollouts().load(namespace, service)
        if found is None:
            raise NotFound(f"no guided rollout of {namespace}/{service}")
        return found

    def _routes_checked(self, namespace: str, service: str) -> ServiceRoutes:
        routes = self.routes().get_service(namespace, service)
        if routes.owner:
            raise Forbidden(f"{namespace}/{service} is managed by {routes.owner}; change it there")
        return routes

    def start(self, namespace: str, service: str, payload: Any, identity: Identity | None) -> None:
        """Validate the plan, refuse a second running rollout (409), store it and take the
        first step now, so a person sees the first write (or why it failed) in the answer."""
        who = self.authorize(identity)
        rollouts = self.rollouts()
        routes = self._routes_checked(namespace, service)
        now = self.clock()
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
        self.metrics.count_rollout("started")
        self.tick(namespace, service, holder_id())

    def control(
        self,
        namespace: str,
        service: str,
        command: str,
        rollback: bool,
        identity: Identity | None,
    ) -> None:
        """A person's pause, resume, skip or abort (`rollback`: all traffic back on the
        baseline); each one is checked against the state it applies to."""
        who = self.authorize(identity)
        rollouts = self.rollouts()
        found = self.load(namespace, service)
        plan, progress = found.plan, found.progress
        if progress.state in FINISHED:
            raise Conflict(f"the rollout is {progress.state.replace('_', ' ')}; start a new one")
        now = self.clock()
        if command == "pause":
            rollouts.save(
                plan, replace(progress, state="paused", why=f"paused by {who.user}"), found.version
            )
            self.metrics.count_rollout("paused")
        elif command == "resume":
            if progress.state != "paused":
                raise Conflict("the rollout is running; only a paused rollout resumes")
            routes = self._routes_checked(namespace, service)
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
            routes = self._routes_checked(namespace, service)
            self._write(found, routes, progress.step + 1, "running", "skipped", (), who.user)
        elif rollback:
            routes = self._routes_checked(namespace, service)
            self._write(found, routes, -1, "aborted", "aborted", (), who.user)
        else:
            rollouts.save(
                plan,
                replace(progress, state="aborted", why=f"aborted by {who.user}; weights left"),
                found.version,
            )

    # -- the driver ---------------------------------------------------------------------------

    def _evidence(self, plan: RolloutPlan, routes: ServiceRoutes, since: float) -> Evidence:
        """The verdict the review page would show for the time since the step's weight change."""
        names = subset_versions(routes)
        window = max(MIN_WINDOW_S, int(self.clock() - since))
        try:
            params = question(
                plan.namespace,
                plan.service,
                names.get(plan.baseline, plan.baseline),
                names.get(plan.canary, plan.canary),
                window_seconds(window),
                {"min_requests": str(plan.min_requests)},
            )
            analysis = self.verdict.judge(params, self.clock()).analysis
        except MeshdashError as exc:
            return Evidence("unavailable", (f"no verdict could be computed: {exc}",))
        return Evidence(analysis.verdict.value, tuple(analysis.reasons))

    def _write(
        self,
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
        now = self.clock()
        weights = plan.weights(step) if step >= 0 else {plan.baseline: 100, plan.canary: 0}
        base = resource_version(routes.split_object) or ""
        record = StepRecord(now, tuple(weights.items()), verdict, reasons)
        pending = PendingWrite(tuple(weights.items()), base, state, step, record)
        rollouts = self.rollouts()
        version = rollouts.save(plan, replace(progress, pending=pending), found.version)
        what = (
            f"step {step + 1} of {len(plan.steps)}" if step >= 0 else "all traffic to the baseline"
        )
        reason = f"{'by ' + person + ' via' if person else 'by'} rollout: {what}, verdict {verdict}"
        if reasons:
            reason += f" ({reasons[0]})"
        identity = Identity(user=f"{person or plan.started_by} (by rollout)", source="rollout")
        try:

            def run() -> ChangeOutcome:
                action = parse_action({"action": "set_weights", "weights": weights})
                request = ChangeRequest(
                    plan.namespace,
                    plan.service,
                    action,
                    clean_reason(reason[:200]),
                    dry_run=False,
                    base={routes.split_kind: base},
                    rollout=RolloutStep(
                        step=step + 1 if step >= 0 else BACK_TO_BASELINE,
                        steps=len(plan.steps),
                        canary=plan.canary,
                        baseline=plan.baseline,
                        started_by=plan.started_by,
                        verdict=verdict,
                        by=person,
                    ),
                )
                return self.release.change(request, identity)

            outcome = self.release.counted("set_weights", run)
        except MeshdashError as exc:
            paused = replace(
                progress, state="paused", pending=None, why=f"a step could not be written: {exc}"
            )
            rollouts.save(plan, paused, version)
            self.metrics.count_rollout("paused")
            raise
        written = {w.kind: resource_version(result) for w, result in outcome.applied}
        rv = written.get(routes.split_kind, base)
        self._finish(plan, progress, pending, rv, version, now)

    def _finish(
        self,
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
        self.rollouts().save(plan, done, version)
        self.metrics.count_rollout("step" if pending.step >= 0 else "rolled_back")
        if state == "promoted":
            self.metrics.count_rollout("promoted")

    def _recover(self, found: Any, routes: ServiceRoutes) -> bool:
        """A write stored as pending by a driver that then died: finish it if it landed, forget it
        if it did not (the next decision makes it again), pause if someone else changed the route.
        True when the rollout was stored anew."""
        plan, progress = found.plan, found.progress
        pending = progress.pending
        if pending is None:
            return False
        rv = resource_version(routes.split_object) or ""
        rollouts = self.rollouts()
        if rv == pending.base:
            rollouts.save(plan, replace(progress, pending=None), found.version)
        elif all(_split(routes).get(s, 0) == w for s, w in pending.weights):
            self._finish(plan, progress, pending, rv, found.version, self.clock())
        else:
            why = "the route changed while a step was being written, not to the step's weights"
            rollouts.save(
                plan, replace(progress, state="paused", pending=None, why=why), found.version
            )
            self.metrics.count_rollout("paused")
        return True

    def tick(self, namespace: str, service: str, holder: str) -> str:
        """One driver step for one rollout, if this holder has its lease; what it did, in words."""
        rollouts = self.rollouts()
        now = self.clock()
        found = rollouts.load(namespace, service)
        if found is None or found.progress.state != "running":
            return "idle"
        if not rollouts.acquire(namespace, service, holder, now):
            return "another process drives it"
        routes = self.routes().get_service(namespace, service)
        if self._recover(found, routes):
            return "recovered an interrupted write"
        plan, progress = found.plan, found.progress
        evidence = (
            self._evidence(plan, routes, progress.step_started)
            if needs_evidence(plan, progress, now)
            else None
        )
        decision = decide(
            plan, progress, evidence, now, resource_version(routes.split_object) or ""
        )
        reasons = evidence.reasons if evidence else ()
        if isinstance(decision, SetStep):
            verdict = evidence.verdict if evidence else "started"
            self._write(found, routes, decision.step, "running", verdict, reasons)
            return f"set step {decision.step + 1}"
        if isinstance(decision, RollBack):
            self._write(found, routes, -1, "running", "rollback", reasons)
            return "rolled back"
        if isinstance(decision, Pause):
            rollouts.save(plan, replace(progress, state="paused", why=decision.why), found.version)
            self.metrics.count_rollout("paused")
            return "paused"
        if isinstance(decision, Wait) and evidence is not None and progress.hold_since is None:
            rollouts.save(plan, replace(progress, hold_since=now, why=decision.why), found.version)
        if isinstance(decision, Idle) and progress.step == len(plan.steps) - 1:
            rollouts.save(plan, replace(progress, state="promoted"), found.version)
        return "waiting"

    def tick_all(self, holder: str) -> None:
        """Drive every running rollout this process can lease; one failing never stops the rest."""
        for found in self.rollouts().list():
            if found.progress.state != "running":
                continue
            try:
                self.tick(found.plan.namespace, found.plan.service, holder)
            except (MeshdashError, OSError) as exc:
                log.warning("rollout %s/%s: %s", found.plan.namespace, found.plan.service, exc)
