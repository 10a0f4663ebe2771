"""The release review page in a real browser, on a demo app of its own (the story changes the
simulator and the routes): reviews-v3 deployed at 0%, made slow, shifted to 50% through the
API; the verdict turns to roll back with its reason, the weight change is marked on the
chart, and the downloaded report carries the verdict.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app import create_app
from devtools.clock import MovableClock
from devtools.livesrv import serve
from tests.review_demo import WITHOUT_V3, demo_services
from wiring.settings import Settings

pytestmark = pytest.mark.browser

REVIEW = "/review?namespace=bookinfo&service=reviews&baseline=v1&canary=v3&window=10m&refresh=off"


@pytest.fixture
def own_demo(tmp_path):
    """A demo where reviews runs v1 90 / v2 10 and v3 is deployed but gets no traffic yet; its
    clock (`own_demo.clock`) is the test's to move."""
    settings = Settings(audit_log=tmp_path / "audit.jsonl")
    clock = MovableClock()
    services = demo_services(reviews_split=WITHOUT_V3, settings=settings, clock=clock)
    live = serve(create_app(settings, services))
    live.clock = clock  # type: ignore[attr-defined]
    yield live
    live.stop()


def verdict(page) -> str:
    return page.locator("#rv-verdict").get_attribute("data-verdict") or ""


def refresh_later(page, clock: MovableClock, seconds: float = 10) -> None:
    """Move the demo's time on by `seconds` and refresh the review, then wait until that load is
    drawn (its window ends later): a click before it lands would cancel it, and the page would
    never change under a busy machine. (`span#`: the window picker has the same id.)"""
    shown = page.locator("#rv-window-facts").inner_text()
    clock.advance(seconds)
    page.locator("#rv-refresh-now").click()
    expect(page.locator("#rv-window-facts")).not_to_have_text(shown, timeout=30_000)
    page.wait_for_load_state("networkidle")  # and the callbacks chained to it (the charts)


def shift_through_the_api(page, base: str, weights: dict[str, int]) -> dict:
    """POST /api/routes as the browser's user: its cookies, and the CSRF cookie echoed."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "_csrf_token")
    r = page.request.post(
        f"{base}/api/routes/bookinfo/reviews",
        data={
            "action": "set_weights",
            "weights": weights,
            "dry_run": False,
            "reason": "v3 to half",
        },
        headers={"X-CSRFToken": token},
    )
    assert r.ok, r.text()
    return r.json()


def test_slow_canary_at_half_turns_the_verdict_to_roll_back(page, own_demo, shot):
    page.goto(own_demo.url + REVIEW)
    expect(page.locator("#rv-verdict")).to_be_visible(timeout=20_000)
    assert verdict(page) == "nothing_to_judge"  # v3 is deployed at 0 %: no release yet
    expect(page.locator("#rv-verdict-word")).to_have_text("Nothing to judge")
    expect(page.locator("#rv-headline")).to_contain_text("v3 gets no traffic in the current split")
    expect(page.locator("#rv-action")).to_have_count(0)  # no action would change anything

    # 1. Make reviews-v3 slow in the simulator (the demo-only control).
    page.locator("#rv-sim-slow").click()
    expect(page.locator("#rv-sim-status")).to_have_text("reviews-v3: 10× slower")

    # 2. Shift it to 50% through the API, with the CSRF token, as the releases page would.
    applied = shift_through_the_api(page, own_demo.url, {"v1": 50, "v2": 0, "v3": 50})
    assert applied["applied"] is True

    # 3. The verdict turns to roll back, with its reason, once v3 has served its minimum sample:
    # the demo's time moves on 10 s a refresh instead of the test waiting for it.
    deadline = time.monotonic() + 45
    while verdict(page) != "rollback" and time.monotonic() < deadline:
        refresh_later(page, own_demo.clock)
    expect(page.locator("#rv-verdict")).to_have_attribute("data-verdict", "rollback")
    expect(page.locator("#rv-verdict-word")).to_have_text("Roll back")
    expect(page.locator("#rv-headline")).to_contain_text(
        "Roll back: v3 answers 1 request in 100 slower than"
    )
    expect(page.locator("#rv-stats li").first).not_to_be_visible()  # statistics: one click away
    page.locator("#rv-stats summary").click()
    expect(page.locator("#rv-stats li").first).to_contain_text("latency gate failed: canary p99")
    action = page.locator("#rv-action")
    expect(action).to_have_text("Roll back to v1")
    assert "action=rollback" in (action.get_attribute("href") or "")

    # 4. The weight change is marked on the success-rate chart (and on the latency chart).
    for chart in ("#rv-success-graph", "#rv-latency-graph"):
        expect(page.locator(f"{chart} .annotation-text", has_text="v1 50 · v3 50")).to_have_count(1)
    # The graph diff names the new dependency the canary brought.
    expect(page.locator("#rv-diff")).to_contain_text("reviews-v3 → ratings-v1")
    expect(page.locator("#rv-audit")).to_contain_text("v3 to half")
    shot("review-rollback")
    page.locator("#rv-success-graph").scroll_into_view_if_needed()
    shot("review-rollback-charts")

    # 5. Download the report: one HTML file holding the verdict and its reason.
    with page.expect_download() as html_dl:
        page.locator("#rv-download-html").click()
    html_file = html_dl.value
    assert html_file.suggested_filename.startswith("review-bookinfo-reviews-v3-vs-v1-")
    text = Path(html_file.path()).read_text()
    assert "data-verdict='rollback'" in text and "ROLL BACK" in text
    assert "v3 answers 1 request in 100 slower than" in text
    assert "latency gate failed: canary p99" in text.split("Appendix: statistics")[1]
    with page.expect_download() as md_dl:
        page.locator("#rv-download-md").click()
    md = Path(md_dl.value.path()).read_text()
    assert "**Verdict: ROLL BACK**" in md and "| + appeared | reviews-v3 → ratings-v1 |" in md


def test_review_is_in_the_navigation_and_picks_the_versions(page, live_demo, shot):
    """From the nav with no query: the service with versions, the busiest two, and a verdict."""
    page.goto(live_demo.url + "/")
    page.locator("#nav-review").click()
    expect(page.locator("#rv-verdict")).to_be_visible(timeout=20_000)
    expect(page.locator("#rv-service")).to_contain_text("reviews")
    expect(page.locator("#rv-baseline")).to_contain_text("v1")
    expect(page.locator("#rv-canary")).to_contain_text("v2")
    assert "baseline=v1" in page.url and "canary=v2" in page.url
    assert verdict(page) in ("promote", "continue", "hold", "rollback", "insufficient_traffic")
    expect(page.locator("#rv-headline")).not_to_be_empty()
    expect(page.locator("#rv-figures")).to_contain_text("p99")
    shot("review-default")
