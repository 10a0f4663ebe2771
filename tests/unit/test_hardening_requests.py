"""Issue 17, findings 1, 3, 6 (headers), 9 (500s) and 11: what a hostile client sends, through
the real app factory with Flask's test client. Over real sockets and the demo app:
tests/integration/test_hardening_requests.py.
"""

from __future__ import annotations

from access import security
from app import create_app
from collectors.cache import CachedTelemetry, SharedCache
from demo.routes import DemoRouteStore, seed_objects
from mesh.routing.state import read_routes
from mesh.telemetry_records import GraphQuery, GraphTelemetry
from wiring.services import Services
from wiring.settings import Settings

SHIFT = {"action": "set_weights", "weights": {"v1": 50, "v2": 50}, "dry_run": False}
LIVE = {"prometheus_url": "http://127.0.0.1:9", "kube_enabled": True, "write_enabled": True}


class Counting:
    name = "prometheus"

    def __init__(self) -> None:
        self.asked: list[float] = []

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        self.asked.append(query.at)
        return GraphTelemetry(query=query)


def routes_app(**settings):
    objects = seed_objects("bookinfo", "reviews", ("v1", "v2", "v3"), {"v1": 90, "v2": 10})
    store = DemoRouteStore({("bookinfo", "reviews"): ("v1", "v2", "v3")}, objects=objects)
    svc = Services(settings=Settings(**{**LIVE, **settings}), telemetry=Counting(), routes=store)
    return create_app(svc.settings, svc), store


def weights(store) -> dict[str, int]:
    return read_routes(store.get_service("bookinfo", "reviews")).weights


def token_of(client) -> dict[str, str]:
    client.get("/healthz")
    return {security.CSRF_HEADER: client.get_cookie(security.CSRF_COOKIE).value}


# --- 1: identity headers only from the trusted proxy ---------------------------------------


def test_a_spoofing_client_from_a_non_proxy_address_cannot_write():
    app, store = routes_app(trusted_proxy=True, trusted_proxy_cidrs=["10.1.0.0/16"])
    client = app.server.test_client()
    spoof = {"X-Forwarded-User": "mallory", "X-Forwarded-Groups": "release-managers"}
    other = {"REMOTE_ADDR": "10.2.3.4"}
    client.get("/healthz", environ_base=other)
    headers = {**spoof, security.CSRF_HEADER: client.get_cookie(security.CSRF_COOKIE).value}
    r = client.post("/api/routes/bookinfo/reviews", json=SHIFT, headers=headers, environ_base=other)
    assert r.status_code == 403
    assert "only from the auth proxy" in r.get_json()["error"]
    assert weights(store) == {"v1": 90, "v2": 10}
    # The same headers from the proxy's address are honoured.
    proxy = {"REMOTE_ADDR": "10.1.0.9"}
    r = client.post("/api/routes/bookinfo/reviews", json=SHIFT, headers=headers, environ_base=proxy)
    assert r.status_code == 200 and r.get_json()["user"] == "mallory"


def test_the_shared_secret_header_stands_in_for_the_proxy_address():
    app, _store = routes_app(
        trusted_proxy=True, trusted_proxy_cidrs=[], trusted_proxy_secret="s3cret-proxy"
    )
    client = app.server.test_client()
    headers = {**token_of(client), "X-Forwarded-User": "alice"}
    wrong = {**headers, security.PROXY_SECRET_HEADER: "guess"}
    assert client.post("/api/routes/bookinfo/reviews", json=SHIFT, headers=wrong).status_code == 403
    right = {**headers, security.PROXY_SECRET_HEADER: "s3cret-proxy"}
    r = client.post("/api/routes/bookinfo/reviews", json=SHIFT, headers=right)
    assert r.status_code == 200 and r.get_json()["user"] == "alice"


# --- 11: CSRF bound to the browser, Secure behind TLS, no 500 on a non-ASCII token -------------


