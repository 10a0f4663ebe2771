"""Meshes written by hand for the reporter rules (issue 23): which report of a request counts.

Every rate is constant, so PromQL's rate() over the window is the rate written here, and the
tests compare the graph with PromQL's own answer on the report the rules choose. Namespace
`bookinfo` is the one selected; each report is written only where the case says it exists.

Requests (rps), one cluster:

- istio-system/istio-ingressgateway -> productpage-v1: 100 rps 200 and 4 rps 503, only the
  DESTINATION's report (the gateway is scraped by another Prometheus); mutual TLS.
- istio-ingressgateway -> mysql-v1 over TCP: only the destination's report; 3,000 B/s of it
  over mutual TLS, 1,000 B/s in plain text (both directions, caller's view: sent 3,200 B/s,
  received 800 B/s).
- productpage-v1 -> details-v1: 50 rps, BOTH reports; the destination says 30 rps mutual_tls
  and 20 rps none (mTLS 0.6).
- productpage-v1 -> payments/payments-v1: 10 rps, both reports, out of the selection.
- unmeshed caller (source_workload="unknown") -> productpage-v1: 2 rps, plain text.
- productpage-v1 -> host reviews.bookinfo.svc.cluster.local: 5 rps 503 NR that reached no pod
  (caller's report only, destination_service_namespace="unknown").
- shop/frontend-v1 -> reviews.bookinfo.svc.cluster.local: a storm of 40 rps 503 NR from another
  namespace, caller's report only, destination_service_name the host itself; and 8 rps 503 UH
  to reviews.other.svc.cluster.local, which is not in the selection.
- productpage-v1 -> bookinfo/legacy-worker, a workload without app/version labels and reached
  by IP (no service): 7 rps, both reports.
- bookinfo/batch-job, a caller without app labels -> details-v1: 3 rps, both reports.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from demo.series import CounterSeries

END = 1767222000.0  # 2025-12-31T23:00:00Z, inside one 2 h block
START = END - 900
STEP = 15
OFFSET = 1_000_000  # counters start high: rate() extrapolates freely to the window's edges
TIMES = START + STEP * np.arange(int((END - START) / STEP) + 1, dtype=np.float64)

NS = "bookinfo"


def workload(ns: str, name: str, app: str = "", version: str = "", cluster: str = "") -> dict:
    return {"ns": ns, "name": name, "app": app, "version": version, "cluster": cluster}


UNMESHED = workload("unknown", "unknown", "unknown", "unknown", "unknown")
GATEWAY = workload("istio-system", "istio-ingressgateway", "istio-ingressgateway", "latest")
PRODUCTPAGE = workload(NS, "productpage-v1", "productpage", "v1")
DETAILS = workload(NS, "details-v1", "details", "v1")
MYSQL = workload(NS, "mysql-v1", "mysql", "v1")
PAYMENTS = workload("payments", "payments-v1", "payments", "v1")
FRONTEND = workload("shop", "frontend-v1", "frontend", "v1")
LEGACY = workload(NS, "legacy-worker")  # no app, no version, no service
BATCH = workload(NS, "batch-job")  # a caller without labels
NO_POD = workload("unknown", "unknown", "unknown", "unknown", "unknown")


def labels(
    src: dict,
    dst: dict,
    reporter: str,
    *,
    service: str = "",
    service_ns: str = "",
    host: str = "",
    code: str = "200",
    flags: str = "-",
    security: str = "mutual_tls",
    protocol: str = "http",
) -> dict[str, str]:
    """Istio's labels of one report; empty values left out, as Prometheus drops them."""
    out = {
        "reporter": reporter,
        "source_workload": src["name"],
        "source_workload_namespace": src["ns"],
        "source_canonical_service": src["app"],
        "source_canonical_revision": src["version"],
        "source_cluster": src["cluster"],
        "destination_workload": dst["name"],
        "destination_workload_namespace": dst["ns"],
        "destination_canonical_service": dst["app"],
        "destination_canonical_revision": dst["version"],
        "destination_cluster": dst["cluster"],
        "destination_service": host
        or (f"{service}.{service_ns}.svc.cluster.local" if service else ""),
        "destination_service_name": service,
        "destination_service_namespace": service_ns,
        "request_protocol": protocol,
        "connection_security_policy": "unknown" if reporter == "source" else security,
    }
    if protocol != "tcp":
        out |= {"response_code": code, "response_flags": flags}
    return {k: v for k, v in out.items() if v != ""}


