"""Graph refresh at scale: 1,000 workloads, ~4,000 edges, 20 namespaces, on a real Prometheus.

    python bench/graph_scale.py [--namespaces 20] [--services-per-namespace 25] [--refreshes 5]

Generates the mesh with the simulator's generic spec (demo/spec.py), writes its Istio series as
OpenMetrics (demo/openmetrics.py), backfills a real Prometheus with promtool
(devtools/promserver.py), then measures, in a FRESH child process that only runs the app (so the
generator's memory does not count): PromQL queries per refresh, the time Prometheus spent
answering them (client-side wall time per query, and Prometheus's own
prometheus_http_request_duration_seconds for /api/v1/query), the end-to-end graph time
(collector + build_graph + graph_json, and GET /api/graph through the Flask app), the ratio of
the two, and the child's peak RSS.

Targets (issue 2): <= 6 queries per refresh at any size, end-to-end <= 1.3 x the Prometheus
time, peak RSS <= 300 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.scale_mesh import (  # noqa: E402 - after the path set-up
    END,
    TimedSession,
    load_prometheus,
    prometheus_answer_time,
    scale_spec,
)

WINDOW_S = 300
VIEWS = ("workload", "app", "versioned-app", "service")
TARGETS = {"queries": 6, "ratio": 1.3, "rss_mb": 300.0}


# ------------------------------------------------------------------------------------- measure


def measure(url: str, namespaces: list[str], refreshes: int) -> dict[str, Any]:
    """Runs in a fresh process: only the app's code is loaded, so its peak RSS is the app's."""
    from collectors.prometheus import PrometheusCollector
    from mesh.graph.build import build_graph, graph_json
    from mesh.telemetry_records import GraphQuery, GraphView

    session = TimedSession()
    collector = PrometheusCollector(url, timeout_s=120.0, session=session)
    out: dict[str, Any] = {"views": {}}

    for view_name in VIEWS:
        view = GraphView(view_name)
        query = GraphQuery(tuple(namespaces), view, WINDOW_S, END)
        build_graph(collector.graph_telemetry(query))  # warm Prometheus's page cache and ours
        rows = []
        for _ in range(refreshes):
            session.walls.clear()
            prom_before = prometheus_answer_time(url)
            began = time.perf_counter()
            telemetry = collector.graph_telemetry(query)
            t_collect = time.perf_counter()
            graph = build_graph(telemetry)
            t_build = time.perf_counter()
            body = graph_json(graph)
            t_json = time.perf_counter()
            prom_after = prometheus_answer_time(url)
            rows.append(
                {
                    "queries": telemetry.queries_sent,
                    "http_requests": len(session.walls),
                    "query_wall_s": sum(session.walls),
                    "prometheus_own_s": prom_after[0] - prom_before[0],
                    "prometheus_own_n": prom_after[1] - prom_before[1],
                    "end_to_end_s": t_json - began,
                    "collect_s": t_collect - began,
                    "build_s": t_build - t_collect,
                    "json_s": t_json - t_build,
                    "nodes": len(body["nodes"]),
                    "edges": len(body["edges"]),
                    "records": len(telemetry.requests)
                    + len(telemetry.latencies)
                    + len(telemetry.tcp),
                }
            )
        out["views"][view_name] = rows

    # The same refresh through the app: GET /api/graph (Flask test client, JSON serialisation),
    # with the app's own collector timed the same way.
    from app import create_app
    from wiring.services import Services
    from wiring.settings import Settings

    settings = Settings(
        prometheus_url=url, prometheus_timeout_s=120.0, default_namespaces=tuple(namespaces[:1])
    )
    app_session = TimedSession()
    app_collector = PrometheusCollector(url, timeout_s=120.0, session=app_session)
    client = create_app(
        settings, Services(settings=settings, telemetry=app_collector)
    ).server.test_client()
    qs = (
        "&".join(f"namespace={ns}" for ns in namespaces)
        + f"&graph=workload&window=5m&at={int(END)}"
    )
    client.get(f"/api/graph?{qs}")
    api_rows = []
    for _ in range(refreshes):
        app_session.walls.clear()
        prom_before = prometheus_answer_time(url)
        began = time.perf_counter()
        response = client.get(f"/api/graph?{qs}")
        elapsed = time.perf_counter() - began
        prom_after = prometheus_answer_time(url)
        if response.status_code != 200:
            raise SystemExit(
                f"/api/graph answered {response.status_code}: {response.get_data(as_text=True)[:300]}"
            )
        body = response.get_json()
        api_rows.append(
            {
                "end_to_end_s": elapsed,
                "query_wall_s": sum(app_session.walls),
                "http_requests": len(app_session.walls),
                "prometheus_own_s": prom_after[0] - prom_before[0],
                "bytes": len(response.get_data()),
                "edges": len(body["edges"]),
                "queries": body.get("queries"),
            }
        )
    out["api"] = api_rows

    # Query count does not depend on the mesh size: one namespace vs all of them.
    session.walls.clear()
    one = collector.graph_telemetry(GraphQuery((namespaces[0],), GraphView.WORKLOAD, WINDOW_S, END))
    out["queries_one_namespace"] = (one.queries_sent, len(session.walls))
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


# ------------------------------------------------------------------------------------- report


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(figures: dict[str, Any], m: dict[str, Any]) -> bool:
    print(
        f"mesh: {figures['workloads']} workloads, {figures['edges']} edges, {figures['namespaces']} namespaces"
    )
    print(
        f"data: {figures['series']:,} series, {figures['samples']:,} samples, "
        f"{figures['openmetrics_mb']:.0f} MB OpenMetrics; generated in {figures['generate_s']:.1f} s, "
        f"promtool + start {figures['load_s']:.1f} s"
    )
    print()
    header = f"{'view':<14}{'queries':>8}{'nodes':>7}{'edges':>7}{'prom wall':>11}{'prom own':>10}{'end-to-end':>12}{'ratio':>7}  (collect / build / json)"
    print(header)
    ok = True
    for view, rows in m["views"].items():
        prom = _median(rows, "query_wall_s")
        own = _median(rows, "prometheus_own_s")
        e2e = _median(rows, "end_to_end_s")
        ratio = e2e / prom
        ok &= all(
            r["queries"] <= TARGETS["queries"] and r["http_requests"] == r["queries"] for r in rows
        )
        ok &= ratio <= TARGETS["ratio"]
        print(
            f"{view:<14}{rows[0]['queries']:>8}{rows[0]['nodes']:>7}{rows[0]['edges']:>7}"
            f"{prom * 1000:>9.0f}ms{own * 1000:>8.0f}ms{e2e * 1000:>10.0f}ms{ratio:>7.2f}"
            f"  ({_median(rows, 'collect_s') * 1000:.0f} / {_median(rows, 'build_s') * 1000:.0f}"
            f" / {_median(rows, 'json_s') * 1000:.0f} ms)"
        )
    api = m["api"]
    api_prom = _median(api, "query_wall_s")
    api_e2e = _median(api, "end_to_end_s")
    api_ratio = api_e2e / api_prom
    ok &= api_ratio <= TARGETS["ratio"] and all(r["http_requests"] == r["queries"] for r in api)
    print(
        f"{'GET /api/graph':<14}{api[0]['queries']:>8}{'':>7}{api[0]['edges']:>7}"
        f"{api_prom * 1000:>9.0f}ms{_median(api, 'prometheus_own_s') * 1000:>8.0f}ms"
        f"{api_e2e * 1000:>10.0f}ms{api_ratio:>7.2f}  (workload view, {api[0]['bytes'] / 1e6:.1f} MB JSON)"
    )
    print()
    q_one, http_one = m["queries_one_namespace"]
    print(
        f"queries per refresh: {m['views']['workload'][0]['queries']} for {figures['namespaces']} namespaces, {q_one} for 1 (HTTP requests seen: {http_one})"
    )
    rss = m["peak_rss_mb"]
    ok &= rss <= TARGETS["rss_mb"] and q_one <= TARGETS["queries"]
    print(f"peak RSS of the app process: {rss:.0f} MB")
    print()
    print(
        "prom wall = sum of per-query HTTP wall times seen by the client (body included); "
        "prom own = Prometheus's prometheus_http_request_duration_seconds for /api/v1/query; "
        "ratio = end-to-end / prom wall (medians)."
    )
    verdict = "PASS" if ok else "MISS"
    print(
        f"targets: <= {TARGETS['queries']} queries, ratio <= {TARGETS['ratio']}, RSS <= {TARGETS['rss_mb']:.0f} MB: {verdict}"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--services-per-namespace", type=int, default=25)
    parser.add_argument("--refreshes", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=10.0, help="history to backfill")
    parser.add_argument("--step", type=float, default=15.0, help="sample interval (s)")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    namespaces = [f"ns-{n:02d}" for n in range(args.namespaces)]

    if args.measure:  # child process: measure only, print JSON
        print(json.dumps(measure(args.measure, namespaces, args.refreshes)))
        return 0

    spec = scale_spec(args.namespaces, args.services_per_namespace)
    with tempfile.TemporaryDirectory(prefix="meshdash-bench-") as tmp:
        server, figures = load_prometheus(spec, Path(tmp), args.minutes, args.step)
        figures.update(workloads=len(spec.workloads), namespaces=args.namespaces)
        try:
            child = subprocess.run(
                [sys.executable, __file__, "--measure", server.url, "--namespaces", str(args.namespaces),
                 "--refreshes", str(args.refreshes)],
                capture_output=True, text=True, cwd=REPO, check=False,
            )  # fmt: skip
            if child.returncode != 0:
                print(child.stderr, file=sys.stderr)
                return 2
            measured = json.loads(child.stdout.strip().splitlines()[-1])
        finally:
            server.close()
    return 0 if report(figures, measured) else 1


if __name__ == "__main__":
    raise SystemExit(main())
