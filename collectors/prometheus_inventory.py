"""The overview's and the lists' telemetry from Prometheus: at most 2 instant queries a refresh.

1. `sum by (reporter, ...)` of istio_requests_total rates, every reporter kept apart (the
   caller's sidecar, the destination's, and in ambient mode the waypoint), so
   mesh/inventory.counted_once can pick per namespace which report counts (a selector cannot
   compare two labels). The overview groups by the few labels a namespace roll-up needs and the
   calling workload; a list by every label that names its services, workloads, apps
   and versions.
2. Lists only: the destination side's latency buckets (the destination sidecar's, else the
   waypoint's) summed per entity. p95 is computed
   from them as PromQL's histogram_quantile does (mesh/quantiles.py), which stays exact when one
   Prometheus per cluster answers and equal label sets are added (prometheus_clusters).

Namespaces, when given, select series whose destination OR source namespace is one of them,
with one anchored regex of escaped names; none means every namespace. The number of queries
never grows with the number of namespaces.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from collectors import promql
from collectors.prometheus import BACKEND, DURATION_BUCKET, REQUESTS_TOTAL
from mesh import validate
from mesh.errors import BackendDataError, BadRequest
from mesh.inventory import (
    ENTITY_LABELS,
    LIST_LABELS,
    OVERVIEW_LABELS,
    BucketRow,
    InventoryQuery,
    InventoryTelemetry,
    Kind,
    RequestRow,
)
from mesh.telemetry_records import UNKNOWN

_REPORTERS = ("reporter", "=~", "source|destination|waypoint")
_DESTINATION_SIDE = ("reporter", "=~", "destination|waypoint")


def _selectors(
    metric: str, namespaces: tuple[str, ...], extra: tuple[tuple[str, str, str], ...]
) -> list[str]:
    """Series of `metric` whose destination or source namespace is selected (two disjoint
    selectors), or every series when no namespace is named."""
    if not namespaces:
        return [promql.selector(metric, extra)]
    regex = promql.any_of(namespaces)
    return [
        promql.selector(metric, (*extra, ("destination_service_namespace", "=~", regex))),
        promql.selector(
            metric,
            (
                *extra,
                ("destination_service_namespace", "!~", regex),
                ("source_workload_namespace", "=~", regex),
            ),
        ),
    ]


def _summed(labels: tuple[str, ...], matchers: tuple, q: InventoryQuery) -> str:
    window = promql.duration(q.window_s)
    rates = " or ".join(
        f"rate({s}[{window}])" for s in _selectors(REQUESTS_TOTAL, q.namespaces, matchers)
    )
    return f"sum {promql.by(labels)} ({rates})"


def requests_query(q: InventoryQuery) -> str:
    if q.kind is not None:
        return _summed(LIST_LABELS, (_REPORTERS,), q)
    answered = _summed(OVERVIEW_LABELS, (_REPORTERS, ("destination_workload", "!=", UNKNOWN)), q)
    unanswered = _summed(
        OVERVIEW_LABELS, (("reporter", "=", "source"), ("destination_workload", "=", UNKNOWN)), q
    )
    # The two sides differ in destination_workload, so `or` keeps both.
    return f'{answered} or label_replace({unanswered}, "destination_workload", "{UNKNOWN}", "", "")'


def buckets_query(q: InventoryQuery) -> str:
    """Latency bucket rates per entity of q.kind, from the destination side (it excludes
    network time): the destination sidecar, or in ambient mode the waypoint; entities in the
    selected namespaces only."""
    assert q.kind is not None
    ns_label, name_label = ENTITY_LABELS[q.kind]
    matchers: tuple[tuple[str, str, str], ...] = (_DESTINATION_SIDE,)
    if q.namespaces:
        matchers = (*matchers, (ns_label, "=~", promql.any_of(q.namespaces)))
    window = promql.duration(q.window_s)
    selector = promql.selector(DURATION_BUCKET, matchers)
    return f"sum {promql.by((ns_label, name_label, 'le'))} (rate({selector}[{window}]))"


def _sample(sample: Any) -> tuple[Mapping[str, str], float]:
    try:
        labels, value = sample["metric"], float(sample["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        raise BackendDataError(BACKEND, "a result sample has no metric labels or value") from None
    if not isinstance(labels, dict) or not math.isfinite(value):
        raise BackendDataError(BACKEND, "a request rate is not a finite number")
    return labels, value


def parse_requests(result: Iterable[Any]) -> tuple[RequestRow, ...]:
    """One RequestRow per sample; positional and without per-label dict building, because the
    overview of a large mesh reads tens of thousands of samples per refresh."""
    out = []
    append = out.append
    for sample in result:
        labels, value = _sample(sample)
        get = labels.get
        append(
            RequestRow(
                get("reporter", ""),
                get("source_workload_namespace", ""),
                get("destination_service_namespace", ""),
                get("response_code", ""),
                get("grpc_response_status", ""),
                value,
                get("source_workload", ""),
                get("source_canonical_service", ""),
                get("source_canonical_revision", ""),
                get("destination_service_name", ""),
                get("destination_workload_namespace", ""),
                get("destination_workload", ""),
                get("destination_canonical_service", ""),
                get("destination_canonical_revision", ""),
            )
        )
    return tuple(out)


def parse_buckets(result: Iterable[Any], kind: Kind) -> tuple[BucketRow, ...]:
    ns_label, name_label = ENTITY_LABELS[kind]
    out = []
    for sample in result:
        try:
            labels, value = sample["metric"], float(sample["value"][1])
            le = float(labels["le"])
        except (KeyError, IndexError, TypeError, ValueError):
            raise BackendDataError(BACKEND, "a latency bucket has no `le` or value") from None
        if math.isnan(value):
            raise BackendDataError(BACKEND, "a latency bucket rate is NaN")
        out.append(BucketRow(labels.get(ns_label, ""), labels.get(name_label, ""), le, value))
    return tuple(out)


class PrometheusInventory:
    """InventorySource over anything with `query(text, at)`: one Prometheus
    (collectors.prometheus.PrometheusCollector) or one per cluster, merged (ClusterPrometheus)."""

    name = BACKEND

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint

    def __repr__(self) -> str:
        return f"PrometheusInventory({self.endpoint!r})"

    def inventory_telemetry(self, query: InventoryQuery) -> InventoryTelemetry:
        for ns in query.namespaces:
            validate.namespace(ns)
        if not isinstance(query.window_s, int) or query.window_s <= 0:
            raise BadRequest("the window must be a positive number of seconds", field="window")
        requests = parse_requests(self.endpoint.query(requests_query(query), query.at))
        if query.kind is None:
            return InventoryTelemetry(query, requests, (), 1)
        buckets = parse_buckets(self.endpoint.query(buckets_query(query), query.at), query.kind)
        return InventoryTelemetry(query, requests, buckets, 2)
