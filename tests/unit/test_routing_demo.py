"""DemoRouteStore: the Kubernetes resourceVersion rules in memory, and the simulator following."""

from __future__ import annotations

import pytest

from demo.mesh import DemoMesh
from demo.routes import DemoRouteStore, seed_objects, version_split
from mesh.errors import BadRequest, Conflict, NotFound
from mesh.routing.objects import VIRTUAL_SERVICE, Write, resource_version
from mesh.routing.plan import parse_action, plan_change
from mesh.routing.selection import ServiceRoutes
from mesh.routing.state import read_routes

T0 = 1_790_000_000.0
NS = "bookinfo"


@pytest.fixture
def sim():
    now = [T0]
    mesh = DemoMesh.bookinfo(clock=lambda: now[0])
    DemoRouteStore.attach(mesh)
    return mesh, now


def plan(store, service, **payload):
    return plan_change(store.get_service(NS, service), parse_action(payload))


def test_seeded_like_bookinfo_and_matching_the_simulator(sim):
    sim, _ = sim
    store = sim.routes
    listed = {r.service: read_routes(r) for r in store.list_services(NS)}
    assert {k: v.weights for k, v in listed.items()} == {
        "details": {"v1": 100},
        "productpage": {"v1": 100},
        "ratings": {"v1": 100},
        "reviews": {"v1": 80, "v2": 10, "v3": 10},
    }
    assert listed["reviews"].subsets == ("v1", "v2", "v3")
    assert (
        "weight"
        not in store.get_service(NS, "details").virtual_service["spec"]["http"][0]["route"][0]
    )
    assert sim.state.split_history(NS, "reviews") == []  # the seed already matches the spec
    with pytest.raises(NotFound):
        store.get_service(NS, "nope")


def test_resource_versions_dry_run_and_conflicts(sim):
    sim, _ = sim
    store = sim.routes
    p = plan(store, "reviews", action="even_split")
    rv = resource_version(p.writes[0].before)
    preview = store.write(p.writes[0], dry_run=True)
    assert resource_version(preview) == rv
    assert resource_version(store.get_service(NS, "reviews").virtual_service) == rv
    stored = store.write(p.writes[0], dry_run=False)
    assert int(resource_version(stored)) > int(rv)
    with pytest.raises(Conflict, match="changed since it was read") as caught:
        store.write(p.writes[0], dry_run=True)  # the same, now stale, version
    assert "weight: 80" in caught.value.diff
    create = Write(VIRTUAL_SERVICE, NS, "reviews", None, p.writes[0].after)
    with pytest.raises(Conflict, match="created by someone else"):
        store.write(create, dry_run=False)
    assert store.snapshot(VIRTUAL_SERVICE, NS, "reviews", rv) == p.writes[0].before


def test_invalid_objects_are_refused(sim):
    sim, _ = sim
    store = sim.routes
    vs = store.get_service(NS, "reviews").virtual_service
    broken = {
        **vs,
        "spec": {
            **vs["spec"],
            "http": [{"route": [{"destination": {"host": "reviews"}, "weight": -1}]}],
        },
    }
    with pytest.raises(BadRequest, match="non-negative"):
        store.write(Write(VIRTUAL_SERVICE, NS, "reviews", vs, broken), dry_run=True)


def test_the_simulator_follows_split_and_mirror_at_the_change_time(sim):
    sim, now = sim
    store = sim.routes
    now[0] = T0 + 100
    for w in plan(store, "reviews", action="take_over", canary="v2").writes:
        store.write(w, dry_run=False)
    assert sim.state.split_at(NS, "reviews", T0 + 99) == {"v1": 80, "v2": 10, "v3": 10}
    assert sim.state.split_at(NS, "reviews", T0 + 100) == {"v1": 0, "v2": 100, "v3": 0}
    for w in plan(store, "reviews", action="mirror", version="v3", percentage=5).writes:
        store.write(w, dry_run=False)
    mirror = sim.state.mirror_at(NS, "reviews", T0 + 100)
    assert (mirror.version, mirror.percent) == ("v3", 5.0)
    for w in plan(store, "reviews", action="mirror", percentage=0).writes:
        store.write(w, dry_run=False)
    assert sim.state.mirror_at(NS, "reviews", T0 + 100) is None


def test_version_split_spreads_a_destination_without_subset():
    vs, dr = seed_objects(NS, "reviews", ("v1", "v2", "v3"), {"v1": 100})
    vs["spec"]["http"][0]["route"] = [{"destination": {"host": "reviews"}}]
    state = read_routes(ServiceRoutes(NS, "reviews", vs, dr))
    assert version_split(state, {"v1": "v1", "v2": "v2", "v3": "v3"}, ("v1", "v2", "v3")) == {
        "v1": 34,
        "v2": 33,
        "v3": 33,
    }
    assert version_split(state, {}, ()) is None  # no versions: nothing to follow
