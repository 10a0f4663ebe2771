"""Overview and lists at scale: GET /api/namespaces and /api/list on a real Prometheus holding
20 namespaces of Istio series (bench/scale_mesh.py's generator, backfilled with promtool).

    python bench/inventory_scale.py [--namespaces 20] [--services-per-namespace 25] [--refreshes 5]

For each endpoint it prints the queries per refresh, the time of its PromQL (client-side wall
time of each HTTP exchange with Prometheus, body included, and Prometheus's own
prometheus_http_request_duration_seconds), the end-to-end time of the API request through the
Flask app, and their ratio. Target (issue 15): end-to-end <= 1.5 x the PromQL time, and at most
3 queries per refresh whatever the number of namespaces.
"""

from __future__ import annotations

import argparse
import statistics
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

TARGETS = {"ratio": 1.5, "queries": 3}


def measure(url: str, namespaces: list[str], refreshes: int) -> dict[str, list[dict[str, Any]]]:
    from app import create_app
    from collectors.prometheus import PrometheusCollector
    from collectors.prometheus_inventory import PrometheusInventory
    from wiring.services import Services
    from wiring.settings import Settings

    session = TimedSession()
    collector = PrometheusCollector(url, timeout_s=120.0, session=session)
    settings = Settings(prometheus_url=url, prometheus_timeout_s=120.0)
    services = Services(
        settings=settings, telemetry=collector, inventory=PrometheusInventory(collector)
    )
    client = create_app(settings, services).server.test_client()
    every = "&".join(f"namespace={ns}" for ns in namespaces)
    cases = {
        "GET /api/namespaces": f"/api/namespaces?at={int(END)}",
        **{
            f"GET /api/list kind={kind}": f"/api/list?kind={kind}&{every}&at={int(END)}"
            for kind in ("service", "workload", "app")
        },
    }
    out: dict[str, list[dict[str, Any]]] = {}
    for name, path in cases.items():
        client.get(path)  # warm Prometheus's page cache and ours
        rows = []
        for _ in range(refreshes):
            session.walls.clear()
            own_before = prometheus_answer_time(url)
            began = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - began
            own_after = prometheus_answer_time(url)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}")
            body = response.get_json()
            rows.append(
                {
                    "queries": len(session.walls),
                    "promql_s": sum(session.walls),
                    "prometheus_own_s": own_after[0] - own_before[0],
                    "end_to_end_s": elapsed,
                    "rows": len(body.get("rows", body.get("namespaces", []))),
                }
            )
        out[name] = rows
    return out


def report(measured: dict[str, list[dict[str, Any]]], figures: dict[str, Any]) -> bool:
    def med(rows: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print(
        f"mesh: {figures['namespaces']} namespaces, {figures['workloads']} workloads, "
        f"{figures['edges']} edges, {figures['series']:,} series, {figures['samples']:,} samples"
    )
    print(
        f"{'endpoint':<28} {'rows':>5} {'queries':>7} {'PromQL (client)':>16} "
        f"{'Prometheus own':>15} {'end-to-end':>11} {'ratio':>6}"
    )
    ok = True
    for name, rows in measured.items():
        promql, e2e = med(rows, "promql_s"), med(rows, "end_to_end_s")
        ratio = e2e / promql if promql else float("inf")
        queries = max(r["queries"] for r in rows)
        ok &= ratio <= TARGETS["ratio"] and queries <= TARGETS["queries"]
        print(
            f"{name:<28} {rows[0]['rows']:>5} {queries:>7} {promql * 1000:>13.0f} ms "
            f"{med(rows, 'prometheus_own_s') * 1000:>12.0f} ms {e2e * 1000:>8.0f} ms {ratio:>6.2f}"
        )
    print(
        f"targets: end-to-end <= {TARGETS['ratio']} x PromQL, <= {TARGETS['queries']} queries: "
        + ("met" if ok else "NOT met")
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--services-per-namespace", type=int, default=25)
    parser.add_argument("--refreshes", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=6.0, help="history to backfill")
    parser.add_argument("--step", type=float, default=15.0, help="sample interval (s)")
    args = parser.parse_args(argv)
    spec = scale_spec(args.namespaces, args.services_per_namespace)
    with tempfile.TemporaryDirectory(prefix="meshdash-bench-") as tmp:
        server, figures = load_prometheus(spec, Path(tmp), args.minutes, args.step)
        figures.update(workloads=len(spec.workloads), namespaces=args.namespaces)
        try:
            namespaces = [f"ns-{n:02d}" for n in range(args.namespaces)]
            measured = measure(server.url, namespaces, args.refreshes)
        finally:
            server.close()
    return 0 if report(measured, figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
