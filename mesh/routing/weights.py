"""The actions that shift the default route's weights: exact weights, a canary step, an even
split, take over, roll back, a blue-green switch, and retiring a version.

Weights are integers 0..100 summing to 100. Retiring a version is allowed only after another
version has taken all traffic, as in KubeSphere's "offline".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mesh import validate
from mesh.errors import BadRequest
from mesh.routing.edit import RouteEdit, pick_version
from mesh.routing.fields import int_field, version_field
from mesh.routing.objects import destinations_in, is_service_host, route_lists
from mesh.routing.state import default_route_index, mirror_rules, subset_of

DEFAULT_STEP = 10


@dataclass(frozen=True, slots=True)
class SetWeights:
    """Exact weights for the default route (subsets not named get 0 and stay listed)."""

    weights: tuple[tuple[str, int], ...]
    name = "set_weights"

    @classmethod
    def parse(cls, p: Mapping) -> SetWeights:
        raw = p.get("weights")
        if not isinstance(raw, Mapping) or not raw:
            raise BadRequest(
                'weights must be an object such as {"v1": 90, "v2": 10}', field="weights"
            )
        weights = []
        for subset, w in raw.items():
            if not isinstance(subset, str):
                raise BadRequest("weights keys must be version names", field="weights")
            if subset:
                validate.label_value(subset, field="weights")
            name = f"weight of {subset or 'the service'}"
            weights.append((subset, int_field(w, name, 0, 100, field="weights")))
        total = sum(w for _, w in weights)
        if total != 100:
            given = ", ".join(f"{s or 'the service'} {w}" for s, w in weights)
            raise BadRequest(
                f"weights must add up to 100; {given} add up to {total}", field="weights"
            )
        return cls(tuple(weights))


@dataclass(frozen=True, slots=True)
class StepCanary:
    """Move `step` points to the canary (negative: back to the stable version)."""

    canary: str | None = None
    step: int = DEFAULT_STEP
    stable: str | None = None
    name = "step_canary"

    @classmethod
    def parse(cls, p: Mapping) -> StepCanary:
        step = int_field(p.get("step", DEFAULT_STEP), "step", -100, 100)
        if step == 0:
            raise BadRequest("step must not be 0", field="step")
        return cls(version_field(p, "canary"), step, version_field(p, "stable"))


@dataclass(frozen=True, slots=True)
class EvenSplit:
    versions: tuple[str, ...] = ()
    name = "even_split"

    @classmethod
    def parse(cls, p: Mapping) -> EvenSplit:
        raw = p.get("versions") or ()
        if isinstance(raw, str):
            raw = [v.strip() for v in raw.split(",") if v.strip()]
        if not isinstance(raw, list | tuple):
            raise BadRequest("versions must be a list of version names", field="versions")
        versions = tuple(validate.label_value(v, field="versions") for v in raw)
        if len(set(versions)) != len(versions):
            raise BadRequest("versions must not repeat", field="versions")
        if len(versions) == 1:
            raise BadRequest("an even split needs at least two versions", field="versions")
        return cls(versions)


@dataclass(frozen=True, slots=True)
class TakeOver:
    """The canary takes all traffic; the old version keeps its subset and its route entry."""

    canary: str | None = None
    name = "take_over"

    @classmethod
    def parse(cls, p: Mapping) -> TakeOver:
        return cls(version_field(p, "canary"))


@dataclass(frozen=True, slots=True)
class Rollback:
    stable: str | None = None
    name = "rollback"

    @classmethod
    def parse(cls, p: Mapping) -> Rollback:
        return cls(version_field(p, "stable"))


@dataclass(frozen=True, slots=True)
class Retire:
    """Remove a version's route entry, then its subset; only once another version has it all."""

    version: str | None = None
    name = "retire"

    @classmethod
    def parse(cls, p: Mapping) -> Retire:
        return cls(version_field(p, "version"))


@dataclass(frozen=True, slots=True)
class BlueGreen:
    """Switch all traffic from the live version to the idle one in one step."""

    target: str | None = None
    name = "blue_green"

    @classmethod
    def parse(cls, p: Mapping) -> BlueGreen:
        return cls(version_field(p, "target"))


def _do_set_weights(e: RouteEdit, a: SetWeights) -> str:
    e.set_split(dict(a.weights))
    return ""


def _do_step(e: RouteEdit, a: StepCanary) -> str:
    split = e.split()
    routed = [s for s, _ in split]
    canary = pick_version(a.canary, routed[-1] if len(routed) > 1 else None, "canary", e.known())
    e.require_known(canary, field="canary")
    weights = dict(split)
    total = sum(weights.values())
    if total != 100:
        raise BadRequest(f"the current weights sum to {total}, not 100: set the weights explicitly")
    weights.setdefault(canary, 0)
    others = [s for s in weights if s != canary]
    if not others and a.stable is None:
        raise BadRequest(
            f"{canary} is the only version in the route; name the stable version", field="stable"
        )
    if a.stable is not None:
        if a.stable == canary:
            raise BadRequest("stable and canary must differ", field="stable")
        e.require_known(a.stable, field="stable")
        stable = a.stable
        weights.setdefault(stable, 0)
    else:
        stable = others[0]
    if a.step > 0:
        amount = min(a.step, 100 - weights[canary])
        if amount == 0:
            raise BadRequest(f"{canary} already receives all traffic", field="step")
        left = amount
        for s in [stable, *[o for o in others if o != stable]]:
            take = min(left, weights[s])
            weights[s] -= take
            left -= take
        weights[canary] += amount
    else:
        amount = min(-a.step, weights[canary])
        if amount == 0:
            raise BadRequest(f"{canary} receives no traffic to step back", field="step")
        weights[canary] -= amount
        weights[stable] += amount
    e.set_split(weights)
    return ""


