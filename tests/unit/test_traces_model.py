"""mesh/traces/analysis.py: adjusters, span tree, Jaeger UI's critical path, self time, Istio tags."""

from __future__ import annotations

import itertools
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesh.traces.analysis import (
    adjust,
    analyze,
    build_tree,
    canonical_trace_id,
    critical_path,
    dedupe_span_ids,
    istio_info,
    join_service,
    mark_orphans,
    parse_node_id,
    self_times,
    sort_spans,
    split_service,
    summarize,
    workload_of_pod,
)
from mesh.traces.records import Process, RefType, Span, SpanRef, Tag, Trace

P1 = Process("svc-a")
P2 = Process("svc-b")
TID = "00000000000000aa"


def span(
    sid: str,
    start: int,
    dur: int,
    parent: str | None = None,
    *,
    ref: RefType = RefType.CHILD_OF,
    kind: str = "",
    process: Process = P1,
    tags: tuple[Tag, ...] = (),
    op: str = "",
) -> Span:
    refs = (SpanRef(ref, TID, parent),) if parent else ()
    all_tags = (*tags, Tag("span.kind", kind)) if kind else tags
    return Span(TID, sid, op or sid, start, dur, process, refs, all_tags)


def trace(*spans: Span) -> Trace:
    return Trace(TID, tuple(spans))


def sections(t: Trace) -> list[tuple[str, int, int]]:
    a = analyze(t)
    return [(a.trace.spans[c.span].span_id, c.start_us, c.end_us) for c in a.critical]


# ---- naming ----------------------------------------------------------------------------------


def test_istio_service_names_split_and_join():
    assert split_service("reviews.bookinfo") == ("reviews", "bookinfo")
    assert split_service("istio-ingressgateway.istio-system") == (
        "istio-ingressgateway",
        "istio-system",
    )
    assert split_service("frontend") == ("frontend", "")
    assert split_service("my.app.shop") == ("my.app", "shop")
    assert join_service("reviews", "bookinfo") == "reviews.bookinfo"
    assert join_service("reviews", "") == "reviews"


def test_trace_ids_compare_in_jaegers_spelling():
    assert canonical_trace_id("00000000000000000000000000000001") == "0000000000000001"
    assert canonical_trace_id("0000000000000001") == "0000000000000001"
    assert (
        canonical_trace_id("83A9EFD15C1C98A977E0711CC93EE28B") == "83a9efd15c1c98a977e0711cc93ee28b"
    )
    assert canonical_trace_id("trace-123") == "trace-123"


# ---- critical path: Jaeger UI's own worked examples, derived by hand -------------------------


def test_critical_path_last_finishing_child_then_the_one_before():
    # jaeger-ui's "happy trace": X [1,101), A [10,50), C [20,60).
    t = trace(span("x", 1, 100), span("a", 10, 40, "x"), span("c", 20, 40, "x"))
    assert sections(t) == [("x", 60, 101), ("c", 20, 60), ("x", 1, 20)]


def test_critical_path_goes_back_to_a_child_that_ended_before_the_lfc_started():
    t = trace(
        span("root", 0, 100),
        span("a", 10, 20, "root"),  # ends 30
        span("b", 40, 30, "root"),  # ends 70: LFC
        span("b1", 45, 10, "b"),
    )
    assert sections(t) == [
        ("root", 70, 100),
        ("b", 55, 70),
        ("b1", 45, 55),
        ("b", 40, 45),
        ("root", 30, 40),
        ("a", 10, 30),
        ("root", 0, 10),
    ]


def test_overlapping_child_that_ends_after_the_lfc_starts_is_skipped():
    t = trace(span("r", 0, 100), span("a", 10, 50, "r"), span("b", 40, 50, "r"))
    # b ends last (90); a ends at 60, after b started (40): a is not on the path.
    assert sections(t) == [("r", 90, 100), ("b", 40, 90), ("r", 0, 40)]


def test_child_overflowing_its_parent_is_clipped():
    t = trace(span("r", 0, 100), span("late", 80, 50, "r"), span("early", -20, 40, "r"))
    # late is clipped to [80,100), early to [0,20).
    assert sections(t) == [("late", 80, 100), ("r", 20, 80), ("early", 0, 20)]
    # display times are untouched
    a = analyze(t)
    assert {s.span_id: s.duration_us for s in a.trace.spans} == {"r": 100, "late": 50, "early": 40}


def test_child_entirely_outside_its_parent_is_dropped_from_the_path():
    t = trace(span("r", 0, 100), span("after", 100, 10, "r"), span("before", -30, 30, "r"))
    assert sections(t) == [("r", 0, 100)]


