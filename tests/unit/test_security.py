"""Who may change routes: identity, allowed users/groups and CSRF, through the real API.

The app under test has only the API registered (api.register on a bare Flask app) over the
demo's in-memory route store, with settings chosen per test.
"""

from __future__ import annotations

import pytest
from flask import Flask

import api
from access import security
from demo.routes import DemoRouteStore
from wiring.services import Services
from wiring.settings import Settings

SHIFT = {"action": "set_weights", "weights": {"v1": 50, "v2": 50}, "dry_run": False}
REAL = {"prometheus_url": "http://127.0.0.1:9", "kube_enabled": True}


def make_client(**settings):
    store = DemoRouteStore({("bookinfo", "reviews"): ("v1", "v2", "v3")}, objects=_seed())
    svc = Services(settings=Settings(**settings), telemetry=None, routes=store)
    app = Flask("test_security")
    api.register(app, svc)
    client = app.test_client()
    client.get("/api/routes?namespace=bookinfo")  # the first visit sets the CSRF cookie
    return client, store


def _seed():
    from demo.routes import seed_objects

    return seed_objects("bookinfo", "reviews", ("v1", "v2", "v3"), {"v1": 90, "v2": 10})


def csrf(client) -> dict[str, str]:
    cookie = client.get_cookie(security.CSRF_COOKIE)
    assert cookie is not None
    return {security.CSRF_HEADER: cookie.value}


def weights(store) -> dict[str, int]:
    from mesh.routing.state import read_routes

    return read_routes(store.get_service("bookinfo", "reviews")).weights


def post(client, headers=None, body=SHIFT):
    return client.post("/api/routes/bookinfo/reviews", json=body, headers=headers or {})


def test_demo_user_writes_with_the_csrf_token():
    client, store = make_client()
    r = post(client, csrf(client))
    assert r.status_code == 200, r.json
    assert r.json["user"] == "demo-user" and r.json["applied"] is True
    assert weights(store) == {"v1": 50, "v2": 50}


def test_write_without_csrf_token_is_refused_and_changes_nothing():
    client, store = make_client()
    r = post(client)
    assert r.status_code == 403
    assert "CSRF" in r.json["error"]
    r = post(client, {security.CSRF_HEADER: "x" * 24 + "."})  # a token, but not the cookie's
    assert r.status_code == 403 and "mismatch" in r.json["error"]
    assert weights(store) == {"v1": 90, "v2": 10}


def test_csrf_cookie_is_readable_by_dash_and_strict():
    client, _ = make_client()
    first = client.application.test_client().get("/api/routes?namespace=bookinfo")  # no cookie yet
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith(f"{security.CSRF_COOKIE}=")
    assert "SameSite=Strict" in cookie and "HttpOnly" not in cookie


def test_writes_are_off_unless_enabled():
    client, store = make_client(**REAL, trusted_proxy=True)
    headers = {**csrf(client), "X-Forwarded-User": "alice"}
    r = post(client, headers)
    assert r.status_code == 403 and "disabled" in r.json["error"]
    detail = client.get("/api/routes/bookinfo/reviews", headers=headers).json
    assert detail["writable"] is False and "--enable-writes" in detail["why_not"]
    assert weights(store) == {"v1": 90, "v2": 10}


def test_write_without_identity_is_refused():
    client, store = make_client(**REAL, write_enabled=True)
    r = post(client, csrf(client))
    assert r.status_code == 403 and "no identity" in r.json["error"]
    assert weights(store) == {"v1": 90, "v2": 10}


def test_proxy_headers_are_ignored_unless_the_proxy_is_trusted():
    client, store = make_client(**REAL, write_enabled=True)
    forged = {**csrf(client), "X-Forwarded-User": "alice", "X-Forwarded-Groups": "admins"}
    r = post(client, forged)
    assert r.status_code == 403 and "no identity" in r.json["error"]
    assert client.get("/api/routes/bookinfo/reviews", headers=forged).json["writable"] is False
    assert weights(store) == {"v1": 90, "v2": 10}

    trusted, store = make_client(**REAL, write_enabled=True, trusted_proxy=True)
    r = post(trusted, {**csrf(trusted), "X-Forwarded-User": "alice"})
    assert r.status_code == 200 and r.json["user"] == "alice"
    assert weights(store) == {"v1": 50, "v2": 50}


def test_only_allowed_users_or_groups_may_write():
    settings = dict(
        REAL,
        write_enabled=True,
        trusted_proxy=True,
        allowed_users=("alice",),
        allowed_groups=("release",),
    )
    client, store = make_client(**settings)
    r = post(
        client, {**csrf(client), "X-Forwarded-User": "mallory", "X-Forwarded-Groups": "dev, qa"}
    )
    assert r.status_code == 403
    assert r.json["error"] == "mallory is not among the users or groups allowed to change routes"
    assert weights(store) == {"v1": 90, "v2": 10}
    # A read-only user still sees everything.
    for path in ("/api/routes?namespace=bookinfo", "/api/routes/bookinfo/reviews", "/api/audit"):
        assert client.get(path, headers={"X-Forwarded-User": "mallory"}).status_code == 200
    r = post(
        client, {**csrf(client), "X-Forwarded-User": "bob", "X-Forwarded-Groups": "dev,release"}
    )
    assert r.status_code == 200, r.json
    r = post(
        client, {**csrf(client), "X-Forwarded-Email": "alice"}, {**SHIFT, "weights": {"v1": 100}}
    )
    assert r.status_code == 200, r.json
    assert [e["who"] for e in client.get("/api/audit?service=reviews").json["entries"]] == [
        "alice",
        "bob",
    ]


def test_bearer_token_identifies_a_user_without_csrf():
    settings = dict(REAL, write_enabled=True, api_tokens={"ci-bot": "s3cret-token-value"})
    client, store = make_client(**settings)
    r = post(client, {"Authorization": "Bearer s3cret-token-value"})
    assert r.status_code == 200 and r.json["user"] == "ci-bot"
    r = post(client, {"Authorization": "Bearer wrong"}, {**SHIFT, "weights": {"v1": 100}})
    assert r.status_code == 403 and "bearer token is not known" in r.json["error"]
    assert weights(store) == {"v1": 50, "v2": 50}


def test_signed_tokens_refuse_a_planted_cookie():
    client, store = make_client(csrf_secret="k" * 32)
    planted = "A" * 24 + "."
    client.set_cookie(security.CSRF_COOKIE, planted)
    r = post(client, {security.CSRF_HEADER: planted})
    assert r.status_code == 403 and "mismatch" in r.json["error"]
    assert weights(store) == {"v1": 90, "v2": 10}
    assert client.get_cookie(security.CSRF_COOKIE).value != planted  # replaced by a signed one
    assert post(client, csrf(client)).status_code == 200


@pytest.mark.parametrize(
    ("headers", "settings", "expected"),
    [
        ({}, {}, security.Identity("demo-user", source="demo")),
        ({"X-Forwarded-User": "eve"}, {}, security.Identity("demo-user", source="demo")),
        ({"X-Forwarded-User": "eve"}, REAL, None),
        (
            {
                "X-Forwarded-User": "eve",
                "X-Forwarded-Email": "eve@x",
                "X-Forwarded-Groups": "a, b,",
            },
            dict(REAL, trusted_proxy=True),
            security.Identity("eve", "eve@x", ("a", "b"), "proxy"),
        ),
        ({"X-Forwarded-User": "bad\x00name"}, dict(REAL, trusted_proxy=True), None),
    ],
)
def test_identity_resolution(headers, settings, expected):
    assert security.identify(headers, Settings(**settings)) == expected
