"""Property test over every parameter of every endpoint under /api/ on an app whose every backend
fails: errors stay typed (400 for bad input, 502/504 naming the backend, never 500), always JSON.
The demo app and the recording Prometheus: tests/integration/test_fuzz_api.py, which shares these
generators.

Example counts are bounded by Hypothesis profiles: "ci" (the default, derandomized so CI runs are
reproducible) and "dev" (HYPOTHESIS_PROFILE=dev, many more examples, random).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from mesh.errors import BackendAuthError, BackendDataError, BackendTimeout, BackendUnavailable
from wiring.services import Services
from wiring.settings import Settings

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# --- inputs -----------------------------------------------------------------------------------------
ATTACKS = [
    "bookinfo",
    "reviews",
    "reviews-v1",
    "v1",
    "v2",
    "5m",
    "1h",
    "90s",
    "0",
    "-1",
    "1e309",
    "nan",
    "inf",
    "1767225600",
    ".*",
    "a|b",
    '"}',
    'bookinfo"} or vector(1) #',
    'x",reporter=~".*',
    "bookinfo\\",
    "\\x00",
    "a\nb",
    "${jndi:x}",
    "../etc/passwd",
    "%00",
    "ünïcode",
    "a" * 300,
    "",
    " ",
]
texts = st.one_of(st.text(max_size=40), st.sampled_from(ATTACKS))
maybe = st.one_of(st.none(), texts)  # None: the parameter is left out


def query(**params: Any) -> str:
    """A query string; list values repeat the key, None leaves it out."""
    pairs = []
    for key, value in params.items():
        for v in value if isinstance(value, list) else [value]:
            if v is not None:
                pairs.append((key, v))
    return urlencode(pairs)


def seg(text: str) -> str:
    """A path segment: whatever was typed, slash and all, percent-encoded."""
    return quote(text, safe="") or "%20"


def assert_json_not_5xx(resp, allowed: tuple[int, ...] = ()) -> dict:
    raw = resp.get_data(as_text=True)
    assert "Traceback" not in raw
    assert resp.status_code < 500 or resp.status_code in allowed, (resp.status_code, raw[:300])
    if resp.status_code == 200 and resp.mimetype in ("text/markdown", "text/html"):
        # a review report: a download, the one answer under /api/ that is not JSON
        assert "attachment" in resp.headers.get("Content-Disposition", ""), resp.headers
        return {}
    assert resp.is_json, (resp.status_code, raw[:200])
    return resp.get_json()


# --- every endpoint, as requests built from drawn parameters ------------------------------------
@st.composite
def api_requests(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    """(method, path?query, extra request kwargs) for one endpoint with drawn parameters."""
    endpoint = draw(
        st.sampled_from(
            [
                "graph",
                "metrics",
                "canary",
                "review",
                "report",
                "traces",
                "trace",
                "routes",
                "route",
                "audit",
                "post",
            ]
        )
    )
    if endpoint == "graph":
        q = query(
            namespace=draw(st.lists(texts, max_size=3)),
            graph=draw(maybe),
            window=draw(maybe),
            at=draw(maybe),
            cluster=draw(st.lists(texts, max_size=2)),
        )
        return "GET", f"/api/graph?{q}", {}
    if endpoint == "metrics":
        kind = draw(st.sampled_from(["service", "workload"]))
        q = query(
            namespace=draw(maybe),
            **{kind: draw(maybe)},
            window=draw(maybe),
            step=draw(maybe),
            at=draw(maybe),
        )
        return "GET", f"/api/metrics?{q}", {}
    if endpoint == "canary":
        q = query(baseline=draw(maybe), canary=draw(maybe), window=draw(maybe), at=draw(maybe))
        return "GET", f"/api/canary/{seg(draw(texts))}/{seg(draw(texts))}?{q}", {}
    if endpoint in ("review", "report"):
        q = query(
            baseline=draw(maybe),
            canary=draw(maybe),
            window=draw(maybe),
            at=draw(maybe),
            before=draw(maybe),
            min_requests=draw(maybe),
            max_p99_ms=draw(maybe),
        )
        ns = draw(st.one_of(st.just("bookinfo"), texts))
        svc = draw(st.one_of(st.just("reviews"), texts))
        tail = (
            "/report." + draw(st.sampled_from(["md", "html", "pdf"]))
            if endpoint == "report"
            else ""
        )
        return "GET", f"/api/review/{seg(ns)}/{seg(svc)}{tail}?{q}", {}
    if endpoint == "traces":
        q = query(
            namespace=draw(maybe),
            service=draw(maybe),
            operation=draw(maybe),
            tags=draw(maybe),
            min_duration_ms=draw(maybe),
            max_duration_ms=draw(maybe),
            lookback=draw(maybe),
            limit=draw(maybe),
            error=draw(maybe),
            end=draw(maybe),
        )
        return "GET", f"/api/traces?{q}", {}
    if endpoint == "trace":
        trace = draw(st.one_of(texts, st.text("0123456789abcdef", min_size=1, max_size=40)))
        return "GET", f"/api/traces/{seg(trace)}", {}
    if endpoint == "routes":
        return "GET", f"/api/routes?{query(namespace=draw(maybe))}", {}
    if endpoint == "route":
        return "GET", f"/api/routes/{seg(draw(texts))}/{seg(draw(texts))}", {}
    if endpoint == "audit":
        q = query(namespace=draw(maybe), service=draw(maybe), limit=draw(maybe))
        return "GET", f"/api/audit?{q}", {}
    ns = draw(st.one_of(st.just("bookinfo"), texts))
    svc = draw(st.one_of(st.just("reviews"), texts))
    return "POST", f"/api/routes/{seg(ns)}/{seg(svc)}", draw(post_bodies())


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-1000, 1000),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ACTIONS = ["set_weights", "step_canary", "even_split", "take_over", "rollback", "retire",
           "blue_green", "match_canary", "remove_match", "mirror", "traffic_policy", "explode", ""]  # fmt: skip
FIELDS = ["weights", "canary", "stable", "version", "step", "percentage", "kind", "match", "value",
          "header", "versions", "reason", "base", "connectionPool", "outlierDetection"]  # fmt: skip
weights = st.dictionaries(
    st.one_of(st.sampled_from(["v1", "v2", "v3"]), texts),
    st.one_of(st.integers(-10, 110), json_values),
    max_size=4,
)


@st.composite
def post_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Request kwargs for a POST: an action with drawn fields, any JSON at all, or not JSON."""
    shape = draw(st.sampled_from(["action", "action", "action", "any json", "not json"]))
    if shape == "not json":
        return {"data": draw(st.binary(max_size=40)), "content_type": "application/json"}
    if shape == "any json":
        return {"json": draw(json_values)}
    body: dict[str, Any] = {"action": draw(st.one_of(st.sampled_from(ACTIONS), json_values))}
    body.update(draw(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4)))
    if draw(st.booleans()):
        body["weights"] = draw(weights)
    body["dry_run"] = draw(st.sampled_from([True, True, True, False, "yes", None, 1]))
    return {"json": body}


