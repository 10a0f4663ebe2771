"""The seed's canary story on the demo, in a real browser: 50/50, take over, retire v1."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app import create_app
from config import Settings
from tests.livesrv import serve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def own_demo(tmp_path_factory):
    """A demo app of its own: these tests change its routes."""
    live = serve(create_app(Settings(audit_log=tmp_path_factory.mktemp("audit") / "audit.jsonl")))
    yield live
    live.stop()


def choose(page, dropdown: str, value: str) -> None:
    page.locator(f"#{dropdown}").click()
    page.get_by_role("option", name=value, exact=True).click()
    expect(page.locator(f"#{dropdown}")).to_contain_text(value)


def preview_and_confirm(page, tick: bool = False) -> None:
    expect(page.locator("#rel-diff")).to_be_visible()
    if tick:
        page.locator("#rel-confirm-check input").check()
    page.locator("#rel-confirm").click()
    expect(page.locator("#rel-banner")).to_contain_text("Applied")


def test_fifty_fifty_then_take_over_then_retire(page, own_demo, shot):
    page.goto(own_demo.url + "/releases?namespace=bookinfo&service=reviews")
    expect(page.locator("#rel-bar")).to_contain_text("v1 80%")
    shot("releases-start")

    # 1. 50/50 between v1 and v2 through the exact weights, preview then confirm.
    for version, weight in (("v1", "50"), ("v2", "50"), ("v3", "0")):
        page.locator(f'input[id*="rel-w"][id*="{version}"]').fill(weight)
    expect(page.locator("#rel-weight-sum")).to_contain_text("Sum: 100")
    page.locator("#rel-reason").fill("canary v2 at half")
    page.locator("#rel-btn-weights").click()
    expect(page.locator("#rel-preview-summary")).to_be_visible()
    expect(page.locator("#rel-diff")).to_contain_text("weight: 50")
    shot("releases-preview")
    preview_and_confirm(page)
    expect(page.locator("#rel-bar")).to_contain_text("v1 50%")
    expect(page.locator("#rel-bar")).to_contain_text("v2 50%")
    expect(page.locator('#rel-bar [title^="v3:"]')).to_have_count(0)  # no segment for 0 %

    # The simulated traffic follows: requests to reviews now split about evenly.
    page.wait_for_timeout(16000)  # one demo tick after the change
    body = page.request.get(own_demo.url + "/api/graph?namespace=bookinfo&window=15s").json()
    share = {
        e["target"]: e["share"]
        for e in body["edges"]
        if e["source"] == "bookinfo/productpage-v1" and "reviews" in e["target"]
    }
    v1, v2 = share["bookinfo/reviews-v1"], share["bookinfo/reviews-v2"]
    # productpage sends half its calls to details and half to reviews, now split 50/50
    # (before: 0.40 / 0.05 / 0.05 for v1 / v2 / v3).
    assert v1 == pytest.approx(0.25, abs=0.04), share
    assert v2 == pytest.approx(0.25, abs=0.04), share
    assert share.get("bookinfo/reviews-v3", 0) < 0.02, share

    # 2. Take over all traffic: v2 (the canary) gets 100 %, after explicit confirmation.
    choose(page, "rel-stable", "v1")
    choose(page, "rel-canary", "v2")
    page.locator("#rel-btn-takeover").click()
    preview_and_confirm(page, tick=True)
    expect(page.locator("#rel-bar")).to_contain_text("v2 100%")

    # 3. Retire the old version.
    choose(page, "rel-stable", "v1")
    page.locator("#rel-btn-retire").click()
    preview_and_confirm(page, tick=True)
    expect(page.locator("#rel-bar")).not_to_contain_text("v1")

    # 4. The audit history lists all three.
    audit = page.locator("#rel-audit-table")
    for action in ("set_weights", "take_over", "retire"):
        expect(audit).to_contain_text(action)
    expect(audit).to_contain_text("canary v2 at half")
    shot("releases-after")


def test_weights_not_summing_to_100_are_refused(page, own_demo):
    page.goto(own_demo.url + "/releases?namespace=bookinfo&service=ratings")
    page.goto(own_demo.url + "/releases?namespace=bookinfo&service=reviews")
    inputs = page.locator('input[id*="rel-w"]')
    expect(inputs.first).to_be_visible()
    inputs.first.fill("7")
    expect(page.locator("#rel-weight-sum")).to_contain_text("must add up to 100")
    page.locator("#rel-btn-weights").click()
    expect(page.locator("#rel-banner")).to_contain_text("100")
    expect(page.locator("#rel-preview-card")).to_have_count(0)


def test_circuit_breaker_policy_is_previewed_and_applied(page, own_demo):
    page.goto(own_demo.url + "/releases?namespace=bookinfo&service=reviews")
    expect(page.locator("#rel-bar")).to_be_visible()
    page.locator('input[id*="consecutive5xxErrors"]').fill("5")
    page.locator('input[id*="baseEjectionTime"]').fill("30s")
    page.locator("#rel-btn-policy").click()
    expect(page.locator("#rel-diff")).to_contain_text("consecutive5xxErrors: 5")
    expect(page.locator("#rel-diff")).to_contain_text("DestinationRule")
    page.locator("#rel-confirm").click()
    expect(page.locator("#rel-banner")).to_contain_text("Applied")
    expect(page.locator("#rel-audit-table")).to_contain_text("traffic_policy")


def test_a_conflicting_change_is_shown_not_overwritten(page, own_demo):
    page.goto(own_demo.url + "/releases?namespace=bookinfo&service=ratings")
    page.goto(own_demo.url + "/releases?namespace=bookinfo&service=reviews")
    expect(page.locator("#rel-bar")).to_be_visible()
    before = page.request.get(own_demo.url + "/api/routes/bookinfo/reviews").json()["weights"]
    page.locator("#rel-btn-step").click()
    expect(page.locator("#rel-diff")).to_be_visible()
    # Someone else changes the route between this preview and its confirmation.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "_csrf_token")
    versions = list(before)
    other = {v: (100 if v == versions[-1] else 0) for v in versions}
    r = page.request.post(
        own_demo.url + "/api/routes/bookinfo/reviews",
        data={
            "action": "set_weights",
            "weights": other,
            "reason": "someone else",
            "dry_run": False,
        },
        headers={"X-CSRFToken": token},
    )
    assert r.status == 200, r.text()
    tick = page.locator("#rel-confirm-check input")
    if tick.count():
        tick.check()
    page.locator("#rel-confirm").click()
    conflict = page.locator("#rel-conflict")
    expect(conflict).to_contain_text("Their change")
    expect(conflict.locator("#rel-diff")).to_be_visible()
    after = page.request.get(own_demo.url + "/api/routes/bookinfo/reviews").json()["weights"]
    assert after == other  # the other person's change stands; nothing was overwritten
