"""Jaeger's two JSON wire formats <-> meshdash's trace records.

- the v1 UI model (`/api/traces`): `{traceID, spans[], processes{pN: {serviceName, tags}}}`,
  times in µs, tags `{key, type, value}`;
- OTLP JSON (`/api/v3`): `resourceSpans[].scopeSpans[].spans[]`, times as nanosecond strings,
  attributes `{key, value: {stringValue|intValue|...}}`, enums as integers or names, ids as hex
  (Jaeger's own encoding) or base64 (standard protobuf JSON).

Decoding OTLP mirrors Jaeger's own OTLP -> v1 translation (scope tags first, then attributes, then
span.kind and status tags; events become logs with an `event` field; links become FOLLOWS_FROM), so
a trace read through either API gives the same records. The encoders are the inverse; the demo's
Jaeger endpoint and the tests' fixture server speak through them.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from mesh.errors import BackendDataError
from mesh.traces.analysis import canonical_span_id, canonical_trace_id
from mesh.traces.records import (
    Dependency,
    Log,
    Process,
    RefType,
    Span,
    SpanRef,
    Tag,
    Trace,
    TraceSummary,
)

BACKEND = "jaeger"

_KIND_BY_NUMBER = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_KIND_BY_NAME = {f"SPAN_KIND_{v.upper()}": v for v in _KIND_BY_NUMBER.values()}
_NUMBER_BY_KIND = {v: k for k, v in _KIND_BY_NUMBER.items()}
_KIND_NUMBER_BY_NAME = {name: _NUMBER_BY_KIND[kind] for name, kind in _KIND_BY_NAME.items()}
_STATUS_BY_NAME = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def _is_map(x: Any) -> bool:
    return type(x) is dict or isinstance(x, Mapping)  # the exact check first: it is 10x faster


def _bad(what: str) -> BackendDataError:
    return BackendDataError(BACKEND, what)


# --------------------------------------------------------------------------------------------
# v1 UI model


def _v1_tag(raw: Any) -> Tag:
    if not isinstance(raw, Mapping) or "key" not in raw:
        raise _bad(f"tag is not an object with a key: {str(raw)[:80]}")
    typ = str(raw.get("type") or "string").lower()
    value = raw.get("value")
    if typ == "bool" and isinstance(value, str):
        value = value.lower() == "true"
    elif typ == "int64" and isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            typ = "string"
    elif typ == "float64" and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            typ = "string"
    return Tag(str(raw["key"]), value, typ)


class _Tags:
    """Tag decoding with a per-payload cache: Istio spans repeat most of their tags (zone, mesh
    id, method, cluster names), so equal tags are one shared object. That halves the parse time
    of a 10,000-span trace and keeps a 50,000-span one from holding a million Tag objects."""

    __slots__ = ("cache",)

    def __init__(self) -> None:
        self.cache: dict[tuple[Any, ...], Tag] = {}

    def __call__(self, raw: Any) -> tuple[Tag, ...]:
        if not raw:
            return ()
        if type(raw) is not list and not isinstance(raw, list):
            raise _bad("tags are not a list")
        cache = self.cache
        out = []
        for t in raw:
            if type(t) is dict:
                value = t.get("value")
                try:
                    k = (t.get("key"), value, value.__class__, t.get("type"))
                    tag = cache.get(k)
                except TypeError:  # an unhashable value (a list from a lenient tracer)
                    k, tag = None, None
                if tag is None:
                    tag = _v1_tag(t)
                    if k is not None and len(cache) < 200_000:
                        cache[k] = tag
                out.append(tag)
            else:
                out.append(_v1_tag(t))
        return tuple(out)


def _v1_tags(raw: Any) -> tuple[Tag, ...]:
    return _Tags()(raw)


def _v1_process(raw: Any) -> Process:
    if not isinstance(raw, Mapping):
        raise _bad("process is not an object")
    return Process(str(raw.get("serviceName") or ""), _v1_tags(raw.get("tags")))


def _int(raw: Any, what: str) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
        raise _bad(f"{what} is not an integer: {raw!r}") from None
    return value


def parse_v1_trace(raw: Any) -> Trace:
    """One element of the v1 `data` array (a "bare UI-model trace")."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("spans"), list):
        raise _bad("trace is not an object with a spans list")
    processes_raw = raw.get("processes") or {}
    if not isinstance(processes_raw, Mapping):
        raise _bad("processes is not an object")
    tags_of = _Tags()
    processes = {str(k): _v1_process(v) for k, v in processes_raw.items()}
    unknown = Process("")
    trace_id = canonical_trace_id(str(raw.get("traceID") or ""))
    spans: list[Span] = []
    for s in raw["spans"]:
        if not _is_map(s) or "spanID" not in s:
            raise _bad("span is not an object with a spanID")
        if "process" in s and _is_map(s["process"]):
            process = _v1_process(s["process"])
        else:
            process = processes.get(str(s.get("processID") or ""), unknown)
        refs = tuple(
            SpanRef(
                RefType.FOLLOWS_FROM if r.get("refType") == "FOLLOWS_FROM" else RefType.CHILD_OF,
                canonical_trace_id(str(r.get("traceID") or trace_id)),
                canonical_span_id(str(r.get("spanID") or "")),
            )
            for r in (s.get("references") or ())
            if _is_map(r)
        )
        if not refs and s.get("parentSpanID"):  # very old Jaeger: a bare parent id
            refs = (SpanRef(RefType.CHILD_OF, trace_id, canonical_span_id(str(s["parentSpanID"]))),)
        logs = tuple(
            Log(_int(lg.get("timestamp"), "log timestamp"), tags_of(lg.get("fields")))
            for lg in (s.get("logs") or ())
            if _is_map(lg)
        )
        spans.append(
            Span(
                trace_id=canonical_trace_id(str(s.get("traceID") or trace_id)),
                span_id=canonical_span_id(str(s["spanID"])),
                operation=str(s.get("operationName") or ""),
                start_us=_int(s.get("startTime"), "startTime"),
                duration_us=_int(s.get("duration", 0), "duration"),
                process=process,
                references=refs,
                tags=tags_of(s.get("tags")),
                logs=logs,
                warnings=tuple(str(w) for w in (s.get("warnings") or ())),
            )
        )
    if not trace_id and spans:
        trace_id = spans[0].trace_id
    warnings = tuple(str(w) for w in (raw.get("warnings") or ()))
    return Trace(trace_id=trace_id, spans=tuple(spans), warnings=warnings)


