"""Ambient meshes written by hand (issue 21): L7 reported by waypoints, L4 by ztunnel.

Every rate is constant, so PromQL's rate() over the window is the rate written here; the tests
compare the graph with PromQL's own answer on the waypoint's series. Namespace `bookinfo` is
the one selected; its waypoint proxy is the workload `waypoint` (Istio's default name).

AMBIENT (every workload ambient, one waypoint):
- productpage-v1 -> reviews-v1: 60 rps 200 and 3 rps 503, waypoint only; latency mostly
  under 25 ms.
- productpage-v1 -> reviews-v2: 40 rps 200, waypoint only; slower (under 250 ms).
- reviews-v2 -> ratings-v1 over gRPC: 19 rps status 0 and 1 rps status 14 (UNAVAILABLE, HTTP
  200), waypoint only; ztunnel also reports this connection's bytes between the two workloads
  (both of its reports): they belong on the same edge, never a second one.
- productpage-v1 -> details-v1: no waypoint for details, so L4 only, ztunnel's two reports.
- ztunnel's L4 to and from the waypoint itself: productpage-v1 -> waypoint and
  waypoint -> reviews-v1 (both reports each): drawn only with waypoints shown.

MIXED (a namespace moving to ambient):
- productpage-v1 (sidecar) -> reviews-v1 (ambient): the caller's report AND the waypoint's, 50
  rps each with 2 rps 503 among them; the caller's histogram is slower (network time) than the
  waypoint's.
- reviews-v1 (ambient) -> ratings-v1 (sidecar): only the destination sidecar's report, 30 rps.
- reviews-v2 (ambient) -> ratings-v2 (ambient): only the waypoint's report, 20 rps, 4 of them
  500.
- productpage-v1 -> details-v1, both sidecars: both reports, 10 rps (as before ambient).
"""

from __future__ import annotations

import numpy as np

from demo.series import CounterSeries, HistogramSeries
from mesh.quantiles import ISTIO_BUCKETS_MS
from tests.integration.reporters_scenario import (
    END,
    NS,
    OFFSET,
    START,
    TIMES,
    requests,
    tcp,
    workload,
)
from tests.integration.reporters_scenario import labels as report_labels

__all__ = ["END", "NS", "START"]

PRODUCTPAGE = workload(NS, "productpage-v1", "productpage", "v1")
REVIEWS1 = workload(NS, "reviews-v1", "reviews", "v1")
REVIEWS2 = workload(NS, "reviews-v2", "reviews", "v2")
RATINGS1 = workload(NS, "ratings-v1", "ratings", "v1")
RATINGS2 = workload(NS, "ratings-v2", "ratings", "v2")
DETAILS = workload(NS, "details-v1", "details", "v1")
WAYPOINT = workload(NS, "waypoint", "waypoint", "latest")

FAST = {25.0: 0.6, 50.0: 0.95}  # share of requests at or under each bound (ms)
SLOW = {100.0: 0.3, 250.0: 0.9, 500.0: 1.0}


def svc(name: str) -> dict[str, str]:
    return {"service": name, "service_ns": NS}


def histogram(lbl: dict[str, str], rps: float, shares: dict[float, float]) -> HistogramSeries:
    """Constant-rate buckets: `shares` of the `rps` requests at or under each bound."""
    rates = []
    for bound in ISTIO_BUCKETS_MS:
        below = [share for b, share in shares.items() if b <= bound]
        rates.append(rps * max(below) if below else 0.0)
    rates.append(rps)  # +Inf
    elapsed = TIMES - START
    buckets = np.stack([OFFSET + (r * elapsed).astype(np.int64) for r in rates], axis=1)
    return HistogramSeries(
        "istio_request_duration_milliseconds", lbl, TIMES, buckets, np.zeros(len(TIMES))
    )


def l7(src: dict, dst: dict, reporter: str, codes: dict[str, float], shares, **kw) -> list:
    """Request counters per code, and one histogram per code, from one reporter."""
    out: list[CounterSeries | HistogramSeries] = []
    for code, rps in codes.items():
        lbl = report_labels(src, dst, reporter, code=code, **kw)
        out += [requests(lbl, rps), histogram(lbl, rps, shares)]
    return out


def grpc(src: dict, dst: dict, reporter: str, statuses: dict[str, float], shares, **kw) -> list:
    out: list[CounterSeries | HistogramSeries] = []
    for status, rps in statuses.items():
        lbl = report_labels(src, dst, reporter, protocol="grpc", **kw)
        lbl["grpc_response_status"] = status
        out += [requests(lbl, rps), histogram(lbl, rps, shares)]
    return out


def l4(src: dict, dst: dict, sent: float, received: float, **kw) -> list[CounterSeries]:
    """ztunnel's two reports of one connection's bytes (caller-oriented)."""
    return [
        s
        for reporter in ("source", "destination")
        for s in tcp(report_labels(src, dst, reporter, protocol="tcp", **kw), sent, received)
    ]


def ambient_series() -> list[CounterSeries | HistogramSeries]:
    wp = "waypoint"
    return [
        *l7(PRODUCTPAGE, REVIEWS1, wp, {"200": 60, "503": 3}, FAST, **svc("reviews")),
        *l7(PRODUCTPAGE, REVIEWS2, wp, {"200": 40}, SLOW, **svc("reviews")),
        *grpc(REVIEWS2, RATINGS1, wp, {"0": 19, "14": 1}, FAST, **svc("ratings")),
        *l4(REVIEWS2, RATINGS1, 3000, 9000, **svc("ratings")),
        *l4(PRODUCTPAGE, DETAILS, 1200, 4800, **svc("details")),
        *l4(PRODUCTPAGE, WAYPOINT, 20000, 80000, **svc("reviews")),
        *l4(WAYPOINT, REVIEWS1, 12000, 48000, **svc("reviews")),
    ]


def mixed_series() -> list[CounterSeries | HistogramSeries]:
    reviews, ratings = svc("reviews"), svc("ratings")
    return [
        *l7(PRODUCTPAGE, REVIEWS1, "source", {"200": 48, "503": 2}, SLOW, **reviews),
        *l7(PRODUCTPAGE, REVIEWS1, "waypoint", {"200": 48, "503": 2}, FAST, **reviews),
        *l7(REVIEWS1, RATINGS1, "destination", {"200": 30}, FAST, **ratings),
        *l7(REVIEWS2, RATINGS2, "waypoint", {"200": 16, "500": 4}, SLOW, **ratings),
        *l7(PRODUCTPAGE, DETAILS, "source", {"200": 10}, SLOW, **svc("details")),
        *l7(PRODUCTPAGE, DETAILS, "destination", {"200": 10}, FAST, **svc("details")),
    ]
