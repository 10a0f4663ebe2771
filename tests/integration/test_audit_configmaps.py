"""The shared audit trail in ConfigMaps, through the official client against tests/kubeserver.py.

The in-test server keeps the real server's ConfigMap rules (resourceVersion, 409, dryRun, the
1 MiB limit answered 422), so these tests check what replicas sharing a cluster would see.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from collectors.audit_configmaps import (
    DATA_KEY,
    MAX_BYTES,
    ConfigMapAuditLog,
    shard_of,
)
from collectors.audit_log import AuditLog
from collectors.kube import KubeRouteStore
from mesh.errors import AuditNotShared
from mesh.releases.audit import AuditEntry, AuditObject
from tests.kubeserver import FakeKube

AUDIT_NS = "meshdash"


def entry(i: int, service: str = "reviews", namespace: str = "bookinfo", pad: int = 0):
    vs = {"metadata": {"resourceVersion": str(i)}, "spec": {"pad": "x" * pad}}
    return AuditEntry(
        when=1_790_000_000.0 + i,
        who=f"user{i}",
        action="set_weights",
        reason=f"step {i}",
        namespace=namespace,
        service=service,
        objects=(
            AuditObject(
                kind="VirtualService",
                name=service,
                before=vs,
                after={"metadata": {"resourceVersion": str(i + 1)}},
                resource_version=str(i + 1),
            ),
        ),
        change_id=f"c{i}",
        summary=f"reviews set weights {i}",
    )


def trail(kube: FakeKube, tmp_path, name: str = "a", **kw) -> ConfigMapAuditLog:
    local = AuditLog(tmp_path / name / "audit.jsonl")
    return ConfigMapAuditLog.for_host(kube.url, namespace=AUDIT_NS, local=local, **kw)


def core(kube: FakeKube) -> client.CoreV1Api:
    return client.CoreV1Api(client.ApiClient(client.Configuration(host=kube.url)))


def ids(entries) -> list[str]:
    return [e.change_id for e in entries]


# -- the in-test API server keeps the real ConfigMap semantics ---------------------------------
def test_configmaps_have_resource_versions_conflicts_dry_run_and_the_1_mib_limit(kube):
    api = core(kube)
    body = {"metadata": {"name": "cm"}, "data": {"k": "v"}}
    assert api.create_namespaced_config_map(AUDIT_NS, body, dry_run="All").metadata.name == "cm"
    assert kube.configmap("cm", AUDIT_NS) is None  # a dry run stores nothing
    made = api.create_namespaced_config_map(AUDIT_NS, body)
    with pytest.raises(ApiException) as taken:
        api.create_namespaced_config_map(AUDIT_NS, body)
    assert taken.value.status == 409 and "already exists" in taken.value.body
    rv = made.metadata.resource_version
    fresh = {"metadata": {"name": "cm", "resourceVersion": rv}, "data": {"k": "w"}}
    updated = api.replace_namespaced_config_map("cm", AUDIT_NS, fresh)
    assert int(updated.metadata.resource_version) > int(rv)
    with pytest.raises(ApiException) as stale:  # the same, old resourceVersion again
        api.replace_namespaced_config_map("cm", AUDIT_NS, fresh)
    assert stale.value.status == 409 and "has been modified" in stale.value.body
    assert kube.configmap("cm", AUDIT_NS)["data"] == {"k": "w"}
    # Keys and values past 1 MiB: 422 Invalid, as ValidateConfigMap answers; nothing stored.
    big = {"metadata": {"name": "cm"}, "data": {"k": "x" * (1024 * 1024)}}
    with pytest.raises(ApiException) as too_big:
        api.replace_namespaced_config_map("cm", AUDIT_NS, big)
    assert too_big.value.status == 422
    assert "Too long: must have at most 1048576 bytes" in json.loads(too_big.value.body)["message"]
    at_limit = {"metadata": {"name": "cm"}, "data": {"k": "x" * (1024 * 1024 - 1)}}
    assert api.replace_namespaced_config_map("cm", AUDIT_NS, at_limit)  # unconditional: allowed
    with pytest.raises(ApiException) as bad_key:
        api.create_namespaced_config_map(AUDIT_NS, {"metadata": {"name": "x"}, "data": {"a/b": ""}})
    assert bad_key.value.status == 422
    with pytest.raises(ApiException) as missing:
        api.read_namespaced_config_map("nope", AUDIT_NS)
    assert missing.value.status == 404 and json.loads(missing.value.body)["message"] == (
        'configmaps "nope" not found'
    )


def test_an_immutable_configmap_refuses_data_changes(kube):
    api = core(kube)
    api.create_namespaced_config_map(
        AUDIT_NS, {"metadata": {"name": "frozen"}, "data": {"k": "v"}, "immutable": True}
    )
    with pytest.raises(ApiException) as refused:
        api.replace_namespaced_config_map(
            "frozen", AUDIT_NS, {"metadata": {"name": "frozen"}, "data": {"k": "w"}}
        )
    assert refused.value.status == 422 and "immutable" in refused.value.body


# -- the store -------------------------------------------------------------------------------------
def test_two_replicas_list_the_same_history_in_the_same_order(kube, tmp_path):
    a, b = trail(kube, tmp_path, "a"), trail(kube, tmp_path, "b")
    assert a.history() == []  # no ConfigMap yet: an empty trail, not an error
    a.record([entry(1)])
    b.record([entry(2), entry(3, "ratings")])
    a.record([entry(4, namespace="shop")])
    for replica in (a, b):
        assert ids(replica.history(namespace="bookinfo")) == ["c3", "c2", "c1"]
        assert ids(replica.history(namespace="bookinfo", service="reviews")) == ["c2", "c1"]
        assert ids(replica.history()) == ["c4", "c3", "c2", "c1"]
        assert ids(replica.history(limit=2)) == ["c4", "c3"]
    assert a.history(namespace="bookinfo") == b.history(namespace="bookinfo")
    assert b.history(namespace="bookinfo")[-1] == entry(1)  # every field round-trips
    # Each replica's own file holds only what it recorded: the second copy.
    assert ids(AuditLog(tmp_path / "a" / "audit.jsonl").history()) == ["c4", "c1"]
    # A new replica with an empty disk reads the whole trail.
    fresh = trail(kube, tmp_path, "new")
    assert ids(fresh.history()) == ["c4", "c3", "c2", "c1"]
    stored = kube.configmap(shard_of("bookinfo"), AUDIT_NS)
    assert stored["metadata"]["labels"]["app.kubernetes.io/component"] == "audit-trail"
    assert [json.loads(x)["change_id"] for x in stored["data"][DATA_KEY].splitlines()] == [
        "c1",
        "c2",
        "c3",
    ]


def test_concurrent_appends_from_two_replicas_lose_nothing(kube, tmp_path):
    a, b = trail(kube, tmp_path, "a"), trail(kube, tmp_path, "b")

    def write(replica: ConfigMapAuditLog, start: int) -> None:
        for i in range(start, start + 15):
            replica.record([entry(i)])

    threads = [
        threading.Thread(target=write, args=(r, n * 100))
        for n, r in enumerate((a, b, a, b))  # two threads per replica, four writers
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = a.history(limit=500)
    assert len(got) == 60 and len(set(ids(got))) == 60
    assert ids(b.history(limit=500)) == ids(got)
    assert 409 in kube.answered("PUT", dry_run=False)  # replicas did collide, and retried
    # Each writer's own entries keep their order.
    for n in range(4):
        mine = [int(c[1:]) for c in reversed(ids(got)) if int(c[1:]) // 100 == n]
        assert mine == list(range(n * 100, n * 100 + 15))


def test_a_full_configmap_rotates_the_oldest_out_and_never_fails(kube, tmp_path):
    log = trail(kube, tmp_path)
    for i in range(14):  # ~95 KB each: past the 1 MiB limit after 11
        log.record([entry(i, pad=95_000)])
    stored = kube.configmap(shard_of("bookinfo"), AUDIT_NS)
    size = sum(len(k) + len(v.encode()) for k, v in stored["data"].items())
    assert MAX_BYTES - 100_000 < size <= MAX_BYTES < 1024 * 1024
    kept = ids(log.history(limit=500))
    assert kept[0] == "c13" and kept == [f"c{i}" for i in range(13, 13 - len(kept), -1)]
    assert 9 <= len(kept) < 14  # the oldest rotated out
    assert 422 not in kube.answered("PUT", dry_run=False)
    assert log.pending == 0
    # The local copy keeps everything this replica recorded.
    assert len(AuditLog(tmp_path / "a" / "audit.jsonl").history(limit=500)) == 14


def test_an_entry_larger_than_a_configmap_is_kept_without_its_objects(kube, tmp_path):
    log = trail(kube, tmp_path)
    log.record([entry(1, pad=1_100_000)])
    [kept] = log.history()
    assert kept.change_id == "c1"
    assert [(o.kind, o.before, o.after) for o in kept.objects] == [("VirtualService", None, None)]
    assert kept.who == "user1" and kept.summary == "reviews set weights 1"


def test_an_unwritable_trail_is_reported_kept_and_retried(kube, tmp_path):
    down = threading.Event()
    down.set()

    def drop(req) -> None:
        if down.is_set() and "/configmaps" in req.path:
            raise ConnectionAbortedError("the API server dropped the connection")

    kube.before_write = drop
    a = trail(kube, tmp_path, "a", retry_every_s=0.1)
    b = trail(kube, tmp_path, "b")
    with pytest.raises(AuditNotShared, match="kubernetes"):
        a.record([entry(1)])
    assert a.pending == 1
    assert ids(AuditLog(tmp_path / "a" / "audit.jsonl").history()) == ["c1"]  # local copy
    assert ids(a.history()) == ["c1"]  # this replica lists its pending entry
    assert b.history() == []  # the other does not, yet
    down.clear()
    deadline = time.monotonic() + 10
    while a.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert a.pending == 0
    assert ids(b.history()) == ["c1"]
    assert ids(a.history()) == ["c1"]  # once, not twice


def test_a_route_change_whose_record_fails_says_it_is_applied_and_not_yet_recorded(kube, tmp_path):
    from tests.integration.test_kube_store import ALICE, seed, services_for
    from views.routes import audit_list, change_route

    seed(kube, "virtual-service-reviews-80-20.yaml", "destination-rule-all.yaml")
    down = threading.Event()
    down.set()

    def drop(req) -> None:
        if down.is_set() and "/configmaps" in req.path:
            raise ConnectionAbortedError("the API server dropped the connection")

    kube.before_write = drop
    log = trail(kube, tmp_path, retry_every_s=0.1)
    store = KubeRouteStore.for_host(kube.url, audit=log, timeout_s=5)
    svc = services_for(store)
    payload = {"action": "set_weights", "weights": {"v1": 50, "v2": 50}, "dry_run": False}
    body = change_route(svc, "bookinfo", "reviews", payload, ALICE)
    assert body["applied"] is True
    assert body["audit"]["recorded"] is False
    assert "applied in the cluster" in body["audit"]["message"]
    assert "retried" in body["audit"]["message"]
    vs = kube.get("virtualservices", "reviews")
    assert [d["weight"] for d in vs["spec"]["http"][0]["route"]] == [50, 50]  # applied
    down.clear()
    deadline = time.monotonic() + 10
    while log.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    other = trail(kube, tmp_path, "b")
    assert [e["change_id"] for e in audit_list(svc, "bookinfo", "reviews")["entries"]] == [
        e.change_id for e in other.history(namespace="bookinfo")
    ]
    assert other.history(namespace="bookinfo")[0].change_id == body["change_id"]
    body2 = change_route(
        svc, "bookinfo", "reviews", {**payload, "weights": {"v1": 100, "v2": 0}}, ALICE
    )
    assert body2["audit"] == {"recorded": True, "message": ""}


def test_a_failing_local_copy_does_not_lose_the_shared_record(kube, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the var/ directory should be")
    log = ConfigMapAuditLog.for_host(
        kube.url, namespace=AUDIT_NS, local=AuditLog(blocker / "audit.jsonl")
    )
    log.record([entry(1)])  # no error: the shared trail has it
    assert ids(trail(kube, tmp_path, "other").history()) == ["c1"]
