"""Istio telemetry from Prometheus, through prometheus-api-client.

One graph refresh sends exactly three instant queries, whatever the number of
namespaces or services: one `sum by (...)` per metric family over every selected namespace,
selected with one anchored regex of escaped names (DESIGN.md "Queries per refresh"). The three
go out at once, and each answer is decoded as it arrives into rows of only the labels the graph
uses (collectors/prometheus_decode.py). Latency is the summed buckets (the bulk in one query,
the other reports' few beside the TCP bytes: latency_query, small_query); p50, p95 and p99 are
computed from them here, exactly as PromQL's histogram_quantile (mesh/quantiles.py), which
would evaluate the bucket rates once per quantile.

Reporters (DESIGN.md, as Kiali's namespace graph): the requests and TCP bytes queries read every
report that may count (traffic_parts) with `reporter` and `connection_security_policy` in the
`by` clause, and mesh/graph/reporters.py counts each request once per edge after the query: the
caller's report for traffic starting inside the selection, the destination's for traffic
entering it from elsewhere or from unmeshed callers, and the caller's for requests that reached
no pod of a selected host. Latency comes from the destination reporter, because it excludes the
network time, and from the source reporter only for destinations no sidecar reports (see
latency_rest).

Every failure leaves as a mesh.errors type; messages never carry headers, tokens or the URL's
user-info.
"""

from __future__ import annotations

import json
import math
import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util.retry import Retry

from collectors import promql
from collectors.backend_status import connection_reason, not_ready, ready_answer
from collectors.http import (
    DEFAULT_MAX_RESPONSE_BYTES,
    BackendSession,
    capped_chunks,
    limited_adapter,
    too_large,
    whole_answer_deadline,
)
from collectors.prometheus_decode import (
    Row,
    Rows,
    labels_getter,
    sample_value,
    stream_batches,
    stream_rows,
    vector_rows,
)
from collectors.sent_queries import CountingQuery
from collectors.strict_json import loads_strict
from mesh import validate
from mesh.errors import (
    BackendAuthError,
    BackendDataError,
    BackendError,
    BackendQueryError,
    BackendTimeout,
    BackendUnavailable,
    BadRequest,
)
from mesh.graph.edge_keys import (
    FALLBACK_LABELS,
    destination_endpoint,
    edge_labels,
    fallback_arms,
    source_endpoint,
)
from mesh.graph.reporters import REPORTERS
from mesh.quantiles import many_histogram_quantiles
from mesh.telemetry_records import (
    UNKNOWN,
    Endpoint,
    GraphQuery,
    GraphTelemetry,
    GraphView,
    LatencyQuantiles,
    RequestRate,
    TcpRate,
)

BACKEND = "prometheus"
T = TypeVar("T")

REQUESTS_TOTAL = "istio_requests_total"
DURATION_BUCKET = "istio_request_duration_milliseconds_bucket"
TCP_SENT = "istio_tcp_sent_bytes_total"
TCP_RECEIVED = "istio_tcp_received_bytes_total"

# Set on the latency-bucket answers of the service history and the canary analysis when the
# source merges per-cluster endpoints (collectors/prometheus_clusters.py): see
# destination_else_source.
REPORTER_TAG = "meshdash_reporter"

QUANTILES: tuple[float, ...] = (0.5, 0.95, 0.99)
_OUTCOME_LABELS = ("request_protocol", "response_code", "grpc_response_status", "response_flags")
_REPORT_LABELS = ("reporter", "connection_security_policy")
_MAX_CAUSE = 300
# Read size of a streamed answer: each read is decoded as one batch of series.
_STREAM_CHUNK = 256 * 1024


# ---------------------------------------------------------------------------------------------
# Query text (pure)

Matchers = tuple[tuple[str, str, str], ...]


# The destination-side reports: a destination sidecar's, or in ambient mode the waypoint's
# (mesh/graph/reporters.py counts the waypoint's only where no sidecar reported the edge).
DESTINATION_SIDE = "destination|waypoint"


def _namespace_parts(
    reporter: str, namespaces: Iterable[str], op: str = "="
) -> tuple[Matchers, ...]:
    """Series whose source OR destination namespace is selected, from one reporter (a regex of
    reporters with op "=~").

    A selector cannot OR two labels, so the caller joins one rate() per part with `or`. The
    parts are disjoint (the second excludes what the first selects), so Prometheus reads each
    series once.
    """
    regex = promql.any_of(namespaces)
    return (
        (("reporter", op, reporter), ("source_workload_namespace", "=~", regex)),
        (
            ("reporter", op, reporter),
            ("source_workload_namespace", "!~", regex),
            ("destination_service_namespace", "=~", regex),
        ),
    )