def test_follows_from_and_async_consumers_do_not_hold_up_the_parent():
    t = trace(
        span("r", 0, 100),
        span("async", 50, 200, "r", ref=RefType.FOLLOWS_FROM),
        span("prod", 10, 10, "r", kind="producer"),
        span("cons", 20, 300, "prod", kind="consumer"),
    )
    assert sections(t) == [("r", 20, 100), ("prod", 10, 20), ("r", 0, 10)]


def test_ties_go_to_the_child_that_started_first():
    t = trace(span("r", 0, 100), span("b", 30, 50, "r"), span("a", 20, 60, "r"))
    assert sections(t)[1] == ("a", 20, 80)


def test_each_root_gets_its_own_path():
    t = trace(span("r1", 0, 10), span("r2", 20, 10), span("c", 22, 4, "r2"))
    assert sections(t) == [("r1", 0, 10), ("r2", 26, 30), ("c", 22, 26), ("r2", 20, 22)]


def _oracle(t: Trace) -> list[tuple[str, int, int]]:
    """A literal, recursive transcription of Jaeger UI's algorithm, for small traces only."""
    spans = {s.span_id: s for s in t.spans}
    parent = {}
    for s in t.spans:
        for r in s.references:
            if r.span_id in spans:
                parent[s.span_id] = (r.span_id, r.ref_type)
                break
    kids: dict[str, list[str]] = {k: [] for k in spans}
    for c, (p, _) in parent.items():
        kids[p].append(c)
    for k in kids:
        kids[k].sort(key=lambda c: (spans[c].start_us, [s.span_id for s in t.spans].index(c)))
    # drop FOLLOWS_FROM subtrees
    alive = set(spans)

    def drop(x):
        alive.discard(x)
        for c in kids[x]:
            drop(c)

    for c, (_, rt) in parent.items():
        if rt == RefType.FOLLOWS_FROM:
            drop(c)
    times = {k: [s.start_us, s.end_us] for k, s in spans.items()}

    def sanitize(x):
        for c in kids[x]:
            if c not in alive:
                continue
            ps, pe = times[x]
            cs, ce = times[c]
            if cs >= pe or ce <= ps:
                drop(c)
                continue
            times[c] = [max(cs, ps), min(ce, pe)]
            sanitize(c)

    roots = sorted((k for k in spans if k not in parent), key=lambda k: (spans[k].start_us, k))
    out: list[tuple[str, int, int]] = []

    def cp(x, returning=None):
        best = None
        for c in kids[x]:
            if c not in alive:
                continue
            e = times[c][1]
            if (returning is None or e < returning) and (best is None or e > times[best][1]):
                best = c
        end = times[x][1] if returning is None else returning
        if best is not None:
            if times[best][1] != end:
                out.append((x, times[best][1], end))
            cp(best)
        else:
            if times[x][0] != end:
                out.append((x, times[x][0], end))
            if x in parent:
                cp(parent[x][0], times[x][0])

    for r in roots:
        sanitize(r)
        cp(r)
    return out


@st.composite
def random_traces(draw):
    n = draw(st.integers(1, 25))
    spans = []
    for i in range(n):
        start = draw(st.integers(0, 1000))
        dur = draw(st.integers(0, 400))
        p = draw(st.one_of(st.none(), st.integers(0, i - 1))) if i else None
        ref = draw(st.sampled_from([RefType.CHILD_OF] * 4 + [RefType.FOLLOWS_FROM]))
        spans.append(span(f"s{i:02d}", start, dur, None if p is None else f"s{p:02d}", ref=ref))
    return trace(*spans)


@settings(max_examples=300, deadline=None)
@given(random_traces())
def test_critical_path_matches_a_literal_transcription_and_tiles_each_root(t):
    assert sections(t) == _oracle(t)
    a = analyze(t)
    # the path of a root covers the root exactly once, section after section
    for root in a.tree.roots:
        mine = [c for c in a.critical if _root_of(a.tree, c.span) == root]
        r = a.trace.spans[root]
        assert sum(c.end_us - c.start_us for c in mine) == r.duration_us
        for later, earlier in itertools.pairwise(mine):
            assert earlier.end_us == later.start_us


def _root_of(tree, i):
    while tree.parent[i] >= 0:
        i = tree.parent[i]
    return i


# ---- adjusters ---------------------------------------------------------------------------------


def test_exact_duplicate_spans_are_dropped_with_a_warning():
    s = span("a", 0, 10)
    t, warnings = dedupe_span_ids(trace(s, s))
    assert [x.span_id for x in t.spans] == ["a"]
    assert "exact duplicate" in warnings[0]


