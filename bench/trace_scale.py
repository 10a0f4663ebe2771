"""Large traces: 10,000 and 50,000 spans, server side and in the browser.

    python bench/trace_scale.py [--sizes 10000,50000] [--repeat 3] [--no-browser]

Builds Istio-shaped synthetic traces (a client and a server span per hop, ~20 tags each, fan-out
and depth like a busy mesh), then prints:
- server side, best of --repeat: JSON decode + v1 parse, adjusters + span tree, critical path,
  self times and per-service breakdown, their sum, and the whole page view
  (views.traces.trace_page_view, which also builds the waterfall columns);
- browser: the app (create_app) reading the traces over HTTP from a Jaeger-compatible endpoint
  (demo/jaeger_server.py) through the real JaegerCollector, and Debian's chromium opening
  /traces/view?trace=ID: the time from navigation to the first waterfall row (or, past
  views.traces.SUMMARY_ONLY_SPANS, to the summary), with the JSON size the page received.

Targets (issue 4), for 10,000 spans: server side <= 0.5 s, browser first render <= 3 s; for
50,000 spans: a summary, not a frozen tab.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from collectors.jaeger_json import parse_v1_trace, trace_to_v1  # noqa: E402
from mesh.errors import NotFound  # noqa: E402
from mesh.trace_records import Dependency, Process, RefType, Span, SpanRef, Tag, Trace, TraceQuery  # noqa: E402
from mesh.traces import adjust, blocking, build_tree, critical_path, self_times  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
TARGETS = {"server_s": 0.5, "browser_s": 3.0}
START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def synthetic_trace(n: int, seed: int = 1) -> Trace:
    """n spans (n even): hops of (client span, server span) in a tree 1-6 wide per level,
    each hop's children inside its server span, sequential with small gaps."""
    rng = random.Random(seed)
    apps = [f"svc-{i:02d}" for i in range(40)]
    procs = {a: Process(f"{a}.shop", (Tag("hostname", f"{a}-v1-7d9c5b6f4-x2x7q"), Tag("ip", f"10.0.{i}.9")))
             for i, a in enumerate(apps)}  # fmt: skip
    tid = f"{(seed << 64) | 0x5EED:032x}"  # canonical: its high half is not zero
    spans: list[Span] = []
    counter = 0

    def sid() -> str:
        nonlocal counter
        counter += 1
        return f"{counter:016x}"

    def hop(parent: str, caller: str, callee: str, start: int, dur: int) -> str:
        op = f"{callee}.shop.svc.cluster.local:8080/api"
        client, server = sid(), sid()
        for span_id, kind, app, ref, s, d in (
            (client, "client", caller, parent, start, dur),
            (server, "server", callee, client, start + 200, max(1, dur - 400)),
        ):
            node = f"sidecar~10.0.0.{len(spans) % 250}~{app}-v1-7d9c5b6f4-x2x7q.shop~shop.svc.cluster.local"
            tags = (
                Tag("node_id", node), Tag("istio.canonical_service", app),
                Tag("istio.canonical_revision", "v1"), Tag("istio.namespace", "shop"),
                Tag("istio.mesh_id", "cluster.local"), Tag("http.method", "GET"),
                Tag("http.url", f"http://{callee}.shop:8080/api"), Tag("http.protocol", "HTTP/1.1"),
                Tag("http.status_code", "200"), Tag("response_flags", "-"),
                Tag("upstream_cluster", f"outbound|8080|v1|{callee}.shop.svc.cluster.local"),
                Tag("downstream_cluster", "-"), Tag("user_agent", "bench"), Tag("component", "proxy"),
                Tag("peer.address", "10.0.0.1"), Tag("request_size", "0"), Tag("response_size", "512"),
                Tag("guid:x-request-id", tid[:16]), Tag("zone", "bench"), Tag("span.kind", kind),
            )  # fmt: skip
            refs = (SpanRef(RefType.CHILD_OF, tid, ref),) if ref else ()
            spans.append(Span(tid, span_id, op, START_US + s, d, procs[app], refs, tags))
        return server

    procs["ingress"] = Process("ingress.shop")
    root = hop("", "ingress", "svc-00", 0, 2_000_000)
    frontier = [(root, "svc-00", 200, 2_000_000 - 400)]
    while len(spans) < n and frontier:
        # mostly breadth first (fan-out), sometimes deeper (long call chains)
        i = rng.randrange(len(frontier)) if rng.random() < 0.3 else 0
        parent, app, start, dur = frontier.pop(i)
        k = min(rng.randint(1, 6), (n - len(spans)) // 2)
        if k <= 0 or dur < 1000:
            continue
        for j in range(k):  # partly parallel, partly sequential calls, inside the parent
            callee = rng.choice(apps)
            d = max(500, int(dur * rng.uniform(0.3, 0.85)))
            t = start + int((dur - d) * rng.random()) if j % 2 else start + int((dur - d) * 0.05)
            child = hop(parent, app, callee, t, d)
            frontier.append((child, callee, t + 200, max(500, d - 400)))
    return Trace(tid, tuple(spans[:n]))


class FixedTraces:
    """A trace store holding given traces (what the demo endpoint serves in this bench)."""

    name = "bench"

    def __init__(self, traces: list[Trace]) -> None:
        self.by_id = {t.trace_id: t for t in traces}

    def services(self) -> tuple[str, ...]:
        return tuple(sorted({s.service for t in self.by_id.values() for s in t.spans[:100]}))

    def operations(self, service: str) -> tuple[str, ...]:
        return ()

    def find_traces(self, query: TraceQuery) -> list[Trace]:
        return []

    def get_trace(self, trace_id: str) -> Trace:
        for tid, t in self.by_id.items():
            if tid.lstrip("0") == trace_id.lstrip("0"):
                return t
        raise NotFound(trace_id)

    def dependencies(self, end_us: int, lookback_s: int) -> list[Dependency]:
        return []


def best(fn, repeat: int):
    out, times = None, []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, min(times)


def server_side(trace: Trace, repeat: int) -> dict[str, float]:
    raw = json.dumps(trace_to_v1(trace)).encode()
    parsed, t_parse = best(lambda: parse_v1_trace(json.loads(raw)), repeat)
    tree, t_tree = best(lambda: build_tree(adjust(parsed)), repeat)
    _, t_cp = best(lambda: critical_path(tree), repeat)
    _, t_self = best(lambda: self_times(tree, blocking(tree)), repeat)
    return {
        "json_mb": len(raw) / 1e6,
        "parse": t_parse,
        "tree": t_tree,
        "critical_path": t_cp,
        "self_times": t_self,
        "total": t_parse + t_tree + t_cp,
        "depth": max(tree.depth) + 1,
    }


def page_view_time(trace: Trace, repeat: int) -> float:
    from config import Settings
    from services import Services
    from views.traces import trace_page_view

    class NoTelemetry:
        name = "none"

    svc = Services(settings=Settings(prometheus_url="http://127.0.0.1:1"), telemetry=NoTelemetry(),
                   traces=FixedTraces([trace]))  # fmt: skip
    _, t = best(lambda: trace_page_view(svc, trace.trace_id), repeat)
    return t


def browser(traces: list[Trace]) -> dict[int, dict[str, float]]:
    from playwright.sync_api import sync_playwright

    from app import create_app
    from collectors.jaeger import JaegerCollector
    from config import Settings
    from demo.jaeger_server import serve_jaeger
    from services import Services
    from tests.livesrv import serve

    class NoTelemetry:
        name = "none"

        def graph_telemetry(self, query):
            from mesh.records import GraphTelemetry

            return GraphTelemetry(query=query)

    jaeger = serve_jaeger(FixedTraces(traces), flavour="v1")
    settings = Settings(prometheus_url="http://127.0.0.1:1", jaeger_url=jaeger.url)
    svc = Services(
        settings=settings, telemetry=NoTelemetry(), traces=JaegerCollector(jaeger.url, timeout_s=60)
    )
    live = serve(create_app(settings, svc))
    out: dict[int, dict[str, float]] = {}
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = b.new_page(viewport={"width": 1440, "height": 900})
            page.goto(live.url + "/traces")  # warm: scripts and styles cached, as for a user
            page.wait_for_selector("#ts-find")
            for t in traces:
                received = {"bytes": 0}

                def count(resp, box=received):
                    if "_dash-update-component" in resp.url:
                        with contextlib.suppress(Exception):
                            box["bytes"] += len(resp.body())

                page.on("response", count)
                t_fetch = time.perf_counter()
                svc.traces.get_trace(t.trace_id)  # this bench's Python endpoint + HTTP + decode
                fetch = time.perf_counter() - t_fetch
                target = "#tv-summary-only" if len(t.spans) > _summary_only() else ".md-wf-row"
                t0 = time.perf_counter()
                page.goto(f"{live.url}/traces/view?trace={t.trace_id}", wait_until="commit")
                page.wait_for_selector(target, timeout=120_000)
                first = time.perf_counter() - t0
                page.remove_listener("response", count)
                rows = page.locator(".md-wf-row").count()
                # responsiveness once drawn: expand everything and scroll to the bottom
                scroll = float("nan")
                if target == ".md-wf-row":
                    t1 = time.perf_counter()
                    page.click("#tv-expand-all")
                    page.evaluate(
                        "() => { const v = document.getElementById('tv-viewport'); v.scrollTop = v.scrollHeight; }"
                    )
                    page.wait_for_timeout(50)
                    page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
                    scroll = time.perf_counter() - t1
                out[len(t.spans)] = {"first_render": first, "dom_rows": rows, "mb": received["bytes"] / 1e6,
                                     "expand_and_scroll": scroll, "fetch": fetch}  # fmt: skip
            b.close()
    finally:
        live.stop()
        jaeger.stop()
    return out


def _summary_only() -> int:
    from views.traces import SUMMARY_ONLY_SPANS

    return SUMMARY_ONLY_SPANS


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,50000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-browser", action="store_true")
    a = ap.parse_args(argv)
    sizes = [int(s) for s in a.sizes.split(",")]
    traces = [synthetic_trace(n, seed=i + 1) for i, n in enumerate(sizes)]
    print(f"{'spans':>7} {'JSON MB':>8} {'depth':>6} {'parse':>8} {'tree':>8} {'crit.path':>9} "
          f"{'self':>8} {'server':>8} {'page view':>9}")  # fmt: skip
    server: dict[int, dict[str, float]] = {}
    for t in traces:
        r = server_side(t, a.repeat)
        r["page_view"] = page_view_time(t, a.repeat)
        server[len(t.spans)] = r
        print(f"{len(t.spans):>7} {r['json_mb']:>8.1f} {r['depth']:>6} {r['parse']:>7.3f}s {r['tree']:>7.3f}s "
              f"{r['critical_path']:>8.3f}s {r['self_times']:>7.3f}s {r['total']:>7.3f}s {r['page_view']:>8.3f}s")  # fmt: skip
    print("server = parse + tree + critical path; page view = the whole trace page model")
    if not a.no_browser and Path(CHROMIUM).exists():
        res = browser(traces)
        head = f"\n{'spans':>7} {'first render':>13} {'of which fetch':>15} {'DOM rows':>9} {'page data MB':>13}"
        print(head + f" {'expand all+scroll':>18}")
        for n, r in res.items():
            line = f"{n:>7} {r['first_render']:>12.2f}s {r['fetch']:>14.2f}s {r['dom_rows']:>9} {r['mb']:>13.1f}"
            print(line + f" {r['expand_and_scroll']:>17.2f}s")
        print("first render: navigation to the first waterfall row (or the summary past "
              f"{_summary_only():,} spans), through the app, its JaegerCollector and a v1 endpoint;\n"
              "fetch: JaegerCollector.get_trace alone (the bench's Python endpoint encoding the trace,\n"
              "HTTP, JSON decode and parse), part of the first render")  # fmt: skip
    ten = server.get(10000)
    if ten:
        print(f"\ntarget 10k server <= {TARGETS['server_s']} s: {'met' if ten['total'] <= TARGETS['server_s'] else 'MISSED'}"
              f" ({ten['total']:.3f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
