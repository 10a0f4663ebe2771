"""The demo's traces follow its topology and its current weights, carry Istio's tags, and are
deterministic and rebuilt from their id alone."""

from __future__ import annotations

from collections import Counter

import pytest

from demo.bookinfo import bookinfo_spec
from demo.state import TrafficState
from demo.trace_source import DemoTraceStore
from mesh.errors import NotFound
from mesh.traces.analysis import analyze, istio_info, parse_node_id
from mesh.traces.records import TraceQuery

NOW = 1_795_000_000.0


def make(split=None, seed=0, clock=lambda: NOW):
    spec = bookinfo_spec(reviews_split=split)
    state = TrafficState(spec, clock=clock)
    return DemoTraceStore(spec, state, seed=seed, clock=clock), state


def search(store, service="productpage.bookinfo", minutes=30, **kw):
    end = store.clock()
    q = TraceQuery(
        service=service, start_us=int((end - 60 * minutes) * 1e6), end_us=int(end * 1e6), **kw
    )
    return store.find_traces(q)


def versions_of(trace, app):
    return {
        s.tag("istio.canonical_revision")
        for s in trace.spans
        if s.tag("istio.canonical_service") == app
    }


def test_reviews_v1_never_calls_ratings_and_v2_v3_always_do():
    store, _ = make({"v1": 34, "v2": 33, "v3": 33})
    traces = search(store, limit=300)
    seen = Counter()
    for t in traces:
        found = versions_of(t, "reviews")
        if not found:  # productpage failed before calling anything
            assert any(s.is_error and s.service == "productpage.bookinfo" for s in t.spans)
            continue
        (v,) = found
        seen[v] += 1
        calls_ratings = bool(versions_of(t, "ratings"))
        failed_early = any(
            s.tag("istio.canonical_service") == "reviews" and s.is_error for s in t.spans
        ) or any(
            s.tag("istio.canonical_service") == "productpage" and s.is_error and s.kind == "server"
            for s in t.spans
        )
        if v == "v1":
            assert not calls_ratings
        elif not failed_early:
            assert calls_ratings, f"reviews-{v} should call ratings"
    assert set(seen) == {"v1", "v2", "v3"}


def test_weights_moved_on_the_state_move_the_traces():
    clock = [NOW]
    store, state = make(clock=lambda: clock[0])
    state.set_split("bookinfo", "reviews", {"v3": 100}, at=NOW)
    clock[0] = NOW + 600
    after = [t for t in search(store, minutes=9, limit=100) if versions_of(t, "reviews")]
    assert len(after) > 20 and all(versions_of(t, "reviews") == {"v3"} for t in after)
    # before the change the default 80/10/10 held, so mostly v1
    before = store.find_traces(
        TraceQuery("productpage.bookinfo", int((NOW - 1800) * 1e6), int((NOW - 1) * 1e6), limit=200)
    )
    before = [t for t in before if versions_of(t, "reviews")]
    share_v1 = sum(1 for t in before if versions_of(t, "reviews") == {"v1"}) / len(before)
    assert share_v1 > 0.5


def test_every_hop_is_a_client_and_a_server_span_with_istio_tags():
    store, _ = make()
    t = search(store, limit=1)[0]
    a = analyze(t)
    kinds = Counter(s.kind for s in t.spans)
    assert kinds["client"] == kinds["server"]
    for i, s in enumerate(a.trace.spans):
        assert s.service.endswith((".bookinfo", ".istio-system"))
        assert ":9080/" in s.operation and ".svc.cluster.local" in s.operation
        info = istio_info(s)
        assert info is not None and info.pod and info.ip and info.version
        _proxy, ip, pod, ns = parse_node_id(s.tag("node_id"))
        assert (ip, pod, ns) == (info.ip, info.pod, info.namespace)
        assert isinstance(s.tag("http.status_code"), str)
        assert s.tag("upstream_cluster")
        if s.kind == "server":
            parent = a.trace.spans[a.tree.parent[i]]
            assert parent.kind == "client" and parent.operation == s.operation
    workloads = {istio_info(s).workload for s in t.spans}
    spec_workloads = {w.name for w in bookinfo_spec().workloads}
    assert workloads <= spec_workloads


def test_failures_and_slow_requests_are_there_to_be_found():
    store, _ = make()
    errors = search(
        store, service="ratings.bookinfo", minutes=60, tags=(("error", "true"),), limit=20
    )
    assert errors
    for t in errors:
        bad = [s for s in t.spans if s.is_error]
        assert bad and all(s.tag("http.status_code") in ("503", "0") for s in bad)
    slow = search(store, minutes=30, min_duration_us=150_000, limit=5)
    assert slow


def test_faults_from_the_state_show_in_traces():
    clock = [NOW]
    store, state = make(clock=lambda: clock[0])
    state.set_fault("bookinfo", "ratings-v1", latency_factor=50.0, at=NOW)
    state.set_split("bookinfo", "reviews", {"v2": 100}, at=NOW)
    clock[0] = NOW + 300
    traces = search(store, service="ratings.bookinfo", minutes=4, limit=30)
    ratings = [
        s.duration_us
        for t in traces
        for s in t.spans
        if s.service == "ratings.bookinfo" and s.kind == "server"
    ]
    assert sorted(ratings)[len(ratings) // 2] > 50_000  # median 2 ms x 50


def test_deterministic_and_rebuilt_from_the_id_alone():
    a, _ = make(seed=7)
    b, _ = make(seed=7)
    ta, tb = search(a, limit=10), search(b, limit=10)
    assert ta == tb
    assert b.get_trace(ta[4].trace_id) == ta[4]
    other, _ = make(seed=8)
    assert search(other, limit=10) != ta
    with pytest.raises(NotFound):
        other.get_trace(ta[4].trace_id)  # the id's checksum belongs to another seed


def test_unknown_malformed_and_future_ids_are_not_found():
    store, _ = make()
    t = search(store, limit=1)[0]
    with pytest.raises(NotFound):
        store.get_trace(t.trace_id[:-1] + ("0" if t.trace_id[-1] != "0" else "1"))
    with pytest.raises(NotFound):
        store.get_trace("abc")
    future, _ = make(clock=lambda: NOW - 3600)
    with pytest.raises(NotFound):
        future.get_trace(t.trace_id)


def test_search_is_newest_first_bounded_and_lazy():
    store, _ = make()
    traces = search(store, minutes=60 * 24, limit=7)
    starts = [min(s.start_us for s in t.spans) for t in traces]
    assert len(traces) == 7 and starts == sorted(starts, reverse=True)
    assert len(store._cache) < 10, "a 1-day lookback with limit 7 must not draw the whole day"


def test_a_failing_ratings_fails_its_callers_and_the_failure_starts_in_ratings():
    from mesh.investigation import failure_start

    clock = [NOW]
    store, state = make(clock=lambda: clock[0])
    state.set_fault("bookinfo", "ratings-v1", error_rate=1.0, at=NOW)
    state.set_split("bookinfo", "reviews", {"v2": 50, "v3": 50}, at=NOW)
    clock[0] = NOW + 300
    traces = search(store, minutes=4, tags=(("error", "true"),), limit=20)
    assert len(traces) == 20
    for t in traces:
        failing = {(s.service, s.kind) for s in t.spans if s.is_error}
        # reviews passes ratings' failure on, and productpage passes reviews' on
        assert {("ratings.bookinfo", "server"), ("reviews.bookinfo", "server")} <= failing
        assert ("productpage.bookinfo", "server") in failing
        start = failure_start(t)
        assert (start.service, start.kind) == ("ratings.bookinfo", "server")
        assert start.tag("http.status_code") == "503"
