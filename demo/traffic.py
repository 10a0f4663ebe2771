"""The pure, deterministic traffic model: spec + state timeline -> rates at any time.

Three layers, each exact:
1. `solve_flows(spec, snapshot)`: noise-free rates of every concrete edge (caller workload ->
   destination workload through a service) under one state, propagating per-request calls
   downstream in dependency order, so a reviews split moves ratings traffic with it.
2. Noise: each edge's rate is multiplied by 1 +/- `noise` (seeded hash of edge and 15 s tick),
   constant within a tick, so charts wiggle but every figure is reproducible.
3. Integration: between state changes and tick boundaries everything is constant, so the
   integral of any rate over any interval is an exact finite sum. Window averages
   (`TrafficModel.window`) and the cumulative counters the series carry
   (`TrafficModel.counters`) come from the same sum, hence the demo graph equals what a
   Prometheus computes from the demo's series, up to the integer rounding of counters.
"""

from __future__ import annotations

import dataclasses
import functools
import graphlib
import hashlib
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from demo.spec import Call, MeshSpec, Outcome, Workload
from demo.state import StateSnapshot, TrafficState
from mesh.quantiles import ISTIO_BUCKETS_MS
from mesh.telemetry_records import UNKNOWN

NETWORK_MS = 0.5  # what the source reporter adds to the server time (one hop on a node network)
TICK_S = 15.0  # noise granularity, Prometheus's default scrape interval
NOISE = 0.03
# Latency moves as a real service's does: each destination's requests are a mixture of a fast
# and a slow regime (its latency model scaled by FAST and SLOW), and the slow share drifts over
# DRIFT_S with a jitter per tick. Mixing keeps every integral exact: a window's histogram is
# the two regimes' histograms weighted by the time-integrated share.
FAST, SLOW = 0.8, 1.25
DRIFT_S = 40 * 60.0
DRIFT, JITTER = 0.3, 0.2  # amplitude of the slow share's drift and of its per-tick jitter
NBUCKETS = len(ISTIO_BUCKETS_MS)

REPORTERS = ("source", "destination")

# Every caller without a sidecar collapses into this one node, as Istio labels it.
UNKNOWN_WORKLOAD = Workload(
    namespace=UNKNOWN, name=UNKNOWN, app=UNKNOWN, version=UNKNOWN, meshed=False, cluster=UNKNOWN
)


@dataclass(frozen=True, slots=True)
class Edge:
    """One concrete edge: caller workload -> destination workload through a service."""

    source: Workload
    destination: Workload
    namespace: str  # destination service namespace
    service: str
    protocol: str

    @property
    def key(self) -> str:
        s, d = self.source, self.destination
        return (
            f"{s.namespace}/{s.name}>{d.namespace}/{d.name}@{self.namespace}/{self.service}"
            f"/{self.protocol}"
        )

    @property
    def reporters(self) -> tuple[str, ...]:
        """Istio: a meshed caller's proxy reports too; an unknown caller only the server's."""
        return REPORTERS if self.source.meshed else ("destination",)

    @property
    def is_tcp(self) -> bool:
        return self.protocol == "tcp"


@dataclass(frozen=True, slots=True)
class EdgeFlow:
    """Noise-free traffic of one edge under one state.

    `rate` is requests/s (connections opened/s for tcp). The cdfs are the cumulative shares at
    each of ISTIO_BUCKETS_MS for the destination reporter (server time) and the source reporter
    (server time plus NETWORK_MS).
    """

    edge: Edge
    rate: float
    outcomes: tuple[tuple[Outcome, float], ...]
    server_cdf: tuple[float, ...]  # the fast regime (FAST); *_slow: the slow one (SLOW)
    client_cdf: tuple[float, ...]
    server_mean_ms: float
    client_mean_ms: float
    sent_bps: float = 0.0  # client -> server (Istio's istio_tcp_received_bytes_total)
    received_bps: float = 0.0  # server -> client (Istio's istio_tcp_sent_bytes_total)
    server_cdf_slow: tuple[float, ...] = ()
    client_cdf_slow: tuple[float, ...] = ()
    server_mean_slow_ms: float = 0.0
    client_mean_slow_ms: float = 0.0

    def cdf(self, reporter: str, slow: bool = False) -> tuple[float, ...]:
        if slow:
            return self.server_cdf_slow if reporter == "destination" else self.client_cdf_slow
        return self.server_cdf if reporter == "destination" else self.client_cdf

    def mean_ms(self, reporter: str, slow: bool = False) -> float:
        if slow:
            return (
                self.server_mean_slow_ms if reporter == "destination" else self.client_mean_slow_ms
            )
        return self.server_mean_ms if reporter == "destination" else self.client_mean_ms


