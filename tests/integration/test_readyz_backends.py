"""/readyz really asks each backend: a real Prometheus up and down, and the demo's Jaeger API."""

from __future__ import annotations

import pytest

from app import create_app
from collectors.jaeger import JaegerCollector
from demo.mesh import DemoMesh
from devtools.jaeger_server import start_demo_jaeger
from tests.conftest import free_port
from wiring.settings import Settings

pytestmark = pytest.mark.integration


def test_readyz_reports_prometheus_version_then_its_outage(prometheus, tmp_path):
    app = create_app(Settings(prometheus_url=prometheus.url, audit_log=tmp_path / "a.jsonl"))
    r = app.server.test_client().get("/readyz")
    body = r.get_json()
    assert r.status_code == 200, body
    check = next(
        v for v in body["backends"].values() if "prometheus" in str(v).lower() or v.get("version")
    )
    assert check["ok"] is True
    assert check["version"].startswith("2.")  # Debian's Prometheus 2.x build info
    assert check["reachable"] is True and check["authenticated"] is True

    down = create_app(
        Settings(
            prometheus_url=f"http://127.0.0.1:{free_port()}",
            prometheus_timeout_s=2,
            audit_log=tmp_path / "b.jsonl",
        )
    )
    r = down.server.test_client().get("/readyz")
    assert r.status_code == 503
    check = r.get_json()["backends"]["prometheus"]
    assert check["ok"] is False and "cannot reach" in check["detail"]
    assert check["reachable"] is False and check["authenticated"] is None  # it cannot tell


def test_jaeger_ready_names_its_api():
    mesh = DemoMesh.bookinfo()
    url, stop = start_demo_jaeger(mesh)
    try:
        answer = JaegerCollector(url).ready()
        assert answer["ok"] is True
        assert answer["version"] in ("API v1", "API v3")
        assert "services" in answer["detail"]
        assert answer["reachable"] is True
        dead = JaegerCollector(f"http://127.0.0.1:{free_port()}", timeout_s=2).ready()
        assert dead["ok"] is False and "cannot connect" in dead["detail"]
        assert dead["reachable"] is False
    finally:
        stop()
