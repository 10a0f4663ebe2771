"""The guided rollout's driver as a use case (what serving/rollout_ticker.py calls): plain
Python with the in-memory rollout store, a fake route store and a canary source written here."""

from __future__ import annotations

import pytest

from access.security import Identity
from collectors.rollout_store import MemoryRolloutStore
from mesh.errors import Conflict, Forbidden
from tests.usecase_fakes import (
    DESTINATION_RULE,
    Counter,
    CountsSource,
    FakeRoutes,
    virtual_service,
)
from usecases.canary_verdict import CanaryVerdict
from usecases.guided_rollout import GuidedRollouts, holder_id
from usecases.release_guard import ReleaseGuard
from usecases.release_write import ReleaseWrite

T0 = 1_790_000_000.0
ALICE = Identity("alice", source="token")
ME = holder_id()  # start() takes the first step as this process, holding the lease
PLAN = {"canary": "v2", "baseline": "v1", "steps": [10, 50, 100], "bake_s": 120}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def writers_only(identity):
    if identity is None or identity.user not in ("alice", "alice (by rollout)"):
        raise Forbidden("no write access")
    return identity


@pytest.fixture
def rig():
    clock, counter, source = Clock(), Counter(), CountsSource()
    routes = FakeRoutes(virtual_service(100, 0), DESTINATION_RULE)
    verdict = CanaryVerdict(lambda: source, routes, gates={})
    release = ReleaseWrite(
        routes=lambda: routes,
        authorize=writers_only,
        guard=ReleaseGuard(verdict, clock),
        clock=clock,
        metrics=counter,
    )
    store = MemoryRolloutStore()
    driver = GuidedRollouts(
        rollouts=lambda: store,
        routes=lambda: routes,
        release=release,
        verdict=verdict,
        authorize=writers_only,
        clock=clock,
        metrics=counter,
    )
    return driver, routes, clock, counter, source


def split(routes: FakeRoutes) -> list[int]:
    return [d["weight"] for d in routes.objects["VirtualService"]["spec"]["http"][0]["route"]]


def test_a_rollout_steps_up_on_the_verdict_through_the_release_write(rig):
    driver, routes, clock, counter, _ = rig
    driver.start("shop", "reviews", PLAN, ALICE)
    assert split(routes) == [90, 10]  # the first step is written at once
    assert driver.tick("shop", "reviews", ME) == "waiting"  # still baking
    clock.now += 121
    assert driver.tick("shop", "reviews", ME) == "set step 2"
    assert split(routes) == [50, 50]
    entry = routes.recorded[-1]
    assert entry.who == "alice (by rollout)" and entry.action == "set_weights"
    assert "step 2 of 3" in entry.reason
    assert ("set_weights", "ok") in counter.counts and ("rollout", "started") in counter.counts
    assert driver.tick("shop", "reviews", "pod-b") == "another process drives it"  # the lease


def test_a_failing_canary_is_rolled_back_by_the_driver(rig):
    driver, routes, clock, counter, source = rig
    driver.start("shop", "reviews", PLAN, ALICE)
    source.canary_failed = 500.0  # 10 % errors
    clock.now += 121
    assert driver.tick("shop", "reviews", ME) == "rolled back"
    assert split(routes) == [100, 0]
    assert driver.load("shop", "reviews").progress.state == "rolled_back"
    assert ("rollout", "rolled_back") in counter.counts


def test_someone_elses_weight_change_pauses_the_rollout(rig):
    driver, routes, clock, _, _ = rig
    driver.start("shop", "reviews", PLAN, ALICE)
    routes.objects["VirtualService"] = virtual_service(70, 30, rv="500")
    clock.now += 121
    assert driver.tick("shop", "reviews", ME) == "paused"
    assert split(routes) == [70, 30]  # never overwritten


def test_tick_all_drives_every_running_rollout_and_survives_a_failure(rig):
    driver, routes, clock, _, _ = rig
    driver.start("shop", "reviews", PLAN, ALICE)
    clock.now += 121
    routes.reject_dry_run = "VirtualService"  # the server refuses the step's write
    driver.tick_all(ME)  # logged, not raised: the ticker thread goes on
    assert driver.load("shop", "reviews").progress.state == "paused"
    assert split(routes) == [90, 10]


def test_a_second_rollout_of_the_same_service_is_refused(rig):
    driver, _, _, _, _ = rig
    driver.start("shop", "reviews", PLAN, ALICE)
    with pytest.raises(Conflict, match="already running"):
        driver.start("shop", "reviews", PLAN, ALICE)
    with pytest.raises(Forbidden):
        driver.control("shop", "reviews", "pause", False, None)
