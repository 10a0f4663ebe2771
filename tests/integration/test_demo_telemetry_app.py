"""The demo app serves the demo's graph (its wiring starts the demo's Jaeger endpoint on loopback);
DemoTelemetry itself is in tests/unit/test_demo_telemetry.py.
"""

from __future__ import annotations

import pytest


def test_the_demo_app_serves_the_graph():
    pytest.importorskip("dash")
    from app import create_app
    from wiring.settings import Settings

    client = create_app(Settings()).server.test_client()
    body = client.get("/api/graph?namespace=bookinfo&graph=workload&window=5m").get_json()
    ids = {n["id"] for n in body["nodes"]}
    assert {"bookinfo/productpage-v1", "bookinfo/reviews-v2", "bookinfo/ratings-v1"} <= ids