def host_regex(namespaces: Iterable[str]) -> str:
    """A `destination_service` host in one of `namespaces`: `name.ns`, `name.ns.svc`,
    `name.ns.svc.cluster.local`, with or without a port (Kiali reads the host the same way for
    requests that reached no pod, whose destination_service_namespace is often "unknown"). A
    host outside the cluster (`api.pay.example.com`) names no namespace, whatever its labels."""
    return f"[^.:]+\\.({promql.any_of(namespaces)})(\\.svc(\\.[^:]*)?)?(:[0-9]+)?"


def _no_pod_from_elsewhere(namespaces: Iterable[str]) -> Matchers:
    """Requests from outside the selection that reached no workload, whose host lies inside it:
    only the caller's proxy saw them (no route, no healthy upstream, connection refused)."""
    return (
        ("reporter", "=", "source"),
        ("source_workload_namespace", "!~", promql.any_of(namespaces)),
        ("destination_workload", "=", UNKNOWN),
        ("destination_service", "=~", host_regex(namespaces)),
    )


def traffic_parts(namespaces: Iterable[str]) -> tuple[Matchers, ...]:
    """Every report a graph refresh reads for requests and TCP bytes (DESIGN.md "Reporters").

    - the caller's report of traffic starting inside the selected namespaces (it also holds the
      requests that reached no pod);
    - the caller's report of requests from elsewhere that reached no pod of a selected host;
    - the destination's report of all traffic touching the selection: traffic entering from
      elsewhere (and every unmeshed caller) is counted from it, and for traffic starting
      inside it carries connection_security_policy, the edge's mTLS share. In ambient mode the
      waypoint's report is the destination side of L7 (an ambient caller has no report of its
      own) and ztunnel's L4 reports are source/destination ones.

    The parts are disjoint series. With `reporter` in the `by` clause, mesh/graph/reporters.py then
    counts each request once, per edge, after the query: so the number of queries stays, and a
    per-cluster Prometheus that holds only one side of an edge still gives the merge its part.
    """
    namespaces = tuple(namespaces)
    source_inside = _namespace_parts("source", namespaces)[0]
    return (
        source_inside,
        _no_pod_from_elsewhere(namespaces),
        *_namespace_parts(DESTINATION_SIDE, namespaces, "=~"),
    )


def destination_else_source(dst: str, src: str, tagged: bool = False) -> str:
    """`dst or src`: the destination reporter's buckets where it has them, else the source's.

    `or` picks per label set and per step inside one Prometheus. Across per-cluster endpoints
    the two sides of one edge live in two different Prometheus servers (the source proxy's in
    the caller's cluster, the destination's in the callee's), so no single server can choose.
    `tagged` keeps both sides, told apart by REPORTER_TAG, and the merge makes the same choice
    over the union (collectors/prometheus_clusters.merge_results). The number of queries stays.
    """
    if not tagged:
        return f"{dst} or {src}"
    return (
        f'label_replace({dst}, "{REPORTER_TAG}", "destination", "", "")'
        f' or label_replace({src}, "{REPORTER_TAG}", "source", "", "")'
    )


# The labels that name one caller-callee pair of workloads, for `unless on (...)`.
WORKLOAD_PAIR = (
    "source_workload_namespace",
    "source_workload",
    "destination_workload_namespace",
    "destination_workload",
)


def each_request_once(
    counter: Callable[[Matchers], str], sel: Matchers, tagged: bool = False
) -> str:
    """One counter expression over `sel` (e.g. a service's inbound traffic, by rate() or
    increase()) that reads each request once from the report DESIGN.md "Reporters" chooses, for
    the history and the canary analysis, which need no per-edge choice after the query.

    The caller's report, plus: the destination's report of callers outside the mesh; the
    destination's report of a caller pair no caller's report covers (an ambient caller of a
    sidecar callee, a gateway scraped elsewhere); and the waypoint's report of a pair no
    sidecar reported (ambient callees). `unless on (pair)` decides per step, inside one
    Prometheus. Across per-cluster endpoints (`tagged`) the two sides of a request live in two
    servers, so no single one can decide: there the caller's report and unknown callers count,
    as before ambient mode (known limit: a cross-cluster ambient caller is not counted).
    """
    source = counter((("reporter", "=", "source"), *sel))
    unknown = counter((("reporter", "=", "destination"), ("source_workload", "=", UNKNOWN), *sel))
    if tagged:
        return f"{source} or {unknown}"
    unless = f"unless on ({','.join(WORKLOAD_PAIR)})"
    known = counter((("reporter", "=", "destination"), ("source_workload", "!=", UNKNOWN), *sel))
    waypoint = counter((("reporter", "=", "waypoint"), *sel))
    sidecars = counter((("reporter", "=~", "source|destination"), *sel))
    return (
        f"{source} or {unknown} or ({known} {unless} {source}) or ({waypoint} {unless} {sidecars})"
    )


