"""The releases page in a real browser, on demo apps of their own (these tests change routes).

The seed's canary story: 50/50 on reviews v1/v2, watch the topology follow, take over, retire v1.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from playwright.sync_api import expect

from app import create_app
from demo.history import STORY
from demo.routes import DemoRouteStore, seed_objects
from demo.trace_source import stratum_bound
from devtools.clock import MovableClock
from devtools.livesrv import serve
from wiring.services import build_services
from wiring.settings import Settings

pytestmark = pytest.mark.browser

REVIEWS = "/releases?namespace=bookinfo&service=reviews"


@pytest.fixture
def own_demo(tmp_path):
    """A fresh demo app per test: each one changes the routes and reads the audit log. Its
    clock (`own_demo.clock`) is the test's to move: a 1m window after a change needs no wait."""
    settings = Settings(audit_log=tmp_path / "audit.jsonl")
    clock = MovableClock()
    live = serve(create_app(settings, build_services(settings, clock=clock)))
    live.clock = clock  # type: ignore[attr-defined]
    yield live
    live.stop()


def open_reviews(page, base: str, query: str = "") -> None:
    page.goto(base + REVIEWS + query)
    expect(page.locator("#rel-bar")).to_be_visible()


def weight_input(page, version: str):
    return page.locator(f"input[id*='rel-w'][id*='\"{version}\"']")


def choose(page, dropdown: str, value: str) -> None:
    page.locator(f"#{dropdown}").click()
    page.get_by_role("option", name=value, exact=True).click()  # the menu renders in a portal
    expect(page.locator(f"#{dropdown}")).to_contain_text(value)


def confirm(page, reason: str = "", tick: bool = False) -> None:
    """Confirm the open preview: Confirm stays disabled until a take-over or retire is ticked."""
    dialog = page.locator("#rel-preview-card")
    expect(dialog.locator("#rel-diff")).to_be_visible()
    if reason:
        dialog.locator("#rel-reason").fill(reason)
    if tick:
        expect(dialog.locator("#rel-confirm")).to_be_disabled()
        dialog.locator("#rel-confirm-check input").check()
    expect(dialog.locator("#rel-confirm")).to_be_enabled()
    dialog.locator("#rel-confirm").click()
    expect(page.locator("#rel-banner")).to_contain_text("Applied")
    expect(page.locator("#rel-preview-card")).to_have_count(0)


