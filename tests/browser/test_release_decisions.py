"""Issue 13's eight reported cases, replayed in the demo in a real browser: each gives the
right answer now. Every test runs on a demo app of its own (they change routes and faults)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app import create_app
from demo.history import STORY
from devtools.clock import MovableClock
from devtools.livesrv import serve
from tests.browser.test_review_page import refresh_later
from wiring.services import build_services
from wiring.settings import Settings

pytestmark = pytest.mark.browser

REVIEW = "/review?namespace=bookinfo&service=reviews&refresh=off"
RELEASES = "/releases?namespace=bookinfo&service=reviews"


@pytest.fixture
def own_demo(tmp_path):
    """A demo app of the test's own, with a clock the test moves (`own_demo.clock`)."""
    settings = Settings(audit_log=tmp_path / "audit.jsonl")
    clock = MovableClock()
    live = serve(create_app(settings, build_services(settings, clock=clock)))
    live.clock = clock  # type: ignore[attr-defined]
    yield live
    live.stop()


def api_post(page, base: str, body: dict) -> dict:
    """POST /api/routes as the browser's user (its cookies and CSRF header)."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "_csrf_token")
    r = page.request.post(
        f"{base}/api/routes/bookinfo/reviews",
        data={"dry_run": False, **body},
        headers={"X-CSRFToken": token},
    )
    assert r.ok, r.text()
    return r.json()


def verdict(page) -> str:
    return page.locator("#rv-verdict").get_attribute("data-verdict") or ""


def wait_for_verdict(page, clock: MovableClock, wanted: str, seconds: float = 60) -> None:
    """Refresh the review as the demo's time moves on (30 s a refresh, no real wait) until the
    verdict is `wanted`; the traffic since the change is then large enough to decide."""
    deadline = time.monotonic() + seconds
    while verdict(page) != wanted and time.monotonic() < deadline:
        refresh_later(page, clock, 30)
    expect(page.locator("#rv-verdict")).to_have_attribute("data-verdict", wanted)


def open_releases(page, base: str, query: str = "") -> None:
    page.goto(base + RELEASES + query)
    expect(page.locator("#rel-bar")).to_be_visible(timeout=20_000)


def test_case1_a_baseline_that_does_not_exist_is_refused_not_promoted(page, own_demo, shot):
    page.goto(own_demo.url + REVIEW + "&baseline=v9&canary=v2")
    banner = page.locator("#rv-banner")
    expect(banner).to_contain_text("baseline v9 is not a version of reviews", timeout=20_000)
    expect(banner).to_contain_text("its versions: v1, v2, v3")
    expect(banner).not_to_contain_text("None")
    expect(page.locator("#rv-verdict")).to_have_count(0)
    expect(page.get_by_text("Promote")).to_have_count(0)
    shot("i13-case1-unknown-baseline")


def test_case2_baseline_equal_to_canary_is_refused_and_kept_as_asked(page, own_demo, shot):
    page.goto(own_demo.url + REVIEW + "&baseline=v2&canary=v2")
    expect(page.locator("#rv-banner")).to_contain_text(
        "baseline and canary must be different versions", timeout=20_000
    )
    expect(page.locator("#rv-canary")).to_contain_text("v2")  # not silently changed to v1
    expect(page.locator("#rv-verdict")).to_have_count(0)
    assert "canary=v2" in page.url and "baseline=v2" in page.url
    shot("i13-case2-same-versions")


def test_case3_after_a_roll_back_the_review_says_so_and_offers_nothing(page, own_demo, shot):
    base = own_demo.url
    page.goto(base + REVIEW + "&baseline=v1&canary=v2")
    expect(page.locator("#rv-verdict")).to_be_visible(timeout=20_000)
    api_post(page, base, {"action": "even_split", "versions": ["v1", "v2"], "reason": "half"})
    page.locator("#rv-sim-fail").click()
    expect(page.locator("#rv-sim-status")).to_contain_text("5% extra 5xx")
    wait_for_verdict(page, own_demo.clock, "rollback")
    expect(page.locator("#rv-headline")).to_contain_text("Roll back: v2 fails")
    action = page.locator("#rv-action")
    expect(action).to_have_text("Roll back to v1")
    shot("i13-case3-rollback-verdict")
    # The review's button opens the releases PREVIEW; nothing changes until confirmed there.
    action.click()
    dialog = page.locator("#rel-preview-card")
    expect(dialog.locator("#rel-diff")).to_be_visible(timeout=20_000)
    weights = page.request.get(base + "/api/routes/bookinfo/reviews").json()["weights"]
    assert weights == {"v1": 50, "v2": 50, "v3": 0}
    dialog.locator("#rel-reason").fill("v2 fails 5 %")
    # Opened from a link: Confirm waits for the page's own confirmation tick.
    expect(dialog.locator("#rel-confirm")).to_be_disabled()
    expect(dialog.locator("#rel-confirm-check")).to_contain_text("opened from a link")
    dialog.locator("#rel-confirm-check input").check()
    dialog.locator("#rel-confirm").click()
    expect(page.locator("#rel-banner")).to_contain_text("Applied")
    # Rolled back: the roll-back button cannot apply any more.
    expect(page.locator("#rel-btn-rollback")).to_be_disabled()
    page.goto(base + REVIEW + "&baseline=v1&canary=v2")
    expect(page.locator("#rv-verdict")).to_have_attribute(
        "data-verdict", "nothing_to_judge", timeout=20_000
    )
    expect(page.locator("#rv-headline")).to_contain_text("Rolled back to v1 at ")
    expect(page.locator("#rv-headline")).to_contain_text("v2 gets no traffic")
    expect(page.locator("#rv-split")).to_have_text("split now: v1 100%")
    expect(page.locator("#rv-action")).to_have_count(0)
    expect(page.get_by_text("Roll back to v1")).to_have_count(0)
    shot("i13-case3-rolled-back")


def test_case4_after_take_over_and_retire_no_zero_weight_canary_and_one_audit_row(
    page, own_demo, shot
):
    base = own_demo.url
    page.goto(base + REVIEW)
    expect(page.locator("#rv-verdict")).to_be_visible(timeout=20_000)
    api_post(
        page,
        base,
        {
            "action": "take_over",
            "canary": "v2",
            "override": True,
            "reason": "v2 is slower by design",
        },
    )
    api_post(page, base, {"action": "retire", "version": "v1", "reason": "v1 gone"})
    page.goto(base + REVIEW)  # no versions asked: the page picks the release in progress
    expect(page.locator("#rv-verdict")).to_have_attribute(
        "data-verdict", "nothing_to_judge", timeout=20_000
    )
    expect(page.locator("#rv-headline")).to_contain_text("v2 took over all traffic at ")
    expect(page.locator("#rv-headline")).to_contain_text("v3 gets none")
    expect(page.locator("#rv-reasons")).not_to_contain_text("traffic gate passed")
    rows = page.locator("#rv-audit tbody tr")
    # The retire once, though it wrote two objects; below them the demo's own history.
    expect(rows).to_have_count(2 + len(STORY))
    expect(rows.nth(0)).to_contain_text("retire")
    expect(rows.nth(0)).to_contain_text("VirtualService reviews, DestinationRule reviews")
    expect(rows.nth(1)).to_contain_text("override of the Hold verdict on v2")
    shot("i13-case4-after-retire")
    open_releases(page, base)
    history = page.locator("#rel-audit-table tbody tr")
    expect(history).to_have_count(2 + len(STORY))  # the same two, then the demo's history
    expect(history.nth(2)).to_contain_text(STORY[-1].who)


def test_case5_take_over_against_a_hold_verdict_needs_an_explicit_override(page, own_demo, shot):
    base = own_demo.url
    open_releases(page, base)
    # In the demo v2 calls ratings and is slower than v1: the verdict is hold.
    expect(page.locator("#rel-cv-verdict")).to_have_attribute(
        "data-verdict", "hold", timeout=20_000
    )
    takeover = page.locator("#rel-btn-takeover")
    expect(takeover).not_to_have_class("md-button md-button-primary")
    takeover.click()
    dialog = page.locator("#rel-preview-card")
    box = dialog.locator("#rel-preview-verdict")
    expect(box).to_have_attribute("data-verdict", "hold")
    expect(box).to_contain_text("Verdict on v2 against v1: Hold")
    expect(box).to_contain_text("v2 is slower than v1")
    check = dialog.locator("#rel-confirm-check")
    expect(check).to_contain_text("I am overriding the Hold verdict on v2")
    expect(check).not_to_contain_text("I understand")
    go = dialog.locator("#rel-confirm")
    expect(go).to_have_text("Override and apply")
    expect(go).to_be_disabled()
    check.locator("input").check()
    expect(go).to_be_disabled()  # ticked but no reason yet: still nothing to click
    assert page.request.get(base + "/api/routes/bookinfo/reviews").json()["weights"]["v2"] == 10
    dialog.locator("#rel-reason").fill("the extra latency is the ratings call, expected")
    expect(go).to_be_enabled()
    shot("i13-case5-override")
    go.click()
    expect(page.locator("#rel-banner")).to_contain_text("Applied")
    entry = page.request.get(base + "/api/audit?service=reviews").json()["entries"][0]
    assert entry["override"] is True and entry["verdict"]["verdict"] == "hold"
    # A deep link may open a preview, never a write one click away from the link itself.
    open_releases(page, base, "&action=promote&baseline=v2&canary=v3")
    expect(page.locator("#rel-preview-card")).to_be_visible()
    assert page.request.get(base + "/api/audit?service=reviews").json()["entries"][0] == entry


def test_case6_the_release_page_follows_every_apply_without_a_reload(page, own_demo, shot):
    base = own_demo.url
    open_releases(page, base)
    api_post(page, base, {"action": "take_over", "canary": "v2", "override": True, "reason": "x"})
    open_releases(page, base)
    retire = page.locator("#rel-btn-retire")
    expect(retire).to_have_text("Retire v1")
    retire.click()
    dialog = page.locator("#rel-preview-card")
    dialog.locator("#rel-confirm-check input").check()
    dialog.locator("#rel-confirm").click()
    expect(page.locator("#rel-banner")).to_contain_text("Applied")
    # Roles, labels and enabled buttons follow the new split at once.
    expect(page.locator("#rel-stable")).to_contain_text("v2")
    expect(page.locator("#rel-canary")).to_contain_text("v3")
    expect(retire).to_have_text("Retire v3")  # the role without traffic
    expect(page.locator("#rel-btn-step")).to_have_text("+10% to v3")
    rollback = page.locator("#rel-btn-rollback")
    expect(rollback).to_have_text("Roll back to v2")
    expect(rollback).to_be_disabled()  # already all on v2: it would change nothing
    assert (rollback.get_attribute("title") or "").startswith("Not available:")
    shot("i13-case6-after-retire")
    # 50/50 between v2 and v3: now both roles are live, so Retire cannot apply.
    page.locator("#rel-btn-even").click()
    page.locator("#rel-preview-card #rel-confirm").click()
    expect(page.locator("#rel-banner")).to_contain_text("Applied")
    expect(retire).to_have_text("Retire v2")
    expect(retire).to_be_disabled()
    expect(retire).to_have_attribute(
        "title",
        "Not available: v2 still receives 50% of traffic; take over all traffic with "
        "another version first",
    )
    expect(rollback).to_be_enabled()
    shot("i13-case6-after-retire")


def test_case7_refusals_are_sentences_with_the_value_given(page, own_demo, shot):
    base = own_demo.url
    open_releases(page, base)
    page.locator("input[id*='rel-w'][id*='\"v1\"']").fill("-10")
    page.locator("input[id*='rel-w'][id*='\"v2\"']").fill("110")
    page.locator("input[id*='rel-w'][id*='\"v3\"']").fill("0")
    expect(page.locator("#rel-weight-sum")).to_contain_text(
        "v1 -10, v2 110: weights are whole numbers from 0 to 100"
    )
    page.locator("#rel-btn-weights").click()
    banner = page.locator("#rel-banner")
    expect(banner).to_contain_text(
        "Not changed: weight of v1 must be a whole number from 0 to 100; got -10"
    )
    for leak in ("None", "Invalid input", "Sum: 0"):
        expect(page.locator("body")).not_to_contain_text(leak)
    shot("i13-case7-weights")
    page.locator("#rel-mirror-percent").fill("150")
    page.locator("#rel-btn-mirror").click()
    expect(banner).to_contain_text(
        "Not changed: the mirrored percentage must be from 0 to 100; got 150"
    )
    expect(banner).not_to_contain_text("required")
    # A valid click the model refuses is "Not changed", not "Invalid input".
    page.locator("#rel-btn-even").click()
    page.locator("#rel-preview-card #rel-reason").fill("half")
    page.locator("#rel-preview-card #rel-confirm").click()
    expect(banner).to_contain_text("Applied")
    expect(page.locator("#rel-btn-even")).to_be_disabled()  # already 50/50: a no-op
    expect(page.locator("#rel-btn-even")).to_have_attribute(
        "title", "Not available: nothing to change"
    )


def test_case8_self_time_compares_like_with_like_and_claims_only_what_it_can(page, own_demo, shot):
    base = own_demo.url
    page.goto(base + REVIEW + "&baseline=v1&canary=v2")
    expect(page.locator("#rv-verdict")).to_be_visible(timeout=20_000)
    findings = page.locator("#rv-time-findings")
    findings.scroll_into_view_if_needed()
    expect(findings).to_contain_text("Sample: randomly sampled traces only; v1 ")
    text = findings.inner_text()
    # productpage does not depend on the reviews version: no difference may be claimed there.
    assert "productpage:" not in text, text
    assert "median" in text or "Not enough traces" in text or "No difference" in text, text
    shot("i13-case8-self-time")
    with page.expect_download() as md_dl:
        page.locator("#rv-download-md").click()
    md = Path(md_dl.value.path()).read_text()
    assert "median self time per request" in md
    assert "Sample: randomly sampled traces only" in md
    assert "- productpage:" not in md