def counter(family: str, lbl: dict[str, str], rate: float) -> CounterSeries:
    values = (OFFSET + rate * (TIMES - START)).astype(np.int64)
    return CounterSeries(family, lbl, TIMES, values)


def requests(lbl: dict[str, str], rate: float) -> CounterSeries:
    return counter("istio_requests", lbl, rate)


def tcp(lbl: dict[str, str], sent: float, received: float) -> Iterable[CounterSeries]:
    """Caller-oriented bytes: Istio's *received* counter is what the caller sent."""
    yield counter("istio_tcp_received_bytes", lbl, sent)
    yield counter("istio_tcp_sent_bytes", lbl, received)


def both(src: dict, dst: dict, rate: float, **kw) -> list[CounterSeries]:
    """Both reports of the same requests (the destination's with kw's security policy)."""
    return [requests(labels(src, dst, r, **kw), rate) for r in ("source", "destination")]


def one_cluster_series() -> list[CounterSeries]:
    pp = {"service": "productpage", "service_ns": NS}
    details = {"service": "details", "service_ns": NS}
    out: list[CounterSeries] = [
        # Gateway -> productpage: the destination's report only.
        requests(labels(GATEWAY, PRODUCTPAGE, "destination", **pp), 100),
        requests(labels(GATEWAY, PRODUCTPAGE, "destination", code="503", **pp), 4),
        *tcp(
            labels(GATEWAY, MYSQL, "destination", service="mysql", service_ns=NS, protocol="tcp"),
            2400,
            600,
        ),
        *tcp(
            labels(
                GATEWAY,
                MYSQL,
                "destination",
                service="mysql",
                service_ns=NS,
                protocol="tcp",
                security="none",
            ),
            800,
            200,
        ),
        # productpage -> details: both reports; the destination's split 30 mTLS / 20 plain.
        requests(labels(PRODUCTPAGE, DETAILS, "source", **details), 50),
        requests(labels(PRODUCTPAGE, DETAILS, "destination", **details), 30),
        requests(labels(PRODUCTPAGE, DETAILS, "destination", security="none", **details), 20),
        *both(PRODUCTPAGE, PAYMENTS, 10, service="payments", service_ns="payments"),
        requests(labels(UNMESHED, PRODUCTPAGE, "destination", security="none", **pp), 2),
        # No route: the caller's report only.
        requests(
            labels(
                PRODUCTPAGE,
                NO_POD,
                "source",
                service="unknown",
                service_ns="unknown",
                host="reviews.bookinfo.svc.cluster.local",
                code="503",
                flags="NR",
            ),
            5,
        ),
        requests(
            labels(
                FRONTEND,
                NO_POD,
                "source",
                service="reviews.bookinfo.svc.cluster.local",
                service_ns="unknown",
                host="reviews.bookinfo.svc.cluster.local",
                code="503",
                flags="NR",
            ),
            40,
        ),
        requests(
            labels(
                FRONTEND,
                NO_POD,
                "source",
                service="reviews",
                service_ns="other",
                host="reviews.other.svc.cluster.local",
                code="503",
                flags="UH",
            ),
            8,
        ),
        # Workloads without app labels.
        *both(PRODUCTPAGE, LEGACY, 7, host="10.1.2.3:8080"),
        *both(BATCH, DETAILS, 3, **details),
    ]
    return out