@functools.lru_cache(maxsize=4096)
def _latency(
    workload: Workload, factor: float
) -> tuple[tuple[float, ...], tuple[float, ...], float, float]:
    model = workload.latency
    return (
        model.bucket_cdf(factor),
        model.bucket_cdf(factor, NETWORK_MS),
        model.mean_ms(factor),
        model.mean_ms(factor, NETWORK_MS),
    )


@functools.lru_cache(maxsize=64)
def _order(spec: MeshSpec) -> tuple[tuple[str, str], ...]:
    """Workloads in an order where every caller comes before the callee whose per-request
    calls depend on its inbound rate."""
    has_per_request = {c.source_key for c in spec.calls if c.per_request > 0}
    sorter: graphlib.TopologicalSorter[tuple[str, str]] = graphlib.TopologicalSorter()
    for w in spec.workloads:
        sorter.add(w.key)
    for c in spec.calls:
        for target in spec.versions(c.namespace, c.service).values():
            if target.key in has_per_request:
                sorter.add(target.key, c.source_key)
    try:
        return tuple(sorter.static_order())
    except graphlib.CycleError as exc:
        raise ValueError(f"per-request calls form a cycle: {exc.args[1]}") from None


@functools.lru_cache(maxsize=64)
def _calls_by_source(spec: MeshSpec) -> dict[tuple[str, str], tuple[Call, ...]]:
    out: dict[tuple[str, str], list[Call]] = defaultdict(list)
    for c in spec.calls:
        out[c.source_key].append(c)
    return {k: tuple(v) for k, v in out.items()}


def outage_share(call: Call, extra: float) -> float:
    """The share of a call's requests that fail from an outage (a fault, or one passed on from
    below), beside the call's everyday noise. Only these are passed on to the caller: everyday
    noise is answered gracefully, as Bookinfo's reviews shows "ratings unavailable"."""
    return max(0.0, failure_share(call, extra) - failure_share(call, 0.0))


def failure_share(call: Call, extra: float) -> float:
    """The share of a call's requests that fail (5xx, no response, gRPC error) for `extra`."""
    return sum(
        share
        for outcome, share in call.errors.outcomes(call.protocol, extra)
        if outcome.response_code == "0"
        or outcome.response_code.startswith("5")
        or outcome.grpc_status not in ("", "0")
    )


@functools.lru_cache(maxsize=256)
def passed_on(spec: MeshSpec, snapshot: StateSnapshot) -> dict[tuple[str, str], float]:
    """Per workload: the share of its requests that fail because a callee failed and the call
    passes failures on (Call.propagate), given the workload did not fail by itself. Outages
    pass on, everyday noise does not (outage_share).

    Callees are solved before their callers (memoised depth-first walk); a call cycle, which a
    spec with per-request calls cannot hold (_order refuses it), would count as no failure.
    Treat the result as read-only: it is shared by the cache.
    """
    calls = _calls_by_source(spec)
    down: dict[tuple[str, str], float] = {}

    def extra(w: Workload) -> float:
        fault = snapshot.fault(*w.key).error_rate
        return fault + (1.0 - fault) * solve(w)

    def solve(w: Workload) -> float:
        if w.key in down:
            return down[w.key]
        down[w.key] = 0.0  # a cycle stops here
        ok = 1.0
        for call in calls.get(w.key, ()):
            if not call.propagate or call.protocol == "tcp":
                continue
            versions = spec.versions(call.namespace, call.service)
            weights = snapshot.split(call.namespace, call.service)
            fails = sum(
                weight / 100.0 * outage_share(call, extra(versions[v]))
                for v, weight in weights.items()
                if weight > 0 and v in versions
            )
            ok *= (1.0 - call.propagate * fails) ** call.per_request
        down[w.key] = 1.0 - ok
        return down[w.key]

    for w in spec.workloads:
        solve(w)
    return down


