"""Where time goes by version: traces grouped by the version that answered, self time per service."""

from __future__ import annotations

import pytest

from mesh.trace_records import Process, RefType, Span, SpanRef, Tag, Trace
from mesh.version_time import server_version, time_by_version, version_time_json
from tests.review_demo import Clock, demo_services

NS = "bookinfo"


def istio_span(tid, sid, parent, app, version, kind, start_ms, dur_ms, ns=NS):
    tags = (
        Tag("span.kind", kind),
        Tag("istio.canonical_service", app),
        Tag("istio.canonical_revision", version),
        Tag("istio.namespace", ns),
    )
    refs = (SpanRef(RefType.CHILD_OF, tid, parent),) if parent else ()
    return Span(
        tid, sid, f"{app}:9080", start_ms * 1000, dur_ms * 1000, Process(f"{app}.{ns}"), refs, tags
    )


def request(tid: str, version: str, reviews_ms: int, ratings_ms: int | None) -> Trace:
    """productpage (40 ms) -> reviews <version> (reviews_ms) [-> ratings (ratings_ms)]."""
    spans = [
        istio_span(tid, "1", None, "productpage", "v1", "server", 0, 40),
        istio_span(tid, "2", "1", "productpage", "v1", "client", 5, reviews_ms + 2),
        istio_span(tid, "3", "2", "reviews", version, "server", 6, reviews_ms),
    ]
    if ratings_ms is not None:
        spans += [
            istio_span(tid, "4", "3", "reviews", version, "client", 7, ratings_ms + 1),
            istio_span(tid, "5", "4", "ratings", "v1", "server", 7, ratings_ms),
        ]
    return Trace(tid, tuple(spans))


def test_the_server_span_names_the_version_not_the_caller():
    t = request("a1", "v2", 20, 5)
    assert server_version(t, NS, "reviews") == "v2"
    assert server_version(t, NS, "productpage") == "v1"
    assert server_version(t, NS, "details") is None
    assert server_version(t, "other", "reviews") is None


def test_a_trace_reaching_two_versions_belongs_to_neither():
    one = request("b1", "v1", 8, None)
    extra = istio_span("b1", "9", "2", "reviews", "v2", "server", 6, 3)
    assert server_version(Trace("b1", (*one.spans, extra)), NS, "reviews") is None


def test_self_time_per_service_is_averaged_over_each_versions_traces():
    traces = [
        request("c1", "v1", 8, None),
        request("c2", "v1", 12, None),
        request("c3", "v2", 30, 5),
        request("c3", "v2", 30, 5),  # the same trace twice (two searches): counted once
        request("c4", "v3", 99, 5),  # not compared
    ]
    v1, v2 = time_by_version(traces, NS, "reviews", ("v1", "v2"))
    assert (v1.version, v1.traces, v2.traces) == ("v1", 2, 1)
    by1 = {s.service: s.self_ms for s in v1.services}
    by2 = {s.service: s.self_ms for s in v2.services}
    # productpage's server span (40 ms) waits on its client span (reviews + 2 ms), which waits
    # on reviews except for 2 ms: 40 - reviews in all, so 32 and 28 ms -> 30 ms for v1.
    assert by1 == pytest.approx({"productpage": 30.0, "reviews": 10.0})
    assert by2["reviews"] == pytest.approx(
        30 - 6 + 1
    )  # server minus ratings call, plus its network
    assert by2["ratings"] == pytest.approx(5.0)
    assert "ratings" not in by1
    assert v2.served_ms == pytest.approx(30.0) and v1.served_ms == pytest.approx(10.0)
    assert v1.services[0].service == "productpage"  # most self time first
    body = version_time_json((v1, v2))
    assert body["services"][0] == "productpage" and set(body["services"]) == {
        "productpage",
        "reviews",
        "ratings",
    }
    assert body["versions"][1]["self_ms"]["ratings"] == pytest.approx(5.0)


def test_no_traces_gives_zero_rows_not_a_division_error():
    (row,) = time_by_version([], NS, "reviews", ("v9",))
    assert (row.traces, row.duration_ms, row.services) == (0, 0.0, ())


def test_demo_slow_canary_spends_its_time_in_reviews():
    from views.review import _time_by_version, parse_review_params

    clock = Clock(1_790_000_000.0)
    svc = demo_services(clock=clock)
    svc.demo.state.set_fault(NS, "reviews-v3", latency_factor=10.0, at=clock.now - 3600)
    params = parse_review_params(
        {"namespace": NS, "service": "reviews", "baseline": "v1", "canary": "v3", "window": "10m"}
    )
    body = _time_by_version(svc, params, clock.now)
    v1, v3 = body["versions"]
    assert v1["traces"] > 10 and v3["traces"] > 10
    assert v3["self_ms"]["reviews"] > 8 * v1["self_ms"]["reviews"]
    assert "ratings" in v3["self_ms"] and "ratings" not in v1["self_ms"]  # v1 shows no stars
