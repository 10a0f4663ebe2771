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
import resource
import time
from pathlib import Path
from typing import Any

import requests

# A fixed past instant, 2025-12-31T23:00:00Z: the backfilled minutes before it lie inside one of
# promtool's 2 h blocks (an instant ON a block boundary makes Prometheus read two blocks).
END = 1767222000.0


class TimedSession(requests.Session):
    """Wall time of each HTTP exchange, body included (stream=False reads it in send; a streamed
    body counts until its reader closes the answer), and its (start, end): queries sent at
    once overlap, so their span is not the sum of their walls."""

    def __init__(self) -> None:
        super().__init__()
        self.walls: list[float] = []
        self.spans: list[tuple[float, float]] = []

    def send(self, request, **kwargs):  # type: ignore[override]
        began = time.perf_counter()
        try:
            response = super().send(request, **kwargs)
        except BaseException:
            self._record(began)
            raise
        if not kwargs.get("stream"):
            self._record(began)
            return response
        # A streamed answer is read, and decoded, until its reader closes it.
        close = response.close

        def closed() -> None:
            close()
            if not getattr(response, "_timed", False):
                response._timed = True  # type: ignore[attr-defined]
                self._record(began)

        response.close = closed  # type: ignore[method-assign]
        return response

    def _record(self, began: float) -> None:
        ended = time.perf_counter()
        self.walls.append(ended - began)
        self.spans.append((began, ended))

    def clear(self) -> None:
        self.walls.clear()
        self.spans.clear()

    def span(self) -> float:
        """From the first query sent to the last answer read."""
        if not self.spans:
            return 0.0
        return max(e for _, e in self.spans) - min(b for b, _ in self.spans)


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


def simulated_live_services(settings: Any, telemetry: Any) -> Any:
    """The live wiring around a simulator's telemetry at END: the shared cache, and so the graph
    view's memo, that build_services gives a Prometheus-backed app (the topology's callbacks
    ask it again for the graph they show)."""
    from collectors.cache import SharedCache
    from ops.self_metrics import Metrics
    from wiring.services import Services

    metrics = Metrics()
    return Services(
        settings=settings,
        telemetry=telemetry,
        clock=lambda: END,
        cache=SharedCache.from_settings(settings, metrics),
        metrics=metrics,
    )


def load_prometheus(
    spec, workdir: Path, minutes: float, step: float, split: int | None = None, timeout_s: int = 600
) -> tuple[Any, dict[str, Any]]:
    """Write the mesh's series and backfill a Prometheus with them; returns (server, figures).

    `split`: one OpenMetrics file and one promtool call per `split` namespaces of the caller.
    """
    from demo.mesh import DemoMesh
    from demo.openmetrics import write_openmetrics, write_series_split
    from demo.series import mesh_series
    from devtools.promserver import PrometheusServer

    start = END - minutes * 60
    mesh = DemoMesh(spec, clock=lambda: END, history_start=start)
    figures: dict[str, Any] = {"edges": len(mesh.model.flows_at(END))}
    began = time.perf_counter()
    if split:
        names = sorted({w.namespace for w in spec.workloads})
        group = {ns: f"namespaces-{i // split:03d}" for i, ns in enumerate(names)}
        files = write_series_split(
            mesh_series(mesh.model, start, END, step, full=False),
            lambda labels: group.get(labels.get("source_workload_namespace", ""), "elsewhere"),
            workdir,
        )
    else:
        stats = write_openmetrics(
            mesh.model, workdir / "mesh.om", start, END, step, full_labels=False
        )
        files = [(stats.path, stats.series, stats.samples)]
    del mesh
    figures["generate_s"] = time.perf_counter() - began
    figures["files"] = len(files)
    figures["series"] = sum(n for _, n, _ in files)
    figures["samples"] = sum(n for _, _, n in files)
    figures["openmetrics_mb"] = sum(path.stat().st_size for path, _, _ in files) / 1e6
    figures["generator_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    server = PrometheusServer(
        workdir / "prom", startup_timeout_s=1800, extra_args=(f"--query.timeout={timeout_s}s",)
    )
    began = time.perf_counter()
    for path, _, _ in files:
        server.load_openmetrics(path)
        path.unlink()
    figures["promtool_s"] = time.perf_counter() - began
    # Only promtool children have been waited for so far: their largest peak RSS.
    figures["promtool_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    began = time.perf_counter()
    server.start()
    figures["start_s"] = time.perf_counter() - began
    figures["blocks"] = server.own_metric("prometheus_tsdb_blocks_loaded")
    figures["merge_s"] = server.wait_blocks_merged(1) if len(files) > 1 else 0.0
    figures["load_s"] = figures["promtool_s"] + figures["start_s"] + figures["merge_s"]
    figures["series_queryable"] = server.query_value('count({__name__=~".+"})', END)
    rss = server.own_metric("process_resident_memory_bytes")
    figures["prometheus_rss_mb"] = (rss or 0.0) / 1e6
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
