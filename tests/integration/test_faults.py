"""The fault matrix: Prometheus, Jaeger and the Kubernetes API each refuse connections, hang past
the timeout, answer 500, send invalid JSON, NaN/Inf values or a partial answer.

The backends are real local servers (a real Prometheus, the demo's Jaeger endpoint, the fake
Kubernetes API) behind tests/faultservers.FaultProxy, which breaks their answers on demand. For
every case: the API answers 502 or 504 with JSON naming the backend and the cause; every page
that reads that backend shows a banner naming it and the cause while its other parts (and the
other backends' pages) keep working; no traceback reaches anyone; and once the backend answers
again, the same requests succeed with nobody touching the app.

Between phases the shared cache is emptied, which is what the passing of a refresh interval does
(test_cached_error_expires_by_itself checks the real expiry); errors are not cached here
(cache_error_ttl_s=0). The browser checks are in tests/browser/test_fault_banners.py.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from app import create_app
from devtools.promserver import PrometheusServer, require_prometheus
from tests.dashcalls import DashCalls, banners
from tests.faultservers import (
    END,
    KUBECONFIG_CONSTANT,
    NAMESPACE,
    Backends,
    FaultProxy,
    kubeconfig,
    poison_prometheus,
    start_backends,
)
from wiring.services import SERVICES_KEY
from wiring.settings import Settings

pytestmark = pytest.mark.integration

# Timeouts are whole-request deadlines (collectors/http.py): a healthy answer must arrive in full
# within it on a loaded machine, a trace search of the review included.
TIMEOUT_S = 3.0
NS = NAMESPACE
SPREAD = 4  # calls made together; each makes its backend calls one after another (bound: 8)
T = TypeVar("T")

# backend -> mode -> (HTTP status, a fragment of the cause every answer must carry)
MATRIX: dict[str, dict[str, tuple[int, str]]] = {
    "prometheus": {
        "refused": (502, "connection refused"),
        "hang": (504, f"within {TIMEOUT_S:g} s"),
        "500": (502, "HTTP 500"),
        "garbage": (502, "invalid JSON"),
        "nan": (502, "nan"),
        "inf": (502, "inf"),
        "partial": (502, "incomplete answer"),
        "warnings": (502, "partial answer: partial response"),
    },
    "jaeger": {
        "refused": (502, "connection refused"),
        "hang": (504, f"no answer within {TIMEOUT_S:g}s"),
        "500": (502, "HTTP 500"),
        "garbage": (502, "invalid JSON"),
        "nan": (502, "NaN is not a JSON number"),
        "inf": (502, "Infinity is not a JSON number"),
        "partial": (502, "incomplete answer"),
    },
    "kubernetes": {
        "refused": (502, "connection refused"),
        "hang": (504, f"no answer within {TIMEOUT_S:g}s"),
        "500": (502, "injected fault"),
        "garbage": (502, "is not JSON"),
        "nan": (502, "NaN is not a JSON number"),
        "inf": (502, "Infinity is not a JSON number"),
        "partial": (502, "cut short"),
    },
}
TITLES = {"prometheus": "Prometheus", "jaeger": "Jaeger", "kubernetes": "Kubernetes"}
# Pages a mode cannot reach: Jaeger's service list holds no numbers to poison, so the traces
# page's pickers load; its search (which reads durations) shows the banner.
UNREACHED = {("jaeger", "nan"): {"traces"}, ("jaeger", "inf"): {"traces"}}


@dataclass
class Stack:
    prom: PrometheusServer
    proxies: dict[str, FaultProxy]
    client: Any
    dash: DashCalls
    services: Any
    trace_id: str

    def expire(self) -> None:
        """What one refresh interval does: every cached answer is gone."""
        self.services.cache.store.clear()


@pytest.fixture(scope="module")
def backends(tmp_path_factory) -> Iterator[Backends]:
    require_prometheus()
    found = start_backends(tmp_path_factory.mktemp("faults"))
    try:
        yield found
    finally:
        found.close()


def make_app(settings: Settings) -> tuple[Any, Any]:
    app = create_app(settings)
    return app, app.server.extensions[SERVICES_KEY]


@pytest.fixture(scope="module")
def stack(backends) -> Iterator[Stack]:
    proxies = backends.proxies(hang_s=3 * TIMEOUT_S)
    with pytest.MonkeyPatch.context() as mp:
        config = kubeconfig(backends.workdir / "kubeconfig", proxies["kubernetes"].url)
        mp.setattr(KUBECONFIG_CONSTANT, str(config))
        app, services = make_app(
            Settings(
                prometheus_url=proxies["prometheus"].url,
                jaeger_url=proxies["jaeger"].url,
                kube_enabled=True,
                prometheus_timeout_s=TIMEOUT_S,
                jaeger_timeout_s=TIMEOUT_S,
                kube_timeout_s=TIMEOUT_S,
                cache_error_ttl_s=0,
                # One client emptying the cache between phases: past any per-client quota.
                client_uncached_per_minute=1_000_000,
                default_namespaces=(NS,),
                audit_log=backends.workdir / "audit.jsonl",
            )
        )
    client = app.server.test_client()
    found = client.get(f"/api/traces?namespace={NS}&service=productpage&limit=1").get_json()
    try:
        yield Stack(
            backends.prometheus,
            proxies,
            client,
            DashCalls(client),
            services,
            found["traces"][0]["trace_id"],
        )
    finally:
        for p in proxies.values():
            p.close()


def set_mode(stack: Stack, backend: str, mode: str) -> None:
    proxy = stack.proxies[backend]
    if mode == "refused":
        proxy.stop()
    else:
        proxy.start()
        proxy.mode = mode
    stack.expire()


# --- what each backend serves: API calls and page callbacks --------------------------------------
def api_urls(stack: Stack, backend: str) -> list[str]:
    return {
        "prometheus": [
            f"/api/graph?namespace={NS}&at={END}",
            f"/api/metrics?namespace={NS}&service=reviews&at={END}",
            f"/api/metrics?namespace={NS}&workload=reviews-v1&at={END}",
            f"/api/canary/{NS}/reviews?baseline=v1&canary=v2&at={END}",
            f"/api/review/{NS}/reviews?baseline=v1&canary=v2&at={END}",
        ],
        "jaeger": [
            f"/api/traces?namespace={NS}&service=productpage",
            f"/api/traces/{stack.trace_id}",
        ],
        "kubernetes": [f"/api/routes?namespace={NS}", f"/api/routes/{NS}/reviews"],
    }[backend]


def review_page(d: DashCalls) -> tuple[int, Any, str]:
    """The review page's load: Prometheus is its verdict (a failure replaces the page); Jaeger
    and Kubernetes each feed sections, which a failure leaves out under a banner."""
    return d.call(
        "rv-banner.children",
        {
            "rv-namespace.value": NS,
            "rv-service.value": "reviews",
            "rv-baseline.value": "v1",
            "rv-canary.value": "v2",
            "rv-window.value": "10m",
        },
        {"rv-init.data": {"at": str(END)}},
    )


def page_calls(stack: Stack, backend: str) -> dict[str, Callable[[], tuple[int, Any, str]]]:
    """Each page's server-side callback (or layout) that reads `backend`, as the browser calls it
    (not yet called: `answers` calls them together)."""
    d = stack.dash
    at = str(END)
    if backend == "prometheus":
        return {
            "review": lambda: review_page(d),
            "topology": lambda: d.call(
                "topo-banner.children",
                {
                    "topo-namespaces.value": [NS],
                    "topo-view.value": "workload",
                    "topo-window.value": "5m",
                },
                {"topo-at.data": at},
            ),
            "service": lambda: d.call(
                "svc-banner.children",
                {"svc-namespace.value": NS, "svc-name.value": "reviews", "svc-window.value": "30m"},
                {"svc-at.data": at},
            ),
            "workload": lambda: d.call(
                "wl-banner.children",
                {"wl-namespace.value": NS, "wl-name.value": "reviews-v1", "wl-window.value": "30m"},
                {"wl-at.data": at},
            ),
        }
    if backend == "jaeger":
        return {
            "traces": lambda: d.page("/traces", f"?namespace={NS}&service=productpage"),
            "traces search": lambda: d.call(
                "ts-banner.children",
                {"ts-find.n_clicks": 1},
                {
                    "ts-namespace.value": NS,
                    "ts-service.value": "productpage",
                    "ts-lookback.value": "1h",
                    "ts-limit.value": 20,
                },
            ),
            "trace": lambda: d.page("/traces/view", f"?trace={stack.trace_id}"),
            "review": lambda: review_page(d),
        }
    return {
        "review": lambda: review_page(d),
        "releases list": lambda: d.call("rel-services.children", {"rel-namespace.value": NS}),
        "releases split": lambda: d.call(
            "rel-split.children",
            {"rel-service.data": "reviews", "rel-revision.data": 0},
            {"rel-namespace.value": NS},
        ),
    }


def answers(calls: dict[str, Callable[[], T]]) -> dict[str, T]:
    """Every call's answer, the calls made together: a hung backend then costs the case one
    timeout or two, not one per call (SPREAD stays under the backend's concurrency bound, so
    no call waits for a slot and answers another cause)."""
    with ThreadPoolExecutor(max_workers=SPREAD) as pool:
        futures = {name: pool.submit(call) for name, call in calls.items()}
        return {name: future.result() for name, future in futures.items()}


def unaffected(stack: Stack, backend: str) -> list[str]:
    """APIs of the other backends: they must keep answering while `backend` fails."""
    return [api_urls(stack, other)[0] for other in MATRIX if other != backend]


def cases() -> list[tuple[str, str]]:
    return [(b, m) for b, modes in MATRIX.items() for m in modes]


@pytest.mark.parametrize(("backend", "mode"), cases(), ids=[f"{b}-{m}" for b, m in cases()])
def test_fault_is_named_everywhere_and_recovers(stack, backend, mode):
    status, cause = MATRIX[backend][mode]
    title = TITLES[backend] + (" timed out" if status == 504 else " is failing")
    set_mode(stack, backend, mode)
    try:
        urls = api_urls(stack, backend)
        got = answers({url: functools.partial(stack.client.get, url) for url in urls})
        for url, r in got.items():
            raw = r.get_data(as_text=True)
            assert "Traceback" not in raw
            assert r.status_code == status, (url, raw[:300])
            assert r.is_json, raw[:200]
            body = r.get_json()
            assert body["backend"] == backend and cause in body["cause"], (url, body)
            assert body["error"] == f"{backend}: {body['cause']}"
        for url in unaffected(stack, backend):
            assert stack.client.get(url).status_code == 200, (
                url,
                stack.client.get(url).get_data(as_text=True)[:300],
            )
        if backend != "prometheus":  # the review keeps its verdict and names what it left out
            r = stack.client.get(f"/api/review/{NS}/reviews?baseline=v1&canary=v2&at={END}")
            assert r.status_code == 200, r.get_data(as_text=True)[:300]
            failures = r.get_json()["failures"]
            assert failures and {f["backend"] for f in failures} == {backend}, failures
            assert all(cause in f["cause"] and f["status"] == status for f in failures), failures
        for page, (code, answer, raw) in answers(page_calls(stack, backend)).items():
            assert code == 200 and "Traceback" not in raw, (page, code, raw[:300])
            found = banners(answer)
            if page in UNREACHED.get((backend, mode), ()):
                assert found == [], (page, found)
                continue
            assert any(b.startswith(f"{title}:") and cause in b for b in found), (page, found)
    finally:
        set_mode(stack, backend, "ok")
    for url in api_urls(stack, backend):
        r = stack.client.get(url)
        assert r.status_code == 200, (url, r.get_data(as_text=True)[:300])
    for page, (code, answer, raw) in answers(page_calls(stack, backend)).items():
        assert code == 200 and "Traceback" not in raw, page
        assert not [b for b in banners(answer) if TITLES[backend] in b], (page, banners(answer))


def test_pages_keep_their_other_parts_while_a_backend_fails(stack):
    """Releases with Prometheus down: the split (Kubernetes) still shows; only the live figures
    say Prometheus is failing. Traces with Kubernetes down: untouched."""
    set_mode(stack, "prometheus", "500")
    try:
        code, out, raw = stack.dash.call(
            "rel-split.children",
            {"rel-service.data": "reviews", "rel-revision.data": 0},
            {"rel-namespace.value": NS},
        )
        assert code == 200 and "Traceback" not in raw
        assert not banners(out.get("rel-split")), out.get("rel-split")
        assert "v1" in raw and "50" in raw  # the split bar of the 50/50 route
        note = banners(out.get("rel-figures-note"))
        assert note and note[0].startswith("Prometheus is failing: HTTP 500"), note
    finally:
        set_mode(stack, "prometheus", "ok")
    set_mode(stack, "kubernetes", "hang")
    try:
        code, answer, _ = stack.dash.page("/traces", f"?namespace={NS}&service=productpage")
        assert code == 200 and not banners(answer)
    finally:
        set_mode(stack, "kubernetes", "ok")


def test_readyz_names_each_failing_backend(stack):
    r = stack.client.get("/readyz")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["backends"]["kubernetes"]["version"] == "v1.30.0-fake"
    for backend, required in (("prometheus", True), ("jaeger", False), ("kubernetes", False)):
        set_mode(stack, backend, "refused")
        try:
            r = stack.client.get("/readyz")
            check = r.get_json()["backends"][backend]
            assert check["ok"] is False and check["detail"].endswith("connection refused"), check
            assert r.status_code == (503 if required else 200)  # only telemetry is required
        finally:
            set_mode(stack, backend, "ok")
    assert stack.client.get("/readyz").status_code == 200


def test_cached_error_expires_by_itself(backends, tmp_path):
    """Without emptying anything: a failure is served from the cache for cache_error_ttl_s (so a
    crowd does not hammer a sick backend), then the next request asks again and succeeds."""
    prom = backends.prometheus
    with FaultProxy(prom.url, poison_prometheus) as proxy:
        app, _ = make_app(
            Settings(
                prometheus_url=proxy.url,
                cache_error_ttl_s=0.5,
                prometheus_timeout_s=TIMEOUT_S,
                audit_log=tmp_path / "a.jsonl",
            )
        )
        client = app.server.test_client()
        url = f"/api/graph?namespace={NS}&at={END - 600}"
        proxy.mode = "500"
        assert client.get(url).status_code == 502
        proxy.mode = "ok"
        seen = proxy.requests_seen
        assert client.get(url).status_code == 502  # the cached failure, no new query
        assert proxy.requests_seen == seen
        time.sleep(0.6)
        assert client.get(url).status_code == 200
        assert proxy.requests_seen > seen


def test_real_prometheus_stopped_then_restarted(backends, tmp_path):
    """No proxy: the real Prometheus process stops (its port closes) and starts again on the same
    port and data. The topology says so, then shows the graph again by itself."""
    prom = backends.prometheus
    app, services = make_app(
        Settings(prometheus_url=prom.url, cache_error_ttl_s=0, audit_log=tmp_path / "a.jsonl")
    )
    client = app.server.test_client()
    dash = DashCalls(client)

    def topology() -> tuple[list[str], set[str]]:
        code, out, raw = dash.call(
            "topo-banner.children",
            {"topo-namespaces.value": [NS], "topo-view.value": "app", "topo-window.value": "5m"},
            {"topo-at.data": str(END)},
        )
        assert code == 200 and "Traceback" not in raw
        drawn = out.get("topo-elements", {}).get("data") or {}
        return banners(out), {e["data"]["id"] for e in drawn.get("elements", [])}

    url = f"/api/graph?namespace={NS}&graph=app&at={END}"
    assert client.get(url).status_code == 200
    prom.stop()
    try:
        services.cache.store.clear()
        r = client.get(url)
        assert r.status_code == 502
        assert r.get_json()["cause"] == f"cannot reach {prom.url}: connection refused"
        found, data = topology()
        assert found == [f"Prometheus is failing: cannot reach {prom.url}: connection refused"]
        assert data == set()  # nothing drawn
        assert client.get("/readyz").status_code == 503
    finally:
        prom.start()
    services.cache.store.clear()
    assert client.get(url).status_code == 200
    found, data = topology()
    assert found == [] and data >= {"bookinfo/reviews"}
    assert client.get("/readyz").status_code == 200
