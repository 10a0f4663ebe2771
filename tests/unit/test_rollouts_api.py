"""/api/rollouts over the demo mesh with a controlled clock: a rollout promotes step by step on
the real verdict of the simulated telemetry, rolls back by itself on an injected failure, pauses
on someone else's weight change, obeys a person's commands, and a bad plan writes nothing."""

from __future__ import annotations

import pytest
from flask import Flask

import api
from access import security
from collectors.rollout_store import MemoryRolloutStore
from demo.canary_source import DemoCanarySource
from demo.mesh import DemoMesh
from demo.routes import DemoRouteStore
from ops.self_metrics import Metrics
from usecases.assemble import guided_rollouts
from usecases.guided_rollout import holder_id
from wiring.services import Services
from wiring.settings import Settings

T0 = 1_790_000_000.0
PLAN = {"canary": "v2", "baseline": "v1", "steps": [10, 50, 100], "bake_s": 120}
# The demo's reviews-v2 calls ratings and is measurably slower than v1 (p50 19 ms vs 8 ms): with
# Flagger's default slower_effect the verdict is hold. The service's own gates accept that.
GATES = {"bookinfo/reviews": {"slower_effect": 0.9}}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def rollout_rig(gates, ambient: bool = False):
    """The demo (sidecar or ambient) behind the real API, with an in-memory rollout store and a
    clock the test moves: (client with its CSRF header, simulator, clock, services)."""
    clock = Clock()
    sim = DemoMesh.bookinfo(ambient=ambient, clock=clock)
    DemoRouteStore.attach(sim)
    svc = Services(
        settings=Settings(rollout_tick_s=0, canary_gates=gates),
        telemetry=sim.telemetry,
        routes=sim.routes,
        demo=sim,
        canary=DemoCanarySource(sim.model),
        clock=clock,
        rollouts=MemoryRolloutStore(),
        metrics=Metrics(),
    )
    app = Flask("test_rollouts")
    api.register(app, svc)
    client = app.test_client()
    client.get("/api/routes")
    client.headers = {security.CSRF_HEADER: client.get_cookie(security.CSRF_COOKIE).value}
    return client, sim, clock, svc


@pytest.fixture
def demo(request):
    return rollout_rig(getattr(request, "param", GATES))


def start(client, body=PLAN):
    return client.post("/api/rollouts/bookinfo/reviews", json=body, headers=client.headers)


def weights(client):
    return client.get("/api/routes/bookinfo/reviews").json["weights"]


def advance(svc, clock, seconds):
    clock.now += seconds
    return guided_rollouts(svc).tick("bookinfo", "reviews", holder_id())


def test_a_rollout_promotes_step_by_step_on_the_verdict(demo):
    client, _, clock, svc = demo
    r = start(client)
    assert r.status_code == 201, r.json
    assert r.json["state"] == "running" and r.json["step"] == 1
    assert weights(client) == {"v1": 90, "v2": 10, "v3": 0}
    assert advance(svc, clock, 60) == "waiting"  # still baking: no verdict read, nothing written
    assert weights(client)["v2"] == 10
    assert advance(svc, clock, 61) == "set step 2"
    assert weights(client) == {"v1": 50, "v2": 50, "v3": 0}
    assert advance(svc, clock, 121) == "set step 3"
    body = client.get("/api/rollouts/bookinfo/reviews").json
    assert body["state"] == "promoted" and body["weights"] == {"v1": 0, "v2": 100}
    verdicts = [h["verdict"] for h in body["history"]]
    assert verdicts[0] == "started" and set(verdicts[1:]) <= {"promote", "continue"}
    assert len(verdicts) == 3
    audit = client.get("/api/audit?namespace=bookinfo&service=reviews").json["entries"]
    assert [e["who"] for e in audit[:3]] == ["demo-user (by rollout)"] * 3
    assert f"by rollout: step 3 of 3, verdict {verdicts[2]}" in audit[0]["reason"]
    listed = client.get("/api/rollouts?namespace=bookinfo").json["rollouts"]
    assert [(x["service"], x["state"]) for x in listed] == [("reviews", "promoted")]
    exposition = svc.metrics.exposition().decode()
    assert 'meshdash_rollout_events_total{event="step"} 3.0' in exposition
    assert 'meshdash_rollout_events_total{event="promoted"} 1.0' in exposition


