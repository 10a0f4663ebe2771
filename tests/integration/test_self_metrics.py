"""A real Prometheus scrapes meshdash's own /metrics while meshdash queries that same Prometheus:
the meshdash_* series (requests, backend calls, cache hits and misses) are there to query."""

from __future__ import annotations

import time

import pytest
import requests

from app import create_app
from devtools.livesrv import serve
from devtools.promserver import PrometheusServer, free_port, require_prometheus
from wiring.settings import Settings

pytestmark = pytest.mark.integration

AT = 1767225600


def test_prometheus_scrapes_the_apps_own_metrics(tmp_path):
    require_prometheus()
    port = free_port()  # Prometheus's, chosen first: the app must know it, and it the app
    live = serve(
        create_app(
            Settings(prometheus_url=f"http://127.0.0.1:{port}", audit_log=tmp_path / "audit.jsonl")
        )
    )
    server = PrometheusServer(
        tmp_path / "prom",
        scrape_configs=[
            {
                "job_name": "meshdash",
                "scrape_interval": "1s",
                "static_configs": [{"targets": [live.url.removeprefix("http://")]}],
            }
        ],
    )
    server.port = port
    try:
        server.start()
        for _ in range(3):  # one backend call, then two answers from the cache
            r = requests.get(f"{live.url}/api/graph?namespace=bookinfo&at={AT}", timeout=10)
            assert r.status_code == 200, r.text
        assert requests.get(live.url + "/api/graph?namespace=Bad", timeout=10).status_code == 400

        def value(promql: str) -> float:
            found = server.query(promql)
            return sum(float(s["value"][1]) for s in found)

        wanted = {
            'meshdash_http_request_duration_seconds_count{job="meshdash",route="/api/graph",status="200"}': 3,
            'meshdash_http_request_duration_seconds_count{job="meshdash",status="400"}': 1,
            'meshdash_backend_request_duration_seconds_count{job="meshdash",backend="prometheus",call="graph_telemetry",outcome="ok"}': 1,
            'meshdash_cache_misses_total{job="meshdash",call="graph_telemetry"}': 1,
            'meshdash_cache_misses_total{job="meshdash",call="graph_view_json"}': 1,
            'meshdash_cache_hits_total{job="meshdash",call="graph_view_json"}': 2,
        }
        deadline = time.monotonic() + 30
        seen: dict[str, float] = {}
        while time.monotonic() < deadline:
            seen = {q: value(q) for q in wanted}
            if all(seen[q] >= n for q, n in wanted.items()):
                break
            time.sleep(0.5)
        assert seen == wanted, server.log_tail()
        assert server.query_value('up{job="meshdash"}') == 1.0
        names = {
            s["metric"]["__name__"]
            for s in server.query('{job="meshdash",__name__=~"meshdash_.+"}')
        }
        assert {
            "meshdash_backend_inflight_requests",
            "meshdash_backend_request_duration_seconds_bucket",
            "meshdash_cache_hits_total",
            "meshdash_http_request_duration_seconds_bucket",
        } <= names
    finally:
        server.close()
        live.stop()
