"""Turning an action into a plan: the new objects, their write order, a summary and a YAML diff.

Pure: objects in (VirtualService/DestinationRule dicts as the API server returns them), objects
and a unified YAML diff out. Conventions are DESIGN.md's "Routing conventions". An action is
parsed and validated before any object is looked at; an invalid request raises BadRequest (a
controller-owned object: Forbidden) and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from mesh.errors import BadRequest, Conflict, Forbidden
from mesh.routing import http_route_actions
from mesh.routing import match as route_match
from mesh.routing import mirror as route_mirror
from mesh.routing import policy as route_policy
from mesh.routing import weights as route_weights
from mesh.routing.diff import plan_diff
from mesh.routing.edit import RouteEdit, pick_version
from mesh.routing.http_route_edit import HTTPRouteEdit
from mesh.routing.match import MatchCanary, RemoveMatch
from mesh.routing.mirror import MirrorTraffic
from mesh.routing.objects import Obj, Write, resource_version
from mesh.routing.policy import TrafficPolicy
from mesh.routing.selection import ServiceRoutes
from mesh.routing.state import (
    Destination,
    RouteState,
    both_problem,
    describe_match,
    destination_json,
    read_routes,
)
from mesh.routing.weights import (
    BlueGreen,
    EvenSplit,
    Retire,
    Rollback,
    SetWeights,
    StepCanary,
    TakeOver,
)

Action = (
    SetWeights
    | StepCanary
    | EvenSplit
    | TakeOver
    | Rollback
    | Retire
    | BlueGreen
    | MatchCanary
    | RemoveMatch
    | MirrorTraffic
    | TrafficPolicy
)
ACTIONS: dict[str, type] = {
    cls.name: cls
    for cls in (
        SetWeights,
        StepCanary,
        EvenSplit,
        TakeOver,
        Rollback,
        Retire,
        BlueGreen,
        MatchCanary,
        RemoveMatch,
        MirrorTraffic,
        TrafficPolicy,
    )
}


# Actions a person confirms twice, as Argo Rollouts' buttons ask.
CONFIRM = {
    TakeOver.name: "all traffic moves to {version}; the other versions stay deployed and routable",
    Retire.name: "{version} is removed from the route and its subset deleted",
    BlueGreen.name: "all traffic switches to {version} at once",
}


def parse_action(payload: Mapping) -> Action:
    """The action named in a request body, validated on its own (before objects are read)."""
    if not isinstance(payload, Mapping):
        raise BadRequest("the request body must be a JSON object")
    name = payload.get("action")
    if not isinstance(name, str) or name not in ACTIONS:  # a list or object is unhashable
        raise BadRequest(
            f"action must be one of {', '.join(ACTIONS)}; got {str(name)[:40]!r}", field="action"
        )
    return ACTIONS[name].parse(payload)


@dataclass(frozen=True, slots=True)
class Plan:
    action: str
    namespace: str
    service: str
    summary: str
    writes: tuple[Write, ...]  # in the order they must be applied (make before break)
    diff: str
    split_before: tuple[Destination, ...]
    split_after: tuple[Destination, ...]
    confirm: str = ""  # a second confirmation the page asks for, "" when none

    @property
    def changed(self) -> bool:
        return bool(self.writes)


# Each action's module holds the edit it makes; the type of the parsed action picks it.
_HANDLERS = {
    **route_weights.HANDLERS,
    **route_match.HANDLERS,
    **route_mirror.HANDLERS,
    **route_policy.HANDLERS,
}


def plan_change(routes: ServiceRoutes, action: Action) -> Plan:
    """New objects, their write order and a YAML diff for `action`; raises before any change."""
    if routes.owner:
        raise Forbidden(
            f"{routes.namespace}/{routes.service} is managed by {routes.owner}; change it there "
            "(the controller would revert an edit made here)"
        )
    if routes.http_route is not None:
        if routes.virtual_service is not None:
            raise Conflict(both_problem(routes))
        before = read_routes(routes)
        version, writes, after = _plan_http_route(routes, action)
        return _plan(routes, action, version, writes, before, after)
    if action.name == RemoveMatch.name and routes.virtual_service is None:
        raise BadRequest(f"{routes.service} has no VirtualService", field="index")
    wizard = "request_routing" if isinstance(action, MatchCanary) else "traffic_shifting"
    edit = RouteEdit(routes, wizard)
    before = read_routes(routes)
    version = _HANDLERS[type(action)](edit, action)
    writes = edit.writes()
    after = read_routes(
        ServiceRoutes(
            routes.namespace,
            routes.service,
            edit.vs,
            edit.dr,
            routes.versions,
            routes.version_label,
        )
    )
    return _plan(routes, action, version, writes, before, after)


# The weight actions whose handlers shift an HTTPRoute's default rule through HTTPRouteEdit.
_HTTP_ROUTE_ACTIONS = (SetWeights, StepCanary, EvenSplit, TakeOver, Rollback, BlueGreen)


def _plan_http_route(
    routes: ServiceRoutes, action: Action
) -> tuple[str, tuple[Write, ...], RouteState]:
    """An action on a Gateway API service: the same weight rules, written to its HTTPRoute."""
    edit = HTTPRouteEdit(routes)
    if isinstance(action, Retire):
        version = pick_version(action.version, None, "version", edit.known())
        edit.retire(version)
    elif isinstance(action, _HTTP_ROUTE_ACTIONS):
        version = _HANDLERS[type(action)](edit, action)
    elif type(action) in http_route_actions.HANDLERS:
        version = http_route_actions.HANDLERS[type(action)](edit, action)
    else:
        raise BadRequest(
            f"{action.name} is not supported on an HTTPRoute (service {routes.service} is "
            "routed with the Gateway API; a traffic policy lives in a DestinationRule)",
            field="action",
        )
    after = read_routes(replace(routes, http_route=edit.route))
    return version, edit.writes(), after


def _plan(
    routes: ServiceRoutes,
    action: Action,
    version: str,
    writes: tuple[Write, ...],
    before: RouteState,
    after: RouteState,
) -> Plan:
    confirm = CONFIRM.get(action.name, "").format(version=version) if writes else ""
    return Plan(
        action=action.name,
        namespace=routes.namespace,
        service=routes.service,
        summary=summarize(routes.service, action, before, after, bool(writes)),
        writes=writes,
        diff=plan_diff(writes),
        split_before=before.split,
        split_after=after.split,
        confirm=confirm,
    )


def _shares(split: Sequence[Destination], service: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in split:
        out[d.subset or service] = out.get(d.subset or service, 0) + d.weight
    return out


def summarize(
    service: str, action: Action, before: RouteState, after: RouteState, changed: bool
) -> str:
    """One line a reviewer reads in the audit log and the confirmation dialog."""
    if not changed:
        return f"{service}: nothing to change"
    parts = []
    old, new = _shares(before.split, service), _shares(after.split, service)
    moved = [
        f"{v} removed from the route" if v not in new else f"{v} {old.get(v, 0)}%→{new[v]}%"
        for v in dict.fromkeys([*old, *new])
        if old.get(v, 0) != new.get(v, 0) or (v in old) != (v in new)
    ]
    if moved:
        parts.append(", ".join(moved))
    gone = [s for s in before.subsets if s not in after.subsets]
    added = [s for s in after.subsets if s not in before.subsets]
    if added:
        parts.append(f"subset {', '.join(added)} added")
    if gone:
        parts.append(f"subset {', '.join(gone)} removed")
    if isinstance(action, MatchCanary):
        parts.append(f"{' '.join(describe_match(action.match()))} → {action.canary}")
    if isinstance(action, RemoveMatch):
        parts.append(f"match route {action.index} removed")
    if isinstance(action, MirrorTraffic):
        parts.append(
            f"mirror {action.percentage:g}% to {action.version}"
            if action.version
            else "mirroring stopped"
        )
    if isinstance(action, TrafficPolicy):
        parts.append(
            "traffic policy "
            + ", ".join(f"{p[-1]}={'unset' if v is None else v}" for p, v in action.settings)
        )
    return f"{service} {action.name.replace('_', ' ')}: " + "; ".join(parts or ["objects updated"])


def plan_json(plan: Plan) -> Obj:
    return {
        "action": plan.action,
        "namespace": plan.namespace,
        "service": plan.service,
        "summary": plan.summary,
        "changed": plan.changed,
        "confirm": plan.confirm,
        "diff": plan.diff,
        "writes": [
            {
                "kind": w.kind,
                "namespace": w.namespace,
                "name": w.name,
                "op": w.op,
                "base_resource_version": resource_version(w.before),
            }
            for w in plan.writes
        ],
        "before": [destination_json(d) for d in plan.split_before],
        "after": [destination_json(d) for d in plan.split_after],
    }
