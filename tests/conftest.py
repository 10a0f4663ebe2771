"""Shared test helpers: where ../shared lives, and free loopback ports."""

from __future__ import annotations

import logging
import socketserver
from pathlib import Path

import pytest

from devtools.ports import free_port  # noqa: F401  (tests import it from here)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _quiet_handle_error(self: socketserver.BaseServer, request: object, address: object) -> None:
    logging.getLogger("tests.servers").debug("a test server's client went away", exc_info=True)


# The suite's stand-in servers (Prometheus, Jaeger, Kubernetes, hostile peers) serve clients
# that the code under test cuts off on purpose (deadlines, byte caps). socketserver would print
# each broken pipe's traceback to stderr from a daemon thread, and one still writing when
# Python finalises aborts a run whose every test passed.
socketserver.BaseServer.handle_error = _quiet_handle_error  # type: ignore[method-assign]


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or a skip with the reason when that folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared fixtures folder is not beside this checkout")
    return path
