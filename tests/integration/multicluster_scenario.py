"""A two-cluster Bookinfo slice written by hand, with every expected figure computed by hand.

Clusters east and west, namespace `bookinfo`:

    unknown ──10 rps──▶ productpage-v1 (east) ──6 rps──▶ reviews-v1 (east)
                               │
                               └──4 rps, 10 % 503──▶ reviews-v2 (west) ──4 rps──▶ ratings-v1 (west)

Every call is reported twice, as Istio does: by the source proxy (stored in the CALLER's
cluster's Prometheus) and by the destination proxy (stored in the CALLEE's). The unknown caller
has no proxy, so only productpage's proxy reports it (east). Counters grow linearly, so rate()
is the slope exactly. The source reporter's buckets include network time and are deliberately
slower than the destination's: a graph that used them would show a different p95.

Hand-computed p95 (histogram_quantile: rank 0.95 * count, linear inside the bucket), from the
destination reporter's bucket rates (per second, cumulative):

- productpage -> reviews-v1: le 10: 3, le 25: 6, +Inf: 6. Rank 5.7 in (10, 25]:
  10 + (5.7 - 3) / (6 - 3) * 15 = 23.5 ms.
- productpage -> reviews-v2: le 10: 1, le 25: 2, le 50: 3.6, le 100: 4, +Inf: 4. Rank 3.8 in
  (50, 100]: 50 + (3.8 - 3.6) / (4 - 3.6) * 50 = 75 ms.
- reviews-v2 -> ratings-v1: le 5: 2, le 10: 4, +Inf: 4. Rank 3.8 in (5, 10]:
  5 + (3.8 - 2) / (4 - 2) * 5 = 9.5 ms.
- unknown -> productpage: le 25: 5, le 50: 10, +Inf: 10. Rank 9.5 in (25, 50]:
  25 + (9.5 - 5) / (10 - 5) * 25 = 47.5 ms.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demo.openmetrics import write_series
from demo.series import CounterSeries, HistogramSeries
from mesh.quantiles import ISTIO_BUCKETS_MS

END = 1767225600.0  # 2026-01-01T00:00:00Z, as the other integration scenarios
START = END - 1800
STEP = 15
NS = "bookinfo"
OFFSET = 1_000_000  # counters start high, so rate() extrapolates freely to the window's edges


@dataclass(frozen=True)
class Wl:
    name: str
    app: str
    version: str
    cluster: str


UNKNOWN_CALLER = Wl("unknown", "unknown", "unknown", "unknown")
PRODUCTPAGE = Wl("productpage-v1", "productpage", "v1", "east")
REVIEWS_V1 = Wl("reviews-v1", "reviews", "v1", "east")
REVIEWS_V2 = Wl("reviews-v2", "reviews", "v2", "west")
RATINGS = Wl("ratings-v1", "ratings", "v1", "west")


@dataclass(frozen=True)
class Call:
    source: Wl
    dest: Wl
    service: str
    codes: dict[str, float]  # response code -> rps
    dst_buckets: dict[float, float]  # upper bound (ms) -> cumulative rps; past the last: all
    src_buckets: dict[float, float]  # the source reporter's (slower: network time included)


CALLS: tuple[Call, ...] = (
    Call(UNKNOWN_CALLER, PRODUCTPAGE, "productpage", {"200": 10.0}, {25: 5, 50: 10}, {}),
    Call(PRODUCTPAGE, REVIEWS_V1, "reviews", {"200": 6.0}, {10: 3, 25: 6}, {250: 6}),
    Call(
        PRODUCTPAGE,
        REVIEWS_V2,
        "reviews",
        {"200": 3.6, "503": 0.4},
        {10: 1, 25: 2, 50: 3.6, 100: 4},
        {250: 4},
    ),
    Call(REVIEWS_V2, RATINGS, "ratings", {"200": 4.0}, {5: 2, 10: 4}, {250: 4}),
)

# Expected graph (workload view), by node id when both clusters are present.
EXPECTED_EDGES: dict[tuple[str, str], dict[str, float | bool]] = {
    ("unknown", "east:bookinfo/productpage-v1"): {
        "rps": 10.0,
        "error_rate": 0.0,
        "p95_ms": 47.5,
        "cross_cluster": False,
    },
    ("east:bookinfo/productpage-v1", "east:bookinfo/reviews-v1"): {
        "rps": 6.0,
        "error_rate": 0.0,
        "p95_ms": 23.5,
        "cross_cluster": False,
    },
    ("east:bookinfo/productpage-v1", "west:bookinfo/reviews-v2"): {
        "rps": 4.0,
        "error_rate": 0.1,
        "p95_ms": 75.0,
        "cross_cluster": True,
    },
    ("west:bookinfo/reviews-v2", "west:bookinfo/ratings-v1"): {
        "rps": 4.0,
        "error_rate": 0.0,
        "p95_ms": 9.5,
        "cross_cluster": False,
    },
}


def _labels(call: Call, reporter: str, code: str | None = None) -> dict[str, str]:
    s, d = call.source, call.dest
    labels = {
        "reporter": reporter,
        "source_workload": s.name,
        "source_workload_namespace": "unknown" if s is UNKNOWN_CALLER else NS,
        "source_canonical_service": s.app,
        "source_canonical_revision": s.version,
        "source_cluster": s.cluster,
        "destination_workload": d.name,
        "destination_workload_namespace": NS,
        "destination_canonical_service": d.app,
        "destination_canonical_revision": d.version,
        "destination_service": f"{call.service}.{NS}.svc.cluster.local",
        "destination_service_name": call.service,
        "destination_service_namespace": NS,
        "destination_cluster": d.cluster,
        "request_protocol": "http",
    }
    if code is not None:
        labels["response_code"] = code
    return labels


def _times() -> np.ndarray:
    return np.arange(START, END + 1, STEP, dtype=float)


def _counter(rps: float, times: np.ndarray) -> np.ndarray:
    per_step = round(rps * STEP)
    assert per_step == rps * STEP, "rates must be whole requests per step, for exact answers"
    return OFFSET + per_step * np.arange(len(times), dtype=np.int64)


def _histogram(call: Call, reporter: str, times: np.ndarray) -> HistogramSeries:
    cumulative = call.dst_buckets if reporter == "destination" else call.src_buckets
    total = sum(call.codes.values())
    rates = []
    for bound in ISTIO_BUCKETS_MS:
        below = [r for b, r in cumulative.items() if b <= bound]
        rates.append(max(below) if below else 0.0)
    rates.append(total)  # +Inf
    columns = [_counter(r, times) - OFFSET for r in rates]
    buckets = np.stack(columns, axis=1) + OFFSET
    return HistogramSeries(
        "istio_request_duration_milliseconds",
        _labels(call, reporter),
        times,
        buckets,
        np.zeros(len(times)),
    )


def series_by_cluster() -> dict[str, list[CounterSeries | HistogramSeries]]:
    """Every series, in the Prometheus of the cluster whose proxy reports it."""
    times = _times()
    out: dict[str, list[CounterSeries | HistogramSeries]] = {"east": [], "west": []}
    for call in CALLS:
        reporters = ["destination"] if call.source is UNKNOWN_CALLER else ["source", "destination"]
        for reporter in reporters:
            home = call.source.cluster if reporter == "source" else call.dest.cluster
            for code, rps in call.codes.items():
                out[home].append(
                    CounterSeries(
                        "istio_requests", _labels(call, reporter, code), times, _counter(rps, times)
                    )
                )
            out[home].append(_histogram(call, reporter, times))
    return out


def write(path: Path, clusters: tuple[str, ...]) -> Path:
    """OpenMetrics text of the given clusters' series (both: a global endpoint's view)."""
    parts = series_by_cluster()
    with open(path, "w", encoding="utf-8") as out:
        write_series(_chain(parts, clusters), out, tmpdir=str(path.parent))
    return path


def _chain(parts: dict[str, list], clusters: tuple[str, ...]) -> Iterator:
    for name in clusters:
        yield from parts[name]


@dataclass
class ClusterServers:
    """east and west (each holding what its own proxies report) and a global one with both."""

    east: object
    west: object
    both: object

    def urls(self) -> dict[str, str]:
        return {"east": self.east.url, "west": self.west.url}  # type: ignore[attr-defined]

    def close(self) -> None:
        for server in (self.east, self.west, self.both):
            server.close()  # type: ignore[attr-defined]


def start_servers(workdir: Path) -> ClusterServers:
    """Three real Prometheus servers backfilled with promtool (devtools/promserver.py)."""
    from devtools.promserver import PrometheusServer

    started = []
    try:
        for name, clusters in (
            ("east", ("east",)),
            ("west", ("west",)),
            ("both", ("east", "west")),
        ):
            server = PrometheusServer(workdir / name)
            started.append(server)
            server.load_openmetrics(write(workdir / f"{name}.om", clusters))
            server.start()
    except BaseException:
        for server in started:
            server.close()
        raise
    return ClusterServers(*started)
