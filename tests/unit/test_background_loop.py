"""Background loops: rounds, back-off, stop (the exit case is tests/integration/test_background_exit.py)."""

from __future__ import annotations

import threading
import time

from ops.background import BackgroundLoop


def test_a_loop_runs_rounds_until_its_step_says_done() -> None:
    rounds: list[int] = []

    def step() -> bool:
        rounds.append(1)
        return len(rounds) == 3

    loop = BackgroundLoop("t-done", step, lambda _n: 0.01).start()
    deadline = time.monotonic() + 5
    while loop.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not loop.alive
    assert len(rounds) == 3


def test_stop_interrupts_the_wait_and_joins() -> None:
    loop = BackgroundLoop("t-stop", lambda: False, lambda _n: 3600.0).start()
    started = time.monotonic()
    loop.stop()
    assert not loop.alive
    assert time.monotonic() - started < 2


def test_a_failing_round_is_logged_and_the_loop_goes_on(caplog) -> None:
    calls: list[int] = []
    done = threading.Event()

    def step() -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("backend gone")
        done.set()
        return True

    BackgroundLoop("t-fail", step, lambda _n: 0.01).start()
    assert done.wait(5)
    assert "t-fail: a round failed" in caplog.text


def test_the_first_round_waits_when_asked() -> None:
    ran = threading.Event()
    loop = BackgroundLoop("t-first", lambda: ran.set() or True, lambda _n: 0, first_after=3600)
    loop.start()
    assert not ran.wait(0.2)
    loop.stop()
    assert not ran.is_set()
