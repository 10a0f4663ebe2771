"""/api/routes over the demo app (its wiring starts the demo's Jaeger endpoint on loopback): each
applied write is counted by outcome in /metrics.
"""

from __future__ import annotations

from wiring.settings import Settings


def test_applied_writes_are_counted_by_outcome():
    from app import create_app

    app = create_app(Settings(audit_log="/dev/null"))
    client = app.server.test_client()
    client.get("/api/routes/bookinfo/reviews")  # sets the CSRF cookie
    token = client.get_cookie("_csrf_token").value
    body = {"action": "set_weights", "weights": {"v1": 90, "v2": 10, "v3": 0}, "dry_run": False}
    assert (
        client.post(
            "/api/routes/bookinfo/reviews", json=body, headers={"X-CSRFToken": token}
        ).status_code
        == 200
    )
    bad = {"action": "set_weights", "weights": {"v1": 90, "v2": 20}, "dry_run": False}
    assert (
        client.post(
            "/api/routes/bookinfo/reviews", json=bad, headers={"X-CSRFToken": token}
        ).status_code
        == 400
    )
    client.post(
        "/api/routes/bookinfo/reviews",
        json={**body, "dry_run": True},
        headers={"X-CSRFToken": token},
    )
    text = client.get("/metrics").get_data(as_text=True)
    assert 'meshdash_write_actions_total{action="set_weights",outcome="ok"} 1.0' in text
    assert 'meshdash_write_actions_total{action="set_weights",outcome="invalid"} 1.0' in text
