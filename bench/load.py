"""Load test: many viewers of one graph cost the metrics backend one query set per refresh.

50 concurrent clients call /api/graph for --seconds against a REAL Prometheus (Debian's, loaded
with the integration scenarios), with the app under gunicorn: (a) one worker, in-process cache;
(b) two workers sharing a Redis cache (Debian's redis-server, started here). Everything runs on
loopback and stops by itself. Prints p50/p95, errors, the queries Prometheus received (its own
prometheus_engine_query_duration_seconds_count{slice="inner_eval"}), and the targets.

    python3 bench/load.py [--seconds 60] [--clients 50]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo.openmetrics import write_series  # noqa: E402
from demo.series import mesh_series  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.integration.conftest import (  # noqa: E402
    SCENARIO_END,
    SCENARIO_START,
    SCENARIO_STEP,
    build_scenarios,
)
from tests.promserver import PrometheusServer  # noqa: E402

QUERIES_PER_SET = 3  # collectors/prometheus.py QUERIES_PER_REFRESH
REFRESH_S = 15
PATH = "/api/graph?namespace=bookinfo&namespace=shop&namespace=payments&window=5m"


def prometheus_queries(prom: PrometheusServer) -> float:
    text = requests.get(prom.url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if (
            line.startswith("prometheus_engine_query_duration_seconds_count")
            and 'slice="inner_eval"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def start_app(
    prom_url: str, workers: int, redis_url: str | None, workdir: Path
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "MESHDASH_PROMETHEUS_URL": prom_url,
        "MESHDASH_BIND": f"127.0.0.1:{port}",
        "MESHDASH_WORKERS": str(workers),
        "MESHDASH_THREADS": "16",
        "MESHDASH_REFRESH_INTERVAL_S": str(REFRESH_S),
        "MESHDASH_AUDIT_LOG": str(workdir / "audit.jsonl"),
        "MESHDASH_LOG_LEVEL": "WARNING",
    }
    if redis_url:
        env["MESHDASH_CACHE_REDIS_URL"] = redis_url
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


def single_user(url: str, at: float, n: int = 5) -> float:
    """Median time of one viewer alone, each call on a fresh `at` so the cache cannot answer."""
    times = []
    for i in range(n):
        began = time.perf_counter()
        requests.get(f"{url}{PATH}&at={at - 60 * (i + 1):.0f}", timeout=60).raise_for_status()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def load(url: str, at: float, seconds: float, clients: int) -> tuple[list[float], int]:
    stop_at = time.monotonic() + seconds
    lock = threading.Lock()
    times: list[float] = []
    errors = 0

    def viewer() -> None:
        nonlocal errors
        session = requests.Session()
        while time.monotonic() < stop_at:
            began = time.perf_counter()
            try:
                ok = session.get(f"{url}{PATH}&at={at:.0f}", timeout=60).status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                times.append(time.perf_counter() - began)
                errors += 0 if ok else 1

    threads = [threading.Thread(target=viewer) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, errors


def run(
    label: str, prom: PrometheusServer, workers: int, redis_url: str | None, args, workdir: Path
) -> None:
    proc, url = start_app(prom.url, workers, redis_url, workdir)
    try:
        alone = single_user(url, SCENARIO_END)
        before = prometheus_queries(prom)
        times, errors = load(url, SCENARIO_END, args.seconds, args.clients)
        queries = prometheus_queries(prom) - before
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    p50 = statistics.median(times)
    p95 = statistics.quantiles(times, n=20)[18]
    allowed = (args.seconds / REFRESH_S + 1) * QUERIES_PER_SET
    print(f"\n== {label}")
    print(f"requests {len(times)}  errors {errors}")
    print(f"p50 {p50 * 1000:.1f} ms  p95 {p95 * 1000:.1f} ms  single user {alone * 1000:.1f} ms")
    print(
        f"PromQL queries received {queries:.0f} (at most {allowed:.0f} allowed: one set of "
        f"{QUERIES_PER_SET} per {REFRESH_S} s refresh)"
    )
    print(
        "targets: errors 0 -> "
        + ("PASS" if errors == 0 else "FAIL")
        + f"; queries <= {allowed:.0f} -> "
        + ("PASS" if queries <= allowed else "FAIL")
        + f"; p95 <= 2 x single user ({2 * alone * 1000:.0f} ms) -> "
        + ("PASS" if p95 <= 2 * alone else "FAIL")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="meshdash-load-"))
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
    redis = None
    try:
        run("1 gunicorn worker, in-process cache", prom, 1, None, args, workdir)
        redis_bin = shutil.which("redis-server")
        if redis_bin is None:
            print("\n== 2 workers + Redis: skipped, redis-server is not installed (make test-deps)")
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
        run(
            "2 gunicorn workers sharing Redis",
            prom,
            2,
            f"redis://127.0.0.1:{port}/0",
            args,
            workdir,
        )
    finally:
        if redis:
            redis.terminate()
        prom.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
