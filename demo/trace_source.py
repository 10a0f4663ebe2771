"""Simulated Istio traces for the demo mesh, consistent with its spec and its state timeline.

Each request entering the mesh (a call with a fixed rate, e.g. gateway -> productpage) walks the
spec's calls: at every service a version is drawn from the weights that held at that moment
(TrafficState.split_at via its snapshot), so moving reviews to v3 on the releases page moves the
reviews spans to v3 and brings ratings spans with them (v2 and v3 call ratings, v1 does not).
Outcomes and latencies come from the same ErrorModel/LatencyModel as the metrics, plus the
state's faults. Every hop is an Envoy client span and an Envoy server span with Istio's tags;
in ambient mode (MeshSpec.ambient_namespaces) a hop into an ambient namespace is ONE span, its
waypoint's, shaped as Istio 1.29+ emits it (`node_id` `waypoint~...`, the waypoint's canonical
service, the destination's service name, the HTTPRoute backend in `upstream_cluster`; see
mesh.traces.analysis.waypoint_target), and an ambient caller has no client span of its own.

Time is cut into buckets; a bucket's requests are drawn from a generator seeded by (seed,
bucket), so any trace can be rebuilt from its id alone and nothing is precomputed: a search walks
buckets newest first and stops at its limit. Like a tail-sampling collector, the store keeps a
random BASE_SAMPLING of requests plus every failing and every slow one, so errors and slow
requests are there to be found. The failing and slow ones lean to the slower versions and to
those that call more (reviews v2 and v3 call ratings, whose 5xx noise marks a trace as failing):
after a 50/50 split of reviews about 60 % of all kept traces pass v2. The randomly kept ones
carry `sampler.type=probabilistic` on every span (a search on any service can ask for them):
comparisons between versions use those alone (mesh.traces.version_time).

That random sample is stratified, so it shows a split as exactly as the metrics do. Every
bucket keeps a fixed count (the bucket's share of `base_sampling` x the entry rate, carried over
between buckets), numbered in time order across buckets, so any time window holds a run of
consecutive numbers. A kept request's first draw at each call site with a split reads the
golden-ratio point of its number (`stratum`) instead of a random number: within a window lying
after the last change, N randomly kept requests through a split call hold each version
N x weight +/- stratum_bound(N) times (computed exactly: under 2.2 for N <= 24, the 1m window of
Bookinfo's sample, under 2.8 for N <= 100). The points of two split call sites in one request
are rotations of one another, so their versions are not independent; Bookinfo has one split
service.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from demo.spec import Call, MeshSpec, Outcome, Workload
from demo.state import StateSnapshot, TrafficState
from demo.traffic import failure_share, outage_share
from mesh.errors import NotFound
from mesh.traces.analysis import canonical_trace_id, join_service
from mesh.traces.records import Dependency, Process, RefType, Span, SpanRef, Tag, Trace, TraceQuery

BUCKET_S = 10
BASE_SAMPLING = 0.02
SLOW_FACTOR = 3.0  # a request is "slow" beyond this many times its entry service's median
NETWORK_MS = 0.5
GAP_MEAN_MS = 0.6  # a caller's own work between two of its calls, on average
WIRE_SIGMA = 0.6  # the spread of one direction of the wire around NETWORK_MS / 2
HTTP_PORT = 9080
MAX_DEPTH = 16
WAYPOINT_NAME = "waypoint"  # Istio's default waypoint name (demo/bookinfo.py)
# The stratified sample's points: k x (golden ratio - 1) mod 1, in 64-bit fixed point, so a
# number of 10^9 keeps the whole fraction (a float keeps 7 digits of it).
GOLDEN_64 = (math.isqrt(5 << 128) - (1 << 64)) // 2
_RS_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for pod-name suffixes
PATHS = {
    "productpage": "/productpage",
    "details": "/details/0",
    "reviews": "/reviews/0",
    "ratings": "/ratings/0",
}


def _h(*parts: object, size: int = 8) -> int:
    """A stable hash (Python's hash() is salted per process)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=size).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True, slots=True)
class PodIdentity:
    """Where a workload's (one) pod runs, stable for a given seed."""

    pod: str
    ip: str
    node: str

    @staticmethod
    def of(workload: Workload, seed: int) -> PodIdentity:
        h = _h("pod", seed, workload.namespace, workload.name)
        rs = "".join(_RS_ALPHABET[(h >> (5 * i)) % len(_RS_ALPHABET)] for i in range(9 + h % 2))
        suffix = "".join(_RS_ALPHABET[(h >> (3 * i + 50)) % len(_RS_ALPHABET)] for i in range(5))
        ip = f"10.244.{(h >> 20) % 3}.{2 + (h >> 30) % 250}"
        return PodIdentity(f"{workload.name}-{rs}-{suffix}", ip, f"demo-node-{1 + (h >> 40) % 3}")


def stratum(number: int, offset: int) -> float:
    """The `number`-th point of the golden-ratio sequence turned by `offset` (a 64-bit hash of
    the call site), in [0, 1): any N consecutive numbers cut [0, 1) into gaps of at most three
    lengths (the three-distance theorem), so every arc holds its share of them within
    stratum_bound(N). Computed in integers, so a number near 10^9 is exact."""
    return ((number * GOLDEN_64 + offset) % (1 << 64)) / float(1 << 64)


def stratum_bound(n: int) -> float:
    """The most that the count of n consecutive `stratum` points in an arc of [0, 1) can differ
    from n x the arc's length, over every arc, start and offset (all are turns of points 0..n-1).

    Exact, from the sorted points p_i: an arc from p_i to p_j holds j - i + 1 points, so its
    excess is 1 + q_j - q_i with q_i = i - n p_i, and an open one's shortfall 1 + q_i - q_j."""
    if n <= 0:
        return 0.0
    one = 1 << 64
    points = sorted(k * GOLDEN_64 % one for k in range(n))
    q = [i * one - n * p for i, p in enumerate(points)]
    return 1.0 + (max(q) - min(q)) / one


def _wire_ms(rng: random.Random) -> float:
    """One direction of one hop on the wire: lognormal around NETWORK_MS / 2."""
    return NETWORK_MS / 2 * math.exp(WIRE_SIGMA * rng.gauss(0.0, 1.0))


@dataclass(slots=True)
class Hop:
    """One call as it happened: caller -> destination version, with its timing and outcome.

    Times are milliseconds from the start of the request. `client_*` is the caller's Envoy
    span, `server_*` the destination's (inside it, NETWORK_MS later and earlier).
    """

    call: Call
    source: Workload
    destination: Workload
    outcome: Outcome
    client_start_ms: float
    client_ms: float
    children: tuple[Hop, ...]
    any_failed: bool = False  # this hop or one below it failed
    outage: bool = False  # it failed from a fault (or one passed on), not everyday noise
    net_in_ms: float = NETWORK_MS / 2  # client span start to server span start: the wire
    net_out_ms: float = NETWORK_MS / 2  # server span end to client span end

    @property
    def failed(self) -> bool:
        code = self.outcome.response_code
        return code == "0" or code.startswith("5") or self.outcome.grpc_status not in ("", "0")

    def walk(self) -> Iterator[Hop]:
        stack = [self]
        while stack:
            hop = stack.pop()
            yield hop
            stack.extend(reversed(hop.children))


@dataclass(frozen=True, slots=True)
class Request:
    """A kept request: where it sits (bucket, index) and what happened."""

    bucket: int
    index: int
    start_s: float
    root: Hop
    sampled: bool = False  # kept by the random base sample, not for being slow or failing

    @property
    def duration_ms(self) -> float:
        return self.root.client_ms

    def services(self) -> set[str]:
        out = set()
        for hop in self.root.walk():
            if hop.source.meshed:
                out.add(join_service(hop.source.app, hop.source.namespace))
            out.add(join_service(hop.destination.app, hop.destination.namespace))
        return out


class DemoTraceStore:
    """The demo's TraceSource, read in process: the same records the Jaeger collector decodes
    when a Jaeger endpoint serves this store (devtools/jaeger_server.py; the tests compare).

    Named and worded as the Jaeger it stands in for, so the demo's trace answers (`source`,
    "not found in Jaeger") are those of a cluster with Jaeger.
    """

    name = "jaeger"

    def __init__(
        self,
        spec: MeshSpec,
        state: TrafficState,
        *,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        bucket_s: int = BUCKET_S,
        base_sampling: float = BASE_SAMPLING,
        cache_buckets: int = 2048,
    ) -> None:
        self.spec = spec
        self.state = state
        self.seed = seed
        self.clock = clock
        self.bucket_s = bucket_s
        self.base_sampling = base_sampling
        self._cache: OrderedDict[int, tuple[tuple, tuple[Request, ...]]] = OrderedDict()
        self._cache_size = cache_buckets
        self._lock = threading.Lock()
        self._route_cache: dict[StateSnapshot, dict[int, _Route]] = {}
        self._pods = {w.key: PodIdentity.of(w, seed) for w in spec.workloads}
        self._ambient = frozenset(spec.ambient_namespaces)
        self._calls: dict[tuple[str, str], tuple[Call, ...]] = {}
        for c in spec.calls:
            if c.protocol != "tcp":  # Envoy does not trace TCP proxying
                self._calls.setdefault(c.source_key, ())
                self._calls[c.source_key] += (c,)
        self._entries = tuple(c for c in spec.calls if c.rps > 0 and c.protocol != "tcp")
        self._entry_rps = sum(c.rps for c in self._entries)
        self._entry_choice = _Choice([(c, c.rps) for c in self._entries])
        self._kept_per_bucket = self._entry_rps * bucket_s * base_sampling
        self._offsets = {
            id(c): _h("stratum", seed, c.source_key, c.namespace, c.service, c.protocol)
            for calls in self._calls.values()
            for c in calls
        }

    # ---- drawing requests ---------------------------------------------------------------

    def _snapshots(self, bucket: int) -> tuple[tuple[float, StateSnapshot], ...]:
        t0 = bucket * self.bucket_s
        t1 = t0 + self.bucket_s
        times = (t0, *self.state.change_times(t0, t1))
        return tuple((t, self.state.snapshot(t)) for t in times)

    def bucket(self, bucket: int) -> tuple[Request, ...]:
        """The kept requests of one bucket, oldest first (cached while the state agrees)."""
        snaps = self._snapshots(bucket)
        with self._lock:
            hit = self._cache.get(bucket)
            if hit is not None and hit[0] == snaps:
                self._cache.move_to_end(bucket)
                return hit[1]
        kept = self._draw(bucket, snaps)
        with self._lock:
            self._cache[bucket] = (snaps, kept)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return kept

    def sample_numbers(self, bucket: int) -> range:
        """The numbers of the bucket's randomly kept requests: floor(k x rate) for the buckets
        before, so the numbers run on from bucket to bucket in time order."""
        rate = self._kept_per_bucket
        return range(math.floor(bucket * rate), math.floor((bucket + 1) * rate))

    def _draw(
        self, bucket: int, snaps: tuple[tuple[float, StateSnapshot], ...]
    ) -> tuple[Request, ...]:
        if not self._entries:
            return ()
        rng = random.Random(_h("bucket", self.seed, bucket))
        t0 = bucket * self.bucket_s
        n = _poisson(rng, self._entry_rps * self.bucket_s)
        starts = sorted(t0 + rng.random() * self.bucket_s for _ in range(n))
        # Which requests the random sample keeps is random; how many is fixed, and their
        # numbers follow their start times (`starts` is sorted).
        numbers = self.sample_numbers(bucket)
        chosen = sorted(rng.sample(range(n), min(n, len(numbers))))
        number_of = dict(zip(chosen, numbers, strict=False))
        kept: list[Request] = []
        for index, start in enumerate(starts):
            snap = snaps[0][1]
            for t, s in snaps:
                if t <= start:
                    snap = s
            entry = self._entry_choice.draw(rng)
            source = self.spec.workload(entry.source_namespace, entry.source)
            number = number_of.get(index)
            strata = _Strata(number, set()) if number is not None else None
            root = self._hop(rng, self._routes(snap), entry, source, 0.0, 0, strata)
            if root is None:
                continue
            keep = index in number_of
            slow = root.client_ms > SLOW_FACTOR * root.destination.latency.median_ms
            if keep or slow or root.any_failed:
                kept.append(Request(bucket, index, start, root, keep))
        return tuple(kept)

    def _routes(self, snap: StateSnapshot) -> dict[int, _Route]:
        """Per call: the versions with their weights, and per version the outcomes, under one
        state. Computed once per state, so drawing a request is a few lookups and draws."""
        cached = self._route_cache.get(snap)
        if cached is not None:
            return cached
        routes: dict[int, _Route] = {}
        for calls in self._calls.values():
            for c in calls:
                versions = self.spec.versions(c.namespace, c.service)
                dests = []
                for v, w in snap.split(c.namespace, c.service).items():
                    if w > 0 and v in versions:
                        dest = versions[v]
                        fault = snap.fault(dest.namespace, dest.name)
                        outcomes = _Choice(list(c.errors.outcomes(c.protocol, fault.error_rate)))
                        failing = failure_share(c, fault.error_rate)
                        outage = outage_share(c, fault.error_rate) / failing if failing else 0.0
                        dests.append(((dest, fault.latency_factor, outcomes, outage), w))
                total = sum(w for _, w in dests)
                mean_ms = (
                    NETWORK_MS
                    + sum(d.latency.median_ms * f * w for (d, f, _, _), w in dests) / total
                    if dests
                    else 0.0
                )
                routes[id(c)] = _Route(_Choice(dests) if dests else None, mean_ms)
        with self._lock:
            if len(self._route_cache) > 256:
                self._route_cache.clear()
            self._route_cache[snap] = routes
        return routes

    def _hop(
        self,
        rng: random.Random,
        routes: dict[int, _Route],
        call: Call,
        source: Workload,
        at_ms: float,
        depth: int,
        strata: _Strata | None = None,
    ) -> Hop | None:
        route = routes.get(id(call))
        if route is None or route.dests is None:
            return None
        site = id(call)
        if strata is not None and len(route.dests.items) > 1 and site not in strata.used:
            strata.used.add(site)  # the site's first draw only: a second call draws at random
            picked = route.dests.at(stratum(strata.number, self._offsets[site]))
        else:
            picked = route.dests.draw(rng)
        dest, factor, outcomes, outage_given_failed = picked
        outcome = outcomes.draw(rng)
        model = dest.latency
        server_ms = model.median_ms * factor * math.exp(model.sigma * rng.gauss(0.0, 1.0))
        failed = outcome.response_code == "0" or outcome.response_code.startswith("5")
        # An outage (a fault) passes on to a caller that propagates; everyday noise does not.
        outage = failed and rng.random() < outage_given_failed
        # The wire each way takes its own time (median NETWORK_MS / 2, now and then several
        # times that), so a client span visibly holds its server span.
        net_in, net_out = _wire_ms(rng), _wire_ms(rng)
        server_start = at_ms + net_in
        gaps = 0.0
        children: list[Hop] = []
        if failed:
            server_ms *= 0.3  # fails fast, before calling anything downstream
        elif depth < MAX_DEPTH:
            # The latency model is the whole server time, callees included. The workload's own
            # work is that time less what its calls typically take under this split, so its self
            # time does not depend on which versions its callees happened to be in this request
            # (a slower callee makes the request slower, not the caller's own work shorter).
            calls = self._calls.get((dest.namespace, dest.name), ())
            typical = sum(c.per_request * routes[id(c)].mean_ms for c in calls if id(c) in routes)
            own_ms = max(0.2 * server_ms, server_ms - typical)
            pre_ms = max(0.2, 0.1 * own_ms)
            t = server_start + pre_ms
            for c in calls:
                count = int(c.per_request) + (1 if rng.random() < c.per_request % 1 else 0)
                for _ in range(count):
                    child = self._hop(rng, routes, c, dest, t, depth + 1, strata)
                    if child is not None:
                        children.append(child)
                        # The caller's own work between two calls (reading the answer,
                        # building the next request): calls never run back to back, so an
                        # earlier call such as details can be on the critical path.
                        gap = min(own_ms / 4, rng.expovariate(1.0 / GAP_MEAN_MS))
                        gaps += gap
                        t = child.client_start_ms + child.client_ms + gap
            server_ms = (t - server_start) + max(0.2, own_ms - pre_ms - gaps)
            if any(
                h.call.propagate and h.outage and rng.random() < h.call.propagate for h in children
            ):
                # A callee failed and this workload passes it on: its own answer is a 5xx
                # (as solve_flows counts it), so the failure's origin is the deepest span.
                outcome = call.errors.extra_outcome(call.protocol)
                failed = outage = True
        any_failed = failed or outcome.grpc_status not in ("", "0")
        any_failed = any_failed or any(c.any_failed for c in children)
        return Hop(
            call,
            source,
            dest,
            outcome,
            at_ms,
            net_in + server_ms + net_out,
            tuple(children),
            any_failed,
            outage,
            net_in,
            net_out,
        )

    # ---- ids --------------------------------------------------------------------------------

    def trace_id(self, req: Request) -> str:
        check = _h("trace", self.seed, req.bucket, req.index, size=9)
        return f"{check:018x}{req.bucket:010x}{req.index:04x}"

    def _locate(self, trace_id: str) -> tuple[int, int] | None:
        tid = canonical_trace_id(trace_id)
        if len(tid) != 32:
            return None
        try:
            check, bucket, index = int(tid[:18], 16), int(tid[18:28], 16), int(tid[28:], 16)
        except ValueError:
            return None
        if check != _h("trace", self.seed, bucket, index, size=9):
            return None
        return bucket, index

    # ---- building spans -----------------------------------------------------------------

    def build(self, req: Request) -> Trace:
        """Envoy's spans for one request: a client and a server span per hop."""
        tid = self.trace_id(req)
        base_us = round(req.start_s * 1e6)
        spans: list[Span] = []
        counter = 0

        def next_id() -> str:
            nonlocal counter
            counter += 1
            return f"{_h('span', tid, counter):016x}"

        request_id = f"{_h('xrid', tid):016x}"
        stack: list[tuple[Hop, str]] = [(req.root, "")]
        while stack:
            hop, parent = stack.pop()
            waypoint = hop.destination.namespace in self._ambient
            sidecar_caller = hop.source.meshed and hop.source.namespace not in self._ambient
            client_id = next_id() if sidecar_caller else ""
            server_id = next_id()
            start_us = base_us + round(hop.client_start_ms * 1000)
            dur_us = max(1, round(hop.client_ms * 1000))
            op = self._operation(hop)
            if waypoint and not client_id:  # the waypoint's span is the whole hop
                spans.append(
                    self._span(
                        tid, server_id, parent, op, start_us, dur_us, hop,
                        "server", request_id, req.sampled,
                    )
                )  # fmt: skip
                for child in reversed(hop.children):
                    stack.append((child, server_id))
                continue
            if client_id:
                spans.append(
                    self._span(
                        tid,
                        client_id,
                        parent,
                        op,
                        start_us,
                        dur_us,
                        hop,
                        "client",
                        request_id,
                        req.sampled,
                    )
                )
            net_in, net_out = round(hop.net_in_ms * 1000), round(hop.net_out_ms * 1000)
            spans.append(
                self._span(
                    tid,
                    server_id,
                    client_id or parent,
                    op,
                    start_us + net_in,
                    max(1, dur_us - net_in - net_out),
                    hop,
                    "server",
                    request_id,
                    req.sampled,
                )
            )
            for child in reversed(hop.children):
                stack.append((child, server_id))
        spans.sort(key=lambda s: s.start_us)
        return Trace(tid, tuple(spans))

    @staticmethod
    def _host(hop: Hop) -> str:
        return f"{hop.call.service}.{hop.call.namespace}.svc.cluster.local"

    def _operation(self, hop: Hop) -> str:
        return f"{self._host(hop)}:{HTTP_PORT}{PATHS.get(hop.call.service, '/')}"

    def _span(
        self,
        tid: str,
        sid: str,
        parent: str,
        op: str,
        start_us: int,
        dur_us: int,
        hop: Hop,
        kind: str,
        request_id: str,
        sampled: bool = False,
    ) -> Span:
        w = hop.source if kind == "client" else hop.destination
        pod = self._pods[w.key]
        proxy = "sidecar" if w.service else "router"
        host = self._host(hop)
        if kind == "server" and w.namespace in self._ambient:
            return self._waypoint_span(tid, sid, parent, op, start_us, dur_us, hop, sampled)
        status = hop.outcome.response_code
        tags = [
            Tag(
                "node_id",
                f"{proxy}~{pod.ip}~{pod.pod}.{w.namespace}~{w.namespace}.svc.cluster.local",
            ),
            Tag("zone", "demo-zone"),
            Tag("guid:x-request-id", request_id),
            Tag(
                "http.url",
                f"http://{hop.call.service}.{hop.call.namespace}:{HTTP_PORT}{PATHS.get(hop.call.service, '/')}",
            ),
            Tag("http.method", "GET"),
            Tag("downstream_cluster", "-"),
            Tag("user_agent", "Mozilla/5.0 (meshdash demo)"),
            Tag("http.protocol", "HTTP/1.1" if hop.call.protocol == "http" else "HTTP/2"),
            Tag(
                "peer.address",
                self._pods[hop.source.key].ip
                if kind == "server"
                else self._pods[hop.destination.key].ip,
            ),
            Tag("request_size", "0"),
            Tag("response_size", "0" if status == "0" else str(200 + _h(sid) % 4000)),
            Tag("component", "proxy"),
            Tag("istio.canonical_revision", w.version),
            Tag("istio.canonical_service", w.app),
            Tag("istio.mesh_id", "cluster.local"),
            Tag("istio.namespace", w.namespace),
            Tag(
                "upstream_cluster",
                f"outbound|{HTTP_PORT}|{hop.destination.version}|{host}"
                if kind == "client"
                else f"inbound|{HTTP_PORT}||",
            ),
            Tag(
                "upstream_cluster.name",
                f"outbound|{HTTP_PORT}|{hop.destination.version}|{host}"
                if kind == "client"
                else f"inbound|{HTTP_PORT}||",
            ),
            Tag("http.status_code", status),
            Tag("response_flags", hop.outcome.response_flags),
        ]
        if hop.outcome.grpc_status:
            tags.append(Tag("grpc.status_code", hop.outcome.grpc_status))
        if sampled:  # tagged as a head sampler does: the unbiased part of the sample
            tags.append(Tag("sampler.type", "probabilistic"))
        tags.append(Tag("span.kind", kind))
        if hop.failed:
            tags.append(Tag("otel.status_code", "ERROR"))
            tags.append(Tag("error", True, "bool"))
        process = Process(
            join_service(w.app, w.namespace),
            (Tag("hostname", pod.pod), Tag("ip", pod.ip), Tag("k8s.node.name", pod.node)),
        )
        refs = (SpanRef(RefType.CHILD_OF, tid, parent),) if parent else ()
        return Span(tid, sid, op, start_us, dur_us, process, refs, tuple(tags))

    def _waypoint_span(
        self,
        tid: str,
        sid: str,
        parent: str,
        op: str,
        start_us: int,
        dur_us: int,
        hop: Hop,
        sampled: bool,
    ) -> Span:
        """The destination waypoint's span of one hop. The waypoint routes to the HTTPRoute's
        per-version backend Service (`reviews-v2`) where the service has several versions, else
        to the service itself; it does not name the destination pod."""
        d = hop.destination
        ns = d.namespace
        wp = next((w for w in self.spec.workloads if w.key == (ns, WAYPOINT_NAME)), None)
        pod = self._pods[wp.key] if wp is not None else PodIdentity.of(d, self.seed)
        pod_name = pod.pod if wp is not None else f"{WAYPOINT_NAME}-{pod.pod.rsplit('-', 2)[-2]}"
        split = len(self.spec.versions(hop.call.namespace, hop.call.service)) > 1
        backend = f"{hop.call.service}-{d.version}" if split else hop.call.service
        cluster = f"inbound-vip|{HTTP_PORT}|http|{backend}.{ns}.svc.cluster.local"
        status = hop.outcome.response_code
        tags = [
            Tag("node_id", f"waypoint~{pod.ip}~{pod_name}.{ns}~{ns}.svc.cluster.local"),
            Tag("zone", "demo-zone"),
            Tag("http.url", f"http://{hop.call.service}.{hop.call.namespace}:{HTTP_PORT}"
                f"{PATHS.get(hop.call.service, '/')}"),
            Tag("http.method", "GET"),
            Tag("http.protocol", "HTTP/1.1" if hop.call.protocol == "http" else "HTTP/2"),
            Tag("peer.address", self._pods[hop.source.key].ip),
            Tag("component", "proxy"),
            Tag("istio.canonical_revision", "latest"),
            Tag("istio.canonical_service", WAYPOINT_NAME),
            Tag("istio.mesh_id", "cluster.local"),
            Tag("istio.namespace", ns),
            Tag("upstream_cluster", cluster),
            Tag("upstream_cluster.name", cluster),
            Tag("http.status_code", status),
            Tag("response_flags", hop.outcome.response_flags),
        ]  # fmt: skip
        if hop.outcome.grpc_status:
            tags.append(Tag("grpc.status_code", hop.outcome.grpc_status))
        if sampled:
            tags.append(Tag("sampler.type", "probabilistic"))
        tags.append(Tag("span.kind", "server"))
        if hop.failed:
            tags.append(Tag("otel.status_code", "ERROR"))
            tags.append(Tag("error", True, "bool"))
        process = Process(
            join_service(d.app, ns),  # Istio 1.29+: the destination service, not the waypoint
            (Tag("hostname", pod_name), Tag("ip", pod.ip), Tag("k8s.node.name", pod.node)),
        )
        refs = (SpanRef(RefType.CHILD_OF, tid, parent),) if parent else ()
        return Span(tid, sid, op, start_us, dur_us, process, refs, tuple(tags))

    # ---- TraceSource ------------------------------------------------------------------------

    def services(self) -> tuple[str, ...]:
        names = set()
        for c in self._entries:
            src = self.spec.workload(c.source_namespace, c.source)
            if src.meshed:
                names.add(join_service(src.app, src.namespace))
        for calls in self._calls.values():
            for c in calls:
                for w in self.spec.versions(c.namespace, c.service).values():
                    names.add(join_service(w.app, w.namespace))
                src = self.spec.workload(c.source_namespace, c.source)
                if src.meshed:
                    names.add(join_service(src.app, src.namespace))
        return tuple(sorted(names))

    def operations(self, service: str) -> tuple[str, ...]:
        ops = set()
        for calls in self._calls.values():
            for c in calls:
                src = self.spec.workload(c.source_namespace, c.source)
                dests = self.spec.versions(c.namespace, c.service).values()
                names = {join_service(w.app, w.namespace) for w in dests}
                if src.meshed:
                    names.add(join_service(src.app, src.namespace))
                if service in names:
                    host = f"{c.service}.{c.namespace}.svc.cluster.local"
                    ops.add(f"{host}:{HTTP_PORT}{PATHS.get(c.service, '/')}")
        return tuple(sorted(ops))

    def find_traces(self, query: TraceQuery) -> list[Trace]:
        """Newest first, as Jaeger returns them; stops as soon as `limit` traces matched."""
        now = self.clock()
        end_s = min(query.end_us / 1e6, now)
        start_s = query.start_us / 1e6
        out: list[Trace] = []
        if end_s < start_s or query.limit <= 0:
            return out
        b = math.floor(end_s / self.bucket_s)
        first = math.floor(start_s / self.bucket_s)
        while b >= first and len(out) < query.limit:
            for req in reversed(self.bucket(b)):
                if not start_s <= req.start_s <= end_s:
                    continue
                if query.service not in req.services():
                    continue
                trace = self.build(req)
                if _matches(trace, query):
                    out.append(trace)
                    if len(out) >= query.limit:
                        break
            b -= 1
        return out

    def get_trace(self, trace_id: str) -> Trace:
        where = self._locate(trace_id)
        if where is not None:
            bucket, index = where
            if bucket * self.bucket_s <= self.clock():
                for req in self.bucket(bucket):
                    if req.index == index and req.start_s <= self.clock():
                        return self.build(req)
        raise NotFound(f"trace {trace_id} not found in Jaeger")

    def ready(self) -> dict[str, object]:
        """/readyz: the simulated traces are always there (no endpoint to reach)."""
        return {"ok": True, "detail": f"{len(self.services())} services, simulated in process"}

    def dependencies(self, end_us: int, lookback_s: int) -> list[Dependency]:
        """Calls between services in the kept traces of the window (as Jaeger's job computes)."""
        counts: dict[tuple[str, str], int] = {}
        end_s = min(end_us / 1e6, self.clock())
        b = math.floor(end_s / self.bucket_s)
        first = math.floor((end_s - lookback_s) / self.bucket_s)
        for bucket in range(max(first, b - 360), b + 1):
            for req in self.bucket(bucket):
                for hop in req.root.walk():
                    parent = join_service(hop.source.app, hop.source.namespace)
                    child = join_service(hop.destination.app, hop.destination.namespace)
                    counts[(parent, child)] = counts.get((parent, child), 0) + 1
        return [Dependency(p, c, n) for (p, c), n in sorted(counts.items())]


class _Choice:
    """A weighted choice drawn with one random number and a binary search."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, pairs: list[tuple[Any, float]]) -> None:
        self.items = [item for item, _ in pairs]
        self.cum = list(itertools.accumulate(w for _, w in pairs))
        self.total = self.cum[-1] if self.cum else 0.0

    def draw(self, rng: random.Random) -> Any:
        return self.at(rng.random())

    def at(self, u: float) -> Any:
        """The item whose share of [0, 1) holds `u`."""
        i = bisect.bisect_right(self.cum, u * self.total)
        return self.items[min(i, len(self.items) - 1)]


@dataclass(frozen=True, slots=True)
class _Strata:
    """A randomly kept request's number in the sample, and the call sites it has drawn at."""

    number: int
    used: set[int]


@dataclass(frozen=True, slots=True)
class _Route:
    dests: _Choice | None
    mean_ms: float = 0.0  # a call's typical client time under this split (median latencies)


def _matches(trace: Trace, q: TraceQuery) -> bool:
    """Jaeger's rule: some span of the service matches operation, tags and duration bounds."""
    wanted = dict(q.tags)
    for s in trace.spans:
        if s.process.service != q.service:
            continue
        if q.operation and s.operation != q.operation:
            continue
        if q.min_duration_us is not None and s.duration_us < q.min_duration_us:
            continue
        if q.max_duration_us is not None and s.duration_us > q.max_duration_us:
            continue
        if wanted:
            have = {t.key: _tag_text(t.value) for t in s.tags}
            have.update({t.key: _tag_text(t.value) for t in s.process.tags})
            if any(have.get(k) != v for k, v in wanted.items()):
                continue
        return True
    return False


def _tag_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _poisson(rng: random.Random, lam: float) -> int:
    """Poisson draw; a normal approximation above 50 keeps it O(1)."""
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
