"""Range queries for one service or workload: the history behind the service page.

Six queries per view, whatever the number of versions or destinations: one `sum by (...)` per
metric family and direction, every family split by version (destination_canonical_revision
inbound, source_canonical_revision outbound) and, outbound, by destination service. A workload's
inbound requests and TCP bytes are also split by the service they were addressed to (SERVED_AS),
so the page learns which services route to the workload (for their weight-change markers)
without a seventh query.

Reporters follow DESIGN.md exactly as the graph collector does (collectors/prometheus.py):
requests and TCP bytes from the source proxy plus unknown callers from the destination proxy,
latency buckets from the destination reporter where present (`or` keeps the left side for an
equal label set, at every step) else from the source reporter. Quantiles, success rates and
code classes are computed in mesh/series.py from these raw rates, PromQL-exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from collectors import promql
from collectors.prometheus import (
    BACKEND,
    DESTINATION_SIDE,
    DURATION_BUCKET,
    REQUESTS_TOTAL,
    TCP_RECEIVED,
    TCP_SENT,
    PrometheusCollector,
    destination_else_source,
    each_request_once,
)
from collectors.sent_queries import CountingQuery
from mesh import validate
from mesh.errors import (
    BackendDataError,
    BadRequest,
)
from mesh.series import (
    BucketSeries,
    Points,
    RequestSeries,
    SeriesQuery,
    SeriesTelemetry,
    Target,
    TcpSeries,
    services_seen,
    serving_service,
    sum_points,
)
from mesh.telemetry_records import UNKNOWN

VERSION_IN = "destination_canonical_revision"
VERSION_OUT = "source_canonical_revision"
DESTINATION = ("destination_service_namespace", "destination_service_name")
OUTCOME = ("request_protocol", "response_code", "grpc_response_status")
# Which service a workload's inbound traffic was addressed to (mesh.series.serving_service).
SERVED_AS = ("destination_service_name", "destination_canonical_service")

Matchers = tuple[tuple[str, str, str], ...]


# ---------------------------------------------------------------------------------------------
# Query text (pure)


def inbound_matchers(q: SeriesQuery) -> Matchers:
    """Traffic into the target: a service by its name, a workload by its own labels."""
    if q.target is Target.SERVICE:
        return (
            ("destination_service_namespace", "=", validate.namespace(q.namespace)),
            ("destination_service_name", "=", validate.service_name(q.name)),
        )
    return (
        ("destination_workload_namespace", "=", validate.namespace(q.namespace)),
        ("destination_workload", "=", validate.workload_name(q.name)),
    )


def outbound_matchers(q: SeriesQuery) -> Matchers:
    """Traffic out of the target. A service's callers are its pods, which Istio labels with the
    canonical service (the app label), as Kiali assumes too."""
    if q.target is Target.SERVICE:
        return (
            ("source_workload_namespace", "=", validate.namespace(q.namespace)),
            ("source_canonical_service", "=", validate.service_name(q.name)),
        )
    return (
        ("source_workload_namespace", "=", validate.namespace(q.namespace)),
        ("source_workload", "=", validate.workload_name(q.name)),
    )


def _rate(metric: str, matchers: Matchers, rate: str) -> str:
    return f"rate({promql.selector(metric, matchers)}[{rate}])"


def _counted_once(metric: str, sel: Matchers, rate: str, tagged: bool = False) -> str:
    """Each request once (collectors.prometheus.each_request_once): the source reporter, else
    the destination sidecar's, else an ambient waypoint's report."""
    return each_request_once(lambda m: _rate(metric, m, rate), sel, tagged)


def _from_source(metric: str, sel: Matchers, rate: str, tagged: bool = False) -> str:
    """Outbound: a sidecar reports every call it makes; an ambient caller has no proxy of its
    own, so its calls count from the destination sidecar's or the waypoint's report."""
    if tagged:
        return _rate(metric, (("reporter", "=", "source"), *sel), rate)
    return _counted_once(metric, sel, rate)


def _buckets(group: Iterable[str], sel: Matchers, rate: str, tagged: bool = False) -> str:
    """Latency from the destination side (a sidecar's or an ambient waypoint's), else the
    caller's."""
    by = promql.by((*group, "le"))
    dst = _rate(DURATION_BUCKET, (("reporter", "=~", DESTINATION_SIDE), *sel), rate)
    src = _rate(DURATION_BUCKET, (("reporter", "=", "source"), *sel), rate)
    return destination_else_source(f"sum {by} ({dst})", f"sum {by} ({src})", tagged)


