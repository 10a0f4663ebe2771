"""The scale benchmarks' shared set-up: a generated 20-namespace mesh in a real Prometheus.

bench/graph_scale.py and bench/inventory_scale.py measure different endpoints on the same data:
the simulator's generic spec (demo/spec.py) at scale, its Istio series written as OpenMetrics
(demo/openmetrics.py) and backfilled with promtool (devtools/promserver.py), and the same two
measuring tools: a requests session that times each HTTP exchange, and Prometheus's own answer
time. The project's modules are imported inside the functions, so a child process that only
measures the app does not load the generator.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import requests

# A fixed past instant, 2025-12-31T23:00:00Z: the backfilled minutes before it lie inside one of
# promtool's 2 h blocks (an instant ON a block boundary makes Prometheus read two blocks).
END = 1767222000.0


class TimedSession(requests.Session):
    """Wall time of each HTTP exchange, body included (stream=False reads it in send)."""

    def __init__(self) -> None:
        super().__init__()
        self.walls: list[float] = []

    def send(self, request, **kwargs):  # type: ignore[override]
        began = time.perf_counter()
        try:
            return super().send(request, **kwargs)
        finally:
            self.walls.append(time.perf_counter() - began)


def scale_spec(namespaces: int = 20, services_per_namespace: int = 25, seed: int = 7):
    """namespaces x services x 2 versions workloads; each workload calls 2 services (both
    versions answer), so edges ~= 4 x workloads. 70 % of calls stay in the namespace; a mix of
    HTTP, gRPC (some failing under HTTP 200) and TCP, with a little 4xx/5xx noise."""
    from demo.spec import Call, ErrorModel, LatencyModel, MeshSpec, Workload

    rng = random.Random(seed)
    services = [
        (f"ns-{n:02d}", f"svc-{s:02d}")
        for n in range(namespaces)
        for s in range(services_per_namespace)
    ]
    workloads = tuple(
        Workload(
            namespace=ns,
            name=f"{svc}-{version}",
            app=svc,
            version=version,
            service=svc,
            latency=LatencyModel(rng.uniform(2.0, 80.0), rng.uniform(0.3, 0.7)),
        )
        for ns, svc in services
        for version in ("v1", "v2")
    )
    by_ns: dict[str, list[tuple[str, str]]] = {}
    for key in services:
        by_ns.setdefault(key[0], []).append(key)
    calls = []
    for w in workloads:
        own = (w.namespace, w.service)
        chosen: set[tuple[str, str]] = set()
        while len(chosen) < 2:
            pool = by_ns[w.namespace] if rng.random() < 0.7 else services
            target = rng.choice(pool)
            if target != own:
                chosen.add(target)
        for ns, svc in sorted(chosen):
            kind = rng.random()
            if kind < 0.05:
                calls.append(
                    Call(w.namespace, w.name, ns, svc, protocol="tcp", rps=0.5,
                         sent_bps=rng.uniform(1e3, 1e5), received_bps=rng.uniform(1e4, 1e6))
                )  # fmt: skip
                continue
            grpc = kind < 0.35
            errors = ErrorModel()
            roll = rng.random()
            if grpc and roll < 0.3:
                errors = ErrorModel(grpc_errors=((14, rng.uniform(0.001, 0.08)),))
            elif roll < 0.25:
                errors = ErrorModel(
                    http_5xx=rng.uniform(0.0005, 0.05), http_4xx=rng.uniform(0.0, 0.03)
                )
            calls.append(
                Call(w.namespace, w.name, ns, svc, protocol="grpc" if grpc else "http",
                     rps=rng.uniform(0.5, 20.0), errors=errors)
            )  # fmt: skip
    return MeshSpec(workloads=workloads, calls=tuple(calls))


def load_prometheus(spec, workdir: Path, minutes: float, step: float):
    """Write the mesh's series and backfill a Prometheus with them; returns (server, figures)."""
    from demo.mesh import DemoMesh
    from demo.openmetrics import write_openmetrics
    from devtools.promserver import PrometheusServer

    start = END - minutes * 60
    mesh = DemoMesh(spec, clock=lambda: END, history_start=start)
    figures: dict[str, Any] = {"edges": len(mesh.model.flows_at(END))}
    began = time.perf_counter()
    stats = write_openmetrics(mesh.model, workdir / "mesh.om", start, END, step, full_labels=False)
    figures["generate_s"] = time.perf_counter() - began
    figures["series"], figures["samples"] = stats.series, stats.samples
    figures["openmetrics_mb"] = stats.bytes / 1e6
    server = PrometheusServer(workdir / "prom", startup_timeout_s=600)
    began = time.perf_counter()
    server.load_openmetrics(stats.path)
    stats.path.unlink()
    server.start()
    figures["load_s"] = time.perf_counter() - began
    return server, figures


def prometheus_answer_time(url: str) -> tuple[float, int]:
    """Prometheus's own total time answering /api/v1/query so far (seconds, count)."""
    text = requests.get(f"{url}/metrics", timeout=30).text
    total = count = 0.0
    for line in text.splitlines():
        if (
            line.startswith("prometheus_http_request_duration_seconds_")
            and 'handler="/api/v1/query"' in line
        ):
            name = line.split("{", 1)[0]
            if name.endswith("_sum"):
                total = float(line.rsplit(" ", 1)[1])
            elif name.endswith("_count"):
                count = float(line.rsplit(" ", 1)[1])
    return total, int(count)
