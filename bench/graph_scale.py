"""Graph refresh at scale: 1,000 workloads, ~4,000 edges, 20 namespaces, on a real Prometheus.

    python bench/graph_scale.py [--namespaces 20] [--services-per-namespace 25] [--refreshes 5]
    python bench/graph_scale.py --namespaces 100 --split-by-namespace 10 --compare-with DIR


Generates the mesh with the simulator's generic spec (demo/spec.py), writes its Istio series as
OpenMetrics (demo/openmetrics.py), backfills a real Prometheus with promtool
(devtools/promserver.py), then measures, in a FRESH child process that only runs the app (so the
generator's memory does not count): PromQL queries per refresh, the time Prometheus spent
answering them (client-side wall time per query, and Prometheus's own
prometheus_http_request_duration_seconds for /api/v1/query), the end-to-end graph time
(collector + build_graph + graph_json, and GET /api/graph through the Flask app), the ratio of
the two, and the child's peak RSS.

Targets (P1, issue 2): <= 6 queries per refresh at any size, end-to-end <= 1.3 x the Prometheus
time, peak RSS <= 300 MB.

--split-by-namespace K writes one OpenMetrics file per K namespaces (grouped by the caller's
namespace) and backfills them with one promtool call each: promtool holds every series of a
call in memory (a 5,000-workload mesh, 1.4 M series, took more than 12 GB in one call).
Prometheus (2.39+) reads the overlapping blocks and merges them about a minute after start;
the bench waits for that merge, so the queries run on one block as after a single backfill.

--compare-with DIR measures another checkout of meshdash (e.g. the commit before a change) on
the SAME Prometheus: each round runs DIR's measure child and this one's, in the order A B, B A,
A B ..., so the load other processes put on the machine falls on both alike. Each child does
one measured refresh per view (after its warm-up refresh), so --refreshes is the number of
rounds; the table gives medians over rounds and the larger peak RSS.

The collector refuses answers over MESHDASH_PROMETHEUS_MAX_SERIES (50,000 series per query by
default) and MESHDASH_PROMETHEUS_MAX_RESPONSE_BYTES (64 MiB): this bench passes --max-series
and --max-response-mb to its own collector (a checkout whose bench lacks them keeps its
defaults; a refused answer ends that child with the error).
"""

from __future__ import annotations

import argparse
import json
import os
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


# ------------------------------------------------------------------------------------- mesh


# ------------------------------------------------------------------------------------- measure


def measure(
    url: str,
    namespaces: list[str],
    refreshes: int,
    max_series: int = 50_000,
    max_response_bytes: int = 64 * 1024 * 1024,
) -> dict[str, Any]:
    """Runs in a fresh process: only the app's code is loaded, so its peak RSS is the app's."""
    from collectors.prometheus import PrometheusCollector
    from mesh.graph.build import build_graph, graph_json
    from mesh.telemetry_records import GraphQuery, GraphView

    session = TimedSession()
    collector = PrometheusCollector(url, timeout_s=120.0, session=session, max_series=max_series)
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
    app_collector = PrometheusCollector(
        url, timeout_s=120.0, session=app_session, max_series=max_series
    )
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


def report_data(figures: dict[str, Any]) -> None:
    print(
        f"mesh: {figures['workloads']} workloads, {figures['edges']} edges, {figures['namespaces']} namespaces"
    )
    print(
        f"data: {figures['series']:,} series, {figures['samples']:,} samples, "
        f"{figures['openmetrics_mb']:.0f} MB OpenMetrics in {figures['files']} file(s); generated in "
        f"{figures['generate_s']:.1f} s (generator peak RSS {figures['generator_rss_mb']:.0f} MB)"
    )
    print(
        f"backfill: promtool {figures['promtool_s']:.1f} s (largest promtool peak RSS "
        f"{figures['promtool_rss_mb']:.0f} MB), Prometheus start {figures['start_s']:.1f} s on "
        f"{figures['blocks']:.0f} block(s), merged into one in {figures['merge_s']:.1f} s; "
        f"{figures['series_queryable']:,.0f} series queryable at the end "
        f"(Prometheus RSS {figures['prometheus_rss_mb']:.0f} MB)"
    )
    if figures["series_queryable"] != figures["series"]:
        print("WARNING: Prometheus does not hold every series written")
    print()


def report(m: dict[str, Any], namespaces: int) -> bool:
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
        f"queries per refresh: {next(iter(m['views'].values()))[0]['queries']} for {namespaces} namespaces, {q_one} for 1 (HTTP requests seen: {http_one})"
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


# ------------------------------------------------------------------------------------- A/B


