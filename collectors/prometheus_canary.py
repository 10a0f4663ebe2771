"""The canary analysis inputs from Prometheus: two instant queries per analysis, whatever the
number of versions the service has.

1. Requests to the service in the window by version and outcome, counted once (DESIGN.md): the
   source reporter, plus callers outside the mesh that only the destination reporter sees.
2. Request-duration bucket increases by version and `le`, from the destination reporter (server
   time, no network) where present, else from the source reporter, exactly as the graph and
   series collectors choose (`or` keeps the left side for an equal label set).

Both use increase() over the window at `at`, so counts are Prometheus's extrapolated increases
(fractional); the statistics in mesh/canary/ accept them as they are. Transport and errors are
PrometheusCollector.query's: every failure is a mesh.errors type.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from collectors import promql
from collectors.prometheus import (
    BACKEND,
    DESTINATION_SIDE,
    DURATION_BUCKET,
    REQUESTS_TOTAL,
    destination_else_source,
    each_request_once,
)
from collectors.sent_queries import CountingQuery
from mesh import validate
from mesh.canary.records import BucketCount, CanaryQuery, CanaryTelemetry, OutcomeCount
from mesh.errors import BackendDataError, BadRequest

VERSION = "destination_canonical_revision"
OUTCOME = ("response_code", "grpc_response_status")

Matchers = tuple[tuple[str, str, str], ...]


class InstantQuery(Protocol):
    """What this module needs from PrometheusCollector: one typed-error instant query."""

    def query(self, text: str, at: float) -> list[Any]: ...


# ---------------------------------------------------------------------------------------------
# Query text (pure)


def service_matchers(q: CanaryQuery) -> Matchers:
    """The service's inbound traffic to the two compared versions only (validated, escaped)."""
    versions = (
        validate.label_value(q.baseline, field="baseline"),
        validate.label_value(q.canary, field="canary"),
    )
    return (
        ("destination_service_namespace", "=", validate.namespace(q.namespace)),
        ("destination_service_name", "=", validate.service_name(q.service)),
        (VERSION, "=~", promql.any_of(versions)),
    )


def _increase(metric: str, matchers: Matchers, window: str) -> str:
    return f"increase({promql.selector(metric, matchers)}[{window}])"


def requests_query(q: CanaryQuery, tagged: bool = False) -> str:
    """Requests per version and outcome over the window, each request counted once."""
    sel, window = service_matchers(q), promql.duration(q.window_s)
    # The parts differ in `reporter` or caller, so `or` keeps them all and the sum adds them.
    once = each_request_once(lambda m: _increase(REQUESTS_TOTAL, m, window), sel, tagged)
    return f"sum {promql.by((VERSION, *OUTCOME))} ({once})"


def buckets_query(q: CanaryQuery, tagged: bool = False) -> str:
    """Cumulative bucket increases per version: destination reporter, else source reporter
    (`tagged`: both, for a merge across per-cluster endpoints; see destination_else_source)."""
    sel, window = service_matchers(q), promql.duration(q.window_s)
    group = promql.by((VERSION, "le"))
    dst = _increase(DURATION_BUCKET, (("reporter", "=~", DESTINATION_SIDE), *sel), window)
    src = _increase(DURATION_BUCKET, (("reporter", "=", "source"), *sel), window)
    return destination_else_source(f"sum {group} ({dst})", f"sum {group} ({src})", tagged)


# ---------------------------------------------------------------------------------------------
# Result parsing (pure)


def _sample(sample: Any) -> tuple[Mapping[str, str], float]:
    try:
        labels = sample["metric"]
        value = float(sample["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        raise BackendDataError(BACKEND, "a result sample has no metric labels or value") from None
    if not isinstance(labels, dict):
        raise BackendDataError(BACKEND, "a result sample's labels are not an object")
    # increase() over too few samples returns no sample at all, never NaN: a NaN comes from
    # NaN in the stored data, and counting it as 0 would judge a canary on invented numbers.
    if not math.isfinite(value) or value < 0:
        raise BackendDataError(BACKEND, f"an increase is {value} (NaN, negative or infinite)")
    return labels, value


def parse_outcomes(result: Iterable[Any]) -> tuple[OutcomeCount, ...]:
    out = []
    for sample in result:
        labels, value = _sample(sample)
        out.append(
            OutcomeCount(
                version=labels.get(VERSION, ""),
                response_code=labels.get("response_code", ""),
                grpc_status=labels.get("grpc_response_status", ""),
                count=value,
            )
        )
    return tuple(out)


def parse_buckets(result: Iterable[Any]) -> tuple[BucketCount, ...]:
    out = []
    for sample in result:
        labels, value = _sample(sample)
        raw = labels.get("le", "")
        try:
            le = float(raw)  # "+Inf" parses to inf
        except ValueError:
            raise BackendDataError(BACKEND, f"a bucket has an invalid le {raw[:20]!r}") from None
        if math.isnan(le):
            raise BackendDataError(BACKEND, "a bucket has le NaN")
        out.append(BucketCount(version=labels.get(VERSION, ""), le=le, count=value))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# The source


class PrometheusCanarySource:
    """CanarySource over a PrometheusCollector (its session, timeout and error mapping)."""

    name = "prometheus"

    def __init__(self, collector: InstantQuery) -> None:
        self.collector = collector

    def canary_telemetry(self, query: CanaryQuery) -> CanaryTelemetry:
        if not isinstance(query.window_s, int) or query.window_s <= 0:
            raise BadRequest("the window must be a positive number of seconds", field="window")
        if not math.isfinite(query.at):
            raise BadRequest("the time must be a finite UNIX time", field="at")
        tagged = bool(getattr(self.collector, "tags_reporters", False))
        ask = CountingQuery(self.collector.query)
        outcomes = parse_outcomes(ask(requests_query(query, tagged), query.at))
        buckets = parse_buckets(ask(buckets_query(query, tagged), query.at))
        return CanaryTelemetry(query, outcomes, buckets, queries_sent=ask.sent)
