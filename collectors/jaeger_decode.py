"""Fast decoding of large Jaeger answers: bytes -> trace records without the generic JSON tree.

A 50,000-span trace is ~90 MB of JSON. `json.loads` (or orjson) first builds a dict per span, tag
and reference, millions of them, and collectors/jaeger_json.py then walks those dicts. Here msgspec
decodes the bytes straight into typed structs of the shape Jaeger writes, which costs less than the
bare generic decode of the same bytes (bench/trace_scale.py prints both) and holds far less memory
on the way; equal string tags then become one shared Tag, as in jaeger_json.

Anything off that shape (a number written as a string, NaN, a missing field, a tag that is not an
object) makes msgspec refuse the payload, and it is read again by the general decoder in
jaeger_json, which gives the same records or the same error as before: the fast path only ever
speeds up, it never decides anything on its own.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType

from collectors.jaeger_attributes import RawAttributes, _KeyValue
from collectors.jaeger_attributes import attributes as _attributes
from collectors.jaeger_json import (
    _KIND_NUMBER_BY_NAME,
    _KIND_TAGS,
    _STATUS_BY_NAME,
    _STATUS_ERROR,
    _STATUS_OK,
    _bad,
    _enum,
    _ns_to_us,
    _otlp_id,
    _v1_tag,
    parse_otlp,
    parse_v1_response,
)
from collectors.jaeger_tags import span_tags, tag_slices
from collectors.strict_json import loads_strict
from mesh.traces.analysis import canonical_span_id, canonical_trace_id
from mesh.traces.records import Log, Process, RefType, Span, SpanRef, Tag, Trace

_TAG_CACHE_MAX = 200_000

# --------------------------------------------------------------------------------------------
# v1 UI model: the shape of /api/traces and /api/traces/{id}


class _V1Tag(Struct, frozen=True):
    """Field names are Jaeger's (and OTLP's below), spelled as on the wire."""

    key: str
    value: Any = None
    type: str = "string"


class _V1Ref(Struct, gc=False):
    refType: str = "CHILD_OF"
    traceID: str | None = None
    spanID: str | None = None


class _V1Log(Struct):
    timestamp: int
    fields: list[_V1Tag] | None = None


class _V1Process(Struct):
    serviceName: str | None = None
    tags: list[_V1Tag] | None = None


_NO_TAGS = msgspec.Raw(b"[]")


class _V1Span(Struct, gc=False):
    spanID: str
    startTime: int
    traceID: str | None = None
    operationName: str | None = None
    references: list[_V1Ref] | None = None
    duration: int = 0
    tags: msgspec.Raw = _NO_TAGS  # left undecoded: collectors/jaeger_tags.py
    logs: list[_V1Log] | None = None
    processID: str | None = None
    process: _V1Process | None = None
    warnings: list[str] | None = None
    parentSpanID: str | None = None


class _V1Trace(Struct):
    spans: list[_V1Span]
    traceID: str | None = None
    processes: dict[str, _V1Process] | None = None
    warnings: list[str] | None = None


class _V1Response(Struct):
    data: list[_V1Trace] | None = None


_V1_DECODER = msgspec.json.Decoder(_V1Response)


class _V1Tags:
    """Struct tags -> Tags; equal string tags share one Tag (most of an Istio span's tags)."""

    __slots__ = ("cache",)

    def __init__(self) -> None:
        self.cache: dict[_V1Tag, Tag] = {}

    def __call__(self, raw: list[_V1Tag] | None) -> tuple[Tag, ...]:
        if not raw:
            return ()
        cache = self.cache
        out = []
        for t in raw:
            # Only string values are cached: a struct compares 1 == True, a str equals no number.
            if type(t.value) is str:
                tag = cache.get(t)
                if tag is None:
                    tag = _tag(t)
                    if len(cache) < _TAG_CACHE_MAX:
                        cache[t] = tag
            else:
                tag = _tag(t)
            out.append(tag)
        return tuple(out)


def _tag(t: _V1Tag) -> Tag:
    if t.type == "string":
        return Tag(t.key, t.value, "string")
    return _v1_tag({"key": t.key, "value": t.value, "type": t.type})  # jaeger_json's rules


def _v1_process(p: _V1Process, tags_of: _V1Tags) -> Process:
    return Process(p.serviceName or "", tags_of(p.tags))


class _TraceIds(dict[str | None, str]):
    """Trace id spellings -> canonical ids, each computed once; none names the trace's own."""

    def __init__(self, own: str) -> None:
        super().__init__()
        self.own = own

    def __missing__(self, value: str | None) -> str:
        got = self[value] = canonical_trace_id(value) if value else self.own
        return got


def _v1_trace(raw: _V1Trace) -> Trace:
    tags_of = _V1Tags()
    processes = {k: _v1_process(v, tags_of) for k, v in (raw.processes or {}).items()}
    unknown = Process("")
    trace_id = canonical_trace_id(raw.traceID or "")
    tid = _TraceIds(trace_id)  # nearly every span and reference repeats one spelling
    tid[raw.traceID or ""] = trace_id
    spans: list[Span] = []
    follows, child_of = RefType.FOLLOWS_FROM, RefType.CHILD_OF
    tags = span_tags([s.tags for s in raw.spans])
    for k, s in enumerate(raw.spans):
        process = (
            _v1_process(s.process, tags_of)
            if s.process is not None
            else processes.get(s.processID or "", unknown)
        )
        refs: tuple[SpanRef, ...] = ()
        if s.references:
            refs = tuple(
                [
                    SpanRef(
                        follows if r.refType == "FOLLOWS_FROM" else child_of,
                        tid[r.traceID],
                        canonical_span_id(r.spanID or ""),
                    )
                    for r in s.references
                ]
            )
        elif s.parentSpanID:  # very old Jaeger: a bare parent id
            refs = (SpanRef(RefType.CHILD_OF, trace_id, canonical_span_id(s.parentSpanID)),)
        logs = tuple(Log(lg.timestamp, tags_of(lg.fields)) for lg in s.logs) if s.logs else ()
        spans.append(
            Span(  # positional: a 50,000-span trace builds 50,000 of them
                tid[s.traceID],
                canonical_span_id(s.spanID),
                s.operationName or "",
                s.startTime,
                s.duration,
                process,
                refs,
                tags[k],
                logs,
                tuple(s.warnings) if s.warnings else (),
            )
        )
    if not trace_id and spans:
        trace_id = spans[0].trace_id
    return Trace(trace_id, tuple(spans), tuple(raw.warnings) if raw.warnings else ())


def decode_v1_response(raw: bytes) -> list[Trace]:
    """The bytes of a v1 answer (`{"data": [trace...]}`) -> traces, as
    `parse_v1_response(loads_strict(raw))` would give them, only faster."""
    try:
        body = _V1_DECODER.decode(raw)
    except msgspec.MsgspecError:
        return parse_v1_response(loads_strict(raw))
    return [_v1_trace(t) for t in body.data or ()]


# --------------------------------------------------------------------------------------------
# OTLP JSON: the shape of /api/v3/traces and /api/v3/traces/{id}


class _Event(Struct):
    timeUnixNano: int | str = 0
    name: str | None = None
    attributes: list[_KeyValue] | None = None


class _Link(Struct):
    traceId: str | None = None
    spanId: str | None = None


class _Status(Struct):
    code: int | str = 0
    message: str | None = None


class _OtlpSpan(Struct):
    spanId: str
    traceId: str | None = None
    parentSpanId: str | None = None
    name: str | None = None
    kind: int | str = 0
    startTimeUnixNano: int | str = 0
    endTimeUnixNano: int | str = 0
    attributes: msgspec.Raw = _NO_TAGS  # left undecoded: collectors/jaeger_attributes.py
    events: list[_Event] | None = None
    links: list[_Link] | None = None
    status: _Status | None = None


class _Scope(Struct):
    name: str | None = None
    version: str | None = None


class _ScopeSpans(Struct):
    scope: _Scope | None = None
    instrumentationLibrary: _Scope | None = None
    spans: list[_OtlpSpan] | None = None


class _Resource(Struct):
    attributes: list[_KeyValue] | None = None


class _ResourceSpans(Struct):
    resource: _Resource | None = None
    scopeSpans: list[_ScopeSpans] | None = None
    instrumentationLibrarySpans: list[_ScopeSpans] | None = None


class _OtlpData(Struct):
    resourceSpans: list[_ResourceSpans] | None = None


class _OtlpBody(Struct):
    resourceSpans: list[_ResourceSpans] | None = None
    result: _OtlpData | UnsetType = UNSET


_OTLP_DECODER = msgspec.json.Decoder(_OtlpBody)


def _status_tags(s: _OtlpSpan) -> tuple[Tag, ...]:
    """The tags a span's kind and status make, after its attributes (jaeger_json's order)."""
    tags: list[Tag] = []
    kind = _KIND_TAGS.get(_enum(s.kind, _KIND_NUMBER_BY_NAME))
    if kind is not None:
        tags.append(kind)
    if s.status is not None:
        code = _enum(s.status.code, _STATUS_BY_NAME)
        if code == 1:
            tags.append(_STATUS_OK)
        elif code == 2:
            tags.extend(_STATUS_ERROR)
        if s.status.message:
            tags.append(Tag("otel.status_description", s.status.message))
    return tuple(tags)


def _otlp_span(
    s: _OtlpSpan,
    process: Process,
    tags: tuple[Tag, ...] | RawAttributes,
    cache: dict,
) -> Span:
    raw_tid = s.traceId or ""
    trace_id = cache.get(("trace id", raw_tid))
    if trace_id is None:
        trace_id = cache[("trace id", raw_tid)] = canonical_trace_id(_otlp_id(raw_tid, 32))
    span_id = canonical_span_id(_otlp_id(s.spanId, 16))
    if not span_id:
        raise _bad("span without spanId")
    refs: list[SpanRef] = []
    parent = canonical_span_id(_otlp_id(s.parentSpanId, 16))
    if parent:
        refs.append(SpanRef(RefType.CHILD_OF, trace_id, parent))
    for link in s.links or ():
        refs.append(
            SpanRef(
                RefType.FOLLOWS_FROM,
                canonical_trace_id(_otlp_id(link.traceId, 32)),
                canonical_span_id(_otlp_id(link.spanId, 16)),
            )
        )
    logs: list[Log] = []
    for ev in s.events or ():
        fields = _attributes(ev.attributes, cache)
        if ev.name and not any(f.key == "event" for f in fields):
            fields.insert(0, Tag("event", ev.name))
        logs.append(Log(_ns_to_us(ev.timeUnixNano, "timeUnixNano"), tuple(fields)))
    start = _ns_to_us(s.startTimeUnixNano, "startTimeUnixNano")
    end = _ns_to_us(s.endTimeUnixNano, "endTimeUnixNano")
    return Span(
        trace_id,
        span_id,
        s.name or "",
        start,
        max(0, end - start),
        process,
        tuple(refs),
        tags,
        tuple(logs),
    )


def _otlp_traces(resource_spans: list[_ResourceSpans]) -> list[Trace]:
    """Spans grouped by trace id; each span's attributes stay bytes (RawAttributes), in one
    TagBuffer for the answer, between its scope's tags and its kind's and status's."""
    found: list[tuple[_OtlpSpan, Process, tuple[Tag, ...]]] = []
    for rs in resource_spans:
        attrs = _attributes(rs.resource.attributes if rs.resource else None, {})
        service = next((str(t.value) for t in attrs if t.key == "service.name"), "")
        process = Process(service, tuple(t for t in attrs if t.key != "service.name"))
        for ss in rs.scopeSpans or rs.instrumentationLibrarySpans or ():
            scope = ss.scope or ss.instrumentationLibrary or _Scope()
            scope_tags: list[Tag] = []
            if scope.name:
                scope_tags.append(Tag("otel.scope.name", scope.name))
            if scope.version:
                scope_tags.append(Tag("otel.scope.version", scope.version))
            before = tuple(scope_tags)
            found.extend((s, process, before) for s in ss.spans or ())
    buf, slices = tag_slices([s.attributes for s, _, _ in found])
    by_trace: dict[str, list[Span]] = {}
    cache: dict = {}
    afters: dict[tuple[Tag, ...], tuple[Tag, ...]] = {}  # one tuple per kind and status
    for (s, process, before), at in zip(found, slices, strict=True):
        after = _status_tags(s)
        after = afters.setdefault(after, after)
        tags = (*before, *after) if at is None else RawAttributes(buf, *at, before, after)
        span = _otlp_span(s, process, tags, cache)
        by_trace.setdefault(span.trace_id, []).append(span)
    return [Trace(tid, tuple(spans)) for tid, spans in by_trace.items()]


def decode_otlp(raw: bytes) -> list[Trace]:
    """The bytes of an OTLP answer (`{"result": {"resourceSpans": ...}}` or bare) -> traces, as
    `parse_otlp(loads_strict(raw))` would give them, only faster."""
    try:
        body = _OTLP_DECODER.decode(raw)
    except msgspec.MsgspecError:
        return parse_otlp(loads_strict(raw))
    data = body if body.result is UNSET else body.result
    return _otlp_traces(data.resourceSpans or [])
