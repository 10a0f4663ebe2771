"""Time series of one service or workload: typed records and the pure computations over them.

Sources (Prometheus range queries, the demo) hand over raw per-outcome request rates and
per-bucket latency rates, grouped by version; everything a chart shows (success rate, code
classes, quantiles, outbound summaries, CSV rows) is derived here, so both sources agree and the
number of backend queries never depends on how many versions or destinations there are.

A point is `(unix_seconds, value)`. A timestamp without data is absent, never a zero.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from mesh.errors import BadRequest
from mesh.outcomes import CLIENT_ERROR, ERROR, classify
from mesh.quantiles import histogram_quantile
from mesh.telemetry_records import UNKNOWN

Point = tuple[float, float]
Points = tuple[Point, ...]
Series = Mapping[str, Points]  # key (a version, a destination) -> points

UNKNOWN_VERSION = "unknown"
TOTAL = "all"  # the summary key for every version together

# Steps a human reads easily; the chosen one keeps a window between MIN_POINTS and MAX_POINTS.
NICE_STEPS_S: tuple[int, ...] = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
)  # fmt: skip
MIN_POINTS = 60
MAX_POINTS = 240
MAX_POINTS_ASKED = 1100  # an explicit step may be finer, but never floods the browser
MIN_RATE_INTERVAL_S = 60  # rate() needs several scrapes (15s default) to be meaningful

QUANTILES: dict[str, float] = {"p50": 0.50, "p95": 0.95, "p99": 0.99}

# gRPC status names (google.golang.org/grpc/codes), for legends that people can read.
GRPC_STATUS_NAMES: dict[str, str] = {
    "0": "OK",
    "1": "CANCELLED",
    "2": "UNKNOWN",
    "3": "INVALID_ARGUMENT",
    "4": "DEADLINE_EXCEEDED",
    "5": "NOT_FOUND",
    "6": "ALREADY_EXISTS",
    "7": "PERMISSION_DENIED",
    "8": "RESOURCE_EXHAUSTED",
    "9": "FAILED_PRECONDITION",
    "10": "ABORTED",
    "11": "OUT_OF_RANGE",
    "12": "UNIMPLEMENTED",
    "13": "INTERNAL",
    "14": "UNAVAILABLE",
    "15": "DATA_LOSS",
    "16": "UNAUTHENTICATED",
}


class Target(StrEnum):
    """What the page is about: a Kubernetes service, or one workload (Deployment)."""

    SERVICE = "service"
    WORKLOAD = "workload"


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    """One range query set: `name` in `namespace`, from start to end (UNIX s) every step_s.

    rate_s is the range of every rate(): at least the step (so no sample is skipped between
    points) and at least a minute (so a few scrapes fall inside).
    """

    namespace: str
    name: str
    target: Target
    start: float
    end: float
    step_s: int
    rate_s: int

    @property
    def window_s(self) -> int:
        return round(self.end - self.start)

    def timestamps(self) -> tuple[float, ...]:
        """The evaluation instants of a Prometheus range query: start, start+step, ..., <= end."""
        n = int((self.end - self.start) // self.step_s)
        return tuple(self.start + i * self.step_s for i in range(n + 1))


@dataclass(frozen=True, slots=True)
class RequestSeries:
    """Requests per second over time with one outcome, counted once (DESIGN.md reporters).

    Inbound: version is destination_canonical_revision and destination is empty.
    Outbound: version is the caller's source_canonical_revision and destination names the
    called service as "namespace/service".
    """

    version: str
    protocol: str
    response_code: str
    grpc_status: str
    points: Points
    destination: str = ""


@dataclass(frozen=True, slots=True)
class BucketSeries:
    """Rate of observations at or below `le` ms (a cumulative bucket), per version/destination."""

    le: float
    points: Points
    version: str = ""
    destination: str = ""


@dataclass(frozen=True, slots=True)
class TcpSeries:
    """TCP bytes per second, oriented from the caller: `sent` flows caller -> callee.

    Istio names its counters from the proxy's side, so `sent` comes from
    istio_tcp_received_bytes_total and `received` from istio_tcp_sent_bytes_total (as Kiali).
    """

    sent: Points
    received: Points
    version: str = ""
    destination: str = ""


@dataclass(frozen=True, slots=True)
class SeriesTelemetry:
    """Everything one service/workload page needs, from a fixed handful of range queries."""

    query: SeriesQuery
    inbound: tuple[RequestSeries, ...] = ()
    inbound_buckets: tuple[BucketSeries, ...] = ()
    inbound_tcp: tuple[TcpSeries, ...] = ()
    outbound: tuple[RequestSeries, ...] = ()
    outbound_buckets: tuple[BucketSeries, ...] = ()
    outbound_tcp: tuple[TcpSeries, ...] = ()
    queries_sent: int = 0
    # A workload target only: the services (in its namespace) its inbound traffic was addressed
    # to, seen in the same inbound series (see serving_service), sorted. Empty for a service.
    services: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutboundCall:
    """One called service: its series (for sparklines) and figures over the whole window."""

    namespace: str
    service: str
    protocol: str
    rps: float | None
    error_rate: float | None
    client_error_rate: float | None
    p95_ms: float | None
    bps: float | None
    rps_series: Points = ()
    error_rate_series: Points = ()
    bps_series: Points = ()  # TCP bytes per second, both directions together
    rps_by_version: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """One version's (or the whole target's) figures over the window, from the plotted points.

    rps is the mean of the rps points, share its part of the target's total, success_rate is
    traffic-weighted across the points, and quantiles come from the bucket rates summed across
    the window. None where there is nothing to measure.
    """

    rps: float | None
    share: float | None
    success_rate: float | None
    client_error_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True, slots=True)
class ServiceSeries:
    """The model a page and the API render: every family keyed by version."""

    query: SeriesQuery
    rps: Series
    success_rate: Series
    latency_ms: Mapping[str, Series]  # "p50"/"p95"/"p99" -> version -> points
    codes: Mapping[str, Series]  # "2xx"/"5xx"/"grpc:UNAVAILABLE" -> version -> points
    tcp_in_bps: Series
    tcp_out_bps: Series
    outbound: tuple[OutboundCall, ...]
    summary: Mapping[str, WindowFigures] = field(default_factory=dict)  # version or TOTAL
    queries_sent: int = 0
    services: tuple[str, ...] = ()  # a workload's services (SeriesTelemetry.services)

    @property
    def versions(self) -> tuple[str, ...]:
        keys: set[str] = set(self.rps) | set(self.tcp_in_bps) | set(self.tcp_out_bps)
        return sort_versions(keys)

    @property
    def has_traffic(self) -> bool:
        """Whether anything at all was measured above zero in the window (requests or bytes)."""
        families = (self.rps, self.tcp_in_bps, self.tcp_out_bps)
        inbound = any(v > 0 for fam in families for pts in fam.values() for _, v in pts)
        return inbound or any((c.rps or 0) > 0 or (c.bps or 0) > 0 for c in self.outbound)


def serving_service(service_name: str, canonical_service: str) -> str:
    """The service a request into a workload was addressed to, as routing knows it.

    destination_service_name comes first: it is the Kubernetes Service the caller addressed,
    the host a VirtualService routes on and the name its weight changes are recorded under.
    destination_canonical_service (the workload's app label) is only a fallback for when
    Istio could not name the service (empty or "unknown", e.g. a call by pod IP); by
    convention it equals the service name, but nothing enforces it, so it never overrides.
    """
    for name in (service_name, canonical_service):
        if name and name != UNKNOWN:
            return name
    return ""


def services_seen(names: Iterable[str]) -> tuple[str, ...]:
    """Distinct non-empty service names, sorted, so a workload's markers come out stable."""
    return tuple(sorted({n for n in names if n}))


# --- windows and steps -------------------------------------------------------------------------


def choose_step(window_s: int) -> int:
    """The smallest readable step that keeps the window at MAX_POINTS points or fewer.

    With NICE_STEPS_S that lands between MIN_POINTS and MAX_POINTS for every window from 1m to
    7d (1m->1s, 5m->2s, 30m->10s, 1h->15s, 3h->1m, 1d->10m).
    """
    if window_s <= 0:
        raise BadRequest("window must be positive", field="window")
    for step in NICE_STEPS_S:
        if window_s / step <= MAX_POINTS:
            return step
    return NICE_STEPS_S[-1]


def rate_interval(step_s: int) -> int:
    return max(step_s, MIN_RATE_INTERVAL_S)


def series_query(
    namespace: str,
    name: str,
    target: Target,
    window_s: int,
    at: float,
    step_s: int | None = None,
) -> SeriesQuery:
    """Align the end on a whole step (stable points across refreshes) and check the density."""
    step = choose_step(window_s) if step_s is None else step_s
    if step <= 0:
        raise BadRequest("step must be positive", field="step")
    if step > window_s:
        raise BadRequest("step must not be longer than the window", field="step")
    if window_s / step > MAX_POINTS_ASKED:
        raise BadRequest(
            f"step too small: {window_s // step} points; at most {MAX_POINTS_ASKED}", field="step"
        )
    end = math.floor(at / step) * step
    return SeriesQuery(namespace, name, target, end - window_s, end, step, rate_interval(step))


# --- outcomes ----------------------------------------------------------------------------------


def is_error(protocol: str, response_code: str, grpc_status: str) -> bool:
    """DESIGN.md: HTTP 5xx and 0 (no response); gRPC status 1-16 even under HTTP 200."""
    return classify(response_code, grpc_status) == ERROR


def is_client_error(protocol: str, response_code: str, grpc_status: str) -> bool:
    return classify(response_code, grpc_status) == CLIENT_ERROR


def code_class(protocol: str, response_code: str, grpc_status: str) -> str:
    """'2xx'.. '5xx', 'no response' for code 0, and 'grpc:<STATUS>' for gRPC calls."""
    if protocol == "grpc" and grpc_status:
        return "grpc:" + GRPC_STATUS_NAMES.get(grpc_status, grpc_status)
    if response_code == "0" or not response_code:
        return "no response"
    if len(response_code) == 3 and response_code[0] in "12345":
        return response_code[0] + "xx"
    return response_code


def class_order(key: str) -> tuple[int, str]:
    """Legend/stack order: successes first, then redirects, client errors, server errors."""
    ranks = {"1xx": 0, "2xx": 1, "3xx": 2, "4xx": 3, "5xx": 4, "no response": 5, "grpc:OK": 1}
    if key in ranks:
        return ranks[key], key
    return (6 if key.startswith("grpc:") else 7), key


# --- aligning and summing ----------------------------------------------------------------------


def _key(t: float) -> float:
    return round(t, 3)


def sum_points(series: Iterable[Points]) -> Points:
    """Sum several series point by point; a timestamp is present when any input has it."""
    acc: dict[float, float] = defaultdict(float)
    for pts in series:
        for t, v in pts:
            acc[_key(t)] += v
    return tuple(sorted(acc.items()))


def align(
    series: Series, timestamps: Sequence[float] | None = None
) -> tuple[tuple[float, ...], dict[str, list[float | None]]]:
    """One shared time axis and a column per key, None where a key has no data (a gap)."""
    if timestamps is None:
        times = sorted({_key(t) for pts in series.values() for t, _ in pts})
    else:
        times = [_key(t) for t in timestamps]
    index = {t: i for i, t in enumerate(times)}
    columns: dict[str, list[float | None]] = {}
    for key, pts in series.items():
        col: list[float | None] = [None] * len(times)
        for t, v in pts:
            i = index.get(_key(t))
            if i is not None:
                col[i] = v
        columns[key] = col
    return tuple(times), columns


def _group(
    requests: Iterable[RequestSeries], key_of, keep=lambda r: True
) -> dict[str, list[Points]]:
    groups: dict[str, list[Points]] = defaultdict(list)
    for r in requests:
        if keep(r):
            groups[key_of(r)].append(r.points)
    return groups


def _version(r: RequestSeries | BucketSeries | TcpSeries) -> str:
    return r.version or UNKNOWN_VERSION


def rps_by(requests: Iterable[RequestSeries], key_of=_version) -> dict[str, Points]:
    """Total requests/s per key (version by default) over every outcome."""
    return {k: sum_points(v) for k, v in _group(requests, key_of).items()}


def error_rps_by(requests: Iterable[RequestSeries], key_of=_version) -> dict[str, Points]:
    groups = _group(
        requests, key_of, lambda r: is_error(r.protocol, r.response_code, r.grpc_status)
    )
    return {k: sum_points(v) for k, v in groups.items()}


def ratio_series(numerator: Points, denominator: Points) -> Points:
    """numerator/denominator where the denominator is positive; a missing numerator is 0.

    A timestamp where nothing was requested has no ratio at all (absent), as 0/0 has none.
    """
    num = {_key(t): v for t, v in numerator}
    return tuple((t, num.get(_key(t), 0.0) / d) for t, d in denominator if d > 0)


def success_rate_by(requests: Sequence[RequestSeries], key_of=_version) -> dict[str, Points]:
    """1 - errors/total per key; fractions 0..1; absent where total is 0 or unknown."""
    totals = rps_by(requests, key_of)
    errors = error_rps_by(requests, key_of)
    out: dict[str, Points] = {}
    for key, total in totals.items():
        ratio = ratio_series(errors.get(key, ()), total)
        out[key] = tuple((t, 1.0 - r) for t, r in ratio)
    return out


def error_rate_by(requests: Sequence[RequestSeries], key_of=_version) -> dict[str, Points]:
    totals = rps_by(requests, key_of)
    errors = error_rps_by(requests, key_of)
    return {k: ratio_series(errors.get(k, ()), total) for k, total in totals.items()}


def codes_by_version(requests: Iterable[RequestSeries]) -> dict[str, dict[str, Points]]:
    """Requests/s per response class, then per version: class -> version -> points."""
    groups: dict[str, dict[str, list[Points]]] = defaultdict(lambda: defaultdict(list))
    for r in requests:
        groups[code_class(r.protocol, r.response_code, r.grpc_status)][_version(r)].append(r.points)
    return {
        cls: {ver: sum_points(pts) for ver, pts in by_ver.items()}
        for cls, by_ver in sorted(groups.items(), key=lambda kv: class_order(kv[0]))
    }


def quantiles_by(
    buckets: Iterable[BucketSeries], qs: Mapping[str, float], key_of=_version
) -> dict[str, dict[str, Points]]:
    """histogram_quantile(q, sum by (key, le) (rate(...))) at every timestamp, PromQL-exact,
    for several quantiles from one grouping of the buckets: name -> key -> points.

    A timestamp whose buckets saw no observation has no quantile (PromQL says NaN): absent.
    """
    by_key: dict[str, dict[float, list[tuple[float, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for b in buckets:
        per_t = by_key[key_of(b)]
        for t, v in b.points:
            per_t[round(t, 3)].append((b.le, v))
    out: dict[str, dict[str, Points]] = {name: {} for name in qs}
    for key, per_t in by_key.items():
        found: dict[str, list[Point]] = {name: [] for name in qs}
        for t in sorted(per_t):
            for name, q in qs.items():
                value = histogram_quantile(q, per_t[t])
                if value is not None and math.isfinite(value):
                    found[name].append((t, value))
        for name in qs:
            out[name][key] = tuple(found[name])
    return out


def quantile_by(buckets: Iterable[BucketSeries], q: float, key_of=_version) -> dict[str, Points]:
    """One quantile per key and timestamp (see quantiles_by)."""
    return quantiles_by(buckets, {"q": q}, key_of)["q"]


def window_quantile(buckets: Iterable[BucketSeries], q: float) -> float | None:
    """The quantile of everything observed across the window (bucket rates summed over time)."""
    per_le: dict[float, float] = defaultdict(float)
    for b in buckets:
        for _, v in b.points:
            per_le[b.le] += v
    value = histogram_quantile(q, per_le.items())
    return value if value is not None and math.isfinite(value) else None


def _mean(points: Points) -> float | None:
    return sum(v for _, v in points) / len(points) if points else None


# --- the model ---------------------------------------------------------------------------------


def _destination(r: RequestSeries | BucketSeries | TcpSeries) -> str:
    return r.destination


def _dominant_protocol(requests: Sequence[RequestSeries]) -> str:
    weight: dict[str, float] = defaultdict(float)
    for r in requests:
        weight[r.protocol or "http"] += sum(v for _, v in r.points)
    return max(sorted(weight), key=lambda p: weight[p]) if weight else "http"


def outbound_calls(telemetry: SeriesTelemetry) -> tuple[OutboundCall, ...]:
    """One row per called service, busiest first.

    Window figures come from the same points the sparklines show: rps is the mean of the
    points, the error rate is errors over requests summed across points (traffic-weighted), and
    p95 is taken over the bucket rates summed across the window.
    """
    by_dest: dict[str, list[RequestSeries]] = defaultdict(list)
    for r in telemetry.outbound:
        by_dest[r.destination].append(r)
    buckets: dict[str, list[BucketSeries]] = defaultdict(list)
    for b in telemetry.outbound_buckets:
        buckets[b.destination].append(b)
    tcp: dict[str, list[TcpSeries]] = defaultdict(list)
    for s in telemetry.outbound_tcp:
        tcp[s.destination].append(s)
    calls = []
    for dest in sorted(set(by_dest) | set(tcp)):
        requests = by_dest.get(dest, [])
        total = sum_points(r.points for r in requests)
        errors = sum_points(
            r.points for r in requests if is_error(r.protocol, r.response_code, r.grpc_status)
        )
        all_requests = sum(v for _, v in total)
        client = sum(
            v
            for r in requests
            if is_client_error(r.protocol, r.response_code, r.grpc_status)
            for _, v in r.points
        )
        bytes_series = sum_points(pts for s in tcp.get(dest, []) for pts in (s.sent, s.received))
        namespace, _, service = dest.partition("/")
        calls.append(
            OutboundCall(
                namespace=namespace,
                service=service or namespace,
                protocol="tcp" if not requests else _dominant_protocol(requests),
                rps=_mean(total) if requests else None,
                error_rate=(sum(v for _, v in errors) / all_requests) if all_requests > 0 else None,
                client_error_rate=(client / all_requests) if all_requests > 0 else None,
                p95_ms=window_quantile(buckets.get(dest, []), 0.95),
                bps=_mean(bytes_series),
                rps_series=total,
                error_rate_series=ratio_series(errors, total),
                bps_series=bytes_series,
                rps_by_version={
                    ver: m for ver, pts in rps_by(requests).items() if (m := _mean(pts)) is not None
                },
            )
        )
    # Request calls first, busiest first; then TCP-only calls by bytes (the units differ).
    return tuple(
        sorted(
            calls,
            key=lambda c: (c.rps is None, -(c.rps or 0), -(c.bps or 0), c.namespace, c.service),
        )
    )


def _tcp_by_version(series: Iterable[TcpSeries], attr: str) -> dict[str, Points]:
    groups: dict[str, list[Points]] = defaultdict(list)
    for s in series:
        groups[_version(s)].append(getattr(s, attr))
    return {k: sum_points(v) for k, v in groups.items()}


def window_figures(telemetry: SeriesTelemetry) -> dict[str, WindowFigures]:
    """Per-version figures over the window, plus TOTAL for the target as a whole."""
    requests = telemetry.inbound
    by_version: dict[str, list[RequestSeries]] = defaultdict(list)
    for r in requests:
        by_version[_version(r)].append(r)
    buckets: dict[str, list[BucketSeries]] = defaultdict(list)
    for b in telemetry.inbound_buckets:
        buckets[_version(b)].append(b)
    overall = _mean(sum_points(r.points for r in requests))

    def figures(reqs: Sequence[RequestSeries], bks: Sequence[BucketSeries]) -> WindowFigures:
        total = sum(v for r in reqs for _, v in r.points)
        errors = sum(
            v
            for r in reqs
            if is_error(r.protocol, r.response_code, r.grpc_status)
            for _, v in r.points
        )
        client = sum(
            v
            for r in reqs
            if is_client_error(r.protocol, r.response_code, r.grpc_status)
            for _, v in r.points
        )
        rps = _mean(sum_points(r.points for r in reqs))
        return WindowFigures(
            rps=rps,
            share=(rps / overall) if rps is not None and overall else None,
            success_rate=(1.0 - errors / total) if total > 0 else None,
            client_error_rate=(client / total) if total > 0 else None,
            p50_ms=window_quantile(bks, QUANTILES["p50"]),
            p95_ms=window_quantile(bks, QUANTILES["p95"]),
            p99_ms=window_quantile(bks, QUANTILES["p99"]),
        )

    out = {
        v: figures(by_version.get(v, []), buckets.get(v, []))
        for v in sort_versions(set(by_version) | set(buckets))
    }
    out[TOTAL] = figures(requests, telemetry.inbound_buckets)
    return out


def build_service_series(telemetry: SeriesTelemetry) -> ServiceSeries:
    """Derive every chart's series from the raw telemetry; pure, so it is tested alone."""
    inbound = telemetry.inbound
    return ServiceSeries(
        query=telemetry.query,
        rps=rps_by(inbound),
        success_rate=success_rate_by(inbound),
        latency_ms=quantiles_by(telemetry.inbound_buckets, QUANTILES),
        codes=codes_by_version(inbound),
        # Into the service: what callers sent; out of it: what they received.
        tcp_in_bps=_tcp_by_version(telemetry.inbound_tcp, "sent"),
        tcp_out_bps=_tcp_by_version(telemetry.inbound_tcp, "received"),
        outbound=outbound_calls(telemetry),
        summary=window_figures(telemetry),
        queries_sent=telemetry.queries_sent,
        services=telemetry.services,
    )


# --- presentation helpers that stay pure -------------------------------------------------------


def sort_versions(versions: Iterable[str]) -> tuple[str, ...]:
    """Natural order (v2 before v10), 'unknown' last, so colours and legends are stable."""

    def natural(v: str) -> tuple:
        parts = []
        digits = ""
        text = ""
        for ch in v:
            if ch.isdigit():
                if text:
                    parts.append((1, text, 0))
                    text = ""
                digits += ch
            else:
                if digits:
                    parts.append((0, "", int(digits)))
                    digits = ""
                text += ch
        if digits:
            parts.append((0, "", int(digits)))
        if text:
            parts.append((1, text, 0))
        return (v == UNKNOWN_VERSION, tuple(parts))

    return tuple(sorted(set(versions), key=natural))


def iso_utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def csv_table(series: Series, timestamps: Sequence[float] | None = None) -> list[list[str]]:
    """A wide table: time_utc, unix_time, then one column per series key; blank where absent."""
    keys = list(series)
    times, columns = align(series, timestamps)
    rows = [["time_utc", "unix_time", *keys]]
    for i, t in enumerate(times):
        cells = [iso_utc(t), _num(t)]
        for k in keys:
            v = columns[k][i]
            cells.append("" if v is None else _num(v))
        rows.append(cells)
    return rows


def _num(v: float) -> str:
    """Shortest faithful text for a number: integers without '.0', others with repr precision."""
    if float(v).is_integer():
        return str(int(v))
    return repr(float(v))
