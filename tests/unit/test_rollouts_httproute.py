"""A guided rollout on a service routed by a Gateway API HTTPRoute (the ambient demo): the steps
are written to the HTTPRoute, and someone else's change to the HTTPRoute pauses the rollout, as
for a VirtualService (tests/unit/test_rollouts_api.py)."""

from __future__ import annotations

import pytest

from tests.unit.test_rollouts_api import rollout_rig
from usecases.assemble import guided_rollouts
from usecases.guided_rollout import holder_id

PLAN = {"canary": "v2", "baseline": "v1", "steps": [10, 50, 100], "bake_s": 120}
GATES = {"bookinfo/reviews": {"slower_effect": 0.9}}  # the demo's v2 is slower by design


@pytest.fixture
def ambient():
    return rollout_rig(GATES, ambient=True)


def start(client):
    return client.post("/api/rollouts/bookinfo/reviews", json=PLAN, headers=client.headers)


def backend_weights(sim) -> dict[str, int]:
    route = sim.routes.get_service("bookinfo", "reviews").http_route
    return {r["name"]: r["weight"] for r in route["spec"]["rules"][0]["backendRefs"]}


def advance(svc, clock, seconds):
    clock.now += seconds
    return guided_rollouts(svc).tick("bookinfo", "reviews", holder_id())


def test_a_rollout_steps_the_httproute_to_promotion(ambient):
    client, sim, clock, svc = ambient
    r = start(client)
    assert r.status_code == 201, r.json
    assert backend_weights(sim) == {"reviews-v1": 90, "reviews-v2": 10, "reviews-v3": 0}
    assert sim.state.split_at("bookinfo", "reviews", clock.now) == {"v1": 90, "v2": 10, "v3": 0}
    assert advance(svc, clock, 121) == "set step 2"
    assert backend_weights(sim) == {"reviews-v1": 50, "reviews-v2": 50, "reviews-v3": 0}
    assert advance(svc, clock, 121) == "set step 3"
    body = client.get("/api/rollouts/bookinfo/reviews").json
    assert body["state"] == "promoted"
    audit = client.get("/api/audit?namespace=bookinfo&service=reviews").json["entries"]
    assert [o["kind"] for e in audit for o in e["objects"]] == ["HTTPRoute"] * 3


def test_someone_elses_httproute_change_pauses_it(ambient):
    client, sim, clock, svc = ambient
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
    assert backend_weights(sim)["reviews-v2"] == 30  # never overwritten
