"""The overview and the lists with Kubernetes' namespace list from the in-test API server
(tests/kubeserver.py over HTTP): quiet namespaces found, a failing Kubernetes named; and the demo
app's overview and lists (its wiring starts the demo's Jaeger endpoint on loopback). The roll-up,
query text and API without either are in tests/unit/test_inventory.py.
"""

from __future__ import annotations

from app import create_app
from collectors.kube import KubeRouteStore
from tests.unit.test_inventory import AT, RowsSource, make_client
from wiring.settings import Settings


def test_kubernetes_namespaces_list_has_real_semantics(kube):
    kube.add_namespace("shop")
    store = KubeRouteStore.for_host(kube.url, audit=None, timeout_s=2)
    assert store.list_namespaces() == ("shop",)
    kube.add_namespace("empty")
    assert store.list_namespaces() == ("empty", "shop")
    import requests

    assert requests.get(f"{kube.url}/api/v1/namespaces/nope", timeout=2).status_code == 404
    assert requests.delete(f"{kube.url}/api/v1/namespaces/shop", timeout=2).status_code == 405


def test_with_kube_a_quiet_namespace_is_found_and_the_overview_lists_it(kube):
    for ns in ("shop", "empty"):
        kube.add_namespace(ns)
    store = KubeRouteStore.for_host(kube.url, audit=None, timeout_s=2)
    client = make_client(RowsSource(), routes=store, kube=True)
    body = client.get("/api/namespaces").get_json()
    rows = {n["namespace"]: n for n in body["namespaces"]}
    assert body["kubernetes"] is True
    assert rows["empty"]["has_traffic"] is False and rows["payments"]["in_kubernetes"] is False
    quiet = client.get("/api/list?kind=service&namespace=empty")
    assert quiet.status_code == 200 and quiet.get_json()["quiet"] == ["empty"]
    missing = client.get("/api/list?kind=service&namespace=emty")
    assert missing.status_code == 404 and missing.get_json()["suggestions"] == ["empty"]
    assert "Kubernetes does not know it" in missing.get_json()["error"]


def test_demo_mode_serves_the_overview_and_lists():
    client = create_app(Settings(audit_log="/tmp/meshdash-test-audit.jsonl")).server.test_client()
    overview = client.get("/api/namespaces").get_json()
    assert {n["namespace"] for n in overview["namespaces"]} == {"bookinfo", "istio-system"}
    services = client.get("/api/list?kind=service&namespace=bookinfo").get_json()["rows"]
    reviews = next(r for r in services if r["name"] == "reviews")
    assert reviews["versions"] == ["v1", "v2", "v3"] and reviews["p95_ms"] > 0


def test_kubernetes_failing_leaves_the_overview_drawn_and_named(kube):
    store = KubeRouteStore.for_host(kube.url, audit=None, timeout_s=2)
    kube.stop()  # nothing answers any more
    body = make_client(RowsSource(), routes=store, kube=True).get("/api/namespaces").get_json()
    assert [f["backend"] for f in body["failures"]] == ["kubernetes"]
    assert {n["namespace"] for n in body["namespaces"]} >= {"shop", "payments"}
    assert all(n["in_kubernetes"] is None for n in body["namespaces"])


# ------------------------------------------------------------------------------ the pages


def test_overview_page_names_kubernetes_failing_and_a_past_instant(kube):
    from tests.dashcalls import DashCalls, banners, text

    store = KubeRouteStore.for_host(kube.url, audit=None, timeout_s=2)
    kube.stop()
    dash = DashCalls(make_client(RowsSource(), routes=store, kube=True))
    _, out, _ = dash.call("ov-table.children", {"ov-window.value": "5m"}, {"ov-at.data": None})
    banner = banners(out)[0]  # (the note inside it counts as a second match)
    assert banner.startswith("Kubernetes is failing: cannot reach")
    assert banner.endswith("(not shown: namespaces without traffic)")
    assert "shop" in text(out["ov-table"])
    _, layout, _ = dash.page("/overview", f"?at={AT - 600:.0f}")
    assert "auto-refresh paused" in text(layout)
