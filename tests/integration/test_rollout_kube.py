"""Guided rollouts against the in-test Kubernetes API server and a real Prometheus.

Plan and progress live in a ConfigMap beside the route, the driver's right to act in a Lease;
each "process" here is its own set of clients (route store, rollout store, audit trail) with its
own lease holder, sharing only the API server, as two pods do. The verdicts are real: the canary
analysis over Prometheus, backfilled with the canary scenarios of test_canary_prometheus.
"""

from __future__ import annotations

import threading

import pytest

from access.security import Identity
from collectors.audit_configmaps import ConfigMapAuditLog
from collectors.kube import KubeRouteStore
from collectors.prometheus import PrometheusCollector
from collectors.prometheus_canary import PrometheusCanarySource
from collectors.rollout_store import LEASE_S, KubeRolloutStore, object_name
from demo.openmetrics import write_series
from demo.series import mesh_series
from devtools.promserver import PrometheusServer, require_prometheus
from mesh.errors import Conflict, Forbidden
from ops.self_metrics import Metrics
from tests.integration.test_canary_prometheus import END, START, STEP, _scenario
from tests.kubeserver import FakeKube
from usecases.assemble import guided_rollouts
from usecases.guided_rollout import GuidedRollouts
from usecases.release_write import ReleaseWrite
from views.rollouts import control, rollout_detail, start_rollout
from wiring.services import Services
from wiring.settings import Settings

pytestmark = pytest.mark.integration


def tick(services: Services, namespace: str, service: str, holder: str) -> str:
    """One driver step, as the background ticker takes it (serving/rollout_ticker.py)."""
    return guided_rollouts(services).tick(namespace, service, holder)


GOOD, BAD = "canary-equal", "canary-errors"
PERSON = Identity(user="alice", source="token")
PLAN = {"canary": "v2", "baseline": "v1", "steps": [10, 50, 100], "bake_s": 240}


class Clock:
    def __init__(self) -> None:
        self.now = END - 1000

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    require_prometheus()
    workdir = tmp_path_factory.mktemp("rollout-prometheus")
    server = PrometheusServer(workdir)
    om = workdir / "rollout.om"
    scenarios = (_scenario(GOOD), _scenario(BAD, v2_errors=0.05))
    with open(om, "w", encoding="utf-8") as out:
        write_series(
            (s for sc in scenarios for s in mesh_series(sc.model, START, END, STEP)),
            out,
            tmpdir=str(workdir),
        )
    server.load_openmetrics(om)
    server.start()
    try:
        yield server
    finally:
        server.close()


def _objects(namespace: str) -> list[dict]:
    dest = [
        {"destination": {"host": "api", "subset": "v1"}, "weight": 100},
        {"destination": {"host": "api", "subset": "v2"}, "weight": 0},
    ]
    return [
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "api"},
            "spec": {"hosts": ["api"], "http": [{"route": dest}]},
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": "api"},
            "spec": {
                "host": "api",
                "subsets": [{"name": v, "labels": {"version": v}} for v in ("v1", "v2")],
            },
        },
    ]


@pytest.fixture
def kube():
    server = FakeKube()
    server.start()
    for namespace in (GOOD, BAD):
        for obj in _objects(namespace):
            server.add(obj, namespace=namespace)
    yield server
    server.stop()


def process(kube: FakeKube, prom, clock: Clock) -> Services:
    """One app process's view of the cluster: its own clients over the same API server."""
    audit = ConfigMapAuditLog.for_host(kube.url, namespace="meshdash")
    return Services(
        settings=Settings(write_enabled=True, rollout_tick_s=0),
        telemetry=None,
        routes=KubeRouteStore.for_host(kube.url, audit=audit),
        canary=PrometheusCanarySource(PrometheusCollector(prom.url, timeout_s=20)),
        clock=clock,
        rollouts=KubeRolloutStore.for_host(kube.url),
        metrics=Metrics(),
    )


def vs_writes(kube: FakeKube, namespace: str) -> list[dict]:
    """The VirtualService replaces that were applied (dry runs excluded), oldest first."""
    return [
        r.body
        for r in kube.writes("PUT")
        if "/virtualservices/" in r.path and namespace in r.path and "dryRun" not in r.query
    ]


def canary_weight(body: dict) -> int:
    route = body["spec"]["http"][0]["route"]
    return next(d.get("weight", 0) for d in route if d["destination"]["subset"] == "v2")


def test_promotes_on_real_verdicts_with_one_write_per_step(kube, prom):
    clock = Clock()
    app = process(kube, prom, clock)
    assert start_rollout(app, GOOD, "api", PLAN, PERSON)["step"] == 1
    for _ in range(2):
        clock.now += 241
        tick(app, GOOD, "api", "pod-a")
    body = rollout_detail(app, GOOD, "api")
    assert body["state"] == "promoted", body
    assert [canary_weight(b) for b in vs_writes(kube, GOOD)] == [10, 50, 100]
    cm = kube.configmap(object_name("api"), GOOD)
    assert '"state": "promoted"' in cm["data"]["rollout.json"]
    entries = app.routes.history(namespace=GOOD, service="api")
    assert [e.who for e in entries] == ["alice (by rollout)"] * 3


def test_a_failing_canary_rolls_back_by_itself(kube, prom):
    clock = Clock()
    app = process(kube, prom, clock)
    start_rollout(app, BAD, "api", PLAN, PERSON)
    clock.now += 241
    assert tick(app, BAD, "api", "pod-a") == "rolled back"
    body = rollout_detail(app, BAD, "api")
    assert body["state"] == "rolled_back" and body["history"][-1]["verdict"] == "rollback"
    assert [canary_weight(b) for b in vs_writes(kube, BAD)] == [10, 0]


