"""The demo's SeriesSource: a service's history straight from the traffic model.

What a Prometheus would answer for collectors/prometheus_series.py's six range queries over the
demo's own series, computed from the model's exact cumulative counts: rate(x[r]) at t is
(C(t) - C(t - r)) / r. The rate range r is a whole number of steps (mesh.series.rate_interval),
so one grid of counters from start - r to end every step gives every point. The split follows
the TrafficState's weight timeline at every instant, so a weight change shows in the charts
exactly when it happened.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from demo.spec import Outcome
from demo.traffic import NBUCKETS, Edge, EdgeCounters, TrafficModel
from mesh.quantiles import ISTIO_BUCKETS_MS
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
)

_LES: tuple[float, ...] = (*ISTIO_BUCKETS_MS, math.inf)


def _inbound(q: SeriesQuery) -> Callable[[Edge], bool]:
    if q.target is Target.SERVICE:
        return lambda e: e.namespace == q.namespace and e.service == q.name
    return lambda e: e.destination.namespace == q.namespace and e.destination.name == q.name


def _outbound(q: SeriesQuery) -> Callable[[Edge], bool]:
    """A service's calls are its pods' (Istio's canonical service is the app label)."""
    if q.target is Target.SERVICE:
        return lambda e: (
            e.source.meshed and e.source.namespace == q.namespace and e.source.app == q.name
        )
    return lambda e: (
        e.source.meshed and e.source.namespace == q.namespace and e.source.name == q.name
    )


def _points(times: np.ndarray, values: np.ndarray, present: np.ndarray) -> Points:
    return tuple((float(t), float(v)) for t, v, p in zip(times, values, present, strict=True) if p)


class _Accumulator:
    """Sums rates per key where present; a key's timestamp exists when any part existed."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.values: dict[tuple, np.ndarray] = {}
        self.present: dict[tuple, np.ndarray] = {}

    def add(self, key: tuple, values: np.ndarray, present: np.ndarray) -> None:
        if key not in self.values:
            self.values[key] = np.zeros(self.n)
            self.present[key] = np.zeros(self.n, dtype=bool)
        self.values[key] += np.where(present, values, 0.0)
        self.present[key] |= present

    def items(self):
        for key, values in self.values.items():
            yield key, values, self.present[key]


class DemoSeriesSource:
    """SeriesSource over the simulator's TrafficModel (demo mode, and tests)."""

    name = "demo"

    def __init__(self, model: TrafficModel) -> None:
        self.model = model

    def _existed_before(self, t: float) -> set[tuple[str, Outcome | None]]:
        """(edge key, outcome) pairs whose counters already existed at t (None: a TCP edge).

        A counter exists from its first request on, as an Envoy stat does; later it reads 0/s.
        """
        model = self.model
        lo = model.history_start
        if lo is not None and t <= lo:
            return set()
        starts = [-1e18 if lo is None else lo, *model.state.change_times(lo or -1e18, t)]
        seen: set[tuple[str, Outcome | None]] = set()
        for s in starts:
            if s >= t:
                continue
            for f in model.flows_at(s):
                if f.edge.is_tcp:
                    seen.add((f.edge.key, None))
                seen.update((f.edge.key, o) for o, _ in f.outcomes)
        return seen

    def series_telemetry(self, query: SeriesQuery) -> SeriesTelemetry:
        step, r = query.step_s, query.rate_s
        lag = r // step  # rate_interval is a whole number of steps
        times = np.asarray(query.timestamps(), dtype=np.float64)
        n = len(times)
        t0 = float(times[0]) - lag * step
        before = self._existed_before(t0)
        inbound, outbound = _inbound(query), _outbound(query)
        acc = {
            name: _Accumulator(n)
            for name in ("in_req", "in_bkt", "in_tcp", "out_req", "out_bkt", "out_tcp")
        }

        def rate(cumulative: np.ndarray) -> np.ndarray:
            return (cumulative[lag:] - cumulative[:-lag]) / r

        # Before the model's history starts nothing was recorded: no point there, not zeros.
        # A point needs its whole rate range inside the history.
        start = self.model.history_start
        recorded = np.ones(n, dtype=bool) if start is None else times - r >= start

        def born(key: tuple[str, Outcome | None], cumulative: np.ndarray) -> np.ndarray:
            if key in before:
                return recorded
            return recorded & (cumulative[lag:] > 0)

        served: list[str] = []  # the services of a workload's inbound series with a point
        for c in self.model.counters(t0, float(times[-1]), step):
            edge = c.edge
            is_in, is_out = inbound(edge), outbound(edge)
            if not (is_in or is_out):
                continue
            if edge.is_tcp:
                seen = self._tcp(c, acc, is_in, is_out, rate, born)
            else:
                seen = self._requests(c, acc, is_in, is_out, rate, born)
            if is_in and seen:
                served.append(serving_service(edge.service, edge.destination.app))

        def requests(a: _Accumulator) -> tuple[RequestSeries, ...]:
            return tuple(
                RequestSeries(v, proto, code, grpc, _points(times, vals, pres), dest)
                for (v, dest, proto, code, grpc), vals, pres in a.items()
            )

        def buckets(a: _Accumulator) -> tuple[BucketSeries, ...]:
            return tuple(
                BucketSeries(le, _points(times, vals, pres), version=v, destination=dest)
                for (v, dest, le), vals, pres in a.items()
            )

        def tcp(a: _Accumulator) -> tuple[TcpSeries, ...]:
            keys = sorted({(v, dest) for (v, dest, _), _, _ in a.items()})
            out = []
            for v, dest in keys:
                flows = {}
                for direction in ("sent", "received"):
                    vals = a.values[(v, dest, direction)]
                    flows[direction] = _points(times, vals, a.present[(v, dest, direction)])
                out.append(TcpSeries(flows["sent"], flows["received"], v, dest))
            return tuple(out)

        return SeriesTelemetry(
            query=query,
            inbound=requests(acc["in_req"]),
            inbound_buckets=buckets(acc["in_bkt"]),
            inbound_tcp=tcp(acc["in_tcp"]),
            outbound=requests(acc["out_req"]),
            outbound_buckets=buckets(acc["out_bkt"]),
            outbound_tcp=tcp(acc["out_tcp"]),
            queries_sent=0,  # no backend is asked: the model answers in-process
            services=services_seen(served) if query.target is Target.WORKLOAD else (),
        )

    @staticmethod
    def _requests(c: EdgeCounters, acc, is_in: bool, is_out: bool, rate, born) -> bool:
        """Add the edge's request series; whether any of them has a point in the window."""
        edge = c.edge
        seen = False
        dest = f"{edge.namespace}/{edge.service}"
        # Latency as the collector takes it: the destination reporter where there is one.
        reporter = "destination" if "destination" in edge.reporters else "source"
        for outcome, cumulative in c.requests.items():
            present = born((edge.key, outcome), cumulative)
            seen = seen or bool(present.any())
            rps = rate(cumulative)
            cum_buckets = np.concatenate(
                [c.buckets[(reporter, outcome)], cumulative[:, None]], axis=1
            )
            labels = (edge.protocol, outcome.response_code, outcome.grpc_status)
            if is_in:
                acc["in_req"].add((edge.destination.version, "", *labels), rps, present)
                for j in range(NBUCKETS + 1):
                    acc["in_bkt"].add(
                        (edge.destination.version, "", _LES[j]), rate(cum_buckets[:, j]), present
                    )
            if is_out:
                acc["out_req"].add((edge.source.version, dest, *labels), rps, present)
                for j in range(NBUCKETS + 1):
                    acc["out_bkt"].add(("", dest, _LES[j]), rate(cum_buckets[:, j]), present)
        return seen

    @staticmethod
    def _tcp(c: EdgeCounters, acc, is_in: bool, is_out: bool, rate, born) -> bool:
        """Add the edge's byte series; whether they have a point in the window."""
        edge = c.edge
        assert c.sent_bytes is not None and c.received_bytes is not None
        present = born((edge.key, None), np.maximum(c.sent_bytes, c.received_bytes))
        dest = f"{edge.namespace}/{edge.service}"
        for direction, cumulative in (("sent", c.sent_bytes), ("received", c.received_bytes)):
            if is_in:
                acc["in_tcp"].add(
                    (edge.destination.version, "", direction), rate(cumulative), present
                )
            if is_out:
                acc["out_tcp"].add(
                    (edge.source.version, dest, direction), rate(cumulative), present
                )
        return bool(present.any())
