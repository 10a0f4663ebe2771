"""The overview and the lists in a real browser on a REAL Prometheus (the session's scenarios),
pinned to the scenario time through the URL."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (  # noqa: F401  (fixtures)
    browser_context_args,
    browser_type_launch_args,
    shot,
)
from tests.browser.test_inventory_pages import rows, shots

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def test_live_overview_and_list(page, live_prom, scenario_time, shot):  # noqa: F811
    at = int(scenario_time)
    page.goto(f"{live_prom.url}/overview?window=5m&at={at}")
    expect(page.locator("#mode-badge")).to_contain_text("LIVE")
    expect(page.locator("#ov-past")).to_contain_text("auto-refresh paused")
    names = page.locator("tr.md-ov-row")
    expect(names.first).to_be_visible()
    found = names.evaluate_all("trs => trs.map(t => t.dataset.namespace)")
    assert {"bookinfo", "shop", "payments", "istio-system"} <= set(found)
    shop = page.locator("tr[data-namespace='shop']")
    expect(shop.locator(".md-count-degraded")).to_have_text("2")  # frontend 4xx+5xx, cart gRPC
    shots(page, shot, "overview-live-prometheus")

    shop.get_by_role("link", name="List").click()
    expect(page).to_have_url(re.compile(r"/list\?namespace=shop&kind=service"))
    page.goto(f"{live_prom.url}/list?namespace=shop&namespace=payments&kind=workload&at={at}")
    expect(page.locator("#inv-rows tbody tr")).to_have_count(5)
    assert rows(page)[0] in ("shop/cartservice-v1", "shop/frontend-v1")
    cart = page.locator("tr[data-name='shop/cartservice-v1']")
    expect(cart.locator(".md-chip")).to_have_text("Degraded")
    expect(page).to_have_url(re.compile(rf"at={at}"))
    shots(page, shot, "list-live-prometheus")
