"""Load test: many viewers of one graph cost the metrics backend one query set per refresh.

50 concurrent clients call /api/graph back to back (no pause) for --seconds against a REAL
Prometheus (Debian's, backfilled with the integration scenarios: Bookinfo, a shop with gRPC and
TCP, a canary pair; or --prometheus URL), with the app under gunicorn: (a) one worker, in-process
cache; (b) two workers sharing a Redis cache (Debian's redis-server, started here on a free port).
Everything runs on loopback and stops by itself.

The clients run in their own process, as asyncio connections speaking keep-alive HTTP/1.1 with a
few microseconds of work per request, so the figures are the server's and not a Python client's
(`requests` in 50 threads would cost as much CPU as the server on this 2-core machine).

Printed per configuration: requests, errors, p50/p95/p99, the single-user time (one viewer alone,
a fresh `at` each time so the cache cannot answer: a full query set and build), the PromQL queries
Prometheus received (its own prometheus_engine_query_duration_seconds_count{slice="inner_eval"},
so --prometheus should point at a Prometheus nobody else queries), the app's own count of backend
calls, and the targets: 0 errors; at most one query set per refresh interval, i.e. queries <=
(seconds / refresh + 1) x 3; p95 <= 2 x the single-user time.

    python3 bench/load.py [--seconds 60] [--clients 50] [--threads 4] [--prometheus URL]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.ports import free_port  # noqa: E402

QUERIES_PER_SET = 3  # collectors/prometheus.py: three queries per graph refresh
REFRESH_S = 15
AT = 1767225600  # the end of the backfilled scenarios (tests/integration/conftest.py)
PATH = "/api/graph?namespace=bookinfo&namespace=shop&namespace=payments&window=5m"


# --- the clients -------------------------------------------------------------------------------
async def _viewer(host: str, port: int, path: str, stop_at: float, out: list, errors: list) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    reader = writer = None
    loop = asyncio.get_running_loop()
    while loop.time() < stop_at:
        began = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            ok = status == 200
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            ok = False
            if writer is not None:
                writer.close()
            reader = writer = None
        out.append(time.perf_counter() - began)
        if not ok:
            errors.append(1)
    if writer is not None:
        writer.close()


def _clients(url: str, path: str, seconds: float, clients: int, conn) -> None:
    """Run in a child process: `clients` connections for `seconds`; send back the times."""
    u = urlsplit(url)

    async def main() -> tuple[list[float], int]:
        times: list[float] = []
        errors: list[int] = []
        stop_at = asyncio.get_running_loop().time() + seconds
        await asyncio.gather(
            *(_viewer(u.hostname, u.port, path, stop_at, times, errors) for _ in range(clients))
        )
        return times, len(errors)

    conn.send(asyncio.run(main()))
    conn.close()


def load(url: str, path: str, seconds: float, clients: int) -> tuple[list[float], int]:
    parent, child = mp.get_context("fork").Pipe(duplex=False)
    proc = mp.get_context("fork").Process(
        target=_clients, args=(url, path, seconds, clients, child)
    )
    proc.start()
    times, errors = parent.recv()
    proc.join()
    return times, errors


# --- the servers -------------------------------------------------------------------------------
def prometheus_queries(prom_url: str) -> float:
    text = requests.get(prom_url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("prometheus_engine_query_duration_seconds_count") and (
            'slice="inner_eval"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def app_backend_calls(url: str) -> float:
    """The app's own count of graph_telemetry calls to Prometheus (every worker's, summed)."""
    total = 0.0
    for line in requests.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith("meshdash_backend_request_duration_seconds_count") and (
            'call="graph_telemetry"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def start_app(
    prom_url: str, workers: int, threads: int, redis_url: str | None, workdir: Path
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "MESHDASH_PROMETHEUS_URL": prom_url,
        "MESHDASH_BIND": f"127.0.0.1:{port}",
        "MESHDASH_WORKERS": str(workers),
        "MESHDASH_THREADS": str(threads),
        "MESHDASH_REFRESH_INTERVAL_S": str(REFRESH_S),
        "MESHDASH_AUDIT_LOG": str(workdir / "audit.jsonl"),
        "MESHDASH_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / f"metrics-{port}"),
    }
    if redis_url:
        env["MESHDASH_CACHE_REDIS_URL"] = redis_url
    if workers == 1:
        env.pop("PROMETHEUS_MULTIPROC_DIR")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=2).ok:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("gunicorn did not start")


def single_user(url: str, n: int = 5) -> float:
    """Median time of one viewer alone, each call on a fresh `at` so the cache cannot answer."""
    times = []
    with requests.Session() as session:
        for i in range(n):
            began = time.perf_counter()
            session.get(f"{url}{PATH}&at={AT - 60 * (i + 1)}", timeout=60).raise_for_status()
            times.append(time.perf_counter() - began)
    return statistics.median(times)


@dataclass
class Result:
    label: str
    requests: int
    errors: int
    p50: float
    p95: float
    p99: float
    alone: float
    queries: float
    calls: float
    allowed: float
    load_avg: tuple[float, float]

    def targets(self) -> list[tuple[str, bool]]:
        return [
            ("errors 0", self.errors == 0),
            (f"queries <= {self.allowed:.0f}", self.queries <= self.allowed),
            (
                f"p95 <= 2 x single user ({2 * self.alone * 1000:.0f} ms)",
                self.p95 <= 2 * self.alone,
            ),
        ]

    def report(self, seconds: float) -> str:
        verdicts = "; ".join(f"{t} -> {'PASS' if ok else 'FAIL'}" for t, ok in self.targets())
        return "\n".join(
            [
                f"\n== {self.label}",
                f"requests {self.requests} ({self.requests / seconds:.0f}/s)  errors {self.errors}",
                f"p50 {self.p50 * 1000:.1f} ms  p95 {self.p95 * 1000:.1f} ms  "
                f"p99 {self.p99 * 1000:.1f} ms  single user {self.alone * 1000:.1f} ms",
                f"PromQL queries received {self.queries:.0f} (at most {self.allowed:.0f}: one set of "
                f"{QUERIES_PER_SET} per {REFRESH_S} s refresh); the app's graph calls {self.calls:.0f}",
                f"load average during the run {self.load_avg[0]:.2f} -> {self.load_avg[1]:.2f}",
                f"targets: {verdicts}",
            ]
        )


def run(label: str, prom_url: str, workers: int, redis_url: str | None, args, workdir: Path):
    proc, url = start_app(prom_url, workers, args.threads, redis_url, workdir)
    try:
        alone = single_user(url)
        before, calls_before = prometheus_queries(prom_url), app_backend_calls(url)
        load_before = os.getloadavg()[0]
        times, errors = load(url, f"{PATH}&at={AT}", args.seconds, args.clients)
        queries = prometheus_queries(prom_url) - before
        calls = app_backend_calls(url) - calls_before
        load_after = os.getloadavg()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    cuts = statistics.quantiles(times, n=100)
    return Result(
        label,
        len(times),
        errors,
        statistics.median(times),
        cuts[94],
        cuts[98],
        alone,
        queries,
        calls,
        (args.seconds / REFRESH_S + 1) * QUERIES_PER_SET,
        (load_before, load_after),
    )


def start_prometheus(workdir: Path):
    from demo.openmetrics import write_series
    from demo.series import mesh_series
    from devtools.promserver import PrometheusServer
    from devtools.scenarios import (
        SCENARIO_END,
        SCENARIO_START,
        SCENARIO_STEP,
        build_scenarios,
    )

    prom = PrometheusServer(workdir / "prom")
    om = workdir / "scenarios.om"
    with open(om, "w", encoding="utf-8") as out:
        write_series(
            (
                s
                for m in build_scenarios().meshes
                for s in mesh_series(m.model, SCENARIO_START, SCENARIO_END, SCENARIO_STEP)
            ),
            out,
        )
    prom.load_openmetrics(om)
    om.unlink()
    prom.start()
    return prom


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument(
        "--prometheus", metavar="URL", help="use this Prometheus (loaded with the scenarios)"
    )
    parser.add_argument(
        "--only", choices=("1", "2"), help="one configuration: 1 worker, or 2 + Redis"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="meshdash-load-"))
    prom = None if args.prometheus else start_prometheus(workdir)
    prom_url = args.prometheus or prom.url
    redis = None
    results = []
    try:
        if args.only in (None, "1"):
            results.append(
                run("1 gunicorn worker, in-process cache", prom_url, 1, None, args, workdir)
            )
            print(results[-1].report(args.seconds), flush=True)
        if args.only in (None, "2"):
            redis_bin = shutil.which("redis-server")
            if redis_bin is None:
                print(
                    "\n== 2 workers + Redis: skipped, redis-server is not installed (make test-deps)"
                )
                return
            port = free_port()
            redis = subprocess.Popen(
                [
                    redis_bin,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
            )
            time.sleep(0.5)
            redis_url = f"redis://127.0.0.1:{port}/0"
            results.append(
                run("2 gunicorn workers sharing Redis", prom_url, 2, redis_url, args, workdir)
            )
            print(results[-1].report(args.seconds), flush=True)
    finally:
        if redis:
            redis.terminate()
            redis.wait(timeout=10)
        if prom is not None:
            prom.close()
        shutil.rmtree(workdir, ignore_errors=True)
    failed = [r.label for r in results for _, ok in r.targets() if not ok]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
