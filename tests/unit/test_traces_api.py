"""/api/traces and /api/traces/<id> through the real app factory, with a trace source written for
the test, and the view helpers shared with the pages."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from app import create_app
from demo.bookinfo import bookinfo_spec
from demo.state import TrafficState
from demo.trace_source import DemoTraceStore
from mesh.errors import BackendTimeout, BadRequest, NotFound
from mesh.telemetry_records import GraphQuery, GraphTelemetry
from mesh.traces.path import trace_path, trace_path_nodes
from mesh.traces.records import Process, RefType, Span, SpanRef, Tag, Trace, TraceQuery
from views.trace_links import topology_highlight_link, traces_search_link
from views.traces import parse_search_params, parse_tags, trace_page_view, trace_path_view
from wiring.services import Services
from wiring.settings import Settings

NOW = 1_795_000_000.0


@dataclass
class NoTelemetry:
    name: str = "none"

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        return GraphTelemetry(query=query)


@dataclass
class RecordingTraces:
    """The demo store, recording what was asked and able to fail."""

    store: DemoTraceStore
    name: str = "test-traces"
    queries: list[TraceQuery] = field(default_factory=list)
    fail: Exception | None = None
    known: tuple[str, ...] | None = None

    def services(self):
        if self.fail:
            raise self.fail
        return self.known if self.known is not None else self.store.services()

    def operations(self, service):
        return self.store.operations(service)

    def find_traces(self, query):
        self.queries.append(query)
        if self.fail:
            raise self.fail
        return self.store.find_traces(query)

    def get_trace(self, trace_id):
        if self.fail:
            raise self.fail
        return self.store.get_trace(trace_id)


@pytest.fixture
def traces():
    spec = bookinfo_spec()
    return RecordingTraces(
        DemoTraceStore(spec, TrafficState(spec, clock=lambda: NOW), clock=lambda: NOW)
    )


def client_for(traces):
    settings = Settings(prometheus_url="http://127.0.0.1:1", default_namespaces=("bookinfo",))
    svc = Services(settings=settings, telemetry=NoTelemetry(), traces=traces, clock=lambda: NOW)
    return create_app(settings, svc).server.test_client()


@pytest.fixture
def client(traces):
    return client_for(traces)


def test_search_returns_summaries_newest_first(client, traces):
    r = client.get("/api/traces?namespace=bookinfo&service=reviews&lookback=30m&limit=12")
    assert r.status_code == 200
    body = r.get_json()
    assert body["jaeger_service"] == "reviews.bookinfo"
    rows = body["traces"]
    assert len(rows) == 12
    assert [x["start_us"] for x in rows] == sorted((x["start_us"] for x in rows), reverse=True)
    row = rows[0]
    assert set(row) >= {
        "trace_id",
        "start",
        "duration_ms",
        "span_count",
        "services",
        "root_operation",
        "error",
        "versions",
    }
    assert "reviews.bookinfo" in row["services"]
    assert any(v.startswith("reviews:") for v in row["versions"])
    (q,) = traces.queries
    assert q.service == "reviews.bookinfo" and q.limit == 12
    assert q.end_us == int(NOW * 1e6) and q.start_us == int((NOW - 1800) * 1e6)


def test_search_filters_reach_the_backend(client, traces):
    r = client.get(
        "/api/traces?namespace=bookinfo&service=ratings&error=true&min_duration_ms=1.5"
        "&max_duration_ms=900&operation=ratings.bookinfo.svc.cluster.local:9080/ratings/0"
        "&tags=response_flags%3D-"
    )
    assert r.status_code == 200, r.get_json()
    (q,) = traces.queries
    assert dict(q.tags) == {"response_flags": "-", "error": "true"}
    assert (q.min_duration_us, q.max_duration_us) == (1500, 900_000)
    assert q.operation.endswith("/ratings/0")
    assert all(x["error"] for x in r.get_json()["traces"])


@pytest.mark.parametrize(
    "qs,field",
    [
        ("service=reviews", "namespace"),
        ("namespace=bookinfo", "service"),
        ("namespace=Book_Info&service=reviews", "namespace"),
        ("namespace=bookinfo&service=reviews%22%7D", "service"),
        ("namespace=bookinfo&service=reviews&limit=0", "limit"),
        ("namespace=bookinfo&service=reviews&limit=abc", "limit"),
        ("namespace=bookinfo&service=reviews&lookback=forever", "lookback"),
        ("namespace=bookinfo&service=reviews&min_duration_ms=-1", "min_duration_ms"),
        (
            "namespace=bookinfo&service=reviews&min_duration_ms=9&max_duration_ms=3",
            "max_duration_ms",
        ),
        ("namespace=bookinfo&service=reviews&error=maybe", "error"),
        ("namespace=bookinfo&service=reviews&tags=novalue", "tags"),
    ],
)
def test_bad_search_parameters_are_400_before_the_backend(client, traces, qs, field):
    r = client.get("/api/traces?" + qs)
    assert r.status_code == 400
    assert r.get_json()["field"] == field
    assert traces.queries == []


def test_one_trace_with_tree_self_time_critical_path_and_services(client):
    rows = client.get("/api/traces?namespace=bookinfo&service=ratings&limit=1").get_json()["traces"]
    tid = rows[0]["trace_id"]
    r = client.get(f"/api/traces/{tid}")
    assert r.status_code == 200
    body = r.get_json()
    spans = body["spans"]
    assert body["span_count"] == len(spans) == rows[0]["span_count"]
    by_id = {s["span_id"]: s for s in spans}
    root = spans[0]
    assert root["parent_id"] is None and root["depth"] == 0
    for s in spans[1:]:
        assert by_id[s["parent_id"]]["depth"] == s["depth"] - 1
        assert 0 <= s["self_ms"] <= s["duration_ms"] + 1e-9
    assert set(body["critical_path"]) <= set(by_id)
    assert root["span_id"] in body["critical_path"]
    assert sum(x["end_ms"] - x["start_ms"] for x in body["critical_sections"]) == pytest.approx(
        body["duration_ms"]
    )
    total_self = sum(s["self_ms"] for s in body["services"])
    assert total_self == pytest.approx(sum(s["self_ms"] for s in spans))
    ratings = next(s for s in spans if s["service"] == "ratings.bookinfo" and s["kind"] == "server")
    assert (
        ratings["istio"]["pod"].startswith("ratings-v1-")
        and ratings["istio"]["workload"] == "ratings-v1"
    )
    assert "bookinfo/ratings-v1" in body["path"]["nodes"]
    assert ["bookinfo/reviews-v2", "bookinfo/ratings-v1"] in body["path"]["edges"] or [
        "bookinfo/reviews-v3",
        "bookinfo/ratings-v1",
    ] in body["path"]["edges"]


def test_the_trace_page_finds_the_path_after_the_first_rows_with_the_apis_answer(traces):
    """The page's first answer leaves the path out (it reads Istio's tags on every span), and
    the path found after the first rows is /api/traces/{id}'s, waypoint naming included."""
    client = client_for(traces)
    rows = client.get("/api/traces?namespace=bookinfo&service=ratings&limit=3").get_json()["traces"]
    settings = Settings(prometheus_url="http://127.0.0.1:1")
    svc = Services(settings=settings, telemetry=NoTelemetry(), traces=traces, clock=lambda: NOW)
    for row in rows:
        body = client.get(f"/api/traces/{row['trace_id']}").get_json()
        assert "path" not in trace_page_view(svc, row["trace_id"])
        path = trace_path_view(svc, row["trace_id"])
        assert path == body["path"] and "bookinfo/ratings-v1" in path["nodes"]
    with pytest.raises(NotFound):
        trace_path_view(svc, "00000000000000000000000000000bad")


