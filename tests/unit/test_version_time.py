"""Where time goes by version: traces grouped by the version that answered, self time per service."""

from __future__ import annotations

import pytest

from mesh.traces.records import Process, RefType, Span, SpanRef, Tag, Trace
from mesh.traces.version_time import server_version, time_by_version, version_time_json
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


def sampled(trace: Trace, how: str | None) -> Trace:
    """The trace as a sampler tagged it (None: untold)."""
    if how is None:
        return trace
    root = trace.spans[0]
    tagged = Span(
        root.trace_id,
        root.span_id,
        root.operation,
        root.start_us,
        root.duration_us,
        root.process,
        root.references,
        (*root.tags, Tag("sampler.type", how)),
    )
    return Trace(trace.trace_id, (tagged, *trace.spans[1:]))


def test_like_with_like_only_randomly_sampled_traces_are_compared():
    # Tail-kept slow traces of v1 would drag its reviews time up; they are left out.
    traces = [sampled(request(f"r{i}", "v1", 8, None), "probabilistic") for i in range(20)]
    traces += [sampled(request(f"s{i}", "v1", 400, None), "tail") for i in range(20)]
    traces += [sampled(request(f"t{i}", "v2", 8, 2), "probabilistic") for i in range(20)]
    v1, v2 = time_by_version(traces, NS, "reviews", ("v1", "v2"))
    assert (v1.traces, v1.left_out, v2.traces) == (20, 20, 20)
    body = version_time_json((v1, v2))
    assert body["sampling"] == "randomly sampled traces only"
    by = {c["service"]: c for c in body["comparison"]}
    assert by["reviews"]["baseline_ms"] == pytest.approx(8.0)  # not dragged up by the 400s
    assert by["ratings"]["finding"] == "slower"
    assert by["productpage"]["finding"] == "no clear difference"


def test_too_few_traces_claim_no_difference():
    traces = [sampled(request(f"a{i}", "v1", 8, None), "probabilistic") for i in range(30)]
    traces += [sampled(request(f"b{i}", "v2", 80, 5), "probabilistic") for i in range(5)]
    body = version_time_json(time_by_version(traces, NS, "reviews", ("v1", "v2")))
    assert {c["finding"] for c in body["comparison"]} == {"not enough traces"}
    from reports.release_report import time_findings

    lines = time_findings(body)
    assert lines[1].startswith("Not enough traces to compare: at least 15 per version")


def test_untold_sampling_is_marked_as_possibly_biased():
    traces = [request(f"u{i}", "v1", 8, None) for i in range(3)]
    body = version_time_json(time_by_version(traces, NS, "reviews", ("v1", "v2")))
    assert body["sampling"].startswith("every kept trace")
