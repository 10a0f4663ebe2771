"""JaegerCollector over real HTTP: a server replaying Jaeger's own response fixtures (both API
flavours, and failures), and the demo's Jaeger endpoint."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from collectors.jaeger import JaegerCollector
from demo.mesh import DemoMesh
from devtools.jaeger_server import serve_jaeger, start_demo_jaeger
from mesh.errors import (
    BackendAuthError,
    BackendDataError,
    BackendQueryError,
    BackendTimeout,
    NotFound,
)
from mesh.traces.analysis import analyze
from mesh.traces.records import TraceQuery
from tests.conftest import shared_path

NOW = 1_795_000_000.0


class Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        return None


class Replay:
    """A WSGI app answering from a route table: path -> (status, body text)."""

    def __init__(self, routes: dict[str, tuple[int, str] | Callable[[Request], Response]]):
        self.routes = routes
        self.seen: list[str] = []

    def __call__(self, environ, start_response):
        req = Request(environ)
        self.seen.append(req.full_path.rstrip("?"))
        hit = self.routes.get(req.path)
        if hit is None:
            resp = Response('{"errors":[{"code":404,"msg":"no route"}]}', 404)
        elif callable(hit):
            resp = hit(req)
        else:
            resp = Response(hit[1], hit[0], mimetype="application/json")
        return resp(environ, start_response)


@pytest.fixture
def serve():
    servers = []

    def start(app) -> str:
        srv = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
        threading.Thread(
            target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.port}"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def fx(name: str) -> str:
    return shared_path("fixtures", "jaeger", name).read_text()


def v1_wrap(bare: str) -> str:
    return json.dumps(
        {"data": [json.loads(bare)], "total": 1, "limit": 0, "offset": 0, "errors": None}
    )


@pytest.fixture
def v3_routes() -> dict:
    return {
        "/api/v3/services": (200, fx("jaeger-apiv3-GetServices.json")),
        "/api/v3/operations": (200, fx("jaeger-apiv3-GetOperations.json")),
        "/api/v3/traces": (200, fx("jaeger-apiv3-FindTraces.json")),
        "/api/v3/traces/00000000000000000000000000000001": (200, fx("jaeger-apiv3-GetTrace.json")),
        "/api/v3/traces/0000000000000001": (200, fx("jaeger-apiv3-GetTrace.json")),
    }


@pytest.fixture
def v1_routes() -> dict:
    bare = fx("jui-tracegraph-testTrace.json")
    return {
        "/api/services": (200, json.dumps({"data": ["service1", "service2"], "total": 2})),
        "/api/services/service1/operations": (
            200,
            json.dumps({"data": ["op1", "op2"], "total": 2}),
        ),
        "/api/traces": (200, v1_wrap(bare)),
        "/api/traces/0000000000000001": (200, v1_wrap(fx("jaeger-uimodel-ui_01.json"))),
        "/api/dependencies": (200, json.dumps({"data": json.loads(fx("jui-depgraph-small.json"))})),
    }


def query(**kw) -> TraceQuery:
    base = {"service": "service1", "start_us": int((NOW - 3600) * 1e6), "end_us": int(NOW * 1e6)}
    return TraceQuery(**{**base, **kw})


# ---- fixtures replayed, /api/v3 ----------------------------------------------------------------


def test_v3_fixture_server(serve, v3_routes):
    app = Replay(v3_routes)
    c = JaegerCollector(serve(app))
    assert c.api_version() == "v3"
    assert c.services() == ("foo",)
    assert c.operations("foo") == ("get_users",)
    traces = c.find_traces(
        query(
            service="foo",
            operation="foobar",
            tags=(("error", "true"),),
            min_duration_us=1500,
            limit=5,
        )
    )
    assert [t.trace_id for t in traces] == ["0000000000000001"]
    assert traces[0].spans[0].is_error
    sent = next(s for s in app.seen if s.startswith("/api/v3/traces?"))
    assert "query.service_name=foo" in sent and "query.operation_name=foobar" in sent
    assert "query.num_traces=5" in sent and "query.duration_min=1500us" in sent
    assert "query.start_time_min=" in sent and "query.attributes=" in sent
    t = c.get_trace("00000000000000000000000000000001")
    assert t.spans[0].operation == "foobar"


def test_v3_empty_search_is_an_empty_list_and_unknown_trace_is_not_found(serve, v3_routes):
    no_traces = json.dumps({"error": {"httpCode": 404, "message": "No traces found"}})
    routes = {**v3_routes, "/api/v3/traces": (404, no_traces)}
    c = JaegerCollector(serve(Replay(routes)))
    assert c.find_traces(query(service="foo")) == []
    with pytest.raises(NotFound):
        c.get_trace("00000000000000ff")


# ---- fixtures replayed, v1 ----------------------------------------------------------------------


def test_v1_fixture_server(serve, v1_routes):
    app = Replay(v1_routes)
    c = JaegerCollector(serve(app))
    assert c.api_version() == "v1"
    assert c.services() == ("service1", "service2")
    assert c.operations("service1") == ("op1", "op2")
    (t,) = c.find_traces(
        query(tags=(("error", "true"),), min_duration_us=2000, max_duration_us=9_000_000)
    )
    assert len(t.spans) == 11 and t.trace_id == "trace-123"
    sent = next(s for s in app.seen if s.startswith("/api/traces?"))
    assert "minDuration=2000us" in sent and "maxDuration=9000000us" in sent
    assert "tags=%7B%22error%22%3A%22true%22%7D" in sent
    assert f"start={int((NOW - 3600) * 1e6)}" in sent
    edge = c.get_trace("0000000000000001")
    assert len(analyze(edge).warnings) >= 2  # loads, with warnings
    deps = c.dependencies(int(NOW * 1e6), 3600)
    assert len(deps) == 7
    assert any(
        s.startswith("/api/dependencies?endTs=") and "lookback=3600000" in s for s in app.seen
    )


def test_v1_empty_search_and_unknown_trace(serve, v1_routes):
    routes = {
        **v1_routes,
        "/api/traces": (200, json.dumps({"data": [], "total": 0})),
    }
    c = JaegerCollector(serve(Replay(routes)), api="v1")
    assert c.find_traces(query()) == []
    with pytest.raises(NotFound):
        c.get_trace("00000000000000ff")


def test_detection_prefers_v3_and_is_asked_once(serve, v1_routes, v3_routes):
    app = Replay({**v1_routes, **v3_routes})
    c = JaegerCollector(serve(app))
    c.services()
    c.services()
    c.operations("foo")
    assert app.seen.count("/api/v3/services") == 3  # one detection + two real calls
    assert "/api/services" not in app.seen


def test_forced_flavour_skips_detection(serve, v1_routes, v3_routes):
    app = Replay({**v1_routes, **v3_routes})
    c = JaegerCollector(serve(app), api="v1")
    assert c.services() == ("service1", "service2")
    assert not any(s.startswith("/api/v3") for s in app.seen)
    with pytest.raises(ValueError):
        JaegerCollector("http://x", api="v2")  # type: ignore[arg-type]


# ---- failures become typed errors ---------------------------------------------------------------


def test_server_error_is_a_query_error_with_jaegers_message(serve, v1_routes):
    routes = {
        **v1_routes,
        "/api/traces": (
            500,
            json.dumps({"data": None, "errors": [{"code": 500, "msg": "cassandra is down"}]}),
        ),
    }
    c = JaegerCollector(serve(Replay(routes)), api="v1")
    with pytest.raises(BackendQueryError) as exc:
        c.find_traces(query())
    assert exc.value.backend == "jaeger" and "cassandra is down" in str(exc.value)


def test_invalid_json_is_a_data_error(serve, v1_routes):
    routes = {**v1_routes, "/api/traces/0000000000000001": (200, "<html>proxy login</html>")}
    c = JaegerCollector(serve(Replay(routes)), api="v1")
    with pytest.raises(BackendDataError):
        c.get_trace("0000000000000001")


def test_malformed_payload_is_a_data_error(serve, v1_routes):
    routes = {**v1_routes, "/api/traces": (200, json.dumps({"data": [{"spans": [{"no": "id"}]}]}))}
    c = JaegerCollector(serve(Replay(routes)), api="v1")
    with pytest.raises(BackendDataError):
        c.find_traces(query())


def test_auth_failure(serve, v1_routes):
    routes = {**v1_routes, "/api/services": (401, "unauthorized")}
    c = JaegerCollector(serve(Replay(routes)), api="v1")
    with pytest.raises(BackendAuthError):
        c.services()


def test_timeout(serve, v1_routes):
    def slow(req):
        time.sleep(1.0)
        return Response("{}", 200)

    c = JaegerCollector(
        serve(Replay({**v1_routes, "/api/services": slow})), api="v1", timeout_s=0.2
    )
    with pytest.raises(BackendTimeout) as exc:
        c.services()
    assert exc.value.status == 504


def test_not_a_jaeger(serve):
    c = JaegerCollector(serve(Replay({})))
    with pytest.raises(BackendQueryError, match="neither"):
        c.services()


# ---- the demo's endpoint, both flavours, same model ---------------------------------------------


@pytest.fixture(scope="module")
def demo():
    sim = DemoMesh.bookinfo(clock=lambda: NOW)
    url, stop = start_demo_jaeger(sim)
    yield sim, url
    stop()


def test_demo_endpoint_v1_and_v3_give_the_same_traces(demo):
    _, url = demo
    v1, v3 = JaegerCollector(url, api="v1"), JaegerCollector(url, api="v3")
    assert v1.services() == v3.services()
    assert "reviews.bookinfo" in v1.services()
    assert v1.operations("reviews.bookinfo") == v3.operations("reviews.bookinfo")
    q = query(service="reviews.bookinfo", limit=15)
    a, b = v1.find_traces(q), v3.find_traces(q)
    assert len(a) == 15
    assert [t.trace_id for t in a] == [t.trace_id for t in b]
    for x, y in zip(a, b, strict=True):
        assert x == y, "the OTLP and v1 encodings of a demo trace decode to the same records"
    one = v3.get_trace(a[3].trace_id)
    assert one == a[3] == v1.get_trace(a[3].trace_id)


def test_demo_endpoint_filters_like_jaeger(demo):
    _, url = demo
    c = JaegerCollector(url, api="v3")
    errs = c.find_traces(query(service="ratings.bookinfo", tags=(("error", "true"),), limit=5))
    assert errs and all(
        any(s.is_error and s.service == "ratings.bookinfo" for s in t.spans) for t in errs
    )
    slow = JaegerCollector(url, api="v1").find_traces(
        query(service="reviews.bookinfo", min_duration_us=40_000, limit=5)
    )
    assert slow and all(
        any(s.service == "reviews.bookinfo" and s.duration_us >= 40_000 for s in t.spans)
        for t in slow
    )
    op = "ratings.bookinfo.svc.cluster.local:9080/ratings/0"
    with_op = c.find_traces(query(service="reviews.bookinfo", operation=op, limit=5))
    assert with_op and all(any(s.operation == op for s in t.spans) for t in with_op)
    assert c.find_traces(query(service="nobody.nowhere")) == []


def test_demo_endpoint_unknown_and_malformed_ids(demo):
    _, url = demo
    for api in ("v1", "v3"):
        c = JaegerCollector(url, api=api)
        with pytest.raises(NotFound):
            c.get_trace("0123456789abcdef0123456789abcdef")
        with pytest.raises(BackendQueryError):
            c.get_trace("not-hex")


def test_demo_endpoint_can_speak_one_flavour_only(demo):
    sim, _ = demo
    from demo.trace_source import DemoTraceStore

    store = DemoTraceStore(sim.spec, sim.state, clock=lambda: NOW)
    only_v1 = serve_jaeger(store, flavour="v1")
    only_v3 = serve_jaeger(store, flavour="v3")
    try:
        assert JaegerCollector(only_v1.url).api_version() == "v1"
        assert JaegerCollector(only_v3.url).api_version() == "v3"
    finally:
        only_v1.stop()
        only_v3.stop()


def test_demo_dependencies_follow_the_topology(demo):
    _, url = demo
    deps = {(d.parent, d.child) for d in JaegerCollector(url).dependencies(int(NOW * 1e6), 600)}
    assert ("productpage.bookinfo", "reviews.bookinfo") in deps
    assert ("reviews.bookinfo", "ratings.bookinfo") in deps
    assert ("productpage.bookinfo", "ratings.bookinfo") not in deps
