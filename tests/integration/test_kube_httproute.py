"""HTTPRoute weights through KubeRouteStore and views.routes against tests/kubeserver.py, seeded
with Istio's own Gateway API Bookinfo route and per-version Services: the same dry run,
resourceVersion, 409 and audit as a VirtualService write."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from access.security import Identity
from collectors.audit_log import AuditLog
from collectors.kube import KubeRouteStore
from mesh.errors import Conflict
from mesh.routing.annotation import annotate
from mesh.routing.gateway_api import GATEWAY_GROUP
from mesh.routing.plan import parse_action, plan_change
from mesh.routing.state import read_routes
from tests.conftest import shared_path
from tests.kubeserver import FakeKube
from views.routes import change_route, route_detail, routes_list
from wiring.services import Services
from wiring.settings import Settings

NS = "bookinfo"
ALICE = Identity("alice", source="token")


def gateway_docs(name: str) -> list[dict]:
    path = shared_path("fixtures", "istio", "gateway-api", name)
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def seed(kube: FakeKube, route: str = "route-reviews-90-10.yaml") -> None:
    for svc in gateway_docs("bookinfo-versions.yaml"):
        kube.add_service(svc)
    kube.add_service({"metadata": {"name": "reviews"}, "spec": {"selector": {"app": "reviews"}}})
    for obj in gateway_docs(route):
        kube.add(obj)


def route_of(kube: FakeKube) -> dict:
    obj = kube.get("httproutes", "reviews", group=GATEWAY_GROUP)
    assert obj is not None
    return obj


def weights_of(kube: FakeKube) -> list[tuple[str, int]]:
    return [(r["name"], r["weight"]) for r in route_of(kube)["spec"]["rules"][0]["backendRefs"]]


@pytest.fixture
def kube():
    with FakeKube() as server:
        yield server


def services_for(kube: FakeKube, tmp_path: Path) -> tuple[Services, KubeRouteStore]:
    store = KubeRouteStore.for_host(kube.url, audit=AuditLog(tmp_path / "audit.jsonl"), timeout_s=5)
    settings = Settings(prometheus_url="http://127.0.0.1:9", kube_enabled=True, write_enabled=True)
    return Services(settings=settings, telemetry=None, routes=store), store


def test_lists_the_httproute_service_and_says_which_api_routes_it(kube, tmp_path):
    seed(kube)
    svc, _store = services_for(kube, tmp_path)
    listed = {s["service"]: s for s in routes_list(svc, NS, ALICE)["services"]}
    assert sorted(listed) == ["reviews"]
    reviews = listed["reviews"]
    assert reviews["api"] == "HTTPRoute" and reviews["http_route"] == "reviews"
    assert reviews["weights"] == {"v1": 90, "v2": 10}
    assert reviews["subsets"] == ["v1", "v2", "v3"]
    assert reviews["writable"] is True
    paths = {r.path for r in kube.requests}
    assert "/apis/gateway.networking.k8s.io/v1/namespaces/bookinfo/httproutes" in paths
    assert "/api/v1/namespaces/bookinfo/services" in paths


def test_preview_dry_runs_and_changes_nothing_then_apply_replaces_and_audits(kube, tmp_path):
    seed(kube)
    svc, store = services_for(kube, tmp_path)
    read_rv = route_of(kube)["metadata"]["resourceVersion"]
    payload = {"action": "set_weights", "weights": {"v1": 70, "v2": 30}, "reason": "ramp"}
    preview = change_route(svc, NS, "reviews", payload, ALICE)
    assert preview["applied"] is False and preview["base"] == {
        "VirtualService": "",
        "DestinationRule": "",
        "HTTPRoute": read_rv,
    }
    assert [(w["kind"], w["op"]) for w in preview["writes"]] == [("HTTPRoute", "replace")]
    assert "+      weight: 70\n" in preview["diff"]
    assert weights_of(kube) == [("reviews-v1", 90), ("reviews-v2", 10)]
    assert route_of(kube)["metadata"]["resourceVersion"] == read_rv
    (dry,) = kube.writes("PUT")
    assert dry.query["dryRun"] == ["All"]
    assert dry.path == "/apis/gateway.networking.k8s.io/v1/namespaces/bookinfo/httproutes/reviews"

    applied = change_route(
        svc, NS, "reviews", {**payload, "dry_run": False, "base": preview["base"]}, ALICE
    )
    assert applied["applied"] is True
    assert weights_of(kube) == [("reviews-v1", 70), ("reviews-v2", 30)]
    real = kube.writes("PUT")[-1]
    assert "dryRun" not in real.query and real.body["metadata"]["resourceVersion"] == read_rv
    assert not kube.writes("PATCH")
    assert (
        route_of(kube)["spec"]["parentRefs"]
        == gateway_docs("route-reviews-90-10.yaml")[0]["spec"]["parentRefs"]
    )
    (entry,) = store.history(service="reviews")
    assert (entry.who, entry.action, entry.reason) == ("alice", "set_weights", "ramp")
    assert [(o.kind, o.name) for o in entry.objects] == [("HTTPRoute", "reviews")]
    assert entry.objects[0].before["spec"]["rules"][0]["backendRefs"][0]["weight"] == 90
    assert entry.objects[0].after["spec"]["rules"][0]["backendRefs"][0]["weight"] == 70
    assert entry.summary == "reviews set weights: v1 90%→70%, v2 10%→30%"
    detail = route_detail(svc, NS, "reviews", ALICE)
    assert detail["last_change"]["who"] == "alice"


def test_a_change_underneath_is_a_409_with_the_diff_and_nothing_is_overwritten(kube, tmp_path):
    seed(kube)
    svc, store = services_for(kube, tmp_path)
    payload = {"action": "step_canary", "canary": "v2", "step": 10}
    preview = change_route(svc, NS, "reviews", payload, ALICE)
    routes = store.get_service(NS, "reviews")
    theirs = plan_change(
        routes, parse_action({"action": "set_weights", "weights": {"v1": 50, "v2": 50}})
    ).writes[0]
    kube.replace(
        "httproutes",
        annotate(theirs.after, {"who": "bob", "action": "set_weights"}),
        group=GATEWAY_GROUP,
    )
    with pytest.raises(Conflict) as caught:
        change_route(
            svc, NS, "reviews", {**payload, "dry_run": False, "base": preview["base"]}, ALICE
        )
    assert "HTTPRoute" in str(caught.value) and "bob" in str(caught.value)
    assert "-      weight: 90\n+      weight: 50\n" in caught.value.diff
    assert weights_of(kube) == [("reviews-v1", 50), ("reviews-v2", 50)]
    assert store.history(service="reviews") == []
    # The store itself refuses a replace carrying the stale resourceVersion.
    mine = plan_change(routes, parse_action(payload)).writes[0]
    with pytest.raises(Conflict, match="changed since it was read"):
        store.write(mine, dry_run=False)
    assert kube.answered("PUT", dry_run=False)[-1] == 409


def test_v1beta1_only_gateway_api_is_read_and_written_at_v1beta1(tmp_path):
    served = {"networking.istio.io": ("v1",), GATEWAY_GROUP: ("v1beta1",)}
    with FakeKube(served=served) as kube:
        seed(kube, "route-reviews-50-v3.yaml")
        svc, _store = services_for(kube, tmp_path)
        out = change_route(
            svc, NS, "reviews", {"action": "take_over", "canary": "v3", "dry_run": False}, ALICE
        )
        assert out["applied"] is True
        assert weights_of(kube) == [("reviews-v1", 0), ("reviews-v3", 100)]
        (put,) = [w for w in kube.writes("PUT") if "dryRun" not in w.query]
        assert put.path.startswith("/apis/gateway.networking.k8s.io/v1beta1/")
        assert put.body["apiVersion"] == "gateway.networking.k8s.io/v1beta1"


def test_both_a_virtual_service_and_an_httproute_is_refused_naming_both(kube, tmp_path):
    seed(kube)
    kube.add(
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "reviews"},
            "spec": {
                "hosts": ["reviews"],
                "http": [{"route": [{"destination": {"host": "reviews"}}]}],
            },
        }
    )
    svc, _store = services_for(kube, tmp_path)
    detail = route_detail(svc, NS, "reviews", ALICE)
    assert detail["api"] == "both"
    assert (
        "VirtualService reviews (reviews 100%) and HTTPRoute reviews (v1 90%, v2 10%)"
        in (detail["problem"])
    )
    with pytest.raises(Conflict, match="does not guess"):
        change_route(svc, NS, "reviews", {"action": "rollback", "stable": "v1"}, ALICE)
    assert not kube.writes()


def test_httproutes_meshdash_may_not_list_keep_routes_read_only(tmp_path):
    with FakeKube(forbidden={f"httproutes.{GATEWAY_GROUP}"}) as kube:
        kube.add(
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": "reviews"},
                "spec": {
                    "hosts": ["reviews"],
                    "http": [{"route": [{"destination": {"host": "reviews"}}]}],
                },
            }
        )
        svc, store = services_for(kube, tmp_path)
        routes = store.get_service(NS, "reviews")
        assert "httproutes.gateway.networking.k8s.io" in (routes.owner or "")
        assert route_detail(svc, NS, "reviews", ALICE)["writable"] is False
        assert read_routes(routes).api == "VirtualService"