def parse_v1_response(body: Any) -> list[Trace]:
    """`{"data": [trace...], "errors": ...}` from /api/traces or /api/traces/{id}."""
    if not isinstance(body, Mapping):
        raise _bad("response is not a JSON object")
    data = body.get("data")
    if data is None:
        return []
    if not isinstance(data, list):
        raise _bad("data is not a list")
    return [parse_v1_trace(t) for t in data]


def _tag_json(tag: Tag) -> dict[str, Any]:
    value = tag.value
    if tag.type == "float64" and isinstance(value, float) and not math.isfinite(value):
        value = str(value)
    return {"key": tag.key, "type": tag.type, "value": value}


def trace_to_v1(trace: Trace) -> dict[str, Any]:
    """The v1 UI model of a trace: processes deduplicated as p1, p2, ... in first-use order."""
    pids: dict[int, str] = {}
    processes: dict[str, Any] = {}
    spans: list[dict[str, Any]] = []
    for s in trace.spans:
        key = id(s.process)
        pid = pids.get(key)
        if pid is None:
            pid = f"p{len(pids) + 1}"
            pids[key] = pid
            processes[pid] = {
                "serviceName": s.process.service,
                "tags": [_tag_json(t) for t in s.process.tags],
            }
        spans.append(
            {
                "traceID": s.trace_id,
                "spanID": s.span_id,
                "operationName": s.operation,
                "references": [
                    {"refType": r.ref_type.value, "traceID": r.trace_id, "spanID": r.span_id}
                    for r in s.references
                ],
                "startTime": s.start_us,
                "duration": s.duration_us,
                "tags": [_tag_json(t) for t in s.tags],
                "logs": [
                    {"timestamp": lg.timestamp_us, "fields": [_tag_json(f) for f in lg.fields]}
                    for lg in s.logs
                ],
                "processID": pid,
                "warnings": list(s.warnings) or None,
            }
        )
    return {
        "traceID": trace.trace_id,
        "spans": spans,
        "processes": processes,
        "warnings": list(trace.warnings) or None,
    }


