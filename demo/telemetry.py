"""The demo's TelemetrySource: graph telemetry computed from the traffic model.

It answers exactly what collectors/prometheus.py would get from a Prometheus holding the demo's
series: the same label sets (demo/series.py), the same reports (collectors/prometheus.py
traffic_parts: the caller's report of traffic starting in the selection, the destination's of
everything touching it, each record tagged with its reporter, Envoy flags and security policy,
so mesh/graph/reporters.py counts each request once; latency from the destination reporter where
present; in ambient mode, demo/series.ambient_reporter's waypoint reports), the same `sum by` over the labels of mesh/graph/edge_keys.py (with the workload-name
fallback), and mesh.quantiles.histogram_quantile over the summed bucket rates. Only the integer
rounding of counters separates the two.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from demo.series import ambient_reporter
from demo.series import edge_labels as series_edge_labels
from demo.traffic import NBUCKETS, TrafficModel
from mesh.graph.edge_keys import destination_endpoint, edge_labels, fallback_labels, source_endpoint
from mesh.quantiles import ISTIO_BUCKETS_MS, histogram_quantile
from mesh.telemetry_records import (
    UNKNOWN,
    GraphQuery,
    GraphTelemetry,
    LatencyQuantiles,
    RequestRate,
    TcpRate,
)

_BOUNDS = (*ISTIO_BUCKETS_MS, math.inf)


def quantiles(buckets: np.ndarray | tuple[float, ...]) -> tuple[float | None, ...]:
    """p50/p95/p99 of cumulative bucket rates (finite bounds then +Inf), as PromQL computes."""
    pairs = list(zip(_BOUNDS, (float(b) for b in buckets), strict=True))
    return tuple(histogram_quantile(q, pairs) for q in (0.5, 0.95, 0.99))


class DemoTelemetry:
    """mesh.sources.TelemetrySource over the simulator; sends no query anywhere."""

    name = "demo"

    def __init__(self, model: TrafficModel) -> None:
        self.model = model

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        by = edge_labels(query.view)
        selected = set(query.namespaces)
        mtls = self.model.spec.mtls
        ambient = frozenset(self.model.spec.ambient_namespaces)
        Group = tuple[tuple[str, ...], tuple[str, ...]]  # (edge key, fallback labels)
        requests: dict[tuple[Group, str, str, str, str, str, str], float] = defaultdict(float)
        buckets: dict[str, dict[Group, np.ndarray]] = {"source": {}, "destination": {}}
        tcp: dict[tuple[Group, str, str], list[float]] = {}
        labels_of: dict[Group, dict[str, str]] = {}
        for w in self.model.window(query.at, query.window_s):
            edge = w.edge
            for reporter in edge.reporters:
                said = ambient_reporter(edge, reporter, ambient)
                if said is None:
                    continue  # an ambient caller has no proxy of its own
                labels = series_edge_labels(edge, reporter, mtls, full=False)
                inside = labels["source_workload_namespace"] in selected
                if not inside and labels["destination_service_namespace"] not in selected:
                    continue
                if reporter == "source" and not inside:
                    continue  # every demo request reaches a pod: its destination reports it
                extra = fallback_labels(labels, query.view)
                group = (
                    tuple(labels.get(name, "") for name in by),
                    tuple(labels.get(name, "") for name in extra),
                )
                labels_of.setdefault(
                    group,
                    {**{n: labels.get(n, "") for n in by}, **{n: labels.get(n, "") for n in extra}},
                )
                security = labels.get("connection_security_policy", "")
                if edge.is_tcp:
                    acc = tcp.setdefault((group, reporter, security), [0.0, 0.0])
                    acc[0] += w.sent_bps
                    acc[1] += w.received_bps
                    continue
                for outcome, rps in w.requests:
                    key = (
                        group,
                        edge.protocol,
                        outcome.response_code,
                        outcome.grpc_status,
                        outcome.response_flags,
                        said,
                        security,
                    )
                    requests[key] += rps
                if reporter == "source" and labels["destination_workload"] != UNKNOWN:
                    continue  # latency: the caller's buckets only where no destination reports
                per_reporter = buckets[reporter]
                if group not in per_reporter:
                    per_reporter[group] = np.zeros(NBUCKETS + 1)
                per_reporter[group] += np.asarray(w.buckets[reporter])

        def endpoints(group: Group):
            labels = labels_of[group]
            return source_endpoint(labels, query.view), destination_endpoint(labels, query.view)

        request_records = []
        for (group, protocol, code, grpc, flags, reporter, security), rps in sorted(
            requests.items()
        ):
            src, dst = endpoints(group)
            request_records.append(
                RequestRate(src, dst, protocol, code, grpc, rps, reporter, flags, security)
            )
        latency_records = []
        for group in sorted(buckets["destination"].keys() | buckets["source"].keys()):
            preferred = buckets["destination"].get(group)
            chosen = preferred if preferred is not None else buckets["source"][group]
            p50, p95, p99 = quantiles(chosen)
            latency_records.append(LatencyQuantiles(*endpoints(group), p50, p95, p99))
        tcp_records = [
            TcpRate(*endpoints(group), s, r, reporter, security)
            for (group, reporter, security), (s, r) in sorted(tcp.items())
        ]
        return GraphTelemetry(
            query=query,
            requests=tuple(request_records),
            latencies=tuple(latency_records),
            tcp=tuple(tcp_records),
            queries_sent=0,
        )