def killed_in_the_first_due_tick(kube, prom, clock: Clock, monkeypatch, owner, at: str) -> None:
    """A process starts the rollout and dies inside its first due tick, where `owner.at` is
    called: nothing of it survives but what it stored in Kubernetes."""
    first = process(kube, prom, clock)
    start_rollout(first, GOOD, "api", PLAN, PERSON)
    clock.now += 241

    def die(*_a, **_k):
        raise SystemExit(f"killed in {owner.__name__}.{at}")

    monkeypatch.setattr(owner, at, die)
    with pytest.raises(SystemExit):
        tick(first, GOOD, "api", "pod-a")
    monkeypatch.undo()


def test_killed_after_the_write_resumes_without_repeating_it(kube, prom, monkeypatch):
    clock = Clock()
    # Between the weight write and storing the step.
    killed_in_the_first_due_tick(kube, prom, clock, monkeypatch, GuidedRollouts, "_finish")
    assert [canary_weight(b) for b in vs_writes(kube, GOOD)] == [10, 50]
    restarted = process(kube, prom, clock)  # a new process with nothing in memory
    assert tick(restarted, GOOD, "api", "pod-b") == "another process drives it"  # lease live
    clock.now += LEASE_S + 1
    assert tick(restarted, GOOD, "api", "pod-b") == "recovered an interrupted write"
    body = rollout_detail(restarted, GOOD, "api")
    assert body["state"] == "running" and body["step"] == 2
    assert [canary_weight(b) for b in vs_writes(kube, GOOD)] == [10, 50]  # not repeated
    clock.now += 241
    tick(restarted, GOOD, "api", "pod-b")
    assert rollout_detail(restarted, GOOD, "api")["state"] == "promoted"
    assert [canary_weight(b) for b in vs_writes(kube, GOOD)] == [10, 50, 100]  # none skipped


def test_killed_before_the_write_makes_it_once_after_restart(kube, prom, monkeypatch):
    clock = Clock()
    # After storing the intent, before the weight write.
    killed_in_the_first_due_tick(kube, prom, clock, monkeypatch, ReleaseWrite, "change")
    assert [canary_weight(b) for b in vs_writes(kube, GOOD)] == [10]
    clock.now += LEASE_S + 1
    restarted = process(kube, prom, clock)
    assert tick(restarted, GOOD, "api", "pod-b") == "recovered an interrupted write"
    assert tick(restarted, GOOD, "api", "pod-b") == "set step 2"
    assert [canary_weight(b) for b in vs_writes(kube, GOOD)] == [10, 50]


def test_two_processes_exactly_one_drives(kube, prom):
    clock = Clock()
    a, b = process(kube, prom, clock), process(kube, prom, clock)
    start_rollout(a, GOOD, "api", PLAN, PERSON)
    for _ in range(2):
        clock.now += 241
        said: dict[str, str] = {}

        def drive(app: Services, holder: str, said: dict[str, str] = said) -> None:
            said[holder] = tick(app, GOOD, "api", holder)

        threads = [
            threading.Thread(target=drive, args=(s, h)) for s, h in ((a, "pod-a"), (b, "pod-b"))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(said.values()).count("another process drives it") == 1, said
    assert [canary_weight(w) for w in vs_writes(kube, GOOD)] == [10, 50, 100]
    lease = kube.leases[(GOOD, object_name("api"))]
    assert lease["spec"]["holderIdentity"] in ("pod-a", "pod-b")


def test_a_manual_weight_edit_pauses_it(kube, prom):
    clock = Clock()
    app = process(kube, prom, clock)
    start_rollout(app, GOOD, "api", PLAN, PERSON)
    vs = kube.objects[("networking.istio.io", "virtualservices", GOOD, "api")]
    edited = {
        **vs,
        "spec": {
            **vs["spec"],
            "http": [
                {
                    "route": [
                        {"destination": {"host": "api", "subset": "v1"}, "weight": 70},
                        {"destination": {"host": "api", "subset": "v2"}, "weight": 30},
                    ]
                }
            ],
        },
    }
    kube.objects[("networking.istio.io", "virtualservices", GOOD, "api")] = {
        **edited,
        "metadata": {**vs["metadata"], "resourceVersion": kube.next_rv()},
    }
    clock.now += 241
    assert tick(app, GOOD, "api", "pod-a") == "paused"
    body = rollout_detail(app, GOOD, "api")
    assert body["state"] == "paused" and "someone else" in body["why"]
    assert [canary_weight(b) for b in vs_writes(kube, GOOD)] == [10]  # never overwritten
    with pytest.raises(Conflict):
        start_rollout(app, GOOD, "api", PLAN, PERSON)
    assert control(app, GOOD, "api", "abort", {}, PERSON)["state"] == "aborted"


def test_a_route_owned_by_flagger_is_refused_and_nothing_is_written(kube, prom):
    objects = _objects("owned")
    objects[0]["metadata"]["ownerReferences"] = [
        {"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "name": "api"}
    ]
    for obj in objects:
        kube.add(obj, namespace="owned")
    app = process(kube, prom, Clock())
    with pytest.raises(Forbidden, match="managed by Flagger Canary owned/api"):
        start_rollout(app, "owned", "api", PLAN, PERSON)
    assert kube.writes() == [] and kube.configmap(object_name("api"), "owned") is None