# Every measure child, of either checkout, runs its own bench under the same settings: the
# collector's limits and per-query timeout (its bench builds the collector with fixed ones: a
# loaded machine must not turn a slow answer into a failure, nor a big mesh into a refusal) and
# the views to measure. They are set on the classes and module before its bench runs, and
# change nothing else in how it measures.
_CHILD = """
import importlib.util, sys
sys.path.insert(0, ".")
import collectors.http, collectors.prometheus
max_series, max_bytes, timeout_s, views, script = sys.argv[1:6]
cls = collectors.prometheus.PrometheusCollector
build = cls.__init__
def init(self, url, **kw):
    build(self, url, **{**kw, "max_series": int(max_series), "timeout_s": float(timeout_s)})
cls.__init__ = init
collectors.http.DEFAULT_MAX_RESPONSE_BYTES = int(max_bytes)
spec = importlib.util.spec_from_file_location("graph_scale_child", script)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
bench.VIEWS = tuple(views.split(","))
raise SystemExit(bench.main(sys.argv[6:]))
"""


def _child_command(checkout: Path, url: str, args: argparse.Namespace, refreshes: int) -> list[str]:
    settings = [str(args.max_series), str(args.max_response_mb << 20), str(args.query_timeout),
                ",".join(args.views), str(checkout / "bench" / "graph_scale.py")]  # fmt: skip
    bench = ["--measure", url, "--namespaces", str(args.namespaces), "--refreshes", str(refreshes)]
    return [sys.executable, "-c", _CHILD, *settings, *bench]


