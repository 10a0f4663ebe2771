"""The shared audit trail in ConfigMaps without a server: how lines are appended and rotated, which
ConfigMap a namespace maps to, and when the settings choose the shared trail. Against
tests/kubeserver.py over HTTP: tests/integration/test_audit_configmaps.py.
"""

from __future__ import annotations

import pytest
from kubernetes import client

from collectors.audit_configmaps import (
    ConfigMapAuditLog,
    appended,
    audit_for,
    shard_names,
    shard_of,
)
from collectors.audit_log import AuditLog
from wiring.settings import Settings


# -- the pure parts ------------------------------------------------------------------------------
def test_appending_skips_lines_already_held_and_rotates_the_oldest_out():
    text, dropped = appended("a\nb\n", ["b", "c"], budget=100)
    assert (text, dropped) == ("a\nb\nc\n", 0)
    text, dropped = appended("aaaa\nbbbb\n", ["cccc"], budget=10)
    assert (text, dropped) == ("bbbb\ncccc\n", 1)
    text, dropped = appended("", ["aaaa", "bbbb", "cccc"], budget=5)
    assert (text, dropped) == ("cccc\n", 2)  # the newest line always stays


def test_a_namespace_always_maps_to_the_same_of_the_granted_names():
    assert len(set(shard_names())) == 16
    assert shard_of("bookinfo") in shard_names()
    assert shard_of("bookinfo") == shard_of("bookinfo")
    assert len({shard_of(f"ns{i}") for i in range(200)}) == 16  # every name gets used


# -- the store -------------------------------------------------------------------------------------


def test_the_settings_choose_the_shared_trail_with_kubernetes(tmp_path):
    api = client.ApiClient(client.Configuration(host="http://127.0.0.1:9"))
    base = {"prometheus_url": "http://127.0.0.1:9", "kube_enabled": True}
    shared = audit_for(Settings(**base, audit_log=tmp_path / "x.jsonl"), api)
    assert isinstance(shared, ConfigMapAuditLog) and shared.namespace == "meshdash"
    alone = audit_for(Settings(**base, audit_log=tmp_path / "x", audit_in_cluster=False), api)
    assert isinstance(alone, AuditLog)
    with pytest.raises(ValueError, match="audit_namespace"):
        Settings(audit_namespace="Not A Namespace")
