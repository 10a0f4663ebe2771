"""Which controller owns a service's routing objects, so meshdash leaves them read-only.

Flagger (ownerReference kind Canary), Argo Rollouts (a Rollout naming the VirtualService or
DestinationRule) and KubeSphere (a Strategy labelled app=<service>) would revert any edit made here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mesh.routing.objects import as_list, meta_of, name_of, spec_of


def find_owner(
    virtual_service: Mapping | None,
    destination_rule: Mapping | None,
    *,
    namespace: str,
    service: str,
    rollouts: Iterable[Mapping] = (),
    strategies: Iterable[Mapping] = (),
) -> str | None:
    """The controller that would revert any edit of these objects, named for the user."""
    for obj in (virtual_service, destination_rule):
        for ref in as_list(meta_of(obj).get("ownerReferences")):
            if not isinstance(ref, Mapping):
                continue
            if ref.get("kind") == "Canary":
                return f"Flagger Canary {namespace}/{ref.get('name', '')}"
            if ref.get("controller"):
                return f"{ref.get('kind', 'controller')} {namespace}/{ref.get('name', '')}"
    vs_name, dr_name = name_of(virtual_service), name_of(destination_rule)
    for rollout in rollouts:
        canary = spec_of(rollout).get("strategy", {}) or {}
        canary = canary.get("canary", {}) if isinstance(canary, Mapping) else {}
        routing = canary.get("trafficRouting", {}) if isinstance(canary, Mapping) else {}
        istio = routing.get("istio", {}) if isinstance(routing, Mapping) else {}
        if not isinstance(istio, Mapping):
            continue
        named = [istio.get("virtualService"), *as_list(istio.get("virtualServices"))]
        vs_names = {str(v.get("name", "")).split(".")[0] for v in named if isinstance(v, Mapping)}
        dr = istio.get("destinationRule")
        dr_names = {str(dr.get("name", "")).split(".")[0]} if isinstance(dr, Mapping) else set()
        if (vs_name and vs_name in vs_names) or (dr_name and dr_name in dr_names):
            return f"Argo Rollouts Rollout {namespace}/{name_of(rollout)}"
    for strategy in strategies:
        labels = meta_of(strategy).get("labels") or {}
        if isinstance(labels, Mapping) and labels.get("app") == service:
            return f"KubeSphere Strategy {namespace}/{name_of(strategy)}"
    return None
