"""Jaeger query client: the v1 JSON API and /api/v3 (OTLP JSON), detected once per collector.

Jaeger 1.x (Istio's addon) and Jaeger v2 up to 2.20 serve the v1 API; v2 serves /api/v3 and the
newest releases removed the v1 search endpoints, so both are spoken (DESIGN.md). Whatever the
wire, callers get the same records, and every failure is a typed mesh.errors exception with
backend "jaeger": a timeout is BackendTimeout, a refused connection BackendUnavailable, a 5xx
BackendQueryError, unparsable JSON BackendDataError, an unknown trace id NotFound.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import requests

from collectors.backend_status import connection_reason, not_ready, ready_answer
from collectors.http import (
    JAEGER_MAX_RESPONSE_BYTES,
    BackendSession,
    deadline,
    display_url,
    too_large,
)
from collectors.jaeger_decode import decode_otlp, decode_v1_response
from collectors.jaeger_json import parse_dependencies
from collectors.strict_json import NotFiniteError, loads_strict
from mesh.errors import (
    BackendAuthError,
    BackendDataError,
    BackendError,
    BackendQueryError,
    BackendTimeout,
    BackendUnavailable,
    NotFound,
)
from mesh.traces.records import Dependency, Trace, TraceQuery

BACKEND = "jaeger"
ApiFlavour = Literal["auto", "v1", "v3"]


def rfc3339(us: int) -> str:
    """RFC 3339 with microseconds in UTC, as /api/v3 wants its start_time_min/max."""
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def go_duration(us: int) -> str:
    """A Go duration string (`minDuration`, `query.duration_min`): whole microseconds."""
    return f"{int(us)}us"


class _Detection:
    """One API detection in flight: its outcome, for the callers that arrived meanwhile."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.api: str | None = None
        self.error: BaseException | None = None


