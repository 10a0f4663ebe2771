"""The integration scenarios: simulated meshes whose series a real Prometheus is backfilled with.

All data lies in a fixed PAST range, [SCENARIO_END - 2 h, SCENARIO_END] every 15 s, with
SCENARIO_END = 1767225600 (2026-01-01T00:00:00Z), so every figure is reproducible. Query at
`scenario_time` (the end of the data). Scenarios, each in its own namespace(s):

- `bookinfo`: Istio Bookinfo with reviews v1/v2 at 50/50 (v3 gets nothing, so it has no series),
  entered from istio-system/istio-ingressgateway.
- `shop` (gRPC and errors): ingress -> frontend-v1 over HTTP with 2 % 404 and 0.1 % 503;
  frontend-v1 -> cartservice-v1 over gRPC with 5 % grpc_response_status 14 answered HTTP 200;
  frontend-v1 -> productcatalog-v1 over gRPC, twice per request, no errors.
- an unknown caller: `legacy/legacy-cron` has no sidecar and calls shop/frontend at 2 rps, so it
  shows only under reporter="destination" with source_workload="unknown".
- `payments` (a canary pair across namespaces): frontend-v1 -> payments/payments, 0.2 per
  request, split v1 70 / v2 30, v1 median 20 ms and v2 median 60 ms.
- `data` (TCP): payments-v1, payments-v2 and data/reporting-v1 -> data/mysql over TCP.
- `quiet`: a namespace with no series at all (QUIET_NAMESPACE), for "no traffic" answers.
- `timeline` (and the unmeshed `outside/cron`): reviews v1/v2/v3 at 60/30/10 with an error burst
  in v2, for the service page's series (devtools/timeline_scenario.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from demo.bookinfo import bookinfo_spec
from demo.mesh import DemoMesh
from demo.openmetrics import write_series
from demo.series import mesh_series
from demo.spec import Call, ErrorModel, LatencyModel, MeshSpec, Workload
from devtools.timeline_scenario import timeline_mesh

SCENARIO_END = 1767225600.0
SCENARIO_START = SCENARIO_END - 2 * 3600
SCENARIO_STEP = 15.0
QUIET_NAMESPACE = "quiet"
BOOKINFO_SPLIT = {"v1": 50, "v2": 50}
PAYMENTS_SPLIT = {"v1": 70, "v2": 30}


def shop_spec() -> MeshSpec:
    """gRPC with errors, an unmeshed caller, a cross-namespace canary pair and TCP."""

    def wl(ns: str, app: str, version: str, median_ms: float, **kw: object) -> Workload:
        return Workload(
            namespace=ns,
            name=f"{app}-{version}",
            app=app,
            version=version,
            service=app,
            cluster="Kubernetes",
            latency=LatencyModel(median_ms, 0.5),
            **kw,  # type: ignore[arg-type]
        )

    gateway = Workload(
        "istio-system",
        "istio-ingressgateway",
        "istio-ingressgateway",
        "latest",
        cluster="Kubernetes",
    )
    cron = Workload("legacy", "legacy-cron", "legacy-cron", "v1", meshed=False)
    workloads = (
        gateway,
        cron,
        wl("shop", "frontend", "v1", 40.0),
        wl("shop", "cartservice", "v1", 6.0),
        wl("shop", "productcatalog", "v1", 4.0),
        wl("payments", "payments", "v1", 20.0),
        wl("payments", "payments", "v2", 60.0),
        wl("data", "reporting", "v1", 30.0),
        wl("data", "mysql", "v1", 1.0),
    )
    fe = ("shop", "frontend-v1")
    mysql = {"protocol": "tcp", "namespace": "data", "service": "mysql"}
    calls = (
        Call(
            "istio-system",
            "istio-ingressgateway",
            "shop",
            "frontend",
            rps=30.0,
            errors=ErrorModel(http_4xx=0.02, http_5xx=0.001),
        ),
        Call("legacy", "legacy-cron", "shop", "frontend", rps=2.0),
        Call(
            *fe,
            "shop",
            "cartservice",
            protocol="grpc",
            per_request=1.0,
            errors=ErrorModel(grpc_errors=((14, 0.05),)),
        ),
        Call(*fe, "shop", "productcatalog", protocol="grpc", per_request=2.0),
        Call(*fe, "payments", "payments", per_request=0.2),
        Call("payments", "payments-v1", **mysql, rps=3.0, sent_bps=40_000, received_bps=250_000),
        Call("payments", "payments-v2", **mysql, rps=1.0, sent_bps=15_000, received_bps=90_000),
        Call("data", "reporting-v1", **mysql, rps=0.5, sent_bps=2_000, received_bps=1_500_000),
    )
    return MeshSpec(
        workloads=workloads,
        calls=calls,
        splits=(("payments", "payments", tuple(sorted(PAYMENTS_SPLIT.items()))),),
    )


@dataclass(frozen=True)
class Scenarios:
    """The simulated meshes loaded into the session's Prometheus, for computing expectations."""

    bookinfo: DemoMesh
    shop: DemoMesh
    # A known split and an error burst (devtools/timeline_scenario.py).
    timeline: DemoMesh | None = None

    @property
    def meshes(self) -> tuple[DemoMesh, ...]:
        return tuple(m for m in (self.bookinfo, self.shop, self.timeline) if m is not None)


def build_scenarios() -> Scenarios:
    def make(spec: MeshSpec) -> DemoMesh:
        return DemoMesh(spec, clock=lambda: SCENARIO_END, history_start=SCENARIO_START)

    return Scenarios(
        bookinfo=make(bookinfo_spec(reviews_split=BOOKINFO_SPLIT)),
        shop=make(shop_spec()),
        timeline=timeline_mesh(make, SCENARIO_END),
    )


def write_scenarios(path: Path, scenarios: Scenarios, tmpdir: str | None = None) -> Path:
    """Every scenario's Istio series as one OpenMetrics file, for promtool."""
    with open(path, "w", encoding="utf-8") as out:
        series = (
            s
            for mesh in scenarios.meshes
            for s in mesh_series(mesh.model, SCENARIO_START, SCENARIO_END, SCENARIO_STEP)
        )
        write_series(series, out, tmpdir=tmpdir)
    return path