def run_child(checkout: Path, url: str, args: argparse.Namespace, refreshes: int) -> dict[str, Any]:
    """One measure child of `checkout`, run from it (its own code, imports and bench)."""
    child = subprocess.run(
        _child_command(checkout, url, args, refreshes),
        capture_output=True, text=True, cwd=checkout, check=False,
    )  # fmt: skip
    if child.returncode != 0:
        raise SystemExit(f"measure child of {checkout} failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def compare(url: str, args: argparse.Namespace, other: Path) -> dict[str, dict[str, Any]]:
    """Rounds of (before, after) children on one Prometheus, ABBA order; rows pooled per side."""
    sides = {"before": other, "after": REPO}
    pooled: dict[str, dict[str, Any]] = {
        name: {"views": {v: [] for v in args.views}, "api": [], "rss": [], "one": set(), "load": []}
        for name in sides
    }
    for round_no in range(args.refreshes):
        order = list(sides) if round_no % 2 == 0 else list(reversed(sides))
        for name in order:
            load = os.getloadavg()[0]
            began = time.perf_counter()
            m = run_child(sides[name], url, args, 1)
            print(
                f"round {round_no + 1} {name:<6}: {time.perf_counter() - began:6.0f} s "
                f"(load average {load:.1f} -> {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            ratios = ", ".join(
                f"{v} {rows[0]['end_to_end_s']:.1f}/{rows[0]['query_wall_s']:.1f} s"
                for v, rows in (*m["views"].items(), ("api", m["api"]))
            )
            print(f"  end-to-end/Prometheus: {ratios}; RSS {m['peak_rss_mb']:.0f} MB", flush=True)
            side = pooled[name]
            for view in args.views:
                side["views"][view] += m["views"][view]
            side["api"] += m["api"]
            side["rss"].append(m["peak_rss_mb"])
            side["one"].add(tuple(m["queries_one_namespace"]))
            side["load"] += [load, os.getloadavg()[0]]
    return pooled


def _meets(rows: list[dict[str, Any]]) -> bool:
    return all(
        r["queries"] <= TARGETS["queries"] and r["http_requests"] == r["queries"] for r in rows
    )


def report_compare(pooled: dict[str, dict[str, Any]], other: Path) -> bool:
    """The before/after table; True when both sides meet the targets and after's ratios are
    no worse than before's (within 0.05, the rounds' noise on a shared machine)."""
    before, after = pooled["before"], pooled["after"]
    print(f"before = {other}, after = {REPO}; {len(after['rss'])} rounds, medians")
    print(
        f"{'view':<15}{'queries':>9}{'prom wall (s)':>17}{'end-to-end (s)':>17}"
        f"{'ratio':>13}{'JSON (MB)':>14}"
    )
    ok = True
    worse: list[str] = []
    rows = [(view, before["views"][view], after["views"][view]) for view in before["views"]]
    rows.append(("GET /api/graph", before["api"], after["api"]))
    for view, b, a in rows:
        ratios = []
        for side in (b, a):
            ratios.append(_median(side, "end_to_end_s") / _median(side, "query_wall_s"))
            ok &= ratios[-1] <= TARGETS["ratio"]
            ok &= all(r["http_requests"] == r["queries"] for r in side)
            if view != "GET /api/graph":
                ok &= _meets(side)
        if ratios[1] > ratios[0] + 0.05:
            worse.append(view)
        size = f"{b[0]['bytes'] / 1e6:.2f} -> {a[0]['bytes'] / 1e6:.2f}" if "bytes" in a[0] else ""
        print(
            f"{view:<15}{b[0]['queries']:>5} -> {a[0]['queries']:<2}"
            f"{_median(b, 'query_wall_s'):>8.2f} -> {_median(a, 'query_wall_s'):<6.2f}"
            f"{_median(b, 'end_to_end_s'):>9.2f} -> {_median(a, 'end_to_end_s'):<6.2f}"
            f"{ratios[0]:>6.2f} -> {ratios[1]:<5.2f}{size:>14}"
        )
    print()
    for name, side in pooled.items():
        (queries, http), *rest = sorted(side["one"])
        print(
            f"{name}: queries per refresh for 1 namespace {queries} (HTTP {http}); peak RSS "
            f"{max(side['rss']):.0f} MB (rounds: {', '.join(f'{r:.0f}' for r in side['rss'])}); "
            f"load average {min(side['load']):.1f}-{max(side['load']):.1f}"
        )
        ok &= not rest and queries <= TARGETS["queries"] and max(side["rss"]) <= TARGETS["rss_mb"]
    print()
    print(
        "prom wall = sum of per-query HTTP wall times seen by the client (body included); "
        "ratio = end-to-end / prom wall (medians over rounds)."
    )
    if worse:
        print(f"after's ratio is more than 0.05 above before's for: {', '.join(worse)}")
    verdict = "PASS" if ok and not worse else "MISS"
    print(
        f"targets: <= {TARGETS['queries']} queries, ratio <= {TARGETS['ratio']}, RSS <= "
        f"{TARGETS['rss_mb']:.0f} MB, both sides; after no worse than before: {verdict}"
    )
    return ok and not worse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--services-per-namespace", type=int, default=25)
    parser.add_argument("--refreshes", type=int, default=5, help="(rounds with --compare-with)")
    parser.add_argument("--minutes", type=float, default=10.0, help="history to backfill")
    parser.add_argument("--step", type=float, default=15.0, help="sample interval (s)")
    parser.add_argument(
        "--split-by-namespace", type=int, nargs="?", const=10, default=None, metavar="K",
        help="one OpenMetrics file and promtool call per K namespaces (default K: 10)",
    )  # fmt: skip
    parser.add_argument(
        "--compare-with", type=Path, metavar="DIR",
        help="another meshdash checkout to measure on the same Prometheus (before/after)",
    )  # fmt: skip
    parser.add_argument("--max-series", type=int, default=1_000_000, help="collector limit")
    parser.add_argument(
        "--query-timeout", type=int, default=600, metavar="S",
        help="per query, for the collector and Prometheus (--query.timeout)",
    )  # fmt: skip
    parser.add_argument(
        "--views", type=lambda text: tuple(text.split(",")), default=VIEWS,
        help=f"comma-separated, of {','.join(VIEWS)}",
    )  # fmt: skip
    parser.add_argument("--max-response-mb", type=int, default=1024, help="collector limit")
    parser.add_argument(
        "--prometheus-url", metavar="URL",
        help="measure on a Prometheus already backfilled with this mesh (no generation)",
    )  # fmt: skip
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    namespaces = [f"ns-{n:02d}" for n in range(args.namespaces)]
    if set(args.views) - set(VIEWS):
        parser.error(f"--views: {','.join(args.views)} is not a list of {','.join(VIEWS)}")

    if args.measure:  # child process: measure only, print JSON
        figures = measure(
            args.measure, namespaces, args.refreshes, args.max_series, args.max_response_mb << 20
        )
        print(json.dumps(figures))
        return 0

    other = args.compare_with.resolve() if args.compare_with else None
    if other is not None and not (other / "bench" / "graph_scale.py").is_file():
        parser.error(f"--compare-with: {other} has no bench/graph_scale.py")
    if args.prometheus_url:
        return measure_on(args.prometheus_url, args, other)
    spec = scale_spec(args.namespaces, args.services_per_namespace)
    with tempfile.TemporaryDirectory(prefix="meshdash-bench-") as tmp:
        server, figures = load_prometheus(
            spec, Path(tmp), args.minutes, args.step, args.split_by_namespace, args.query_timeout
        )
        figures.update(workloads=len(spec.workloads), namespaces=args.namespaces)
        del spec
        report_data(figures)  # now: a long measurement cut short still leaves the data figures
        try:
            return measure_on(server.url, args, other)
        finally:
            server.close()


def measure_on(url: str, args: argparse.Namespace, other: Path | None) -> int:
    if other is not None:
        return 0 if report_compare(compare(url, args, other), other) else 1
    return 0 if report(run_child(REPO, url, args, args.refreshes), args.namespaces) else 1


if __name__ == "__main__":
    raise SystemExit(main())