def _rates(metric: str, parts: Iterable[Matchers], window: str) -> str:
    return " or ".join(f"rate({promql.selector(metric, m)}[{window}])" for m in parts)


def _grouped(metric: str, parts: Iterable[Matchers], q: GraphQuery, labels: Iterable[str]) -> str:
    """`sum by (labels)` over the parts, one arm per workload-name fallback (mesh.graph.edge_keys
    fallback_arms): series of workloads without app labels are grouped by the workload too."""
    parts = tuple(parts)
    labels = tuple(labels)
    window = promql.duration(q.window_s)
    arms = []
    for matchers, extra in fallback_arms(q.view):
        armed = tuple((*m, *matchers) for m in parts)
        arms.append(f"sum {promql.by((*labels, *extra))} ({_rates(metric, armed, window)})")
    return arms[0] if len(arms) == 1 else "(" + " or ".join(arms) + ")"


def requests_query(q: GraphQuery) -> str:
    """Request rate per edge, outcome (protocol, HTTP code, gRPC status, Envoy flags) and report
    (reporter, connection_security_policy)."""
    group = (*edge_labels(q.view), *_OUTCOME_LABELS, *_REPORT_LABELS)
    return _grouped(REQUESTS_TOTAL, traffic_parts(q.namespaces), q, group)


def latency_query(q: GraphQuery) -> str:
    """The bulk of the request-duration buckets, per edge, summed once (`sum by (le, edge)`):
    the destination's report of traffic starting inside the selection. One selector and no
    `or`, so it costs Prometheus what the bare bucket sum does. The collector computes p50, p95
    and p99 from the buckets (mesh/quantiles.py, exactly as PromQL's histogram_quantile), so
    Prometheus evaluates the bucket rates once instead of once per quantile.

    The other reports' buckets (latency_rest) travel with the TCP bytes: `or` matches every
    label set on both its sides, and over this query's series (75,600 at 1,000 workloads) that
    cost Prometheus 30 % more than the buckets themselves. latency_expression is what the two
    answers add up to.
    """
    group = ("le", *edge_labels(q.view))
    inside = _namespace_parts("destination", q.namespaces)[0]
    return _grouped(DURATION_BUCKET, (inside,), q, group)


def latency_rest(q: GraphQuery) -> str:
    """The buckets of the edges the bulk (latency_query) has not, in order of preference (`or`
    keeps the left side for an equal label set), all small:

    - the destination's report of traffic entering the selection from elsewhere;
    - in ambient mode the waypoint's: it is the destination side of L7 there;
    - the caller's, only for edges whose destination is not a meshed workload
      (destination_workload="unknown": no sidecar there, or no route / no healthy upstream),
      the only edges a destination proxy cannot report: from inside the selection, or from
      elsewhere to a host inside it. Reading every source-reporter bucket as well would double
      Prometheus's work (buckets are ~95 % of the series a refresh reads) to add nothing.
    """
    group = ("le", *edge_labels(q.view))
    unreported = ("destination_workload", "=", UNKNOWN)
    entering = _namespace_parts("destination", q.namespaces)[1]
    waypoint_parts = _namespace_parts("waypoint", q.namespaces)
    src_parts = (
        (*_namespace_parts("source", q.namespaces)[0], unreported),
        _no_pod_from_elsewhere(q.namespaces),
    )
    dst = _grouped(DURATION_BUCKET, (entering,), q, group)
    waypoint = _grouped(DURATION_BUCKET, waypoint_parts, q, group)
    src = _grouped(DURATION_BUCKET, src_parts, q, group)
    return f"{dst} or {waypoint} or {src}"


def latency_expression(q: GraphQuery) -> str:
    """The graph's latency buckets as one PromQL expression: the bulk, else the rest, per label
    set. The collector reads the same from two answers (graph_telemetry); tests evaluate this
    in Prometheus to check its figures."""
    return f"{latency_query(q)} or {latency_rest(q)}"


def small_query(q: GraphQuery) -> str:
    """The refresh's third query: the TCP bytes and the rest of the latency buckets. Their
    series tell themselves apart by their labels (`direction` or `le`), so `or` keeps both,
    and it matches only these few series."""
    return f"({tcp_query(q)}) or ({latency_rest(q)})"