@functools.lru_cache(maxsize=256)
def solve_flows(spec: MeshSpec, snapshot: StateSnapshot) -> tuple[EdgeFlow, ...]:
    """Every edge's noise-free traffic under one state, sorted by edge key.

    A destination's failures are its fault's error rate plus, on what is left, the failures its
    callees pass on to it (passed_on), so an outage at a leaf shows on every caller above it.
    """
    workloads = {w.key: w for w in spec.workloads}
    calls = _calls_by_source(spec)
    down = passed_on(spec, snapshot)
    inbound: dict[tuple[str, str], float] = defaultdict(float)
    rate: dict[Edge, float] = defaultdict(float)
    outcome_rate: dict[Edge, dict[Outcome, float]] = defaultdict(lambda: defaultdict(float))
    sent: dict[Edge, float] = defaultdict(float)
    received: dict[Edge, float] = defaultdict(float)
    for wkey in _order(spec):
        caller = workloads[wkey]
        source = caller if caller.meshed else UNKNOWN_WORKLOAD
        for call in calls.get(wkey, ()):
            total = call.rps + call.per_request * inbound[wkey]
            versions = spec.versions(call.namespace, call.service)
            shares = [
                (versions[v], w / 100.0)
                for v, w in snapshot.split(call.namespace, call.service).items()
                if w > 0 and v in versions
            ]
            mirror = snapshot.mirror(call.namespace, call.service)
            if mirror is not None and call.protocol != "tcp" and mirror.version in versions:
                shares.append((versions[mirror.version], mirror.percent / 100.0))
            for dest, share in shares:
                edge = Edge(source, dest, call.namespace, call.service, call.protocol)
                r = total * share
                if call.protocol == "tcp":
                    sent[edge] += call.sent_bps * share
                    received[edge] += call.received_bps * share
                else:
                    inbound[dest.key] += r
                    fault = snapshot.fault(*dest.key).error_rate
                    extra = fault + (1.0 - fault) * down.get(dest.key, 0.0)
                    for outcome, s in call.errors.outcomes(call.protocol, extra, fault):
                        outcome_rate[edge][outcome] += r * s
                rate[edge] += r
    flows = []
    for edge in sorted(rate, key=lambda e: e.key):
        r = rate[edge]
        if r <= 0 and sent[edge] <= 0 and received[edge] <= 0:
            continue
        factor = snapshot.fault(*edge.destination.key).latency_factor
        scdf, ccdf, smean, cmean = _latency(edge.destination, factor * FAST)
        scdf2, ccdf2, smean2, cmean2 = _latency(edge.destination, factor * SLOW)
        outs = tuple((o, v / r) for o, v in outcome_rate[edge].items() if r > 0 and v > 0)
        flow = EdgeFlow(edge, r, outs, scdf, ccdf, smean, cmean, sent[edge], received[edge])
        flows.append(
            dataclasses.replace(
                flow,
                server_cdf_slow=scdf2,
                client_cdf_slow=ccdf2,
                server_mean_slow_ms=smean2,
                client_mean_slow_ms=cmean2,
            )
        )
    return tuple(flows)


