"""Which services can be released: a release shifts traffic between versions, so it needs two."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MIN_VERSIONS = 2


def releasable(versions: Sequence[str] | None) -> bool:
    """True when there are at least two versions to shift traffic between."""
    return len(versions or ()) >= MIN_VERSIONS


def releasable_services(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows of a routes listing (`{"service", "versions", ...}`) that can be released, in
    their order."""
    return [row for row in rows if releasable(row.get("versions"))]
