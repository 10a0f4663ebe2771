"""KubeRouteStore through the official `kubernetes` client against tests/kubeserver.py.

The fake API server keeps the real server's resourceVersion and dryRun rules, so these tests
check what a cluster would see: replaces carrying the version, dry runs first, 409s answered
with the other person's change, and the v1 -> v1beta1 fallback.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from pathlib import Path

import pytest
import yaml

from access.security import Identity
from collectors.audit_log import AuditLog
from collectors.kube import KubeRouteStore
from mesh.errors import (
    BackendQueryError,
    BackendTimeout,
    BackendUnavailable,
    BadRequest,
    Conflict,
)
from mesh.routing.annotation import LAST_CHANGE_ANNOTATION, annotate
from mesh.routing.objects import VIRTUAL_SERVICE, Write, resource_version
from mesh.routing.plan import parse_action, plan_change
from mesh.routing.selection import ServiceRoutes
from mesh.routing.state import read_routes
from tests.kubeserver import FakeKube
from views.routes import change_route
from wiring.services import Services
from wiring.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "istio"
NS = "bookinfo"
ALICE = Identity("alice", source="token")
BOB = Identity("bob", source="token")


def docs(name: str) -> list[dict]:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"shared Istio fixture {path} is absent (it lives outside the repo)")
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d]


def seed(kube: FakeKube, *names: str, deployments: bool = True) -> None:
    for name in names:
        for d in docs(name):
            kube.add(d)
    if deployments:
        for d in docs("bookinfo.yaml"):
            if d["kind"] == "Deployment":
                kube.add_deployment(d)


def store_for(kube: FakeKube, tmp_path: Path, **kw) -> KubeRouteStore:
    return KubeRouteStore.for_host(
        kube.url, audit=AuditLog(tmp_path / "audit.jsonl"), timeout_s=5, **kw
    )


def services_for(store: KubeRouteStore) -> Services:
    settings = Settings(prometheus_url="http://127.0.0.1:9", kube_enabled=True, write_enabled=True)
    return Services(settings=settings, telemetry=None, routes=store)


def test_reads_services_subsets_weights_and_deployment_versions(kube, tmp_path):
    seed(kube, "virtual-service-reviews-80-20.yaml", "destination-rule-all.yaml")
    store = store_for(kube, tmp_path)
    listed = {r.service: r for r in store.list_services(NS)}
    assert sorted(listed) == ["details", "productpage", "ratings", "reviews"]
    reviews = read_routes(listed["reviews"])
    assert reviews.weights == {"v1": 80, "v2": 20}
    assert reviews.subsets == ("v1", "v2", "v3")
    assert listed["reviews"].versions == ("v1", "v2", "v3")  # from the Deployments' pod labels
    assert listed["ratings"].versions == ("v1",)
    assert read_routes(listed["ratings"]).subsets == ("v1", "v2", "v2-mysql", "v2-mysql-vm")
    paths = {r.path for r in kube.requests}
    assert "/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices" in paths
    assert "/apis/apps/v1/namespaces/bookinfo/deployments" in paths


def test_falls_back_to_v1beta1_when_v1_is_not_served(tmp_path):
    with FakeKube(served={"networking.istio.io": ("v1beta1",)}) as kube:
        seed(kube, "virtual-service-reviews-90-10.yaml", "destination-rule-reviews.yaml")
        store = store_for(kube, tmp_path)
        routes = store.get_service(NS, "reviews")
        assert read_routes(routes).weights == {"v1": 90, "v2": 10}
        p = plan_change(routes, parse_action({"action": "even_split"}))
        stored = store.write(p.writes[0], dry_run=False)
        assert stored["apiVersion"] == "networking.istio.io/v1beta1"
        istio = [r for r in kube.requests if "networking.istio.io" in r.path]
        assert istio[0].path.startswith("/apis/networking.istio.io/v1/")  # tried first, 404
        assert all("/v1beta1/" in r.path for r in istio[1:])
        [put] = kube.writes("PUT")
        assert (
            put.path
            == "/apis/networking.istio.io/v1beta1/namespaces/bookinfo/virtualservices/reviews"
        )


def test_no_istio_api_at_all_is_a_backend_error(tmp_path):
    with FakeKube(served={}) as kube, pytest.raises(BackendQueryError, match="is Istio installed"):
        store_for(kube, tmp_path).list_services(NS)


def test_dry_run_stores_nothing_and_apply_replaces_with_the_resource_version(kube, tmp_path):
    seed(kube, "virtual-service-reviews-80-20.yaml", "destination-rule-reviews.yaml")
    store = store_for(kube, tmp_path)
    routes = store.get_service(NS, "reviews")
    read_rv = resource_version(routes.virtual_service)
    p = plan_change(
        routes, parse_action({"action": "set_weights", "weights": {"v1": 50, "v2": 50}})
    )
    preview = store.write(p.writes[0], dry_run=True)
    assert read_routes(ServiceRoutes(NS, "reviews", preview, None)).weights == {
        "v1": 50,
        "v2": 50,
    }
    assert kube.get("virtualservices", "reviews")["metadata"]["resourceVersion"] == read_rv
    assert kube.get("virtualservices", "reviews")["spec"]["http"][0]["route"][0]["weight"] == 80
    stored = store.write(p.writes[0], dry_run=False)
    assert int(stored["metadata"]["resourceVersion"]) > int(read_rv)
    assert kube.get("virtualservices", "reviews")["spec"]["http"][0]["route"][0]["weight"] == 50
    dry, real = kube.writes("PUT")
    assert dry.query["dryRun"] == ["All"] and "dryRun" not in real.query
    assert real.body["metadata"]["resourceVersion"] == read_rv  # optimistic concurrency
    assert real.body["spec"]["http"] == p.writes[0].after["spec"]["http"]  # the whole list
    assert not kube.writes("PATCH")


def test_a_stale_replace_is_a_conflict_showing_the_other_change(kube, tmp_path):
    seed(kube, "virtual-service-reviews-80-20.yaml", "destination-rule-reviews.yaml")
    store = store_for(kube, tmp_path)
    routes = store.get_service(NS, "reviews")
    mine = plan_change(routes, parse_action({"action": "step_canary"}))
    # Someone else (bob, through meshdash elsewhere) sets 50/50 after we read.
    theirs = annotate(
        plan_change(
            routes, parse_action({"action": "set_weights", "weights": {"v1": 50, "v2": 50}})
        )
        .writes[0]
        .after,
        {"who": "bob", "when": "2026-01-01T00:00:00Z", "action": "set_weights"},
    )
    kube.replace("virtualservices", theirs)
    with pytest.raises(Conflict) as caught:
        store.write(mine.writes[0], dry_run=False)
    err = caught.value
    assert "changed since it was read" in str(err)
    assert "last by bob" in str(err)
    assert "-      weight: 80\n+      weight: 50\n" in err.diff
    assert err.current["spec"]["http"][0]["route"][0]["weight"] == 50
    # nothing was overwritten
    assert kube.get("virtualservices", "reviews")["spec"]["http"][0]["route"][0]["weight"] == 50


def test_a_deleted_object_is_a_conflict_not_a_recreate(kube, tmp_path):
    seed(kube, "virtual-service-reviews-80-20.yaml", "destination-rule-reviews.yaml")
    store = store_for(kube, tmp_path)
    routes = store.get_service(NS, "reviews")
    p = plan_change(routes, parse_action({"action": "rollback"}))
    with kube.lock:
        del kube.objects[("networking.istio.io", "virtualservices", NS, "reviews")]
    with pytest.raises(Conflict, match="was deleted since it was read"):
        store.write(p.writes[0], dry_run=False)
    assert kube.get("virtualservices", "reviews") is None


def test_server_side_validation_refusal_is_a_bad_request(kube, tmp_path):
    seed(kube, "virtual-service-reviews-80-20.yaml")
    store = store_for(kube, tmp_path)
    vs = store.get_service(NS, "reviews").virtual_service
    broken = json.loads(json.dumps(vs))
    broken["spec"]["hosts"] = []
    w = Write(VIRTUAL_SERVICE, NS, "reviews", vs, broken)
    with pytest.raises(BadRequest, match="at least one host"):
        store.write(w, dry_run=True)


def test_objects_are_created_destination_rule_first_after_dry_runs(kube, tmp_path):
    seed(kube)  # Deployments only: no VirtualService or DestinationRule yet
    store = store_for(kube, tmp_path)
    out = change_route(
        services_for(store),
        NS,
        "reviews",
        {
            "action": "set_weights",
            "weights": {"v1": 90, "v2": 10},
            "dry_run": False,
            "reason": "start canary",
        },
        ALICE,
    )
    assert out["applied"] is True
    posts = [(r.path.rsplit("/", 1)[-1], "dryRun" in r.query) for r in kube.writes("POST")]
    assert posts == [
        ("destinationrules", True),
        ("virtualservices", True),
        ("destinationrules", False),
        ("virtualservices", False),
    ]
    vs = kube.get("virtualservices", "reviews")
    assert vs["metadata"]["labels"] == {"kiali_wizard": "traffic_shifting"}
    change = json.loads(vs["metadata"]["annotations"][LAST_CHANGE_ANNOTATION])
    assert change["who"] == "alice" and change["reason"] == "start canary"
    assert change["action"] == "set_weights"
    assert [s["name"] for s in kube.get("destinationrules", "reviews")["spec"]["subsets"]] == [
        "v1",
        "v2",
        "v3",
    ]
    # One audit entry for the action, its objects in write order (make before break).
    (entry,) = store.history(namespace=NS, service="reviews")
    assert [o.kind for o in entry.objects] == ["DestinationRule", "VirtualService"]
    created = entry.object_of("VirtualService")
    assert created.before is None and created.resource_version == vs["metadata"]["resourceVersion"]


def test_retire_removes_the_route_entry_before_the_subset(kube, tmp_path):
    seed(kube, "virtual-service-reviews-90-10.yaml", "destination-rule-reviews.yaml")
    store = store_for(kube, tmp_path)
    svc = services_for(store)
    change_route(svc, NS, "reviews", {"action": "take_over", "dry_run": False}, ALICE)
    out = change_route(
        svc, NS, "reviews", {"action": "retire", "version": "v1", "dry_run": False}, ALICE
    )
    assert set(out["resource_versions"]) == {"VirtualService", "DestinationRule"}
    real_puts = [r.path.rsplit("/", 2)[-2] for r in kube.writes("PUT") if "dryRun" not in r.query]
    assert real_puts == ["virtualservices", "virtualservices", "destinationrules"]
    assert [s["name"] for s in kube.get("destinationrules", "reviews")["spec"]["subsets"]] == [
        "v2",
        "v3",
    ]
    assert kube.get("destinationrules", "reviews")["spec"]["trafficPolicy"] == {
        "loadBalancer": {"simple": "RANDOM"}
    }


def test_rollout_and_flagger_owned_routes_are_read_only(tmp_path):
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "reviews"},
        "spec": {
            "strategy": {
                "canary": {"trafficRouting": {"istio": {"virtualService": {"name": "reviews"}}}}
            }
        },
    }
    with FakeKube(served={"networking.istio.io": ("v1",), "argoproj.io": ("v1alpha1",)}) as kube:
        seed(kube, "virtual-service-reviews-80-20.yaml", "destination-rule-reviews.yaml")
        kube.add(rollout)
        store = store_for(kube, tmp_path)
        assert store.get_service(NS, "reviews").owner == "Argo Rollouts Rollout bookinfo/reviews"
        assert store.get_service(NS, "ratings").owner is None


def test_refused_connection_and_silent_server_are_typed_errors(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = KubeRouteStore.for_host(
        f"http://127.0.0.1:{port}", audit=AuditLog(tmp_path / "a"), timeout_s=1
    )
    with pytest.raises(BackendUnavailable) as caught:
        store.list_services(NS)
    assert caught.value.backend == "kubernetes"
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        store = KubeRouteStore.for_host(
            f"http://127.0.0.1:{silent.getsockname()[1]}",
            audit=AuditLog(tmp_path / "a"),
            timeout_s=0.3,
        )
        started = time.monotonic()
        with pytest.raises(BackendTimeout):
            store.list_services(NS)
        assert time.monotonic() - started < 5


def test_two_people_shifting_at_once_the_second_gets_409_with_the_first_change(kube, tmp_path):
    seed(kube, "virtual-service-reviews-80-20.yaml", "destination-rule-reviews.yaml")
    store = store_for(kube, tmp_path)
    svc = services_for(store)
    both_read = threading.Barrier(2, timeout=10)
    real = store.get_service

    def read_then_wait(namespace, service):
        routes = real(namespace, service)
        both_read.wait()  # both have read the same resourceVersion before either writes
        return routes

    store.get_service = read_then_wait
    results: dict[str, object] = {}

    def shift(who: Identity, weights: dict[str, int]) -> None:
        try:
            results[who.user] = change_route(
                svc,
                NS,
                "reviews",
                {"action": "set_weights", "weights": weights, "dry_run": False},
                who,
            )
        except Conflict as exc:
            results[who.user] = exc

    threads = [
        threading.Thread(target=shift, args=(ALICE, {"v1": 50, "v2": 50})),
        threading.Thread(target=shift, args=(BOB, {"v1": 0, "v2": 100})),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    conflicts = [k for k, v in results.items() if isinstance(v, Conflict)]
    assert len(conflicts) == 1
    loser = results[conflicts[0]]
    winner = "bob" if conflicts[0] == "alice" else "alice"
    assert f"last by {winner}" in str(loser)
    assert "weight: 80" in loser.diff  # the diff shows what the winner changed
    final = kube.get("virtualservices", "reviews")
    weights = read_routes(ServiceRoutes(NS, "reviews", final, None)).weights
    assert weights == ({"v1": 50, "v2": 50} if winner == "alice" else {"v1": 0, "v2": 100})
    assert [e.who for e in store.history(service="reviews")] == [winner]


def test_twenty_concurrent_shifts_lose_no_update(kube, tmp_path):
    seed(kube, "virtual-service-reviews-80-20.yaml", "destination-rule-reviews.yaml")
    store = store_for(kube, tmp_path)
    svc = services_for(store)
    initial_rv = kube.get("virtualservices", "reviews")["metadata"]["resourceVersion"]
    rng = random.Random(5)
    jitter = [rng.uniform(0, 0.01) for _ in range(200)]

    def slow_writes(req) -> None:  # widen the read-to-write window, as a busy API server would
        time.sleep(jitter[len(kube.requests) % len(jitter)])

    kube.before_write = slow_writes
    start = threading.Barrier(20, timeout=30)
    outcomes: list[object] = []
    lock = threading.Lock()

    def shift(i: int) -> None:
        start.wait()
        try:
            out = change_route(
                svc,
                NS,
                "reviews",
                {
                    "action": "step_canary",
                    "canary": "v2",
                    "step": 1,
                    "dry_run": False,
                    "reason": f"shift {i}",
                },
                Identity(f"user{i}", source="token"),
            )
        except Conflict as exc:
            out = exc
        with lock:
            outcomes.append(out)

    threads = [threading.Thread(target=shift, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    applied = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(applied) + len(refused) == 20
    assert applied, "at least the first shift applies"

    final = kube.get("virtualservices", "reviews")
    weights = read_routes(ServiceRoutes(NS, "reviews", final, None)).weights
    # Every applied +1 is in the final object: none was overwritten by a concurrent one.
    assert weights == {"v1": 80 - len(applied), "v2": 20 + len(applied)}
    # Every 409 the server sent became a refusal, and every 200 an applied change.
    real_puts = kube.answered("PUT", dry_run=False)
    assert real_puts.count(200) == len(applied)
    assert real_puts.count(409) + kube.answered("PUT", dry_run=True).count(409) == len(refused)

    # The audit log matches: one entry per applied change, chained by resourceVersion.
    entries = list(reversed(store.history(service="reviews", limit=100)))
    assert len(entries) == len(applied)
    written = [e.object_of("VirtualService") for e in entries]
    assert {w.resource_version for w in written} == {
        o["resource_versions"]["VirtualService"] for o in applied
    }
    chain = initial_rv
    for w in written:
        assert w.before["metadata"]["resourceVersion"] == chain
        chain = w.resource_version
    assert chain == final["metadata"]["resourceVersion"]
    assert written[-1].after["spec"] == final["spec"]
    fresh = AuditLog(tmp_path / "audit.jsonl").history(limit=100)  # re-read from disk
    assert [e.change_id for e in fresh] == [e.change_id for e in reversed(entries)]
