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

Targets (P1, issue 2; issue 16): <= 6 queries per refresh at any size, GET /api/graph end to
end <= 1.3 x the floor (below), peak RSS <= 300 MB (400 MB at 5,000 workloads). Each view's
line breaks the refresh down (collector, build, JSON called directly, without the view's drawing
while the buckets are summed); it is printed, not judged.

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


def floor_query(namespaces: list[str], view_name: str) -> str:
    """THE FLOOR (issue 16): the request-duration buckets summed once per edge and `le`, from one
    selector, `sum by (le, <the view's edge labels>) (rate(..._bucket[5m]))`: the least data a
    latency graph needs, in one query. The app's three queries together should cost at most
    1.3 x this."""
    from collectors import promql
    from collectors.prometheus import DURATION_BUCKET
    from mesh.graph.edge_keys import edge_labels
    from mesh.telemetry_records import GraphView

    sel = promql.selector(
        DURATION_BUCKET,
        (
            ("reporter", "=", "destination"),
            ("destination_service_namespace", "=~", promql.any_of(namespaces)),
        ),
    )
    labels = ("le", *edge_labels(GraphView(view_name)))
    return f"sum {promql.by(labels)} (rate({sel}[{promql.duration(WINDOW_S)}]))"


def floor_time(url: str, namespaces: list[str], view_name: str) -> dict[str, float]:
    """The floor query's wall time, body read, and Prometheus's own time; the second of two
    runs, so Prometheus's caches are as warm as for the app's measured refresh. The body is
    read in chunks and dropped: the measured process's peak RSS must stay the app's."""
    import requests

    text = floor_query(namespaces, view_name)
    out: dict[str, float] = {}
    for _ in range(2):
        own_before = prometheus_answer_time(url)
        began = time.perf_counter()
        size = series = 0
        tail = b""
        with requests.get(
            f"{url}/api/v1/query",
            params={"query": text, "time": END},
            timeout=(10, 900),
            stream=True,
        ) as r:
            r.raise_for_status()
            for chunk in r.iter_content(1 << 20):
                size += len(chunk)
                series += (tail + chunk).count(b'"metric"')
                tail = chunk[-7:]  # a marker cut by a chunk boundary is counted once
        wall = time.perf_counter() - began
        out = {
            "floor_s": wall,
            "floor_own_s": prometheus_answer_time(url)[0] - own_before[0],
            "floor_bytes": float(size),
            "floor_series": float(series),
        }
    return out


def measure(
    url: str,
    namespaces: list[str],
    refreshes: int,
    max_series: int = 50_000,
    max_response_bytes: int = 64 * 1024 * 1024,
) -> dict[str, Any]:
    """Runs in a fresh process: only the app's code is loaded, so its peak RSS is the app's."""
    from collectors.prometheus import PrometheusCollector
    from mesh.graph.build import build_graph, graph_json, traffic_part, with_latencies
    from mesh.sources import telemetry_staged
    from mesh.telemetry_records import GraphQuery, GraphView
    from ops.heap import freeze_startup_heap

    session = TimedSession()
    collector = PrometheusCollector(url, timeout_s=120.0, session=session, max_series=max_series)
    freeze_startup_heap()  # as a served process is once started (ops/heap.py)
    out: dict[str, Any] = {"views": {}}
    extras = os.environ.get("MESHDASH_BENCH_EXTRAS", "1") != "0"

    for view_name in VIEWS:
        view = GraphView(view_name)
        query = GraphQuery(tuple(namespaces), view, WINDOW_S, END)
        build_graph(collector.graph_telemetry(query))  # warm Prometheus's page cache and ours
        rows = []
        for _ in range(refreshes):
            floor = floor_time(url, namespaces, view_name) if extras else {}
            session.clear()
            prom_before = prometheus_answer_time(url)
            began = time.perf_counter()
            # As the app does (views/graph.py): the graph's traffic part is built while
            # Prometheus still sums the latency buckets.
            telemetry, traffic = telemetry_staged(collector, query, traffic_part)
            t_collect = time.perf_counter()
            graph = with_latencies(traffic, telemetry.latencies)
            t_build = time.perf_counter()
            body = graph_json(graph)
            t_json = time.perf_counter()
            prom_after = prometheus_answer_time(url)
            rows.append(
                {
                    **floor,
                    "queries": telemetry.queries_sent,
                    "http_requests": len(session.walls),
                    "query_wall_s": sum(session.walls),
                    "query_span_s": session.span(),
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
    freeze_startup_heap()  # as the server's entry points do once the app is built
    qs = (
        "&".join(f"namespace={ns}" for ns in namespaces)
        + f"&graph=workload&window=5m&at={int(END)}"
    )
    client.get(f"/api/graph?{qs}")
    api_rows = []
    for _ in range(refreshes):
        floor = floor_time(url, namespaces, "workload") if extras else {}
        app_session.clear()
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
                **floor,
                "end_to_end_s": elapsed,
                "query_wall_s": sum(app_session.walls),
                "query_span_s": app_session.span(),
                "http_requests": len(app_session.walls),
                "prometheus_own_s": prom_after[0] - prom_before[0],
                "bytes": len(response.get_data()),
                "edges": len(body["edges"]),
                "queries": body.get("queries"),
            }
        )
    out["api"] = api_rows

    # Query count does not depend on the mesh size: one namespace vs all of them.
    session.clear()
    one = collector.graph_telemetry(GraphQuery((namespaces[0],), GraphView.WORKLOAD, WINDOW_S, END))
    out["queries_one_namespace"] = (one.queries_sent, len(session.walls))
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    # After the RSS: it decodes with json too.
    out["decode"] = decode_figures(url, namespaces) if extras else {}
    return out