def edge_hash(key: str, seed: int = 0) -> int:
    """A stable 64-bit hash of an edge (Python's hash() is salted per process)."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def noise_factors(h: int, ticks: np.ndarray, noise: float) -> np.ndarray:
    """1 + noise * u, u uniform in [-1, 1) from splitmix64 of (edge hash, tick index)."""
    with np.errstate(over="ignore"):
        z = np.uint64(h) + ticks.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return 1.0 + noise * (2.0 * u - 1.0)


def slow_shares(h: int, mids: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """The slow regime's share of a destination's requests on each segment (midpoints `mids`,
    noise ticks `ticks`): a drift over DRIFT_S at a phase of its own, plus a per-tick jitter."""
    phase = (h % 10_000) / 10_000 * 2.0 * math.pi
    # Two periods that never line up, so the drift does not read as a clean wave.
    drift = DRIFT * (
        0.65 * np.sin(2.0 * math.pi * mids / DRIFT_S + phase)
        + 0.35 * np.sin(2.0 * math.pi * mids / (DRIFT_S * 2.71) + 3.0 * phase)
    )
    jitter = JITTER * (noise_factors(h ^ 0x5DEECE66D, ticks, 1.0) - 1.0)
    return np.clip(0.5 + drift + jitter, 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class _Plan:
    """[t0, t1] cut where ticks end and the state changes: rates are constant on each piece."""

    t0: float
    t1: float
    seg_len: np.ndarray  # seconds
    seg_tick: np.ndarray  # tick index (noise)
    seg_mid: np.ndarray  # seconds (latency drift)
    seg_epoch: np.ndarray  # index into epochs
    epochs: tuple[tuple[EdgeFlow, ...], ...]
    mark_end: np.ndarray  # for each mark: number of segments ending at or before it


@dataclass(frozen=True, slots=True)
class EdgeRate:
    """Instantaneous traffic of one edge, noise included."""

    flow: EdgeFlow
    rps: float
    outcomes: tuple[tuple[Outcome, float], ...]  # rps per outcome

    @property
    def edge(self) -> Edge:
        return self.flow.edge


@dataclass(frozen=True, slots=True)
class EdgeWindow:
    """Average traffic of one edge over a window (per second).

    buckets[reporter] are cumulative rates per finite bound of ISTIO_BUCKETS_MS followed by the
    +Inf rate (what `rate(..._bucket[w])` summed over outcomes gives). Edges that had traffic
    earlier but none in the window are present with zeros, as their counters still exist.
    """

    edge: Edge
    requests: tuple[tuple[Outcome, float], ...]
    buckets: dict[str, tuple[float, ...]]
    sum_ms: dict[str, float]
    connections_per_s: float = 0.0
    sent_bps: float = 0.0
    received_bps: float = 0.0

    @property
    def rps(self) -> float:
        return sum(r for _, r in self.requests)


@dataclass(frozen=True, slots=True)
class EdgeCounters:
    """Cumulative counters of one edge since `start`, at each grid time (floats; series.py
    rounds them). requests[outcome] has shape (M,), buckets[(reporter, outcome)] (M, NBUCKETS)
    for the finite bounds (the +Inf bucket is requests[outcome]), sum_ms likewise (M,)."""

    edge: Edge
    times: np.ndarray
    requests: dict[Outcome, np.ndarray]
    buckets: dict[tuple[str, Outcome], np.ndarray]
    sum_ms: dict[tuple[str, Outcome], np.ndarray]
    connections: np.ndarray | None = None
    sent_bytes: np.ndarray | None = None
    received_bytes: np.ndarray | None = None


class TrafficModel:
    """Rates of a spec under a state timeline, at any time, deterministically.

    `history_start`: the time before which there was no traffic and no counter (None: the spec
    defaults held forever, as for the live demo). Backfilled scenarios set it to the start of
    their data, so windows reaching before it agree with what Prometheus holds.
    """

    def __init__(
        self,
        spec: MeshSpec,
        state: TrafficState,
        *,
        tick_s: float = TICK_S,
        noise: float = NOISE,
        seed: int = 0,
        history_start: float | None = None,
    ) -> None:
        if tick_s <= 0 or not 0 <= noise < 1:
            raise ValueError("tick_s must be positive and noise in [0, 1)")
        self.spec = spec
        self.state = state
        self.tick_s = float(tick_s)
        self.noise = float(noise)
        self.seed = seed
        self.history_start = history_start
        self._hashes: dict[str, int] = {}

    # -- building blocks ------------------------------------------------------------------
    def flows_at(self, t: float) -> tuple[EdgeFlow, ...]:
        """Noise-free edge traffic under the state that holds at t (none before history)."""
        if self.history_start is not None and t < self.history_start:
            return ()
        return solve_flows(self.spec, self.state.snapshot(t))

    def _hash(self, edge: Edge) -> int:
        h = self._hashes.get(edge.key)
        if h is None:
            h = self._hashes[edge.key] = edge_hash(edge.key, self.seed)
        return h

    def noise_at(self, edge: Edge, t: float) -> float:
        tick = np.array([math.floor(t / self.tick_s)], dtype=np.int64)
        return float(noise_factors(self._hash(edge), tick, self.noise)[0])

    def _plan(self, t0: float, t1: float, marks: Sequence[float] = ()) -> _Plan:
        if not t1 >= t0:
            raise ValueError("the interval must not end before it starts")
        changes = self.state.change_times(t0, t1)
        hs = self.history_start
        if hs is not None and t0 < hs <= t1 and hs not in changes:
            changes = tuple(sorted((*changes, hs)))
        first_tick = math.floor(t0 / self.tick_s) + 1
        last_tick = math.ceil(t1 / self.tick_s) - 1
        ticks = np.arange(first_tick, last_tick + 1, dtype=np.float64) * self.tick_s
        points = np.unique(
            np.concatenate([[t0, t1], ticks, np.asarray(changes, float), np.asarray(marks, float)])
        )
        points = points[(points >= t0) & (points <= t1)]
        starts, ends = points[:-1], points[1:]
        mids = (starts + ends) / 2.0
        epoch_starts = np.asarray((t0, *changes), dtype=np.float64)
        seg_epoch = np.searchsorted(epoch_starts, mids, side="right") - 1
        epochs = tuple(self.flows_at(t) for t in epoch_starts)
        seg_tick = np.floor(mids / self.tick_s).astype(np.int64)
        mark_end = np.searchsorted(ends, np.asarray(marks, float), side="right")
        return _Plan(t0, t1, ends - starts, seg_tick, mids, seg_epoch, epochs, mark_end)

    def _unit(self, plan: _Plan, edge: Edge) -> np.ndarray:
        """Per segment: noise factor x seconds; any rate integrates as rate x this."""
        return noise_factors(self._hash(edge), plan.seg_tick, self.noise) * plan.seg_len

    def _slow(self, plan: _Plan, edge: Edge) -> np.ndarray:
        """Per segment: the slow regime's share of the edge's requests. Every version of a
        service drifts together (what slows them, a database or a node pool, is shared), so
        equal versions stay equal and a canary is judged on what it changed."""
        key = f"latency:{edge.destination.namespace}/{edge.destination.app}"
        h = self._hashes.get(key)
        if h is None:
            h = self._hashes[key] = edge_hash(key, self.seed)
        return slow_shares(h, plan.seg_mid, plan.seg_tick)

    @staticmethod
    def _tables(plan: _Plan) -> dict[Edge, list[EdgeFlow | None]]:
        """Each edge's flow in each epoch (None where it has no traffic)."""
        table: dict[Edge, list[EdgeFlow | None]] = {}
        for p, flows in enumerate(plan.epochs):
            for f in flows:
                table.setdefault(f.edge, [None] * len(plan.epochs))[p] = f
        return table

    # -- public figures -------------------------------------------------------------------
    def edge_rates(self, t: float) -> tuple[EdgeRate, ...]:
        """Instantaneous per-edge rates at t, noise included."""
        out = []
        for f in self.flows_at(t):
            k = self.noise_at(f.edge, t)
            out.append(EdgeRate(f, f.rate * k, tuple((o, f.rate * k * s) for o, s in f.outcomes)))
        return tuple(out)

    def window(self, t: float, window_s: float) -> tuple[EdgeWindow, ...]:
        """Exact averages over [t - window_s, t], per edge."""
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        plan = self._plan(t - window_s, t)
        table = self._tables(plan)
        out: dict[Edge, EdgeWindow] = {}
        for edge, per_epoch in table.items():
            seg_unit = self._unit(plan, edge)
            n = len(per_epoch)
            unit = np.bincount(plan.seg_epoch, weights=seg_unit, minlength=n)
            slow = np.bincount(
                plan.seg_epoch, weights=seg_unit * self._slow(plan, edge), minlength=n
            )
            out[edge] = _window_of(edge, per_epoch, unit, slow, window_s)
        for edge, outcomes in self._idle_before(t - window_s).items():
            if edge not in out:
                out[edge] = _idle_window(edge, outcomes)
            else:
                seen = {o for o, _ in out[edge].requests}
                extra = tuple((o, 0.0) for o in outcomes if o not in seen)
                if extra:
                    w = out[edge]
                    out[edge] = EdgeWindow(
                        edge, w.requests + extra, w.buckets, w.sum_ms, w.connections_per_s,
                        w.sent_bps, w.received_bps,
                    )  # fmt: skip
        return tuple(out[e] for e in sorted(out, key=lambda e: e.key))

    def _idle_before(self, t: float) -> dict[Edge, list[Outcome]]:
        """Edges and outcomes with traffic at some time before t (their counters exist)."""
        if self.history_start is not None and t <= self.history_start:
            return {}
        lo = -math.inf if self.history_start is None else self.history_start
        starts = [lo, *self.state.change_times(lo, t)]
        if self.history_start is None:
            starts[0] = -1e18  # any time before every change: the spec defaults
        seen: dict[Edge, list[Outcome]] = {}
        for s in starts:
            if s >= t:
                continue
            for f in self.flows_at(s):
                outs = seen.setdefault(f.edge, [])
                outs.extend(o for o, _ in f.outcomes if o not in outs)
        return seen

    def counters(
        self, start: float, end: float, step: float, edges_per_chunk: int = 256
    ) -> Iterator[EdgeCounters]:
        """Cumulative counters since `start` at start, start+step, ..., end, edge by edge.

        Streams so a 4,000-edge mesh over hours keeps memory bounded.
        """
        if step <= 0:
            raise ValueError("step must be positive")
        n = math.floor((end - start) / step + 1e-9) + 1
        times = start + step * np.arange(n, dtype=np.float64)
        plan = self._plan(start, float(times[-1]), times)
        table = self._tables(plan)
        edges = sorted(table, key=lambda e: e.key)
        for i in range(0, len(edges), edges_per_chunk):
            for edge in edges[i : i + edges_per_chunk]:
                unit = self._unit(plan, edge)
                slow = unit * self._slow(plan, edge)
                yield _counters_of(unit, slow, plan, edge, table[edge], times)


