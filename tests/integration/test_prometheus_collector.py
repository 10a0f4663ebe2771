"""PrometheusCollector against a tiny HTTP server written for the test: records and typed errors.

The server answers /api/v1/query like Prometheus does (or refuses, hangs, fails, returns
garbage or NaN), so every failure path goes through the real HTTP client stack.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from collectors.prometheus import PrometheusCollector
from mesh.errors import (
    BackendAuthError,
    BackendDataError,
    BackendError,
    BackendQueryError,
    BackendTimeout,
    BadRequest,
)
from tests.unit.test_prometheus_collector import AT, SECRET, query

Reply = tuple[int, bytes]
Behaviour = Callable[[str], Reply]


@dataclass
class FakePrometheus:
    url: str
    requests: list[dict] = field(default_factory=list)
    behaviour: Behaviour | None = None


def _vector(samples: list[tuple[dict, str]]) -> bytes:
    result = [{"metric": m, "value": [AT, v]} for m, v in samples]
    return json.dumps(
        {"status": "success", "data": {"resultType": "vector", "result": result}}
    ).encode()


def _error(kind: str, message: str) -> bytes:
    return json.dumps({"status": "error", "errorType": kind, "error": message}).encode()


EDGE = {
    "source_workload_namespace": "bookinfo",
    "source_workload": "productpage-v1",
    "source_canonical_service": "productpage",
    "source_canonical_revision": "v1",
    "destination_service_namespace": "bookinfo",
    "destination_service_name": "reviews",
    "destination_workload_namespace": "bookinfo",
    "destination_workload": "reviews-v2",
    "destination_canonical_service": "reviews",
    "destination_canonical_revision": "v2",
}
UNKNOWN_EDGE = {
    **EDGE,
    "source_workload_namespace": "unknown",
    "source_workload": "unknown",
    "source_canonical_service": "unknown",
    "source_canonical_revision": "unknown",
    "destination_service_name": "productpage",
    "destination_workload": "productpage-v1",
    "destination_canonical_service": "productpage",
    "destination_canonical_revision": "v1",
}


LATENCY = "istio_request_duration_milliseconds_bucket"


def healthy_answers(
    query: str, *, request_rate: str = "3.5", bucket: str = "100", tcp: str = "100"
) -> Reply:
    """What Prometheus would answer to each of the collector's three queries."""
    cumulative = (("5", "0"), ("10", "50"), ("25", bucket), ("+Inf", "100"))
    if "istio_tcp" in query:  # the TCP bytes, and the buckets the bulk leaves out
        return 200, _vector(
            [({**EDGE, "direction": "sent"}, tcp), ({**EDGE, "direction": "received"}, "250")]
            + [({**UNKNOWN_EDGE, "le": le}, "0") for le, _ in cumulative]  # entering from outside
        )
    if LATENCY in query:  # the bulk: the destination's report of traffic starting inside
        return 200, _vector([({**EDGE, "le": le}, rate) for le, rate in cumulative])
    return 200, _vector(
        [
            (
                {
                    **EDGE,
                    "request_protocol": "http",
                    "response_code": "200",
                    "grpc_response_status": "",
                },
                request_rate,
            ),
            (
                {
                    **EDGE,
                    "request_protocol": "http",
                    "response_code": "503",
                    "grpc_response_status": "",
                },
                "0.5",
            ),
            ({**UNKNOWN_EDGE, "request_protocol": "http", "response_code": "200"}, "2"),
        ]
    )


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.server.fake.requests.append(
            {"path": parts.path, "params": params, "headers": dict(self.headers)}
        )
        status, body = self.server.fake.behaviour(params.get("query", ""))
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (timeout tests)

    def log_message(self, *args) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakePrometheus


@pytest.fixture
def fake() -> Iterator[FakePrometheus]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakePrometheus(
        url=f"http://127.0.0.1:{server.server_address[1]}", behaviour=healthy_answers
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.fake
    finally:
        server.shutdown()
        server.server_close()


def collect(fake: FakePrometheus, **kwargs):
    collector = PrometheusCollector(fake.url, timeout_s=kwargs.pop("timeout_s", 2.0), **kwargs)
    try:
        return collector.graph_telemetry(query())
    finally:
        collector.close()


# --------------------------------------------------------------------------------- success


def test_three_queries_at_the_requested_time_with_headers(fake):
    t = collect(fake, headers={"Authorization": f"Bearer {SECRET}"})
    assert t.queries_sent == len(fake.requests) == 3
    for r in fake.requests:
        assert r["path"] == "/api/v1/query"
        assert float(r["params"]["time"]) == AT
        assert float(r["params"]["timeout"]) == pytest.approx(2.0)
        assert r["headers"]["Authorization"] == f"Bearer {SECRET}"
        assert 'source_workload_namespace=~"bookinfo"' in r["params"]["query"]


def test_records_are_converted_per_view(fake):
    t = collect(fake)
    by_code = {r.response_code: r for r in t.requests if not r.source.is_unknown}
    assert by_code["200"].rps == 3.5
    assert by_code["503"].rps == 0.5
    assert by_code["200"].source.workload == "productpage-v1"
    assert by_code["200"].destination.workload == "reviews-v2"
    assert by_code["200"].destination.service == "reviews"
    unknown = [r for r in t.requests if r.source.is_unknown]
    assert [u.rps for u in unknown] == [2.0]
    quantiles = {lat.source.is_unknown: (lat.p50_ms, lat.p95_ms, lat.p99_ms) for lat in t.latencies}
    # As PromQL's histogram_quantile: linear inside the bucket that holds the rank.
    assert quantiles[False] == pytest.approx((10.0, 10 + 15 * 45 / 50, 10 + 15 * 49 / 50))
    assert quantiles[True] == (None, None, None)  # no request in the window: PromQL's NaN
    (tcp,) = t.tcp
    assert (tcp.sent_bps, tcp.received_bps) == (100.0, 250.0)


def test_query_count_does_not_grow_with_namespaces(fake):
    collector = PrometheusCollector(fake.url)
    t = collector.graph_telemetry(query(namespaces=[f"ns-{i}" for i in range(30)]))
    assert t.queries_sent == len(fake.requests) == 3


def test_empty_namespace_is_empty_telemetry_not_an_error(fake):
    fake.behaviour = lambda q: (200, _vector([]))
    t = collect(fake)
    assert (t.requests, t.latencies, t.tcp) == ((), (), ())
    assert t.queries_sent == len(fake.requests) == 3


def test_invalid_namespace_never_reaches_prometheus(fake):
    collector = PrometheusCollector(fake.url)
    with pytest.raises(BadRequest):
        collector.graph_telemetry(query(namespaces=['bookinfo"} or vector(1)']))
    assert fake.requests == []


# ------------------------------------------------------------------- staged: traffic first


def _is_bulk(q: str) -> bool:
    return LATENCY in q and "istio_tcp" not in q


def test_the_traffic_is_handed_over_while_the_latency_answer_is_still_awaited(fake):
    """first() gets the requests and TCP bytes while the bucket answer is held back; the
    whole telemetry is then what graph_telemetry answers."""
    released = threading.Event()

    def bulk_waits_for_first(q: str) -> Reply:
        if _is_bulk(q):
            assert released.wait(5), "first() never ran before the latency answer"
        return healthy_answers(q)

    fake.behaviour = bulk_waits_for_first
    collector = PrometheusCollector(fake.url, timeout_s=10.0)
    seen: list = []

    def first(traffic):
        seen.append(traffic)
        released.set()
        return "built"

    whole, early = collector.graph_telemetry_staged(query(), first)
    assert early == "built"
    (traffic,) = seen
    assert traffic.latencies == () and traffic.requests and traffic.tcp
    assert (traffic.requests, traffic.tcp) == (whole.requests, whole.tcp)
    assert whole.latencies and whole.queries_sent == 3
    fake.behaviour = healthy_answers
    assert collector.graph_telemetry(query()) == whole


def test_a_latency_failure_seen_while_first_runs_ends_the_refresh_when_it_returns(fake):
    fake.behaviour = lambda q: (
        (500, _error("internal", "boom")) if _is_bulk(q) else healthy_answers(q)
    )
    collector = PrometheusCollector(fake.url, timeout_s=2.0)
    calls: list = []
    with pytest.raises(BackendQueryError, match="boom"):
        collector.graph_telemetry_staged(query(), lambda t: calls.append(t) or time.sleep(0.3))
    assert len(calls) <= 1  # it may run before the failure is seen, never twice


def test_a_failed_traffic_answer_never_reaches_first(fake):
    fake.behaviour = lambda q: (
        (500, _error("internal", "no requests"))
        if "istio_requests_total" in q
        else healthy_answers(q)
    )
    collector = PrometheusCollector(fake.url, timeout_s=2.0)
    calls: list = []
    with pytest.raises(BackendQueryError, match="no requests"):
        collector.graph_telemetry_staged(query(), calls.append)
    assert calls == []


# --------------------------------------------------------------------------------- failures


def test_hanging_server_is_backend_timeout(fake):
    def hang(q: str) -> Reply:
        time.sleep(1.5)
        return healthy_answers(q)

    fake.behaviour = hang
    started = time.monotonic()
    with pytest.raises(BackendTimeout) as err:
        collect(fake, timeout_s=0.3)
    assert time.monotonic() - started < 1.4
    assert err.value.status == 504


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (500, _error("internal", "boom"), BackendQueryError, "boom"),
        (400, _error("bad_data", "parse error at char 3"), BackendQueryError, "parse error"),
        (422, _error("execution", "many-to-many matching"), BackendQueryError, "many-to-many"),
        (
            503,
            _error("timeout", "query timed out in expression evaluation"),
            BackendTimeout,
            "timed out",
        ),
        (502, b"<html>bad gateway</html>", BackendQueryError, "HTTP 502"),
        (401, b"Unauthorized", BackendAuthError, "HTTP 401"),
        (403, _error("forbidden", f"token {SECRET} rejected"), BackendAuthError, "HTTP 403"),
        (200, _error("bad_data", "proxied error"), BackendQueryError, "proxied error"),
        (200, b"this is not json", BackendDataError, "invalid JSON"),
        (200, b'{"status":"success"}', BackendDataError, "data.result"),
        (
            200,
            b'{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}',
            BackendDataError,
            "",
        ),
        (200, b'{"status":"success","data":{"result":[{"metric":{}}]}}', BackendDataError, "value"),
    ],
)
def test_error_answers_become_typed_errors(fake, status, body, error, text):
    fake.behaviour = lambda q: (status, body)
    with pytest.raises(error) as err:
        collect(fake, headers={"Authorization": f"Bearer {SECRET}"})
    assert text in str(err.value)
    assert SECRET not in str(err.value)
    # The three queries go out at once; the first failure ends the refresh, and none is retried.
    sent = [r["params"]["query"] for r in fake.requests]
    assert 1 <= len(sent) == len(set(sent)) <= 3


