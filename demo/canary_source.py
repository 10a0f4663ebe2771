"""The canary analysis inputs from the simulator's traffic model, shaped as Prometheus gives them.

The model integrates every rate exactly over the window (demo/traffic.py), so the counts here
are what `increase(...[window])` would return on the demo's series without extrapolation
error: requests counted once per edge (the traffic itself, not per reporter) and the latency
histogram from the destination reporter (server time), both as DESIGN.md prescribes. A fault
set with TrafficState.set_fault shows up here from the moment it takes effect.
"""

from __future__ import annotations

import math
from collections import defaultdict

from demo.traffic import TrafficModel
from mesh.canary.records import BucketCount, CanaryQuery, CanaryTelemetry, OutcomeCount
from mesh.quantiles import ISTIO_BUCKETS_MS

REPORTER = "destination"


class DemoCanarySource:
    """CanarySource over the simulator: one window integration per analysis."""

    name = "demo"

    def __init__(self, model: TrafficModel) -> None:
        self.model = model

    def canary_telemetry(self, query: CanaryQuery) -> CanaryTelemetry:
        versions = {query.baseline, query.canary}
        outcomes: dict[tuple[str, str, str], float] = defaultdict(float)
        buckets: dict[tuple[str, float], float] = defaultdict(float)
        bounds = (*ISTIO_BUCKETS_MS, math.inf)
        for w in self.model.window(query.at, query.window_s):
            edge = w.edge
            version = edge.destination.version
            if (
                edge.is_tcp
                or edge.namespace != query.namespace
                or edge.service != query.service
                or version not in versions
            ):
                continue
            for outcome, rps in w.requests:
                key = (version, outcome.response_code, outcome.grpc_status)
                outcomes[key] += rps * query.window_s
            for le, rps in zip(bounds, w.buckets.get(REPORTER, ()), strict=False):
                buckets[(version, le)] += rps * query.window_s
        return CanaryTelemetry(
            query=query,
            outcomes=tuple(
                OutcomeCount(v, code, grpc, n) for (v, code, grpc), n in outcomes.items()
            ),
            buckets=tuple(BucketCount(v, le, n) for (v, le), n in buckets.items()),
            queries_sent=0,
        )