def _window_of(
    edge: Edge,
    per_epoch: list[EdgeFlow | None],
    unit: np.ndarray,
    slow_unit: np.ndarray,
    window_s: float,
) -> EdgeWindow:
    """unit[p]: noise-weighted seconds of epoch p inside the window; slow_unit[p] the part of
    them in the slow latency regime."""
    requests: dict[Outcome, float] = defaultdict(float)
    buckets = {r: np.zeros(NBUCKETS + 1) for r in edge.reporters}
    sum_ms = dict.fromkeys(edge.reporters, 0.0)
    conns = sent = received = 0.0
    for f, u, us in zip(per_epoch, unit, slow_unit, strict=True):
        if f is None:
            continue
        k = float(u) / window_s
        k_slow = float(us) / window_s
        if edge.is_tcp:
            conns += f.rate * k
            sent += f.sent_bps * k
            received += f.received_bps * k
            continue
        per_s = f.rate * k
        for o, s in f.outcomes:
            requests[o] += per_s * s
        per_s_slow = f.rate * k_slow
        per_s_fast = per_s - per_s_slow
        for r in edge.reporters:
            buckets[r][:NBUCKETS] += per_s_fast * np.asarray(f.cdf(r))
            buckets[r][:NBUCKETS] += per_s_slow * np.asarray(f.cdf(r, slow=True))
            buckets[r][NBUCKETS] += per_s
            sum_ms[r] += per_s_fast * f.mean_ms(r) + per_s_slow * f.mean_ms(r, slow=True)
    if edge.is_tcp:
        return EdgeWindow(edge, (), {}, {}, conns, sent, received)
    return EdgeWindow(
        edge=edge,
        requests=tuple(requests.items()),
        buckets={r: tuple(float(v) for v in b) for r, b in buckets.items()},
        sum_ms=sum_ms,
    )


