"""The topology's "Waypoints" display toggle on the ambient demo (issue 21): waypoint proxies are
hidden by default (as Kiali does), drawn as their own shape when asked, the choice kept in the
URL, and the legend names the shape."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app import create_app
from devtools.livesrv import serve
from tests.browser.conftest import cy_node_ids
from wiring.settings import Settings

pytestmark = pytest.mark.browser

WAYPOINT = "bookinfo/waypoint"
PAGE = "/?namespace=bookinfo&window=5m&refresh=off"


@pytest.fixture(scope="module")
def ambient_demo(tmp_path_factory):
    """The demo as `python app.py --demo-ambient` builds it: Bookinfo without sidecars."""
    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    live = serve(create_app(Settings(demo_ambient=True, audit_log=audit)))
    yield live
    live.stop()


def wait_for_graph(page, with_waypoint: bool) -> list[str]:
    page.wait_for_function(
        """([id, want]) => {
            const root = document.getElementById('topo-graph');
            const h = root && [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
            if (!h) return false;
            const cy = h._cyreg.cy;
            return cy.getElementById('bookinfo/productpage-v1').nonempty()
                && cy.getElementById(id).nonempty() === want;
        }""",
        arg=[WAYPOINT, with_waypoint],
        timeout=20000,
    )
    return cy_node_ids(page, "topo-graph")


def toggle(page):
    return page.get_by_role("checkbox", name="Waypoints", exact=True)


def waypoint_classes(page) -> str:
    return page.evaluate(
        """(id) => {
            const root = document.getElementById('topo-graph');
            const h = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
            const n = h._cyreg.cy.getElementById(id);
            return n.classes().join(' ') + ' shape=' + n.style('shape');
        }""",
        WAYPOINT,
    )


def test_waypoints_are_hidden_by_default_and_shown_with_the_toggle(page, ambient_demo, shot):
    page.goto(ambient_demo.url + PAGE)
    ids = wait_for_graph(page, with_waypoint=False)
    assert WAYPOINT not in ids and "bookinfo/reviews-v2" in ids
    expect(page.locator("#topo-legend-waypoint")).to_be_hidden()
    assert "waypoints=" not in page.url
    shot("topology-ambient-hidden")

    toggle(page).check()
    ids = wait_for_graph(page, with_waypoint=True)
    assert WAYPOINT in ids
    assert "waypoint" in waypoint_classes(page).split() and "shape=hexagon" in waypoint_classes(
        page
    )
    expect(page.locator("#topo-legend-waypoint")).to_be_visible()
    expect(page.locator("#topo-legend-waypoint")).to_contain_text("Waypoint proxy")
    expect(page).to_have_url(re.compile(r"waypoints=show"))
    shot("topology-ambient-waypoints")

    # A pasted link reproduces the view; unticking hides them again and leaves the URL.
    page.goto(page.url)
    wait_for_graph(page, with_waypoint=True)
    expect(toggle(page)).to_be_checked()
    toggle(page).uncheck()
    wait_for_graph(page, with_waypoint=False)
    expect(page).not_to_have_url(re.compile(r"waypoints="))
    expect(page.locator("#topo-legend-waypoint")).to_be_hidden()


def test_the_waypoint_display_at_a_small_screen(page, ambient_demo, shot):
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(ambient_demo.url + PAGE + "&waypoints=show")
    assert WAYPOINT in wait_for_graph(page, with_waypoint=True)
    expect(page.locator("#topo-legend-waypoint")).to_be_visible()
    page.wait_for_timeout(300)
    shot("topology-ambient-waypoints-1024")