def test_a_failing_canary_is_rolled_back_by_the_rollout(demo):
    client, sim, clock, svc = demo
    assert start(client).status_code == 201
    sim.state.set_fault("bookinfo", "reviews-v2", error_rate=0.05, at=clock.now)
    assert advance(svc, clock, 121) == "rolled back"
    body = client.get("/api/rollouts/bookinfo/reviews").json
    assert body["state"] == "rolled_back"
    assert body["history"][-1]["verdict"] == "rollback" and body["history"][-1]["reasons"]
    assert weights(client) == {"v1": 100, "v2": 0, "v3": 0}


def test_on_failure_pause_leaves_the_weights_for_a_person(demo):
    client, sim, clock, svc = demo
    assert start(client, {**PLAN, "on_failure": "pause"}).status_code == 201
    sim.state.set_fault("bookinfo", "reviews-v2", error_rate=0.05, at=clock.now)
    assert advance(svc, clock, 121) == "paused"
    body = client.get("/api/rollouts/bookinfo/reviews").json
    assert body["state"] == "paused" and "rollback" in body["why"]
    assert weights(client)["v2"] == 10


@pytest.mark.parametrize("demo", [{}], indirect=True)
def test_a_hold_verdict_waits_then_pauses_after_max_hold(demo):
    client, _, clock, svc = demo
    assert start(client, {**PLAN, "max_hold_s": 300}).status_code == 201
    assert advance(svc, clock, 121) == "waiting"  # the default gates find v2 slower: hold
    body = client.get("/api/rollouts/bookinfo/reviews").json
    assert body["state"] == "running" and "hold" in body["why"]
    assert advance(svc, clock, 299) == "waiting"
    assert advance(svc, clock, 2) == "paused"
    body = client.get("/api/rollouts/bookinfo/reviews").json
    assert body["state"] == "paused" and "300 s" in body["why"]
    assert weights(client)["v2"] == 10


def test_someone_elses_weight_change_pauses_it(demo):
    client, _, clock, svc = demo
    assert start(client).status_code == 201
    r = client.post(
        "/api/routes/bookinfo/reviews",
        json={"action": "set_weights", "weights": {"v1": 70, "v2": 30}, "dry_run": False},
        headers=client.headers,
    )
    assert r.status_code == 200, r.json
    assert advance(svc, clock, 121) == "paused"
    body = client.get("/api/rollouts/bookinfo/reviews").json
    assert body["state"] == "paused" and "someone else" in body["why"]
    assert weights(client)["v2"] == 30  # never overwritten


def test_people_pause_resume_skip_and_abort(demo):
    client, _, clock, svc = demo
    assert start(client).status_code == 201
    path = "/api/rollouts/bookinfo/reviews"
    assert client.post(f"{path}/pause", headers=client.headers).json["state"] == "paused"
    assert advance(svc, clock, 500) == "idle"
    assert weights(client)["v2"] == 10
    assert client.post(f"{path}/resume", headers=client.headers).json["state"] == "running"
    skipped = client.post(f"{path}/skip", headers=client.headers).json
    assert skipped["step"] == 2 and weights(client)["v2"] == 50
    assert start(client).status_code == 409  # one rollout per service at a time
    aborted = client.post(f"{path}/abort", json={"rollback": True}, headers=client.headers).json
    assert aborted["state"] == "aborted" and weights(client) == {"v1": 100, "v2": 0, "v3": 0}
    assert client.post(f"{path}/explode", headers=client.headers).status_code == 400
    assert client.post(f"{path}/pause", headers=client.headers).status_code == 409


def test_commands_need_the_csrf_token(demo):
    client, _, _, _ = demo
    assert client.post("/api/rollouts/bookinfo/reviews", json=PLAN).status_code == 403
    assert client.get("/api/rollouts/bookinfo/reviews").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"steps": [50, 25, 100]}, "steps"),
        ({"steps": [10, 120]}, "steps"),
        ({"bake_s": 0}, "bake_s"),
        ({"canary": "v9"}, "canary"),
        ({"baseline": "v8"}, "baseline"),
    ],
)
def test_a_bad_plan_is_a_400_naming_the_field_and_writes_nothing(demo, change, field):
    client, _, _, _ = demo
    before = client.get("/api/routes/bookinfo/reviews").json["resource_versions"]
    r = start(client, {**PLAN, **change})
    assert r.status_code == 400 and r.json["field"] == field
    assert client.get("/api/routes/bookinfo/reviews").json["resource_versions"] == before
    assert client.get("/api/rollouts/bookinfo/reviews").status_code == 404