def _tcp(group: Iterable[str], sent: str, received: str) -> str:
    """Both directions in one query, named from the caller (Kiali's swap, see TcpSeries)."""
    by = promql.by(group)
    return (
        f'label_replace(sum {by} ({sent}), "direction", "sent", "", "")'
        f' or label_replace(sum {by} ({received}), "direction", "received", "", "")'
    )


def view_queries(q: SeriesQuery, tagged: bool = False) -> dict[str, str]:
    """The six range queries of one view, by family (`tagged`: destination_else_source)."""
    rate = promql.duration(q.rate_s)
    inbound, outbound = inbound_matchers(q), outbound_matchers(q)
    out_group = (VERSION_OUT, *DESTINATION)
    # A service's name is in its selector; a workload's services are read from its series.
    served_as = SERVED_AS if q.target is Target.WORKLOAD else ()
    return {
        "inbound": f"sum {promql.by((VERSION_IN, *served_as, *OUTCOME))} "
        f"({_counted_once(REQUESTS_TOTAL, inbound, rate, tagged)})",
        "inbound_buckets": _buckets((VERSION_IN,), inbound, rate, tagged),
        "inbound_tcp": _tcp(
            (VERSION_IN, *served_as),
            _counted_once(TCP_RECEIVED, inbound, rate, tagged),
            _counted_once(TCP_SENT, inbound, rate, tagged),
        ),
        "outbound": f"sum {promql.by((*out_group, *OUTCOME))} "
        f"({_from_source(REQUESTS_TOTAL, outbound, rate, tagged)})",
        "outbound_buckets": _buckets(DESTINATION, outbound, rate, tagged),
        "outbound_tcp": _tcp(
            out_group,
            _from_source(TCP_RECEIVED, outbound, rate, tagged),
            _from_source(TCP_SENT, outbound, rate, tagged),
        ),
    }


# ---------------------------------------------------------------------------------------------
# Result parsing (pure)


def _series(sample: Any) -> tuple[Mapping[str, str], Points]:
    try:
        labels = sample["metric"]
        raw = sample["values"]
        points = tuple((float(t), float(v)) for t, v in raw)
    except (KeyError, TypeError, ValueError):
        raise BackendDataError(BACKEND, "a range result has no metric labels or values") from None
    if not isinstance(labels, dict):
        raise BackendDataError(BACKEND, "a range result's labels are not an object")
    for _, v in points:
        if not math.isfinite(v):
            raise BackendDataError(BACKEND, f"a rate is {v} (NaN or infinite)")
    return labels, points


def _destination(labels: Mapping[str, str]) -> str:
    ns = labels.get("destination_service_namespace", "")
    name = labels.get("destination_service_name", "")
    return f"{ns}/{name}" if ns else name or UNKNOWN


def parse_requests(result: Iterable[Any], outbound: bool = False) -> tuple[RequestSeries, ...]:
    out = []
    for sample in result:
        labels, points = _series(sample)
        out.append(
            RequestSeries(
                version=labels.get(VERSION_OUT if outbound else VERSION_IN, ""),
                protocol=labels.get("request_protocol", ""),
                response_code=labels.get("response_code", ""),
                grpc_status=labels.get("grpc_response_status", ""),
                points=points,
                destination=_destination(labels) if outbound else "",
            )
        )
    return tuple(out)


def parse_buckets(result: Iterable[Any], outbound: bool = False) -> tuple[BucketSeries, ...]:
    out = []
    for sample in result:
        labels, points = _series(sample)
        try:
            le = float(labels["le"])
        except (KeyError, ValueError):
            raise BackendDataError(BACKEND, "a latency bucket has no valid le label") from None
        out.append(
            BucketSeries(
                le=le,
                points=points,
                version="" if outbound else labels.get(VERSION_IN, ""),
                destination=_destination(labels) if outbound else "",
            )
        )
    return tuple(out)


