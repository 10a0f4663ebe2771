"""A real Prometheus scrapes meshdash's own /metrics; the meshdash_* series arrive there."""

from __future__ import annotations

import time

import pytest
import requests

from app import create_app
from config import Settings
from tests.livesrv import serve
from tests.promserver import PrometheusServer, require_prometheus

pytestmark = pytest.mark.integration


def test_prometheus_scrapes_the_apps_own_metrics(tmp_path):
    require_prometheus()
    live = serve(create_app(Settings(audit_log=tmp_path / "audit.jsonl")))
    host = live.url.removeprefix("http://")
    server = PrometheusServer(
        tmp_path / "prom",
        scrape_configs=[
            {
                "job_name": "meshdash",
                "scrape_interval": "1s",
                "static_configs": [{"targets": [host]}],
            }
        ],
    )
    try:
        server.start()
        for _ in range(3):
            assert requests.get(live.url + "/api/graph?namespace=bookinfo", timeout=10).ok
        assert requests.get(live.url + "/api/graph?namespace=Bad", timeout=10).status_code == 400
        deadline = time.monotonic() + 30
        found: list = []
        while time.monotonic() < deadline and not found:
            time.sleep(1)
            found = server.query(
                'meshdash_http_request_duration_seconds_count{job="meshdash",status="400"}'
            )
        assert found, server.log_tail()
        up = server.query_value('up{job="meshdash"}')
        assert up == 1.0
        ok = server.query(
            'meshdash_http_request_duration_seconds_count{job="meshdash",status="200"}'
        )
        assert sum(float(s["value"][1]) for s in ok) >= 3
    finally:
        server.close()
        live.stop()
