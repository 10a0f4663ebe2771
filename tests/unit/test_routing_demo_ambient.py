"""The ambient demo (--demo-ambient) routes with the Gateway API: per-version Services and an
HTTPRoute per service; the release actions move the HTTPRoute and the simulated traffic follows,
with the same dry run, resourceVersion, 409 and audit as the sidecar demo's VirtualServices."""

from __future__ import annotations

import pytest

from access.security import Identity
from demo.mesh import DemoMesh
from demo.routes import DemoRouteStore
from mesh.errors import BadRequest, Conflict
from mesh.routing.gateway_api import HTTP_ROUTE
from mesh.routing.objects import Write
from mesh.routing.plan import parse_action, plan_change
from mesh.routing.state import read_routes
from usecases.release_context import release_context
from views.routes import change_route, route_detail
from wiring.services import ROUTES, Services
from wiring.settings import Settings

T0 = 1_790_000_000.0
NS = "bookinfo"
ALICE = Identity("alice", source="token")


@pytest.fixture
def ambient():
    now = [T0]
    mesh = DemoMesh.bookinfo(ambient=True, clock=lambda: now[0])
    store = DemoRouteStore.attach(mesh)
    settings = Settings(write_enabled=True)
    services = Services(settings=settings, telemetry=None, routes=store, clock=lambda: now[0])
    return mesh, services, now


def test_reviews_is_split_by_an_httproute_over_per_version_services(ambient):
    mesh, services, _ = ambient
    routes = mesh.routes.get_service(NS, "reviews")
    assert routes.virtual_service is None and routes.destination_rule is None
    assert routes.http_route["spec"]["parentRefs"][0] == {
        "group": "",
        "kind": "Service",
        "name": "reviews",
        "port": 9080,
    }
    assert routes.backends == (("reviews-v1", "v1"), ("reviews-v2", "v2"), ("reviews-v3", "v3"))
    detail = route_detail(services, NS, "reviews", ALICE)
    assert (detail["api"], detail["http_route"]) == ("HTTPRoute", "reviews")
    assert (
        detail["weights"]
        == mesh.state.split_at(NS, "reviews", T0)
        == {
            "v1": 80,
            "v2": 10,
            "v3": 10,
        }
    )
    assert detail["writable"] is True


def test_buttons_move_the_httproute_and_the_traffic_follows_with_an_audit_entry(ambient):
    mesh, services, now = ambient
    now[0] = T0 + 60
    payload = {"action": "step_canary", "canary": "v3", "step": 20, "reason": "ambient canary"}
    preview = change_route(services, NS, "reviews", payload, ALICE)
    assert preview["applied"] is False
    assert mesh.state.split_at(NS, "reviews", T0 + 60) == {"v1": 80, "v2": 10, "v3": 10}
    out = change_route(
        services, NS, "reviews", {**payload, "dry_run": False, "base": preview["base"]}, ALICE
    )
    assert out["applied"] is True and out["resource_versions"].keys() == {HTTP_ROUTE}
    assert mesh.state.split_at(NS, "reviews", T0 + 59) == {"v1": 80, "v2": 10, "v3": 10}
    assert mesh.state.split_at(NS, "reviews", T0 + 60) == {"v1": 60, "v2": 10, "v3": 30}
    (entry,) = mesh.routes.history(service="reviews")
    assert [(o.kind, o.name) for o in entry.objects] == [(HTTP_ROUTE, "reviews")]
    context = release_context(services.find(ROUTES), NS, "reviews", T0 + 61)
    assert context.split == {"v1": 60, "v2": 10, "v3": 30}
    (marker,) = context.markers
    assert dict(marker.before) == {"v1": 80, "v2": 10, "v3": 10}
    assert dict(marker.after) == {"v1": 60, "v2": 10, "v3": 30}


def test_stale_httproute_write_conflicts_and_bad_weights_are_refused(ambient):
    mesh, _services, _ = ambient
    store = mesh.routes
    routes = store.get_service(NS, "reviews")
    first = plan_change(routes, parse_action({"action": "rollback", "stable": "v1"})).writes[0]
    second = plan_change(routes, parse_action({"action": "take_over", "canary": "v2"})).writes[0]
    store.write(first, dry_run=False)
    with pytest.raises(Conflict):
        store.write(second, dry_run=False)
    assert read_routes(store.get_service(NS, "reviews")).weights == {"v1": 100, "v2": 0, "v3": 0}
    broken = store.get_service(NS, "reviews").http_route
    broken["spec"]["rules"][0]["backendRefs"][0]["weight"] = -1
    with pytest.raises(BadRequest, match="weight must be an integer from 0 to 1000000"):
        store.write(Write(HTTP_ROUTE, NS, "reviews", broken, broken), dry_run=True)