def decode_figures(url: str, namespaces: list[str]) -> dict[str, dict[str, float]]:
    """The workload view's three answers, fetched once, decoded by: the standard json module
    (what the collector used before, through requests' .json()), orjson and msgspec into
    Python objects (bare decoders: the floor for any decoding into objects), and the
    collector's own path (collectors/prometheus_decode.py rows, then its typed records). The
    CPU time of this process (not wall time: other processes on a shared machine do not count)
    and the largest memory traced during each (a second run, under tracemalloc)."""
    import gc
    import json as std_json
    import tracemalloc

    import msgspec
    import orjson
    import requests

    from collectors.prometheus import (
        _OUTCOME_REPORT,
        _REPORT_LABELS,
        Endpoints,
        latency_query,
        parse_latencies,
        parse_requests,
        parse_tcp,
        requests_query,
        tcp_query,
    )
    from collectors.prometheus_decode import vector_rows
    from mesh.telemetry_records import GraphQuery, GraphView

    query = GraphQuery(tuple(namespaces), GraphView.WORKLOAD, WINDOW_S, END)
    endpoints = Endpoints(query.view)
    answers = {
        "requests": (requests_query, parse_requests, endpoints.row_names(*_OUTCOME_REPORT)),
        "latency": (latency_query, parse_latencies, endpoints.row_names("le")),
        "tcp": (tcp_query, parse_tcp, endpoints.row_names(*_REPORT_LABELS, "direction")),
    }
    out: dict[str, dict[str, float]] = {}
    for name, (text_of, parse, names) in answers.items():
        body = requests.get(
            f"{url}/api/v1/query", params={"query": text_of(query), "time": END}, timeout=900
        ).content
        ways = {
            "json": lambda b: std_json.loads(b),
            "orjson": orjson.loads,
            "msgspec": msgspec.json.decode,
            "collector": lambda b, p=parse, n=names: p(vector_rows(b, n), Endpoints(query.view)),
        }
        figures: dict[str, float] = {"mb": len(body) / 1e6}
        for way, decode in ways.items():
            gc.collect()
            began = time.process_time()
            decoded = decode(body)
            figures[f"{way}_s"] = time.process_time() - began
            del decoded
            gc.collect()
            tracemalloc.start()
            decode(body)
            figures[f"{way}_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
        out[name] = figures
    return out


def cold_first_view(url: str, namespaces: list[str]) -> dict[str, Any]:
    """Runs in a fresh process against a freshly started Prometheus: the app with DEFAULT
    settings (timeout, limits, cache), its first GET /api/graph of every namespace."""
    from app import create_app
    from wiring.settings import Settings

    settings = Settings(prometheus_url=url, default_namespaces=tuple(namespaces[:1]))
    client = create_app(settings).server.test_client()
    qs = (
        "&".join(f"namespace={ns}" for ns in namespaces)
        + f"&graph=workload&window=5m&at={int(END)}"
    )
    began = time.perf_counter()
    response = client.get(f"/api/graph?{qs}")
    elapsed = time.perf_counter() - began
    body = response.get_json(silent=True) or {}
    return {
        "status": response.status_code,
        "seconds": elapsed,
        "edges": len(body.get("edges") or ()),
        "error": str(body.get("error", ""))[:300],
        "timeout_s": settings.prometheus_timeout_s,
        "max_series": settings.prometheus_max_series,
    }


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


def rss_target(namespaces: int) -> float:
    """P1's 300 MB up to the 1,000-workload mesh (20 namespaces); issue 16's 400 MB above."""
    return TARGETS["rss_mb"] if namespaces <= 20 else 400.0


def report(m: dict[str, Any], namespaces: int) -> bool:
    print(
        f"{'view':<15}{'queries':>8}{'nodes':>7}{'edges':>7}{'floor':>10}"
        f"{'app queries':>13}{'prom own':>10}{'end-to-end':>12}{'/floor':>8}"
        "  (collect and traffic build / latencies / json)"
    )
    print(
        "(the target, end-to-end <= 1.3 x floor, is GET /api/graph's; a view's line is its "
        "breakdown: collector, build and JSON called directly, the JSON after the buckets)"
    )
    ok = True
    rows_by_view = [*m["views"].items(), ("GET /api/graph", m["api"])]
    for view, rows in rows_by_view:
        floor = _median(rows, "floor_s")
        e2e = _median(rows, "end_to_end_s")
        ratio = e2e / floor
        # The target is the API's (issue 16); a view's line is its breakdown, the collector and
        # the build called one after the other without the view's drawing during the wait.
        ok &= ratio <= TARGETS["ratio"] or view != "GET /api/graph"
        ok &= all(
            r["queries"] <= TARGETS["queries"] and r["http_requests"] == r["queries"] for r in rows
        )
        parts = (
            f"  ({_median(rows, 'collect_s') * 1000:.0f} / {_median(rows, 'build_s') * 1000:.0f}"
            f" / {_median(rows, 'json_s') * 1000:.0f} ms)"
            if "collect_s" in rows[0]
            else f"  (workload view, {rows[0]['bytes'] / 1e6:.1f} MB JSON)"
        )
        print(
            f"{view:<15}{rows[0]['queries']:>8}{rows[0].get('nodes', ''):>7}{rows[0]['edges']:>7}"
            f"{floor * 1000:>8.0f}ms{_median(rows, 'query_span_s') * 1000:>11.0f}ms"
            f"{_median(rows, 'prometheus_own_s') * 1000:>8.0f}ms{e2e * 1000:>10.0f}ms"
            f"{ratio:>8.2f}{parts}"
        )
    print()
    floor_row = m["api"][0]
    print(
        f"floor (workload view): {floor_row['floor_series']:,.0f} series, "
        f"{floor_row['floor_bytes'] / 1e6:.1f} MB of JSON; Prometheus's own time "
        f"{_median(m['api'], 'floor_own_s') * 1000:.0f} ms"
    )
    q_one, http_one = m["queries_one_namespace"]
    print(
        f"queries per refresh: {next(iter(m['views'].values()))[0]['queries']} for {namespaces} namespaces, {q_one} for 1 (HTTP requests seen: {http_one})"
    )
    rss = m["peak_rss_mb"]
    ok &= rss <= rss_target(namespaces) and q_one <= TARGETS["queries"]
    print(f"peak RSS of the app process: {rss:.0f} MB (target {rss_target(namespaces):.0f} MB)")
    print()
    report_decode(m.get("decode") or {})
    print(
        "floor = the latency buckets summed once, sum by (le, edge) (rate(..._bucket[5m])), "
        "wall time with the body read, measured right before each refresh; app queries = "
        "from the first of the app's queries sent to the last answer read (they are sent at "
        "once); prom own = Prometheus's prometheus_http_request_duration_seconds for "
        "/api/v1/query during the refresh (summed over its queries); /floor = end-to-end / "
        "floor (medians)."
    )
    verdict = "PASS" if ok else "MISS"
    print(
        f"targets: <= {TARGETS['queries']} queries, end-to-end <= {TARGETS['ratio']} x floor, "
        f"RSS <= {rss_target(namespaces):.0f} MB: {verdict}"
    )
    return ok


def report_decode(decode: dict[str, dict[str, float]]) -> None:
    if not decode:
        return
    print("decoding the workload view's answers (CPU time, largest memory traced):")
    print(f"{'answer':<10}{'MB':>7}{'json':>16}{'orjson':>16}{'msgspec':>16}{'collector':>16}")
    for name, f in decode.items():
        cells = "".join(
            f"{f[f'{way}_s'] * 1000:>8.0f}ms {f[f'{way}_peak_mb']:>4.0f}MB"
            for way in ("json", "orjson", "msgspec", "collector")
        )
        print(f"{name:<10}{f['mb']:>7.1f}{cells}")
    print(
        "json = the standard module (the collector's decoder before: requests' .json(), then a "
        "dict per series); orjson, msgspec = bare decoders into Python objects (the floor of "
        "decoding); collector = collectors/prometheus_decode.py rows and the typed records."
    )
    print()


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


def run_child(
    checkout: Path, url: str, args: argparse.Namespace, refreshes: int, extras: bool = True
) -> dict[str, Any]:
    """One measure child of `checkout`, run from it (its own code, imports and bench).
    `extras` False: no floor or decode figures in the child (the A/B's parent measures the
    floor once per round for both sides)."""
    env = {**os.environ, "MESHDASH_BENCH_EXTRAS": "1" if extras else "0"}
    child = subprocess.run(
        _child_command(checkout, url, args, refreshes),
        capture_output=True, text=True, cwd=checkout, check=False, env=env,
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
    namespaces = [f"ns-{n:02d}" for n in range(args.namespaces)]
    for round_no in range(args.refreshes):
        order = list(sides) if round_no % 2 == 0 else list(reversed(sides))
        floors = {v: floor_time(url, namespaces, v) for v in {*args.views, "workload"}}
        print(
            f"round {round_no + 1} floor: "
            + ", ".join(f"{v} {f['floor_s']:.1f} s" for v, f in sorted(floors.items())),
            flush=True,
        )
        for name in order:
            load = os.getloadavg()[0]
            began = time.perf_counter()
            m = run_child(sides[name], url, args, 1, extras=False)
            for view, rows in m["views"].items():
                for row in rows:
                    row.update(floors[view])
            for row in m["api"]:
                row.update(floors["workload"])
            print(
                f"round {round_no + 1} {name:<6}: {time.perf_counter() - began:6.0f} s "
                f"(load average {load:.1f} -> {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            ratios = ", ".join(
                f"{v} {rows[0]['end_to_end_s']:.1f}/{rows[0]['floor_s']:.1f} s"
                for v, rows in (*m["views"].items(), ("api", m["api"]))
            )
            print(f"  end-to-end/floor: {ratios}; RSS {m['peak_rss_mb']:.0f} MB", flush=True)
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


def _span(rows: list[dict[str, Any]]) -> float:
    """The app's queries' time: first sent to last answer read (a checkout that sends them one
    after the other records no span: there it is the sum of their walls)."""
    return statistics.median(r.get("query_span_s", r["query_wall_s"]) for r in rows)


def report_compare(pooled: dict[str, dict[str, Any]], other: Path, namespaces: int) -> bool:
    """The before/after table; True when after meets the targets and its end-to-end / floor
    is no worse than before's (within 0.05, the rounds' noise on a shared machine)."""
    before, after = pooled["before"], pooled["after"]
    print(f"before = {other}, after = {REPO}; {len(after['rss'])} rounds, medians")
    print(
        f"{'view':<15}{'queries':>9}{'floor':>8}{'app queries (s)':>19}{'end-to-end (s)':>19}"
        f"{'end-to-end / floor':>21}{'JSON (MB)':>14}"
    )
    ok = True
    worse: list[str] = []
    rows = [(view, before["views"][view], after["views"][view]) for view in before["views"]]
    rows.append(("GET /api/graph", before["api"], after["api"]))
    for view, b, a in rows:
        ratios = [_median(side, "end_to_end_s") / _median(side, "floor_s") for side in (b, a)]
        ok &= ratios[1] <= TARGETS["ratio"] or view != "GET /api/graph"  # the API's target
        ok &= all(r["http_requests"] == r["queries"] for r in a)
        if view != "GET /api/graph":
            ok &= _meets(a)
        if ratios[1] > ratios[0] + 0.05 and view == "GET /api/graph":
            worse.append(view)
        size = f"{b[0]['bytes'] / 1e6:.2f} -> {a[0]['bytes'] / 1e6:.2f}" if "bytes" in a[0] else ""
        print(
            f"{view:<15}{b[0]['queries']:>5} -> {a[0]['queries']:<2}"
            f"{_median(a + b, 'floor_s'):>7.2f}"
            f"{_span(b):>10.2f} -> {_span(a):<6.2f}"
            f"{_median(b, 'end_to_end_s'):>10.2f} -> {_median(a, 'end_to_end_s'):<6.2f}"
            f"{ratios[0]:>12.2f} -> {ratios[1]:<5.2f}{size:>14}"
        )
    print()
    for name, side in pooled.items():
        (queries, http), *rest = sorted(side["one"])
        print(
            f"{name}: queries per refresh for 1 namespace {queries} (HTTP {http}); peak RSS "
            f"{max(side['rss']):.0f} MB (rounds: {', '.join(f'{r:.0f}' for r in side['rss'])}); "
            f"load average {min(side['load']):.1f}-{max(side['load']):.1f}"
        )
        ok &= not rest and queries <= TARGETS["queries"]
    ok &= max(after["rss"]) <= rss_target(namespaces)
    print()
    print(
        "floor = the latency buckets summed once, sum by (le, edge) (rate(..._bucket[5m])), "
        "measured by this script once per round for both sides; app queries = first query "
        "sent to last answer read (before sends them one after the other); medians over rounds."
    )
    if worse:
        print(
            f"after's end-to-end / floor is more than 0.05 above before's for: {', '.join(worse)}"
        )
    verdict = "PASS" if ok and not worse else "MISS"
    print(
        f"targets (after): <= {TARGETS['queries']} queries, end-to-end <= {TARGETS['ratio']} x "
        f"floor, RSS <= {rss_target(namespaces):.0f} MB; after no worse than before: {verdict}"
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
    parser.add_argument(
        "--data-dir", type=Path, metavar="DIR",
        help="keep the backfilled data in DIR (a re-run reuses it); the first graph is then "
        "measured on a freshly started Prometheus with the app's default settings",
    )  # fmt: skip
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--cold", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument(
        "--decode-only", metavar="URL",
        help="only the decoding figures, on a Prometheus already backfilled with this mesh",
    )  # fmt: skip
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
    if args.decode_only:
        report_decode(decode_figures(args.decode_only, namespaces))
        return 0
    if args.cold:  # child process: the first view with default settings
        print(json.dumps(cold_first_view(args.cold, namespaces)))
        return 0

    other = args.compare_with.resolve() if args.compare_with else None
    if other is not None and not (other / "bench" / "graph_scale.py").is_file():
        parser.error(f"--compare-with: {other} has no bench/graph_scale.py")
    if args.prometheus_url:
        return measure_on(args.prometheus_url, args, other)
    if args.data_dir:
        return measure_kept(args.data_dir, args, other)
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


def measure_kept(workdir: Path, args: argparse.Namespace, other: Path | None) -> int:
    """Backfill into `workdir` unless it holds blocks already, then: the first graph on a
    freshly started Prometheus with default settings (cold start), then the measurement."""
    from devtools.promserver import PrometheusServer

    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "prom" / "data"
    if data.is_dir() and any(data.glob("*/meta.json")):
        server = PrometheusServer(
            workdir / "prom",
            startup_timeout_s=1800,
            extra_args=(f"--query.timeout={args.query_timeout}s",),
        )
        server.start()
        blocks = server.own_metric("prometheus_tsdb_blocks_loaded") or 1
        print(f"data: reused from {workdir} ({blocks:.0f} block(s))")
        if blocks > 1:
            print(f"blocks merged into one in {server.wait_blocks_merged(1):.0f} s")
    else:
        spec = scale_spec(args.namespaces, args.services_per_namespace)
        server, figures = load_prometheus(
            spec, workdir, args.minutes, args.step, args.split_by_namespace, args.query_timeout
        )
        figures.update(workloads=len(spec.workloads), namespaces=args.namespaces)
        del spec
        report_data(figures)
    try:
        server.stop()
        server.start()
        report_cold(run_cold(server.url, args))
        return measure_on(server.url, args, other)
    finally:
        server.close()


def run_cold(url: str, args: argparse.Namespace) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHDASH_")}
    command = [sys.executable, str(REPO / "bench" / "graph_scale.py"), "--cold", url,
               "--namespaces", str(args.namespaces)]  # fmt: skip
    child = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, check=False)
    if child.returncode != 0:
        raise SystemExit(f"cold-start child failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def report_cold(cold: dict[str, Any]) -> None:
    what = "answered" if cold["status"] == 200 else "FAILED"
    print(
        f"cold start: Prometheus just started, the app with default settings (query timeout "
        f"{cold['timeout_s']:g} s, at most {cold['max_series']:,} series a query): the first "
        f"GET /api/graph of every namespace {what} {cold['status']} in {cold['seconds']:.1f} s"
        f" ({cold['edges']} edges){': ' + cold['error'] if cold['error'] else ''}"
    )
    print()


def measure_on(url: str, args: argparse.Namespace, other: Path | None) -> int:
    if other is not None:
        return 0 if report_compare(compare(url, args, other), other, args.namespaces) else 1
    return 0 if report(run_child(REPO, url, args, args.refreshes), args.namespaces) else 1


if __name__ == "__main__":
    raise SystemExit(main())