def tcp_query(q: GraphQuery) -> str:
    """TCP bytes per second per edge and report, both directions in one query, named from the
    caller.

    Istio names the TCP counters from the reporting proxy's side: istio_tcp_received_bytes_total
    counts the bytes the proxy received from the caller (the request stream), and
    istio_tcp_sent_bytes_total the bytes sent back. Kiali swaps them so an edge reads from its
    caller; so do we, labelling the series direction="sent" (caller -> destination) and
    direction="received" (destination -> caller) to match TcpRate.
    """
    group = (*edge_labels(q.view), *_REPORT_LABELS)
    parts = traffic_parts(q.namespaces)
    sent = _grouped(TCP_RECEIVED, parts, q, group)
    received = _grouped(TCP_SENT, parts, q, group)
    return (
        f'label_replace({sent}, "direction", "sent", "", "")'
        f' or label_replace({received}, "direction", "received", "", "")'
    )


# ---------------------------------------------------------------------------------------------
# Result parsing (pure): rows of label values (collectors/prometheus_decode.py), not dicts


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise BackendDataError(BACKEND, f"{what} is {value} (NaN or infinite)")
    return value


class Endpoints:
    """Builds each distinct Endpoint pair once per refresh: the three answers of a refresh
    name the same edges, and one edge comes back once per outcome, report or bucket.

    `names` is the label order every row of this view starts with: the edge's labels, then
    (except in the workload view) the workload-name fallback labels, which only the series of
    workloads without app labels carry (fallback_arms). A row's first `len(names)` values are
    the edge's key.
    """

    def __init__(self, view: GraphView) -> None:
        self.view = view
        edge = edge_labels(view)
        extras = () if view is GraphView.WORKLOAD else FALLBACK_LABELS
        self.names: tuple[str, ...] = (*edge, *(n for n in extras if n not in edge))
        self.size = len(self.names)
        # The edge's key of a decoded series (prometheus_decode.stream_batches).
        self.edge_of = labels_getter(self.names)
        self._cache: dict[tuple[str, ...], tuple[Endpoint, Endpoint]] = {}
        self._keys: dict[tuple[str, ...], tuple[str, ...]] = {}

    def row_names(self, *rest: str) -> tuple[str, ...]:
        """The labels a query's rows carry: the edge's, then `rest`."""
        return (*self.names, *rest)

    def key(self, values: tuple[str, ...]) -> tuple[str, ...]:
        """The edge's key, one shared tuple per edge (rows repeat it per outcome and bucket)."""
        key = values[: self.size]
        return self._keys.setdefault(key, key)

    def pair(self, key: tuple[str, ...]) -> tuple[Endpoint, Endpoint]:
        found = self._cache.get(key)
        if found is None:
            labels = {n: v for n, v in zip(self.names, key, strict=True) if v}
            found = (source_endpoint(labels, self.view), destination_endpoint(labels, self.view))
            self._cache[key] = found
        return found


_OUTCOME_REPORT = (*_OUTCOME_LABELS, *_REPORT_LABELS)
_SMALL_LABELS = (*_REPORT_LABELS, "direction", "le")  # small_query's rows: TCP or a bucket


def parse_requests(rows: Iterable[Row], endpoints: Endpoints) -> tuple[RequestRate, ...]:
    """Rows of Endpoints.row_names(*_OUTCOME_LABELS, *_REPORT_LABELS): one record each."""
    size = endpoints.size
    words: dict[str, str] = {}  # the same few codes and flags, one string each
    out: list[RequestRate] = []
    for values, value in rows:
        protocol, code, grpc, flags, reporter, security = (
            words.setdefault(v, v) for v in values[size:]
        )
        src, dst = endpoints.pair(endpoints.key(values))
        out.append(
            RequestRate(
                source=src,
                destination=dst,
                protocol=protocol,
                response_code=code,
                grpc_status=grpc,
                rps=_finite(value, "a request rate"),
                reporter=_reporter(reporter),
                response_flags=flags,
                security=security,
            )
        )
    return tuple(out)


def _reporter(reporter: str) -> str:
    """The report's side; an answer without one comes from an older query shape: source."""
    reporter = reporter or "source"
    if reporter not in REPORTERS:
        raise BackendDataError(BACKEND, f"unexpected reporter label {str(reporter)[:20]!r}")
    return reporter


# Each edge's buckets as flat (upper bound, rate) pairs in a C array of doubles: 16 bytes a
# bucket instead of 88 as a list of tuples (50 MB for 5,000 workloads' 379,280 buckets, held
# while the graph's traffic part is built: issue 16's 400 MB).
Buckets = dict[tuple[str, ...], array]


def parse_latencies(rows: Iterable[Row], endpoints: Endpoints) -> tuple[LatencyQuantiles, ...]:
    """Rows of Endpoints.row_names("le"), the summed buckets: p50, p95 and p99 per edge."""
    return quantiles_of(bucket_sums(rows, endpoints), endpoints)