@pytest.mark.parametrize(
    "answers",
    [
        lambda q: healthy_answers(q, request_rate="NaN"),
        lambda q: healthy_answers(q, request_rate="+Inf"),
        lambda q: healthy_answers(q, tcp="-Inf"),
        lambda q: healthy_answers(q, tcp="NaN"),
        lambda q: healthy_answers(q, bucket="+Inf"),
        lambda q: healthy_answers(q, bucket="NaN"),
    ],
)
def test_non_finite_rates_are_data_errors(fake, answers):
    fake.behaviour = answers
    with pytest.raises(BackendDataError):
        collect(fake)


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"null",
        b'{"data": null}',
        b'{"data": {"result": {"a": 1}}}',
        b'{"data": {"result": [{"metric": [], "value": [1, "2"]}]}}',
        b'{"data": {"result": [{"metric": {}, "value": [1, "two"]}]}}',
    ],
)
@pytest.mark.parametrize("which", ["istio_requests_total", LATENCY, "istio_tcp"])
def test_no_raw_exception_escapes_for_garbage_in_any_answer(fake, body, which):
    fake.behaviour = lambda q: (200, body) if which in q else healthy_answers(q)
    with pytest.raises(BackendError):
        collect(fake)


def test_a_bucket_without_a_valid_le_is_left_out_as_promql_does(fake):
    def answers(q: str) -> Reply:
        if LATENCY not in q or "istio_tcp" in q:  # the bulk's answer only
            return healthy_answers(q)
        status, body = healthy_answers(q)
        payload = json.loads(body)
        payload["data"]["result"] += [
            {"metric": {**EDGE, "le": "soon"}, "value": [AT, "1000"]},
            {"metric": dict(EDGE), "value": [AT, "1000"]},
        ]
        return status, json.dumps(payload).encode()

    fake.behaviour = answers
    (known,) = [lat for lat in collect(fake).latencies if not lat.source.is_unknown]
    assert known.p50_ms == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("which", "labels"),
    [("istio_requests_total", {"reporter": "sidecar"}), ("istio_tcp", {"direction": "sideways"})],
)
def test_unexpected_marker_labels_are_data_errors(fake, which, labels):
    body = _vector([({**EDGE, **labels}, "2")])
    fake.behaviour = lambda q: (200, body) if which in q else healthy_answers(q)
    with pytest.raises(BackendDataError):
        collect(fake)
