"""Property tests over every parameter of every endpoint under /api/: never a 5xx (except the
502/504 a deliberately failing backend earns), always JSON, and nothing a user types reaches
PromQL except validated Kubernetes names.

Three apps: the demo (every endpoint works, so inputs reach deep), one whose every backend fails
(errors must stay typed: 400 for bad input, 502/504 naming the backend, never 500), and one whose
Prometheus is a recording server (every query sent is parsed and its label matchers checked).

Example counts are bounded by Hypothesis profiles: "ci" (the default, derandomized so CI runs are
reproducible) and "dev" (HYPOTHESIS_PROFILE=dev, many more examples, random).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, urlencode, urlparse

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
GRAPHS = ("workload", "app", "versioned-app", "service")
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


# --- 1. the demo: every endpoint answers, so inputs reach the model --------------------------------
@pytest.fixture(scope="module")
def demo_client(tmp_path_factory):
    app = create_app(Settings(audit_log=tmp_path_factory.mktemp("a") / "audit.jsonl"))
    client = app.server.test_client()
    client.get("/api/routes?namespace=bookinfo")  # sets the CSRF cookie
    return client, {"X-CSRFToken": client.get_cookie("_csrf_token").value}


@given(request=api_requests())
def test_every_endpoint_answers_json_and_never_5xx(demo_client, request):
    client, headers = demo_client
    assert_json_not_5xx(send(client, request, headers))


@given(path=st.text(max_size=30), method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
def test_unknown_api_paths_answer_json(demo_client, path, method):
    client, _ = demo_client
    resp = client.open("/api/" + quote(path, safe="/"), method=method)
    assert_json_not_5xx(resp)


def test_the_demo_fuzz_reaches_success_too(demo_client):
    """The strategies are not all refused at the door: valid inputs get through."""
    client, headers = demo_client
    assert client.get("/api/graph?namespace=bookinfo&window=5m").status_code == 200
    review = "/api/review/bookinfo/reviews?baseline=v1&canary=v2"
    assert assert_json_not_5xx(client.get(review))["analysis"]["verdict"]
    report = client.get(review.replace("?", "/report.md?"))
    assert report.status_code == 200 and assert_json_not_5xx(report) == {}
    body = {"action": "even_split", "dry_run": True}
    assert (
        client.post("/api/routes/bookinfo/reviews", json=body, headers=headers).status_code == 200
    )


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


# --- 3. a recording Prometheus: what reaches PromQL -----------------------------------------------
class _Recorder(BaseHTTPRequestHandler):
    queries: ClassVar[list[str]] = []

    def _answer(self, params: dict[str, list[str]]) -> None:
        _Recorder.queries.extend(params.get("query", []))
        kind = "matrix" if self.path.startswith("/api/v1/query_range") else "vector"
        body = json.dumps({"status": "success", "data": {"resultType": kind, "result": []}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def do_GET(self) -> None:
        self._answer(parse_qs(urlparse(self.path).query))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        params = parse_qs(self.rfile.read(length).decode())
        params.update(parse_qs(urlparse(self.path).query))
        self._answer(params)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def recorded_client(tmp_path_factory) -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    # The fuzzer is one client sending hundreds of uncached queries: exactly what the per-client
    # quota stops (tested in test_hardening_requests), so it is lifted here.
    app_settings = Settings(
        prometheus_url=url,
        audit_log=tmp_path_factory.mktemp("b") / "a.jsonl",
        client_uncached_per_minute=1_000_000,
    )
    try:
        yield create_app(app_settings).server.test_client()
    finally:
        server.shutdown()


# A Kubernetes name or label value (namespace, service, workload, version) or one of meshdash's
# own constants (reporter values, "unknown"): alphanumerics, '-', '_' and '.', nothing else.
K8S_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,251}[A-Za-z0-9])?$")
MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
RANGE = re.compile(r"\[([^\]]*)\]")
EMPTY_SET = "$^."  # promql.any_of of no names: matches nothing
CANONICAL = (  # one request per query family meshdash sends
    *(f"/api/graph?namespace=bookinfo&graph={v}" for v in GRAPHS),
    "/api/metrics?namespace=bookinfo&service=reviews",
    "/api/metrics?namespace=bookinfo&workload=reviews-v1",
    "/api/canary/bookinfo/reviews?baseline=v1&canary=v2",
    "/api/review/bookinfo/reviews?baseline=v1&canary=v2",
    "/api/graph?namespace=bookinfo&cluster=east&cluster=west",
)


def unknown_version(resp: Any) -> bool:
    """The one 400 given after the backend answered: a version neither routed nor serving
    (views/canary.py asks the counts first: no evidence, no promote)."""
    body = resp.get_json(silent=True) or {}
    return resp.status_code == 400 and " is not a version of " in str(body.get("error", ""))


def skeleton(q: str) -> str:
    """The query with every string literal emptied and every range duration blanked: whatever
    a user typed can only ever change what is inside quotes, so the skeleton is fixed."""
    return RANGE.sub("[D]", QUOTED.sub('""', q))


# collectors.prometheus.host_regex's template around an alternation of escaped namespaces, and
# mesh.graph.edge_keys.ABSENT (a label absent or "unknown"): fixed text, never from user input.
HOST = re.compile(re.escape("[^.:]+\\.(") + "(.*)" + re.escape(")(\\.svc(\\.[^:]*)?)?(:[0-9]+)?"))
ABSENT = "|unknown"


def check_query(q: str, skeletons: set[str]) -> None:
    """The query's shape is one meshdash builds, every matcher value is a validated name (or an
    alternation of escaped ones), and every range is a plain duration."""
    assert skeleton(q) in skeletons, q
    for label, op, raw in MATCHER.findall(q):
        value = re.sub(r"\\(.)", r"\1", raw)  # PromQL string escapes
        if op in ("=", "!="):
            assert K8S_NAME.match(value), (label, value, q)
            continue
        if value in (EMPTY_SET, ABSENT):  # fixed patterns meshdash writes itself
            continue
        host = HOST.fullmatch(value)  # the host-in-namespaces template: check its names
        if label == "destination_service" and host:
            value = host.group(1)
        for part in re.split(r"(?<!\\)\|", value):
            assert not re.search(r"(?<!\\)\.", part), (label, part, q)  # a bare '.' matches all
            assert K8S_NAME.match(part.replace("\\.", ".")), (label, part, q)
    for window in RANGE.findall(QUOTED.sub('""', q)):
        assert re.fullmatch(r"\d+[smhd]", window), (window, q)


@pytest.fixture(scope="module")
def skeletons(recorded_client) -> set[str]:
    """The shapes of every query family, from canonical requests (a fresh `at` each: no cache)."""
    _Recorder.queries.clear()
    for i, url in enumerate(CANONICAL):
        resp = recorded_client.get(f"{url}&at={1767225600 - 60 * i}")
        # The recorder's Prometheus has no traffic and this app no routing: the canary's versions
        # exist nowhere, a 400 that only the counts' answer can give (its queries are recorded).
        assert resp.status_code == 200 or unknown_version(resp), url
    assert len(_Recorder.queries) >= 4 * 3 + 2 * 6 + 2
    return {skeleton(q) for q in _Recorder.queries}


@given(request=api_requests())
def test_nothing_unvalidated_reaches_promql(recorded_client, skeletons, request):
    _Recorder.queries.clear()
    resp = send(recorded_client, request, {})
    body = assert_json_not_5xx(resp, allowed=(503,))
    if resp.status_code == 503:  # this app has no Jaeger: views/traces.py's documented 503
        assert body["cause"].startswith("no trace backend is configured"), body
    if resp.status_code == 400 and not unknown_version(resp):
        assert _Recorder.queries == []  # refused before Prometheus saw anything
    for q in _Recorder.queries:
        check_query(q, skeletons)


@given(
    names=st.lists(
        st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True),
        min_size=1,
        max_size=4,
        unique=True,
    ),
    at=st.integers(1_700_000_000, 1_760_000_000),
)
def test_valid_names_arrive_exactly_as_typed(recorded_client, skeletons, names, at):
    """The positive side: names that pass validation are in the query as typed (and escaped)."""
    _Recorder.queries.clear()
    resp = recorded_client.get(f"/api/graph?{query(namespace=names, at=str(at))}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:200]
    for q in _Recorder.queries:
        check_query(q, skeletons)
        assert all(n in q for n in names)


def test_the_checker_catches_injections(recorded_client, skeletons):
    """check_query fails on what an unescaped name would have produced."""
    _Recorder.queries.clear()
    assert recorded_client.get("/api/graph?namespace=zzz&at=1767000000").status_code == 200
    honest = _Recorder.queries[0]
    check_query(honest, skeletons)
    for typed in ('zzz"} or vector(1) #', ".*", "zz.z", 'zzz",reporter!="x', "zzz)|(.*"):
        with pytest.raises(AssertionError):
            check_query(honest.replace("zzz", typed), skeletons)
    with pytest.raises(AssertionError):
        check_query(honest.replace("[5m]", "[5m] offset 1w"), skeletons)
