"""The topology for an on-call engineer, in a real browser on the demo (issue 15): a legend
that follows the graph, a Requests card that counts what enters, hot spots that select and
centre their edge, namespace boxes apart in every layout, discovered namespaces in the pickers,
"not found" with the nearest name, no internal wording, the current page marked."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from dashboards import PAGES
from dashboards.topology.page import LAYOUTS
from presentation import numbers as fmt
from tests.browser.test_topology_page import BOOKINFO, wait_for_nodes
from tests.browser.topology_checks import boxes_apart, selected

pytestmark = pytest.mark.browser

GATEWAY = "istio-system/istio-ingressgateway"
PAGE = "/?namespace=bookinfo&window=5m&refresh=off"


def graph_json(page, live_demo) -> dict:
    return page.request.get(live_demo.url + "/api/graph?namespace=bookinfo&window=5m").json()


def test_legend_follows_the_graph_and_the_requests_card_counts_what_enters(page, live_demo, shot):
    page.goto(live_demo.url + PAGE)
    wait_for_nodes(page, BOOKINFO | {GATEWAY})
    legend = page.locator("#topo-legend")
    for words in ("Healthy", "Degraded", "Failure", "Idle", "Workload", "Gateway",
                  "Dashed border: in a namespace not chosen", "Box: namespace",
                  "Thicker: more requests/s", "HTTP, gRPC"):  # fmt: skip
        expect(legend).to_contain_text(words)
    # Nothing on screen that the legend would explain in vain.
    for absent in ("#topo-legend-cross", "#topo-legend-plaintext", "#topo-legend-waypoint",
                   "#topo-legend-tcp", "#topo-legend-app", "#topo-legend-unknown"):  # fmt: skip
        expect(page.locator(absent)).to_have_count(0)
    page.get_by_label("Security (mTLS)").check()
    expect(page.locator("#topo-legend-plaintext")).to_contain_text("Plain text (no mTLS)")
    page.locator("#topo-view").click()
    page.get_by_text("App graph", exact=True).click()
    expect(page.locator("#topo-legend-app")).to_be_visible(timeout=30_000)
    expect(page.locator("#topo-legend-workload")).to_have_count(0)

    # Requests: what the gateway sends into bookinfo, not the sum of every edge.
    card = page.locator(".md-stat-requests")
    expect(card).to_contain_text("Requests entering bookinfo")
    body = graph_json(page, live_demo)
    into = sum(e["rps"] for e in body["edges"] if e["source"] == GATEWAY)
    every = sum(e["rps"] for e in body["edges"])
    assert body["entering"]["rps"] == pytest.approx(into, abs=1e-3)
    assert every > 2 * into  # the old card's figure
    shown = float(card.locator(".md-stat-value").inner_text().split()[0])
    assert shown == pytest.approx(into, rel=0.1)  # a refresh apart, the demo drifts a little
    assert fmt.rps(every) not in card.locator(".md-stat-value").inner_text()
    shot("topology-on-call-legend-1440")
    page.set_viewport_size({"width": 1024, "height": 768})
    page.wait_for_timeout(300)
    shot("topology-on-call-legend-1024")


def test_a_hot_spot_row_selects_and_centres_its_edge(page, live_demo, shot):
    page.goto(live_demo.url + PAGE)
    wait_for_nodes(page, BOOKINFO | {GATEWAY})
    rows = page.locator("#panel-overview .md-hot-row")
    expect(rows.first).to_be_visible(timeout=30_000)
    # Names wrap between nodes, never inside one: each name is one line box.
    lines = page.eval_on_selector_all(
        "#panel-overview .md-name", "els => els.map(e => e.getClientRects().length)"
    )
    assert lines and set(lines) == {1}
    row = page.locator(f'#panel-overview .md-hot-row[title^="{GATEWAY} → "]').first
    row.click()
    expect(page.locator("#panel-edge")).to_be_visible(timeout=30_000)
    expect(page.locator("#panel-edge .md-panel-id")).to_contain_text(GATEWAY)
    edge = f"{GATEWAY}->bookinfo/productpage-v1"
    page.wait_for_function(
        "([id]) => { const r = document.getElementById('topo-graph');"
        " const h = [r, ...r.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);"
        " return h._cyreg.cy.getElementById(id).selected(); }",
        arg=[edge],
        timeout=30_000,
    )
    page.wait_for_timeout(400)  # the centring animation takes 200 ms
    where = selected(page)
    assert where["ids"] == [edge]
    assert abs(where["x"] - 0.5) < 0.1 and abs(where["y"] - 0.5) < 0.1, where
    # A one-cluster mesh names no cluster.
    expect(page.locator("#panel-edge")).not_to_contain_text("Kubernetes")
    shot("topology-on-call-hot-spot")


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_namespace_boxes_never_overlap(page, live_demo, layout):
    page.goto(
        live_demo.url + f"/?namespace=bookinfo&namespace=istio-system&refresh=off&layout={layout}"
    )
    wait_for_nodes(page, BOOKINFO | {GATEWAY})
    found = boxes_apart(page)
    assert found["boxes"] == 2 and found["overlaps"] == [], found


def test_pickers_offer_discovered_namespaces_and_a_typo_is_not_found(page, live_demo, shot):
    page.goto(live_demo.url + "/?namespace=bookinf&window=5m&refresh=off")
    empty = page.locator("#topo-empty")
    expect(empty).to_contain_text("Namespace bookinf not found", timeout=30_000)
    expect(empty).not_to_contain_text("No traffic in")
    expect(page.locator(".md-stat")).to_have_count(0)  # no row of zeros
    expect(page.locator("#panel-overview")).to_contain_text("nothing to rank")
    shot("topology-on-call-not-found")
    page.locator("#topo-suggestions a", has_text="bookinfo").click()
    wait_for_nodes(page, BOOKINFO)
    expect(page).to_have_url(re.compile(r"namespace=bookinfo&"))
    # istio-system has traffic: the dropdown offers it though it is not shown.
    page.locator("#topo-namespaces").click()
    page.get_by_text("istio-system", exact=True).click()
    expect(page).to_have_url(re.compile(r"namespace=bookinfo&namespace=istio-system"))
    wait_for_nodes(page, BOOKINFO | {GATEWAY})

    page.goto(live_demo.url + "/releases?namespace=bookinfo")
    page.locator("#rel-namespace").click()
    page.get_by_text("istio-system", exact=True).click()
    expect(page).to_have_url(re.compile(r"namespace=istio-system"), timeout=30_000)
    expect(page.locator("#rel-empty")).to_contain_text("No service in istio-system")
    shot("releases-namespace-picker")


NAV_MARKS = [
    ("/", "Topology"),
    ("/overview", "Overview"),
    ("/list", "Services"),
    ("/traces", "Traces"),
    ("/releases", "Releases"),
    ("/review", "Review"),
    ("/service?namespace=bookinfo&service=reviews", "Services"),
    ("/workload?namespace=bookinfo&workload=reviews-v2", "Services"),
]


def test_every_nav_page_is_checked():
    assert {p.path for p in PAGES if p.nav} == {path for path, _ in NAV_MARKS if "?" not in path}


@pytest.mark.parametrize(("path", "entry"), NAV_MARKS, ids=[p for p, _ in NAV_MARKS])
def test_every_page_marks_itself_and_speaks_plain_words(page, live_demo, path, entry):
    page.goto(live_demo.url + path)
    current = page.locator(".md-nav-current")
    expect(current).to_have_count(1, timeout=30_000)
    expect(current).to_have_text(entry)
    if path.startswith(("/service", "/workload")):
        expect(page.locator(".md-summary-note")).to_contain_text("simulated data", timeout=30_000)
    page.wait_for_timeout(1000)
    words = page.locator("body").inner_text()
    assert not re.search(r"\b\d+ queries\b", words)
    assert not re.search(r"\bstep \d+[smh]\b", words)
    assert "Traceback" not in words and "None" not in words
