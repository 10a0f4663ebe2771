"""deploy/'s NetworkPolicy admits only the proxy and Prometheus. gunicorn itself, in front of hung
backends: tests/integration/test_hardening_gunicorn.py.
"""

from __future__ import annotations


def test_the_network_policy_admits_only_the_proxy_and_prometheus():
    from tests.unit.test_deploy_manifests import DEPLOY, assemble, one

    objects = assemble(DEPLOY / "base")
    policy = one(objects, "NetworkPolicy")
    pod_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    # Every peer is narrowed by both a namespace and a pod selector: no "from anywhere".
    assert peers and all(p["namespaceSelector"]["matchLabels"] for p in peers)
    assert all(p["podSelector"]["matchLabels"] for p in peers)
    assert {"meshdash.io/access": "proxy"} in [p["podSelector"]["matchLabels"] for p in peers]
    ports = {port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]}
    assert ports == {8050}
    data = one(objects, "ConfigMap")["data"]
    assert int(data["MESHDASH_BACKEND_WAITERS"]) < int(data["MESHDASH_THREADS"])