def test_zipkin_style_shared_id_makes_the_server_span_a_child_of_the_client():
    client = span("0000000000000005", 0, 10, kind="client")
    server = span("0000000000000005", 1, 8, kind="server", process=P2)
    t, warnings = dedupe_span_ids(trace(server, client))
    renamed = next(s for s in t.spans if s.kind == "server")
    assert renamed.span_id == "0000000000000006"
    assert renamed.references[0] == SpanRef(RefType.CHILD_OF, TID, "0000000000000005")
    tree = build_tree(t)
    assert tree.parent[t.spans.index(renamed)] == t.spans.index(client)
    assert warnings


def test_other_duplicate_ids_keep_the_first_and_rename_the_rest():
    t, warnings = dedupe_span_ids(
        trace(span("0a", 0, 5, op="first"), span("0a", 1, 5, op="second"))
    )
    ids = [s.span_id for s in t.spans]
    assert ids[0] == "0a" and ids[1] != "0a" and len(set(ids)) == 2
    assert "second" in warnings[0]
    assert t.spans[1].warnings


def test_orphans_become_roots_with_a_warning():
    t = trace(span("r", 0, 10), span("lost", 2, 3, "missing"), span("kid", 3, 1, "lost"))
    adjusted, warnings = mark_orphans(t)
    assert any("missing" in w for w in warnings)
    tree = build_tree(adjusted)
    assert [adjusted.spans[i].span_id for i in tree.roots] == ["r", "lost"]
    assert tree.depth[2] == 1
    assert adjusted.spans[1].warnings


def test_references_to_another_trace_are_links_not_orphans():
    s = Span(TID, "a", "a", 0, 1, P1, (SpanRef(RefType.FOLLOWS_FROM, "00000000000000ff", "ff"),))
    _, warnings = mark_orphans(trace(s))
    assert warnings == ()


def test_sort_is_stable_and_by_start_time():
    t, _ = sort_spans(trace(span("b", 5, 1), span("a", 1, 1), span("c", 5, 2)))
    assert [s.span_id for s in t.spans] == ["a", "b", "c"]


def test_adjust_collects_every_adjusters_warnings_on_the_trace():
    t = Trace(TID, (span("a", 0, 1), span("a", 0, 1), span("b", 0, 1, "gone")), ("from jaeger",))
    out = adjust(t)
    assert out.warnings[0] == "from jaeger"
    assert len(out.warnings) == 3


def test_a_reference_cycle_is_broken_not_looped_forever():
    t = trace(span("a", 0, 10, "b"), span("b", 1, 5, "a"), span("r", 0, 20))
    tree = build_tree(t)
    assert len(tree.order) == 3
    assert tree.warnings and "cycle" in tree.warnings[0]


def test_fifty_thousand_levels_deep_needs_no_recursion():
    depth = 50_000
    assert depth > sys.getrecursionlimit()
    spans = [span("s0", 0, 2 * depth)]
    spans += [span(f"s{i}", i, 2 * (depth - i), f"s{i - 1}") for i in range(1, depth)]
    a = analyze(trace(*spans))
    assert max(a.tree.depth) == depth - 1
    assert sum(c.end_us - c.start_us for c in a.critical) == 2 * depth


# ---- self time, services, Istio ----------------------------------------------------------------


def test_self_time_subtracts_the_union_of_blocking_children():
    t = trace(
        span("r", 0, 100),
        span("a", 10, 30, "r"),  # 10..40
        span("b", 30, 30, "r"),  # 30..60 overlaps a
        span("late", 90, 50, "r"),  # clipped to 90..100
        span("async", 0, 100, "r", ref=RefType.FOLLOWS_FROM),
    )
    tree = build_tree(t)
    own = dict(zip([s.span_id for s in t.spans], self_times(tree), strict=True))
    assert own["r"] == 100 - 50 - 10


def test_per_service_breakdown_adds_up():
    t = trace(
        span("r", 0, 100), span("c", 20, 50, "r", process=P2, tags=(Tag("error", True, "bool"),))
    )
    a = analyze(t)
    by = {s.service: s for s in a.services}
    assert by["svc-a"].self_us == 50 and by["svc-b"].self_us == 50
    assert by["svc-b"].errors == 1 and by["svc-a"].errors == 0
    assert by["svc-a"].critical_us + by["svc-b"].critical_us == 100


def test_node_id_gives_pod_namespace_and_ip():
    assert parse_node_id(
        "sidecar~10.244.1.7~reviews-v2-5b64f47978-xvb2k.bookinfo~bookinfo.svc.cluster.local"
    ) == (
        "sidecar",
        "10.244.1.7",
        "reviews-v2-5b64f47978-xvb2k",
        "bookinfo",
    )
    assert parse_node_id("garbage") == ("", "", "", "")
    assert workload_of_pod("reviews-v2-5b64f47978-xvb2k") == "reviews-v2"
    assert workload_of_pod("ratings-0") == "ratings-0"


