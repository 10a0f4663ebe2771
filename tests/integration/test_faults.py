"""Fault matrix for Prometheus and Jaeger: every misbehaviour is a JSON 502/504 naming the
backend, never a traceback, and the app recovers by itself when the backend does."""

from __future__ import annotations

import pytest

from app import create_app
from config import Settings
from tests.faultservers import FaultServer

pytestmark = pytest.mark.integration

MODES = {"500": 502, "garbage": 502, "nan": 502, "partial": 502, "hang": 504}


@pytest.fixture
def prom_fault(tmp_path):
    server = FaultServer(hang_s=3.0)
    settings = Settings(
        prometheus_url=server.url,
        prometheus_timeout_s=1,
        cache_error_ttl_s=0,
        audit_log=tmp_path / "a.jsonl",
    )
    yield server, create_app(settings).server.test_client()
    server.close()


@pytest.mark.parametrize(("mode", "status"), MODES.items())
def test_prometheus_faults_and_recovery(prom_fault, mode, status):
    server, client = prom_fault
    server.mode = mode
    r = client.get("/api/graph?namespace=bookinfo&at=1767225600")
    assert r.status_code == status, r.get_data(as_text=True)
    body = r.get_json()
    assert body["backend"] == "prometheus"
    assert "Traceback" not in r.get_data(as_text=True)
    server.mode = "ok"
    r = client.get("/api/graph?namespace=bookinfo&at=1767225660")
    assert r.status_code == 200, r.get_data(as_text=True)


def test_prometheus_connection_refused(tmp_path):
    from tests.conftest import free_port

    port = free_port()
    settings = Settings(
        prometheus_url=f"http://127.0.0.1:{port}",
        cache_error_ttl_s=0,
        audit_log=tmp_path / "a.jsonl",
    )
    client = create_app(settings).server.test_client()
    r = client.get("/api/graph?namespace=bookinfo")
    assert r.status_code == 502 and "cannot reach" in r.get_json()["error"]


JAEGER_OK = {"data": ["productpage.bookinfo"], "total": 1, "limit": 0, "offset": 0, "errors": None}


@pytest.mark.parametrize(("mode", "status"), [("500", 502), ("garbage", 502), ("hang", 504)])
def test_jaeger_faults_and_recovery(tmp_path, mode, status):
    server = FaultServer(ok_body=JAEGER_OK, hang_s=3.0)
    try:
        settings = Settings(
            prometheus_url="http://127.0.0.1:9",
            jaeger_url=server.url,
            jaeger_timeout_s=1,
            cache_error_ttl_s=0,
            audit_log=tmp_path / "a.jsonl",
        )
        client = create_app(settings).server.test_client()
        server.mode = mode
        r = client.get("/api/traces?namespace=bookinfo&service=productpage")
        assert r.status_code == status, r.get_data(as_text=True)
        assert r.get_json()["backend"] == "jaeger"
        assert "Traceback" not in r.get_data(as_text=True)
    finally:
        server.close()