class JaegerCollector:
    """A TraceSource over Jaeger query's HTTP API."""

    name = "jaeger"

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        session: requests.Session | None = None,
        api: ApiFlavour = "auto",
        headers: Mapping[str, str] | None = None,
        max_spans: int = 100_000,
    ) -> None:
        if api not in ("auto", "v1", "v3"):
            raise ValueError(f"api must be auto, v1 or v3; got {api!r}")
        self.url = url.rstrip("/")
        # What messages show: never the user-info or query string, which may hold credentials.
        self.display_url = display_url(self.url)
        self.timeout_s = timeout_s
        self.max_spans = int(max_spans)
        self.session = session or BackendSession(BACKEND, JAEGER_MAX_RESPONSE_BYTES)
        self.headers = dict(headers or {})
        self._api: str | None = None if api == "auto" else api
        self._lock = threading.Lock()
        self._detecting: _Detection | None = None

    # ---- transport ---------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        try:
            return self.session.get(
                self.url + path, params=params, timeout=self.timeout_s, headers=self.headers
            )
        except requests.Timeout:
            raise BackendTimeout(BACKEND, f"no answer within {self.timeout_s:g}s") from None
        except requests.ConnectionError as exc:
            raise BackendUnavailable(
                BACKEND, f"cannot connect to {self.display_url}: {connection_reason(exc)}"
            ) from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            raise BackendDataError(
                BACKEND, f"{self.display_url}{path} sent an incomplete answer (closed mid-body)"
            ) from None
        except requests.RequestException as exc:
            raise BackendUnavailable(
                BACKEND, f"cannot reach {self.display_url}: {type(exc).__name__}"
            ) from None

    def _json(self, resp: requests.Response, decode: Callable[[bytes], Any] = loads_strict) -> Any:
        """The body as JSON (traces: as records, by jaeger_decode); NaN/Infinity (which no Jaeger
        sends) are refused, not read."""
        path = urlsplit(resp.url).path if resp.url else ""
        try:
            return decode(resp.content)
        except NotFiniteError as exc:
            raise BackendDataError(BACKEND, f"{path} answered with non-numbers: {exc}") from None
        except (ValueError, RecursionError):
            raise BackendDataError(BACKEND, f"{path} answered with invalid JSON") from None

    def _check(self, resp: requests.Response) -> None:
        if resp.status_code < 400:
            return
        msg = _error_message(resp)
        if resp.status_code in (401, 403):
            raise BackendAuthError(BACKEND, f"HTTP {resp.status_code}: {msg}")
        raise BackendQueryError(BACKEND, f"HTTP {resp.status_code}: {msg}")

    # ---- API detection -----------------------------------------------------------------

    def api_version(self) -> str:
        """ "v3" or "v1": asked once (v3 first, as the newest Jaeger only has it), then cached.

        One detection at a time, under one deadline for both probes. Callers arriving while it
        runs (requests, /readyz's checks) take its outcome, failure included, instead of queueing
        for their own: with Jaeger hung, each caller then waits one timeout, not one per caller
        ahead of it (six queued /readyz checks held a trace search for a minute).
        """
        if self._api is not None:
            return self._api
        with self._lock:
            if self._api is not None:
                return self._api
            attempt, lead = self._detecting, self._detecting is None
            if attempt is None:
                attempt = self._detecting = _Detection()
        if lead:
            return self._lead(attempt)
        if not attempt.done.wait(self.timeout_s + 1.0):
            raise BackendTimeout(BACKEND, f"no answer within {self.timeout_s:g}s")
        if attempt.api is not None:
            return attempt.api
        if isinstance(attempt.error, BackendError):  # a copy: one exception, one traceback
            raise type(attempt.error)(attempt.error.backend, attempt.error.cause)
        raise BackendUnavailable(BACKEND, f"cannot tell which API {self.display_url} speaks")

    def _lead(self, attempt: _Detection) -> str:
        try:
            with deadline(self.timeout_s):
                attempt.api = self._detect()
            self._api = attempt.api
            return attempt.api
        except BaseException as exc:
            attempt.error = exc
            raise
        finally:
            with self._lock:
                self._detecting = None
            attempt.done.set()

    def _detect(self) -> str:
        resp = self._get("/api/v3/services")
        if resp.status_code == 200 and _is_obj_with(resp, "services"):
            return "v3"
        resp = self._get("/api/services")
        if resp.status_code == 200 and _is_obj_with(resp, "data"):
            return "v1"
        if resp.status_code >= 500:
            self._check(resp)
        raise BackendQueryError(
            BACKEND, f"{self.display_url} answers neither /api/v3/services nor /api/services"
        )

    def ready(self) -> dict[str, object]:
        """/readyz: which API the server speaks, and that it lists services."""
        try:
            api = self.api_version()
            count = len(self.services())
        except BackendError as exc:
            return not_ready(exc)
        return ready_answer(f"{count} services", f"API {api}")

    # ---- TraceSource ---------------------------------------------------------------------

    def services(self) -> tuple[str, ...]:
        if self.api_version() == "v3":
            body = self._ok_json("/api/v3/services")
            values = body.get("services") if isinstance(body, Mapping) else None
        else:
            body = self._ok_json("/api/services")
            values = body.get("data") if isinstance(body, Mapping) else None
        if values is None:
            return ()
        if not isinstance(values, list):
            raise BackendDataError(BACKEND, "services is not a list")
        return tuple(sorted(str(v) for v in values))

    def operations(self, service: str) -> tuple[str, ...]:
        if self.api_version() == "v3":
            body = self._ok_json("/api/v3/operations", {"service": service})
            values = body.get("operations") if isinstance(body, Mapping) else None
        else:
            body = self._ok_json(f"/api/services/{quote(service, safe='')}/operations")
            values = body.get("data") if isinstance(body, Mapping) else None
        if not values:
            return ()
        if not isinstance(values, list):
            raise BackendDataError(BACKEND, "operations is not a list")
        names = (v.get("name") if isinstance(v, Mapping) else v for v in values)
        return tuple(sorted({str(n) for n in names if n}))

    def find_traces(self, query: TraceQuery) -> list[Trace]:
        """Full traces matching the query; an empty result is an empty list, not an error."""
        if self.api_version() == "v3":
            params: dict[str, Any] = {
                "query.service_name": query.service,
                "query.start_time_min": rfc3339(query.start_us),
                "query.start_time_max": rfc3339(query.end_us),
                "query.num_traces": query.limit,
            }
            if query.operation:
                params["query.operation_name"] = query.operation
            if query.min_duration_us is not None:
                params["query.duration_min"] = go_duration(query.min_duration_us)
            if query.max_duration_us is not None:
                params["query.duration_max"] = go_duration(query.max_duration_us)
            if query.tags:
                params["query.attributes"] = json.dumps(dict(query.tags), separators=(",", ":"))
            resp = self._get("/api/v3/traces", params)
            if resp.status_code == 404:  # /api/v3 answers "No traces found" with a 404
                return []
            self._check(resp)
            return self._capped(self._json(resp, decode_otlp))
        params = {
            "service": query.service,
            "start": query.start_us,
            "end": query.end_us,
            "limit": query.limit,
        }
        if query.operation:
            params["operation"] = query.operation
        if query.min_duration_us is not None:
            params["minDuration"] = go_duration(query.min_duration_us)
        if query.max_duration_us is not None:
            params["maxDuration"] = go_duration(query.max_duration_us)
        if query.tags:
            params["tags"] = json.dumps(dict(query.tags), separators=(",", ":"))
        resp = self._get("/api/traces", params)
        if resp.status_code == 404:
            return []
        self._check(resp)
        return self._capped(self._json(resp, decode_v1_response))

    def get_trace(self, trace_id: str) -> Trace:
        """One trace by id; NotFound when Jaeger does not know it."""
        path = "/api/v3/traces/" if self.api_version() == "v3" else "/api/traces/"
        resp = self._get(path + quote(trace_id, safe=""))
        if resp.status_code == 404:
            raise NotFound(f"trace {trace_id} not found in Jaeger")
        self._check(resp)
        traces = self._json(resp, decode_otlp if path.startswith("/api/v3") else decode_v1_response)
        traces = [t for t in self._capped(traces) if t.spans]
        if not traces:
            raise NotFound(f"trace {trace_id} not found in Jaeger")
        return traces[0]

    def dependencies(self, end_us: int, lookback_s: int) -> list[Dependency]:
        """Service call counts (v1 `/api/dependencies`; /api/v3 has no equivalent)."""
        body = self._ok_json(
            "/api/dependencies", {"endTs": end_us // 1000, "lookback": lookback_s * 1000}
        )
        return parse_dependencies(body.get("data") if isinstance(body, Mapping) else None)

    def _capped(self, traces: list[Trace]) -> list[Trace]:
        """Refuse more spans than a page can draw or a worker can hold (a 502 naming the limit)."""
        if sum(len(t.spans) for t in traces) > self.max_spans:
            raise too_large(BACKEND, f"{self.max_spans:,} spans", "MESHDASH_JAEGER_MAX_SPANS")
        return traces

    def _ok_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        resp = self._get(path, params)
        self._check(resp)
        return self._json(resp)


def _is_obj_with(resp: requests.Response, key: str) -> bool:
    try:
        body = resp.json()
    except ValueError:
        return False
    return isinstance(body, Mapping) and key in body


def _error_message(resp: requests.Response) -> str:
    """Jaeger's own words when it gave any: v1 `errors[].msg`, v3 `error.message`."""
    try:
        body = resp.json()
    except ValueError:
        return (resp.text or resp.reason or "").strip()[:200]
    if isinstance(body, Mapping):
        errs = body.get("errors")
        if isinstance(errs, list) and errs and isinstance(errs[0], Mapping):
            return str(errs[0].get("msg") or errs[0])[:200]
        err = body.get("error")
        if isinstance(err, Mapping):
            return str(err.get("message") or err)[:200]
    return str(body)[:200]
