"""Shared test helpers: where ../shared lives, and free loopback ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.ports import free_port  # noqa: F401  (tests import it from here)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or a skip with the reason when that folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared fixtures folder is not beside this checkout")
    return path
