"""/api/investigate through the real app factory, with telemetry and trace sources written for
the test: the graph's one query set, one trace search, and a trace backend that fails."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from app import create_app
from mesh.errors import BackendTimeout
from mesh.telemetry_records import Endpoint, GraphQuery, GraphTelemetry, RequestRate
from mesh.traces.records import Process, RefType, Span, SpanRef, Tag, Trace, TraceQuery
from wiring.services import Services
from wiring.settings import Settings

AT = 1795881075.0
FRONT = Endpoint(namespace="shop", workload="frontend-v1", app="frontend", version="v1",
                 service="frontend", service_namespace="shop")  # fmt: skip
CART = Endpoint(namespace="shop", workload="cart-v1", app="cart", version="v1",
                service="cart", service_namespace="shop")  # fmt: skip
OUTSIDE = Endpoint(namespace="", workload="", app="", version="")


@dataclass
class Telemetry:
    name: str = "test"
    calls: list[GraphQuery] = field(default_factory=list)

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        self.calls.append(query)
        return GraphTelemetry(
            query=query,
            requests=(
                RequestRate(OUTSIDE, FRONT, "http", "200", "", 8.0),
                RequestRate(OUTSIDE, FRONT, "http", "503", "", 2.0),
                RequestRate(FRONT, CART, "http", "200", "", 8.0),
                RequestRate(FRONT, CART, "http", "503", "", 2.0),
            ),
            queries_sent=3,
        )


def _span(tid: str, sid: str, parent: str, service: str, app: str, kind: str) -> Span:
    tags = (
        Tag("istio.canonical_service", app),
        Tag("node_id", f"sidecar~10.0.0.1~{app}-v1-5b64f47978-xvb2k.shop~shop.svc.cluster.local"),
        Tag("span.kind", kind),
        Tag("error", True, "bool"),
    )
    refs = (SpanRef(RefType.CHILD_OF, tid, parent),) if parent else ()
    return Span(tid, sid, f"{app}.shop.svc.cluster.local:80/x", 0, 10, Process(service), refs, tags)


@dataclass
class Traces:
    name: str = "test-traces"
    searches: list[TraceQuery] = field(default_factory=list)
    fail: Exception | None = None

    def find_traces(self, query: TraceQuery) -> list[Trace]:
        self.searches.append(query)
        if self.fail:
            raise self.fail
        tid = "00000000000000aa"
        return [
            Trace(
                tid,
                (
                    _span(tid, "1", "", "frontend.shop", "frontend", "server"),
                    _span(tid, "2", "1", "frontend.shop", "frontend", "client"),
                    _span(tid, "3", "2", "cart.shop", "cart", "server"),
                ),
            )
        ]


def app_with(traces: Traces | None):
    telemetry = Telemetry()
    settings = Settings(prometheus_url="http://127.0.0.1:1", default_namespaces=("shop",))
    svc = Services(settings=settings, telemetry=telemetry, traces=traces, clock=lambda: AT)
    return create_app(settings, svc).server.test_client(), telemetry


def test_one_graph_and_one_trace_search_confirm_the_origin():
    traces = Traces()
    client, telemetry = app_with(traces)
    r = client.get("/api/investigate?namespace=shop&node=shop/frontend-v1&window=5m")
    assert r.status_code == 200
    body = r.get_json()
    assert [o["id"] for o in body["origins"]] == ["shop/cart-v1"]
    assert len(telemetry.calls) == 1 and len(traces.searches) == 1
    q = traces.searches[0]
    assert q.service == "frontend.shop" and q.tags == (("error", "true"),)
    assert (q.start_us, q.end_us) == (int((AT - 300) * 1e6), int(AT * 1e6))
    assert body["traces"]["origins"][0]["node"] == "shop/cart-v1"
    assert body["traces"]["disagreement"] is None
    example = body["origins"][0]["traces"][0]
    assert example["trace_id"] == "00000000000000aa"
    assert example["href"].startswith("/traces/view?trace=00000000000000aa")


def test_a_failing_trace_backend_leaves_the_metrics_answer_and_says_why():
    client, _ = app_with(Traces(fail=BackendTimeout("jaeger", "timed out after 10 s")))
    body = client.get("/api/investigate?namespace=shop&node=shop/frontend-v1").get_json()
    assert body["origins"][0]["id"] == "shop/cart-v1"
    assert body["origins"][0]["traces"] == []
    assert "trace search failed" in body["traces"]["unavailable"]


def test_without_a_trace_backend_the_answer_says_so():
    client, _ = app_with(None)
    body = client.get("/api/investigate?namespace=shop&node=shop/frontend-v1").get_json()
    assert body["traces"]["unavailable"] == "no trace backend is configured"


@pytest.mark.parametrize(
    ("query", "field"),
    [("node=%3Cscript%3E", "node"), ("node=a&node=b", "node"), ("window=0s", "window")],
)
def test_bad_input_is_400_before_any_backend(query, field):
    traces = Traces()
    client, telemetry = app_with(traces)
    r = client.get(f"/api/investigate?namespace=shop&{query}")
    assert r.status_code == 400
    assert r.get_json()["field"] == field
    assert telemetry.calls == [] and traces.searches == []
