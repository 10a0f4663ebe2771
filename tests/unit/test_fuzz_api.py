"""Property tests over the API's parameters: never a 5xx, always JSON, and nothing a user types
reaches PromQL except validated Kubernetes names."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, quote, urlparse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from config import Settings

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["bookinfo", "reviews", "v1", "5m", "1h", "0", "-1", "1e309", "nan", ".*", '"}']
    ),
)


@pytest.fixture(scope="module")
def demo_client(tmp_path_factory):
    app = create_app(Settings(audit_log=tmp_path_factory.mktemp("a") / "audit.jsonl"))
    client = app.server.test_client()
    client.get("/api/routes?namespace=bookinfo")
    return client, client.get_cookie("_csrf_token").value


def assert_json_not_5xx(resp):
    assert resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.is_json, resp.get_data(as_text=True)[:200]


@FUZZ
@given(ns=texts, graph=texts, window=texts, at=texts)
def test_graph_params(demo_client, ns, graph, window, at):
    client, _ = demo_client
    q = f"namespace={quote(ns)}&graph={quote(graph)}&window={quote(window)}&at={quote(at)}"
    assert_json_not_5xx(client.get("/api/graph?" + q))


@FUZZ
@given(ns=texts, svc=texts, window=texts, step=texts)
def test_metrics_params(demo_client, ns, svc, window, step):
    client, _ = demo_client
    q = f"namespace={quote(ns)}&service={quote(svc)}&window={quote(window)}&step={quote(step)}"
    assert_json_not_5xx(client.get("/api/metrics?" + q))


@FUZZ
@given(ns=texts, svc=texts, lookback=texts, limit=texts, trace=texts)
def test_trace_params(demo_client, ns, svc, lookback, limit, trace):
    client, _ = demo_client
    q = f"namespace={quote(ns)}&service={quote(svc)}&lookback={quote(lookback)}&limit={quote(limit)}"
    assert_json_not_5xx(client.get("/api/traces?" + q))
    assert_json_not_5xx(client.get("/api/traces/" + quote(trace, safe="")))


@FUZZ
@given(ns=texts, svc=texts, base=texts, canary=texts, window=texts)
def test_canary_params(demo_client, ns, svc, base, canary, window):
    client, _ = demo_client
    path = f"/api/canary/{quote(ns, safe='')}/{quote(svc, safe='')}"
    q = f"baseline={quote(base)}&canary={quote(canary)}&window={quote(window)}"
    assert_json_not_5xx(client.get(path + "?" + q))


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-1000, 1000),
        st.floats(allow_nan=False),
        st.text(max_size=12),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
actions = st.sampled_from(
    ["set_weights", "step_canary", "even_split", "take_over", "rollback", "retire", "blue_green",
     "match_canary", "remove_match", "mirror", "traffic_policy", "explode", ""]
)  # fmt: skip


@FUZZ
@given(
    action=actions,
    extra=st.dictionaries(
        st.sampled_from(["weights", "canary", "stable", "version", "step", "percentage", "kind",
                         "match", "value", "header", "versions", "reason", "base",
                         "connectionPool", "outlierDetection"]),
        json_values,
        max_size=5,
    ),
)  # fmt: skip
def test_route_actions_are_previewed_or_refused(demo_client, action, extra):
    client, token = demo_client
    body = {"action": action, **extra, "dry_run": True}
    resp = client.post("/api/routes/bookinfo/reviews", json=body, headers={"X-CSRFToken": token})
    assert_json_not_5xx(resp)


class _Recorder(BaseHTTPRequestHandler):
    queries: ClassVar[list[str]] = []

    def _answer(self, params):
        for q in params.get("query", []):
            _Recorder.queries.append(q)
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def do_GET(self):
        self._answer(parse_qs(urlparse(self.path).query))

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        params = parse_qs(self.rfile.read(length).decode())
        params.update(parse_qs(urlparse(self.path).query))
        self._answer(params)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def recorded_client(tmp_path_factory):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    settings_ = Settings(prometheus_url=url, audit_log=tmp_path_factory.mktemp("b") / "a.jsonl")
    yield create_app(settings_).server.test_client()
    server.shutdown()


# Everything inside a quoted PromQL string must be a Kubernetes name, a regex of such names,
# or one of meshdash's own constants (reporters, "unknown", label_replace arguments).
_SAFE_VALUE = re.compile(r"^(\^?\(?[a-z0-9.\-|]*\)?\$?|[a-z0-9_.]*|)$")


@FUZZ
@given(ns=st.lists(texts, min_size=1, max_size=3), window=texts, graph=texts)
def test_nothing_unvalidated_reaches_promql(recorded_client, ns, window, graph):
    _Recorder.queries.clear()
    q = (
        "&".join(f"namespace={quote(n)}" for n in ns)
        + f"&window={quote(window)}&graph={quote(graph)}"
    )
    resp = recorded_client.get("/api/graph?" + q)
    assert_json_not_5xx(resp)
    if resp.status_code == 400:
        assert _Recorder.queries == []  # refused before Prometheus saw anything
    for query in _Recorder.queries:
        for value in re.findall(r'"((?:[^"\\]|\\.)*)"', query):
            assert _SAFE_VALUE.match(value.replace("\\\\", "")), (value, query)


def test_the_recorder_sees_the_graph_queries(recorded_client):
    _Recorder.queries.clear()
    assert recorded_client.get("/api/graph?namespace=bookinfo&namespace=shop").status_code == 200
    assert len(_Recorder.queries) == 3
    assert all("bookinfo|shop" in q for q in _Recorder.queries)