def test_istio_info_reads_the_sidecar_tags():
    s = Span(
        TID,
        "a",
        "reviews.bookinfo.svc.cluster.local:9080/*",
        0,
        1,
        Process("reviews.bookinfo"),
        tags=(
            Tag(
                "node_id",
                "sidecar~10.0.0.9~reviews-v3-84779c7bbc-mtgxq.bookinfo~bookinfo.svc.cluster.local",
            ),
            Tag("istio.canonical_service", "reviews"),
            Tag("istio.canonical_revision", "v3"),
            Tag("http.status_code", "503"),
            Tag("response_flags", "UF"),
            Tag("upstream_cluster", "outbound|9080|v1|ratings.bookinfo.svc.cluster.local"),
        ),
    )
    info = istio_info(s)
    assert info is not None
    assert (info.pod, info.namespace, info.ip, info.workload) == (
        "reviews-v3-84779c7bbc-mtgxq",
        "bookinfo",
        "10.0.0.9",
        "reviews-v3",
    )
    assert (info.app, info.version, info.status_code, info.response_flags) == (
        "reviews",
        "v3",
        "503",
        "UF",
    )
    assert info.upstream_cluster.startswith("outbound|9080|v1|ratings")
    assert istio_info(span("plain", 0, 1)) is None


def test_summary_names_the_earliest_root_and_the_versions_seen():
    t = trace(
        span("r", 0, 100, op="GET /"),
        span(
            "c",
            10,
            20,
            "r",
            process=P2,
            tags=(
                Tag("istio.canonical_service", "reviews"),
                Tag("istio.canonical_revision", "v2"),
                Tag("error", "true"),
            ),
        ),
    )
    s = summarize(t)
    assert (s.root_service, s.root_operation, s.span_count, s.error_count) == (
        "svc-a",
        "GET /",
        2,
        1,
    )
    assert s.versions == ("reviews:v2",)
    assert s.duration_us == 100
    assert s.services == ("svc-a", "svc-b")


def test_empty_trace_is_harmless():
    a = analyze(trace())
    assert a.critical == () and a.duration_us == 0
    assert summarize(trace()).span_count == 0


@pytest.mark.parametrize(
    "value,expected",
    [(True, True), ("true", True), ("TRUE", True), (False, False), ("false", False)],
)
def test_error_tag_values(value, expected):
    assert span("a", 0, 1, tags=(Tag("error", value),)).is_error is expected


def test_critical_path_function_alone_on_a_built_tree():
    tree = build_tree(trace(span("r", 0, 10), span("c", 2, 3, "r")))
    assert [(c.span, c.start_us, c.end_us) for c in critical_path(tree)] == [
        (0, 5, 10),
        (1, 2, 5),
        (0, 0, 2),
    ]


def test_a_cached_trace_pickles_span_by_constructor_and_comes_back_equal(monkeypatch):
    """The shared cache pickles traces: spans and references travel as their constructors'
    arguments (not through dataclasses.fields per object, slow for 50,000 spans), come back
    equal, and the spans of one process still share it."""
    import dataclasses
    import pickle

    from mesh.traces.records import Log

    proc = Process("reviews.bookinfo", (Tag("hostname", "reviews-v2-abc"),))
    spans = (
        Span("t", "a", "GET /", 10, 90, proc, (), (Tag("span.kind", "server"),),
             (Log(20, (Tag("event", "retry"),)),), ("clock skew",)),
        Span("t", "b", "call", 20, 30, proc,
             (SpanRef(RefType.CHILD_OF, "t", "a"), SpanRef(RefType.FOLLOWS_FROM, "u", "x")),
             (Tag("error", True, "bool"),)),
    )  # fmt: skip
    trace = Trace("t", spans, ("a warning",))

    through_fields: list[type] = []
    fields = dataclasses.fields

    def counted(obj):
        through_fields.append(type(obj))
        return fields(obj)

    monkeypatch.setattr(dataclasses, "fields", counted)
    back = pickle.loads(pickle.dumps(trace, protocol=pickle.HIGHEST_PROTOCOL))
    monkeypatch.undo()
    assert Span not in through_fields and SpanRef not in through_fields
    assert back == trace and back.spans[1].references[0].ref_type is RefType.CHILD_OF
    assert back.spans[0].process is back.spans[1].process
    assert back.spans[0].logs == spans[0].logs and back.spans[1].is_error
