"""/api/routes and /api/audit over the demo mesh: the seed's canary story, previews, refusals.

The app has only the API registered, over a real DemoMesh with the demo route store attached,
so an applied change is checked where the user sees it: in the simulator's traffic.
"""

from __future__ import annotations

import pytest
from flask import Flask

import api
from access import security
from demo.mesh import DemoMesh
from demo.routes import DemoRouteStore
from mesh.telemetry_records import GraphQuery, GraphView
from wiring.services import Services
from wiring.settings import Settings

T0 = 1_790_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def demo():
    clock = Clock()
    sim = DemoMesh.bookinfo(clock=clock)
    DemoRouteStore.attach(sim)
    svc = Services(
        settings=Settings(), telemetry=sim.telemetry, routes=sim.routes, demo=sim, clock=clock
    )
    app = Flask("test_routing_api")
    api.register(app, svc)
    client = app.test_client()
    client.get("/api/routes")
    client.headers = {security.CSRF_HEADER: client.get_cookie(security.CSRF_COOKIE).value}
    return client, sim, clock


def post(client, body, service="reviews"):
    return client.post(f"/api/routes/bookinfo/{service}", json=body, headers=client.headers)


def reviews_rates(sim, at: float) -> dict[str, float]:
    """Requests/s from productpage into each reviews version, from the simulated telemetry."""
    telemetry = sim.telemetry.graph_telemetry(
        GraphQuery(("bookinfo",), GraphView.VERSIONED_APP, 60, at)
    )
    out: dict[str, float] = {}
    for r in telemetry.requests:
        if r.destination.app == "reviews" and r.source.app == "productpage":
            out[r.destination.version] = out.get(r.destination.version, 0.0) + r.rps
    return out


def test_list_and_detail(demo):
    client, _, _ = demo
    listed = client.get("/api/routes?namespace=bookinfo").json
    assert listed["source"] == "demo" and listed["user"] == "demo-user" and listed["writable"]
    by_name = {s["service"]: s for s in listed["services"]}
    assert sorted(by_name) == ["details", "productpage", "ratings", "reviews"]
    assert by_name["reviews"]["weights"] == {"v1": 80, "v2": 10, "v3": 10}
    assert by_name["details"]["weights"] == {"v1": 100}
    detail = client.get("/api/routes/bookinfo/reviews").json
    assert detail["subsets"] == ["v1", "v2", "v3"]
    assert detail["matches"] == [] and detail["mirrors"] == [] and detail["owner"] is None
    assert detail["resource_versions"]["VirtualService"]
    assert "set_weights" in detail["actions"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/routes/bookinfo/nope", 404),
        ("/api/routes/Bad_NS/reviews", 400),
        ("/api/routes?namespace=a;b", 400),
        ("/api/audit?limit=0", 400),
    ],
)
def test_bad_reads(demo, path, status):
    client, _, _ = demo
    assert client.get(path).status_code == status


def test_preview_changes_nothing_and_apply_moves_the_traffic(demo):
    client, sim, clock = demo
    before = reviews_rates(sim, clock.now)
    assert before["v1"] == pytest.approx(8 * before["v2"], rel=0.1)  # 80 / 10 / 10
    preview = post(
        client, {"action": "set_weights", "weights": {"v1": 50, "v2": 50}, "reason": "canary"}
    )
    assert preview.status_code == 200
    body = preview.json
    assert body["dry_run"] is True and body["applied"] is False
    assert "+      weight: 50" in body["diff"]
    assert body["after"] == [
        {"subset": "v1", "weight": 50, "host": "reviews"},
        {"subset": "v2", "weight": 50, "host": "reviews"},
        {"subset": "v3", "weight": 0, "host": "reviews"},
    ]
    assert client.get("/api/routes/bookinfo/reviews").json["weights"] == {
        "v1": 80,
        "v2": 10,
        "v3": 10,
    }
    assert client.get("/api/audit").json["entries"] == []

    clock.now += 30
    applied = post(
        client,
        {
            "action": "set_weights",
            "weights": {"v1": 50, "v2": 50},
            "dry_run": False,
            "base": body["base"],
        },
    )
    assert applied.status_code == 200 and applied.json["applied"] is True
    new_rv = applied.json["resource_versions"]["VirtualService"]
    assert int(new_rv) > int(body["base"]["VirtualService"])
    detail = client.get("/api/routes/bookinfo/reviews").json
    assert detail["resource_versions"]["VirtualService"] == new_rv
    assert detail["last_change"]["who"] == "demo-user"
    clock.now += 60  # a window later, the simulated edges carry the new split
    after = reviews_rates(sim, clock.now)
    assert after["v1"] == pytest.approx(after["v2"], rel=0.05)
    assert after.get("v3", 0.0) == pytest.approx(0.0, abs=1e-9)