def test_the_trace_page_sends_the_waterfall_columns_as_json_text(traces):
    """Dash passes text through without visiting each number; the page's script parses it back
    into exactly the view's columns."""
    import json

    from dashboards.trace_view import layout

    settings = Settings(prometheus_url="http://127.0.0.1:1", default_namespaces=("bookinfo",))
    svc = Services(settings=settings, telemetry=NoTelemetry(), traces=traces, clock=lambda: NOW)
    app = create_app(settings, svc)
    row = app.server.test_client().get("/api/traces?namespace=bookinfo&service=ratings&limit=1")
    trace_id = row.get_json()["traces"][0]["trace_id"]
    with app.server.app_context():
        page = layout(trace=trace_id)
    (store,) = [c for c in _walk(page) if getattr(c, "id", None) == "tv-data"]
    assert isinstance(store.data, str)
    assert json.loads(store.data) == trace_page_view(svc, trace_id)["waterfall"]


def _walk(component):
    yield component
    kids = getattr(component, "children", None)
    for kid in kids if isinstance(kids, list) else [kids] if kids is not None else []:
        if hasattr(kid, "to_plotly_json"):
            yield from _walk(kid)


def test_malformed_trace_id_is_400_and_unknown_is_404(client):
    r = client.get("/api/traces/not-a-trace-id")
    assert r.status_code == 400 and r.get_json()["field"] == "trace"
    assert client.get("/api/traces/" + "a" * 33).status_code == 400
    r = client.get("/api/traces/0123456789abcdef0123456789abcdef")
    assert r.status_code == 404 and "not found" in r.get_json()["error"]