def parse_tcp(result: Iterable[Any], outbound: bool = False) -> tuple[TcpSeries, ...]:
    """One TcpSeries per version (and destination); samples that differ only in labels kept for
    something else (a workload's SERVED_AS) are summed, never overwritten."""
    flows: dict[tuple[str, str], dict[str, Points]] = {}
    for sample in result:
        labels, points = _series(sample)
        direction = labels.get("direction", "")
        if direction not in ("sent", "received"):
            raise BackendDataError(BACKEND, f"unexpected direction label {direction[:20]!r}")
        key = (
            labels.get(VERSION_OUT if outbound else VERSION_IN, ""),
            _destination(labels) if outbound else "",
        )
        flow = flows.setdefault(key, {})
        flow[direction] = sum_points((flow[direction], points)) if direction in flow else points
    return tuple(
        TcpSeries(
            sent=d.get("sent", ()), received=d.get("received", ()), version=v, destination=dest
        )
        for (v, dest), d in flows.items()
    )


def parse_services(*results: Iterable[Any]) -> tuple[str, ...]:
    """The services a workload's inbound series were addressed to (SERVED_AS labels), sorted."""
    names = []
    for result in results:
        for sample in result:
            labels, _ = _series(sample)
            names.append(
                serving_service(
                    labels.get("destination_service_name", ""),
                    labels.get("destination_canonical_service", ""),
                )
            )
    return services_seen(names)


# ---------------------------------------------------------------------------------------------
# The collector


class PrometheusSeries(PrometheusCollector):
    """SeriesSource (and TelemetrySource) over Prometheus: the graph collector plus ranges.

    Shares its session, its error hook and its failure mapping, so a range query fails with
    the same typed errors and messages as an instant one.
    """

    def __repr__(self) -> str:
        return f"PrometheusSeries({self._display_url!r})"

    def query_range(self, text: str, start: float, end: float, step_s: int) -> list[Any]:
        """One range query; the result matrix, or a typed error."""
        return self._ask(
            lambda: self._client.custom_query_range(
                text,
                start_time=datetime.fromtimestamp(start, UTC),
                end_time=datetime.fromtimestamp(end, UTC),
                step=str(step_s),
                params={"timeout": f"{self.timeout_s:g}"},
            ),
            "a range vector",
        )

    def series_telemetry(self, query: SeriesQuery) -> SeriesTelemetry:
        """Six range queries from query.start to query.end every query.step_s."""
        return series_telemetry(query, self.query_range, tagged=self.tags_reporters)


def series_telemetry(
    query: SeriesQuery, query_range: Callable[[str, float, float, int], list[Any]], tagged: bool
) -> SeriesTelemetry:
    """The view's six range queries through `query_range` (one Prometheus, or every cluster's
    merged), parsed into SeriesTelemetry."""
    if not (math.isfinite(query.start) and math.isfinite(query.end)):
        raise BadRequest("the time range must be finite UNIX times", field="at")
    if query.step_s <= 0 or query.end < query.start:
        raise BadRequest("the step must be positive and the range not reversed", field="step")
    texts = view_queries(query, tagged)

    # In the order of view_queries, one at a time.
    ask = CountingQuery(query_range)
    raw = {
        family: ask(text, query.start, query.end, query.step_s) for family, text in texts.items()
    }
    workload = query.target is Target.WORKLOAD
    return SeriesTelemetry(
        query=query,
        inbound=parse_requests(raw["inbound"]),
        inbound_buckets=parse_buckets(raw["inbound_buckets"]),
        inbound_tcp=parse_tcp(raw["inbound_tcp"]),
        outbound=parse_requests(raw["outbound"], outbound=True),
        outbound_buckets=parse_buckets(raw["outbound_buckets"], outbound=True),
        outbound_tcp=parse_tcp(raw["outbound_tcp"], outbound=True),
        queries_sent=ask.sent,
        services=parse_services(raw["inbound"], raw["inbound_tcp"]) if workload else (),
    )
