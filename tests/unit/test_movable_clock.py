"""devtools/clock.py: the demo's clock as a test moves it; it only ever goes forward."""

from __future__ import annotations

import time

import pytest

from devtools.clock import MovableClock


def test_it_starts_at_the_real_time_unless_told():
    assert abs(MovableClock()() - time.time()) < 1.0
    assert 1000.0 <= MovableClock(start=1000.0)() < 1001.0


def test_advance_moves_it_forward_by_exactly_that():
    clock = MovableClock(start=1000.0)
    before = clock()
    after = clock.advance(62)
    assert 62.0 <= after - before < 63.0
    assert clock() >= after


def test_advance_to_goes_forward_only():
    clock = MovableClock(start=1000.0)
    assert 1000.0 <= clock.advance_to(500.0) < 1001.0  # already past: unchanged
    assert 2000.0 <= clock.advance_to(2000.0) < 2001.0


def test_it_refuses_to_go_back_or_stand_still():
    clock = MovableClock()
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="positive"):
        MovableClock(speed=0)


def test_speed_scales_the_real_time_that_passes():
    clock = MovableClock(speed=4, start=0.0)
    started = time.monotonic()
    time.sleep(0.05)
    real = time.monotonic() - started
    assert clock() >= 4 * real * 0.99
