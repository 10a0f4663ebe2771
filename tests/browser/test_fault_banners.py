"""What a person sees in a real browser while a backend fails, one backend at a time: the
topology and service pages with the REAL Prometheus stopped and started again, the traces page
with Jaeger hanging past its timeout, the releases page with the Kubernetes API answering 500.
Each page names the backend and the cause, its other parts keep working, and it shows its data
again once the backend is back. The full matrix (every fault, every page, the API) runs without
a browser in tests/integration/test_faults.py.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app import create_app
from devtools.livesrv import serve
from devtools.promserver import require_prometheus
from tests.browser.test_topology_page import wait_for_nodes
from tests.faultservers import (
    END,
    KUBECONFIG_CONSTANT,
    NAMESPACE,
    kubeconfig,
    start_backends,
)
from wiring.services import SERVICES_KEY
from wiring.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.browser]

# Whole-request deadlines (collectors/http.py): the review's trace searches must arrive in full.
TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app on the real Prometheus directly, and on Jaeger and Kubernetes through proxies."""
    require_prometheus()
    backends = start_backends(tmp_path_factory.mktemp("browser-faults"))
    proxies = backends.proxies(hang_s=3 * TIMEOUT_S)
    with pytest.MonkeyPatch.context() as mp:
        config = kubeconfig(backends.workdir / "kubeconfig", proxies["kubernetes"].url)
        mp.setattr(KUBECONFIG_CONSTANT, str(config))
        app = create_app(
            Settings(
                prometheus_url=backends.prometheus.url,
                jaeger_url=proxies["jaeger"].url,
                kube_enabled=True,
                prometheus_timeout_s=2,
                jaeger_timeout_s=TIMEOUT_S,
                kube_timeout_s=TIMEOUT_S,
                cache_error_ttl_s=0,
                # Every page of every case from one browser, with nothing cached: past any
                # per-client quota of uncached queries.
                client_uncached_per_minute=1_000_000,
                default_namespaces=(NAMESPACE,),
                audit_log=backends.workdir / "audit.jsonl",
            )
        )
    server = serve(app)
    server.backends = backends  # type: ignore[attr-defined]
    server.proxies = proxies  # type: ignore[attr-defined]
    server.expire = app.server.extensions[SERVICES_KEY].cache.store.clear  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
        for proxy in proxies.values():
            proxy.close()
        backends.close()


def no_traceback(page) -> None:
    assert "Traceback" not in page.content()


def test_prometheus_stopped_then_restarted(page, live, shot):
    prom = live.backends.prometheus
    page.goto(f"{live.url}/?namespace={NAMESPACE}&graph=app&refresh=off&at={END}")
    wait_for_nodes(page, {"bookinfo/productpage", "bookinfo/reviews"})
    banner = page.locator("#topo-banner .md-banner")
    expect(banner).to_have_count(0)

    prom.stop()
    try:
        live.expire()  # the next refresh interval
        page.locator("#topo-refresh-now").click()
        cause = f"cannot reach {prom.url}: connection refused"
        expect(banner).to_have_text(f"Prometheus is failing: {cause}")
        no_traceback(page)
        shot("fault-topology-prometheus-stopped")
        # the rest of the page works: its controls answer, and so does the navigation
        page.locator("#topo-view").click()
        page.get_by_text("Service graph", exact=True).click()
        expect(page).to_have_url(re.compile(r"graph=service"))
        expect(banner).to_contain_text("Prometheus is failing")

        page.goto(f"{live.url}/service?namespace={NAMESPACE}&service=reviews&refresh=off&at={END}")
        svc_banner = page.locator("#svc-banner .md-banner")
        expect(svc_banner).to_have_text(f"Prometheus is failing: {cause}")
        expect(page.locator("#svc-window")).to_be_visible()
        expect(page.locator("#nav-traces")).to_be_visible()
        no_traceback(page)
        shot("fault-service-prometheus-stopped")
    finally:
        prom.start()  # same port, same data
    live.expire()
    page.locator("#svc-refresh-now").click()
    expect(page.locator("#svc-banner .md-banner")).to_have_count(0)
    expect(page.locator("#svc-summary")).to_contain_text(re.compile(r"\d"))
    page.goto(f"{live.url}/?namespace={NAMESPACE}&graph=app&refresh=off&at={END}")
    wait_for_nodes(page, {"bookinfo/productpage", "bookinfo/reviews"})
    expect(banner).to_have_count(0)


def test_jaeger_hanging_past_its_timeout(page, live, shot):
    jaeger = live.proxies["jaeger"]
    jaeger.mode = "hang"
    live.expire()
    try:
        page.goto(f"{live.url}/traces?namespace={NAMESPACE}&service=productpage&lookback=1h")
        banner = page.locator("#ts-banner .md-banner")
        expect(banner.first).to_have_text(
            f"Jaeger timed out: no answer within {TIMEOUT_S:g}s", timeout=20_000
        )
        expect(page.locator("#ts-find")).to_be_enabled()  # the form is there, ready to retry
        no_traceback(page)
        shot("fault-traces-jaeger-hang")
    finally:
        jaeger.mode = "ok"
    live.expire()
    page.locator("#ts-find").click()
    expect(page.locator(".md-ts-row").first).to_be_visible(timeout=20000)
    expect(page.locator("#ts-banner .md-banner")).to_have_count(0)


def test_kubernetes_answering_500(page, live, shot):
    kube = live.proxies["kubernetes"]
    kube.mode = "500"
    try:
        page.goto(f"{live.url}/releases?namespace={NAMESPACE}")
        banner = page.locator("#rel-banner .md-banner")
        expect(banner).to_have_text("Kubernetes is failing: injected fault")
        expect(page.locator("#nav-topology")).to_be_visible()
        no_traceback(page)
        shot("fault-releases-kubernetes-500")
    finally:
        kube.mode = "ok"
    page.reload()
    expect(page.locator("#rel-services")).to_contain_text("reviews")
    expect(page.locator("#rel-banner .md-banner")).to_have_count(0)


def test_review_with_jaeger_hanging_keeps_its_verdict(page, live, shot):
    """The verdict comes from Prometheus: a hanging Jaeger only takes away time-by-version,
    and says so above the page."""
    jaeger = live.proxies["jaeger"]
    jaeger.mode = "hang"
    live.expire()
    url = (
        f"{live.url}/review?namespace={NAMESPACE}&service=reviews&baseline=v1&canary=v2"
        f"&window=10m&at={END}"
    )
    try:
        page.goto(url)
        banner = page.locator("#rv-banner .md-banner")
        expect(banner).to_have_text(
            f"Jaeger timed out: no answer within {TIMEOUT_S:g}s"
            " (not shown: where time goes by version)",
            timeout=20_000,  # two trace searches, each waiting out its deadline
        )
        expect(page.locator("#rv-verdict-word")).to_be_visible()
        expect(page.locator("#rv-figures")).to_contain_text("p99")
        expect(page.locator("#rv-latency-dist-graph .bars path").first).to_be_attached(
            timeout=20_000
        )
        no_traceback(page)
        shot("fault-review-jaeger-hang")
    finally:
        jaeger.mode = "ok"
    live.expire()
    page.locator("#rv-refresh-now").click()
    expect(page.locator("#rv-banner .md-banner")).to_have_count(0, timeout=20_000)
    expect(page.locator("#rv-verdict-word")).to_be_visible()
