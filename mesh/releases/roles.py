"""Which version is the stable one and which the canary, when nobody said.

A review and a release both compare two versions; when the person (or the URL, or the release
in progress) names none, the busiest version is the stable one and the busiest of the others
the canary. Without routing, a version's weight is its share of the traffic.
"""

from __future__ import annotations

from collections.abc import Mapping


def default_roles(
    weights: Mapping[str, int], stable: str | None = None, canary: str | None = None
) -> tuple[str | None, str | None]:
    """Stable and canary: the given ones while still valid, else the busiest version and the
    busiest of the others (ties go to the earlier version, so v1 80/v2 10/v3 10 gives v1, v2)."""
    versions = list(weights)
    if not versions:
        return None, None

    def busiest(candidates: list[str]) -> str:
        return max(candidates, key=lambda v: (weights[v], -versions.index(v)))

    stable = stable if stable in versions else busiest(versions)
    others = [v for v in versions if v != stable]
    canary = canary if canary in others else (busiest(others) if others else None)
    return stable, canary


def weights_from_shares(shares: Mapping[str, float | None]) -> dict[str, int]:
    """Whole-percent weights from traffic shares (fractions 0..1; none is 0), in their order.
    They stand in for a route's weights where there is no route to read."""
    return {v: round(100 * (share or 0.0)) for v, share in shares.items()}


def split_weights(weights: Mapping[str, float], versions: list[str]) -> dict[str, int]:
    """A route's weights for every version, in the versions' order (none routed is 0)."""
    return {v: int(weights.get(v, 0)) for v in versions}


def mirror_targets(weights: Mapping[str, int]) -> list[str]:
    """The versions live traffic can be copied to: those without live traffic (the routing
    model refuses the others, mesh.routing.mirror)."""
    return [v for v, w in weights.items() if w == 0]
