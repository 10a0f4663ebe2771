"""The releases page shifting a Gateway API HTTPRoute in a real browser, against the in-test
Kubernetes API server seeded with Istio's Gateway API Bookinfo route and per-version Services:
preview (server-side dry run, nothing stored), apply (replace with the resourceVersion, read
back from the API server), the audit entry, and a 409 when the route changed underneath."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml
from playwright.sync_api import expect

from app import create_app
from collectors.audit_log import AuditLog
from collectors.kube import KubeRouteStore
from devtools.livesrv import serve
from mesh.routing.annotation import annotate
from mesh.routing.gateway_api import GATEWAY_GROUP
from tests.conftest import shared_path
from tests.kubeserver import FakeKube
from wiring.services import build_services
from wiring.settings import Settings

pytestmark = pytest.mark.browser

REVIEWS = "/releases?namespace=bookinfo&service=reviews"


def gateway_docs(name: str) -> list[dict]:
    path = shared_path("fixtures", "istio", "gateway-api", name)
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.fixture
def kube_app(tmp_path):
    """The dashboard (demo telemetry) with its routes in the in-test Kubernetes API server."""
    kube = FakeKube()
    kube.start()
    for svc in gateway_docs("bookinfo-versions.yaml"):
        kube.add_service(svc)
    for obj in gateway_docs("route-reviews-90-10.yaml"):
        kube.add(obj)
    settings = Settings(audit_log=tmp_path / "audit.jsonl")
    store = KubeRouteStore.for_host(kube.url, audit=AuditLog(tmp_path / "kube-audit.jsonl"))
    live = serve(create_app(settings, replace(build_services(settings), routes=store)))
    yield kube, live.url
    live.stop()
    kube.stop()


def stored_weights(kube: FakeKube) -> dict[str, int]:
    route = kube.get("httproutes", "reviews", group=GATEWAY_GROUP)
    return {r["name"]: r["weight"] for r in route["spec"]["rules"][0]["backendRefs"]}


def choose(page, dropdown: str, value: str) -> None:
    page.locator(f"#{dropdown}").click()
    page.get_by_role("option", name=value, exact=True).click()  # the menu renders in a portal
    expect(page.locator(f"#{dropdown}")).to_contain_text(value)


def confirm(page, reason: str) -> None:
    """Confirm the open preview, ticking the override box when the canary verdict asks for it."""
    dialog = page.locator("#rel-preview-card")
    expect(dialog.locator("#rel-diff")).to_be_visible()
    dialog.locator("#rel-reason").fill(reason)
    if dialog.locator("#rel-confirm-check input").count():
        dialog.locator("#rel-confirm-check input").check()
    expect(dialog.locator("#rel-confirm")).to_be_enabled()
    dialog.locator("#rel-confirm").click()


def test_httproute_weights_previewed_applied_audited_and_conflicts_shown(page, kube_app, shot):
    kube, base = kube_app
    page.goto(base + REVIEWS)
    bar = page.locator("#rel-bar")
    expect(bar).to_contain_text("v1 90%", timeout=20000)  # the first page load, on a busy CPU
    expect(bar).to_contain_text("v2 10%")
    expect(page.locator("#rel-api")).to_have_text("Gateway API HTTPRoute reviews")
    expect(page.locator("#rel-services")).to_contain_text("Gateway API")
    expect(page.locator("#rel-btn-policy")).to_be_disabled()  # a DestinationRule's, not here
    shot("httproute-1-start-1440")
    page.set_viewport_size({"width": 1024, "height": 768})
    shot("httproute-1-start-1024")
    page.set_viewport_size({"width": 1440, "height": 900})

    # Preview: a server-side dry run of the HTTPRoute replace; nothing is stored.
    rv = kube.get("httproutes", "reviews", group=GATEWAY_GROUP)["metadata"]["resourceVersion"]
    page.locator("#rel-btn-even").click()
    dialog = page.locator("#rel-preview-card")
    expect(dialog.locator("#rel-preview-summary")).to_contain_text("v1 90%→50%")
    expect(dialog.locator("#rel-diff")).to_contain_text("weight: 50")
    shot("httproute-2-preview")
    dry = [w for w in kube.writes("PUT") if "httproutes" in w.path]
    assert dry and all(w.query.get("dryRun") == ["All"] for w in dry)
    assert stored_weights(kube) == {"reviews-v1": 90, "reviews-v2": 10}

    # Apply: replaced carrying the resourceVersion read, and read back from the API server.
    confirm(page, "even split on the HTTPRoute")
    expect(page.locator("#rel-banner")).to_contain_text("Applied")
    expect(bar).to_contain_text("v1 50%")
    expect(bar).to_contain_text("v2 50%")
    assert stored_weights(kube) == {"reviews-v1": 50, "reviews-v2": 50}
    (real,) = [w for w in kube.writes("PUT") if "dryRun" not in w.query]
    assert real.path == "/apis/gateway.networking.k8s.io/v1/namespaces/bookinfo/httproutes/reviews"
    assert real.body["metadata"]["resourceVersion"] == rv
    audit = page.locator("#rel-audit")
    expect(audit).to_contain_text("HTTPRoute reviews")
    expect(audit).to_contain_text("even split on the HTTPRoute")
    entries = page.request.get(base + "/api/audit?namespace=bookinfo&service=reviews").json()
    assert [e["reason"] for e in entries["entries"]] == ["even split on the HTTPRoute"]
    shot("httproute-3-applied")

    # Someone else changes the HTTPRoute between the preview and the confirmation: a 409.
    page.locator("#rel-btn-step").click()
    expect(page.locator("#rel-diff")).to_be_visible()
    theirs = kube.get("httproutes", "reviews", group=GATEWAY_GROUP)
    for ref, w in zip(theirs["spec"]["rules"][0]["backendRefs"], (20, 80), strict=True):
        ref["weight"] = w
    kube.replace(
        "httproutes",
        annotate(
            theirs,
            {
                "who": "bob",
                "when": "2026-01-01T00:00:00Z",
                "action": "set_weights",
                "reason": "bob ramps v2",
            },
        ),
        group=GATEWAY_GROUP,
    )
    confirm(page, "another step")
    conflict = page.locator("#rel-conflict")
    expect(conflict).to_contain_text("Someone else changed this route")
    expect(conflict).to_contain_text("Nothing was applied")
    expect(conflict.locator("#rel-their-diff")).to_contain_text("bob ramps v2")
    shot("httproute-4-conflict")
    assert stored_weights(kube) == {"reviews-v1": 20, "reviews-v2": 80}
    conflict.locator("#rel-cancel").click()
    expect(bar).to_contain_text("v2 80%")
    entries = page.request.get(base + "/api/audit?namespace=bookinfo&service=reviews").json()
    assert len(entries["entries"]) == 1


def test_the_ambient_demo_moves_its_httproute_from_the_buttons(page, tmp_path, shot):
    live = serve(create_app(Settings(demo_ambient=True, audit_log=tmp_path / "audit.jsonl")))
    try:
        page.goto(live.url + REVIEWS)
        bar = page.locator("#rel-bar")
        expect(bar).to_contain_text("v1 80%", timeout=20000)
        expect(page.locator("#rel-api")).to_have_text("Gateway API HTTPRoute reviews")
        shot("httproute-ambient-demo-1440")
        page.set_viewport_size({"width": 1024, "height": 768})
        shot("httproute-ambient-demo-1024")
        page.set_viewport_size({"width": 1440, "height": 900})
        page.locator("#rel-btn-even").click()
        expect(page.locator("#rel-preview-summary")).to_contain_text("v1 80%→50%")
        expect(page.locator("#rel-diff")).to_contain_text("HTTPRoute/bookinfo/reviews")
        confirm(page, "ambient 50/50")
        expect(page.locator("#rel-banner")).to_contain_text("Applied")
        expect(bar).to_contain_text("v1 50%")
        expect(bar).to_contain_text("v2 50%")
        body = page.request.get(live.url + "/api/routes/bookinfo/reviews").json()
        assert (body["api"], body["weights"]) == ("HTTPRoute", {"v1": 50, "v2": 50, "v3": 0})
        entries = page.request.get(live.url + "/api/audit?service=reviews").json()["entries"]
        assert [e["reason"] for e in entries] == ["ambient 50/50"]

        # The content canary is a match rule of the HTTPRoute; mirroring a RequestMirror filter.
        page.locator("#rel-match-name").fill("end-user")
        page.locator("#rel-match-value").fill("jason")
        choose(page, "rel-match-version", "v3")
        page.locator("#rel-btn-match").click()
        expect(page.locator("#rel-diff")).to_contain_text("end-user")
        expect(page.locator("#rel-diff")).to_contain_text("matches:")
        confirm(page, "testers see v3")
        matches = page.locator("#rel-matches")
        expect(matches).to_contain_text("header end-user exact jason")
        expect(matches).to_contain_text("→ v3")
        choose(page, "rel-mirror-version", "v3")
        page.locator("#rel-mirror-percent").fill("20")
        page.locator("#rel-btn-mirror").click()
        expect(page.locator("#rel-diff")).to_contain_text("RequestMirror")
        confirm(page, "shadow v3")
        expect(page.locator("#rel-mirror-now")).to_contain_text("20% of live traffic copied to v3")
        route = page.request.get(live.url + "/api/routes/bookinfo/reviews").json()
        assert route["mirrors"] == [{"subset": "v3", "percentage": 20.0, "host": "reviews-v3"}]
        page.locator("#rel-matches").scroll_into_view_if_needed()
        shot("httproute-ambient-match-mirror")
        page.locator("#rel-btn-mirror-stop").click()
        confirm(page, "done shadowing")
        expect(page.locator("#rel-mirror-now")).to_contain_text("Not mirroring")
        page.locator("#rel-matches button").click()
        confirm(page, "testers done")
        expect(page.locator("#rel-matches")).to_contain_text("No request-content route")
    finally:
        live.stop()
