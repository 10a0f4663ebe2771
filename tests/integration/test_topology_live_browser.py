"""The topology page in a real browser on a REAL Prometheus (not the demo): several namespaces,
gRPC errors, TCP, an unmeshed caller; pinned to the scenario time through the URL."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app import create_app
from devtools.livesrv import serve
from tests.browser.conftest import (  # noqa: F401  (fixtures)
    browser_context_args,
    browser_type_launch_args,
    cy_click,
    shot,
)
from tests.browser.test_topology_page import wait_for_nodes
from wiring.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def test_live_topology_across_namespaces(page, live_prom, scenario_time, shot):  # noqa: F811
    at = int(scenario_time)
    page.goto(
        f"{live_prom.url}/?namespace=shop&namespace=payments&namespace=data&namespace=legacy"
        f"&window=5m&refresh=off&at={at}"
    )
    expect(page.locator("#mode-badge")).to_contain_text("LIVE")
    ids = wait_for_nodes(
        page,
        {
            "unknown",
            "shop/frontend-v1",
            "shop/cartservice-v1",
            "payments/payments-v2",
            "data/mysql-v1",
        },
    )
    assert "ns:shop" in ids  # several namespaces: grouped in boxes
    expect(page.locator("#topo-updated")).to_contain_text("Prometheus")
    # The query count is for whoever hovers, not in the page's words.
    expect(page.locator("#topo-updated")).to_have_attribute("title", "3 PromQL queries per refresh")
    page.wait_for_timeout(300)
    shot("topology-live-prometheus")
    cy_click(page, "topo-graph", "shop/cartservice-v1")
    panel = page.locator("#topo-panel")
    expect(page.locator("#panel-title")).to_have_text("cartservice-v1")
    # 5 % gRPC status 14 under HTTP 200 counts as errors: Kiali's "degraded" band (0 < 5 % < 10 %).
    expect(panel).to_contain_text("Degraded")
    expect(panel).to_contain_text("5.0")
    shot("topology-live-panel")


def test_live_backend_down_shows_a_banner(page, tmp_path, shot):  # noqa: F811
    from tests.conftest import free_port

    settings = Settings(
        prometheus_url=f"http://127.0.0.1:{free_port()}",
        prometheus_timeout_s=2,
        audit_log=tmp_path / "audit.jsonl",
        default_namespaces=("bookinfo",),
    )
    live = serve(create_app(settings))
    try:
        page.goto(live.url + "/?refresh=off")
        banner = page.locator("#topo-banner .md-banner")
        expect(banner).to_contain_text("Prometheus is failing")
        assert "Traceback" not in page.content()
        shot("topology-live-prometheus-down")
    finally:
        live.stop()


def test_live_review_of_the_payments_canary(page, live_prom, scenario_time, shot):  # noqa: F811
    """The review page on real data: payments v2 (median 60 ms) against v1 (20 ms) at 70/30."""
    at = int(scenario_time)
    page.goto(
        f"{live_prom.url}/review?namespace=payments&service=payments&baseline=v1&canary=v2"
        f"&window=10m&at={at}"
    )
    expect(page.locator("#mode-badge")).to_contain_text("LIVE")
    verdict = page.locator("#rv-verdict")
    expect(verdict).to_be_visible(timeout=20_000)
    api = page.request.get(
        f"{live_prom.url}/api/canary/payments/payments?baseline=v1&canary=v2&window=10m&at={at}"
    ).json()
    # The page shows what the API computes, from the same view.
    expect(verdict).to_have_attribute("data-verdict", api["verdict"])
    assert api["verdict"] in ("hold", "rollback")  # three times slower: latency is named
    # Latency is named, in plain words in the headline ("v2 is slower than v1: median ...").
    expect(page.locator("#rv-headline")).to_contain_text(re.compile(r"slower|latency"))
    figures = page.locator("#rv-figures")
    expect(figures).to_contain_text(f"{api['baseline']['requests']:,.0f}")
    expect(figures).to_contain_text(f"{api['canary']['requests']:,.0f}")
    assert "Traceback" not in page.content()
    shot("review-live-prometheus")
