"""A small Jaeger-compatible query endpoint over any trace store, on a loopback port.

It speaks Jaeger's v1 JSON API (`/api/services`, `/api/traces`, `/api/traces/{id}`,
`/api/dependencies`, ...) and /api/v3 in OTLP JSON, one of them or both at once, with Jaeger's
parameter names, envelopes and error shapes. A development harness (no Jaeger binary can be
installed here): tests and benchmarks serve the demo's traces or fixture-backed stores through it
to exercise the real JaegerCollector. The app never starts it: demo mode reads the simulator's
traces in process (demo/trace_source.py).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from collectors.jaeger_json import trace_to_v1, traces_to_otlp, v1_envelope
from mesh.errors import NotFound
from mesh.traces.records import Dependency, Trace, TraceQuery

Flavour = Literal["v1", "v3", "both"]

DEFAULT_LIMIT = 20
DEFAULT_LOOKBACK_US = 3600 * 1_000_000
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_US = {"ns": 0.001, "us": 1, "µs": 1, "μs": 1, "ms": 1000, "s": 1e6, "m": 60e6, "h": 3600e6}


class TraceStore(Protocol):
    def services(self) -> tuple[str, ...]: ...
    def operations(self, service: str) -> tuple[str, ...]: ...
    def find_traces(self, query: TraceQuery) -> list[Trace]: ...
    def get_trace(self, trace_id: str) -> Trace: ...
    def dependencies(self, end_us: int, lookback_s: int) -> list[Dependency]: ...


class ParamError(ValueError):
    pass


def parse_go_duration(text: str) -> int:
    """Go's time.ParseDuration, as Jaeger reads minDuration: "1.5s", "100ms", "1h30m" -> µs."""
    s = text.strip()
    pos, total = 0, 0.0
    if not s:
        raise ParamError("empty duration")
    for m in _GO_DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_US[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise ParamError(f"time: invalid duration {text!r}")
    return int(total)


def parse_rfc3339_us(text: str) -> int:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ParamError(f"cannot parse {text!r} as RFC3339") from None
    if dt.tzinfo is None:
        raise ParamError(f"{text!r} has no time zone")
    return round(dt.timestamp() * 1e6)


def _int_param(args: Any, name: str, default: int | None = None) -> int | None:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ParamError(f"unable to parse param '{name}': {raw!r} is not an integer") from None


def _tags_param(args: Any, key: str) -> tuple[tuple[str, str], ...]:
    """`tags={"k":"v"}` (the UI's JSON form) and repeated `tag=k:v` (the older form)."""
    out: dict[str, str] = {}
    for raw in args.getlist(key):
        try:
            obj = json.loads(raw)
        except ValueError:
            raise ParamError(f"malformed parameter {key}: not JSON") from None
        if not isinstance(obj, dict):
            raise ParamError(f"malformed parameter {key}: not a JSON object")
        out.update({str(k): str(v) for k, v in obj.items()})
    for raw in args.getlist("tag"):
        k, sep, v = raw.partition(":")
        if not sep:
            raise ParamError(f"malformed parameter tag: {raw!r} is not key:value")
        out[k] = v
    return tuple(out.items())


class JaegerApp:
    """The WSGI application: routing, parameter parsing, envelopes and errors."""

    def __init__(self, store: TraceStore, flavour: Flavour, clock: Callable[[], float]) -> None:
        self.store = store
        self.flavour = flavour
        self.clock = clock
        rules = []
        if flavour in ("v1", "both"):
            rules += [
                Rule("/api/services", endpoint="v1_services"),
                Rule("/api/services/<path:service>/operations", endpoint="v1_service_operations"),
                Rule("/api/operations", endpoint="v1_operations"),
                Rule("/api/traces", endpoint="v1_find"),
                Rule("/api/traces/<trace_id>", endpoint="v1_trace"),
                Rule("/api/dependencies", endpoint="v1_dependencies"),
            ]
        if flavour in ("v3", "both"):
            rules += [
                Rule("/api/v3/services", endpoint="v3_services"),
                Rule("/api/v3/operations", endpoint="v3_operations"),
                Rule("/api/v3/traces", endpoint="v3_find"),
                Rule("/api/v3/traces/<trace_id>", endpoint="v3_trace"),
            ]
        self.urls = Map(rules, strict_slashes=False)

    def __call__(self, environ, start_response):
        request = Request(environ)
        adapter = self.urls.bind_to_environ(environ)
        v3 = request.path.startswith("/api/v3")
        try:
            endpoint, values = adapter.match(method="GET")
            response = getattr(self, endpoint)(request, **values)
        except HTTPNotFound:
            response = self._error(404, f"no route {request.path}", v3)
        except HTTPException as exc:
            response = exc.get_response(environ)
        except ParamError as exc:
            response = self._error(400, str(exc), v3)
        except NotFound as exc:
            response = self._error(404, str(exc) if v3 else "trace not found", v3)
        return response(environ, start_response)

    @staticmethod
    def _json(body: Any, status: int = 200) -> Response:
        return Response(
            json.dumps(body, separators=(",", ":")), status, mimetype="application/json"
        )

    def _error(self, status: int, msg: str, v3: bool) -> Response:
        if v3:
            return self._json({"error": {"httpCode": status, "message": msg}}, status)
        return self._json(
            {
                "data": None,
                "total": 0,
                "limit": 0,
                "offset": 0,
                "errors": [{"code": status, "msg": msg}],
            },
            status,
        )

    # ---- v1 ---------------------------------------------------------------------------------

    def v1_services(self, request: Request) -> Response:
        return self._json(v1_envelope(list(self.store.services())))

    def v1_service_operations(self, request: Request, service: str) -> Response:
        return self._json(v1_envelope(list(self.store.operations(service))))

    def v1_operations(self, request: Request) -> Response:
        service = request.args.get("service", "")
        if not service:
            raise ParamError("parameter 'service' is required")
        ops = [{"name": op, "spanKind": ""} for op in self.store.operations(service)]
        return self._json(v1_envelope(ops))

    def v1_find(self, request: Request) -> Response:
        a = request.args
        service = a.get("service", "")
        if not service:
            raise ParamError("parameter 'service' is required")
        now_us = int(self.clock() * 1e6)
        end = _int_param(a, "end", now_us)
        lookback = a.get("lookback", "")
        default_start = end - (
            parse_go_duration(lookback)
            if lookback and lookback != "custom"
            else DEFAULT_LOOKBACK_US
        )
        start = _int_param(a, "start", default_start)
        query = TraceQuery(
            service=service,
            start_us=start,
            end_us=end,
            operation=a.get("operation", ""),
            tags=_tags_param(a, "tags"),
            min_duration_us=parse_go_duration(a["minDuration"]) if a.get("minDuration") else None,
            max_duration_us=parse_go_duration(a["maxDuration"]) if a.get("maxDuration") else None,
            limit=_int_param(a, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT,
        )
        traces = self.store.find_traces(query)
        return self._json(v1_envelope([trace_to_v1(t) for t in traces]))

    def v1_trace(self, request: Request, trace_id: str) -> Response:
        if not re.fullmatch(r"[0-9a-fA-F]{1,32}", trace_id):
            raise ParamError(f"cannot parse traceID {trace_id!r}")
        return self._json(v1_envelope([trace_to_v1(self.store.get_trace(trace_id))]))

    def v1_dependencies(self, request: Request) -> Response:
        now_ms = int(self.clock() * 1000)
        end_ms = _int_param(request.args, "endTs", now_ms)
        lookback_ms = _int_param(request.args, "lookback", 86_400_000)
        deps = self.store.dependencies(end_ms * 1000, max(1, lookback_ms // 1000))
        body = [{"parent": d.parent, "child": d.child, "callCount": d.call_count} for d in deps]
        return self._json(v1_envelope(body))

    # ---- v3 ---------------------------------------------------------------------------------

    @staticmethod
    def _v3_arg(args: Any, snake: str, camel: str) -> str:
        return args.get(camel) or args.get(snake) or ""

    def v3_services(self, request: Request) -> Response:
        return self._json({"services": list(self.store.services())})

    def v3_operations(self, request: Request) -> Response:
        service = request.args.get("service", "")
        ops = (
            [{"name": op, "spanKind": "server"} for op in self.store.operations(service)]
            if service
            else []
        )
        return self._json({"operations": ops})

    def v3_find(self, request: Request) -> Response:
        a = request.args
        tmin = self._v3_arg(a, "query.start_time_min", "query.startTimeMin")
        tmax = self._v3_arg(a, "query.start_time_max", "query.startTimeMax")
        if not tmin or not tmax:
            raise ParamError("query.start_time_min and query.start_time_max are required")
        depth = (
            a.get("query.search_depth") or a.get("query.searchDepth") or a.get("query.num_traces")
        )
        try:
            limit = int(depth) if depth else DEFAULT_LIMIT
        except ValueError:
            raise ParamError(f"malformed parameter query.num_traces: {depth!r}") from None
        dmin = self._v3_arg(a, "query.duration_min", "query.durationMin")
        dmax = self._v3_arg(a, "query.duration_max", "query.durationMax")
        attrs_raw = a.get("query.attributes", "")
        attrs: tuple[tuple[str, str], ...] = ()
        if attrs_raw:
            try:
                obj = json.loads(attrs_raw)
            except ValueError:
                raise ParamError("malformed parameter query.attributes") from None
            if not isinstance(obj, dict):
                raise ParamError("malformed parameter query.attributes")
            attrs = tuple((str(k), str(v)) for k, v in obj.items())
        query = TraceQuery(
            service=self._v3_arg(a, "query.service_name", "query.serviceName"),
            start_us=parse_rfc3339_us(tmin),
            end_us=parse_rfc3339_us(tmax),
            operation=self._v3_arg(a, "query.operation_name", "query.operationName"),
            tags=attrs,
            min_duration_us=parse_go_duration(dmin) if dmin else None,
            max_duration_us=parse_go_duration(dmax) if dmax else None,
            limit=limit,
        )
        traces = self.store.find_traces(query)
        if not traces:  # what Jaeger's /api/v3 answers for an empty search
            return self._error(404, "No traces found", True)
        return self._json({"result": traces_to_otlp(traces)})

    def v3_trace(self, request: Request, trace_id: str) -> Response:
        if not re.fullmatch(r"[0-9a-fA-F]{1,32}", trace_id):
            raise ParamError(f"malformed parameter trace_id: {trace_id!r}")
        return self._json({"result": traces_to_otlp([self.store.get_trace(trace_id)])})


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: test output stays readable."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class JaegerServer:
    """A running endpoint: its base URL and how to stop it."""

    url: str
    flavour: Flavour
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def serve_jaeger(
    store: TraceStore,
    *,
    flavour: Flavour = "both",
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Callable[[], float] | None = None,
) -> JaegerServer:
    """Serve `store` on a free loopback port (port 0) in a daemon thread, threaded."""
    if flavour not in ("v1", "v3", "both"):
        raise ValueError(f"flavour must be v1, v3 or both; got {flavour!r}")
    app = JaegerApp(store, flavour, clock or getattr(store, "clock", None) or time.time)
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name=f"demo-jaeger-{server.port}",
        daemon=True,
    )
    thread.start()
    return JaegerServer(f"http://{host}:{server.port}", flavour, server, thread)


def start_demo_jaeger(
    demo_mesh: Any, *, flavour: Flavour = "both"
) -> tuple[str, Callable[[], None]]:
    """Serve a DemoMesh's traces over HTTP; returns (base URL, stop)."""
    from demo.trace_source import DemoTraceStore

    store = DemoTraceStore(
        demo_mesh.spec, demo_mesh.state, seed=demo_mesh.model.seed, clock=demo_mesh.clock
    )
    server = serve_jaeger(store, flavour=flavour, clock=demo_mesh.clock)
    return server.url, server.stop
