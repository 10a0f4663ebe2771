"""Unit tests start nothing: no server, no process. What does belongs in tests/integration/.

The guard below wraps every unit test's set-up (module and session fixtures included, since
they are set up for the first test that asks for them), call and tear-down: accepting
connections (`listen`, or binding a datagram socket) and starting a process (subprocess, fork,
spawn, system) fail the test with a message that says where it should live. Binding a stream
socket without listening stays allowed: tests/conftest.py's free_port() does that to find a
port nothing answers on.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import pytest

WHY = "unit tests start nothing; a test that starts {what} belongs in tests/integration/"


def _refuse(what: str) -> Callable[..., NoReturn]:
    def refused(*args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError(WHY.format(what=what))

    return refused


def _bind_stream_only(original: Callable[..., None]) -> Callable[..., None]:
    def bind(self: socket.socket, address: Any) -> None:
        if self.type != socket.SOCK_STREAM:
            raise RuntimeError(WHY.format(what=f"a datagram server on {address!r}"))
        return original(self, address)

    return bind


def _guarded() -> pytest.MonkeyPatch:
    guard = pytest.MonkeyPatch()
    guard.setattr(socket.socket, "listen", _refuse("a server (socket.listen)"))
    guard.setattr(socket.socket, "bind", _bind_stream_only(socket.socket.bind))
    guard.setattr(subprocess.Popen, "_execute_child", _refuse("a process (subprocess)"))
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
        if hasattr(os, name):
            guard.setattr(os, name, _refuse(f"a process (os.{name})"))
    return guard


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    return (yield from _wrap())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _wrap())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    return (yield from _wrap())


def _wrap() -> Iterator[Any]:
    guard = _guarded()
    try:
        return (yield)
    finally:
        guard.undo()
