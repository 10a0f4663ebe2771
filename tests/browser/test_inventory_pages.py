"""The overview, the lists, the not-found banner, the 404 page and the marked navigation in a
real browser, on the embedded demo (Bookinfo entered from istio-system)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SIZES = ((1440, 900), (1024, 768))


def shots(page, shot, name: str) -> None:
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(200)
        shot(f"{name}-{width}")
    page.set_viewport_size({"width": 1440, "height": 900})


def current_nav(page) -> list[str]:
    page.wait_for_function("() => document.querySelectorAll('.md-nav-current').length === 1")
    return page.locator(".md-nav-current").all_inner_texts()


def rows(page) -> list[str]:
    return page.locator("#inv-rows tbody tr").evaluate_all("trs => trs.map(tr => tr.dataset.name)")


def column(page, index: int) -> list[float]:
    """A figure column as numbers (the first number of each cell)."""
    texts = page.locator(f"#inv-rows tbody tr td:nth-child({index})").all_inner_texts()
    return [float(re.match(r"[\d.]+", t).group()) for t in texts]


def test_overview_lists_namespaces_worst_first_and_opens_their_list(page, live_demo, shot):
    page.goto(live_demo.url + "/overview")
    expect(page.locator("tr.md-ov-row")).to_have_count(2)
    assert current_nav(page) == ["Overview"]
    names = page.locator("tr.md-ov-row").evaluate_all("trs => trs.map(t => t.dataset.namespace)")
    # ratings answers 0.5 % errors in the demo: bookinfo is degraded, the gateway's is not.
    assert names == ["bookinfo", "istio-system"]
    first = page.locator("tr.md-ov-row").first
    expect(first.locator(".md-chip")).to_have_text("Degraded")
    expect(first.locator(".md-count-degraded")).to_have_text("1")
    expect(first.locator(".md-count-healthy")).to_have_text("3")
    shots(page, shot, "overview-demo")
    first.get_by_role("link", name="Topology").wait_for()
    expect(first.get_by_role("link", name="Topology")).to_have_attribute(
        "href", "/?namespace=bookinfo&window=5m"
    )
    first.get_by_role("link", name="List").click()
    expect(page).to_have_url(re.compile(r"/list\?namespace=bookinfo&kind=service"))
    expect(page.locator("#inv-rows tbody tr")).to_have_count(4)
    assert current_nav(page) == ["Services"]


def test_list_sorts_by_column_filters_and_opens_a_row(page, live_demo, shot):
    page.goto(live_demo.url + "/list?namespace=bookinfo&kind=service&window=5m")
    expect(page.locator("#inv-rows tbody tr")).to_have_count(4)
    assert rows(page)[0] == "bookinfo/ratings"  # the only degraded service, worst first
    expect(page.locator("#inv-count")).to_have_text(re.compile("4 services"))
    shots(page, shot, "list-services-demo")

    page.locator("#inv-rows th button", has_text="Requests").click()
    expect(page).to_have_url(re.compile(r"sort=rps&order=desc"))
    page.wait_for_function(
        "() => document.querySelector('#inv-rows th[aria-sort]')?.innerText.includes('REQUESTS')"
        " || document.querySelector('#inv-rows th[aria-sort]')?.innerText.includes('Requests')"
    )
    rps = column(page, 4)
    assert rps == sorted(rps, reverse=True) and rps[0] > rps[-1]
    page.locator("#inv-rows th button", has_text="Requests").click()
    expect(page).to_have_url(re.compile(r"sort=rps&order=asc"))
    page.wait_for_function(
        "() => document.querySelector('#inv-rows th[aria-sort]')?.getAttribute('aria-sort')"
        " === 'ascending'"
    )
    rps = column(page, 4)
    assert rps == sorted(rps)

    page.locator("#inv-kind").get_by_text("Workloads").click()
    expect(page.locator("#inv-rows tbody tr")).to_have_count(6)
    page.locator("#inv-filter").fill("reviews v2")
    expect(page.locator("#inv-rows tbody tr")).to_have_count(1)
    expect(page.locator("#inv-count")).to_have_text(re.compile("1 of 6 workloads"))
    expect(page).to_have_url(re.compile(r"kind=workload.*filter=reviews\+v2"))
    shots(page, shot, "list-filtered-demo")
    page.locator("#inv-rows a", has_text="reviews-v2").click()
    expect(page).to_have_url(re.compile(r"/workload\?namespace=bookinfo&workload=reviews-v2"))
    assert current_nav(page) == ["Services"]


def test_list_of_apps_across_two_namespaces_with_versions(page, live_demo):
    page.goto(live_demo.url + "/list?namespace=bookinfo&namespace=istio-system&kind=app")
    expect(page.locator("#inv-rows tbody tr")).to_have_count(5)
    reviews = page.locator("tr[data-name='bookinfo/reviews']")
    expect(reviews.locator(".md-inv-versions")).to_have_text("v1, v2, v3")
    gateway = page.locator("tr[data-name='istio-system/istio-ingressgateway']")
    expect(gateway).to_contain_text("sends")


def test_namespace_picker_offers_the_discovered_namespaces(page, live_demo):
    page.goto(live_demo.url + "/list?namespace=bookinfo&kind=workload")
    expect(page.locator("#inv-rows tbody tr")).to_have_count(6)
    page.locator("#inv-namespaces").click()
    page.get_by_text("istio-system", exact=True).click()
    expect(page.locator("#inv-rows tbody tr")).to_have_count(7)  # the gateway, which sends
    expect(page).to_have_url(re.compile(r"namespace=bookinfo&namespace=istio-system"))


def test_unknown_namespace_shows_not_found_with_the_nearest_name(page, live_demo, shot):
    page.goto(live_demo.url + "/list?namespace=bookinf&kind=service")
    banner = page.locator("#inv-not-found")
    expect(banner).to_contain_text("Namespace not found: bookinf (no traffic in the last 5m)")
    expect(banner).to_contain_text("Did you mean bookinfo?")
    expect(page.locator("#inv-rows")).to_have_count(0)
    assert "None" not in page.locator("main").inner_text()
    shots(page, shot, "list-not-found-demo")
    banner.get_by_role("link", name="bookinfo").click()
    expect(page.locator("#inv-rows tbody tr")).to_have_count(4)


def test_unknown_page_is_the_apps_own_404_with_links_back(page, live_demo, shot):
    page.goto(live_demo.url + "/no/such/page")
    expect(page.locator("#not-found-title")).to_have_text("Page not found")
    expect(page.locator("#mode-badge")).to_be_visible()  # the app's frame is still there
    links = page.locator("#not-found-links a")
    expect(links).to_have_count(6)
    page.wait_for_timeout(100)
    assert page.locator(".md-nav-current").count() == 0  # no nav entry is this page
    shots(page, shot, "not-found-404")
    links.filter(has_text="Overview").click()
    expect(page.locator("tr.md-ov-row")).to_have_count(2)


@pytest.mark.parametrize(
    ("path", "entry"),
    [
        ("/?namespace=bookinfo", "Topology"),
        ("/traces?namespace=bookinfo", "Traces"),
        ("/releases?namespace=bookinfo", "Releases"),
        ("/service?namespace=bookinfo&service=reviews", "Services"),
    ],
)
def test_navigation_marks_the_current_page(page, live_demo, path, entry):
    page.goto(live_demo.url + path)
    assert current_nav(page) == [entry]
