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
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, urlparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import create_app
from tests.unit.test_fuzz_api import (
    api_requests,
    assert_json_not_5xx,
    query,
    send,
)
from wiring.settings import Settings

# The Hypothesis profiles ("ci", "dev") are registered and loaded by tests/unit/test_fuzz_api.py,
# imported above.

# --- inputs -----------------------------------------------------------------------------------------
GRAPHS = ("workload", "app", "versioned-app", "service")


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
