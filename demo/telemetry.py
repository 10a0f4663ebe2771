"""The demo's TelemetrySource: graph telemetry computed from the traffic model.

It answers exactly what collectors/prometheus.py would get from a Prometheus holding the demo's
series: the same label sets (demo/series.py), the same reporter rule (DESIGN.md: count each
request once from reporter="source", plus reporter="destination" for callers outside the mesh;
latency from the destination reporter where present), the same `sum by` over the labels of
mesh/viewkeys.py, and mesh.metrics.histogram_quantile over the summed bucket rates. Only the
integer rounding of counters separates the two.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from demo.series import edge_labels as series_edge_labels
from demo.traffic import NBUCKETS, TrafficModel
from mesh.metrics import ISTIO_BUCKETS_MS, histogram_quantile
from mesh.records import (
    UNKNOWN,
    GraphQuery,
    GraphTelemetry,
    LatencyQuantiles,
    RequestRate,
    TcpRate,
)
from mesh.viewkeys import destination_endpoint, edge_labels, source_endpoint

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
        requests: dict[tuple[tuple[str, ...], str, str, str], float] = defaultdict(float)
        buckets: dict[str, dict[tuple[str, ...], np.ndarray]] = {
            "source": {},
            "destination": {},
        }
        tcp: dict[tuple[str, ...], list[float]] = {}
        for w in self.model.window(query.at, query.window_s):
            edge = w.edge
            for reporter in edge.reporters:
                labels = series_edge_labels(edge, reporter, mtls, full=False)
                if (
                    labels["source_workload_namespace"] not in selected
                    and labels["destination_service_namespace"] not in selected
                ):
                    continue
                key = tuple(labels.get(name, "") for name in by)
                counted = reporter == "source" or labels["source_workload"] == UNKNOWN
                if edge.is_tcp:
                    if counted:
                        acc = tcp.setdefault(key, [0.0, 0.0])
                        acc[0] += w.sent_bps
                        acc[1] += w.received_bps
                    continue
                if counted:
                    for outcome, rps in w.requests:
                        group = (key, edge.protocol, outcome.response_code, outcome.grpc_status)
                        requests[group] += rps
                per_reporter = buckets[reporter]
                if key not in per_reporter:
                    per_reporter[key] = np.zeros(NBUCKETS + 1)
                per_reporter[key] += np.asarray(w.buckets[reporter])

        def endpoints(key: tuple[str, ...]):
            labels = dict(zip(by, key, strict=True))
            return source_endpoint(labels, query.view), destination_endpoint(labels, query.view)

        request_records = []
        for (key, protocol, code, grpc), rps in sorted(requests.items()):
            src, dst = endpoints(key)
            request_records.append(RequestRate(src, dst, protocol, code, grpc, rps))
        latency_records = []
        for key in sorted(buckets["destination"].keys() | buckets["source"].keys()):
            preferred = buckets["destination"].get(key)
            chosen = preferred if preferred is not None else buckets["source"][key]
            p50, p95, p99 = quantiles(chosen)
            latency_records.append(LatencyQuantiles(*endpoints(key), p50, p95, p99))
        tcp_records = [TcpRate(*endpoints(key), s, r) for key, (s, r) in sorted(tcp.items())]
        return GraphTelemetry(
            query=query,
            requests=tuple(request_records),
            latencies=tuple(latency_records),
            tcp=tuple(tcp_records),
            queries_sent=0,
        )