def test_a_csrf_token_from_one_browser_is_refused_in_another():
    app, store = routes_app(trusted_proxy=True)
    alice, mallory = app.server.test_client(), app.server.test_client()
    stolen = token_of(alice)
    token_of(mallory)  # mallory has a browser secret of her own
    mallory.set_cookie(security.CSRF_COOKIE, stolen[security.CSRF_HEADER])
    headers = {**stolen, "X-Forwarded-User": "mallory"}
    r = mallory.post("/api/routes/bookinfo/reviews", json=SHIFT, headers=headers)
    assert r.status_code == 403 and "CSRF" in r.get_json()["error"]
    assert weights(store) == {"v1": 90, "v2": 10}
    r = alice.post(
        "/api/routes/bookinfo/reviews", json=SHIFT, headers={**stolen, "X-Forwarded-User": "alice"}
    )
    assert r.status_code == 200


def test_a_non_ascii_csrf_token_is_a_403_not_a_500():
    app, _store = routes_app(trusted_proxy=True)
    client = app.server.test_client()
    token_of(client)
    odd = "é" * 24 + "." + "x" * 43
    client.set_cookie(security.CSRF_COOKIE, odd)
    headers = {security.CSRF_HEADER: odd, "X-Forwarded-User": "alice"}
    r = client.post("/api/routes/bookinfo/reviews", json=SHIFT, headers=headers)
    assert r.status_code == 403


def _cookie_flags(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def test_cookies_are_secure_when_the_trusted_proxy_says_https():
    app, _ = routes_app(trusted_proxy=True, trusted_proxy_cidrs=["10.1.0.0/16"])
    client = app.server.test_client()
    r = client.get(
        "/healthz", headers={"X-Forwarded-Proto": "https"}, environ_base={"REMOTE_ADDR": "10.1.0.2"}
    )
    flags = _cookie_flags(r)
    assert "Secure" in flags[security.CSRF_COOKIE] and "Secure" in flags[security.BROWSER_COOKIE]
    assert "HttpOnly" in flags[security.BROWSER_COOKIE]
    other = app.server.test_client()
    r = other.get(
        "/healthz", headers={"X-Forwarded-Proto": "https"}, environ_base={"REMOTE_ADDR": "10.9.0.2"}
    )
    assert "Secure" not in _cookie_flags(r)[security.CSRF_COOKIE]


# --- 3: request body limit -------------------------------------------------------------------


def test_bodies_over_the_limit_are_413_for_the_api_and_dash_callbacks():
    app, store = routes_app(max_request_bytes=4096)
    client = app.server.test_client()
    big = {"pad": "x" * 10_000, **SHIFT}
    r = client.post("/api/routes/bookinfo/reviews", json=big, headers=token_of(client))
    assert r.status_code == 413
    assert r.get_json()["field"] == "body" and "MESHDASH_MAX_REQUEST_BYTES" in r.get_json()["error"]
    r = client.post("/_dash-update-component", json={"pad": "x" * 10_000})
    assert r.status_code == 413
    assert weights(store) == {"v1": 90, "v2": 10}


# --- 11: per-client limit on uncached queries; `at` aligned so the cache serves it ------------


def _graph_client(per_minute: int):
    settings = Settings(prometheus_url="http://127.0.0.1:9", client_uncached_per_minute=per_minute)
    from ops.self_metrics import Metrics

    metrics = Metrics()
    cache = SharedCache.from_settings(settings, metrics)
    source = Counting()
    svc = Services(
        settings=settings, telemetry=CachedTelemetry(source, cache), cache=cache, metrics=metrics
    )
    return create_app(settings, svc).server.test_client(), source


def test_any_at_inside_one_interval_is_served_from_the_cache():
    client, source = _graph_client(per_minute=100)
    for offset in range(0, 15):
        assert (
            client.get(f"/api/graph?namespace=bookinfo&at={1767225600 + offset}").status_code == 200
        )
    assert source.asked == [1767225600]


def test_one_client_walking_at_is_limited_and_others_are_not():
    client, source = _graph_client(per_minute=5)
    statuses = [
        client.get(f"/api/graph?namespace=bookinfo&at={1767225600 - 15 * i}").status_code
        for i in range(8)
    ]
    assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}
    r = client.get("/api/graph?namespace=bookinfo&at=1767000000")
    assert r.status_code == 429 and "uncached queries" in r.get_json()["error"]
    assert len(source.asked) == 5
    # A cached view still answers the limited client; another client still gets its share.
    assert client.get("/api/graph?namespace=bookinfo&at=1767225600").status_code == 200
    other = client.get(
        "/api/graph?namespace=bookinfo&at=1766000000", environ_base={"REMOTE_ADDR": "10.0.0.8"}
    )
    assert other.status_code == 200
