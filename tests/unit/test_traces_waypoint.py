"""Traces from an ambient mesh (issue 21): one span per waypoint hop, read by the waterfall's
analysis (service names, self time, critical path), self time by version and the trace's path.

The fixture is synthetic, in Jaeger's JSON format (`/api/traces` v1, decoded by the real
collectors.jaeger_decode), and models ambient Bookinfo behind Istio's waypoint proxy as Istio
emits it (Kiali's and Istio's issue threads on ambient tracing): the ingress gateway's span,
then ONE span per hop from the destination's waypoint, with
- `node_id` `waypoint~IP~waypoint-<rs>-<pod>.bookinfo~bookinfo.svc.cluster.local` (the
  waypoint's own pod: no destination pod is named),
- `istio.canonical_service` "waypoint" (the waypoint's own), `span.kind` server,
- process service `waypoint.bookinfo` (before Istio 1.29; 1.29 names the destination service),
- operation `<service>.bookinfo.svc.cluster.local:9080/*` (the host asked for),
- `upstream_cluster` `inbound-vip|9080|http|<backend>.bookinfo.svc.cluster.local`, where the
  HTTPRoute's backend for reviews is the per-version Service `reviews-v1` or `reviews-v2`.
A sidecar mesh would have two spans per hop (client and server sidecars); here there is one.
Timeline of the v2 trace (ms): gateway 0-102, productpage 1-101, details 5-15, reviews 20-80,
ratings 30-50 (reviews-v1 calls no ratings).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from collectors.jaeger_decode import decode_v1_response
from demo.bookinfo import bookinfo_spec
from demo.state import TrafficState
from demo.trace_source import DemoTraceStore
from mesh.traces.analysis import analyze, istio_info, summarize
from mesh.traces.path import trace_path
from mesh.traces.records import TraceQuery
from mesh.traces.version_time import server_version, time_by_version

NS = "bookinfo"
WAYPOINT_NODE = "waypoint~10.244.0.19~waypoint-5f89fbb8b5-nmdsg.bookinfo~bookinfo.svc.cluster.local"
GATEWAY_NODE = (
    "router~10.244.0.5~istio-ingressgateway-6d9f4b7c8d-x2k4q.istio-system~"
    "istio-system.svc.cluster.local"
)
T0 = 1_767_222_000_000_000  # µs
ID = {name: name.rjust(16, "0") for name in ("a1", "b1", "b2", "b3", "b4")}  # Jaeger's 16 hex


def tag(key: str, value, type_: str = "string") -> dict:
    return {"key": key, "type": type_, "value": value}


def waypoint_span(
    sid: str, parent: str, host: str, backend: str, start_ms: float, end_ms: float, tid: str
) -> dict:
    return {
        "traceID": tid,
        "spanID": sid,
        "operationName": f"{host}.{NS}.svc.cluster.local:9080/*",
        "references": [{"refType": "CHILD_OF", "traceID": tid, "spanID": parent}],
        "startTime": T0 + int(start_ms * 1000),
        "duration": int((end_ms - start_ms) * 1000),
        "tags": [
            tag("node_id", WAYPOINT_NODE),
            tag("istio.canonical_service", "waypoint"),
            tag("istio.canonical_revision", "latest"),
            tag("istio.namespace", NS),
            tag("istio.mesh_id", "cluster.local"),
            tag("component", "proxy"),
            tag("span.kind", "server"),
            tag("http.status_code", "200"),
            tag("response_flags", "-"),
            tag("upstream_cluster", f"inbound-vip|9080|http|{backend}.{NS}.svc.cluster.local"),
        ],
        "processID": "p2",
        "warnings": None,
    }


def jaeger_trace(tid: str, version: str, istio_129: bool = False) -> dict:
    spans = [
        {
            "traceID": tid,
            "spanID": ID["a1"],
            "operationName": f"productpage.{NS}.svc.cluster.local:9080/productpage",
            "references": [],
            "startTime": T0,
            "duration": 102_000,
            "tags": [
                tag("node_id", GATEWAY_NODE),
                tag("istio.canonical_service", "istio-ingressgateway"),
                tag("istio.canonical_revision", "latest"),
                tag("istio.namespace", "istio-system"),
                tag("span.kind", "client"),
                tag("http.status_code", "200"),
            ],
            "processID": "p1",
            "warnings": None,
        },
        waypoint_span(ID["b1"], ID["a1"], "productpage", "productpage", 1, 101, tid),
        waypoint_span(ID["b2"], ID["b1"], "details", "details", 5, 15, tid),
        waypoint_span(ID["b3"], ID["b1"], "reviews", f"reviews-{version}", 20, 80, tid),
    ]
    if version != "v1":
        spans.append(waypoint_span(ID["b4"], ID["b3"], "ratings", "ratings", 30, 50, tid))
    waypoint_service = "reviews.bookinfo" if istio_129 else "waypoint.bookinfo"
    return {
        "traceID": tid,
        "spans": spans,
        "processes": {
            "p1": {"serviceName": "istio-ingressgateway.istio-system", "tags": []},
            "p2": {"serviceName": waypoint_service, "tags": [tag("hostname", "waypoint")]},
        },
        "warnings": None,
    }


def decode(*traces: dict):
    return decode_v1_response(json.dumps({"data": list(traces)}).encode())


@pytest.fixture
def v2():
    [trace] = decode(jaeger_trace("00000000000000000000000000000abc", "v2"))
    return trace


def test_each_waypoint_span_is_read_as_the_destination_it_served(v2):
    by_id = {s.span_id: s for s in v2.spans}
    info = istio_info(by_id[ID["b3"]])
    assert (info.app, info.namespace, info.version, info.workload) == (
        "reviews",
        NS,
        "v2",
        "reviews-v2",
    )
    assert (info.proxy, info.waypoint, info.pod) == ("waypoint", "waypoint", "")
    details = istio_info(by_id[ID["b2"]])
    assert (details.app, details.version, details.workload) == ("details", "", "details")


def test_the_analysis_names_services_not_the_waypoint_and_splits_self_time(v2):
    a = analyze(v2)
    self_ms = {st.service: st.self_us / 1000 for st in a.services}
    assert self_ms == pytest.approx(
        {
            "istio-ingressgateway.istio-system": 2.0,
            "productpage.bookinfo": 30.0,  # 100 ms minus details (10) and reviews (60)
            "reviews.bookinfo": 40.0,  # 60 ms minus ratings (20)
            "ratings.bookinfo": 20.0,
            "details.bookinfo": 10.0,
        }
    )
    assert "waypoint.bookinfo" not in self_ms
    # productpage calls details, then reviews: every hop is on the critical path, and the
    # path's time per service is its self time (nothing runs in parallel), 102 ms in all.
    on_path = {a.trace.spans[c.span].span_id for c in a.critical}
    assert on_path == set(ID.values())
    critical_ms = {st.service: st.critical_us / 1000 for st in a.services}
    assert critical_ms == pytest.approx(self_ms)
    assert sum(critical_ms.values()) == pytest.approx(a.duration_us / 1000) == 102.0
    # The waypoint that emitted each span stays visible on it.
    assert {s.tag("istio.waypoint") for s in a.trace.spans if s.span_id != ID["a1"]} == {
        "waypoint.bookinfo"
    }
    summary = summarize(v2)
    assert "waypoint.bookinfo" not in summary.services and "reviews:v2" in summary.versions


def test_istio_129_names_are_read_the_same_way():
    [old] = decode(jaeger_trace("00000000000000000000000000000abc", "v2"))
    [new] = decode(jaeger_trace("00000000000000000000000000000abc", "v2", istio_129=True))
    assert [(s.service, s.self_us) for s in analyze(old).services] == [
        (s.service, s.self_us) for s in analyze(new).services
    ]


def test_the_trace_belongs_to_the_version_its_waypoint_routed_to(v2):
    assert server_version(v2, NS, "reviews") == "v2"
    traces = decode(
        *(jaeger_trace(f"{i:032x}", "v1") for i in range(1, 4)),
        *(jaeger_trace(f"{i:032x}", "v2") for i in range(4, 9)),
    )
    v1_time, v2_time = time_by_version(traces, NS, "reviews", ["v1", "v2"])
    assert (v1_time.traces, v2_time.traces) == (3, 5)
    assert v2_time.served_ms == pytest.approx(60.0) and v1_time.served_ms == pytest.approx(60.0)
    v1_self = {s.service: s.self_ms for s in v1_time.services}
    v2_self = {s.service: s.self_ms for s in v2_time.services}
    assert v1_self["reviews"] == pytest.approx(60.0) and "ratings" not in v1_self
    assert v2_self["reviews"] == pytest.approx(40.0) and v2_self["ratings"] == pytest.approx(20.0)


def test_the_path_on_the_topology_follows_the_hops_not_the_waypoint(v2):
    path = trace_path(v2)
    assert path["nodes"] == [
        "istio-system/istio-ingressgateway",
        "bookinfo/productpage",
        "bookinfo/details",
        "bookinfo/reviews-v2",
        "bookinfo/ratings",
    ]
    assert path["edges"] == [
        ["istio-system/istio-ingressgateway", "bookinfo/productpage"],
        ["bookinfo/productpage", "bookinfo/details"],
        ["bookinfo/productpage", "bookinfo/reviews-v2"],
        ["bookinfo/reviews-v2", "bookinfo/ratings"],
    ]
    assert not any("waypoint" in n for n in path["nodes"])


# ---- the ambient demo's traces have the same shape ------------------------------------------


def test_the_ambient_demos_traces_are_waypoint_shaped_and_read_like_the_fixture():
    now = 1_795_000_000.0
    spec = bookinfo_spec(reviews_split={"v1": 0, "v2": 50, "v3": 50}, ambient=True)
    store = DemoTraceStore(spec, TrafficState(spec, clock=lambda: now), clock=lambda: now)
    query = TraceQuery(
        service="reviews.bookinfo", start_us=int((now - 1800) * 1e6), end_us=int(now * 1e6)
    )
    traces = store.find_traces(replace(query, limit=40))
    assert traces
    for trace in traces:
        kinds = [(s.service, s.kind) for s in trace.spans]
        # Only the gateway's Envoy has a client span; every hop into bookinfo is one span.
        assert [k for k in kinds if k[1] == "client"] == [
            ("istio-ingressgateway.istio-system", "client")
        ]
        inside = [s for s in trace.spans if s.service.endswith(".bookinfo")]
        assert all(str(s.tag("node_id")).startswith("waypoint~") for s in inside)
        assert len(inside) == len(trace.spans) - 1
        version = server_version(trace, NS, "reviews")
        assert version in ("v2", "v3")  # the split's weights: v1 gets nothing
        path = trace_path(trace)["nodes"]
        assert f"bookinfo/reviews-{version}" in path and not any("waypoint" in n for n in path)
        names = {st.service for st in analyze(trace).services}
        assert "reviews.bookinfo" in names and not any("waypoint" in n for n in names)