def test_invalid_requests_are_400_and_change_nothing(demo):
    client, _, _ = demo
    for body, field in [
        ({"action": "set_weights", "weights": {"v1": 60, "v2": 30}, "dry_run": False}, "weights"),
        (
            {"action": "set_weights", "weights": {"v1": -10, "v2": 110}, "dry_run": False},
            "weights",
        ),
        ({"action": "set_weights", "weights": {"v1": 50, "v9": 50}, "dry_run": False}, "weights"),
        ({"action": "retire", "version": "v1", "dry_run": False}, "version"),
        ({"action": "set_weights", "weights": {"v1": 100}, "dry_run": "no"}, "dry_run"),
        ({"action": "fly"}, "action"),
    ]:
        r = post(client, body)
        assert r.status_code == 400, body
        assert r.json["field"] == field, r.json
    assert (
        client.post("/api/routes/bookinfo/reviews", data="x", headers=client.headers).status_code
        == 400
    )
    assert client.get("/api/routes/bookinfo/reviews").json["weights"] == {
        "v1": 80,
        "v2": 10,
        "v3": 10,
    }
    assert client.get("/api/audit").json["entries"] == []


def test_a_change_between_preview_and_confirm_is_a_409_with_that_change(demo):
    client, _, _ = demo
    preview = post(client, {"action": "step_canary", "canary": "v2"}).json
    post(client, {"action": "set_weights", "weights": {"v1": 0, "v2": 100}, "dry_run": False})
    r = post(
        client, {"action": "step_canary", "canary": "v2", "dry_run": False, "base": preview["base"]}
    )
    assert r.status_code == 409
    assert "changed since it was read" in r.json["error"] and "last by demo-user" in r.json["error"]
    assert "-      weight: 80\n+      weight: 0\n" in r.json["diff"]
    assert client.get("/api/routes/bookinfo/reviews").json["weights"] == {
        "v1": 0,
        "v2": 100,
        "v3": 0,
    }


def test_the_seed_story_50_50_take_over_retire(demo):
    client, sim, clock = demo
    steps = [
        {"action": "even_split", "versions": ["v1", "v2"], "reason": "canary v2"},
        {"action": "take_over", "canary": "v2", "reason": "v2 looks good"},
        {"action": "retire", "version": "v1", "reason": "v1 no longer needed"},
    ]
    for step in steps:
        clock.now += 60
        preview = post(client, step).json
        assert preview["changed"] and not preview["applied"]
        r = post(client, {**step, "dry_run": False, "base": preview["base"]})
        assert r.status_code == 200, r.json
    assert preview["confirm"].startswith("v1 is removed")
    detail = client.get("/api/routes/bookinfo/reviews").json
    assert detail["subsets"] == ["v2", "v3"]
    assert detail["split"] == [
        {"subset": "v2", "weight": 100, "host": "reviews"},
        {"subset": "v3", "weight": 0, "host": "reviews"},
    ]
    clock.now += 60
    rates = reviews_rates(sim, clock.now)
    assert rates.get("v1", 0.0) == pytest.approx(0.0, abs=1e-9) and rates["v2"] > 0
    audit = client.get("/api/audit?namespace=bookinfo&service=reviews").json["entries"]
    # One user action, one entry, listing every object it wrote (the retire wrote two).
    assert [(e["action"], [o["kind"] for o in e["objects"]]) for e in audit] == [
        ("retire", ["VirtualService", "DestinationRule"]),
        ("take_over", ["VirtualService"]),
        ("even_split", ["VirtualService"]),
    ]
    assert audit[-1]["reason"] == "canary v2" and audit[-1]["who"] == "demo-user"
    assert len({e["change_id"] for e in audit}) == 3
    # The take-over carries the verdict it was made under (v2 healthy: no override needed).
    assert audit[1]["verdict"]["canary"] == "v2" and audit[1]["override"] is False
    assert client.get("/api/audit?service=details").json["entries"] == []
    assert len(client.get("/api/audit?limit=2").json["entries"]) == 2


def test_mirroring_and_traffic_policy_through_the_api(demo):
    client, sim, clock = demo
    post(client, {"action": "set_weights", "weights": {"v1": 100}, "dry_run": False})
    r = post(client, {"action": "mirror", "version": "v3", "percentage": 25, "dry_run": False})
    assert r.status_code == 200, r.json
    assert client.get("/api/routes/bookinfo/reviews").json["mirrors"] == [
        {"subset": "v3", "percentage": 25.0, "host": "reviews"}
    ]
    mirror = sim.state.mirror_at("bookinfo", "reviews", clock.now + 1)
    assert (mirror.version, mirror.percent) == ("v3", 25.0)
    policy = {
        "action": "traffic_policy",
        "connectionPool": {"maxConnections": 10},
        "outlierDetection": {"consecutive5xxErrors": 3, "interval": "5s"},
        "dry_run": False,
    }
    assert post(client, policy).status_code == 200
    assert client.get("/api/routes/bookinfo/reviews").json["policy"] == {
        "connectionPool": {"tcp": {"maxConnections": 10}},
        "outlierDetection": {"consecutive5xxErrors": 3, "interval": "5s"},
    }
    r = post(client, {"action": "traffic_policy", "outlierDetection": {"maxEjectionPercent": 150}})
    assert r.status_code == 400


def test_routing_not_configured_is_404():
    app = Flask("no_routes")
    api.register(app, Services(settings=Settings(), telemetry=None))
    r = app.test_client().get("/api/routes")
    assert r.status_code == 404 and "--kube" in r.json["error"]
