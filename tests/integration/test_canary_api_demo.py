"""/api/canary over the demo's own wiring (wiring.services.build_services), which starts the
demo's Jaeger endpoint on loopback: the demo's slow reviews v3 rolls back.
"""

from __future__ import annotations

from app import create_app
from wiring.settings import Settings


def test_demo_wiring_slow_reviews_v3_rolls_back():
    from wiring.services import build_services

    settings = Settings()
    svc = build_services(settings)
    client = create_app(settings, svc).server.test_client()
    svc.demo.state.set_fault("bookinfo", "reviews-v3", latency_factor=30.0, at=svc.clock() - 600)
    body = client.get("/api/canary/bookinfo/reviews?baseline=v1&canary=v3").get_json()
    assert (body["verdict"], body["source"]) == ("rollback", "demo")
    assert body["reasons"][0].startswith("latency gate failed: canary p99 ")