def _upper_bound(text: str) -> float:
    """A bucket's `le` as a number; NaN for one PromQL leaves out (not a number, or NaN)."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def bucket_sums(rows: Iterable[Row], endpoints: Endpoints) -> Buckets:
    """Rows of Endpoints.row_names("le", ...): each edge's (upper bound, rate) pairs. A series
    without a valid `le` is left out, as PromQL leaves it out."""
    size = endpoints.size
    found: Buckets = {}
    bounds: dict[str, float] = {}
    for values, value in rows:
        text = values[size]
        upper = bounds.get(text)
        if upper is None:
            upper = bounds[text] = _upper_bound(text)
        if upper != upper:  # NaN
            continue
        key = endpoints.key(values)
        pairs = found.get(key)
        if pairs is None:
            pairs = found[key] = array("d")
        pairs.append(upper)
        pairs.append(_finite(value, "a latency bucket rate"))
    return found


def batch_bucket_sums(batches: Iterable[Sequence[Any]], endpoints: Endpoints) -> Buckets:
    """bucket_sums over the latency bulk's series as they stream (stream_batches), in one loop
    without a row per series: 379,280 series at 5,000 workloads, where rows and their fold
    cost 1.3 s of CPU against 0.65 s here."""
    edge_of = endpoints.edge_of
    found: Buckets = {}
    bounds: dict[str, float] = {}
    for batch in batches:
        for sample in batch:
            metric = sample.metric
            text = metric.le
            upper = bounds.get(text)
            if upper is None:
                upper = bounds[text] = _upper_bound(text)
            if upper != upper:  # NaN
                continue
            value = _finite(sample_value(sample), "a latency bucket rate")
            key = edge_of(metric)
            pairs = found.get(key)
            if pairs is None:  # kept under the edge's shared key (the other answers' labels)
                pairs = found[endpoints.key(key)] = array("d")
            pairs.append(upper)
            pairs.append(value)
    return found


def _pairs(flat: array) -> list[tuple[float, float]]:
    return list(zip(flat[::2], flat[1::2], strict=True))


def quantiles_of(found: Buckets, endpoints: Endpoints) -> tuple[LatencyQuantiles, ...]:
    """p50, p95 and p99 per edge, as PromQL's histogram_quantile computes them over the same
    buckets (mesh/quantiles.py); an edge whose window saw no request has None quantiles
    (PromQL's NaN)."""
    keys = list(found)
    quantiles = many_histogram_quantiles(QUANTILES, (_pairs(found[key]) for key in keys))
    return tuple(
        LatencyQuantiles(*endpoints.pair(key), p50_ms=p50, p95_ms=p95, p99_ms=p99)
        for key, (p50, p95, p99) in zip(keys, quantiles, strict=True)
    )


def parse_small(rows: Iterable[Row], endpoints: Endpoints) -> tuple[tuple[TcpRate, ...], Buckets]:
    """Rows of small_query (Endpoints.row_names(*_SMALL_LABELS)): the TCP records, and the
    latency buckets of the reports the bulk query leaves out. A row with `le` is a bucket."""
    size = endpoints.size
    le_at = size + len(_SMALL_LABELS) - 1
    tcp: list[Row] = []
    buckets: list[Row] = []
    for values, value in rows:
        if values[le_at]:
            buckets.append(((*values[:size], values[le_at]), value))
        else:
            tcp.append((values[:le_at], value))
    return parse_tcp(tcp, endpoints), bucket_sums(buckets, endpoints)


def parse_tcp(rows: Iterable[Row], endpoints: Endpoints) -> tuple[TcpRate, ...]:
    """Rows of Endpoints.row_names(*_REPORT_LABELS, "direction"): one record per edge and
    report (reporter, connection_security_policy), both directions."""
    size = endpoints.size
    sums: dict[tuple[tuple[str, ...], str, str], list[float]] = {}
    for values, value in rows:
        reporter, security, direction = values[size:]
        if direction not in ("sent", "received"):
            raise BackendDataError(BACKEND, f"unexpected direction label {str(direction)[:20]!r}")
        report = (endpoints.key(values), _reporter(reporter), security)
        slot = sums.get(report)
        if slot is None:
            slot = sums[report] = [0.0, 0.0]
        slot[0 if direction == "sent" else 1] += _finite(value, "a TCP byte rate")
    return tuple(
        TcpRate(
            *endpoints.pair(key),
            sent_bps=sent,
            received_bps=received,
            reporter=reporter,
            security=security,
        )
        for (key, reporter, security), (sent, received) in sums.items()
    )


# ---------------------------------------------------------------------------------------------
# Errors


def safe_url(url: str) -> str:
    """The URL without user-info, query or fragment: safe to show in an error message."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_CAUSE else text[: _MAX_CAUSE - 1] + "…"


def _error_payload(body: bytes) -> tuple[str, str]:
    """(errorType, error) from a Prometheus error body, or ("", "") when it is not one."""
    try:
        payload = json.loads(body)
    except ValueError:
        return "", ""
    if not isinstance(payload, dict):
        return "", ""
    return str(payload.get("errorType", "")), str(payload.get("error", ""))


def partial_warning(body: bytes) -> str | None:
    """The first warning of an answer flagged as partial, or None.

    Prometheus writes `"warnings"` after `"data"`, at the end of the object; Thanos and Mimir
    use it to say the result misses some stores ("partial response"). The key followed by an
    array can only be that top-level field (label values are strings, never arrays), so it is
    found with one scan from the end instead of parsing the whole body twice.
    """
    at = body.rfind(b'"warnings"')
    if at < 0:
        return None
    rest = body[at + len(b'"warnings"') :].lstrip()
    if not rest.startswith(b":"):
        return None
    rest = rest[1:].lstrip()
    end = rest.rfind(b"]")
    if not rest.startswith(b"[") or end < 0:
        return None
    try:
        warnings = json.loads(rest[: end + 1])
    except ValueError:
        return None
    if not isinstance(warnings, list) or not warnings:
        return None
    return _short(str(warnings[0]))


def _build_version(body: bytes) -> str | None:
    """The version in a /api/v1/status/buildinfo answer ("" when it has none), or None when
    the body is not that API's JSON at all."""
    try:
        payload = loads_strict(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict) or payload.get("status") != "success":
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        return None
    return str(data.get("version") or "")


def error_for_response(status: int, body: bytes) -> BackendError | None:
    """The typed error a Prometheus HTTP answer stands for, or None when it is a success.

    An answer with warnings is refused too: a graph drawn from part of the data would show
    missing edges and low rates as if they were real (DESIGN.md: say so, never guess).
    """
    # A proxy in front of Prometheus may answer 200 with an error payload; Prometheus puts
    # "status" first, so looking at the head of the body is enough and stays cheap.
    if status == 200 and b'"status":"error"' not in body[:64].replace(b" ", b""):
        warning = partial_warning(body)
        if warning is not None:
            return BackendDataError(BACKEND, f"partial answer: {warning}")
        return None
    kind, message = _error_payload(body)
    if status in (401, 403):
        return BackendAuthError(BACKEND, f"HTTP {status}: the credentials were refused")
    if kind == "timeout":
        return BackendTimeout(BACKEND, _short(f"query timed out in Prometheus: {message}"))
    detail = f"{kind}: {message}" if kind or message else "no error detail"
    return BackendQueryError(BACKEND, _short(f"HTTP {status}: {detail}"))


def _check_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Session hook: turn an error answer into a typed error before the client library
    discards the status code and payload (it keeps neither). A success streamed to the caller
    (`stream=True`, body not read yet: requests' `_content is False`) is checked by its reader
    as it arrives (PrometheusCollector.vector_rows)."""
    if response.status_code == 200 and response._content is False:  # type: ignore[attr-defined]
        return
    error = error_for_response(response.status_code, response.content)
    if error is not None:
        raise error


# ---------------------------------------------------------------------------------------------
# The collector


class PrometheusCollector:
    """TelemetrySource over a Prometheus that scrapes Istio's standard metrics."""

    name = "prometheus"
    tags_reporters = False  # see destination_else_source; True for merged per-cluster sources

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        headers: dict[str, str] | None = None,
        session: requests.Session | None = None,
        max_series: int = 50_000,
    ) -> None:
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequest("the Prometheus URL must be http(s)://host[:port][/path]", field="url")
        if not (isinstance(timeout_s, int | float) and 0 < timeout_s <= 3600):
            raise BadRequest("the Prometheus timeout must be between 0 and 3600 s", field="timeout")
        self.url = url.rstrip("/")
        self.timeout_s = float(timeout_s)
        self._display_url = safe_url(self.url)
        self.max_series = int(max_series)
        self._session = session if session is not None else BackendSession(BACKEND)
        hooks = self._session.hooks.setdefault("response", [])
        if _check_response not in hooks:
            hooks.append(_check_response)
        # No retries: a dashboard refresh should fail fast and say so; the next refresh retries.
        no_retry = Retry(
            total=0, read=False, redirect=0, status_forcelist=(), raise_on_status=False
        )
        self._client = PrometheusConnect(
            url=self.url,
            headers=dict(headers) if headers else None,
            retry=no_retry,
            session=self._session,
            timeout=self.timeout_s,
        )
        # PrometheusConnect mounts a plain adapter for its URL: put the deadline-aware,
        # size-capped one back over it (collectors/http.py), keeping "no retries".
        self._session.mount(self.url, limited_adapter(self._session, max_retries=no_retry))

    def __repr__(self) -> str:
        return f"PrometheusCollector({self._display_url!r})"

    def ready(self) -> dict[str, object]:
        """/readyz: reachable, authenticated, and which Prometheus (its build info)."""
        where = self._display_url
        try:
            resp = self._session.get(self.url + "/api/v1/status/buildinfo", timeout=self.timeout_s)
        except requests.exceptions.Timeout:
            cause = f"no answer from {where} within {self.timeout_s:g} s"
            return not_ready(BackendTimeout(BACKEND, cause))
        except requests.exceptions.ConnectionError as e:
            cause = f"cannot reach {where}: {connection_reason(e)}"
            return not_ready(BackendUnavailable(BACKEND, cause))
        except requests.exceptions.RequestException as e:
            return not_ready(
                BackendUnavailable(BACKEND, f"cannot reach {where}: {type(e).__name__}")
            )
        except BackendAuthError:  # the response hook maps 401/403 before we see them
            return not_ready(BackendAuthError(BACKEND, f"authentication refused by {where}"))
        except BackendError as e:
            if "HTTP 404" in e.cause:  # Thanos and Mimir answer queries without build info
                return self._ready_by_query()
            return not_ready(e)
        version = _build_version(resp.content)
        if version is None:  # a login page or another service answering 200 in its place
            kind = resp.headers.get("Content-Type", "no content type").split(";")[0]
            return not_ready(
                BackendDataError(
                    BACKEND,
                    f"{where} answered with something other than the Prometheus API ({kind})",
                )
            )
        return ready_answer("reachable", version or None)

    def _ready_by_query(self) -> dict[str, object]:
        """Without build info, ready only if a trivial query comes back in the API's shape."""
        try:
            self.query("1", time.time())
        except BackendError as e:
            return not_ready(e)
        return ready_answer("reachable (no build info)")

    def close(self) -> None:
        self._client.close()

    def query(self, text: str, at: float) -> list[Any]:
        """One instant query at `at`; the result vector, or a typed error."""
        params = {"time": f"{at:.3f}", "timeout": f"{self.timeout_s:g}"}
        return self._ask(
            lambda: self._client.custom_query(text, params=params), "an instant vector"
        )

    def _ask(self, send: Callable[[], Any], shape: str) -> list[Any]:
        """Send one query; its result list, checked for shape and size."""
        result = self._sent(send)
        if not isinstance(result, list):
            raise BackendDataError(BACKEND, f"the query did not return {shape}")
        if len(result) > self.max_series:
            raise too_large(
                BACKEND, f"{self.max_series:,} series", "MESHDASH_PROMETHEUS_MAX_SERIES"
            )
        return result

    def _sent(self, send: Callable[[], T]) -> T:
        """send(), with every way it can fail turned into a typed error naming Prometheus."""
        where = self._display_url
        try:
            return send()
        except BackendError:
            raise
        except requests.exceptions.Timeout:
            raise BackendTimeout(
                BACKEND, f"no answer from {where} within {self.timeout_s:g} s"
            ) from None
        except requests.exceptions.JSONDecodeError:
            raise BackendDataError(BACKEND, f"{where} answered with invalid JSON") from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            raise BackendDataError(
                BACKEND, f"{where} sent an incomplete answer (the connection closed mid-body)"
            ) from None
        except requests.exceptions.ConnectionError as e:
            raise BackendUnavailable(
                BACKEND, f"cannot reach {where}: {connection_reason(e)}"
            ) from None
        except requests.exceptions.RequestException as e:
            raise BackendUnavailable(BACKEND, f"cannot reach {where}: {type(e).__name__}") from None
        except PrometheusApiClientException:
            raise BackendQueryError(BACKEND, f"{where} refused the query") from None
        except RecursionError:  # nesting deeper than any Prometheus answer
            raise BackendDataError(
                BACKEND, f"{where} answered with JSON nested too deeply"
            ) from None
        except (KeyError, TypeError, ValueError):
            raise BackendDataError(BACKEND, f"{where} answered without data.result") from None

    def vector_rows(
        self,
        text: str,
        at: float,
        names: tuple[str, ...],
        fold: Callable[[Iterable[Any]], T],
        batches: bool = False,
    ) -> T:
        """One instant query at `at`; `fold` of its series as rows of the `names` labels
        (collectors/prometheus_decode.py), or a typed error. `batches`: fold gets the decoded
        series a batch at a time instead (stream_batches), as the largest answer is read.

        The answer is decoded as it arrives and folded as it is decoded, all under the query's
        one deadline: the largest answers (a big mesh's latency buckets) are never held
        whole. Its shape, size and warnings are checked as it is read, so a bad answer
        raises from here, never a partial fold."""
        params = {"query": text, "time": f"{at:.3f}", "timeout": f"{self.timeout_s:g}"}
        session = self._session
        url = self.url + "/api/v1/query"
        # The byte cap of the adapter that serves this URL (collectors/http.LimitedAdapter),
        # the one every other answer of this collector is read under.
        cap = getattr(session.get_adapter(url), "max_bytes", DEFAULT_MAX_RESPONSE_BYTES)

        def too_many() -> Exception:
            return too_large(
                BACKEND, f"{self.max_series:,} series", "MESHDASH_PROMETHEUS_MAX_SERIES"
            )

        def whole(body: bytes) -> Rows:
            error = error_for_response(200, body)
            if error is not None:
                raise error
            rows = vector_rows(body, names)
            if len(rows) > self.max_series:
                raise too_many()
            return rows

        def send() -> T:
            with whole_answer_deadline(self.timeout_s):
                response = session.get(
                    url,
                    params=params,
                    headers=self._client.headers,
                    timeout=self.timeout_s,
                    stream=True,
                )
                try:
                    if response.status_code != 200:  # the hook maps every error answer first
                        raise BackendQueryError(BACKEND, f"HTTP {response.status_code}")
                    chunks = capped_chunks(response, BACKEND, cap, _STREAM_CHUNK)
                    read = stream_batches if batches else stream_rows
                    rows = read(
                        chunks, names, max_series=self.max_series, too_many=too_many, whole=whole
                    )
                    return fold(rows)
                finally:
                    response.close()

        return self._sent(send)

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        """Edge rates, latency buckets and TCP bytes: three queries in all (requests, the bulk
        of the buckets, TCP bytes with the rest of the buckets), sent at once and counted as
        sent. Each answer is read as it arrives; the first failure (in query order
        among those that failed by then) ends the refresh without waiting for the others,
        which end by their own deadlines."""
        return self.graph_telemetry_staged(query, _nothing)[0]

    def graph_telemetry_staged(
        self, query: GraphQuery, first: Callable[[GraphTelemetry], T]
    ) -> tuple[GraphTelemetry, T]:
        """graph_telemetry, and first(its requests and TCP bytes, no latencies) called as soon
        as those two answers are in, while Prometheus still sums the latency buckets (most of a
        refresh's time): the caller builds its graph meanwhile (mesh.sources.StagedTelemetry).
        A failure seen before `first` runs ends the refresh at once; one seen while it runs,
        when it returns."""
        namespaces = tuple(validate.namespace(ns) for ns in query.namespaces)
        if not isinstance(query.window_s, int) or query.window_s <= 0:
            raise BadRequest("the window must be a positive number of seconds", field="window")
        if not math.isfinite(query.at):
            raise BadRequest("the time must be a finite UNIX time", field="at")
        if not namespaces:
            empty = GraphTelemetry(query=query)
            return empty, first(empty)
        shared = Endpoints(query.view)
        ask = CountingQuery(self.vector_rows)
        at = query.at
        jobs: tuple[Callable[[], Any], ...] = (
            lambda: ask(
                requests_query(query),
                at,
                shared.row_names(*_OUTCOME_REPORT),
                partial(parse_requests, endpoints=shared),
            ),
            lambda: ask(
                latency_query(query),
                at,
                shared.row_names("le"),
                partial(batch_bucket_sums, endpoints=shared),
                True,
            ),
            lambda: ask(
                small_query(query),
                at,
                shared.row_names(*_SMALL_LABELS),
                partial(parse_small, endpoints=shared),
            ),
        )
        pool = ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="prometheus-query")
        try:
            futures = [pool.submit(job) for job in jobs]
            requests_, (tcp, rest) = results_or_first_error(futures, (0, 2))
            traffic = GraphTelemetry(query=query, requests=requests_, tcp=tcp)
            early = first(traffic)
            (bulk,) = results_or_first_error(futures, (1,))
        finally:
            pool.shutdown(wait=False)
        # latency_expression's `or`, per edge: the bulk's report wins where both hold one.
        latencies = quantiles_of({**rest, **bulk}, shared)
        whole = replace(traffic, latencies=latencies, queries_sent=ask.sent)
        return whole, early


def _nothing(_: GraphTelemetry) -> None:
    return None


def results_or_first_error(futures: Sequence[Future[Any]], wanted: Sequence[int]) -> list[Any]:
    """The results of futures[i] for i in `wanted` once they are in; or, at once, the error of
    the first future (in order, wanted or not) that failed by the time one failure is seen."""
    while True:
        for future in futures:
            if future.done() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        if all(futures[i].done() for i in wanted):
            return [futures[i].result() for i in wanted]
        wait([f for f in futures if not f.done()], return_when=FIRST_COMPLETED)