def _do_even(e: RouteEdit, a: EvenSplit) -> str:
    routed = [s for s, _ in e.split()]
    versions = list(a.versions) or routed
    if len(versions) < 2:
        raise BadRequest(
            f"name at least two versions to split evenly (candidates: {', '.join(e.known())})",
            field="versions",
        )
    base, rest = divmod(100, len(versions))
    target = dict.fromkeys(routed, 0)
    for i, v in enumerate(versions):
        target[v] = base + (rest if i == len(versions) - 1 else 0)  # remainder last, as Kiali
    e.set_split(target)
    return ""


def _all_to(e: RouteEdit, version: str) -> None:
    target = {s: 0 for s, _ in e.split()}
    target[version] = 100
    e.set_split(target)


def _do_take_over(e: RouteEdit, a: TakeOver) -> str:
    routed = [s for s, _ in e.split()]
    canary = pick_version(a.canary, routed[-1] if len(routed) > 1 else None, "canary", e.known())
    e.require_known(canary, field="canary")
    _all_to(e, canary)
    return canary


def _do_rollback(e: RouteEdit, a: Rollback) -> str:
    routed = [s for s, _ in e.split()]
    stable = pick_version(
        a.stable, routed[0] if routed and routed[0] else None, "stable", e.known()
    )
    e.require_known(stable, field="stable")
    _all_to(e, stable)
    return stable


def _do_blue_green(e: RouteEdit, a: BlueGreen) -> str:
    split = e.split()
    live = [s for s, w in split if w == 100]
    if not live:
        shares = ", ".join(f"{s or e.svc} {w}%" for s, w in split)
        raise BadRequest(
            f"a blue-green switch needs one version with all traffic; now {shares}. "
            "Use take over or set the weights."
        )
    idle = [s for s, _ in split if s != live[0]]
    target = pick_version(
        a.target,
        idle[0] if len(idle) == 1 else None,
        "target",
        [v for v in e.known() if v != live[0]],
    )
    if target == live[0]:
        raise BadRequest(f"{target} already receives all traffic", field="target")
    e.require_known(target, field="target")
    _all_to(e, target)
    return target


def _do_retire(e: RouteEdit, a: Retire) -> str:
    index, _problem = default_route_index(e.vs, e.ns, e.svc)
    split = e.split() if index is not None else []
    zero = [s for s, w in split if w == 0]
    version = pick_version(
        a.version, zero[0] if len(zero) == 1 and len(split) == 2 else None, "version", e.known()
    )
    e.require_known(version)
    weights = dict(split)
    if weights.get(version, 0) > 0:
        raise BadRequest(
            f"{version} still receives {weights[version]}% of traffic; take over all traffic with "
            "another version first",
            field="version",
        )
    if not any(w == 100 for s, w in split if s != version):
        raise BadRequest(
            f"retiring {version} needs another version to have taken all traffic first",
            field="version",
        )
    if len(set(e.known())) <= 1:
        raise BadRequest(f"{version} is the last version of {e.svc}", field="version")
    users = [
        f"{proto}[{i}]"
        for proto, i, route in route_lists(e.vs or {})
        if not (proto == "http" and i == index)
        for d in destinations_in(route)
        if is_service_host(d.get("host"), e.ns, e.svc) and d.get("subset") == version
    ]
    route = e.default_route()
    users += [
        "the mirror of the default route"
        for m in mirror_rules(route)
        if m["subset"] == version and is_service_host(m["host"], e.ns, e.svc)
    ]
    users += [f"VirtualService {name}" for name, s in e.routes.other_references if s == version]
    if users:
        raise BadRequest(
            f"{version} is still named by {', '.join(users)}; remove those routes first",
            field="version",
        )
    if version in weights:
        route["route"] = [entry for entry in route["route"] if subset_of(entry) != version]
    if version in e.subsets():
        e.dr["spec"]["subsets"] = [
            s
            for s in e.dr["spec"]["subsets"]
            if not (isinstance(s, Mapping) and s.get("name") == version)
        ]
    return version


# The planner's entry for each action defined here.
HANDLERS = {
    SetWeights: _do_set_weights,
    StepCanary: _do_step,
    EvenSplit: _do_even,
    TakeOver: _do_take_over,
    Rollback: _do_rollback,
    Retire: _do_retire,
    BlueGreen: _do_blue_green,
}