def test_no_trace_backend_is_503_with_the_reason():
    client = client_for(None)
    for url in ("/api/traces?namespace=bookinfo&service=reviews", "/api/traces/0123456789abcdef"):
        r = client.get(url)
        assert r.status_code == 503
        body = r.get_json()
        assert body["backend"] == "jaeger" and "--jaeger" in body["error"]


def test_backend_timeout_is_504(traces):
    traces.fail = BackendTimeout("jaeger", "no answer within 10s")
    r = client_for(traces).get("/api/traces?namespace=bookinfo&service=reviews")
    assert r.status_code == 504 and r.get_json()["backend"] == "jaeger"


def test_bare_app_names_from_older_istio_are_used_when_that_is_what_jaeger_knows(traces):
    traces.known = ("reviews", "productpage")
    client_for(traces).get("/api/traces?namespace=bookinfo&service=reviews")
    assert traces.queries[0].service == "reviews"


# ---- view helpers -----------------------------------------------------------------------------


def test_tags_are_logfmt():
    assert parse_tags('error=true http.url="http://a b/"') == (
        ("error", "true"),
        ("http.url", "http://a b/"),
    )
    assert parse_tags("") == ()
    for bad in ("noequals", "=v", 'a="unclosed', "k=" + "x" * 300):
        with pytest.raises(BadRequest):
            parse_tags(bad)


def test_search_params_defaults():
    p = parse_search_params({"namespace": "bookinfo", "service": "reviews"})
    assert (p.lookback, p.limit, p.tags, p.error_only) == ("1h", 20, (), False)


def _span(sid, parent, node_id, svc, start=0, dur=10):
    refs = (SpanRef(RefType.CHILD_OF, "t", parent),) if parent else ()
    tags = (Tag("node_id", node_id),) if node_id else ()
    return Span("t", sid, "op", start, dur, Process(svc), refs, tags)


def test_trace_path_follows_workloads_and_skips_spans_inside_one():
    gw = "router~10.0.0.1~istio-ingressgateway-6b7c8d9f5-abcde.istio-system~istio-system.svc.cluster.local"
    pp = "sidecar~10.0.0.2~productpage-v1-6b7c8d9f5-abcde.bookinfo~bookinfo.svc.cluster.local"
    rv = "sidecar~10.0.0.3~reviews-v2-6b7c8d9f5-abcde.bookinfo~bookinfo.svc.cluster.local"
    t = Trace(
        "t",
        (
            _span("1", None, gw, "istio-ingressgateway.istio-system"),
            _span("2", "1", pp, "productpage.bookinfo"),
            _span("3", "2", None, "productpage.bookinfo"),  # an app span without Istio tags
            _span("4", "3", pp, "productpage.bookinfo"),
            _span("5", "4", rv, "reviews.bookinfo"),
        ),
    )
    path = trace_path(t)
    assert path["nodes"] == [
        "istio-system/istio-ingressgateway",
        "bookinfo/productpage-v1",
        "bookinfo/reviews-v2",
    ]
    assert path["edges"] == [
        ["istio-system/istio-ingressgateway", "bookinfo/productpage-v1"],
        ["bookinfo/productpage-v1", "bookinfo/reviews-v2"],
    ]
    assert trace_path_nodes(t) == path["nodes"]
    link = topology_highlight_link(path, ["bookinfo"])
    assert link == (
        "/?namespace=bookinfo&highlight=istio-system%2Fistio-ingressgateway%2C"
        "bookinfo%2Fproductpage-v1%2Cbookinfo%2Freviews-v2"
    )
    assert (
        traces_search_link("bookinfo", "reviews", "5m")
        == "/traces?namespace=bookinfo&service=reviews&lookback=5m"
    )


