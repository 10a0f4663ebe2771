"""The `timeline` scenario of the session Prometheus: a known split and a known error burst.

Namespace `timeline`: `loadgen-v1` calls service `reviews` at 20 rps (0.1 % 503), and a caller
without a sidecar (`outside/cron`) at 2 rps, so it is seen only by the destination reporter.
reviews splits v1 60 / v2 30 / v3 10 (medians 10, 25 and 40 ms); v2 and v3 call `ratings` once
per request (0.5 % 503); v1 holds a TCP connection to `mysql` (10 kB/s up, 50 kB/s down).
The burst: reviews-v2 fails 40 % of its requests with 503 from BURST_START to BURST_END, and
only then. tests/integration/test_metrics_prometheus.py checks the charts against all of this.
"""

from __future__ import annotations

from collections.abc import Callable

from demo.mesh import DemoMesh
from demo.spec import Call, ErrorModel, LatencyModel, MeshSpec, Workload

NAMESPACE = "timeline"
SPLIT = {"v1": 60, "v2": 30, "v3": 10}
LOADGEN_RPS = 20.0
UNKNOWN_RPS = 2.0
BURST_VERSION = "v2"
BURST_ERROR_RATE = 0.4
MEDIANS_MS = {"v1": 10.0, "v2": 25.0, "v3": 40.0}
MYSQL_SENT_BPS = 10_000.0
MYSQL_RECEIVED_BPS = 50_000.0


def burst_times(end: float) -> tuple[float, float]:
    """The burst lies 50 to 40 minutes before the end of the data, on whole minutes."""
    return end - 50 * 60, end - 40 * 60


def timeline_spec() -> MeshSpec:
    ns = NAMESPACE

    def wl(app: str, version: str, median_ms: float, **kw) -> Workload:
        return Workload(
            ns,
            f"{app}-{version}",
            app,
            version,
            service=app,
            cluster="Kubernetes",
            latency=LatencyModel(median_ms, 0.5),
            **kw,
        )

    workloads = (
        Workload(ns, "loadgen-v1", "loadgen", "v1", cluster="Kubernetes"),
        Workload("outside", "cron", "cron", "v1", meshed=False),
        *(wl("reviews", v, MEDIANS_MS[v]) for v in SPLIT),
        wl("ratings", "v1", 3.0),
        wl("mysql", "v1", 1.0),
    )
    calls = (
        Call(ns, "loadgen-v1", ns, "reviews", rps=LOADGEN_RPS, errors=ErrorModel(http_5xx=0.001)),
        Call("outside", "cron", ns, "reviews", rps=UNKNOWN_RPS),
        Call(ns, "reviews-v2", ns, "ratings", per_request=1.0, errors=ErrorModel(http_5xx=0.005)),
        Call(ns, "reviews-v3", ns, "ratings", per_request=1.0, errors=ErrorModel(http_5xx=0.005)),
        Call(
            ns,
            "reviews-v1",
            ns,
            "mysql",
            protocol="tcp",
            rps=0.5,
            sent_bps=MYSQL_SENT_BPS,
            received_bps=MYSQL_RECEIVED_BPS,
        ),
    )
    return MeshSpec(workloads, calls, splits=((ns, "reviews", tuple(sorted(SPLIT.items()))),))


def timeline_mesh(make: Callable[[MeshSpec], DemoMesh], end: float) -> DemoMesh:
    """The scenario built by the session's own factory, with the burst on its state timeline."""
    mesh = make(timeline_spec())
    start, stop = burst_times(end)
    mesh.state.set_fault(
        NAMESPACE, f"reviews-{BURST_VERSION}", error_rate=BURST_ERROR_RATE, at=start
    )
    mesh.state.set_fault(NAMESPACE, f"reviews-{BURST_VERSION}", error_rate=0.0, at=stop)
    return mesh