def reviews_rps(page) -> dict[str, float]:
    """The per-version request rates in the releases page's figures table."""
    expect(page.locator("#rel-figures-table")).to_be_visible()
    out = {}
    for row in page.locator("#rel-figures-table tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        version = cells[0].split()[0]
        out[version] = float(cells[2].split()[0]) if cells[2][:1].isdigit() else 0.0
    return out


def reviews_shares(page, base: str) -> dict[str, float]:
    """productpage's calls to each reviews version as a fraction of its calls to reviews, read
    from the cytoscape graph the topology page draws (1m window, no auto refresh)."""
    page.goto(base + "/?namespace=bookinfo&window=1m&refresh=off")
    read = """() => {
        const root = document.getElementById('topo-graph');
        if (!root) return null;
        const h = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
        if (!h) return null;
        const out = {};
        h._cyreg.cy.edges().forEach(e => {
            const t = e.data('target');
            if (e.data('source') === 'bookinfo/productpage-v1' && t.startsWith('bookinfo/reviews-')) {
                out[t.split('/')[1]] = e.data('rps') || 0;
            }
        });
        return Object.keys(out).length ? out : null;
    }"""
    page.wait_for_function(read, timeout=20000)
    rps = page.evaluate(read)
    total = sum(rps.values())
    return {k.removeprefix("reviews-"): v / total for k, v in rps.items()}


def reviews_in_traces(page, base: str) -> dict[str, int]:
    """Which reviews version the last minute's randomly sampled traces went through, counted.

    Only `sampler.type=probabilistic` ones, as the app's version comparisons read them: the
    demo also keeps every failing and slow request, and those lean to v2 (slower, and it calls
    ratings), about 60 % of all kept traces at 50/50."""
    body = page.request.get(
        base + "/api/traces?namespace=bookinfo&service=reviews&lookback=1m&limit=500"
        "&tags=sampler.type%3Dprobabilistic"
    ).json()
    seen = [
        v.split(":")[1] for t in body["traces"] for v in t["versions"] if v.startswith("reviews:")
    ]
    assert len(seen) == len(body["traces"]) >= 20, body["traces"][:3]  # one reviews call each
    return {v: seen.count(v) for v in set(seen)}


def assert_split(seen: dict[str, int], weights: dict[str, int]) -> None:
    """The demo's random sample is stratified (demo/trace_source.py): in a window after the last
    change, N sampled traces hold each version N x weight within stratum_bound(N) (about 2)."""
    n = sum(seen.values())
    assert set(seen) <= {v for v, w in weights.items() if w}, (seen, weights)
    for version, weight in weights.items():
        assert abs(seen.get(version, 0) - n * weight / 100) <= stratum_bound(n), (seen, weights)


def test_fifty_fifty_then_take_over_then_retire(page, own_demo, shot):
    base = own_demo.url
    open_reviews(page, base)
    bar = page.locator("#rel-bar")
    expect(bar).to_contain_text("v1 80%")
    expect(page.locator("#rel-btn-even")).to_have_text("50/50 v1 / v2")
    before = reviews_rps(page)
    assert before["v1"] > 5 * before["v2"], before  # 80 / 10 before the change
    assert_split(reviews_in_traces(page, base), {"v1": 80, "v2": 10, "v3": 10})
    shot("releases-1-start")

    # 1. 50/50 between v1 and v2: preview (dry run + diff), then confirm.
    page.locator("#rel-btn-even").click()
    dialog = page.locator("#rel-preview-card")
    expect(dialog.locator("#rel-preview-summary")).to_contain_text("v1 80%→50%")
    expect(dialog.locator("#rel-diff .rel-add").first).to_be_visible()
    expect(dialog.locator("#rel-diff")).to_contain_text("weight: 50")
    shot("releases-2-preview")
    confirm(page, reason="canary v2 at half")
    expect(bar).to_contain_text("v1 50%")
    expect(bar).to_contain_text("v2 50%")
    expect(bar.locator('[title^="v3:"]')).to_have_count(0)  # no segment for 0 %
    shot("releases-3-fifty-fifty")
    audit = page.request.get(base + "/api/audit?namespace=bookinfo&service=reviews").json()
    changed_at = audit["entries"][0]["when"]

    # The demo's traffic follows within a refresh or two: the live figures and the topology edges
    # move at once, and a 1m window lying wholly after the change shows the new split. The
    # demo's clock moves on instead of the test waiting a real minute.
    own_demo.clock.advance_to(changed_at + 16)
    moving = reviews_shares(page, base)
    assert moving["v1"] < 0.75, moving  # was 0.80: visibly moving after one refresh
    open_reviews(page, base)
    after = reviews_rps(page)
    assert after["v2"] > 1.5 * before["v2"], (before, after)
    own_demo.clock.advance_to(changed_at + 62)
    shares = reviews_shares(page, base)
    assert shares["v1"] == pytest.approx(0.5, abs=0.05), shares
    assert shares["v2"] == pytest.approx(0.5, abs=0.05), shares
    assert shares.get("v3", 0) < 0.02, shares
    assert_split(reviews_in_traces(page, base), {"v1": 50, "v2": 50})  # and so do the traces
    shot("releases-4-topology-fifty-fifty")

    # 2. Take over all traffic: v2 gets 100 %, after an explicit confirmation.
    open_reviews(page, base)
    expect(page.locator("#rel-btn-takeover")).to_have_text("Take over all traffic (v2)")
    page.locator("#rel-btn-takeover").click()
    expect(page.locator("#rel-confirm-check")).to_contain_text("all traffic moves to v2")
    shot("releases-5-takeover-preview")
    confirm(page, reason="v2 healthy at half", tick=True)
    expect(bar).to_contain_text("v2 100%")

    # 3. Retire the old version: its route entry and subset go, after an explicit confirmation.
    expect(page.locator("#rel-btn-retire")).to_have_text("Retire v1")
    page.locator("#rel-btn-retire").click()
    expect(page.locator("#rel-diff")).to_contain_text("name: v1")
    confirm(page, tick=True)
    expect(bar).not_to_contain_text("v1")
    expect(page.locator('#rel-figures-table tr:has-text("v1")')).to_contain_text("no subset")
    shot("releases-6-retired")

    # 4. The audit history lists all three, newest first, with who, why and the split's change,
    # above the demo's own history, made by other people.
    rows = page.locator("#rel-audit-table tbody tr")
    expect(rows).to_have_count(3 + len(STORY))
    expect(rows.nth(3)).to_contain_text(STORY[-1].who)
    expect(rows.nth(3 + len(STORY) - 1)).to_contain_text(STORY[0].who)
    expect(rows.nth(0)).to_contain_text("retire")
    expect(rows.nth(0)).to_contain_text("DestinationRule reviews")
    expect(rows.nth(0)).to_contain_text("VirtualService reviews")
    expect(rows.nth(1)).to_contain_text("take_over")
    expect(rows.nth(1)).to_contain_text("v2 healthy at half")
    expect(rows.nth(2)).to_contain_text("even_split")
    expect(rows.nth(2)).to_contain_text("canary v2 at half")
    expect(rows.nth(2)).to_contain_text("v1 80%→50%")
    expect(rows.nth(2)).to_contain_text("demo-user")
    page.locator("#rel-audit").scroll_into_view_if_needed()
    shot("releases-7-audit")


def test_exact_weights_show_their_sum_and_refuse_anything_but_100(page, own_demo, shot):
    open_reviews(page, own_demo.url)
    weight_input(page, "v1").fill("87")
    expect(page.locator("#rel-weight-sum")).to_contain_text("Sum: 107 — weights must add up to 100")
    page.locator("#rel-btn-weights").click()
    expect(page.locator("#rel-banner")).to_contain_text(
        "Not changed: weights must add up to 100; v1 87, v2 10, v3 10 add up to 107"
    )
    expect(page.locator("#rel-preview-card")).to_have_count(0)
    shot("releases-weights-refused")

    for version, value in (("v1", "60"), ("v2", "30"), ("v3", "10")):
        weight_input(page, version).fill(value)
    expect(page.locator("#rel-weight-sum")).to_contain_text("Sum: 100")
    page.locator("#rel-btn-weights").click()
    confirm(page, reason="exact")
    expect(page.locator("#rel-bar")).to_contain_text("v1 60%")
    expect(page.locator("#rel-bar")).to_contain_text("v2 30%")


def test_header_canary_and_mirroring_are_previewed_applied_and_removed(page, own_demo, shot):
    open_reviews(page, own_demo.url)
    page.locator("#rel-match-name").fill("end-user")
    page.locator("#rel-match-value").fill("jason")
    choose(page, "rel-match-version", "v3")
    page.locator("#rel-btn-match").click()
    expect(page.locator("#rel-diff")).to_contain_text("end-user")
    confirm(page, reason="testers see v3")
    matches = page.locator("#rel-matches")
    expect(matches).to_contain_text("header end-user exact jason")
    expect(matches).to_contain_text("→ v3")

    # Mirroring needs a version without live traffic: free v3 first.
    weight_input(page, "v1").fill("90")
    weight_input(page, "v3").fill("0")
    page.locator("#rel-btn-weights").click()
    confirm(page)
    choose(page, "rel-mirror-version", "v3")
    page.locator("#rel-mirror-percent").fill("20")
    page.locator("#rel-btn-mirror").click()
    expect(page.locator("#rel-diff")).to_contain_text("mirrorPercentage")
    confirm(page)
    expect(page.locator("#rel-mirror-now")).to_contain_text("20% of live traffic copied to v3")
    page.locator("#rel-matches").scroll_into_view_if_needed()
    shot("releases-match-mirror")

    page.locator("#rel-btn-mirror-stop").click()
    confirm(page)
    expect(page.locator("#rel-mirror-now")).to_contain_text("Not mirroring")
    page.locator("#rel-matches button").click()
    expect(page.locator("#rel-diff .rel-del").first).to_be_visible()
    confirm(page)
    expect(page.locator("#rel-matches")).to_contain_text("No request-content route")


def test_circuit_breaker_policy_is_previewed_applied_and_shown(page, own_demo):
    open_reviews(page, own_demo.url)
    page.locator('input[id*="consecutive5xxErrors"]').fill("5")
    page.locator('input[id*="baseEjectionTime"]').fill("30s")
    page.locator("#rel-btn-policy").click()
    expect(page.locator("#rel-diff")).to_contain_text("consecutive5xxErrors: 5")
    expect(page.locator("#rel-diff")).to_contain_text("DestinationRule")
    confirm(page)
    expect(page.locator("#rel-audit-table")).to_contain_text("traffic_policy")
    field = page.locator('input[id*="consecutive5xxErrors"]')
    expect(field).to_have_attribute("placeholder", "now 5")


def test_a_conflicting_change_is_shown_not_overwritten(page, own_demo, shot):
    base = own_demo.url
    open_reviews(page, base)
    page.locator("#rel-btn-step").click()
    expect(page.locator("#rel-diff")).to_be_visible()
    # Someone else changes the route between this preview and its confirmation.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "_csrf_token")
    other = {"v1": 0, "v2": 0, "v3": 100}
    r = page.request.post(
        base + "/api/routes/bookinfo/reviews",
        data={
            "action": "set_weights",
            "weights": other,
            "reason": "someone else",
            "dry_run": False,
        },
        headers={"X-CSRFToken": token},
    )
    assert r.status == 200, r.text()
    # In the demo v2 is slower than v1 (it calls ratings): stepping it up is an override.
    expect(page.locator("#rel-preview-verdict")).to_have_attribute("data-verdict", "hold")
    page.locator("#rel-reason").fill("slower by design")
    page.locator("#rel-confirm-check input").check()
    page.locator("#rel-confirm").click()
    conflict = page.locator("#rel-conflict")
    expect(conflict).to_contain_text("Someone else changed this route")
    expect(conflict).to_contain_text("Nothing was applied")
    their = conflict.locator("#rel-their-diff")
    expect(their).to_contain_text("someone else")  # their change's annotation, reason included
    expect(their.locator(".rel-add").first).to_be_visible()
    shot("releases-conflict")
    after = page.request.get(base + "/api/routes/bookinfo/reviews").json()["weights"]
    assert after == other  # the other person's change stands; nothing was overwritten
    conflict.locator("#rel-cancel").click()
    expect(page.locator("#rel-bar")).to_contain_text("v3 100%")
    entries = page.request.get(base + "/api/audit?service=reviews").json()["entries"]
    # Only the other person's change was added to the demo's own history.
    assert [e["reason"] for e in entries] == ["someone else"] + [s.reason for s in STORY[::-1]]


def test_a_dash_write_without_the_csrf_header_is_refused(page, own_demo):
    """A forged callback (the cookie rides along, the header cannot be read cross-site) is
    refused; the same click with the header Dash's renderer sends goes through."""
    base = own_demo.url
    open_reviews(page, base)
    sent: list[str | None] = []

    def strip_token(route):
        sent.append(route.request.headers.get("x-csrftoken"))
        headers = {k: v for k, v in route.request.headers.items() if k.lower() != "x-csrftoken"}
        route.continue_(headers=headers)

    page.route("**/_dash-update-component*", strip_token)
    page.locator("#rel-btn-even").click()
    expect(page.locator("#rel-banner")).to_contain_text("missing CSRF token")
    expect(page.locator("#rel-preview-card")).to_have_count(0)
    page.unroute("**/_dash-update-component*")
    assert sent and all(sent), "Dash's renderer sends X-CSRFToken with its callbacks"

    page.locator("#rel-btn-even").click()
    confirm(page)
    weights = page.request.get(base + "/api/routes/bookinfo/reviews").json()["weights"]
    assert weights == {"v1": 50, "v2": 50, "v3": 0}


@pytest.mark.parametrize(
    ("action", "summary"),
    [
        ("promote", "v3 10%→100%"),
        ("step", "v3 10%→20%"),
        ("rollback", "v1 80%→100%"),
    ],
)
def test_deep_link_from_the_review_opens_that_actions_preview(page, own_demo, action, summary):
    page.goto(own_demo.url + REVIEWS + f"&action={action}&baseline=v1&canary=v3")
    dialog = page.locator("#rel-preview-card")
    expect(dialog.locator("#rel-preview-summary")).to_contain_text(summary)
    expect(page.locator("#rel-canary")).to_contain_text("v3")
    # Never a write one click away from a link: Confirm waits for the page's own tick.
    expect(dialog.locator("#rel-confirm")).to_be_disabled()
    expect(dialog.locator("#rel-confirm-check")).to_be_visible()
    dialog.locator("#rel-cancel").click()
    expect(page.locator("#rel-preview-card")).to_have_count(0)
    expect(page).not_to_have_url(re.compile("action="))
    # Opening the link applied nothing.
    weights = page.request.get(own_demo.url + "/api/routes/bookinfo/reviews").json()["weights"]
    assert weights == {"v1": 80, "v2": 10, "v3": 10}


def test_writes_disabled_shows_everything_with_buttons_off_and_why(page, tmp_path, shot):
    live = serve(create_app(Settings(audit_log=tmp_path / "a.jsonl", write_enabled=False)))
    try:
        open_reviews(page, live.url)
        note = page.locator("#rel-why-not")
        expect(note).to_contain_text("Changes are disabled")
        expect(note).to_contain_text("--enable-writes")
        expect(page.locator("#rel-figures-table")).to_contain_text("v2")
        for key in ("even", "takeover", "retire", "weights", "match", "policy"):
            expect(page.locator(f"#rel-btn-{key}")).to_be_disabled()
        # Nothing recorded by anyone here; the demo's own history is there to read.
        expect(page.locator("#rel-audit")).to_contain_text(STORY[-1].reason)
        shot("releases-read-only")
    finally:
        live.stop()


def test_a_route_owned_by_flagger_is_read_only_with_the_owner_named(page, tmp_path):
    settings = Settings(audit_log=tmp_path / "a.jsonl")
    vs, dr = seed_objects("bookinfo", "reviews", ["v1", "v2"], {"v1": 90, "v2": 10})
    vs["metadata"]["ownerReferences"] = [
        {"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "name": "reviews", "uid": "1"}
    ]
    store = DemoRouteStore({("bookinfo", "reviews"): ("v1", "v2")}, objects=[vs, dr])
    live = serve(create_app(settings, replace(build_services(settings), routes=store)))
    try:
        open_reviews(page, live.url)
        expect(page.locator("#rel-services")).to_contain_text("managed by Flagger Canary")
        note = page.locator("#rel-why-not")
        expect(note).to_contain_text("Read-only")
        expect(note).to_contain_text("managed by Flagger Canary bookinfo/reviews")
        expect(page.locator("#rel-btn-step")).to_be_disabled()
        expect(page.locator("#rel-bar")).to_contain_text("v1 90%")
    finally:
        live.stop()


def test_bad_or_empty_namespace_gives_a_banner_or_a_hint_not_a_traceback(page, own_demo):
    page.goto(own_demo.url + "/releases?namespace=Not_Valid")
    expect(page.locator("#rel-banner")).to_contain_text("Invalid input")
    expect(page.locator("#rel-body")).to_be_hidden()
    assert "Traceback" not in page.content()
    page.locator("#rel-namespace").click()  # the picker offers the discovered namespaces
    page.get_by_text("istio-system", exact=True).click()
    expect(page.locator("#rel-empty")).to_contain_text(
        "No service in istio-system has two or more versions"
    )
    expect(page.locator("#rel-banner")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"namespace=istio-system"))