def send(client: Any, request: tuple[str, str, dict[str, Any]], headers: dict[str, str]):
    method, path, kw = request
    if method == "GET":
        return client.get(path)
    return client.post(path, headers=headers, **kw)


# --- 2. every backend failing: typed errors only --------------------------------------------------
class FailingSource:
    """A backend double whose every call raises `error` (set by the test): any source role."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.error: Exception = BackendUnavailable(name, "connection refused")

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)

        def fail(*args: Any, **kwargs: Any) -> Any:
            raise self.error

        return fail


ERRORS = [BackendUnavailable, BackendTimeout, BackendDataError, BackendAuthError]
TOKEN = "fuzz-token"


@pytest.fixture(scope="module")
def failing(tmp_path_factory):
    prom, jaeger, kube = (
        FailingSource("prometheus"),
        FailingSource("jaeger"),
        FailingSource("kubernetes"),
    )
    app_settings = Settings(
        prometheus_url="http://127.0.0.1:9",
        jaeger_url="http://127.0.0.1:9",
        kube_enabled=True,
        write_enabled=True,
        api_tokens={"fuzz": TOKEN},
        audit_log=tmp_path_factory.mktemp("f") / "audit.jsonl",
    )
    services = Services(
        settings=app_settings,
        telemetry=prom,
        series=prom,
        canary=prom,
        traces=jaeger,
        routes=kube,
    )
    client = create_app(app_settings, services).server.test_client()
    return client, (prom, jaeger, kube)


@given(request=api_requests(), kind=st.sampled_from(ERRORS))
def test_failing_backends_give_typed_errors_only(failing, request, kind):
    client, doubles = failing
    for double in doubles:
        double.error = kind(double.name, "injected")
    resp = send(client, request, {"Authorization": f"Bearer {TOKEN}"})
    body = assert_json_not_5xx(resp, allowed=(502, 504))
    if resp.status_code >= 500:
        assert resp.status_code == (504 if kind is BackendTimeout else 502)
        assert body["backend"] in {d.name for d in doubles} and body["cause"] == "injected"
