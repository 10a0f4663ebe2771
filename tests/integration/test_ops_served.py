"""/healthz, /readyz and /metrics on a live threaded server (devtools/livesrv.py), and the demo
app's readiness (its wiring starts the demo's Jaeger endpoint on loopback).
"""

from __future__ import annotations

import threading

import requests

from app import create_app
from devtools.livesrv import serve
from tests.unit.test_ops import LIVE, Source
from wiring.services import Services
from wiring.settings import Settings


def test_demo_mode_is_ready():
    r = create_app(Settings()).server.test_client().get("/readyz")
    assert r.status_code == 200
    body = r.get_json()
    assert body["mode"] == "demo" and body["ready"] is True


def test_ops_routes_answer_on_a_live_threaded_server():
    s = Settings(**LIVE)
    live = serve(create_app(s, Services(settings=s, telemetry=Source("prometheus"))))
    try:
        results: list[int] = []

        def hit() -> None:
            results.append(requests.get(live.url + "/readyz", timeout=5).status_code)

        threads = [threading.Thread(target=hit) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert results == [200] * 8
        text = requests.get(live.url + "/metrics", timeout=5).text
        assert (
            'meshdash_http_request_duration_seconds_count{method="GET",route="/readyz",status="200"} 8.0'
            in text
        )
    finally:
        live.stop()