def test_page_view_is_columns_and_large_traces_start_collapsed(traces):
    # a synthetic 3,061-span trace: root -> 30 children -> 99 grandchildren each (+2 deeper)
    spans = [Span("t", "r", "root", 0, 100_000, Process("a.ns"))]
    for i in range(30):
        spans.append(
            Span(
                "t",
                f"c{i}",
                "child",
                i * 3000,
                3000,
                Process("b.ns"),
                (SpanRef(RefType.CHILD_OF, "t", "r"),),
            )
        )
        for j in range(99):
            spans.append(
                Span(
                    "t",
                    f"g{i}.{j}",
                    "leaf",
                    i * 3000 + j * 30,
                    30,
                    Process("c.ns"),
                    (SpanRef(RefType.CHILD_OF, "t", f"c{i}"),),
                )
            )
        for k in range(2):  # the first grandchild of each child has children of its own
            spans.append(
                Span(
                    "t",
                    f"x{i}.{k}",
                    "deep",
                    i * 3000 + k,
                    5,
                    Process("d.ns"),
                    (SpanRef(RefType.CHILD_OF, "t", f"g{i}.0"),),
                )
            )
    big = Trace("t", tuple(spans))

    class One:
        name = "one"

        def get_trace(self, trace_id):
            if trace_id != "t":
                raise NotFound(trace_id)
            return big

    settings = Settings(prometheus_url="http://127.0.0.1:1")
    svc = Services(settings=settings, telemetry=NoTelemetry(), traces=One(), clock=lambda: NOW)
    view = trace_page_view(svc, "t")
    wf = view["waterfall"]
    assert len(wf["id"]) == 3061 and wf["id"][0] == "r" and wf["parent"][0] == -1
    assert wf["depth"][wf["id"].index("g3.5")] == 2
    assert wf["parent"][wf["id"].index("g3.5")] == wf["id"].index("c3")
    assert wf["ops"][wf["op"][0]] == "root"
    # deep subtrees (g*.0 at depth 2) start collapsed, except where the critical path goes
    collapsed = {wf["id"][row] for row in wf["collapsed"]}
    assert collapsed and collapsed <= {f"g{i}.0" for i in range(30)}
    assert all(not wf["crit"][row] for row in wf["collapsed"])
    assert view["summary_only"] is False
    assert sum(wf["crit"]) == view["critical_count"]


def test_a_large_trace_is_streamed_in_pieces_with_the_same_json_as_the_view(monkeypatch):
    import json

    import views.traces as vt

    # 1,201 spans: a root and 1,200 children, in pieces of 500 spans
    spans = [Span("b1", "r", "root", 0, 10_000, Process("a.ns"), (), (Tag("error", True, "bool"),))]
    spans += [
        Span("b1", f"c{i}", "child", i, 5, Process("b.ns"), (SpanRef(RefType.CHILD_OF, "b1", "r"),))
        for i in range(1200)
    ]
    big = Trace("b1", tuple(spans))

    class One:
        name = "one"

        def get_trace(self, trace_id):
            if trace_id.lstrip("0") != "b1":
                raise NotFound(f"trace {trace_id} not found")
            return big

    pieces: list[int] = []
    real = vt.trace_view_json

    def counting(services, trace_id):
        out = list(real(services, trace_id))
        pieces.append(len(out))
        return iter(out)

    monkeypatch.setattr("api.traces.trace_view_json", counting)
    settings = Settings(prometheus_url="http://127.0.0.1:1")
    svc = Services(settings=settings, telemetry=NoTelemetry(), traces=One(), clock=lambda: NOW)
    client = create_app(settings, svc).server.test_client()
    r = client.get("/api/traces/b1")
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = json.loads(r.get_data())
    assert pieces == [2 + 3]  # the head, three pieces of spans, the end
    assert body == json.loads(json.dumps(vt.trace_view(svc, "b1")))
    assert body["span_count"] == len(body["spans"]) == 1201 and body["error_count"] == 1
    assert [s["span_id"] for s in body["spans"][:2]] == ["r", "c0"]
    # the trace is read before the answer starts: an unknown id is still a 404
    r = client.get("/api/traces/b2")
    assert r.status_code == 404 and "not found" in r.get_json()["error"]
    # the page's raw JSON asks for the first spans only
    assert len(vt.trace_view(svc, "b1", max_spans=300)["spans"]) == 300
