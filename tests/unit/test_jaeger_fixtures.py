"""Conformance: every file in ../shared/fixtures/jaeger parses, and the model is right.

The fixtures are Jaeger's and Jaeger UI's own test data (see their README). Expectations below
are derived by hand from the files, not from meshdash's output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.jaeger_json import (
    parse_dependencies,
    parse_otlp,
    parse_v1_response,
    parse_v1_trace,
    parse_v3_summaries,
    trace_to_v1,
    traces_to_otlp,
)
from mesh.traces.analysis import adjust, analyze, build_tree, summarize
from mesh.traces.records import RefType
from tests.conftest import shared_path

KNOWN = {
    "jaeger-apiv3-FindTraceSummaries.json",
    "jaeger-apiv3-FindTraces.json",
    "jaeger-apiv3-GetOperations.json",
    "jaeger-apiv3-GetServices.json",
    "jaeger-apiv3-GetTrace.json",
    "jaeger-integration-example_trace.json",
    "jaeger-otlp2jaeger-in.json",
    "jaeger-otlp2jaeger-out.json",
    "jaeger-uimodel-ui_01.json",
    "jui-depgraph-large.json",
    "jui-depgraph-small.json",
    "jui-timeline-genaiTestTrace.json",
    "jui-tracegraph-testTrace.json",
}


def fixture(name: str):
    return json.loads(shared_path("fixtures", "jaeger", name).read_text())


def parse_any(body):
    """Dispatch on the shape, as a reader of an unknown Jaeger payload would."""
    if isinstance(body, list):
        return parse_dependencies(body)
    if "resourceSpans" in body or "result" in body:
        return parse_otlp(body)
    if "traceID" in body:
        return [parse_v1_trace(body)]
    if "data" in body:
        return parse_v1_response(body)
    if "summaries" in body:
        return parse_v3_summaries(body)
    if "services" in body:
        return body["services"]
    if "operations" in body:
        return body["operations"]
    raise AssertionError(f"unknown Jaeger payload keys {sorted(body)}")


def all_fixture_files() -> list[Path]:
    folder = shared_path("fixtures", "jaeger")
    return sorted(folder.glob("*.json"))


def test_every_fixture_file_parses_and_none_is_unaccounted_for():
    files = all_fixture_files()
    assert {f.name for f in files} >= KNOWN
    for f in files:
        parsed = parse_any(json.loads(f.read_text()))
        assert parsed, f"{f.name} parsed to nothing"
        for item in parsed:
            if hasattr(item, "spans"):
                a = analyze(item)  # loads, with warnings at worst
                assert len(a.tree.order) == len(a.trace.spans)


def test_tracegraph_test_trace_counts_roots_and_critical_path():
    t = parse_v1_trace(fixture("jui-tracegraph-testTrace.json"))
    assert len(t.spans) == 11
    a = analyze(t)
    spans = a.trace.spans
    assert [spans[i].span_id for i in a.tree.roots] == ["span-1"]
    t0 = 1542666452979000
    path = [
        (spans[c.span].span_id, (c.start_us - t0) // 1000, (c.end_us - t0) // 1000)
        for c in a.critical
    ]
    # Worked by hand (ms after span-1 starts). span-7 FOLLOWS_FROM the producer span-6 and is
    # off the path; span-12's children span-13/14 both end at 340 and the earlier one wins.
    assert path == [
        ("span-1", 340, 390),
        ("span-13", 331, 340),
        ("span-12", 330, 331),
        ("span-1", 320, 330),
        ("span-6", 300, 320),
        ("span-1", 287, 300),
        ("span-2_1", 250, 287),
        ("span-1", 246, 250),
        ("span-3", 220, 246),
        ("span-4", 219, 220),
        ("span-5", 201, 219),
        ("span-4", 200, 201),
        ("span-3", 180, 200),
        ("span-1", 158, 180),
        ("span-2", 125, 158),
        ("span-1", 0, 125),
    ]
    own = {s.span_id: us // 1000 for s, us in zip(spans, a.self_us, strict=True)}
    assert own["span-1"] == 390 - (33 + 66 + 37 + 20 + 10)
    assert own["span-6"] == 20  # its FOLLOWS_FROM consumer does not make it wait
    assert own["span-12"] == 1
    by = {s.service: s for s in a.services}
    assert (by["service1"].spans, by["service2"].spans) == (8, 3)
    assert by["service1"].errors == 1  # span-2's error tag is the string "true"
    follows = [spans[i].span_id for i, f in enumerate(a.tree.follows) if f]
    assert follows == ["span-7"]
    s = summarize(t)
    assert (s.span_count, s.error_count, s.duration_us) == (11, 1, 1000000)
    assert (s.root_service, s.root_operation) == ("service1", "op1")


def test_genai_timeline_trace():
    raw = fixture("jui-timeline-genaiTestTrace.json")
    t = parse_v1_trace(raw)
    assert len(t.spans) == 57
    a = analyze(t)
    assert a.warnings == ()
    assert len(a.tree.roots) == 1
    root = a.trace.spans[a.tree.roots[0]]
    assert (root.span_id, root.service, root.operation) == (
        "0000000000000001",
        "api-edge",
        "POST /api/graphql",
    )
    assert {s.service for s in a.services} == {p["serviceName"] for p in raw["processes"].values()}
    assert len(a.services) == 10
    # the path of a single root tiles it: its sections add up to the root's duration
    assert sum(c.end_us - c.start_us for c in a.critical) == root.duration_us == 44_000_000
    # By hand: the root's only child Query.assistantReply [2ms, 43002ms) has graphql.execution
    # [3ms, 43003ms), which overflows it by 1 ms: clipped, it still ends last, leaves no gap, and
    # holds the path down to 3 ms; invoke_agent (ends 42004ms) never gets a turn.
    t0 = 1770000000000000
    path = [
        (a.trace.spans[c.span].operation, (c.start_us - t0) // 1000, (c.end_us - t0) // 1000)
        for c in a.critical
    ]
    assert path == [
        ("POST /api/graphql", 43002, 44001),
        ("graphql.execution", 3, 43002),
        ("Query.assistantReply", 2, 3),
        ("POST /api/graphql", 1, 2),
    ]
    # every span's depth is its parent's plus one
    for i, p in enumerate(a.tree.parent):
        assert a.tree.depth[i] == (0 if p < 0 else a.tree.depth[p] + 1)


def test_edge_case_trace_loads_with_warnings_not_an_exception():
    t = parse_v1_trace(fixture("jaeger-uimodel-ui_01.json"))
    assert len(t.spans) == 5
    a = analyze(t)
    ids = [s.span_id for s in a.trace.spans]
    assert len(set(ids)) == 5, "duplicate span id made unique"
    assert a.warnings[0] == "some trace warning"
    assert any("duplicate" in w for w in a.warnings)
    by_id = {s.span_id: i for i, s in enumerate(a.trace.spans)}
    # span 4 references another trace (a link), CHILD_OF 2 and FOLLOWS_FROM 2: its parent is 2.
    four = by_id["0000000000000004"]
    assert a.trace.spans[a.tree.parent[four]].operation == "test-general-conversion"
    assert a.tree.follows[four] is False
    assert a.tree.parent[by_id["0000000000000005"]] == four
    assert a.tree.depth[by_id["0000000000000005"]] == 2
    span4 = a.trace.spans[four]
    assert [r.ref_type for r in span4.references] == [
        RefType.CHILD_OF,
        RefType.CHILD_OF,
        RefType.FOLLOWS_FROM,
    ]
    assert span4.warnings == ("some span warning",)
    # the typed tags survive: bool, float, int64 beyond JavaScript's range, binary
    dup = a.trace.spans[1]
    tags = {tg.key: (tg.value, tg.type) for tg in dup.tags}
    assert tags["error"] == (True, "bool") and dup.is_error
    assert tags["temperature"] == (72.5, "float64")
    assert tags["javascript_limit"] == (9223372036854775222, "int64")
    assert tags["blob"] == ("AAAwOQ==", "binary")
    first = a.trace.spans[0]
    assert [f.value for lg in first.logs for f in lg.fields] == ["some-event", "y"]


def test_otlp_input_and_v1_output_of_jaegers_converter_give_the_same_model():
    from_otlp = parse_otlp(fixture("jaeger-otlp2jaeger-in.json"))
    from_v1 = parse_v1_response(fixture("jaeger-otlp2jaeger-out.json"))
    assert len(from_otlp) == len(from_v1) == 1
    assert from_otlp[0] == from_v1[0]
    assert len(from_otlp[0].spans) == 2
    # and meshdash's own v1 encoder reproduces Jaeger's converter output
    assert trace_to_v1(from_otlp[0]) == fixture("jaeger-otlp2jaeger-out.json")["data"][0]
    a = analyze(from_otlp[0])
    assert len(a.trace.spans) == 1, "the byte-identical duplicate is dropped"
    assert any("not in the trace" in w for w in a.warnings), "its parent is missing"
    assert a.trace.spans[0].kind == "server"
    assert a.trace.spans[0].duration_us == 123


def test_integration_example_trace_otlp():
    traces = parse_otlp(fixture("jaeger-integration-example_trace.json"))
    assert len(traces) == 1
    t = traces[0]
    assert t.trace_id == "0000000000000011"
    assert len(t.spans) == 5
    assert {s.service for s in t.spans} == {
        "example-service-1",
        "example-service-2",
        "example-service-3",
    }
    assert len(build_tree(t).roots) == 5
    kinds = {s.span_id: s.kind for s in t.spans}
    assert kinds["0000000000000006"] == "server" and kinds["0000000000000007"] == "client"
    assert kinds["0000000000000003"] == ""
    assert all(len(s.logs) == 2 and s.duration_us == 100 for s in t.spans)


@pytest.mark.parametrize("name", ["jaeger-apiv3-GetTrace.json", "jaeger-apiv3-FindTraces.json"])
def test_apiv3_trace_snapshots(name):
    traces = parse_otlp(fixture(name))
    assert len(traces) == 1
    (s,) = traces[0].spans
    assert (traces[0].trace_id, s.span_id, s.operation, s.kind) == (
        "0000000000000001",
        "0000000000000002",
        "foobar",
        "server",
    )
    assert s.is_error, "status code 2 is ERROR"
    assert s.tag("otel.status_code") == "ERROR"


def test_apiv3_summaries_services_operations():
    (summary,) = parse_v3_summaries(fixture("jaeger-apiv3-FindTraceSummaries.json"))
    assert (summary.trace_id, summary.span_count, summary.error_count) == ("0000000000000001", 2, 1)
    assert summary.duration_us == 1_000_000
    assert (summary.root_service, summary.root_operation) == ("frontend", "HTTP GET /")
    assert fixture("jaeger-apiv3-GetServices.json")["services"] == ["foo"]
    assert fixture("jaeger-apiv3-GetOperations.json")["operations"][0]["name"] == "get_users"


def test_dependency_graphs():
    small = parse_dependencies(fixture("jui-depgraph-small.json"))
    assert len(small) == 7
    assert sum(d.call_count for d in small if d.parent == "Service1") == 30489 + 30491 + 8560
    raw = fixture("jui-depgraph-large.json")
    large = parse_dependencies(raw)
    assert len(large) == len(raw) == 4271
    assert len({d.parent for d in large} | {d.child for d in large}) == 1238


def test_round_trip_through_both_wire_formats_keeps_the_model():
    for name in ("jui-tracegraph-testTrace.json", "jui-timeline-genaiTestTrace.json"):
        t = parse_v1_trace(fixture(name))
        assert parse_v1_trace(trace_to_v1(t)) == t
        again = parse_otlp(traces_to_otlp([t]))[0]

        # OTLP has no place for span.kind or error among attributes (they become the kind and
        # the status), so compare what the model uses rather than the tag order.
        def essence(trace):
            return sorted(
                (s.span_id, s.start_us, s.duration_us, s.service, s.references, s.kind, s.is_error)
                for s in trace.spans
            )

        assert essence(again) == essence(t)
        assert analyze(again).critical == analyze(t).critical


def test_adjusting_is_idempotent_on_fixtures():
    t = adjust(parse_v1_trace(fixture("jaeger-uimodel-ui_01.json")))
    assert adjust(t) == t
