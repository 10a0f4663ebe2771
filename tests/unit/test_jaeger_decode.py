"""The fast trace decoders (collectors/jaeger_decode.py) give exactly the records of the general
ones (collectors/jaeger_json.py), take the fast path on what Jaeger writes, and fall back to the
general decoder, with its records or its error, on anything else."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace

import pytest

import collectors.jaeger_decode as jd
from collectors.jaeger_json import (
    parse_otlp,
    parse_v1_response,
    trace_to_v1,
    traces_to_otlp,
    v1_envelope,
)
from collectors.jaeger_tags import RawTags
from collectors.strict_json import NotFiniteError, loads_strict
from mesh.errors import BackendDataError
from mesh.traces.records import LazyTags, Log, Process, RefType, Span, SpanRef, Tag, Trace
from tests.conftest import shared_path

FIXTURES = [
    "jaeger-otlp2jaeger-out.json",
    "jaeger-uimodel-ui_01.json",
    "jui-timeline-genaiTestTrace.json",
    "jui-tracegraph-testTrace.json",
    "jaeger-apiv3-FindTraces.json",
    "jaeger-apiv3-GetTrace.json",
    "jaeger-integration-example_trace.json",
    "jaeger-otlp2jaeger-in.json",
]


def _no_fallback(monkeypatch) -> None:
    def refuse(*_a, **_k):
        raise AssertionError("the fast path fell back to the general decoder")

    monkeypatch.setattr(jd, "parse_v1_response", refuse)
    monkeypatch.setattr(jd, "parse_otlp", refuse)


@pytest.mark.parametrize("name", FIXTURES)
def test_jaeger_fixtures_decode_fast_to_the_same_records(name, monkeypatch):
    raw = shared_path("fixtures", "jaeger", name).read_bytes()
    body = json.loads(raw)
    if "resourceSpans" in body or "result" in body:
        expected = parse_otlp(body)
        _no_fallback(monkeypatch)
        got = jd.decode_otlp(raw)
    else:
        if "spans" in body:  # a bare UI-model trace: wrap it as GET /api/traces/{id} does
            body = v1_envelope([body])
            raw = json.dumps(body).encode()
        expected = parse_v1_response(body)
        _no_fallback(monkeypatch)
        got = jd.decode_v1_response(raw)
    assert got == expected
    assert got and all(t.spans for t in got)


def _istio_trace() -> Trace:
    """Every kind of value the encoders write: typed tags, logs, both reference types, a link
    into another trace, an error, shared processes."""
    front = Process(
        "productpage.bookinfo", (Tag("hostname", "productpage-v1-abc"), Tag("ip", "10.0.0.1"))
    )
    back = Process("reviews.bookinfo", (Tag("hostname", "reviews-v2-xyz"),))
    common = (Tag("istio.mesh_id", "cluster.local"), Tag("http.method", "GET"))
    return Trace(
        "0000000000abc123",
        (
            Span("0000000000abc123", "0000000000000001", "GET /", 1_000, 9_000,
                 front, (), (*common, Tag("span.kind", "server"), Tag("http.status_code", "200"))),
            Span("0000000000abc123", "0000000000000002", "reviews:9080/x", 2_000,
                 5_000, front, (SpanRef(RefType.CHILD_OF, "0000000000abc123",
                                        "0000000000000001"),),
                 (*common, Tag("span.kind", "client"), Tag("retries", 2, "int64"),
                  Tag("ratio", 0.25, "float64"), Tag("error", True, "bool")),
                 (Log(2_500, (Tag("event", "retry"), Tag("attempt", 1, "int64"))),)),
            Span("0000000000abc123", "0000000000000003", "reviews:9080/x", 2_100,
                 4_000, back, (SpanRef(RefType.CHILD_OF, "0000000000abc123",
                                       "0000000000000002"),
                               SpanRef(RefType.FOLLOWS_FROM, "000000000000beef",
                                       "00000000000000aa")),
                 (*common, Tag("span.kind", "server"))),
        ),
    )  # fmt: skip


def test_an_istio_trace_round_trips_through_both_fast_decoders(monkeypatch):
    trace = _istio_trace()
    v1 = json.dumps(v1_envelope([trace_to_v1(trace)])).encode()
    otlp = json.dumps({"result": traces_to_otlp([trace])}).encode()
    general_otlp = parse_otlp(loads_strict(otlp))
    _no_fallback(monkeypatch)
    assert jd.decode_v1_response(v1) == [trace]
    assert jd.decode_otlp(otlp) == general_otlp
    assert jd.decode_otlp(otlp)[0].spans[1].tag("error") is True


def test_span_tags_are_decoded_when_read_and_typed_tags_keep_their_type():
    spans = [
        {"spanID": f"{i:016x}", "startTime": i, "duration": 1, "processID": "p1",
         "tags": [{"key": "zone", "type": "string", "value": "a"},
                  {"key": "x", "type": "int64", "value": 1},
                  {"key": "x", "type": "bool", "value": True},
                  {"key": "n", "type": "int64", "value": "7"},
                  {"key": "span.kind", "value": "server"},
                  {"key": "error", "type": "BOOL", "value": "true"}]}
        for i in range(1, 4)
    ]  # fmt: skip
    body = {"data": [{"traceID": "1", "spans": spans, "processes": {"p1": {"serviceName": "a"}}}]}
    (trace,) = jd.decode_v1_response(json.dumps(body).encode())
    span = trace.spans[0]
    assert isinstance(span.tags, RawTags)
    assert span.tags._indexed is None  # nothing decoded before the model asks
    assert isinstance(span.tags, LazyTags)
    # the model's questions read only the indexed tags, decoded once and kept
    assert (span.kind, span.is_error) == ("server", True)
    assert [t.key for t in span.tags._indexed] == ["span.kind", "error"]
    assert span.tag("zone") == "a" and span.tag("missing", 5) == 5  # the others: decoded again
    one, true, seven = span.tags[1:4]
    assert (one.value, one.type) == (1, "int64") and type(one.value) is int
    assert (true.value, true.type) == (True, "bool") and type(true.value) is bool
    assert (seven.value, seven.type) == (7, "int64")  # a string int64, read as Jaeger's UI does
    assert trace == parse_v1_response(body)[0]
    assert hash(span) == hash(parse_v1_response(body)[0].spans[0])
    # a cached trace crosses a pickle: the tags travel as their bytes, and come back equal
    copy = pickle.loads(pickle.dumps(trace))
    assert copy == trace and isinstance(copy.spans[0].tags, RawTags)
    assert bytes(copy.spans[0].tags.raw) == bytes(span.tags.raw)


def test_a_span_without_tags_has_none():
    body = {"data": [{"traceID": "1", "spans": [
        {"spanID": "1", "startTime": 1, "tags": []},
        {"spanID": "2", "startTime": 1, "tags": None},
        {"spanID": "3", "startTime": 1}]}]}  # fmt: skip
    (trace,) = jd.decode_v1_response(json.dumps(body).encode())
    assert [s.tags for s in trace.spans] == [(), (), ()]
    assert trace == parse_v1_response(body)[0]


@pytest.mark.parametrize(
    "span",
    [
        {"spanID": "1", "startTime": "1700000000000000", "duration": 5},  # a number as a string
        {"spanID": "1", "startTime": 1.5e15, "duration": 5},  # a float where Jaeger writes ints
        {"spanID": "1", "startTime": 1, "tags": [{"key": "k", "value": 1, "type": None}]},
        {"spanID": 7, "startTime": 1},  # a numeric span id
        {"spanID": "1", "startTime": 1, "references": ["not an object"]},
    ],
)
def test_off_shape_v1_answers_fall_back_to_the_general_decoder(span):
    body = {"data": [{"traceID": "ab", "spans": [span]}]}
    assert jd.decode_v1_response(json.dumps(body).encode()) == parse_v1_response(body)


def test_what_the_general_decoder_refuses_the_fast_one_refuses_with_the_same_error():
    nan = b'{"data": [{"traceID": "ab", "spans": [{"spanID": "1", "startTime": NaN}]}]}'
    with pytest.raises(NotFiniteError):
        jd.decode_v1_response(nan)
    huge = b'{"data": [{"traceID": "ab", "spans": [{"spanID": "1", "startTime": 1, "tags": [{"key": "k", "type": "float64", "value": 1e999}]}]}]}'
    with pytest.raises(NotFiniteError):
        parse_v1_response(loads_strict(huge))
    # a span's tags are read when the model asks: a bad value there is bad data then, a 502
    (trace,) = jd.decode_v1_response(huge)
    with pytest.raises(BackendDataError, match="non-numbers"):
        trace.spans[0].tag("error")
    for bad_tags in (b"5", b"[42]", b'[{"value": 1}]'):
        raw = (
            b'{"data": [{"traceID": "ab", "spans": [{"spanID": "1", "startTime": 1, "tags": %s}]}]}'
        )
        (trace,) = jd.decode_v1_response(raw % bad_tags)
        with pytest.raises(BackendDataError):
            trace.spans[0].tag("error")
    # (a number too large in a field meshdash never reads is skipped, like the field itself)
    with pytest.raises(ValueError):
        jd.decode_v1_response(b'{"data": [')
    not_span = b'{"data": [{"traceID": "ab", "spans": [42]}]}'
    with pytest.raises(BackendDataError, match="span is not an object"):
        jd.decode_v1_response(not_span)
    no_id = b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": ""}]}]}]}'
    with pytest.raises(BackendDataError, match="without spanId"):
        jd.decode_otlp(no_id)
    assert jd.decode_v1_response(b'{"data": null}') == []
    assert jd.decode_otlp(b'{"result": {"resourceSpans": []}}') == []


def test_otlp_values_of_every_kind_match_the_general_decoder():
    attrs = [
        {"key": "s", "value": {"stringValue": "x"}},
        {"key": "i", "value": {"intValue": "42"}},
        {"key": "d", "value": {"doubleValue": 0.5}},
        {"key": "b", "value": {"boolValue": True}},
        {"key": "y", "value": {"bytesValue": "AAE="}},
        {"key": "a", "value": {"arrayValue": {"values": [{"intValue": 1}, {"stringValue": "z"}]}}},
        {"key": "m", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": False}}]}}},
        {"key": "empty"},
    ]  # fmt: skip
    span = {
        "traceId": "AAAAAAAAAAAAAAAAAAq8EQ==",  # base64, as standard protobuf JSON writes bytes
        "spanId": "AAAAAAAAAAE=",
        "parentSpanId": "",
        "name": "op",
        "kind": "SPAN_KIND_CLIENT",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": 1700000000005000000,
        "attributes": attrs,
        "events": [
            {"timeUnixNano": "1700000000001000000", "name": "boom", "attributes": attrs[:2]}
        ],
        "links": [{"traceId": "000000000000beef", "spanId": "00000000000000aa"}],
        "status": {"code": "STATUS_CODE_ERROR", "message": "upstream reset"},
    }
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "a"}}]
                },
                "instrumentationLibrarySpans": [
                    {"instrumentationLibrary": {"name": "envoy", "version": "1"}, "spans": [span]}
                ],
            }
        ]
    }
    raw = json.dumps(body).encode()
    got = jd.decode_otlp(raw)
    assert got == parse_otlp(body)
    s = got[0].spans[0]
    assert s.trace_id == "00000000000abc11" and s.span_id == "0000000000000001"
    assert s.tag("i") == 42 and s.tag("error") is True and s.kind == "client"
    assert s.logs[0].fields[0] == Tag("event", "boom")


def test_the_analysis_of_lazily_read_tags_gives_the_same_numbers():
    """Critical path, self times, errors, per-service time and the path from the fast decoder's
    records (tags read when asked) equal those from the general decoder's (tags decoded up
    front), on an Istio-shaped 2,000-span trace with an error, a producer/consumer pair and a
    waypoint span among them."""
    from bench.trace_scale import synthetic_trace
    from mesh.traces.analysis import analyze
    from mesh.traces.path import trace_path

    base = synthetic_trace(2000)
    spans = list(base.spans)
    spans[5] = replace(spans[5], tags=(*spans[5].tags, Tag("error", True, "bool")))
    spans[7] = replace(spans[7], tags=(Tag("span.kind", "producer"), *spans[7].tags[:-1]))
    spans[9] = replace(
        spans[9],
        tags=(Tag("node_id", "waypoint~10.0.0.9~waypoint-abc-12345.shop~shop.svc.cluster.local"),
              *spans[9].tags[1:]),
    )  # fmt: skip
    trace = replace(base, spans=tuple(spans))
    raw = json.dumps(v1_envelope([trace_to_v1(trace)])).encode()
    fast = jd.decode_v1_response(raw)[0]
    general = parse_v1_response(loads_strict(raw))[0]
    assert isinstance(fast.spans[0].tags, RawTags)
    a, b = analyze(fast), analyze(general)
    assert a.critical == b.critical and a.self_us == b.self_us and a.errors == b.errors
    assert a.services == b.services and a.tree.order == b.tree.order
    assert sum(a.errors) == 1 and (a.start_us, a.duration_us) == (b.start_us, b.duration_us)
    assert trace_path(a.trace, a.tree) == trace_path(b.trace, b.tree)


def test_otlp_attributes_are_decoded_when_read_between_scope_and_status_tags():
    """/api/v3 keeps each span's attributes as bytes (RawAttributes): nothing is decoded before
    the model asks, the indexed tags come from the scope, the attributes, the kind and the status
    in jaeger_json's order, and the whole list equals the general decoder's."""
    from collectors.jaeger_attributes import RawAttributes

    attrs = [
        {"key": "istio.canonical_service", "value": {"stringValue": "reviews"}},
        {"key": "zone", "value": {"stringValue": "a"}},
        {"key": "http.status_code", "value": {"intValue": "503"}},
        {"key": "error", "value": {"boolValue": False}},  # the status's error comes after it
        {"key": "size", "value": {"doubleValue": 0.5}},
    ]
    span = {"traceId": "000000000000abcd", "spanId": "0000000000000001", "name": "op",
            "kind": 3, "startTimeUnixNano": "1700000000000000000",
            "endTimeUnixNano": "1700000000005000000", "attributes": attrs,
            "status": {"code": 2, "message": "reset"}}  # fmt: skip
    body = {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "reviews.bookinfo"}}]},
        "scopeSpans": [{"scope": {"name": "envoy"}, "spans": [span]}]}]}  # fmt: skip
    raw = json.dumps(body).encode()
    (trace,) = jd.decode_otlp(raw)
    (general,) = parse_otlp(body)
    s = trace.spans[0]
    assert isinstance(s.tags, RawAttributes)
    assert s.tags._indexed is None  # nothing decoded before the model asks
    assert isinstance(s.tags, LazyTags)
    assert (s.kind, s.tag("http.status_code"), s.tag("istio.canonical_service")) == (
        "client",
        503,
        "reviews",
    )
    assert s.tag("error") is False and s.is_error is False  # the first `error` tag wins
    assert [t.key for t in s.tags.indexed] == [
        "istio.canonical_service", "http.status_code", "error", "span.kind", "error"]  # fmt: skip
    assert s.tag("zone") == "a" and s.tag("otel.scope.name") == "envoy"
    assert tuple(s.tags) == general.spans[0].tags and len(s.tags) == len(general.spans[0].tags)
    assert trace == general and hash(s) == hash(general.spans[0])
    copy = pickle.loads(pickle.dumps(trace))  # a cached trace: the bytes travel, once
    assert copy == trace and isinstance(copy.spans[0].tags, RawAttributes)
    assert copy.spans[0].tags.after == s.tags.after


def test_bad_otlp_attributes_are_bad_jaeger_data_when_read():
    def trace_with(attributes: bytes):
        raw = (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "0000000000000001",'
            b' "traceId": "000000000000abcd", "attributes": %s}]}]}]}'
        )
        (trace,) = jd.decode_otlp(raw % attributes)
        return trace

    for bad in (b"5", b'{"key": "a"}', b'[{"key": "k", "value": {"doubleValue": 1e999}}]',
                b'[{"key": "error", "value": {"intValue": "x"}}]'):  # fmt: skip
        with pytest.raises(BackendDataError):
            tuple(trace_with(bad).spans[0].tags)
    # an entry the general decoder skips (not an object, no key) is skipped here too
    odd = trace_with(
        b'[42, {"value": {"stringValue": "x"}}, {"key": "k", "value": {"stringValue": "v"}}]'
    )
    assert tuple(odd.spans[0].tags) == (Tag("k", "v"),) and odd.spans[0].tags.indexed == ()
    assert trace_with(b"null").spans[0].tags == () and trace_with(b"[]").spans[0].tags == ()


def test_the_analysis_of_lazily_read_otlp_attributes_gives_the_same_numbers(monkeypatch):
    """As for v1: the page's figures from RawAttributes equal those from tags decoded up front,
    on an Istio-shaped 2,000-span trace sent as /api/v3 OTLP JSON."""
    from bench.trace_scale import synthetic_trace
    from collectors.jaeger_attributes import RawAttributes
    from mesh.traces.analysis import analyze
    from mesh.traces.path import trace_path

    base = synthetic_trace(2000)
    spans = list(base.spans)
    spans[5] = replace(spans[5], tags=(*spans[5].tags, Tag("error", True, "bool")))
    spans[9] = replace(
        spans[9],
        tags=(Tag("node_id", "waypoint~10.0.0.9~waypoint-abc-12345.shop~shop.svc.cluster.local"),
              *spans[9].tags[1:]),
    )  # fmt: skip
    raw = json.dumps({"result": traces_to_otlp([replace(base, spans=tuple(spans))])}).encode()
    general = parse_otlp(loads_strict(raw))[0]
    _no_fallback(monkeypatch)
    fast = jd.decode_otlp(raw)[0]
    assert isinstance(fast.spans[0].tags, RawAttributes)
    a, b = analyze(fast), analyze(general)
    assert a.critical == b.critical and a.self_us == b.self_us and a.errors == b.errors
    assert a.services == b.services and a.tree.order == b.tree.order and sum(a.errors) == 1
    assert trace_path(a.trace, a.tree) == trace_path(b.trace, b.tree)
    assert fast == general