def v1_envelope(data: Any, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    n = len(data) if isinstance(data, list) else 0
    return {"data": data, "total": n, "limit": 0, "offset": 0, "errors": errors}


# --------------------------------------------------------------------------------------------
# OTLP JSON


def _otlp_id(raw: Any, width: int) -> str:
    """Hex as Jaeger writes it, or base64 as standard protobuf JSON writes bytes."""
    s = str(raw or "")
    if not s:
        return ""
    try:
        int(s, 16)
        if len(s) == width:
            return s.lower()
    except ValueError:
        pass
    try:
        decoded = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return s.lower()
    return decoded.hex() if len(decoded) * 2 == width else s.lower()


def _any_value(raw: Any) -> tuple[Any, str]:
    """An OTLP AnyValue as (value, Jaeger tag type). Arrays and maps become JSON text, as Jaeger's
    translator does."""
    if not isinstance(raw, Mapping):
        return "", "string"
    if "stringValue" in raw:
        return str(raw["stringValue"]), "string"
    if "boolValue" in raw:
        return bool(raw["boolValue"]), "bool"
    if "intValue" in raw:
        return _int(raw["intValue"], "intValue"), "int64"
    if "doubleValue" in raw:
        try:
            return float(raw["doubleValue"]), "float64"
        except (TypeError, ValueError):
            raise _bad(f"doubleValue is not a number: {raw['doubleValue']!r}") from None
    if "bytesValue" in raw:
        return str(raw["bytesValue"]), "binary"
    if "arrayValue" in raw:
        values = (raw["arrayValue"] or {}).get("values") or []
        return json.dumps([_any_value(v)[0] for v in values]), "string"
    if "kvlistValue" in raw:
        values = (raw["kvlistValue"] or {}).get("values") or []
        return json.dumps(
            {kv.get("key"): _any_value(kv.get("value"))[0] for kv in values}
        ), "string"
    return "", "string"


def _attributes(raw: Any, cache: dict | None = None) -> list[Tag]:
    """OTLP key/values as tags; with a cache, equal string attributes (most of an Istio span's)
    share one Tag, as in _Tags."""
    out: list[Tag] = []
    for kv in raw or ():
        if type(kv) is not dict and not isinstance(kv, Mapping):
            continue
        key = kv.get("key")
        if key is None:
            continue
        v = kv.get("value")
        sv = v.get("stringValue") if type(v) is dict else None
        if sv is not None and cache is not None and type(sv) is str:
            tag = cache.get((key, sv))
            if tag is None:
                tag = Tag(str(key), sv, "string")
                if len(cache) < 200_000:
                    cache[(key, sv)] = tag
            out.append(tag)
            continue
        value, typ = _any_value(v)
        out.append(Tag(str(key), value, typ))
    return out


def _enum(raw: Any, names: Mapping[str, int]) -> int:
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        if raw.isdigit():
            return int(raw)
        return names.get(raw, 0)
    return 0


def _ns_to_us(raw: Any, what: str) -> int:
    return _int(raw if raw not in (None, "") else 0, what) // 1000


def parse_otlp(body: Any) -> list[Trace]:
    """OTLP JSON (`{"resourceSpans": ...}` or the v3 `{"result": {...}}` wrapper) -> traces,
    grouped by trace id in order of first appearance."""
    if isinstance(body, Mapping) and "result" in body:
        body = body["result"]
    if not isinstance(body, Mapping):
        raise _bad("OTLP payload is not a JSON object")
    resource_spans = body.get("resourceSpans") or []
    if not isinstance(resource_spans, list):
        raise _bad("resourceSpans is not a list")
    by_trace: dict[str, list[Span]] = {}
    cache: dict = {}
    for rs in resource_spans:
        if not isinstance(rs, Mapping):
            raise _bad("resourceSpans entry is not an object")
        attrs = _attributes((rs.get("resource") or {}).get("attributes"))
        service = next((str(t.value) for t in attrs if t.key == "service.name"), "")
        process = Process(service, tuple(t for t in attrs if t.key != "service.name"))
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or ():
            scope = ss.get("scope") or ss.get("instrumentationLibrary") or {}
            scope_tags: list[Tag] = []
            if scope.get("name"):
                scope_tags.append(Tag("otel.scope.name", str(scope["name"])))
            if scope.get("version"):
                scope_tags.append(Tag("otel.scope.version", str(scope["version"])))
            for s in ss.get("spans") or ():
                span = _otlp_span(s, process, scope_tags, cache)
                by_trace.setdefault(span.trace_id, []).append(span)
    return [Trace(tid, tuple(spans)) for tid, spans in by_trace.items()]


_KIND_TAGS = {k: Tag("span.kind", v) for k, v in _KIND_BY_NUMBER.items()}
_STATUS_OK = Tag("otel.status_code", "OK")
_STATUS_ERROR = (Tag("otel.status_code", "ERROR"), Tag("error", True, "bool"))


def _otlp_span(s: Any, process: Process, scope_tags: list[Tag], cache: dict) -> Span:
    if not _is_map(s):
        raise _bad("span is not an object")
    raw_tid = s.get("traceId")
    trace_id = cache.get(("trace id", raw_tid))
    if trace_id is None:
        trace_id = cache[("trace id", raw_tid)] = canonical_trace_id(_otlp_id(raw_tid, 32))
    span_id = canonical_span_id(_otlp_id(s.get("spanId"), 16))
    if not span_id:
        raise _bad("span without spanId")
    refs: list[SpanRef] = []
    parent = canonical_span_id(_otlp_id(s.get("parentSpanId"), 16))
    if parent:
        refs.append(SpanRef(RefType.CHILD_OF, trace_id, parent))
    for link in s.get("links") or ():
        refs.append(
            SpanRef(
                RefType.FOLLOWS_FROM,
                canonical_trace_id(_otlp_id(link.get("traceId"), 32)),
                canonical_span_id(_otlp_id(link.get("spanId"), 16)),
            )
        )
    tags = [*scope_tags, *_attributes(s.get("attributes"), cache)]
    kind = _KIND_TAGS.get(_enum(s.get("kind"), _KIND_NUMBER_BY_NAME))
    if kind is not None:
        tags.append(kind)
    status = s.get("status") or {}
    code = _enum(status.get("code"), _STATUS_BY_NAME)
    if code == 1:
        tags.append(_STATUS_OK)
    elif code == 2:
        tags.extend(_STATUS_ERROR)
    if status.get("message"):
        tags.append(Tag("otel.status_description", str(status["message"])))
    logs: list[Log] = []
    for ev in s.get("events") or ():
        fields = _attributes(ev.get("attributes"), cache)
        if ev.get("name") and not any(f.key == "event" for f in fields):
            fields.insert(0, Tag("event", str(ev["name"])))
        logs.append(Log(_ns_to_us(ev.get("timeUnixNano"), "timeUnixNano"), tuple(fields)))
    start = _ns_to_us(s.get("startTimeUnixNano"), "startTimeUnixNano")
    end = _ns_to_us(s.get("endTimeUnixNano"), "endTimeUnixNano")
    name = s.get("name")
    return Span(
        trace_id,
        span_id,
        name if type(name) is str else str(name or ""),
        start,
        max(0, end - start),
        process,
        tuple(refs),
        tuple(tags),
        tuple(logs),
    )


_SCOPE_KEYS = {"otel.scope.name", "otel.scope.version"}
_STATUS_KEYS = {"otel.status_code", "otel.status_description", "error", "span.kind"}


def _any_json(tag: Tag) -> dict[str, Any]:
    if tag.type == "bool":
        return {"boolValue": bool(tag.value)}
    if tag.type == "int64":
        return {"intValue": str(tag.value)}
    if tag.type == "float64":
        return {"doubleValue": tag.value}
    if tag.type == "binary":
        return {"bytesValue": str(tag.value)}
    return {"stringValue": "" if tag.value is None else str(tag.value)}


def _kv(tags: Iterable[Tag]) -> list[dict[str, Any]]:
    return [{"key": t.key, "value": _any_json(t)} for t in tags]


def traces_to_otlp(traces: Iterable[Trace]) -> dict[str, Any]:
    """OTLP JSON as Jaeger's /api/v3 writes it (hex ids, integer enums, ns strings), one resource
    per process and one scope per scope name."""
    resources: dict[int, tuple[Process, dict[tuple[str, str], list[dict[str, Any]]]]] = {}
    for trace in traces:
        for s in trace.spans:
            entry = resources.setdefault(id(s.process), (s.process, {}))
            scope = (str(s.tag("otel.scope.name") or ""), str(s.tag("otel.scope.version") or ""))
            entry[1].setdefault(scope, []).append(_otlp_span_json(s))
    out = []
    for process, scopes in resources.values():
        attrs = [{"key": "service.name", "value": {"stringValue": process.service}}]
        attrs.extend(_kv(process.tags))
        scope_spans = []
        for (name, version), spans in scopes.items():
            scope: dict[str, Any] = {}
            if name:
                scope["name"] = name
            if version:
                scope["version"] = version
            scope_spans.append({"scope": scope, "spans": spans})
        out.append({"resource": {"attributes": attrs}, "scopeSpans": scope_spans})
    return {"resourceSpans": out}


def _wide(trace_id: str) -> str:
    """OTLP trace ids are 16 bytes: a 64-bit hex id is left-padded; other ids pass unchanged."""
    try:
        int(trace_id, 16)
    except ValueError:
        return trace_id
    return trace_id.rjust(32, "0")


def _otlp_span_json(s: Span) -> dict[str, Any]:
    parent = next((r for r in s.references if r.ref_type == RefType.CHILD_OF), None)
    links = [r for r in s.references if r is not parent]
    body: dict[str, Any] = {
        "traceId": _wide(s.trace_id),
        "spanId": s.span_id,
        "name": s.operation,
        "startTimeUnixNano": str(s.start_us * 1000),
        "endTimeUnixNano": str((s.start_us + s.duration_us) * 1000),
        "attributes": _kv(t for t in s.tags if t.key not in _SCOPE_KEYS | _STATUS_KEYS),
        "status": {},
    }
    if parent is not None:
        body["parentSpanId"] = parent.span_id
    if links:
        body["links"] = [{"traceId": _wide(r.trace_id), "spanId": r.span_id} for r in links]
    kind = _NUMBER_BY_KIND.get(s.kind)
    if kind:
        body["kind"] = kind
    status_code = s.tag("otel.status_code")
    if s.is_error or status_code == "ERROR":
        body["status"]["code"] = 2
    elif status_code == "OK":
        body["status"]["code"] = 1
    if s.tag("otel.status_description"):
        body["status"]["message"] = str(s.tag("otel.status_description"))
    if s.logs:
        events = []
        for lg in s.logs:
            name = next((str(f.value) for f in lg.fields if f.key == "event"), "")
            events.append(
                {
                    "timeUnixNano": str(lg.timestamp_us * 1000),
                    "name": name,
                    "attributes": _kv(f for f in lg.fields if f.key != "event"),
                }
            )
        body["events"] = events
    return body


# --------------------------------------------------------------------------------------------
# Small responses


def parse_dependencies(data: Any) -> list[Dependency]:
    """The `data` array of /api/dependencies: `[{parent, child, callCount}]`."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise _bad("dependencies data is not a list")
    out = []
    for d in data:
        if not isinstance(d, Mapping) or "parent" not in d or "child" not in d:
            raise _bad("dependency without parent/child")
        out.append(
            Dependency(
                str(d["parent"]), str(d["child"]), _int(d.get("callCount") or 0, "callCount")
            )
        )
    return out


def parse_v3_summaries(body: Any) -> list[TraceSummary]:
    """/api/v3/trace-summaries (Jaeger 2.19+): search rows without spans."""
    if not isinstance(body, Mapping) or not isinstance(body.get("summaries") or [], list):
        raise _bad("trace summaries are not a list")
    out = []
    for s in body.get("summaries") or ():
        if not isinstance(s, Mapping) or "traceId" not in s:
            raise _bad("trace summary without traceId")
        start = _ns_to_us(s.get("minStartTimeUnixNano"), "minStartTimeUnixNano")
        end = _ns_to_us(s.get("maxEndTimeUnixNano"), "maxEndTimeUnixNano")
        services = tuple(sorted(str(x.get("name") or "") for x in s.get("services") or ()))
        out.append(
            TraceSummary(
                trace_id=canonical_trace_id(_otlp_id(s["traceId"], 32)),
                start_us=start,
                duration_us=max(0, end - start),
                span_count=_int(s.get("spanCount") or 0, "spanCount"),
                error_count=_int(s.get("errorSpanCount") or 0, "errorSpanCount"),
                services=services,
                root_service=str(s.get("rootServiceName") or ""),
                root_operation=str(s.get("rootOperationName") or ""),
            )
        )
    return out