def _idle_window(edge: Edge, outcomes: list[Outcome]) -> EdgeWindow:
    if edge.is_tcp:
        return EdgeWindow(edge, (), {}, {})
    zeros = (0.0,) * (NBUCKETS + 1)
    return EdgeWindow(
        edge,
        tuple((o, 0.0) for o in outcomes),
        dict.fromkeys(edge.reporters, zeros),
        dict.fromkeys(edge.reporters, 0.0),
    )


def _counters_of(
    unit_segments: np.ndarray,
    slow_segments: np.ndarray,
    plan: _Plan,
    edge: Edge,
    per_epoch: list[EdgeFlow | None],
    times: np.ndarray,
) -> EdgeCounters:
    m = len(times)
    # cum[p, i]: noise-weighted seconds of epoch p from the start up to grid time i.
    live = [(p, f) for p, f in enumerate(per_epoch) if f is not None]
    cum: dict[int, np.ndarray] = {}
    cum_slow: dict[int, np.ndarray] = {}
    for p, _ in live:
        in_p = plan.seg_epoch == p
        c = np.concatenate([[0.0], np.cumsum(np.where(in_p, unit_segments, 0.0))])
        cum[p] = c[plan.mark_end]
        c = np.concatenate([[0.0], np.cumsum(np.where(in_p, slow_segments, 0.0))])
        cum_slow[p] = c[plan.mark_end]
    if edge.is_tcp:
        conns, sent, received = np.zeros(m), np.zeros(m), np.zeros(m)
        for p, f in live:
            conns += cum[p] * f.rate
            sent += cum[p] * f.sent_bps
            received += cum[p] * f.received_bps
        return EdgeCounters(edge, times, {}, {}, {}, conns, sent, received)
    outcomes: list[Outcome] = []
    for _, f in live:
        outcomes.extend(o for o, _ in f.outcomes if o not in outcomes)
    requests: dict[Outcome, np.ndarray] = {}
    buckets: dict[tuple[str, Outcome], np.ndarray] = {}
    sums: dict[tuple[str, Outcome], np.ndarray] = {}
    for o in outcomes:
        req = np.zeros(m)
        per_rep = {r: np.zeros((m, NBUCKETS)) for r in edge.reporters}
        per_sum = {r: np.zeros(m) for r in edge.reporters}
        for p, f in live:
            share = dict(f.outcomes).get(o, 0.0)
            if share == 0.0:
                continue
            x = cum[p] * (f.rate * share)
            x_slow = cum_slow[p] * (f.rate * share)
            x_fast = x - x_slow
            req += x
            for r in edge.reporters:
                per_rep[r] += np.outer(x_fast, np.asarray(f.cdf(r)))
                per_rep[r] += np.outer(x_slow, np.asarray(f.cdf(r, slow=True)))
                per_sum[r] += x_fast * f.mean_ms(r) + x_slow * f.mean_ms(r, slow=True)
        requests[o] = req
        for r in edge.reporters:
            buckets[(r, o)] = per_rep[r]
            sums[(r, o)] = per_sum[r]
    return EdgeCounters(edge, times, requests, buckets, sums)
